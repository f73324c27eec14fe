package e2e_test

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"beacon/player"
	"beacon/protocol"
	"beacon/server/servertest"
)

// switchProxy is the network between the player and its server: a TCP
// relay on 127.0.0.1 whose target the test switches, as a man in the
// middle on plain HTTP would.
type switchProxy struct {
	ln     net.Listener
	mu     sync.Mutex
	target string
	conns  []net.Conn
}

func newSwitchProxy(t *testing.T, target string) *switchProxy {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &switchProxy{ln: ln, target: target}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			p.mu.Lock()
			target := p.target
			p.mu.Unlock()
			up, err := net.DialTimeout("tcp", target, 5*time.Second)
			if err != nil {
				c.Close()
				continue
			}
			p.mu.Lock()
			p.conns = append(p.conns, c, up)
			p.mu.Unlock()
			go func() { _, _ = io.Copy(up, c); up.Close(); c.Close() }()
			go func() { _, _ = io.Copy(c, up); up.Close(); c.Close() }()
		}
	}()
	t.Cleanup(func() { ln.Close(); p.set("") })
	return p
}

// set sends new connections to target and cuts the live ones.
func (p *switchProxy) set(target string) {
	p.mu.Lock()
	p.target = target
	conns := p.conns
	p.conns = nil
	p.mu.Unlock()
	for _, c := range conns {
		c.Close()
	}
}

// Attack modes, one per connection of the player to the impostor.
const (
	modeRelayInject     = "relay-inject"      // relay to the real server, then inject a forged manifest, paired and pairing
	modeOtherKey        = "other-key"         // challenge under the impostor's own key, signed by it
	modePinnedForged    = "pinned-key-forged" // challenge naming the pinned key, signed by the impostor
	modePairing         = "pairing"           // pairing right after hello
	modePaired          = "paired"            // paired with the impostor's key right after hello
	modeRelayedChalleng = "relayed-challenge" // a challenge the real server issued for another hello
)

// impostor is a fake Beacon server with its own key. It knows everything
// public: the real server's key and address, the display id.
type impostor struct {
	t         *testing.T
	key       ed25519.PrivateKey
	pub       ed25519.PublicKey
	realAddr  string
	realKey   ed25519.PublicKey
	displayID string
	srv       *httptest.Server

	mu     sync.Mutex
	plan   []string
	conns  int
	served map[string]int // mode → connections that ran it to the end
	auths  map[string]int // mode → auth frames the player sent to the impostor
	relay  int            // auth_ok frames the real server sent through the relay
}

func newImpostor(t *testing.T, realAddr string, realKey ed25519.PublicKey, displayID string) *impostor {
	pub, key, _ := ed25519.GenerateKey(rand.Reader)
	im := &impostor{t: t, key: key, pub: pub, realAddr: realAddr, realKey: realKey, displayID: displayID,
		plan:   []string{modeRelayInject, modeOtherKey, modePinnedForged, modePairing, modePaired, modeRelayedChalleng},
		served: map[string]int{}, auths: map[string]int{}}
	mux := http.NewServeMux()
	mux.HandleFunc(protocol.WSPath, im.handle)
	im.srv = httptest.NewServer(mux) // 127.0.0.1
	t.Cleanup(im.srv.Close)
	return im
}

func (im *impostor) addr() string { return strings.TrimPrefix(im.srv.URL, "http://") }

func (im *impostor) counts() (served, auths map[string]int, relay int) {
	im.mu.Lock()
	defer im.mu.Unlock()
	served, auths = map[string]int{}, map[string]int{}
	for k, v := range im.served {
		served[k] = v
	}
	for k, v := range im.auths {
		auths[k] = v
	}
	return served, auths, im.relay
}

var wsUpgrader = websocket.Upgrader{Subprotocols: []string{protocol.Subprotocol}}

func send(c *websocket.Conn, typ string, body any) {
	b, err := protocol.Encode(typ, body)
	if err == nil {
		_ = c.SetWriteDeadline(time.Now().Add(5 * time.Second))
		_ = c.WriteMessage(websocket.TextMessage, b)
	}
}

