// Package fakeserver is a small stand-in for beacon serve's player side,
// used by the player's tests. It speaks protocol v1: challenge and auth,
// pairing, signed (and deliberately tampered) manifests, and file downloads
// with Range and a bearer token. It records every frame the player sends
// and the bytes it served, stores proof-of-play records (each ID once) and
// acknowledges them, unless told to withhold the acks.
package fakeserver

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/websocket"

	"beacon/protocol"
)

// Server is a fake Beacon server.
type Server struct {
	Key ed25519.PrivateKey // manifest-signing key
	Pub ed25519.PublicKey
	// OrgID is the organisation named in auth_ok and paired (default
	// DefaultOrg; "" sends none, as a server of before overrides).
	OrgID string
	HTTP  *httptest.Server
	URL   string // base URL, http://127.0.0.1:port

	mu          sync.Mutex
	displays    map[string]display  // by hex public key
	pending     map[string]*session // pairing code → session
	tokens      map[string]bool
	files       map[string][]byte // sha → bytes to serve
	served      map[string]int64  // sha → body bytes written
	requests    map[string]int    // sha → GET requests
	ranges      []string          // Range headers seen
	received    []protocol.Envelope
	sessions    []*session
	connections int
	plays       []protocol.PlayRecord // proof of play, each ID once, in arrival order
	playIDs     map[string]bool
	resent      int           // records received again after they were stored
	holdAcks    bool          // withhold proof_of_play acks
	changed     chan struct{} // closed and replaced whenever something is recorded
	closed      bool
}

type display struct {
	ID   string
	Name string
}

type session struct {
	srv       *Server
	conn      *websocket.Conn
	wmu       sync.Mutex
	pub       ed25519.PublicKey
	nonce     []byte // the player's hello nonce
	displayID string
	authed    bool
}

// DefaultOrg is the organisation of the fake server's displays.
const DefaultOrg = "org-1"

// New starts a fake server with a fresh signing key.
func New() *Server {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		panic(err)
	}
	return NewWithKey(priv)
}

// NewWithKey starts a fake server that signs with priv (the golden
// server seed, for tests that replay protocol/testdata frames).
func NewWithKey(priv ed25519.PrivateKey) *Server {
	pub := priv.Public().(ed25519.PublicKey)
	s := &Server{
		Key:      priv,
		Pub:      pub,
		OrgID:    DefaultOrg,
		displays: map[string]display{},
		pending:  map[string]*session{},
		tokens:   map[string]bool{},
		files:    map[string][]byte{},
		served:   map[string]int64{},
		requests: map[string]int{},
		playIDs:  map[string]bool{},
		changed:  make(chan struct{}),
	}
	mux := http.NewServeMux()
	mux.HandleFunc(protocol.WSPath, s.handleWS)
	mux.HandleFunc("GET /player/v1/files/{sha}", s.handleFile)
	s.HTTP = httptest.NewServer(mux)
	s.URL = s.HTTP.URL
	return s
}

// Close stops the server and drops every connection.
func (s *Server) Close() {
	s.mu.Lock()
	s.closed = true
	sessions := append([]*session(nil), s.sessions...)
	s.mu.Unlock()
	for _, ss := range sessions {
		ss.conn.Close()
	}
	s.HTTP.CloseClientConnections()
	s.HTTP.Close()
}

// AddFile makes data downloadable and returns its manifest entry.
func (s *Server) AddFile(data []byte, contentType string) protocol.File {
	sum := sha256.Sum256(data)
	sha := hex.EncodeToString(sum[:])
	s.mu.Lock()
	s.files[sha] = data
	s.mu.Unlock()
	return protocol.File{
		SHA256: sha, Size: int64(len(data)), URL: "/player/v1/files/" + sha,
		Profile: "image", ContentType: contentType,
	}
}

// ServeWrongBytes makes the server answer requests for sha with data
// (which does not hash to sha).
func (s *Server) ServeWrongBytes(sha string, data []byte) {
	s.mu.Lock()
	s.files[sha] = data
	s.mu.Unlock()
}

// Served returns the body bytes served for sha and how many GETs asked for it.
func (s *Server) Served(sha string) (bytes int64, requests int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.served[sha], s.requests[sha]
}

// Ranges returns every Range header the file handler saw.
func (s *Server) Ranges() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.ranges...)
}

