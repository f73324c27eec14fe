// Package server is everything that runs in `beacon serve`: the HTTP API,
// player sessions, storage, renditions and manifests, wired together in one
// place (New). Sub-packages own one domain noun each: store (persistent
// state), players (protocol v1 sessions), auth (tokens, passwords, keys),
// delivery (emergency override fan-out), bus (messages between servers),
// cap (CAP alerts).
package server

import (
	"context"
	"crypto/ed25519"
	"crypto/tls"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"path/filepath"
	"sync"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"beacon/media"
	"beacon/media/worker"
	"beacon/server/auth"
	"beacon/server/bus"
	"beacon/server/console"
	"beacon/server/delivery"
	"beacon/server/players"
	"beacon/server/store"
)

// DefaultMaxUpload is the default upload size limit (2 GiB).
const DefaultMaxUpload int64 = 2 << 30

// DefaultTimezone is used for displays until clusters carry their own.
const DefaultTimezone = "Asia/Ho_Chi_Minh"

// Config configures a server.
type Config struct {
	DataDir        string // database, signing key, media store
	MaxUploadBytes int64  // per upload; default DefaultMaxUpload
	ImageLimits    media.Limits
	Logger         *slog.Logger
	// MediaWorker transcodes video and audio in a supervised subprocess;
	// nil refuses video and audio uploads.
	MediaWorker MediaWorker
	Encoding    worker.Options // libx264 preset, CRF, loudness target…
	// PrefetchDays is how far ahead manifests list the files displays
	// need; default DefaultPrefetchDays.
	PrefetchDays int

	// Transport limits (see transport.go and docs/deploy.md); zero values
	// take the defaults.
	MaxJSONBody int64 // every request body but uploads; default DefaultMaxJSONBody
	// MaxHeaderBytes bounds a request head (request line and headers);
	// default DefaultMaxHeaderBytes. fasthttp reads heads with a buffer of
	// this size and keeps it for the life of every player's WebSocket.
	MaxHeaderBytes int
	ReadTimeout    time.Duration // request head and body; an upload, per read
	WriteTimeout   time.Duration // per write: a client must keep reading
	IdleTimeout    time.Duration // keep-alive connections between requests
	Players        players.Limits
	// TLSCertFile and TLSKeyFile, when set, make Serve speak HTTPS (and
	// the player socket WSS); the files are read again when they change.
	TLSCertFile, TLSKeyFile string
	// SeparateMetrics leaves /metrics off the main listener; serve it
	// with MetricsHandler on its own address.
	SeparateMetrics bool
	// SessionTTL is how long a login session lasts; default
	// auth.DefaultSessionTTL.
	SessionTTL time.Duration
	// TrustedProxies are the reverse proxies whose X-Forwarded-For names
	// the client (login throttling, claim limits and records).
	TrustedProxies []netip.Prefix
	// PairingLifetime is how long a pairing code is accepted; default
	// players.DefaultPairingLifetime.
	PairingLifetime time.Duration

	// Bus carries override doorbells between servers sharing the store
	// (bus.NewRedis for --redis); nil makes an in-process bus, and this
	// server is then the only one. The server closes neither.
	Bus bus.Bus
	// OverrideMaxExpiry is the longest an override may last; default
	// DefaultOverrideMaxExpiry.
	OverrideMaxExpiry time.Duration
	// Languages is the deployment's order of languages for an override's
	// texts on a display that has no languages of its own; default
	// DefaultLanguages (Vietnamese first).
	Languages []string
	// OverrideAckTimeout is how long a display has to acknowledge painting
	// an override before AlertWebhook is told; default
	// delivery.DefaultAckTimeout.
	OverrideAckTimeout time.Duration
	// AlertWebhook receives a JSON POST about displays that did not
	// acknowledge an override in time; "" sends none.
	AlertWebhook string
	// StatusFlush is how often player heartbeats are written to the
	// store; default players.DefaultStatusFlush.
	StatusFlush time.Duration
	// CAPSources are the configured CAP sources (LoadCAPSources). None:
	// one push source for every sender, trusting no certificate, under
	// require-signed, or allow-unsigned with CAPAllowUnsigned.
	CAPSources       []CAPSource
	CAPAllowUnsigned bool
}