func (im *impostor) handle(w http.ResponseWriter, r *http.Request) {
	c, err := wsUpgrader.Upgrade(w, r, nil)
	if err != nil {
		return
	}
	defer c.Close()
	im.mu.Lock()
	mode := im.plan[im.conns%len(im.plan)]
	if im.conns >= len(im.plan) { // the relay runs once; then the rest again and again
		mode = im.plan[1+im.conns%(len(im.plan)-1)]
	}
	im.conns++
	im.mu.Unlock()

	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, frame, err := c.ReadMessage()
	if err != nil {
		return
	}
	env, err := protocol.Decode(frame)
	var hello protocol.Hello
	if err != nil || env.Type != protocol.TypeHello || env.DecodeBody(&hello) != nil {
		return
	}
	nonce := make([]byte, 32)
	_, _ = rand.Read(nonce)
	switch mode {
	case modeRelayInject:
		im.relayInject(c, frame)
		im.done(mode)
		return
	case modeOtherKey:
		ch := protocol.Challenge{Nonce: nonce, ServerKey: im.pub, ServerTime: time.Now().UTC()}
		protocol.SignChallenge(im.key, hello.PublicKey, hello.Nonce, &ch)
		send(c, protocol.TypeChallenge, ch)
	case modePinnedForged:
		ch := protocol.Challenge{Nonce: nonce, ServerKey: im.realKey, ServerTime: time.Now().UTC()}
		protocol.SignChallenge(im.key, hello.PublicKey, hello.Nonce, &ch)
		send(c, protocol.TypeChallenge, ch)
	case modePairing:
		send(c, protocol.TypePairing, protocol.Pairing{Code: "EVIL42", ExpiresAt: time.Now().Add(time.Hour).UTC()})
	case modePaired:
		send(c, protocol.TypePaired, protocol.Paired{DisplayID: "d-evil", Name: "Evil", Token: "bkd_evil", ServerKey: im.pub})
	case modeRelayedChalleng:
		// The real server's challenge, issued for the impostor's own hello
		// that names the victim's public key.
		ch, ok := im.realChallenge(hello.PublicKey)
		if !ok {
			return
		}
		send(c, protocol.TypeChallenge, ch)
	}
	// Whatever the player answers: it should close without signing.
	for {
		_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
		_, frame, err := c.ReadMessage()
		if err != nil {
			break
		}
		if e, err := protocol.Decode(frame); err == nil && e.Type == protocol.TypeAuth {
			im.mu.Lock()
			im.auths[mode]++
			im.mu.Unlock()
		}
	}
	im.done(mode)
}

func (im *impostor) done(mode string) {
	im.mu.Lock()
	im.served[mode]++
	im.mu.Unlock()
}

func (im *impostor) dialReal() (*websocket.Conn, bool) {
	d := websocket.Dialer{Subprotocols: []string{protocol.Subprotocol}, HandshakeTimeout: 5 * time.Second}
	rc, _, err := d.Dial("ws://"+im.realAddr+protocol.WSPath, nil)
	if err != nil {
		im.t.Logf("impostor: dial real server: %v", err)
		return nil, false
	}
	return rc, true
}

func (im *impostor) realChallenge(victim []byte) (protocol.Challenge, bool) {
	rc, ok := im.dialReal()
	if !ok {
		return protocol.Challenge{}, false
	}
	defer rc.Close()
	own := make([]byte, protocol.NonceSize)
	_, _ = rand.Read(own)
	send(rc, protocol.TypeHello, protocol.Hello{ProtocolVersion: 1, PublicKey: victim, Nonce: own})
	_ = rc.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, frame, err := rc.ReadMessage()
	if err != nil {
		return protocol.Challenge{}, false
	}
	env, err := protocol.Decode(frame)
	var ch protocol.Challenge
	if err != nil || env.Type != protocol.TypeChallenge || env.DecodeBody(&ch) != nil {
		return protocol.Challenge{}, false
	}
	return ch, true
}

