// Package player is the daemon that runs on each screen: it connects to
// beacon serve over protocol v1 (beacon/protocol), proves its identity with
// an Ed25519 key, pins the server's signing key at pairing, keeps the last
// verified manifest and a content-addressed cache on disk so it plays
// offline, and drives a renderer: a local web page it serves, shown
// full-screen by Chromium.
//
// Everything the player shows has been verified twice: the manifest's
// signature against the pinned key, and each file's SHA-256 right before it
// is handed to the renderer.
//
// A manifest with a program (beacon/playlists) is evaluated on the
// player's clock (Config.Now): at every change playlists.At says what each
// zone shows, the renderer gets a layout and one show per zone, and the
// player sleeps until the next change. Outside operating hours the screen
// is off. Items whose file is not in the cache are never started. A
// manifest without a program plays its plain image loop.
//
// A play is what the renderer reported painted (see screen): it is
// journalled when it ends (beacon/player/journal, in plays.jsonl) and sent
// to the server as proof_of_play; it leaves the journal only when the
// server acknowledges that message. With no renderer, nothing is journalled.
//
// The cache keeps files no manifest lists while it is within its budget
// (Config.CacheBudget), evicting the least recently needed first.
//
// The local HTTP listener answers only requests whose Host names it
// (loopback or the listen host, on its port; 421 otherwise) and accepts the
// renderer WebSocket only from its own origin. It serves:
//
//	GET /              renderer page (embedded, no external resources)
//	GET /renderer/ws   local WebSocket carrying renderer commands
//	GET /content/{sha} verified cached bytes (404 otherwise), no-store
//	GET /status        JSON Status
package player

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"beacon/player/cache"
	"beacon/player/journal"
	"beacon/protocol"
)

// DefaultListen is the renderer listen address used when Config.Listen is empty.
const DefaultListen = "127.0.0.1:7433"

// Config configures a Player.
type Config struct {
	ServerURL    string // base URL of beacon serve: http(s)://host[:port][/prefix]
	CAFile       string // PEM certificates trusted for https/wss; default: the system roots
	DataDir      string // key, state, manifest and cache live here
	Listen       string // renderer/status listen address; DefaultListen if empty
	Kiosk        bool   // launch and supervise Chromium in kiosk mode
	ChromiumPath string // default "chromium"
	Window       string // kiosk window geometry "WxH+X+Y" (or "WxH")
	// CacheBudget bounds the content cache in bytes. Files the current
	// manifest lists are always kept; beyond them, files are kept until the
	// cache exceeds its budget, then removed least recently needed first.
	// 0: CacheBudgetPercent of the space the cache may use (its own bytes
	// plus the free space of its file system).
	CacheBudget        int64
	CacheBudgetPercent float64 // 0 < p <= 100; default DefaultCacheBudgetPercent
	// KioskUser is the unprivileged account Chromium runs as when the
	// player runs as root (default DefaultKioskUser). Chromium is never
	// started with --no-sandbox: as root without this account, New fails.
	KioskUser      string
	HeartbeatEvery time.Duration // default 15s
	BackoffBase    time.Duration // reconnect backoff base, default 500ms
	BackoffMax     time.Duration // reconnect backoff cap, default 30s
	Logger         *slog.Logger  // default slog.Default()
	Version        string        // player version sent in hello
	// Now is the player's clock (default time.Now): programs are evaluated,
	// and plays journalled, in its time.
	Now func() time.Time
	// Alarm returns a channel that fires once Now reaches t (default: a
	// real timer). Tests inject it with Now to run a program on a
	// simulated clock.
	// stop is called when the player no longer waits on the alarm.
	Alarm func(t time.Time) (c <-chan time.Time, stop func())
}

// Status is what GET /status returns.
type Status struct {
	Paired            bool                 `json:"paired"`
	PairingCode       string               `json:"pairing_code"`
	DisplayID         string               `json:"display_id"`
	ManifestVersion   int64                `json:"manifest_version"`
	State             string               `json:"state"` // protocol.State*
	Connected         bool                 `json:"connected"`
	RendererConnected bool                 `json:"renderer_connected"`
	NowPlaying        *protocol.NowPlaying `json:"now_playing"`
	Cache             protocol.CacheStats  `json:"cache"`
	Zones             []ZoneStatus         `json:"zones,omitempty"` // program: what each zone shows
	PlaysPending      int                  `json:"plays_pending"`   // journalled plays the server has not acknowledged
	// LastRefusal describes the last server this player refused (it did
	// not prove it holds the pinned key, or offered pairing to a paired
	// player): time, incident kind and reason. Empty if none since start.
	LastRefusal      string `json:"last_refusal,omitempty"`
	IncidentsPending int    `json:"incidents_pending"` // incidents the server has not acknowledged
	// Override is the emergency override on screen (the renderer reported
	// it painted), null otherwise.
	Override *OverrideStatus `json:"override"`
}

