package player

import (
	"bytes"
	"context"
	"crypto/ed25519"
	crand "crypto/rand"
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
	unpairGrace   = 5 * time.Second // after an acknowledged unpair, for the server to close or send pairing
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
		TLSClientConfig:  p.tls,
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

	helloNonce := make([]byte, protocol.NonceSize)
	if _, err := crand.Read(helloNonce); err != nil {
		return false, fmt.Errorf("hello nonce: %w", err)
	}
	p.mu.Lock()
	hello := protocol.Hello{
		ProtocolVersion: protocol.Version,
		PlayerVersion:   p.cfg.Version,
		PublicKey:       p.pub,
		DisplayID:       p.ident.DisplayID,
		Nonce:           helloNonce,
		Capabilities:    []string{protocol.CapOverride},
	}
	if p.manifest != nil {
		hello.ManifestVersion = p.manifest.Version
	}
	p.mu.Unlock()
	s.send(protocol.TypeHello, hello)

	phase := phaseChallenge
	var grace *time.Timer // after an unpair: how long the server has to close or send pairing
	defer func() {
		if grace != nil {
			grace.Stop()
		}
	}()
	var challengeKey []byte // server_key of the challenge this session answered
	beating := false        // heartbeats run from pairing or auth_ok on (§4, §5)
	heartbeats := func() {
		if !beating {
			beating = true
			wg.Add(1)
			go s.heartbeats(&wg)
		}
	}
	for {
		typ, frame, err := conn.ReadMessage()
		if err != nil {
			return authed, err
		}
		extend()
		if typ != websocket.TextMessage {
			// §2: a binary frame closes the connection with 1003.
			_ = conn.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseUnsupportedData, "frames must be JSON text"), time.Now().Add(time.Second))
			return authed, errors.New("server sent a binary frame; closed with 1003")
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
			var a protocol.Ack
			if env.DecodeBody(&a) == nil && a.Ref != "" {
				p.onIncidentAck(a.Ref)
			}
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
		pinned := p.pinnedKey()
		switch {
		case (env.Type == protocol.TypePairing || env.Type == protocol.TypePaired) && pinned != nil:
			// A paired player never pairs again: only a verified unpair or
			// a local reset returns it to pairing.
			return authed, p.refuseServer(s, env.ID, protocol.IncidentUnexpectedPairing,
				fmt.Errorf("server offered %s although this player is paired (pinned key %s); refused", env.Type, protocol.KeyID(pinned)))
		case env.Type == protocol.TypeChallenge && phase == phaseChallenge:
			var c protocol.Challenge
			if err := env.DecodeBody(&c); err != nil {
				s.send(protocol.TypeError, protocol.ErrorFor(err, env.ID))
				return authed, err
			}
			if pinned != nil {
				// Before signing anything: the server must prove it holds
				// the pinned key, for this player and this session.
				if err := protocol.VerifyChallenge(pinned, p.pub, helloNonce, c); err != nil {
					return authed, p.refuseServer(s, env.ID, protocol.IncidentServerKeyMismatch, fmt.Errorf("challenge refused, nothing signed: %w", err))
				}
			}
			challengeKey = bytes.Clone(c.ServerKey)
			s.send(protocol.TypeAuth, protocol.SignAuth(p.priv, c))
			phase = phaseAuth
		case env.Type == protocol.TypeAuthOK && phase == phaseAuth:
			var ok protocol.AuthOK
			if err := env.DecodeBody(&ok); err != nil || ok.DisplayID == "" || len(ok.ServerKey) != ed25519.PublicKeySize {
				s.sendError(protocol.CodeMalformed, "auth_ok needs display_id and a 32-byte server_key", env.ID)
				return authed, fmt.Errorf("bad auth_ok")
			}
			if !bytes.Equal(ok.ServerKey, challengeKey) || (pinned != nil && !bytes.Equal(ok.ServerKey, pinned)) {
				return authed, p.refuseServer(s, env.ID, protocol.IncidentServerKeyMismatch,
					fmt.Errorf("auth_ok names server key %s, not the key of its challenge or the pinned key", protocol.KeyID(ok.ServerKey)))
			}
			p.onAuthOK(ok)
			phase, authed = phaseReady, true
			p.attach(s, ok.Token)
			heartbeats()
		case env.Type == protocol.TypeUnpair && (phase == phaseAuth || phase == phaseReady):
			var u protocol.Unpair
			if err := env.DecodeBody(&u); err != nil {
				s.send(protocol.TypeError, protocol.ErrorFor(err, env.ID))
				continue
			}
			if pinned == nil {
				s.sendError(protocol.CodeUnexpected, "unpair: this player is not paired", env.ID)
				continue
			}
			if err := p.onUnpair(u, helloNonce); err != nil {
				p.log.Error("unpair refused", "err", err)
				p.report(protocol.Incident{Kind: protocol.IncidentBadSignature, Message: "unpair refused: " + err.Error()})
				s.sendError(protocol.CodeBadSignature, err.Error(), env.ID)
				continue
			}
			s.send(protocol.TypeAck, protocol.Ack{Ref: env.ID})
			if phase == phaseReady {
				// This session belonged to the deleted display. The server
				// closes it (the reference server does, after the ack has
				// been read) or sends pairing on it; one that does neither
				// within unpairGrace is left, and the player reconnects to
				// pair. Returning at once could drop the queued ack.
				phase = phaseAuth
				if grace == nil {
					grace = time.AfterFunc(unpairGrace, s.close)
				}
			}
		case env.Type == protocol.TypePairing && (phase == phaseAuth || phase == phasePairing):
			if grace != nil {
				grace.Stop()
			}
			var pr protocol.Pairing
			if err := env.DecodeBody(&pr); err != nil || pr.Code == "" {
				s.sendError(protocol.CodeMalformed, "pairing needs a code", env.ID)
				continue
			}
			p.onPairing(pr)
			phase = phasePairing
			heartbeats()
		case env.Type == protocol.TypePaired && phase == phasePairing:
			var pd protocol.Paired
			if err := env.DecodeBody(&pd); err != nil {
				s.send(protocol.TypeError, protocol.ErrorFor(err, env.ID))
				continue
			}
			if !bytes.Equal(pd.ServerKey, challengeKey) {
				s.sendError(protocol.CodeAuthFailed, "paired names a server key other than the challenge's", env.ID)
				return authed, errors.New("paired: server key differs from the challenge's")
			}
			if err := p.onPaired(pd); err != nil {
				s.sendError(protocol.CodeInternal, err.Error(), env.ID)
				return authed, err
			}
			phase, authed = phaseReady, true
			p.attach(s, pd.Token)
			heartbeats()
		case env.Type == protocol.TypeManifest && phase == phaseReady:
			p.onManifest(s, env)
		case env.Type == protocol.TypeOverride && phase == phaseReady:
			p.onOverride(s, env)
		case env.Type == protocol.TypeOverrideCancel && phase == phaseReady:
			p.onOverrideCancel(s, env)
		default:
			s.sendError(protocol.CodeUnexpected, fmt.Sprintf("%s not expected now", env.Type), env.ID)
		}
	}
}

