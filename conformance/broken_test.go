package conformance_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"beacon/conformance"
	"beacon/playlists"
	"beacon/protocol"
)

// brokenPlayer is a minimal protocol v1 client written from the document,
// with one deliberate defect: it pairs, pins the key, signs auth only for
// the pinned key, downloads and verifies files (resuming a cut download
// with Range), reports incidents, closes on an oversized frame and obeys
// only a verified unpair, but skipSig applies manifests without checking
// their signature, ignoreHours reports playing at any hour, trustUnpair
// obeys an unpair without verifying it, and noResume downloads a cut file
// again from byte 0.
type brokenPlayer struct {
	url                  string
	skipSig, ignoreHours bool
	trustUnpair          bool
	noResume             bool
	overrides            bool // announce CapOverride and acknowledge overrides

	priv      ed25519.PrivateKey
	pub       ed25519.PublicKey
	mu        sync.Mutex
	pinned    ed25519.PublicKey
	displayID string
	held      int64
	program   *playlists.Program
	pending   []protocol.Incident
	partial   map[string][]byte // cut downloads, by sha
}

func newBroken(url string) *brokenPlayer {
	pub, priv, _ := ed25519.GenerateKey(rand.Reader)
	return &brokenPlayer{url: url, priv: priv, pub: pub, partial: map[string][]byte{}}
}

func (b *brokenPlayer) run(ctx context.Context) {
	for ctx.Err() == nil {
		b.session(ctx)
		select {
		case <-ctx.Done():
		case <-time.After(50 * time.Millisecond):
		}
	}
}

type wsConn struct {
	c  *websocket.Conn
	mu sync.Mutex
}

func (w *wsConn) send(typ string, body any) {
	env, err := protocol.New(typ, body)
	if err != nil {
		return
	}
	b, _ := protocol.Marshal(env)
	w.mu.Lock()
	defer w.mu.Unlock()
	_ = w.c.WriteMessage(websocket.TextMessage, b)
}

