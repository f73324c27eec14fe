package player

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"sync"
	"time"

	"github.com/gorilla/websocket"

	"beacon/protocol"
)

// Connection timing.
const (
	writeWait     = 10 * time.Second
	pingEvery     = 25 * time.Second
	readWait      = 70 * time.Second // must exceed the server's ping period
	sendQueueSize = 64
)

// backoff returns a full-jitter delay: uniform in [0, min(max, base*2^attempt)).
func backoff(base, max time.Duration, attempt int) time.Duration {
	ceil := max
	if attempt < 32 {
		if d := base << attempt; d > 0 && d < max {
			ceil = d
		}
	}
	if ceil <= 0 {
		return 0
	}
	return rand.N(ceil)
}

// connectLoop keeps one session with the server, reconnecting with
// exponential backoff and full jitter. The attempt count resets after a
// session that authenticated.
func (p *Player) connectLoop(ctx context.Context) {
	attempt := 0
	for ctx.Err() == nil {
		authed, err := p.runSession(ctx)
		if ctx.Err() != nil {
			return
		}
		if authed {
			attempt = 0
		}
		d := backoff(p.cfg.BackoffBase, p.cfg.BackoffMax, attempt)
		attempt++
		p.log.Info("disconnected from server", "err", err, "retry_in", d.Round(time.Millisecond))
		t := time.NewTimer(d)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}

// session is one WebSocket connection to the server: the reader runs in
// runSession, one writer goroutine drains a bounded queue.
type session struct {
	p      *Player
	conn   *websocket.Conn
	out    chan []byte
	done   chan struct{}
	once   sync.Once
	ctx    context.Context // cancelled when the session ends
	cancel context.CancelFunc
}

func (s *session) close() {
	s.once.Do(func() {
		close(s.done)
		s.cancel()
		_ = s.conn.WriteControl(websocket.CloseMessage,
			websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""), time.Now().Add(time.Second))
		_ = s.conn.Close()
	})
}

// send queues a message. A full queue means the server is not reading: the
// session is closed and the player reconnects and resyncs.
func (s *session) send(typ string, body any) {
	frame, err := protocol.Encode(typ, body)
	if err != nil {
		s.p.log.Error("encode", "type", typ, "err", err)
		return
	}
	s.sendFrame(typ, frame)
}

// sendFrame queues an encoded frame of type typ.
func (s *session) sendFrame(typ string, frame []byte) {
	select {
	case <-s.done:
	case s.out <- frame:
	default:
		s.p.log.Warn("send queue full; closing connection", "type", typ)
		s.close()
	}
}

func (s *session) sendError(code, msg, ref string) {
	s.send(protocol.TypeError, protocol.ErrorBody{Code: code, Message: msg, Ref: ref})
}

func (s *session) writer(wg *sync.WaitGroup) {
	defer wg.Done()
	ping := time.NewTicker(pingEvery)
	defer ping.Stop()
	for {
		select {
		case <-s.done:
			return
		case frame := <-s.out:
			_ = s.conn.SetWriteDeadline(time.Now().Add(writeWait))
			if err := s.conn.WriteMessage(websocket.TextMessage, frame); err != nil {
				s.close()
				return
			}
		case <-ping.C:
			if err := s.conn.WriteControl(websocket.PingMessage, nil, time.Now().Add(writeWait)); err != nil {
				s.close()
				return
			}
		}
	}
}

func (s *session) heartbeats(wg *sync.WaitGroup) {
	defer wg.Done()
	t := time.NewTicker(s.p.cfg.HeartbeatEvery)
	defer t.Stop()
	for {
		s.send(protocol.TypeHeartbeat, s.p.heartbeat())
		select {
		case <-s.done:
			return
		case <-t.C:
		}
	}
}

func (p *Player) heartbeat() protocol.Heartbeat {
	st := p.Status()
	return protocol.Heartbeat{
		ManifestVersion:   st.ManifestVersion,
		State:             st.State,
		NowPlaying:        st.NowPlaying,
		Cache:             st.Cache,
		RendererConnected: st.RendererConnected,
		UptimeS:           int64(time.Since(p.started) / time.Second),
		PlayerTime:        p.now().UTC(),
	}
}