// Connections returns how many WebSocket connections the server accepted.
func (s *Server) Connections() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.connections
}

// Received returns the frames of type typ the player sent (all if typ is "").
func (s *Server) Received(typ string) []protocol.Envelope {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []protocol.Envelope
	for _, e := range s.received {
		if typ == "" || e.Type == typ {
			out = append(out, e)
		}
	}
	return out
}

// WaitFor waits until the player has sent a frame of type typ (any type
// if typ is "") for which match (if not nil) returns true, and returns it.
func (s *Server) WaitFor(ctx context.Context, typ string, match func(protocol.Envelope) bool) (protocol.Envelope, error) {
	seen := 0
	for {
		s.mu.Lock()
		ch := s.changed
		recv := s.received[seen:]
		seen = len(s.received)
		s.mu.Unlock()
		for _, e := range recv {
			if (typ == "" || e.Type == typ) && (match == nil || match(e)) {
				return e, nil
			}
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return protocol.Envelope{}, fmt.Errorf("fakeserver: waiting for %s: %w", typ, ctx.Err())
		}
	}
}

// HoldProofAcks makes the server store proof_of_play records but not
// acknowledge them (hold = true), or acknowledge them again (false).
func (s *Server) HoldProofAcks(hold bool) {
	s.mu.Lock()
	s.holdAcks = hold
	s.mu.Unlock()
}

// Plays returns the proof-of-play records received, each ID once, in the
// order they first arrived.
func (s *Server) Plays() []protocol.PlayRecord {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]protocol.PlayRecord(nil), s.plays...)
}

// Resent returns how many received records carried an ID already stored.
func (s *Server) Resent() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.resent
}

// WaitPlays waits until cond holds for the stored plays.
func (s *Server) WaitPlays(ctx context.Context, cond func([]protocol.PlayRecord) bool) ([]protocol.PlayRecord, error) {
	for {
		s.mu.Lock()
		ch := s.changed
		plays := append([]protocol.PlayRecord(nil), s.plays...)
		s.mu.Unlock()
		if cond(plays) {
			return plays, nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return plays, fmt.Errorf("fakeserver: waiting for plays: %w", ctx.Err())
		}
	}
}

// DropConnections closes every player connection; players reconnect.
func (s *Server) DropConnections() {
	s.mu.Lock()
	sessions := append([]*session(nil), s.sessions...)
	s.mu.Unlock()
	for _, ss := range sessions {
		ss.conn.Close()
	}
}

// PairingCode waits for a player to be shown a pairing code and returns it.
func (s *Server) PairingCode(ctx context.Context) (string, error) {
	for {
		s.mu.Lock()
		ch := s.changed
		for code := range s.pending {
			s.mu.Unlock()
			return code, nil
		}
		s.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return "", ctx.Err()
		}
	}
}

// Claim pairs the player showing code with a new display and sends it
// paired. It returns the display id.
func (s *Server) Claim(code, displayID, name string) error {
	s.mu.Lock()
	ss, ok := s.pending[code]
	if !ok {
		s.mu.Unlock()
		return fmt.Errorf("fakeserver: no player shows code %q", code)
	}
	delete(s.pending, code)
	s.displays[hex.EncodeToString(ss.pub)] = display{ID: displayID, Name: name}
	token := s.newTokenLocked()
	ss.displayID = displayID
	ss.authed = true
	org := s.OrgID
	s.mu.Unlock()
	return ss.send(protocol.TypePaired, protocol.Paired{DisplayID: displayID, Name: name, Token: token, ServerKey: s.Pub, OrgID: org})
}

// Register makes a player key a known display, as if paired earlier.
func (s *Server) Register(pub ed25519.PublicKey, displayID, name string) {
	s.mu.Lock()
	s.displays[hex.EncodeToString(pub)] = display{ID: displayID, Name: name}
	s.mu.Unlock()
}

// Sign signs a manifest with the server key.
func (s *Server) Sign(m protocol.Manifest) protocol.SignedManifest {
	sm, err := protocol.SignManifest(s.Key, m)
	if err != nil {
		panic(err)
	}
	return sm
}

// SendManifest signs m and sends it to every authenticated session of its
// display. It returns the envelope id.
func (s *Server) SendManifest(m protocol.Manifest) (string, error) {
	return s.SendSigned(m.DisplayID, s.Sign(m))
}

