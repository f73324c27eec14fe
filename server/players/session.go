package players

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"sync"
	"time"

	"github.com/gofiber/contrib/websocket"

	"beacon/protocol"
	"beacon/server/store"
)

// session is one player connection: the handler goroutine reads, a writer
// goroutine writes from a bounded queue.
type session struct {
	hub  *Hub
	conn *websocket.Conn
	send chan []byte
	done chan struct{}
	once sync.Once

	pub         ed25519.PublicKey
	code        string
	codeExpires time.Time

	mu        sync.Mutex
	tokenHash string // of the display token issued to this session
	displayID string
	orgID     string
	st        Info
}

func newSession(h *Hub, c *websocket.Conn) *session {
	return &session{hub: h, conn: c, send: make(chan []byte, sendQueue), done: make(chan struct{})}
}

// close ends the session from any goroutine. On fasthttp, Close on a
// hijacked connection does nothing (the connection closes when the handler
// returns), so the reader is woken with a past deadline instead.
func (s *session) close() {
	s.once.Do(func() {
		close(s.done)
		_ = s.conn.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseGoingAway, ""), time.Now().Add(time.Second))
		_ = s.conn.SetReadDeadline(time.Now())
		_ = s.conn.Close()
	})
}

func (s *session) run() {
	defer s.hub.unregister(s)
	defer s.close()
	s.conn.SetReadLimit(protocol.MaxFrameSize)
	wrote := make(chan struct{})
	go func() {
		defer close(wrote)
		s.writer()
	}()
	if err := s.handshake(); err != nil {
		s.hub.log.Info("player handshake failed", "remote", s.conn.RemoteAddr().String(), "err", err)
		// Let the writer flush the error frame, then close politely.
		select {
		case s.send <- nil:
			select {
			case <-wrote:
			case <-time.After(writeTimeout):
			}
		default:
		}
		return
	}
	s.readLoop()
}

func (s *session) writer() {
	ping := time.NewTicker(pingEvery)
	defer ping.Stop()
	for {
		select {
		case <-s.done:
			return
		case frame := <-s.send:
			if frame == nil { // flush marker: everything before it is written
				_ = s.conn.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.ClosePolicyViolation, "handshake refused"), time.Now().Add(writeTimeout))
				return
			}
			_ = s.conn.SetWriteDeadline(time.Now().Add(writeTimeout))
			if err := s.conn.WriteMessage(websocket.TextMessage, frame); err != nil {
				s.close()
				return
			}
		case <-ping.C:
			if err := s.conn.WriteControl(websocket.PingMessage, nil, time.Now().Add(writeTimeout)); err != nil {
				s.close()
				return
			}
		}
	}
}

// sendFrame queues a frame; a player too slow to drain its queue is cut off
// (it reconnects and resyncs by manifest version).
func (s *session) sendFrame(frame []byte) {
	select {
	case s.send <- frame:
	case <-s.done:
	default:
		s.hub.log.Warn("player send queue full; closing session", "display", s.displayIDSafe())
		s.close()
	}
}

func (s *session) sendMsg(typ string, body any) string {
	env, err := protocol.New(typ, body)
	if err != nil {
		s.hub.log.Error("encode message", "type", typ, "err", err)
		return ""
	}
	frame, err := protocol.Marshal(env)
	if err != nil {
		s.hub.log.Error("encode message", "type", typ, "err", err)
		return ""
	}
	s.sendFrame(frame)
	return env.ID
}

func (s *session) sendError(code, msg, ref string) {
	s.sendMsg(protocol.TypeError, protocol.ErrorBody{Code: code, Message: msg, Ref: ref})
}

func (s *session) sendManifest(m store.SignedManifest) {
	if m.Version == 0 {
		return
	}
	s.sendMsg(protocol.TypeManifest, protocol.SignedManifest{Payload: m.Payload, Signature: m.Signature, KeyID: protocol.KeyID(s.hub.pubKey())})
	s.hub.pushed.Inc()
}

func (s *session) read(timeout time.Duration) (protocol.Envelope, error) {
	for {
		_ = s.conn.SetReadDeadline(time.Now().Add(timeout))
		// Checked after setting the deadline, so a concurrent close (which
		// sets a past deadline after closing done) always wins.
		select {
		case <-s.done:
			return protocol.Envelope{}, errClosed
		default:
		}
		mt, frame, err := s.conn.ReadMessage()
		if err != nil {
			return protocol.Envelope{}, err
		}
		if mt != websocket.TextMessage {
			s.sendError(protocol.CodeMalformed, "frames must be JSON text", "")
			continue
		}
		env, err := protocol.Decode(frame)
		if err != nil {
			s.sendError(protocol.ErrorFor(err, env.ID).Code, protocol.ErrorFor(err, env.ID).Message, env.ID)
			continue
		}
		return env, nil
	}
}