func (b *brokenPlayer) session(ctx context.Context) {
	d := websocket.Dialer{Subprotocols: []string{protocol.Subprotocol}, HandshakeTimeout: 5 * time.Second}
	c, _, err := d.DialContext(ctx, "ws"+strings.TrimPrefix(b.url, "http")+protocol.WSPath, nil)
	if err != nil {
		return
	}
	defer c.Close()
	c.SetReadLimit(protocol.MaxFrameSize) // a larger frame: close 1009
	go func() { <-ctx.Done(); c.Close() }()
	w := &wsConn{c: c}
	nonce := make([]byte, protocol.NonceSize)
	_, _ = rand.Read(nonce)
	b.mu.Lock()
	hello := protocol.Hello{ProtocolVersion: 1, PlayerVersion: "broken", PublicKey: b.pub, DisplayID: b.displayID, ManifestVersion: b.held, Nonce: nonce}
	if b.overrides {
		hello.Capabilities = []string{protocol.CapOverride}
	}
	w.send(protocol.TypeHello, hello)
	b.mu.Unlock()
	var orgID string
	var token string
	done := make(chan struct{})
	defer close(done)
	beating := false
	startBeats := func() {
		if beating {
			return
		}
		beating = true
		go func() {
			t := time.NewTicker(200 * time.Millisecond)
			defer t.Stop()
			for {
				w.send(protocol.TypeHeartbeat, b.heartbeat())
				select {
				case <-done:
					return
				case <-t.C:
				}
			}
		}()
	}
	authed := func() {
		b.mu.Lock()
		list := b.pending
		b.pending = nil
		b.mu.Unlock()
		for _, in := range list {
			w.send(protocol.TypeIncident, in)
		}
		startBeats()
	}
	for {
		typ, data, err := c.ReadMessage()
		if err != nil {
			return
		}
		if typ != websocket.TextMessage {
			_ = c.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseUnsupportedData, ""), time.Now().Add(time.Second))
			return
		}
		env, err := protocol.Decode(data)
		if err != nil {
			continue
		}
		switch env.Type {
		case protocol.TypeChallenge:
			var ch protocol.Challenge
			_ = env.DecodeBody(&ch)
			b.mu.Lock()
			pinned := b.pinned
			b.mu.Unlock()
			if pinned != nil && protocol.VerifyChallenge(pinned, b.pub, nonce, ch) != nil {
				w.send(protocol.TypeError, protocol.ErrorBody{Code: protocol.CodeAuthFailed, Message: "not the pinned server", Ref: env.ID})
				b.report(protocol.Incident{Kind: protocol.IncidentServerKeyMismatch, Message: "challenge under another key"})
				return
			}
			w.send(protocol.TypeAuth, protocol.SignAuth(b.priv, ch))
		case protocol.TypePairing:
			startBeats()
		case protocol.TypePaired:
			var p protocol.Paired
			_ = env.DecodeBody(&p)
			b.mu.Lock()
			b.pinned, b.displayID, token = p.ServerKey, p.DisplayID, p.Token
			b.mu.Unlock()
			orgID = p.OrgID
			authed()
		case protocol.TypeAuthOK:
			var ok protocol.AuthOK
			_ = env.DecodeBody(&ok)
			token, orgID = ok.Token, ok.OrgID
			authed()
		case protocol.TypeManifest:
			b.onManifest(w, env, token)
		case protocol.TypeUnpair:
			var u protocol.Unpair
			_ = env.DecodeBody(&u)
			b.mu.Lock()
			pinned, display := b.pinned, b.displayID
			b.mu.Unlock()
			if !b.trustUnpair { // the defect: obeyed without a check
				if err := protocol.VerifyUnpair(pinned, display, b.pub, nonce, u); err != nil {
					w.send(protocol.TypeError, protocol.ErrorBody{Code: protocol.CodeBadSignature, Message: err.Error(), Ref: env.ID})
					w.send(protocol.TypeIncident, protocol.Incident{Kind: protocol.IncidentBadSignature, Message: err.Error()})
					continue
				}
			}
			b.mu.Lock()
			b.pinned, b.displayID, b.held, b.program = nil, "", 0, nil
			b.mu.Unlock()
			w.send(protocol.TypeAck, protocol.Ack{Ref: env.ID})
		case protocol.TypeOverride:
			b.mu.Lock()
			pinned, display := b.pinned, b.displayID
			b.mu.Unlock()
			var so protocol.SignedOverride
			_ = env.DecodeBody(&so)
			o, err := protocol.VerifyOverride(pinned, so)
			if err != nil || !o.For(orgID, display) {
				w.send(protocol.TypeOverrideAck, protocol.OverrideAck{ID: o.ID, State: protocol.AckRefused, At: time.Now().UTC(), Error: "refused"})
				continue
			}
			w.send(protocol.TypeOverrideAck, protocol.OverrideAck{ID: o.ID, Revision: o.Revision, State: protocol.AckReceived, At: time.Now().UTC()})
			w.send(protocol.TypeOverrideAck, protocol.OverrideAck{ID: o.ID, Revision: o.Revision, State: protocol.AckPainted, At: time.Now().UTC(), PaintedAt: time.Now().UTC()})
		case protocol.TypeOverrideCancel:
			b.mu.Lock()
			pinned := b.pinned
			b.mu.Unlock()
			var oc protocol.OverrideCancel
			_ = env.DecodeBody(&oc)
			if protocol.VerifyCancel(pinned, orgID, oc) == nil {
				w.send(protocol.TypeOverrideAck, protocol.OverrideAck{ID: oc.ID, State: protocol.AckEnded, At: time.Now().UTC()})
			}
		}
	}
}

func (b *brokenPlayer) report(in protocol.Incident) {
	b.mu.Lock()
	b.pending = append(b.pending, in)
	b.mu.Unlock()
}