// relayInject passes the handshake through to the real server (the player
// authenticates there), then injects a manifest signed by the impostor,
// paired with the impostor's key and pairing.
func (im *impostor) relayInject(c *websocket.Conn, hello []byte) {
	rc, ok := im.dialReal()
	if !ok {
		return
	}
	defer rc.Close()
	var wmu sync.Mutex
	toPlayer := func(frame []byte) {
		wmu.Lock()
		defer wmu.Unlock()
		_ = c.SetWriteDeadline(time.Now().Add(5 * time.Second))
		_ = c.WriteMessage(websocket.TextMessage, frame)
	}
	_ = rc.WriteMessage(websocket.TextMessage, hello)
	go func() { // player → real server
		for {
			_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
			_, frame, err := c.ReadMessage()
			if err != nil {
				rc.Close()
				return
			}
			_ = rc.WriteMessage(websocket.TextMessage, frame)
		}
	}()
	for { // real server → player
		_ = rc.SetReadDeadline(time.Now().Add(10 * time.Second))
		_, frame, err := rc.ReadMessage()
		if err != nil {
			return
		}
		toPlayer(frame)
		if env, err := protocol.Decode(frame); err == nil && env.Type == protocol.TypeAuthOK {
			im.mu.Lock()
			im.relay++
			im.mu.Unlock()
			forged, err := protocol.SignManifest(im.key, protocol.Manifest{DisplayID: im.displayID, Version: 1 << 40, IssuedAt: time.Now().UTC(), Program: json.RawMessage(`{}`)})
			if err != nil {
				im.t.Error(err)
				return
			}
			for _, m := range []struct {
				typ  string
				body any
			}{
				{protocol.TypeManifest, forged},
				{protocol.TypePaired, protocol.Paired{DisplayID: "d-evil", Name: "Evil", Token: "bkd_evil", ServerKey: im.pub}},
				{protocol.TypePairing, protocol.Pairing{Code: "EVIL42", ExpiresAt: time.Now().Add(time.Hour).UTC()}},
			} {
				b, _ := protocol.Encode(m.typ, m.body)
				toPlayer(b)
			}
		}
	}
}

// dirFiles lists the regular files under dir (relative paths and sizes).
func dirFiles(t *testing.T, dir string) []string {
	var out []string
	_ = filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return nil
		}
		rel, _ := filepath.Rel(dir, path)
		out = append(out, rel)
		return nil
	})
	sort.Strings(out)
	return out
}