// Player is one screen's daemon. Create it with New and start it with Run.
type Player struct {
	cfg       Config
	log       *slog.Logger
	now       func() time.Time
	serverURL *url.URL
	wsURL     string
	ln        net.Listener
	addr      string
	cache     *cache.Cache
	priv      ed25519.PrivateKey
	pub       ed25519.PublicKey
	client    *http.Client
	tls       *tls.Config // for the socket and downloads
	started   time.Time
	hub       *hub
	handler   http.Handler
	screen    *screen       // what the renderer reports on screen: proof of play
	kiosk     *kioskAccount // the account Chromium runs as; nil: the player's own

	wake chan struct{} // playback loop: something changed
	kick chan struct{} // download loop: run a round

	running atomic.Bool
	closed  atomic.Bool

	mu          sync.Mutex
	ident       identity
	token       string
	pairingCode string
	lastRefusal string // the last server refused, for Status
	manifest    *protocol.Manifest
	gen         uint64 // bumped whenever manifest changes
	nowPlaying  *protocol.NowPlaying
	off         bool         // program: outside operating hours
	zones       []ZoneStatus // program: what each zone shows
	journal     *journal.Journal
	proofKick   chan struct{}
	proof       proofState
	sess        *session // current authenticated session, nil if none
	connected   bool
	incidents   []pendingIncident    // kept (incidents.json) until the pinned server acks them
	badFiles    map[string]bool      // hash mismatches; not retried until the next manifest or session
	verified    map[string]fileStamp // cached files as they last verified (program playback)

	// Emergency overrides (override.go).
	ovrMu         sync.Mutex           // serialises applyOverrides
	ovr           map[string]*ovrEntry // verified, unexpired, by id
	ovrCancelled  map[string]ovrTomb   // cancels received, by id
	ovrOn         ovrScreen            // what the override layer shows
	ovrSeq        uint64               // override commands sent
	ovrMediaReady map[string]bool      // override media verified in the cache
	displayLangs  []string             // the program's preferred languages
}

