package server_test

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"image/color"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"beacon/playlists"
	"beacon/protocol"
	"beacon/server"
	"beacon/server/players"
	"beacon/server/servertest"
)

// rawPlayer speaks protocol v1 by hand, frame by frame.
type rawPlayer struct {
	t      *testing.T
	conn   *websocket.Conn
	priv   ed25519.PrivateKey
	nonce  []byte       // hello nonce of the last handshake
	token  string       // session token from paired (pairWith)
	frames chan []byte  // everything the server sent, in order
	closed chan error   // the read error that ended the connection
	pings  atomic.Int32 // WebSocket pings from the server (each answered)
}

func dialRaw(t *testing.T, s *servertest.Server, priv ed25519.PrivateKey) *rawPlayer {
	t.Helper()
	d := websocket.Dialer{Subprotocols: []string{protocol.Subprotocol}, HandshakeTimeout: 5 * time.Second}
	conn, resp, err := d.Dial("ws://"+s.Addr+protocol.WSPath, nil)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	if resp.Header.Get("Sec-WebSocket-Protocol") != protocol.Subprotocol {
		t.Fatalf("server did not select %s", protocol.Subprotocol)
	}
	if priv == nil {
		_, priv, _ = ed25519.GenerateKey(rand.Reader)
	}
	t.Cleanup(func() { conn.Close() })
	p := &rawPlayer{t: t, conn: conn, priv: priv, frames: make(chan []byte, 1000), closed: make(chan error, 1)}
	conn.SetPingHandler(func(data string) error {
		p.pings.Add(1)
		_ = conn.WriteControl(websocket.PongMessage, []byte(data), time.Now().Add(time.Second))
		return nil
	})
	go func() {
		for {
			_, frame, err := conn.ReadMessage()
			if err != nil {
				p.closed <- err
				return
			}
			p.frames <- frame
		}
	}()
	return p
}

// next returns the next frame, or the error that closed the connection.
func (p *rawPlayer) next(within time.Duration) ([]byte, error) {
	// Frames read before the close come first: a select over both
	// channels would pick at random when both are ready.
	select {
	case f := <-p.frames:
		return f, nil
	default:
	}
	select {
	case f := <-p.frames:
		return f, nil
	case err := <-p.closed:
		p.closed <- err
		return nil, err
	case <-time.After(within):
		return nil, errors.New("timed out")
	}
}

func (p *rawPlayer) send(typ string, body any) string {
	p.t.Helper()
	env, err := protocol.New(typ, body)
	if err != nil {
		p.t.Fatal(err)
	}
	b, _ := protocol.Marshal(env)
	if err := p.conn.WriteMessage(websocket.TextMessage, b); err != nil {
		p.t.Fatal(err)
	}
	return env.ID
}

func (p *rawPlayer) sendRaw(b []byte) error { return p.conn.WriteMessage(websocket.TextMessage, b) }

// expect reads frames until one of type typ arrives (heartbeats etc. skipped).
func (p *rawPlayer) expect(typ string, body any) protocol.Envelope {
	p.t.Helper()
	for {
		frame, err := p.next(5 * time.Second)
		if err != nil {
			p.t.Fatalf("waiting for %s: %v", typ, err)
		}
		env, err := protocol.Decode(frame)
		if err != nil {
			p.t.Fatalf("server sent an undecodable frame %q: %v", frame, err)
		}
		if env.Type != typ {
			if env.Type == protocol.TypeError {
				p.t.Logf("error frame while waiting for %s: %s", typ, env.Body)
			}
			continue
		}
		if body != nil {
			if err := env.DecodeBody(body); err != nil {
				p.t.Fatal(err)
			}
		}
		return env
	}
}

func (p *rawPlayer) handshake(heldVersion int64) protocol.Envelope {
	p.t.Helper()
	return p.handshakeAs("", heldVersion)
}