// Server is one `beacon serve` instance.
type Server struct {
	cfg    Config
	log    *slog.Logger
	store  *store.Store
	blobs  *media.Store
	key    ed25519.PrivateKey
	hub    *players.Hub
	app    *fiber.App
	reg    *prometheus.Registry
	m      metrics
	work   *workQueue
	jobs   *jobRunner
	events *events
	compMu sync.Mutex // serialises manifest compilation
	certs  *certFiles // TLS, or nil
	// fileMu: recording a reference to a stored file (read lock) and
	// removing a file nothing refers to (write lock) exclude each other,
	// so a file shared by content is never removed under a new reference.
	fileMu sync.RWMutex

	delivery *delivery.Service
	bus      bus.Bus
	ownBus   bool // made here (in-process): closed with the server

	accounts *auth.Accounts
	limits   limits
	mstate   manifestStates
	editMu   sync.Mutex // one edit at a time between its preflight and its write

	capSources []CAPSource
	capMu      sync.Mutex // one CAP message at a time
	feeds      feedStatuses

	uploads *tusUploads // resumable uploads
	console *console.Console

	bg     context.Context
	stopBG context.CancelFunc
	bgDone sync.WaitGroup
}

type metrics struct {
	uploads    *prometheus.CounterVec
	renditions prometheus.Histogram
	requests   *prometheus.CounterVec
	tooLarge   prometheus.Counter
}

// New builds a server from its parts: the one composition root.
func New(ctx context.Context, cfg Config) (*Server, error) {
	if cfg.DataDir == "" {
		return nil, errors.New("server: data directory is required")
	}
	if cfg.MaxUploadBytes <= 0 {
		cfg.MaxUploadBytes = DefaultMaxUpload
	}
	if cfg.ImageLimits.MaxPixels == 0 {
		cfg.ImageLimits = media.DefaultLimits
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.PrefetchDays <= 0 {
		cfg.PrefetchDays = DefaultPrefetchDays
	}
	if cfg.MaxHeaderBytes <= 0 {
		cfg.MaxHeaderBytes = DefaultMaxHeaderBytes
	}
	if cfg.MaxJSONBody <= 0 {
		cfg.MaxJSONBody = DefaultMaxJSONBody
	}
	if cfg.ReadTimeout <= 0 {
		cfg.ReadTimeout = DefaultReadTimeout
	}
	if cfg.WriteTimeout <= 0 {
		cfg.WriteTimeout = DefaultWriteTimeout
	}
	if cfg.IdleTimeout <= 0 {
		cfg.IdleTimeout = DefaultIdleTimeout
	}
	if cfg.OverrideMaxExpiry <= 0 {
		cfg.OverrideMaxExpiry = DefaultOverrideMaxExpiry
	}
	if len(cfg.Languages) == 0 {
		cfg.Languages = DefaultLanguages
	}
	if err := checkList("languages", cfg.Languages); err != nil {
		return nil, err
	}
	var certs *certFiles
	if cfg.TLSCertFile != "" || cfg.TLSKeyFile != "" {
		var err error
		if certs, err = loadCertFiles(cfg.TLSCertFile, cfg.TLSKeyFile); err != nil {
			return nil, err
		}
	}
	cons, err := console.New()
	if err != nil {
		return nil, err
	}
	st, err := store.Open(ctx, cfg.DataDir)
	if err != nil {
		return nil, err
	}
	blobs, err := media.OpenStore(filepath.Join(cfg.DataDir, "media"))
	if err != nil {
		st.Close()
		return nil, err
	}
	key, err := auth.LoadOrCreateSigningKey(filepath.Join(cfg.DataDir, "server.key"))
	if err != nil {
		st.Close()
		return nil, err
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	s := &Server{
		cfg: cfg, log: cfg.Logger, store: st, blobs: blobs, key: key, reg: reg,
		hub: players.New(st, key, cfg.Logger, reg),
		m: metrics{
			uploads:    prometheus.NewCounterVec(prometheus.CounterOpts{Name: "beacon_uploads_total", Help: "Media uploads by outcome."}, []string{"outcome"}),
			renditions: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "beacon_image_rendition_seconds", Help: "Time to render one image for every needed profile.", Buckets: prometheus.ExponentialBuckets(0.01, 2, 12)}),
			requests:   prometheus.NewCounterVec(prometheus.CounterOpts{Name: "beacon_http_requests_total", Help: "HTTP requests by status class."}, []string{"class"}),
			tooLarge:   prometheus.NewCounter(prometheus.CounterOpts{Name: "beacon_http_body_too_large_total", Help: "Requests refused because their body was over its limit."}),
		},
		certs: certs, console: cons,
	}
	s.hub.SetLimits(cfg.Players)
	s.hub.Changed = s.displayChanged
	s.mstate.changed = func(id string) { s.displayChanged(id, "") }
	s.hub.ClientAddr = s.clientAddr
	reg.MustRegister(s.m.uploads, s.m.renditions, s.m.requests, s.m.tooLarge)
	s.hub.PairingLifetime = cfg.PairingLifetime
	s.accounts = auth.NewAccounts(st)
	s.accounts.SessionTTL = cfg.SessionTTL
	s.limits = newLimits()
	s.bg, s.stopBG = context.WithCancel(context.Background())
	s.work = newWorkQueue()
	s.events = newEvents()
	s.bus = cfg.Bus
	if s.bus == nil {
		s.bus, s.ownBus = bus.NewLocal(), true
	}
	s.delivery = delivery.New(delivery.Config{Store: st, Sessions: s.hub, Key: key, Bus: s.bus, Shared: !s.ownBus,
		AckTimeout: cfg.OverrideAckTimeout, Webhook: cfg.AlertWebhook, Log: cfg.Logger, OffHours: s.offHours,
		Progress: func(orgID string, p delivery.Progress) {
			s.events.publish(orgID, Event{Type: "override_delivery", Data: p})
		},
		Listening: func(orgID string) bool { return s.events.listening(orgID) }})
	s.hub.Overrides = s.delivery
	if err := s.delivery.Start(ctx); err != nil {
		st.Close()
		return nil, err
	}
	s.hub.StartStatusFlush(cfg.StatusFlush)
	s.capSources = cfg.CAPSources
	if len(s.capSources) == 0 {
		s.capSources = []CAPSource{defaultCAPSource(cfg.CAPAllowUnsigned)}
	}
	s.jobs = newJobRunner(s)
	if s.uploads, err = s.newUploads(); err != nil {
		s.Close()
		return nil, err
	}
	s.sweepUploads()
	s.app = s.routes()
	s.bgDone.Add(1)
	go func() {
		defer s.bgDone.Done()
		s.renditionWorker()
	}()
	// Resume any work a previous run left unfinished.
	orgs, err := st.Orgs(ctx)
	if err != nil {
		s.Close()
		return nil, err
	}
	// No player session survives a restart, so neither does its download
	// token, including those a killed server could not revoke.
	if n, err := st.RevokeAllDisplayTokens(ctx); err != nil {
		s.Close()
		return nil, err
	} else if n > 0 {
		s.log.Info("revoked display tokens of the previous run", "count", n)
	}
	s.jobs.start()
	for _, o := range orgs {
		s.work.kick(o.ID)
	}
	s.bgDone.Add(1)
	go func() {
		defer s.bgDone.Done()
		s.hourly()
	}()
	s.startCAPFeeds()
	return s, nil
}