// Session phases.
const (
	phaseChallenge = iota // hello sent, waiting for challenge
	phaseAuth             // auth sent, waiting for auth_ok or pairing
	phasePairing          // showing a code, waiting for paired
	phaseReady            // authenticated
)

// runSession dials, authenticates and serves one connection until it
// drops. It reports whether the session authenticated.
func (p *Player) runSession(ctx context.Context) (authed bool, err error) {
	dialer := websocket.Dialer{
		Proxy:            http.ProxyFromEnvironment,
		HandshakeTimeout: 10 * time.Second,
		Subprotocols:     []string{protocol.Subprotocol},
	}
	conn, resp, err := dialer.DialContext(ctx, p.wsURL, nil)
	if resp != nil && resp.Body != nil {
		resp.Body.Close()
	}
	if err != nil {
		return false, err
	}
	if conn.Subprotocol() != protocol.Subprotocol {
		conn.Close()
		return false, fmt.Errorf("server did not select subprotocol %s", protocol.Subprotocol)
	}
	conn.SetReadLimit(protocol.MaxFrameSize)
	sctx, scancel := context.WithCancel(ctx)
	s := &session{p: p, conn: conn, out: make(chan []byte, sendQueueSize), done: make(chan struct{}), ctx: sctx, cancel: scancel}
	var wg sync.WaitGroup
	wg.Add(1)
	go s.writer(&wg)
	stop := context.AfterFunc(ctx, s.close)
	p.mu.Lock()
	p.connected = true
	p.mu.Unlock()
	defer func() {
		stop()
		s.close()
		wg.Wait()
		p.detach(s)
	}()

	extend := func() { _ = conn.SetReadDeadline(time.Now().Add(readWait)) }
	extend()
	conn.SetPongHandler(func(string) error { extend(); return nil })
	conn.SetPingHandler(func(data string) error {
		extend()
		err := conn.WriteControl(websocket.PongMessage, []byte(data), time.Now().Add(writeWait))
		if errors.Is(err, websocket.ErrCloseSent) {
			return nil
		}
		return err
	})

	p.mu.Lock()
	hello := protocol.Hello{
		ProtocolVersion: protocol.Version,
		PlayerVersion:   p.cfg.Version,
		PublicKey:       p.pub,
		DisplayID:       p.ident.DisplayID,
	}
	if p.manifest != nil {
		hello.ManifestVersion = p.manifest.Version
	}
	p.mu.Unlock()
	s.send(protocol.TypeHello, hello)

	phase := phaseChallenge
	for {
		typ, frame, err := conn.ReadMessage()
		if err != nil {
			return authed, err
		}
		extend()
		if typ != websocket.TextMessage {
			s.sendError(protocol.CodeMalformed, "binary frames are not part of protocol v1", "")
			continue
		}
		env, err := protocol.Decode(frame)
		if err != nil {
			p.log.Warn("bad frame from server", "err", err)
			eb := protocol.ErrorFor(err, env.ID)
			s.send(protocol.TypeError, eb)
			continue
		}
		switch env.Type {
		case protocol.TypeAck:
			p.onAck(env)
			continue
		case protocol.TypeError:
			var eb protocol.ErrorBody
			_ = env.DecodeBody(&eb)
			p.log.Warn("server refused a message", "code", eb.Code, "message", eb.Message, "ref", eb.Ref)
			if phase < phaseReady && phase != phasePairing {
				return authed, fmt.Errorf("server error during handshake: %s: %s", eb.Code, eb.Message)
			}
			continue
		}
		switch {
		case env.Type == protocol.TypeChallenge && phase == phaseChallenge:
			var c protocol.Challenge
			if err := env.DecodeBody(&c); err != nil {
				s.send(protocol.TypeError, protocol.ErrorFor(err, env.ID))
				return authed, err
			}
			s.send(protocol.TypeAuth, protocol.SignAuth(p.priv, c.Nonce))
			phase = phaseAuth
		case env.Type == protocol.TypeAuthOK && phase == phaseAuth:
			var ok protocol.AuthOK
			if err := env.DecodeBody(&ok); err != nil || ok.DisplayID == "" || len(ok.ServerKey) != ed25519.PublicKeySize {
				s.sendError(protocol.CodeMalformed, "auth_ok needs display_id and a 32-byte server_key", env.ID)
				return authed, fmt.Errorf("bad auth_ok")
			}
			p.onAuthOK(ok)
			phase, authed = phaseReady, true
			p.attach(s, ok.Token)
			wg.Add(1)
			go s.heartbeats(&wg)
		case env.Type == protocol.TypePairing && (phase == phaseAuth || phase == phasePairing):
			var pr protocol.Pairing
			if err := env.DecodeBody(&pr); err != nil || pr.Code == "" {
				s.sendError(protocol.CodeMalformed, "pairing needs a code", env.ID)
				continue
			}
			p.onPairing(pr)
			phase = phasePairing
		case env.Type == protocol.TypePaired && phase == phasePairing:
			var pd protocol.Paired
			if err := env.DecodeBody(&pd); err != nil {
				s.send(protocol.TypeError, protocol.ErrorFor(err, env.ID))
				continue
			}
			if err := p.onPaired(pd); err != nil {
				s.sendError(protocol.CodeInternal, err.Error(), env.ID)
				return authed, err
			}
			phase, authed = phaseReady, true
			p.attach(s, pd.Token)
			wg.Add(1)
			go s.heartbeats(&wg)
		case env.Type == protocol.TypeManifest && phase == phaseReady:
			p.onManifest(s, env)
		default:
			s.sendError(protocol.CodeUnexpected, fmt.Sprintf("%s not expected now", env.Type), env.ID)
		}
	}
}