var (
	errHandshake = errors.New("handshake refused")
	errClosed    = errors.New("session closed")
)

func (s *session) handshake() error {
	env, err := s.read(handshakeTimeout)
	if err != nil {
		return err
	}
	if env.Type != protocol.TypeHello {
		s.sendError(protocol.CodeUnexpected, "the first message must be hello", env.ID)
		return errHandshake
	}
	var hello protocol.Hello
	if err := env.DecodeBody(&hello); err != nil {
		eb := protocol.ErrorFor(err, env.ID)
		s.sendError(eb.Code, eb.Message, env.ID)
		return errHandshake
	}
	s.pub = ed25519.PublicKey(hello.PublicKey)
	nonce := make([]byte, 32)
	_, _ = rand.Read(nonce)
	s.sendMsg(protocol.TypeChallenge, protocol.Challenge{Nonce: nonce, ServerKey: s.hub.pubKey(), ServerTime: s.hub.now()})

	env, err = s.read(handshakeTimeout)
	if err != nil {
		return err
	}
	var a protocol.Auth
	if env.Type != protocol.TypeAuth {
		s.sendError(protocol.CodeUnexpected, "expected auth", env.ID)
		return errHandshake
	}
	if err := env.DecodeBody(&a); err != nil {
		s.sendError(protocol.CodeMalformed, err.Error(), env.ID)
		return errHandshake
	}
	if err := protocol.VerifyAuth(s.pub, nonce, a); err != nil {
		s.sendError(protocol.CodeAuthFailed, "signature does not match the public key in hello", env.ID)
		return errHandshake
	}

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	d, err := s.hub.store.DisplayByKey(ctx, s.pub)
	switch {
	case errors.Is(err, store.ErrNotFound):
		code, exp := s.hub.addPending(s)
		s.sendMsg(protocol.TypePairing, protocol.Pairing{Code: code, ExpiresAt: exp})
		s.setState(protocol.StatePairing)
		return nil
	case err != nil:
		s.sendError(protocol.CodeInternal, "server error; retry later", env.ID)
		return err
	}
	token, err := s.hub.newToken(ctx, s, d.ID)
	if err != nil {
		s.sendError(protocol.CodeInternal, "server error; retry later", env.ID)
		return err
	}
	s.becomeDisplay(d.ID)
	if !s.hub.register(s) {
		return errHandshake
	}
	s.orgID = d.OrgID
	m, err := s.hub.store.DisplayManifest(ctx, d.ID)
	if err != nil {
		return err
	}
	s.sendMsg(protocol.TypeAuthOK, protocol.AuthOK{DisplayID: d.ID, Name: d.Name, Token: token, ServerKey: s.hub.pubKey(), ManifestVersion: m.Version})
	if m.Version > hello.ManifestVersion {
		s.sendManifest(m)
	}
	s.hub.log.Info("player connected", "display", d.ID, "remote", s.conn.RemoteAddr().String(), "held_version", hello.ManifestVersion, "server_version", m.Version)
	return nil
}

// becomeDisplay turns a pairing session into a display's session.
func (s *session) becomeDisplay(id string) {
	s.mu.Lock()
	first := s.displayID == ""
	s.displayID = id
	s.mu.Unlock()
	if first && s.code != "" {
		s.hub.register(s)
	}
}

func (s *session) displayIDSafe() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.displayID
}

func (s *session) setState(state string) {
	s.mu.Lock()
	s.st.State = state
	s.mu.Unlock()
}

func (s *session) info() Info {
	s.mu.Lock()
	defer s.mu.Unlock()
	in := s.st
	in.Online = true
	return in
}

func (s *session) readLoop() {
	s.conn.SetPongHandler(func(string) error {
		select {
		case <-s.done:
			return errClosed
		default:
			return s.conn.SetReadDeadline(time.Now().Add(readTimeout))
		}
	})
	for {
		env, err := s.read(readTimeout)
		if err != nil {
			if !errors.Is(err, context.Canceled) {
				s.hub.log.Debug("player disconnected", "display", s.displayIDSafe(), "err", err)
			}
			return
		}
		s.handle(env)
	}
}