// pinnedKey returns the pinned server key, or nil while unpaired.
func (p *Player) pinnedKey() ed25519.PublicKey {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ident.DisplayID == "" {
		return nil
	}
	return bytes.Clone(p.ident.ServerKey)
}

// refuseServer ends a session with a server that did not prove it is the
// pinned one (or tried to pair a paired player). Nothing of the player's
// state changes: it keeps its pinned key, manifest and cache and goes on
// playing them. The attempt is logged, shown in Status and kept as an
// incident for the pinned server.
func (p *Player) refuseServer(s *session, ref, kind string, err error) error {
	p.log.Error("SECURITY: refusing server", "kind", kind, "server", p.serverURL.String(), "err", err)
	p.mu.Lock()
	p.lastRefusal = p.now().UTC().Format(time.RFC3339) + " " + kind + ": " + err.Error()
	p.mu.Unlock()
	p.report(protocol.Incident{Kind: kind, Message: err.Error()})
	s.sendError(protocol.CodeAuthFailed, "this player is paired with another server", ref)
	return err
}

// onUnpair checks an unpair with the pinned key, for this display, this
// player key and this session's hello nonce, and returns to pairing.
func (p *Player) onUnpair(u protocol.Unpair, helloNonce []byte) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ident.DisplayID == "" {
		return errors.New("not paired")
	}
	if err := protocol.VerifyUnpair(p.ident.ServerKey, p.ident.DisplayID, p.pub, helloNonce, u); err != nil {
		return err
	}
	p.log.Warn("unpaired by the server: the display was deleted; showing a pairing code next",
		"display_id", p.ident.DisplayID, "issued_at", u.IssuedAt)
	p.forgetPairingLocked()
	p.wakePlayback()
	return nil
}