func (b *brokenPlayer) onManifest(w *wsConn, env protocol.Envelope, token string) {
	var sm protocol.SignedManifest
	if err := env.DecodeBody(&sm); err != nil {
		return
	}
	b.mu.Lock()
	pinned, held := b.pinned, b.held
	b.mu.Unlock()
	var m protocol.Manifest
	if b.skipSig {
		if json.Unmarshal(sm.Payload, &m) != nil { // the defect: no signature check
			return
		}
	} else {
		var err error
		if m, err = protocol.VerifyManifest(pinned, sm); err != nil {
			w.send(protocol.TypeError, protocol.ErrorBody{Code: protocol.CodeBadSignature, Message: err.Error(), Ref: env.ID})
			w.send(protocol.TypeIncident, protocol.Incident{Kind: protocol.IncidentBadSignature, Message: err.Error()})
			return
		}
	}
	if m.Version <= held {
		w.send(protocol.TypeError, protocol.ErrorBody{Code: protocol.CodeStaleManifest, Message: "stale", Ref: env.ID})
		return
	}
	var prog playlists.Program
	_ = json.Unmarshal(m.Program, &prog)
	b.mu.Lock()
	b.held, b.program = m.Version, &prog
	b.mu.Unlock()
	w.send(protocol.TypeAck, protocol.Ack{Ref: env.ID, ManifestVersion: m.Version})
	go func() {
		fl := protocol.FileList{ManifestVersion: m.Version}
		for _, f := range m.Files {
			data, err := b.download(f, token)
			if err != nil {
				fl.Missing = append(fl.Missing, f.SHA256)
				continue
			}
			sum := sha256.Sum256(data)
			if hex.EncodeToString(sum[:]) != f.SHA256 {
				w.send(protocol.TypeIncident, protocol.Incident{Kind: protocol.IncidentHashMismatch, Message: "hash differs", SHA256: f.SHA256, ManifestVersion: m.Version})
				fl.Missing = append(fl.Missing, f.SHA256)
				continue
			}
			fl.Have = append(fl.Have, f.SHA256)
		}
		w.send(protocol.TypeFileList, fl)
	}()
}

// download fetches f, resuming a cut transfer with Range (unless noResume).
func (b *brokenPlayer) download(f protocol.File, token string) ([]byte, error) {
	var err error
	for attempt := 0; attempt < 20; attempt++ {
		b.mu.Lock()
		have := b.partial[f.SHA256]
		b.mu.Unlock()
		if b.noResume { // the defect: a cut download starts over
			have = nil
		}
		req, _ := http.NewRequest("GET", b.url+f.URL, nil)
		req.Header.Set("Authorization", "Bearer "+token)
		if len(have) > 0 {
			req.Header.Set("Range", fmt.Sprintf("bytes=%d-", len(have)))
		}
		var resp *http.Response
		resp, err = http.DefaultClient.Do(req)
		if err != nil {
			time.Sleep(100 * time.Millisecond)
			continue
		}
		body, rerr := io.ReadAll(resp.Body)
		resp.Body.Close()
		switch resp.StatusCode {
		case http.StatusPartialContent:
			body = append(have, body...)
		case http.StatusOK:
		default:
			return nil, fmt.Errorf("status %d", resp.StatusCode)
		}
		if rerr != nil {
			b.mu.Lock()
			b.partial[f.SHA256] = body
			b.mu.Unlock()
			err = rerr
			time.Sleep(100 * time.Millisecond)
			continue
		}
		b.mu.Lock()
		delete(b.partial, f.SHA256)
		b.mu.Unlock()
		return body, nil
	}
	return nil, err
}

func (b *brokenPlayer) heartbeat() protocol.Heartbeat {
	b.mu.Lock()
	defer b.mu.Unlock()
	hb := protocol.Heartbeat{ManifestVersion: b.held, State: protocol.StatePairing, PlayerTime: time.Now().UTC()}
	switch {
	case b.pinned == nil:
	case b.program == nil:
		hb.State = protocol.StateWaiting
	case b.ignoreHours: // the defect: operating hours are not looked at
		hb.State = protocol.StatePlaying
	case playlists.At(b.program, time.Now(), playlists.Options{}).Off:
		hb.State = protocol.StateOff
	default:
		hb.State = protocol.StatePlaying
	}
	return hb
}