// handshakeAs is handshake with the display id the player remembers.
func (p *rawPlayer) handshakeAs(displayID string, heldVersion int64) protocol.Envelope {
	p.t.Helper()
	pub := p.priv.Public().(ed25519.PublicKey)
	p.nonce = make([]byte, protocol.NonceSize)
	_, _ = rand.Read(p.nonce)
	p.send(protocol.TypeHello, protocol.Hello{ProtocolVersion: 1, PublicKey: pub, DisplayID: displayID, ManifestVersion: heldVersion, Nonce: p.nonce})
	var ch protocol.Challenge
	p.expect(protocol.TypeChallenge, &ch)
	if err := protocol.VerifyChallenge(ch.ServerKey, pub, p.nonce, ch); err != nil {
		p.t.Fatalf("challenge: %v", err)
	}
	p.send(protocol.TypeAuth, protocol.SignAuth(p.priv, ch))
	for {
		frame, err := p.next(5 * time.Second)
		if err != nil {
			p.t.Fatalf("after auth: %v", err)
		}
		env, _ := protocol.Decode(frame)
		if env.Type == protocol.TypePairing || env.Type == protocol.TypeAuthOK {
			return env
		}
	}
}

func TestWebSocketNeedsSubprotocol(t *testing.T) {
	s := servertest.Start(t, servertest.Options{})
	d := websocket.Dialer{HandshakeTimeout: 5 * time.Second}
	_, resp, err := d.Dial("ws://"+s.Addr+protocol.WSPath, nil)
	if err == nil || resp == nil || resp.StatusCode != http.StatusUpgradeRequired {
		t.Fatalf("dial without subprotocol: err=%v resp=%v", err, resp)
	}
	b, _ := io.ReadAll(resp.Body)
	if !strings.Contains(string(b), "beacon.v1") {
		t.Fatalf("refusal does not name the subprotocol: %s", b)
	}
}