// SendSigned sends a signed manifest (possibly tampered) to displayID.
func (s *Server) SendSigned(displayID string, sm protocol.SignedManifest) (string, error) {
	env, err := protocol.New(protocol.TypeManifest, sm)
	if err != nil {
		return "", err
	}
	frame, err := protocol.Marshal(env)
	if err != nil {
		return "", err
	}
	return env.ID, s.SendRaw(displayID, frame)
}

// SendRaw writes a raw text frame to every authenticated session of displayID.
func (s *Server) SendRaw(displayID string, frame []byte) error {
	targets, err := s.sessionsOf(displayID)
	if err != nil {
		return err
	}
	var firstErr error
	for _, ss := range targets {
		if err := ss.write(frame); err != nil && firstErr == nil {
			firstErr = err
		}
	}
	return firstErr
}

// SignOverride signs an override spec with signer (the server key for a
// genuine one).
func SignOverride(signer ed25519.PrivateKey, o protocol.OverrideSpec) protocol.SignedOverride {
	so, err := protocol.SignOverride(signer, o)
	if err != nil {
		panic(err)
	}
	return so
}

// SendOverride signs o with the server key and sends it to displayID's
// sessions. It returns the envelope id.
func (s *Server) SendOverride(displayID string, o protocol.OverrideSpec) (string, error) {
	return s.SendSignedOverride(displayID, SignOverride(s.Key, o))
}

// SendSignedOverride sends a signed override (possibly tampered, or signed
// by another key) to displayID.
func (s *Server) SendSignedOverride(displayID string, so protocol.SignedOverride) (string, error) {
	return s.sendBody(displayID, protocol.TypeOverride, so)
}

// SendCancel signs a cancel of override id for orgID with signer and
// sends it to displayID.
func (s *Server) SendCancel(displayID string, signer ed25519.PrivateKey, id, orgID string, at time.Time) (string, error) {
	return s.sendBody(displayID, protocol.TypeOverrideCancel, protocol.SignCancel(signer, id, orgID, at))
}

func (s *Server) sendBody(displayID, typ string, body any) (string, error) {
	env, err := protocol.New(typ, body)
	if err != nil {
		return "", err
	}
	frame, err := protocol.Marshal(env)
	if err != nil {
		return "", err
	}
	return env.ID, s.SendRaw(displayID, frame)
}

// OverrideAcks returns the override_ack bodies received for override id
// (all if id is ""), in arrival order.
func (s *Server) OverrideAcks(id string) []protocol.OverrideAck {
	var out []protocol.OverrideAck
	for _, e := range s.Received(protocol.TypeOverrideAck) {
		var a protocol.OverrideAck
		if json.Unmarshal(e.Body, &a) == nil && (id == "" || a.ID == id) {
			out = append(out, a)
		}
	}
	return out
}

// WaitOverrideAck waits for an override_ack of override id in state.
func (s *Server) WaitOverrideAck(ctx context.Context, id, state string) (protocol.OverrideAck, error) {
	e, err := s.WaitFor(ctx, protocol.TypeOverrideAck, func(e protocol.Envelope) bool {
		var a protocol.OverrideAck
		return json.Unmarshal(e.Body, &a) == nil && a.ID == id && a.State == state
	})
	if err != nil {
		return protocol.OverrideAck{}, err
	}
	var a protocol.OverrideAck
	_ = json.Unmarshal(e.Body, &a)
	return a, nil
}

// TamperOverride returns a copy of so with one payload byte flipped.
func TamperOverride(so protocol.SignedOverride) protocol.SignedOverride {
	p := bytes.Clone(so.Payload)
	i := bytes.Index(p, []byte(`"texts":{`))
	if i < 0 {
		i = len(p) / 2
	} else {
		i += len(`"texts":{"xx":"`)
	}
	p[i] ^= 0x01
	return protocol.SignedOverride{Payload: p, Signature: bytes.Clone(so.Signature), KeyID: so.KeyID}
}

// sessionsOf lists displayID's authenticated sessions.
func (s *Server) sessionsOf(displayID string) ([]*session, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var targets []*session
	for _, ss := range s.sessions {
		if ss.authed && ss.displayID == displayID {
			targets = append(targets, ss)
		}
	}
	if len(targets) == 0 {
		return nil, errors.New("fakeserver: display not connected")
	}
	return targets, nil
}