// attach makes s the session used for reports and downloads.
func (p *Player) attach(s *session, token string) {
	p.mu.Lock()
	p.sess = s
	p.token = token
	p.badFiles = map[string]bool{} // a new session retries files that failed
	p.mu.Unlock()
	p.sendIncidents(s)
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
	p.mu.Unlock()
}

func (p *Player) onAuthOK(ok protocol.AuthOK) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.pairingCode = ""
	switch {
	case p.ident.DisplayID == "":
		// Known to the server but not paired locally (reset or data lost):
		// pin now.
		p.ident = identity{DisplayID: ok.DisplayID, Name: ok.Name, ServerKey: bytes.Clone(ok.ServerKey), OrgID: ok.OrgID}
		if err := p.saveIdentity(p.ident); err != nil {
			p.log.Error("save state", "err", err)
		}
		p.log.Info("pinned server key from auth_ok", "display_id", ok.DisplayID, "server_key", protocol.KeyID(ok.ServerKey))
	case ok.DisplayID != p.ident.DisplayID || ok.Name != p.ident.Name || (ok.OrgID != "" && ok.OrgID != p.ident.OrgID):
		// The pinned server (checked before) renamed or renumbered us.
		if ok.DisplayID != p.ident.DisplayID {
			p.dropManifestLocked()
		}
		p.ident.DisplayID, p.ident.Name = ok.DisplayID, ok.Name
		if ok.OrgID != "" {
			p.ident.OrgID = ok.OrgID // a state from before org_id learns it here
		}
		if err := p.saveIdentity(p.ident); err != nil {
			p.log.Error("save state", "err", err)
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
	next := identity{DisplayID: pd.DisplayID, Name: pd.Name, ServerKey: bytes.Clone(pd.ServerKey), OrgID: pd.OrgID}
	if err := p.saveIdentity(next); err != nil {
		return fmt.Errorf("save state: %w", err)
	}
	if p.ident.DisplayID != next.DisplayID || !bytes.Equal(p.ident.ServerKey, next.ServerKey) {
		p.dropManifestLocked()
	}
	p.ident = next
	p.pairingCode = ""
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

// onManifest verifies and applies a manifest message. The answers are
// those of docs/protocol.md §7: malformed for a body of the wrong shape
// (bad base64, a signature that is not 64 bytes) or a verified payload
// that fails its checks; bad_signature with an incident when the
// signature does not verify with the pinned key; unexpected_message for
// another display's manifest; stale_manifest for a version not above the
// held one.
func (p *Player) onManifest(s *session, env protocol.Envelope) {
	refuse := func(code string, err error) {
		p.log.Error("manifest rejected", "code", code, "err", err, "ref", env.ID)
		if code == protocol.CodeBadSignature {
			p.report(protocol.Incident{Kind: protocol.IncidentBadSignature, Message: err.Error()})
		}
		s.sendError(code, err.Error(), env.ID)
	}
	var sm protocol.SignedManifest
	if err := env.DecodeBody(&sm); err != nil {
		refuse(protocol.CodeMalformed, err)
		return
	}
	p.mu.Lock()
	key, displayID := p.ident.ServerKey, p.ident.DisplayID
	var held int64
	if p.manifest != nil {
		held = p.manifest.Version
	}
	p.mu.Unlock()
	m, err := protocol.VerifyManifest(key, sm)
	if err != nil {
		code := protocol.CodeBadSignature
		if errors.Is(err, protocol.ErrMalformed) {
			code = protocol.CodeMalformed
		}
		refuse(code, err)
		return
	}
	if m.DisplayID != displayID {
		refuse(protocol.CodeUnexpected, fmt.Errorf("manifest is for display %q, this is %q", m.DisplayID, displayID))
		return
	}
	if m.Version <= held {
		// §7 step 4: not applied; the held manifest stays.
		s.sendError(protocol.CodeStaleManifest, fmt.Sprintf("manifest version %d is not newer than the held version %d", m.Version, held), env.ID)
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
	p.log.Info("manifest applied", "version", m.Version, "files", len(m.Files))
	s.send(protocol.TypeAck, protocol.Ack{Ref: env.ID, ManifestVersion: m.Version})
	p.kickDownloads()
	p.wakePlayback()
}