func runBroken(t *testing.T, b func(url string) *brokenPlayer) conformance.Report {
	opts := testOptions()
	opts.StepTimeout = 8 * time.Second
	kit := startKit(t, opts)
	p := b(kit.URL())
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); p.run(ctx) }()
	defer func() { cancel(); <-done }()
	return runKit(t, kit)
}

func wantFailure(t *testing.T, rep conformance.Report, scenario, check, reason string) {
	t.Helper()
	if !rep.Failed() {
		t.Fatal("the kit passed a broken player")
	}
	res, ok := rep.Find(scenario, check)
	if !ok || res.Status != conformance.Fail || !strings.Contains(res.Reason, reason) {
		t.Fatalf("%s / %s: %+v, want a failure saying %q", scenario, check, res, reason)
	}
}

func wantPass(t *testing.T, rep conformance.Report, scenario, check string) {
	t.Helper()
	if res, _ := rep.Find(scenario, check); res.Status != conformance.Pass {
		t.Fatalf("%s / %s: %+v, want passed", scenario, check, res)
	}
}

// A player that applies manifests without checking their signature fails
// the kit, and the report says it acknowledged a forged manifest.
func TestBrokenPlayerSkipsSignatureCheck(t *testing.T) {
	t.Parallel()
	rep := runBroken(t, func(url string) *brokenPlayer {
		b := newBroken(url)
		b.skipSig = true
		return b
	})
	wantFailure(t, rep, "bad signature", "a manifest signed by another key", "acknowledged manifest version")
	wantPass(t, rep, "operating hours", "the screen is off")
}

// A player that plays outside operating hours fails the kit, and the
// report names the heartbeat that said playing and the hours. It also
// announces overrides and acknowledges them as protocol/override.go says:
// the override scenario runs as soon as a player announces the capability,
// and this player passes it.
func TestBrokenPlayerPlaysOutsideHours(t *testing.T) {
	t.Parallel()
	rep := runBroken(t, func(url string) *brokenPlayer {
		b := newBroken(url)
		b.overrides, b.ignoreHours = true, true
		return b
	})
	wantFailure(t, rep, "operating hours", "the screen is off", "playing outside operating hours")
	wantPass(t, rep, "bad signature", "a manifest signed by another key")
	wantPass(t, rep, "pinned key", "a challenge under another key")
	wantPass(t, rep, "frame size", "a frame over 1 MiB")
	wantPass(t, rep, "pairing expired", "pairing_expired and a new code")
	for _, c := range []string{"a signed override is acknowledged received", "it is acknowledged painted", "override_cancel is acknowledged ended"} {
		wantPass(t, rep, "overrides", c)
	}
}

// A player that obeys an unpair without verifying its signature fails the
// kit: the report says it acknowledged a forged unpair.
func TestBrokenPlayerTrustsUnpair(t *testing.T) {
	t.Parallel()
	rep := runBroken(t, func(url string) *brokenPlayer {
		b := newBroken(url)
		b.trustUnpair = true
		return b
	})
	wantFailure(t, rep, "unpair", "an unpair signed by another key", "acknowledged an unpair whose signature does not verify")
	wantPass(t, rep, "download resume", "the download resumes with Range")
}

// A player that starts a cut download over from byte 0 fails the kit, and
// the report says it did not resume with Range.
func TestBrokenPlayerDoesNotResume(t *testing.T) {
	t.Parallel()
	rep := runBroken(t, func(url string) *brokenPlayer {
		b := newBroken(url)
		b.noResume = true
		return b
	})
	wantFailure(t, rep, "download resume", "the download resumes with Range", "again from byte 0")
	wantPass(t, rep, "unpair", "an unpair signed by another key")
	wantPass(t, rep, "unpair", "a signed unpair is acknowledged")
	wantPass(t, rep, "unpair", "the player returns to pairing")
}