// SendUnpair sends displayID's sessions an unpair signed by signer (the
// server's key for a genuine one), bound to each session's hello nonce.
func (s *Server) SendUnpair(displayID string, signer ed25519.PrivateKey) error {
	targets, err := s.sessionsOf(displayID)
	if err != nil {
		return err
	}
	for _, ss := range targets {
		s.mu.Lock()
		pub, nonce := ss.pub, ss.nonce
		s.mu.Unlock()
		if err := ss.send(protocol.TypeUnpair, protocol.SignUnpair(signer, displayID, pub, nonce, time.Now())); err != nil {
			return err
		}
	}
	return nil
}

// Forget makes the server forget a player key (its display was deleted).
func (s *Server) Forget(pub ed25519.PublicKey) {
	s.mu.Lock()
	delete(s.displays, hex.EncodeToString(pub))
	s.mu.Unlock()
}

// Tamper returns a copy of sm with one payload byte flipped.
func Tamper(sm protocol.SignedManifest) protocol.SignedManifest {
	p := bytes.Clone(sm.Payload)
	// Flip a byte inside a string value so the JSON stays valid-looking.
	i := bytes.Index(p, []byte(`"name":"`))
	if i < 0 {
		i = len(p) / 2
	} else {
		i += len(`"name":"`)
	}
	p[i] ^= 0x01
	return protocol.SignedManifest{Payload: p, Signature: bytes.Clone(sm.Signature), KeyID: sm.KeyID}
}

func (s *Server) newTokenLocked() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	t := hex.EncodeToString(b[:])
	s.tokens[t] = true
	return t
}

// notifyLocked wakes waiters; call with s.mu held.
func (s *Server) notifyLocked() {
	close(s.changed)
	s.changed = make(chan struct{})
}

func (s *Server) record(e protocol.Envelope) {
	s.mu.Lock()
	s.received = append(s.received, e)
	s.notifyLocked()
	s.mu.Unlock()
}

var upgrader = websocket.Upgrader{Subprotocols: []string{protocol.Subprotocol}}

func (s *Server) handleWS(w http.ResponseWriter, r *http.Request) {
	conn, err := upgrader.Upgrade(w, r, nil)
	if err != nil {
		return
	}
	conn.SetReadLimit(protocol.MaxFrameSize)
	ss := &session{srv: s, conn: conn}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		conn.Close()
		return
	}
	s.sessions = append(s.sessions, ss)
	s.connections++
	s.notifyLocked()
	s.mu.Unlock()
	defer func() {
		conn.Close()
		s.mu.Lock()
		for i, x := range s.sessions {
			if x == ss {
				s.sessions = append(s.sessions[:i], s.sessions[i+1:]...)
				break
			}
		}
		for code, x := range s.pending {
			if x == ss {
				delete(s.pending, code)
			}
		}
		s.notifyLocked()
		s.mu.Unlock()
	}()
	ss.run()
}

func (ss *session) write(frame []byte) error {
	ss.wmu.Lock()
	defer ss.wmu.Unlock()
	_ = ss.conn.SetWriteDeadline(time.Now().Add(5 * time.Second))
	return ss.conn.WriteMessage(websocket.TextMessage, frame)
}

func (ss *session) send(typ string, body any) error {
	frame, err := protocol.Encode(typ, body)
	if err != nil {
		return err
	}
	return ss.write(frame)
}