// attach makes s the session used for reports and downloads.
func (p *Player) attach(s *session, token string) {
	p.mu.Lock()
	p.sess = s
	p.token = token
	p.badFiles = map[string]bool{} // a new session retries files that failed
	pending := p.incidents
	p.incidents = nil
	p.mu.Unlock()
	for _, inc := range pending {
		s.send(protocol.TypeIncident, inc)
	}
	p.wakePlayback()
	p.kickDownloads()
	p.kickProof()
}

func (p *Player) detach(s *session) {
	p.mu.Lock()
	if p.sess == s {
		p.sess = nil
		p.token = ""
	}
	if p.proof.sess == s {
		p.proof = proofState{} // resent, with the same play IDs, on the next session
	}
	p.connected = false
	if p.ident.DisplayID != "" && p.pairingCode != "" {
		// A paired display that was asked to pair again goes back to
		// playing what it has while offline.
		p.pairingCode = ""
		p.wakePlayback()
	}
	p.mu.Unlock()
}

// report sends an incident now, or when the next session authenticates.
func (p *Player) report(inc protocol.Incident) {
	p.mu.Lock()
	s := p.sess
	if s == nil {
		if len(p.incidents) < 32 {
			p.incidents = append(p.incidents, inc)
		}
		p.mu.Unlock()
		return
	}
	p.mu.Unlock()
	s.send(protocol.TypeIncident, inc)
}

func (p *Player) onAuthOK(ok protocol.AuthOK) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.pairingCode = ""
	switch {
	case p.ident.DisplayID == "":
		// Known to the server but not paired locally (data lost): pin now.
		p.ident = identity{DisplayID: ok.DisplayID, Name: ok.Name, ServerKey: bytes.Clone(ok.ServerKey)}
		if err := p.saveIdentity(p.ident); err != nil {
			p.log.Error("save state", "err", err)
		}
		p.log.Info("pinned server key from auth_ok", "display_id", ok.DisplayID)
	case !bytes.Equal(p.ident.ServerKey, ok.ServerKey):
		p.keyMismatch = true
		p.log.Error("server key differs from the pinned key; new manifests will not be trusted")
		p.incidents = append(p.incidents, protocol.Incident{
			Kind:    protocol.IncidentBadSignature,
			Message: "server_key " + protocol.KeyID(ok.ServerKey) + " differs from pinned key " + protocol.KeyID(p.ident.ServerKey),
		})
	default:
		p.keyMismatch = false
		if ok.DisplayID != p.ident.DisplayID || ok.Name != p.ident.Name {
			if ok.DisplayID != p.ident.DisplayID {
				p.dropManifestLocked()
			}
			p.ident.DisplayID, p.ident.Name = ok.DisplayID, ok.Name
			if err := p.saveIdentity(p.ident); err != nil {
				p.log.Error("save state", "err", err)
			}
		}
	}
	p.wakePlayback()
}