func readFile(t *testing.T, path string) []byte {
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestPlayerTrustsOnlyItsServer: an impostor on the player's server
// address (a man in the middle on plain HTTP) tries every way in against a
// paired, playing player. The player signs nothing for it, keeps its
// pinned key, manifest and cache, keeps playing, and on its next
// connection to the real server authenticates, gets manifests again and
// reports the attempts, which the server stores as incidents.
func TestPlayerTrustsOnlyItsServer(t *testing.T) {
	srv := servertest.Start(t, servertest.Options{})
	proxy := newSwitchProxy(t, srv.Addr)
	playerDir := t.TempDir()
	plog := &lockedLog{}
	p := startPlayer(t, playerDir, "http://"+proxy.ln.Addr().String(), func(c *player.Config) {
		c.Logger = slog.New(slog.NewTextHandler(io.MultiWriter(os.Stderr, plog), &slog.HandlerOptions{Level: slog.LevelWarn}))
	})

	st := p.wait(t, "pairing code", func(s player.Status) bool { return s.PairingCode != "" })
	var disp struct{ ID string }
	if code := srv.Do("POST", "/api/v1/displays/claim", map[string]any{"code": st.PairingCode, "name": "Hall", "width": 320, "height": 180}, &disp); code != 201 {
		t.Fatalf("claim: %d", code)
	}
	p.wait(t, "paired", func(s player.Status) bool { return s.Paired && s.DisplayID == disp.ID })
	allDay(t, srv, disp.ID)
	var img servertest.Media
	if code := srv.Upload("hall.jpg", photo(t, 640, 360), &img); code != 201 {
		t.Fatalf("upload: %d", code)
	}
	var pl struct{ ID string }
	if code := srv.Do("POST", "/api/v1/playlists", map[string]any{"name": "Hall", "items": []map[string]any{{"media_id": img.ID, "duration_s": 1}}}, &pl); code != 201 {
		t.Fatalf("playlist: %d", code)
	}
	if code := srv.Do("POST", "/api/v1/schedules", map[string]any{"display_id": disp.ID, "playlist_id": pl.ID}, nil); code != 201 {
		t.Fatalf("schedule: %d", code)
	}
	before := p.wait(t, "playing from a full cache", func(s player.Status) bool {
		return s.ManifestVersion > 0 && s.Cache.Files > 0 && s.Cache.Missing == 0 && s.NowPlaying != nil && s.State == protocol.StatePlaying
	})
	stateBefore := readFile(t, filepath.Join(playerDir, "state.json"))
	manifestBefore := readFile(t, filepath.Join(playerDir, "manifest.json"))
	cacheBefore := dirFiles(t, filepath.Join(playerDir, "cache"))

	// The impostor takes the address.
	im := newImpostor(t, srv.Addr, srv.PublicKey(), disp.ID)
	proxy.set(im.addr())
	servertest.Eventually(t, 60*time.Second, "every attack tried, the non-relay ones twice", func() bool {
		served, _, _ := im.counts()
		for i, m := range im.plan {
			if want := map[bool]int{true: 1, false: 2}[i == 0]; served[m] < want {
				return false
			}
		}
		return true
	})
	served, auths, relayed := im.counts()
	t.Logf("impostor connections: %v", served)
	for m, n := range auths {
		if n > 0 {
			t.Errorf("%s: the player signed %d auth frames for the impostor", m, n)
		}
	}
	if relayed != 1 {
		t.Errorf("relay authenticated %d times, want 1 (the relay itself is not refused)", relayed)
	}

	// Nothing changed on the player, and it is still playing.
	st = p.Status()
	if !st.Paired || st.DisplayID != disp.ID || st.ManifestVersion != before.ManifestVersion || st.State != protocol.StatePlaying || st.NowPlaying == nil {
		t.Fatalf("player after the attack: %+v", st)
	}
	if st.LastRefusal == "" {
		t.Errorf("status does not show the refusal")
	}
	p.wait(t, "next item while the impostor holds the address", func(s player.Status) bool {
		return s.NowPlaying != nil && s.NowPlaying.StartedAt.After(st.NowPlaying.StartedAt)
	})
	if !bytes.Equal(readFile(t, filepath.Join(playerDir, "state.json")), stateBefore) {
		t.Errorf("state.json (pinned key) changed")
	}
	if !bytes.Equal(readFile(t, filepath.Join(playerDir, "manifest.json")), manifestBefore) {
		t.Errorf("manifest.json changed")
	}
	if got := dirFiles(t, filepath.Join(playerDir, "cache")); strings.Join(got, ",") != strings.Join(cacheBefore, ",") {
		t.Errorf("cache changed: %v, was %v", got, cacheBefore)
	}
	for _, kind := range []string{protocol.IncidentServerKeyMismatch, protocol.IncidentUnexpectedPairing} {
		if !strings.Contains(plog.String(), `msg="SECURITY: refusing server" kind=`+kind) {
			t.Errorf("the player's log does not say it refused a server (%s):\n%s", kind, plog.String())
		}
	}
	kinds := map[string]bool{}
	for _, in := range p.PendingIncidents() {
		kinds[in.Kind] = true
	}
	if !kinds[protocol.IncidentServerKeyMismatch] || !kinds[protocol.IncidentUnexpectedPairing] {
		t.Errorf("incidents waiting for the real server: %v", p.PendingIncidents())
	}

	// The real server is back: manifests flow again and the attempts are on record.
	proxy.set(srv.Addr)
	p.wait(t, "reconnected to the real server", func(s player.Status) bool { return s.Connected && s.IncidentsPending == 0 })
	if code := srv.Do("PUT", "/api/v1/playlists/"+pl.ID, map[string]any{"name": "Hall", "items": []map[string]any{{"media_id": img.ID, "duration_s": 2}}}, nil); code != 200 {
		t.Fatalf("update playlist: %d", code)
	}
	p.wait(t, "a new manifest from the real server", func(s player.Status) bool {
		return s.ManifestVersion > before.ManifestVersion && s.NowPlaying != nil
	})
	servertest.Eventually(t, 10*time.Second, "incidents stored on the server", func() bool {
		var list struct {
			Incidents []struct {
				Kind      string `json:"kind"`
				DisplayID string `json:"display_id"`
			}
		}
		srv.Do("GET", "/api/v1/incidents", nil, &list)
		got := map[string]bool{}
		for _, in := range list.Incidents {
			if in.DisplayID == disp.ID {
				got[in.Kind] = true
			}
		}
		return got[protocol.IncidentServerKeyMismatch] && got[protocol.IncidentUnexpectedPairing] && got[protocol.IncidentBadSignature]
	})
}

// lockedLog collects a log written from several goroutines.
type lockedLog struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