// New loads (or creates) the player's identity and state from cfg.DataDir,
// re-verifies the stored manifest, and binds the listen address so Addr is
// known before Run.
func New(cfg Config) (*Player, error) {
	if cfg.DataDir == "" {
		return nil, errors.New("player: DataDir is required")
	}
	if cfg.Listen == "" {
		cfg.Listen = DefaultListen
	}
	if cfg.HeartbeatEvery <= 0 {
		cfg.HeartbeatEvery = 15 * time.Second
	}
	if cfg.BackoffBase <= 0 {
		cfg.BackoffBase = 500 * time.Millisecond
	}
	if cfg.BackoffMax <= 0 {
		cfg.BackoffMax = 30 * time.Second
	}
	if cfg.BackoffMax < cfg.BackoffBase {
		cfg.BackoffMax = cfg.BackoffBase
	}
	if cfg.ChromiumPath == "" {
		cfg.ChromiumPath = "chromium"
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Version == "" {
		cfg.Version = "dev"
	}
	if cfg.Window != "" {
		if _, err := parseWindow(cfg.Window); err != nil {
			return nil, err
		}
	}
	if cfg.CacheBudget < 0 || cfg.CacheBudgetPercent < 0 || cfg.CacheBudgetPercent > 100 {
		return nil, fmt.Errorf("player: cache budget must be positive bytes or a percent in (0, 100]")
	}
	if cfg.CacheBudgetPercent == 0 {
		cfg.CacheBudgetPercent = DefaultCacheBudgetPercent
	}
	base, wsURL, err := parseServerURL(cfg.ServerURL)
	if err != nil {
		return nil, err
	}
	tlsConf, err := clientTLS(cfg.CAFile)
	if err != nil {
		return nil, err
	}
	var kiosk *kioskAccount
	if cfg.Kiosk && os.Geteuid() == 0 {
		if kiosk, err = lookupKioskUser(cfg.KioskUser, cfg.DataDir); err != nil {
			return nil, err
		}
	}
	p := &Player{
		cfg:       cfg,
		log:       cfg.Logger,
		now:       cfg.Now,
		serverURL: base,
		wsURL:     wsURL,
		kiosk:     kiosk,
		started:   time.Now(),
		wake:      make(chan struct{}, 1),
		kick:      make(chan struct{}, 1),
		proofKick: make(chan struct{}, 1),
		badFiles:  map[string]bool{},
		verified:  map[string]fileStamp{},
		tls:       tlsConf,
		client: &http.Client{Transport: &http.Transport{
			Proxy:                 http.ProxyFromEnvironment,
			TLSClientConfig:       tlsConf,
			DialContext:           (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
			TLSHandshakeTimeout:   10 * time.Second,
			ResponseHeaderTimeout: 30 * time.Second,
			IdleConnTimeout:       60 * time.Second,
			MaxIdleConns:          2,
		}},
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("player: data dir: %w", err)
	}
	if p.priv, err = loadOrCreateKey(filepath.Join(cfg.DataDir, keyFile)); err != nil {
		return nil, err
	}
	p.pub = p.priv.Public().(ed25519.PublicKey)
	if p.ident, err = loadIdentity(filepath.Join(cfg.DataDir, stateFile)); err != nil {
		return nil, err
	}
	if p.cache, err = cache.Open(filepath.Join(cfg.DataDir, "cache")); err != nil {
		return nil, err
	}
	if p.journal, err = journal.Open(filepath.Join(cfg.DataDir, journalFile)); err != nil {
		return nil, fmt.Errorf("player: %w", err)
	}
	if n := p.journal.Damaged(); n > 0 {
		p.log.Warn("proof-of-play journal: damaged lines ignored", "lines", n)
	}
	p.loadIncidents()
	p.loadManifest()
	p.loadOverrides()
	p.hub = newHub(p)
	p.screen = newScreen()
	p.handler = p.routes()
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		p.journal.Close()
		return nil, fmt.Errorf("player: listen: %w", err)
	}
	p.ln = ln
	p.addr = ln.Addr().String()
	return p, nil
}

// clientTLS trusts the system roots, or only the certificates in caFile.
func clientTLS(caFile string) (*tls.Config, error) {
	conf := &tls.Config{MinVersion: tls.VersionTLS12}
	if caFile == "" {
		return conf, nil
	}
	pem, err := os.ReadFile(caFile)
	if err != nil {
		return nil, fmt.Errorf("player: CA file: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("player: CA file %s holds no PEM certificate", caFile)
	}
	conf.RootCAs = pool
	return conf, nil
}

// Addr returns the address the renderer page and /status listen on.
func (p *Player) Addr() string { return p.addr }

// PublicKey returns the player's Ed25519 identity key.
func (p *Player) PublicKey() ed25519.PublicKey { return bytes.Clone(p.pub) }

// Close releases the listener of a Player whose Run was never called.
// Run releases everything itself when it returns.
func (p *Player) Close() error {
	if p.closed.Swap(true) || p.running.Load() {
		return nil
	}
	p.journal.Close()
	return p.ln.Close()
}

// Run serves the renderer, connects to the server and plays until ctx is
// done. It returns nil after a normal shutdown, having closed the listener
// and stopped every goroutine it started.
func (p *Player) Run(ctx context.Context) error {
	if p.closed.Load() || p.running.Swap(true) {
		return errors.New("player: Run called twice or after Close")
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	srv := &http.Server{
		Handler:           p.handler,
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          nil,
	}
	var wg sync.WaitGroup
	serveErr := make(chan error, 1)
	wg.Add(1)
	go func() {
		defer wg.Done()
		err := srv.Serve(p.ln)
		if errors.Is(err, http.ErrServerClosed) {
			err = nil
		}
		serveErr <- err
		if err != nil {
			cancel()
		}
	}()
	start := func(f func(context.Context)) {
		wg.Add(1)
		go func() { defer wg.Done(); f(ctx) }()
	}
	start(p.connectLoop)
	start(p.playLoop)
	start(p.downloadLoop)
	start(p.proofLoop)
	if p.cfg.Kiosk {
		start(p.kioskLoop)
	}
	p.log.Info("player running", "listen", p.addr, "server", p.serverURL.String(), "paired", p.isPaired())

	<-ctx.Done()
	shutCtx, shutCancel := context.WithTimeout(context.Background(), 3*time.Second)
	_ = srv.Shutdown(shutCtx)
	shutCancel()
	_ = srv.Close()
	p.hub.closeAll()
	wg.Wait()
	p.hub.wait()
	p.client.CloseIdleConnections()
	if err := p.journal.Close(); err != nil {
		p.log.Warn("close journal", "err", err)
	}
	p.closed.Store(true)
	return <-serveErr
}

// Status reports the player's current state.
func (p *Player) Status() Status {
	p.mu.Lock()
	st := Status{
		Paired:            p.ident.DisplayID != "",
		PairingCode:       p.pairingCode,
		DisplayID:         p.ident.DisplayID,
		State:             p.stateLocked(),
		Connected:         p.connected,
		RendererConnected: p.hub.connected(),
	}
	if p.nowPlaying != nil {
		np := *p.nowPlaying
		st.NowPlaying = &np
	}
	st.Zones = append([]ZoneStatus(nil), p.zones...)
	for i, z := range st.Zones {
		st.Zones[i].Shown = p.screen.isPainted(z.Zone, z.seq)
	}
	st.PlaysPending = p.journal.Len()
	st.LastRefusal = p.lastRefusal
	st.IncidentsPending = len(p.incidents)
	st.Override = p.overrideStatusLocked()
	m := p.manifest
	p.mu.Unlock()
	cs := p.cache.Stats()
	st.Cache = protocol.CacheStats{Files: cs.Files, Bytes: cs.Bytes}
	if m != nil {
		st.ManifestVersion = m.Version
		for _, f := range m.Files {
			if !p.cache.Has(f.SHA256) {
				st.Cache.Missing++
			}
		}
	}
	return st
}

func (p *Player) stateLocked() string {
	switch {
	case p.pairingCode != "" || p.ident.DisplayID == "":
		return protocol.StatePairing
	case p.off:
		return protocol.StateOff
	case p.nowPlaying != nil:
		return protocol.StatePlaying
	default:
		return protocol.StateWaiting
	}
}

func (p *Player) isPaired() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.ident.DisplayID != ""
}

func (p *Player) wakePlayback() {
	select {
	case p.wake <- struct{}{}:
	default:
	}
}

func (p *Player) kickDownloads() {
	select {
	case p.kick <- struct{}{}:
	default:
	}
}

// parseServerURL returns the HTTP base URL and the WebSocket URL.
func parseServerURL(raw string) (*url.URL, string, error) {
	if raw == "" {
		return nil, "", errors.New("player: ServerURL is required")
	}
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return nil, "", fmt.Errorf("player: bad server URL %q", raw)
	}
	base := *u
	ws := *u
	switch u.Scheme {
	case "http", "ws":
		base.Scheme, ws.Scheme = "http", "ws"
	case "https", "wss":
		base.Scheme, ws.Scheme = "https", "wss"
	default:
		return nil, "", fmt.Errorf("player: server URL scheme must be http or https: %q", raw)
	}
	base.Path = strings.TrimSuffix(u.Path, "/")
	base.RawQuery, base.Fragment, base.RawPath = "", "", ""
	ws.Path = base.Path + protocol.WSPath
	ws.RawQuery, ws.Fragment, ws.RawPath = "", "", ""
	return &base, ws.String(), nil
}

// fileURL resolves a manifest file URL against the server base URL. The
// bearer token is only sent to the server's own host.
func (p *Player) fileURL(f protocol.File) (string, bool) {
	u, err := url.Parse(f.URL)
	if err != nil || f.URL == "" {
		return "", false
	}
	if !u.IsAbs() && u.Host == "" {
		if strings.HasPrefix(f.URL, "/") {
			return p.serverURL.String() + f.URL, true
		}
		return p.serverURL.String() + "/" + f.URL, true
	}
	r := p.serverURL.ResolveReference(u)
	if r.Scheme != "http" && r.Scheme != "https" {
		return "", false
	}
	return r.String(), r.Host == p.serverURL.Host
}