// Store exposes the store to the CLI and tests.
func (s *Server) Store() *store.Store { return s.store }

// PublicKey is the server's manifest-signing key.
func (s *Server) PublicKey() ed25519.PublicKey { return s.key.Public().(ed25519.PublicKey) }

// App exposes the HTTP application (tests use app.Test).
func (s *Server) App() *fiber.App { return s.app }

// Serve accepts connections on ln until Shutdown, with HTTPS when the
// configuration names a certificate.
func (s *Server) Serve(ln net.Listener) error {
	s.log.Info("beacon serving", "addr", ln.Addr().String(), "data", s.cfg.DataDir, "tls", s.certs != nil)
	ln = progressListener{Listener: ln, d: s.cfg.WriteTimeout}
	if s.certs != nil {
		ln = tls.NewListener(ln, s.certs.tlsConfig())
	}
	return s.app.Listener(ln)
}

// MetricsHandler serves the Prometheus metrics (for a separate listener).
func (s *Server) MetricsHandler() http.Handler {
	return promhttp.HandlerFor(s.reg, promhttp.HandlerOpts{})
}

// Shutdown stops accepting requests, closes player sessions, waits for
// in-flight requests (up to ctx) and closes the store.
func (s *Server) Shutdown(ctx context.Context) error {
	s.hub.Close()
	err := s.app.ShutdownWithContext(ctx)
	s.Close()
	return err
}

// Close releases background work and the store without touching HTTP.
func (s *Server) Close() {
	s.stopBG()
	s.work.close()
	s.bgDone.Wait()
	s.hub.StopStatusFlush()
	s.delivery.Close()
	if s.ownBus {
		_ = s.bus.Close()
	}
	s.store.Close()
}

// DeliveryReady is closed once this server hears override doorbells from
// the bus.
func (s *Server) DeliveryReady() <-chan struct{} { return s.delivery.Ready() }

// hourly moves every display's prefetch window forward: a manifest changes
// only if the set of files it needs does.
func (s *Server) hourly() {
	t := time.NewTicker(time.Hour)
	defer t.Stop()
	for {
		select {
		case <-s.bg.Done():
			return
		case <-t.C:
			s.sweepUploads()
			orgs, err := s.store.Orgs(s.bg)
			if err != nil {
				continue
			}
			for _, o := range orgs {
				s.work.kick(o.ID)
			}
			// Expired and revoked tokens are kept a month for the record.
			if err := s.store.PurgeTokens(s.bg, time.Now().Add(-30*24*time.Hour)); err != nil {
				s.log.Warn("purge tokens", "err", err)
			}
		}
	}
}

func (s *Server) timeout() (context.Context, context.CancelFunc) {
	return context.WithTimeout(s.bg, 30*time.Second)
}