func (s *session) handle(env protocol.Envelope) {
	displayID := s.displayIDSafe()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	now := s.hub.now()
	switch env.Type {
	case protocol.TypeHeartbeat:
		var hb protocol.Heartbeat
		if err := env.DecodeBody(&hb); err != nil {
			s.sendError(protocol.CodeMalformed, err.Error(), env.ID)
			return
		}
		s.mu.Lock()
		s.st.State, s.st.NowPlaying, s.st.LastSeen, s.st.Missing = hb.State, hb.NowPlaying, now, hb.Cache.Missing
		s.mu.Unlock()
		if displayID == "" {
			return
		}
		if err := s.hub.store.UpdateDisplayStatus(ctx, displayID, store.DisplayStatus{State: hb.State, NowPlaying: marshalNowPlaying(hb.NowPlaying), SeenAt: now}); err != nil {
			s.hub.log.Warn("record heartbeat", "display", displayID, "err", err)
		}
	case protocol.TypeAck:
		var ack protocol.Ack
		if err := env.DecodeBody(&ack); err != nil {
			s.sendError(protocol.CodeMalformed, err.Error(), env.ID)
			return
		}
		if displayID != "" && ack.ManifestVersion > 0 {
			_ = s.hub.store.UpdateDisplayStatus(ctx, displayID, store.DisplayStatus{AckedVersion: ack.ManifestVersion, SeenAt: now})
		}
	case protocol.TypeFileList:
		var fl protocol.FileList
		if err := env.DecodeBody(&fl); err != nil {
			s.sendError(protocol.CodeMalformed, err.Error(), env.ID)
			return
		}
		s.mu.Lock()
		s.st.Missing = len(fl.Missing)
		s.mu.Unlock()
	case protocol.TypeIncident:
		var in protocol.Incident
		if err := env.DecodeBody(&in); err != nil {
			s.sendError(protocol.CodeMalformed, err.Error(), env.ID)
			return
		}
		s.hub.incidents.WithLabelValues(in.Kind).Inc()
		s.hub.log.Warn("SECURITY INCIDENT reported by player", "display", displayID, "kind", in.Kind, "message", in.Message, "sha256", in.SHA256)
		if displayID != "" {
			if _, err := s.hub.store.CreateIncident(ctx, store.Incident{OrgID: s.orgIDFor(ctx, displayID), DisplayID: displayID, Kind: in.Kind, Message: in.Message, SHA256: in.SHA256, ManifestVersion: in.ManifestVersion}); err != nil {
				s.hub.log.Error("record incident", "err", err)
			}
		}
	case protocol.TypeProofOfPlay:
		var pop protocol.ProofOfPlay
		if err := env.DecodeBody(&pop); err != nil {
			s.sendError(protocol.CodeMalformed, err.Error(), env.ID)
			return
		}
		if displayID == "" {
			s.sendError(protocol.CodeUnexpected, "pair before sending proof of play", env.ID)
			return
		}
		org := s.orgIDFor(ctx, displayID)
		plays := make([]store.Play, 0, len(pop.Records))
		for _, r := range pop.Records {
			plays = append(plays, store.Play{DisplayID: displayID, RecordID: r.ID, OrgID: org, Zone: r.Zone, ItemID: r.ItemID,
				SHA256: r.SHA256, ScheduleID: r.ScheduleID, Start: r.Start, End: r.End})
		}
		if _, err := s.hub.store.AddPlays(ctx, plays); err != nil {
			s.hub.log.Error("store proof of play", "display", displayID, "err", err)
			s.sendError(protocol.CodeInternal, "could not store proof of play; send it again later", env.ID)
			return
		}
		// Only now may the player drop these records from its journal.
		s.sendMsg(protocol.TypeAck, protocol.Ack{Ref: env.ID})
	case protocol.TypeError:
		var e protocol.ErrorBody
		_ = env.DecodeBody(&e)
		s.hub.log.Warn("player reported an error", "display", displayID, "code", e.Code, "message", e.Message, "ref", e.Ref)
	default:
		s.sendError(protocol.CodeUnexpected, "a player may not send "+env.Type+" now", env.ID)
	}
}

func (s *session) orgIDFor(ctx context.Context, displayID string) string {
	if s.orgID != "" {
		return s.orgID
	}
	d, err := s.hub.store.DisplayByID(ctx, displayID)
	if err != nil {
		return ""
	}
	s.orgID = d.OrgID
	return d.OrgID
}