func (p *Player) onPairing(pr protocol.Pairing) {
	p.mu.Lock()
	p.pairingCode = pr.Code
	p.mu.Unlock()
	p.log.Info("pairing", "code", pr.Code, "expires_at", pr.ExpiresAt)
	p.wakePlayback()
}

func (p *Player) onPaired(pd protocol.Paired) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	next := identity{DisplayID: pd.DisplayID, Name: pd.Name, ServerKey: bytes.Clone(pd.ServerKey)}
	if err := p.saveIdentity(next); err != nil {
		return fmt.Errorf("save state: %w", err)
	}
	if p.ident.DisplayID != next.DisplayID || !bytes.Equal(p.ident.ServerKey, next.ServerKey) {
		p.dropManifestLocked()
	}
	p.ident = next
	p.pairingCode = ""
	p.keyMismatch = false
	p.log.Info("paired", "display_id", pd.DisplayID, "name", pd.Name, "server_key", protocol.KeyID(pd.ServerKey))
	p.wakePlayback()
	return nil
}

// dropManifestLocked forgets the held manifest (it belongs to another
// display or key). Cached files stay until the next eviction.
func (p *Player) dropManifestLocked() {
	if p.manifest == nil {
		return
	}
	p.manifest = nil
	p.gen++
	p.removeManifestFile()
}

// onManifest verifies and applies a manifest message.
func (p *Player) onManifest(s *session, env protocol.Envelope) {
	reject := func(err error) {
		p.log.Error("manifest rejected", "err", err, "ref", env.ID)
		s.send(protocol.TypeIncident, protocol.Incident{Kind: protocol.IncidentBadSignature, Message: err.Error()})
		s.sendError(protocol.CodeBadSignature, err.Error(), env.ID)
	}
	var sm protocol.SignedManifest
	if err := env.DecodeBody(&sm); err != nil {
		reject(err)
		return
	}
	p.mu.Lock()
	key, displayID, keyChanged := p.ident.ServerKey, p.ident.DisplayID, p.keyMismatch
	var held int64
	if p.manifest != nil {
		held = p.manifest.Version
	}
	p.mu.Unlock()
	m, err := protocol.VerifyManifest(key, sm)
	if err != nil {
		if keyChanged {
			err = fmt.Errorf("%w (the server presents a key other than the pinned one)", err)
		}
		reject(err)
		return
	}
	if m.DisplayID != displayID {
		reject(fmt.Errorf("manifest is for display %q, this is %q", m.DisplayID, displayID))
		return
	}
	if m.Version <= held {
		s.send(protocol.TypeAck, protocol.Ack{Ref: env.ID, ManifestVersion: held})
		p.kickDownloads()
		return
	}
	if err := p.saveManifest(sm); err != nil {
		p.log.Error("save manifest", "err", err)
		s.sendError(protocol.CodeInternal, "cannot save manifest: "+err.Error(), env.ID)
		return
	}
	p.mu.Lock()
	if p.manifest != nil && p.manifest.Version >= m.Version { // raced with another session
		p.mu.Unlock()
		s.send(protocol.TypeAck, protocol.Ack{Ref: env.ID, ManifestVersion: m.Version})
		return
	}
	p.manifest = &m
	p.gen++
	p.badFiles = map[string]bool{}
	p.mu.Unlock()
	p.log.Info("manifest applied", "version", m.Version, "items", len(m.Playlist.Items), "files", len(m.Files))
	s.send(protocol.TypeAck, protocol.Ack{Ref: env.ID, ManifestVersion: m.Version})
	p.kickDownloads()
	p.wakePlayback()
}