func (ss *session) run() {
	s := ss.srv
	var ch *protocol.Challenge
	for {
		_, frame, err := ss.conn.ReadMessage()
		if err != nil {
			return
		}
		env, err := protocol.Decode(frame)
		if err != nil {
			_ = ss.send(protocol.TypeError, protocol.ErrorFor(err, env.ID))
			continue
		}
		s.record(env)
		switch env.Type {
		case protocol.TypeHello:
			var h protocol.Hello
			if err := env.DecodeBody(&h); err != nil {
				_ = ss.send(protocol.TypeError, protocol.ErrorFor(err, env.ID))
				return
			}
			s.mu.Lock()
			ss.pub = ed25519.PublicKey(h.PublicKey)
			ss.nonce = h.Nonce
			s.mu.Unlock()
			nonce := make([]byte, 32)
			_, _ = rand.Read(nonce)
			ch = &protocol.Challenge{Nonce: nonce, ServerKey: s.Pub, ServerTime: time.Now().UTC()}
			if len(h.Nonce) == protocol.NonceSize {
				protocol.SignChallenge(s.Key, h.PublicKey, h.Nonce, ch)
			}
			_ = ss.send(protocol.TypeChallenge, *ch)
		case protocol.TypeAuth:
			var a protocol.Auth
			if ch == nil || env.DecodeBody(&a) != nil || protocol.VerifyAuth(ss.pub, *ch, a) != nil {
				_ = ss.send(protocol.TypeError, protocol.ErrorBody{Code: protocol.CodeAuthFailed, Message: "auth failed", Ref: env.ID})
				return
			}
			s.mu.Lock()
			d, known := s.displays[hex.EncodeToString(ss.pub)]
			if known {
				token := s.newTokenLocked()
				ss.displayID = d.ID
				org := s.OrgID
				s.mu.Unlock()
				// Authenticated once auth_ok is on the wire, so that nothing
				// sent to the display can overtake it.
				_ = ss.send(protocol.TypeAuthOK, protocol.AuthOK{DisplayID: d.ID, Name: d.Name, Token: token, ServerKey: s.Pub, OrgID: org})
				s.mu.Lock()
				ss.authed = true
				s.notifyLocked()
				s.mu.Unlock()
				continue
			}
			s.mu.Unlock()
			// The code becomes claimable (PairingCode, Claim) only once
			// pairing is on the wire: a paired sent first would overtake it.
			code := pairingCode()
			_ = ss.send(protocol.TypePairing, protocol.Pairing{Code: code, ExpiresAt: time.Now().Add(time.Hour).UTC()})
			s.mu.Lock()
			s.pending[code] = ss
			s.notifyLocked()
			s.mu.Unlock()
		case protocol.TypeIncident:
			// Stored (in received) and acknowledged, as beacon serve does.
			_ = ss.send(protocol.TypeAck, protocol.Ack{Ref: env.ID})
		case protocol.TypeProofOfPlay:
			var pp protocol.ProofOfPlay
			s.mu.Lock()
			authed := ss.authed
			s.mu.Unlock()
			if !authed {
				_ = ss.send(protocol.TypeError, protocol.ErrorBody{Code: protocol.CodeUnexpected, Message: "not authenticated", Ref: env.ID})
				continue
			}
			if err := env.DecodeBody(&pp); err != nil {
				_ = ss.send(protocol.TypeError, protocol.ErrorFor(err, env.ID))
				continue
			}
			s.mu.Lock()
			for _, r := range pp.Records {
				if s.playIDs[r.ID] {
					s.resent++
					continue
				}
				s.playIDs[r.ID] = true
				s.plays = append(s.plays, r)
			}
			hold := s.holdAcks
			s.notifyLocked()
			s.mu.Unlock()
			if !hold {
				_ = ss.send(protocol.TypeAck, protocol.Ack{Ref: env.ID})
			}
		}
	}
}

func pairingCode() string {
	const alphabet = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
	var b [6]byte
	_, _ = rand.Read(b[:])
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b[:])
}

// countingWriter counts body bytes written.
type countingWriter struct {
	http.ResponseWriter
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.ResponseWriter.Write(p)
	c.n += int64(n)
	return n, err
}

func (s *Server) handleFile(w http.ResponseWriter, r *http.Request) {
	sha := r.PathValue("sha")
	token, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	s.mu.Lock()
	ok := s.tokens[token]
	data, found := s.files[sha]
	s.requests[sha]++
	if rg := r.Header.Get("Range"); rg != "" {
		s.ranges = append(s.ranges, rg)
	}
	s.mu.Unlock()
	if !ok {
		http.Error(w, "unauthorized", http.StatusUnauthorized)
		return
	}
	if !found {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("ETag", `"`+sha+`"`)
	cw := &countingWriter{ResponseWriter: w}
	http.ServeContent(cw, r, "", time.Time{}, bytes.NewReader(data))
	s.mu.Lock()
	s.served[sha] += cw.n
	s.notifyLocked()
	s.mu.Unlock()
}