func TestPairingClaimAndFileDownload(t *testing.T) {
	s := servertest.Start(t, servertest.Options{})
	p := dialRaw(t, s, nil)
	env := p.handshake(0)
	if env.Type != protocol.TypePairing {
		t.Fatalf("unknown key got %s, want pairing", env.Type)
	}
	var pairing protocol.Pairing
	_ = env.DecodeBody(&pairing)
	if len(pairing.Code) != players.PairingCodeLen {
		t.Fatalf("pairing code %q", pairing.Code)
	}
	var disp struct{ ID string }
	if code := s.Do("POST", "/api/v1/displays/claim", map[string]any{"code": strings.ToLower(pairing.Code), "name": "Gate 1", "width": 384, "height": 192}, &disp); code != 201 {
		t.Fatalf("claim: %d", code)
	}
	var paired protocol.Paired
	p.expect(protocol.TypePaired, &paired)
	if paired.DisplayID != disp.ID || !strings.HasPrefix(paired.Token, "bkd_") || !s.PublicKey().Equal(ed25519.PublicKey(paired.ServerKey)) {
		t.Fatalf("paired: %+v", paired)
	}
	var sm protocol.SignedManifest
	p.expect(protocol.TypeManifest, &sm)
	m, err := protocol.VerifyManifest(s.PublicKey(), sm)
	if err != nil || m.DisplayID != disp.ID || m.Version != 1 || m.Display.Width != 384 {
		t.Fatalf("first manifest: %+v %v", m, err)
	}
	// Claiming the same code twice fails.
	var e servertest.APIError
	if code := s.Do("POST", "/api/v1/displays/claim", map[string]any{"code": pairing.Code, "name": "again", "width": 384, "height": 192}, &e); code != 404 {
		t.Fatalf("second claim: %d", code)
	}

	// Content: upload, playlist, schedule → a manifest with the 384×192 rendition.
	var med servertest.Media
	if code := s.Upload("sign.jpg", testJPEG(t, 1200, 900, color.RGBA{0, 80, 200, 255}), &med); code != 201 {
		t.Fatal(code)
	}
	var pl struct{ ID string }
	if code := s.Do("POST", "/api/v1/playlists", map[string]any{"name": "Loop", "items": []map[string]any{{"media_id": med.ID, "duration_s": 5}}}, &pl); code != 201 {
		t.Fatal(code)
	}
	if code := s.Do("POST", "/api/v1/schedules", map[string]any{"display_id": disp.ID, "playlist_id": pl.ID}, nil); code != 201 {
		t.Fatal(code)
	}
	var file protocol.File
	for file.SHA256 == "" {
		p.expect(protocol.TypeManifest, &sm)
		m, err = protocol.VerifyManifest(s.PublicKey(), sm)
		if err != nil {
			t.Fatal(err)
		}
		if len(m.Files) == 1 {
			file = m.Files[0]
		}
	}
	var prog playlists.Program
	if err := json.Unmarshal(m.Program, &prog); err != nil {
		t.Fatal(err)
	}
	if file.Profile != "384x192-contain-000000" || len(prog.Playlists) != 1 || prog.Playlists[0].Entries[0].DurationS != 5 ||
		len(prog.Items) != 1 || prog.Items[0].Variants[""].SHA256 != file.SHA256 {
		t.Fatalf("manifest: %+v\nprogram: %s", m, m.Program)
	}

	get := func(token, rng string) (*http.Response, []byte) {
		req, _ := http.NewRequest("GET", s.URL+file.URL, nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		if rng != "" {
			req.Header.Set("Range", rng)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, b
	}
	resp, whole := get(paired.Token, "")
	if resp.StatusCode != 200 || int64(len(whole)) != file.Size || resp.Header.Get("ETag") != `"`+file.SHA256+`"` {
		t.Fatalf("GET file: %d len %d etag %s", resp.StatusCode, len(whole), resp.Header.Get("ETag"))
	}
	resp, part := get(paired.Token, "bytes=100-")
	if resp.StatusCode != 206 || string(part) != string(whole[100:]) {
		t.Fatalf("Range: %d len %d", resp.StatusCode, len(part))
	}
	if resp, _ := get("", ""); resp.StatusCode != 401 {
		t.Fatalf("no token: %d", resp.StatusCode)
	}
	if resp, _ := get(s.Token, ""); resp.StatusCode != 401 {
		t.Fatalf("API token on player route: %d", resp.StatusCode)
	}
	// A display token cannot call the management API.
	if code := s.DoToken(paired.Token, "GET", "/api/v1/displays", nil, &e); code != 403 {
		t.Fatalf("display token on /api/v1: %d", code)
	}

	// Reconnect: the known key is authenticated and gets the manifest it
	// lacks; the old session's download token dies with it.
	p.conn.Close()
	servertest.Eventually(t, 5*time.Second, "old display token revoked", func() bool {
		resp, _ := get(paired.Token, "")
		return resp.StatusCode == 401
	})
	p2 := dialRaw(t, s, p.priv)
	env = p2.handshake(1)
	var ok protocol.AuthOK
	if env.Type != protocol.TypeAuthOK || env.DecodeBody(&ok) != nil || ok.DisplayID != disp.ID || ok.ManifestVersion != m.Version {
		t.Fatalf("reconnect: %s %s", env.Type, env.Body)
	}
	p2.expect(protocol.TypeManifest, &sm)
	// Heartbeat and ack show up in the display list.
	p2.send(protocol.TypeAck, protocol.Ack{Ref: "x", ManifestVersion: m.Version})
	p2.send(protocol.TypeHeartbeat, protocol.Heartbeat{ManifestVersion: m.Version, State: "playing",
		NowPlaying: &protocol.NowPlaying{ItemID: med.ID, MediaID: med.ID, SHA256: file.SHA256, StartedAt: time.Now()}})
	servertest.Eventually(t, 5*time.Second, "display list shows the heartbeat", func() bool {
		var list struct {
			Displays []struct {
				Online       bool
				State        string
				AckedVersion int64                `json:"acked_manifest_version"`
				NowPlaying   *protocol.NowPlaying `json:"now_playing"`
			}
		}
		s.Do("GET", "/api/v1/displays", nil, &list)
		d := list.Displays[0]
		return d.Online && d.State == "playing" && d.AckedVersion == m.Version && d.NowPlaying != nil && d.NowPlaying.MediaID == med.ID
	})
	// An incident is recorded.
	p2.send(protocol.TypeIncident, protocol.Incident{Kind: protocol.IncidentHashMismatch, Message: "test", SHA256: file.SHA256})
	servertest.Eventually(t, 5*time.Second, "incident recorded", func() bool {
		var list struct {
			Incidents []struct {
				Kind      string `json:"kind"`
				DisplayID string `json:"display_id"`
			}
		}
		s.Do("GET", "/api/v1/incidents", nil, &list)
		return len(list.Incidents) == 1 && list.Incidents[0].DisplayID == disp.ID
	})
}

// A player re-sends an incident whose ack it did not see, with a new
// envelope id, after reconnecting: the server acknowledges every copy and
// stores it once.
func TestIncidentAckedAndDeduplicated(t *testing.T) {
	s := servertest.Start(t, servertest.Options{})
	p := dialRaw(t, s, nil)
	var pairing protocol.Pairing
	if env := p.handshake(0); env.Type != protocol.TypePairing || env.DecodeBody(&pairing) != nil {
		t.Fatalf("handshake: %s", env.Type)
	}
	var disp struct{ ID string }
	if code := s.Do("POST", "/api/v1/displays/claim", map[string]any{"code": pairing.Code, "name": "Lobby", "width": 384, "height": 192}, &disp); code != 201 {
		t.Fatalf("claim: %d", code)
	}
	p.expect(protocol.TypePaired, nil)
	inc := protocol.Incident{Kind: protocol.IncidentHashMismatch, Message: "sha256 differs", SHA256: strings.Repeat("ab", 32), ManifestVersion: 3}
	count := func() int {
		var list struct {
			Incidents []struct{ Kind string } `json:"incidents"`
		}
		s.Do("GET", "/api/v1/incidents", nil, &list)
		return len(list.Incidents)
	}
	ackFor := func(p *rawPlayer, id string) {
		t.Helper()
		for {
			var a protocol.Ack
			p.expect(protocol.TypeAck, &a)
			if a.Ref == id {
				return
			}
		}
	}
	ackFor(p, p.send(protocol.TypeIncident, inc))
	if n := count(); n != 1 {
		t.Fatalf("%d incidents stored after the first send, want 1", n)
	}
	// The connection drops; the player re-sends on the next session.
	p.conn.Close()
	p2 := dialRaw(t, s, p.priv)
	if env := p2.handshake(0); env.Type != protocol.TypeAuthOK {
		t.Fatalf("reconnect: %s", env.Type)
	}
	ackFor(p2, p2.send(protocol.TypeIncident, inc))
	ackFor(p2, p2.send(protocol.TypeIncident, inc))
	if n := count(); n != 1 {
		t.Fatalf("%d incidents stored after two re-sends, want 1", n)
	}
	// A different incident is stored.
	other := inc
	other.SHA256 = strings.Repeat("cd", 32)
	ackFor(p2, p2.send(protocol.TypeIncident, other))
	if n := count(); n != 2 {
		t.Fatalf("%d incidents stored after a new one, want 2", n)
	}
}

// closeCode reads until the connection ends and returns its close code.
func (p *rawPlayer) closeCode(t *testing.T) int {
	t.Helper()
	for {
		_, err := p.next(5 * time.Second)
		if err == nil {
			continue
		}
		var ce *websocket.CloseError
		if errors.As(err, &ce) {
			return ce.Code
		}
		t.Fatalf("connection ended without a close frame: %v", err)
	}
}

// Every close code the server uses, as docs/protocol.md §9 lists them.
func TestCloseCodes(t *testing.T) {
	s := servertest.Start(t, servertest.Options{})
	t.Run("binary frame after pairing: 1003", func(t *testing.T) {
		p := dialRaw(t, s, nil)
		if env := p.handshake(0); env.Type != protocol.TypePairing {
			t.Fatal(env.Type)
		}
		_ = p.conn.WriteMessage(websocket.BinaryMessage, []byte("junk"))
		if c := p.closeCode(t); c != websocket.CloseUnsupportedData {
			t.Fatalf("closed with %d, want 1003", c)
		}
	})
	t.Run("binary frame before hello: 1003", func(t *testing.T) {
		p := dialRaw(t, s, nil)
		_ = p.conn.WriteMessage(websocket.BinaryMessage, []byte("junk"))
		if c := p.closeCode(t); c != websocket.CloseUnsupportedData {
			t.Fatalf("closed with %d, want 1003", c)
		}
	})
	t.Run("malformed frame before hello: error malformed, 1008", func(t *testing.T) {
		p := dialRaw(t, s, nil)
		_ = p.sendRaw([]byte("{{{ not json"))
		var e protocol.ErrorBody
		p.expect(protocol.TypeError, &e)
		if e.Code != protocol.CodeMalformed {
			t.Fatalf("got %+v", e)
		}
		if c := p.closeCode(t); c != websocket.ClosePolicyViolation {
			t.Fatalf("closed with %d, want 1008", c)
		}
	})
	t.Run("first frame not hello: unexpected_message, 1008", func(t *testing.T) {
		p := dialRaw(t, s, nil)
		p.send(protocol.TypeHeartbeat, protocol.Heartbeat{State: "pairing"})
		var e protocol.ErrorBody
		p.expect(protocol.TypeError, &e)
		if e.Code != protocol.CodeUnexpected {
			t.Fatalf("got %+v", e)
		}
		if c := p.closeCode(t); c != websocket.ClosePolicyViolation {
			t.Fatalf("closed with %d, want 1008", c)
		}
	})
	t.Run("unknown version: unsupported_version, 1008", func(t *testing.T) {
		p := dialRaw(t, s, nil)
		p.send(protocol.TypeHello, protocol.Hello{ProtocolVersion: 2, PublicKey: p.priv.Public().(ed25519.PublicKey)})
		var e protocol.ErrorBody
		p.expect(protocol.TypeError, &e)
		if e.Code != protocol.CodeBadVersion {
			t.Fatalf("got %+v", e)
		}
		if c := p.closeCode(t); c != websocket.ClosePolicyViolation {
			t.Fatalf("closed with %d, want 1008", c)
		}
	})
	t.Run("bad auth: auth_failed, 1008", func(t *testing.T) {
		p := dialRaw(t, s, nil)
		p.send(protocol.TypeHello, protocol.Hello{ProtocolVersion: 1, PublicKey: p.priv.Public().(ed25519.PublicKey)})
		var ch protocol.Challenge
		p.expect(protocol.TypeChallenge, &ch)
		_, other, _ := ed25519.GenerateKey(rand.Reader)
		p.send(protocol.TypeAuth, protocol.SignAuth(other, ch))
		var e protocol.ErrorBody
		p.expect(protocol.TypeError, &e)
		if e.Code != protocol.CodeAuthFailed {
			t.Fatalf("got %+v", e)
		}
		if c := p.closeCode(t); c != websocket.ClosePolicyViolation {
			t.Fatalf("closed with %d, want 1008", c)
		}
	})
}

func TestProtocolErrors(t *testing.T) {
	s := servertest.Start(t, servertest.Options{})

	t.Run("bad signature", func(t *testing.T) {
		p := dialRaw(t, s, nil)
		p.send(protocol.TypeHello, protocol.Hello{ProtocolVersion: 1, PublicKey: p.priv.Public().(ed25519.PublicKey)})
		var ch protocol.Challenge
		p.expect(protocol.TypeChallenge, &ch)
		_, other, _ := ed25519.GenerateKey(rand.Reader)
		p.send(protocol.TypeAuth, protocol.SignAuth(other, ch))
		var e protocol.ErrorBody
		p.expect(protocol.TypeError, &e)
		if e.Code != protocol.CodeAuthFailed {
			t.Fatalf("got %+v", e)
		}
	})
	t.Run("wrong version", func(t *testing.T) {
		p := dialRaw(t, s, nil)
		p.send(protocol.TypeHello, protocol.Hello{ProtocolVersion: 2, PublicKey: p.priv.Public().(ed25519.PublicKey)})
		var e protocol.ErrorBody
		p.expect(protocol.TypeError, &e)
		if e.Code != protocol.CodeBadVersion {
			t.Fatalf("got %+v", e)
		}
	})
	t.Run("unknown type, garbage, oversized", func(t *testing.T) {
		p := dialRaw(t, s, nil)
		if env := p.handshake(0); env.Type != protocol.TypePairing {
			t.Fatal(env.Type)
		}
		id := p.send("telepathy", map[string]int{"x": 1})
		var e protocol.ErrorBody
		p.expect(protocol.TypeError, &e)
		if e.Code != protocol.CodeUnknownType || e.Ref != id {
			t.Fatalf("unknown type: %+v", e)
		}
		_ = p.sendRaw([]byte("{{{ not json"))
		p.expect(protocol.TypeError, &e)
		if e.Code != protocol.CodeMalformed {
			t.Fatalf("garbage: %+v", e)
		}
		// Still connected: a heartbeat is accepted silently, then an unknown type answered.
		p.send(protocol.TypeHeartbeat, protocol.Heartbeat{State: "pairing"})
		p.send("nope", nil)
		p.expect(protocol.TypeError, &e)
		// Over 1 MiB: the server closes the connection.
		big := fmt.Sprintf(`{"type":"heartbeat","id":"1","ts":"2026-01-01T00:00:00Z","body":{"state":"%s"}}`, strings.Repeat("x", protocol.MaxFrameSize))
		_ = p.sendRaw([]byte(big))
		for {
			if _, err := p.next(5 * time.Second); err != nil {
				if ce, ok := err.(*websocket.CloseError); ok && ce.Code != websocket.CloseMessageTooBig {
					t.Fatalf("closed with %d, want 1009", ce.Code)
				}
				break
			}
		}
		// And the server still serves others.
		p2 := dialRaw(t, s, nil)
		if env := p2.handshake(0); env.Type != protocol.TypePairing {
			t.Fatal(env.Type)
		}
	})
}

// Idle sessions, paired or showing a pairing code, are pinged by the
// server's pinger through their send queues, and a session whose writer
// ended with its queue empty writes again when the next frame comes.
func TestIdleSessionsArePinged(t *testing.T) {
	s := servertest.Start(t, servertest.Options{})
	paired, _ := pairWith(t, s, s.Token, withOverride, nil)
	pairing := dialRaw(t, s, nil)
	if env := pairing.helloWith(withOverride); env.Type != protocol.TypePairing {
		t.Fatalf("got %s, want pairing", env.Type)
	}
	server.SetPlayerPingInterval(s.Server, 300*time.Millisecond)
	servertest.Eventually(t, 20*time.Second, "three pings each", func() bool {
		return paired.pings.Load() >= 3 && pairing.pings.Load() >= 3
	})
	o := trigger(t, s, s.Token, smallest)
	if spec := expectOverride(t, s, paired); spec.ID != o.ID {
		t.Fatalf("got %s, want %s", spec.ID, o.ID)
	}
}
