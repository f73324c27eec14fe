package players

import (
	"bufio"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"io"
	mrand "math/rand/v2"
	"net"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/gofiber/contrib/websocket"

	"beacon/protocol"
	"beacon/server/store"
)

// session is one player connection: the handler goroutine reads; frames
// to send wait in a bounded queue that a writer goroutine drains. The
// writer runs only while there is something to write (it is started by
// the frame that finds the queue idle and ends when the queue is empty),
// so an idle session holds one goroutine (its reader), no write buffer
// and no timer: 10,000 idle players are 10,000 parked readers. Pings are
// queued by the hub's pinger (see Hub.pingLoop).
type session struct {
	hub  *Hub
	conn *websocket.Conn
	done chan struct{}
	// closed is set just before done is closed: the hot paths of a
	// fan-out (the broadcast's write, each ack's read) check it without
	// a channel operation.
	closed atomic.Bool
	once   sync.Once

	wmu     sync.Mutex
	queue   []outFrame // waiting to be written (at most sendQueue)
	writing bool       // a writer goroutine drains queue
	writers sync.WaitGroup
	pingAt  uint8 // the hub's pinger's slot for this session

	// direct writes broadcast frames from the broadcaster's goroutine
	// while the session is idle (sendDirect); nil where the connection
	// cannot (TLS).
	direct directWriter
	// parkc (its socket parkrc) and libr let the reader park with a
	// poller between frames (see poller.go); nil where it cannot (TLS,
	// another library layout).
	parkc  parkConn
	parkrc syscall.RawConn
	libr   []*bufio.Reader

	pub         ed25519.PublicKey
	helloNonce  []byte // the player's nonce of this session (signed in challenge and unpair)
	code        string
	codeExpires time.Time

	addr       string    // remote address, for the per-address limits
	hsDeadline time.Time // end of the handshake; zero once it is done
	closeCode  int       // sent with reason in the close frame; default 1008 (guarded by mu)
	// Slots held in the hub's per-address counts (guarded by hub.mu).
	handshaking, pairingSlot bool

	mu        sync.Mutex
	tokenHash string      // of the display token issued to this session
	reason    string      // sent in the close frame after a flush
	pairTimer *time.Timer // renews the pairing code when it expires
	displayID string
	orgID     string
	caps      []string // announced in hello
	st        Info

	// canOverride says whether caps holds protocol.CapOverride, which a
	// broadcast asks of every targeted session (set once, with caps, in the
	// handshake).
	canOverride atomic.Bool
	// readDeadline is the read deadline the reader last set (only the
	// reader's goroutine uses it; see extendReadDeadline).
	readDeadline time.Time
}

func (s *session) capabilities() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.caps...)
}

func newSession(h *Hub, c *websocket.Conn) *session {
	s := &session{hub: h, conn: c, done: make(chan struct{}), pingAt: uint8(mrand.IntN(pingSlots))}
	// Under the WebSocket connection: fasthttp's hijacked connection, and
	// under that the server's connection (server.progressConn).
	if hc, ok := c.NetConn().(interface{ UnsafeConn() net.Conn }); ok {
		s.direct, _ = hc.UnsafeConn().(directWriter)
		if pc, ok := hc.UnsafeConn().(parkConn); ok {
			rc, err := pc.SyscallConn()
			if rs, ok := libraryReaders(c); ok && err == nil {
				s.parkc, s.parkrc, s.libr = pc, rc, rs
			}
		}
	}
	return s
}

// directWriter is a connection that takes bytes without waiting, or says
// it cannot (server.progressConn).
type directWriter interface {
	// TryWrite writes all of p or nothing, at once. rest reports that the
	// socket took only part of p: the connection keeps the rest, sends it
	// before anything else written to it, and FlushPending writes it.
	TryWrite(p []byte) (rest bool, err error)
	FlushPending(deadline time.Time) error
}

// sendDirect writes a broadcast frame (wire: the whole WebSocket frame)
// from the caller's goroutine when the session has nothing queued and its
// socket takes the frame at once, the common case when an emergency
// override goes to thousands of idle players: no writer goroutine is
// started, woken and scheduled for each. It reports false, having written
// nothing, when the frame must take the queue (sendFrame). The session's
// wmu is held over the write, so no queued frame can overtake it, and a
// broken connection is left to the queued write to find and close.
func (s *session) sendDirect(wire []byte) bool {
	if s.direct == nil {
		return false
	}
	s.wmu.Lock()
	defer s.wmu.Unlock()
	if s.closed.Load() { // done is closed under wmu too
		return false
	}
	if s.writing || len(s.queue) > 0 {
		return false
	}
	rest, err := s.direct.TryWrite(wire)
	if err != nil {
		return false
	}
	if rest {
		// The socket took part of the frame: the writer sends the rest
		// before anything queued after it.
		s.queue = append(s.queue, outFrame{kind: framePending})
		s.writing = true
		s.writers.Add(1)
		go s.writer()
	}
	return true
}

// close ends the session from any goroutine. On fasthttp, Close on a
// hijacked connection does nothing (the connection closes when the handler
// returns), so the reader is woken with a past deadline instead.
func (s *session) close() {
	s.once.Do(func() {
		s.wmu.Lock() // no writer starts once done is closed (see enqueue)
		s.closed.Store(true)
		close(s.done)
		s.wmu.Unlock()
		_ = s.conn.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseGoingAway, ""), time.Now().Add(time.Second))
		_ = s.conn.SetReadDeadline(time.Now())
		_ = s.conn.Close()
	})
}

func (s *session) run() {
	defer s.hub.unregister(s)
	defer s.finish()
	if s.open() {
		s.readLoop()
	}
}

// finish closes the session. The connection is released when the handler
// returns: wait for a writer still in a write (bounded by its write
// deadline).
//
//go:noinline
func (s *session) finish() {
	s.close()
	s.waitWriter(writeTimeout + time.Second)
}

// open runs the handshake; false ends the session.
//
//go:noinline
func (s *session) open() bool {
	s.conn.SetReadLimit(protocol.MaxFrameSize)
	s.hsDeadline = time.Now().Add(s.hub.limits.HandshakeTimeout)
	var err error
	onFreshStack(func() { err = s.handshake() }) // see onFreshStack
	if err != nil {
		s.hub.log.Info("player handshake failed", "remote", s.conn.RemoteAddr().String(), "err", err)
		// Let the writer flush the error frame, then close politely.
		if s.enqueue(outFrame{kind: frameFlush}) {
			select {
			case <-s.done:
			case <-time.After(writeTimeout):
			}
		}
		return false
	}
	s.hsDeadline = time.Time{}
	s.hub.endHandshake(s)
	return true
}

// outFrame is one entry of a session's send queue.
type outFrame struct {
	b    []byte // a text frame (frameData)
	kind uint8
}

const (
	frameData    uint8 = iota
	framePing          // a WebSocket ping
	frameFlush         // everything before it is written: close the session
	framePending       // the rest of a frame sendDirect began
)

// enqueue queues f and starts the writer if it is idle. It reports false
// (and queues nothing) when the session is closed or its queue is full; a
// full queue closes the session: a player too slow to drain it is cut off
// (it reconnects and resyncs by manifest version).
func (s *session) enqueue(f outFrame) bool {
	s.wmu.Lock()
	select {
	case <-s.done:
		s.wmu.Unlock()
		return false
	default:
	}
	if len(s.queue) >= sendQueue {
		s.wmu.Unlock()
		if f.kind == framePing {
			return false // the writer is busy: it is alive, or its write times out
		}
		s.hub.log.Warn("player send queue full; closing session", "display", s.displayIDSafe())
		s.close()
		return false
	}
	s.queue = append(s.queue, f)
	start := !s.writing
	s.writing = true
	if start {
		s.writers.Add(1)
	}
	s.wmu.Unlock()
	if start {
		go s.writer()
	}
	return true
}

// writer writes the queue until it is empty, then ends.
func (s *session) writer() {
	defer s.writers.Done()
	for {
		s.wmu.Lock()
		if len(s.queue) == 0 {
			s.queue = nil // an idle session keeps no backing array
			s.writing = false
			s.wmu.Unlock()
			return
		}
		f := s.queue[0]
		s.queue[0] = outFrame{}
		s.queue = s.queue[1:]
		s.wmu.Unlock()
		select {
		case <-s.done:
			s.wmu.Lock()
			s.queue, s.writing = nil, false
			s.wmu.Unlock()
			return
		default:
		}
		var err error
		switch f.kind {
		case frameFlush:
			_ = s.conn.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(s.closeCodeFor(), s.closeReason()), time.Now().Add(writeTimeout))
			err = errClosed
		case framePing:
			err = s.conn.WriteControl(websocket.PingMessage, nil, time.Now().Add(writeTimeout))
		case framePending:
			err = s.direct.FlushPending(time.Now().Add(writeTimeout))
		default:
			_ = s.conn.SetWriteDeadline(time.Now().Add(writeTimeout))
			err = s.conn.WriteMessage(websocket.TextMessage, f.b)
		}
		if err != nil {
			s.close()
			s.wmu.Lock()
			s.queue, s.writing = nil, false
			s.wmu.Unlock()
			return
		}
	}
}

// waitWriter waits, at most d, for a running writer to end.
func (s *session) waitWriter(d time.Duration) { waitAtMost(&s.writers, d) }

// waitAtMost waits for wg, at most d; false when d ran out first.
func waitAtMost(wg *sync.WaitGroup, d time.Duration) bool {
	ended := make(chan struct{})
	go func() {
		wg.Wait()
		close(ended)
	}()
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ended:
		return true
	case <-t.C:
		return false
	}
}

// sendFrame queues a frame (nil: flush, then close).
func (s *session) sendFrame(frame []byte) {
	if frame == nil {
		s.enqueue(outFrame{kind: frameFlush})
		return
	}
	s.enqueue(outFrame{b: frame})
}

// ping queues a WebSocket ping (the hub's pinger calls it).
func (s *session) ping() { s.enqueue(outFrame{kind: framePing}) }

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
		mt, bp, err := s.next(timeout)
		if err != nil {
			return protocol.Envelope{}, err
		}
		env, ok, err := s.decodeFrame(mt, *bp)
		putFrame(bp) // the envelope holds copies
		if ok {
			return env, err
		}
	}
}

// next waits for the next frame. It and its callers up to the handler
// are what a session's reader keeps on its stack while it waits, for days,
// between frames: their frames are kept small (decoding is in decodeFrame)
// so that the parked reader fits a 4 KB stack and the garbage collector can
// shrink a stack that grew back to it (it does when less than a quarter is
// in use). With 10,000 players each KB there is 10 MB.
//
//go:noinline
func (s *session) next(timeout time.Duration) (int, *[]byte, error) {
	if !s.hsDeadline.IsZero() {
		deadline := time.Now().Add(timeout)
		if deadline.After(s.hsDeadline) {
			deadline = s.hsDeadline // frames do not extend the handshake
		}
		_ = s.conn.SetReadDeadline(deadline)
		s.readDeadline = deadline
	} else {
		s.extendReadDeadline(timeout)
	}
	// Checked after setting the deadline, so a concurrent close (which
	// sets a past deadline after setting closed) always wins.
	if s.closed.Load() {
		return 0, nil, errClosed
	}
	mt, r, err := s.conn.NextReader()
	if err != nil {
		return mt, nil, err
	}
	bp, err := readFrame(r)
	return mt, bp, err
}

// extendReadDeadline makes sure that at least timeout is left before the
// read deadline. Once the handshake is done the deadline is not moved on
// every frame: it is set timeout plus deadlineSlack ahead, and moved again
// only once less than timeout is left. A fleet's acks are two frames per
// player within the same second, and every move of a deadline is a
// runtime timer changed (on both connection layers); a player's
// heartbeats every 15 s move it every other time. A silent connection is
// closed between timeout and timeout plus deadlineSlack after its last
// frame.
func (s *session) extendReadDeadline(timeout time.Duration) {
	if d, move := movedDeadline(s.readDeadline, time.Now(), timeout); move {
		s.readDeadline = d
		_ = s.conn.SetReadDeadline(d)
	}
}

// movedDeadline is the read deadline to set at now for a connection whose
// deadline is last, or false to keep last (see extendReadDeadline).
func movedDeadline(last, now time.Time, timeout time.Duration) (time.Time, bool) {
	if last.Sub(now) >= timeout {
		return last, false
	}
	return now.Add(timeout + deadlineSlack), true
}

// deadlineSlack: see extendReadDeadline.
const deadlineSlack = 20 * time.Second

// Frames are read into pooled buffers (a fleet's acknowledgements are
// tens of thousands of frames within a second, each a buffer of garbage
// otherwise); whoever got one from next gives it back with putFrame once
// nothing refers to it (decoding copies what it keeps).
var framePool = sync.Pool{New: func() any { b := make([]byte, 0, 512); return &b }}

// framePoolMax is the largest buffer kept in the pool.
const framePoolMax = 16 << 10

//go:noinline
func readFrame(r io.Reader) (*[]byte, error) {
	bp := framePool.Get().(*[]byte)
	b := (*bp)[:0]
	for {
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)]
		}
		n, err := r.Read(b[len(b):cap(b)])
		b = b[:len(b)+n]
		if err == io.EOF {
			*bp = b
			return bp, nil
		}
		if err != nil {
			*bp = b
			putFrame(bp)
			return nil, err
		}
	}
}

// putFrame returns a frame's buffer to the pool.
func putFrame(bp *[]byte) {
	if bp == nil || cap(*bp) > framePoolMax {
		return
	}
	*bp = (*bp)[:0]
	framePool.Put(bp)
}

// decodeFrame decodes a frame read by next: ok with the envelope (or the
// error that ends the session), not ok for a frame answered with an error
// and skipped.
//
//go:noinline
func (s *session) decodeFrame(mt int, frame []byte) (protocol.Envelope, bool, error) {
	if mt != websocket.TextMessage {
		// §2: a binary frame closes the connection with 1003. Sent
		// here (control frames may be written concurrently) so the
		// close that follows cannot overtake it with another code.
		_ = s.conn.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(CloseUnsupportedData, "frames must be JSON text"), time.Now().Add(writeTimeout))
		return protocol.Envelope{}, true, errBinary
	}
	env, err := protocol.Decode(frame)
	if err != nil {
		eb := protocol.ErrorFor(err, env.ID)
		s.sendError(eb.Code, eb.Message, env.ID)
		if !s.hsDeadline.IsZero() {
			// §4: a malformed frame during hello/auth ends the
			// session (close 1008 after the error is flushed).
			return protocol.Envelope{}, true, errHandshake
		}
		return protocol.Envelope{}, false, nil
	}
	return env, true, nil
}

var (
	errHandshake = errors.New("handshake refused")
	errClosed    = errors.New("session closed")
	errTooMany   = errors.New("too many pairing sessions from this address")
	errBinary    = errors.New("binary frame")
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
	s.helloNonce = hello.Nonce
	s.mu.Lock()
	for _, c := range hello.Capabilities {
		if len(s.caps) < 32 && len(c) <= 64 {
			s.caps = append(s.caps, c)
		}
	}
	s.canOverride.Store(slices.Contains(s.caps, protocol.CapOverride))
	s.mu.Unlock()
	nonce := make([]byte, 32)
	_, _ = rand.Read(nonce)
	ch := protocol.Challenge{Nonce: nonce, ServerKey: s.hub.pubKey(), ServerTime: s.hub.now()}
	if len(hello.Nonce) == protocol.NonceSize {
		// Proves to a paired player that this server holds the key it pinned.
		protocol.SignChallenge(s.hub.key, hello.PublicKey, hello.Nonce, &ch)
	}
	s.sendMsg(protocol.TypeChallenge, ch)

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
	if err := protocol.VerifyAuth(s.pub, ch, a); err != nil {
		s.sendError(protocol.CodeAuthFailed, "signature does not match the public key in hello", env.ID)
		return errHandshake
	}
	return s.admit(hello, env)
}

// onFreshStack runs f on a short-lived goroutine and waits for it. The
// store (SQLite compiled to Go) needs deep stacks; a session's reader
// parks for days between frames, and a stack it grew once stays with it
// until the garbage collector shrinks it: with 10,000 players that was
// most of the server's memory. A panic in f is raised again here.
func onFreshStack(f func()) {
	var p any
	done := make(chan struct{})
	go func() {
		defer func() {
			p = recover()
			close(done)
		}()
		f()
	}()
	<-done
	if p != nil {
		panic(p)
	}
}

// admit (on the handshake's fresh stack) looks up the authenticated key: a display's player gets auth_ok,
// its manifest and its live overrides; an unknown one a pairing code.
func (s *session) admit(hello protocol.Hello, env protocol.Envelope) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	d, err := s.hub.store.DisplayByKey(ctx, s.pub)
	switch {
	case errors.Is(err, store.ErrNotFound):
		if hello.DisplayID != "" && len(s.helloNonce) == protocol.NonceSize {
			// The player still believes it is this display (deleted while it
			// was offline): release it so it can show a pairing code.
			s.sendMsg(protocol.TypeUnpair, protocol.SignUnpair(s.hub.key, hello.DisplayID, s.pub, s.helloNonce, s.hub.now()))
			s.hub.log.Info("unknown player still paired; sent unpair", "display", hello.DisplayID, "remote", s.conn.RemoteAddr().String())
		}
		if !s.hub.takePairing(s) {
			s.mu.Lock()
			s.closeCode, s.reason = CloseTryAgainLater, "too many pairing sessions from this address"
			s.mu.Unlock()
			return errTooMany
		}
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
	s.mu.Lock()
	s.orgID = d.OrgID
	s.mu.Unlock()
	m, err := s.hub.store.DisplayManifest(ctx, d.ID)
	if err != nil {
		return err
	}
	s.sendMsg(protocol.TypeAuthOK, protocol.AuthOK{DisplayID: d.ID, Name: d.Name, Token: token, ServerKey: s.hub.pubKey(), ManifestVersion: m.Version, OrgID: d.OrgID})
	if m.Version > hello.ManifestVersion {
		s.sendManifest(m)
	}
	s.hub.noteStatus(d.ID, store.DisplayStatus{SeenAt: s.hub.now()})
	if s.hub.Overrides != nil { // active overrides, after auth_ok
		s.hub.Overrides.Connected(d.ID, d.OrgID, s.capabilities())
	}
	s.hub.changed(d.ID, d.OrgID)
	s.hub.log.Info("player connected", "display", d.ID, "remote", s.conn.RemoteAddr().String(), "held_version", hello.ManifestVersion, "server_version", m.Version)
	return nil
}

func (s *session) stopPairingTimer() {
	s.mu.Lock()
	if s.pairTimer != nil {
		s.pairTimer.Stop()
		s.pairTimer = nil
	}
	s.mu.Unlock()
}

// becomeDisplay turns a pairing session into a display's session.
func (s *session) becomeDisplay(id string) {
	s.mu.Lock()
	first := s.displayID == ""
	s.displayID = id
	s.mu.Unlock()
	if first && s.code != "" {
		s.hub.register(s)
		s.hub.endPairing(s)
	}
}

// unpair sends the player a signed unpair for its display (deleted by an
// operator), then closes the session once the frame is written. A player
// that sent no hello nonce cannot be unpaired in-band: it is only closed.
func (s *session) unpair() {
	s.mu.Lock()
	id := s.displayID
	s.reason = "display deleted"
	s.mu.Unlock()
	if id == "" || len(s.helloNonce) != protocol.NonceSize {
		s.close()
		return
	}
	s.sendMsg(protocol.TypeUnpair, protocol.SignUnpair(s.hub.key, id, s.pub, s.helloNonce, s.hub.now()))
	s.sendFrame(nil) // flush, then close
}

func (s *session) closeCodeFor() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closeCode != 0 {
		return s.closeCode
	}
	return websocket.ClosePolicyViolation
}

func (s *session) closeReason() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.reason != "" {
		return s.reason
	}
	return "handshake refused"
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

// sameNowPlaying reports whether two heartbeats name the same content.
func sameNowPlaying(a, b *protocol.NowPlaying) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.ItemID == b.ItemID && a.MediaID == b.MediaID && a.SHA256 == b.SHA256
}

func (s *session) info() Info {
	s.mu.Lock()
	defer s.mu.Unlock()
	in := s.st
	in.Online = true
	return in
}

func (s *session) readLoop() {
	s.conn.SetPongHandler(s.pong)
	for {
		// Between frames, with nothing buffered, a display's reader
		// waits with a poller, which records the acks that come meanwhile
		// and hands back anything else (poller.go).
		if p := s.poller(); p != nil {
			if err := s.park(p, s.parkc, s.parkrc, readTimeout); err != nil {
				s.readEnded(err)
				return
			}
		}
		mt, bp, err := s.next(readTimeout)
		if err != nil {
			s.readEnded(err)
			return
		}
		if mt == websocket.TextMessage && s.quickAck(*bp) {
			putFrame(bp)
			continue
		}
		// Everything else is decoded and handled on a fresh stack (see
		// next and onFreshStack).
		var end error
		onFreshStack(func() { end = s.frame(mt, *bp) })
		putFrame(bp)
		if end != nil {
			s.readEnded(end)
			return
		}
	}
}

// poller is the poller the reader may park with now, or nil.
func (s *session) poller() *poller {
	if s.parkc == nil || s.hub.noPoll || buffered(s.libr) > 0 {
		return nil
	}
	s.mu.Lock()
	display := s.displayID != "" && s.orgID != ""
	s.mu.Unlock()
	if !display {
		return nil
	}
	return s.hub.pollers.get(s.hub)
}

// quickAck records an override_ack in the plain form players write
// (scanAck) on the reader's own stack: a fleet sends two per player and
// override within the same second, and each is a channel send. It reports
// false for any other frame.
//
//go:noinline
func (s *session) quickAck(frame []byte) bool {
	_, ack, ok := scanAck(frame)
	if !ok {
		return false
	}
	s.mu.Lock()
	displayID, org := s.displayID, s.orgID
	s.mu.Unlock()
	if displayID == "" || org == "" {
		return false // the general path answers or looks the organisation up
	}
	if s.hub.Overrides != nil {
		s.hub.Overrides.OverrideAck(displayID, org, ack)
	}
	return true
}

// frame decodes and handles one frame; an error ends the session.
func (s *session) frame(mt int, frame []byte) error {
	env, ok, err := s.decodeFrame(mt, frame)
	if err != nil || !ok {
		return err
	}
	s.handle(env)
	return nil
}

// pong runs on the reader's goroutine (within next).
func (s *session) pong(string) error {
	if s.closed.Load() {
		return errClosed
	}
	s.extendReadDeadline(readTimeout)
	return nil
}

//go:noinline
func (s *session) readEnded(err error) {
	if !errors.Is(err, context.Canceled) {
		s.hub.log.Debug("player disconnected", "display", s.displayIDSafe(), "err", err)
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
		same := s.st.State == hb.State && s.st.Missing == hb.Cache.Missing && sameNowPlaying(s.st.NowPlaying, hb.NowPlaying)
		s.st.State, s.st.NowPlaying, s.st.LastSeen, s.st.Missing = hb.State, hb.NowPlaying, now, hb.Cache.Missing
		s.mu.Unlock()
		if displayID == "" {
			return
		}
		if !same {
			s.hub.changed(displayID, s.orgIDFor(ctx, displayID))
		}
		// Written with others at the next flush, not one write per beat.
		s.hub.noteStatus(displayID, store.DisplayStatus{State: hb.State, NowPlaying: marshalNowPlaying(hb.NowPlaying), SeenAt: now})
	case protocol.TypeOverrideAck:
		var ack protocol.OverrideAck
		if err := env.DecodeBody(&ack); err != nil {
			s.sendError(protocol.CodeMalformed, err.Error(), env.ID)
			return
		}
		if displayID == "" {
			s.sendError(protocol.CodeUnexpected, "pair before sending override_ack", env.ID)
			return
		}
		if s.hub.Overrides != nil {
			s.hub.Overrides.OverrideAck(displayID, s.orgIDFor(ctx, displayID), ack)
		}
	case protocol.TypeAck:
		var ack protocol.Ack
		if err := env.DecodeBody(&ack); err != nil {
			s.sendError(protocol.CodeMalformed, err.Error(), env.ID)
			return
		}
		if displayID != "" && ack.ManifestVersion > 0 {
			_ = s.hub.store.UpdateDisplayStatus(ctx, displayID, store.DisplayStatus{AckedVersion: ack.ManifestVersion, SeenAt: now})
			s.hub.changed(displayID, s.orgIDFor(ctx, displayID))
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
			// Stored once per content key: a re-sent incident (new
			// envelope id after a reconnect) is acknowledged again only.
			if _, _, err := s.hub.store.CreateIncident(ctx, store.Incident{OrgID: s.orgIDFor(ctx, displayID), DisplayID: displayID, Kind: in.Kind, Message: in.Message, SHA256: in.SHA256, ManifestVersion: in.ManifestVersion}); err != nil {
				s.hub.log.Error("record incident", "err", err)
				s.sendError(protocol.CodeInternal, "could not store the incident; send it again later", env.ID)
				return
			}
		}
		// The player keeps the incident until this ack.
		s.sendMsg(protocol.TypeAck, protocol.Ack{Ref: env.ID})
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
	s.mu.Lock()
	org := s.orgID
	s.mu.Unlock()
	if org != "" {
		return org
	}
	d, err := s.hub.store.DisplayByID(ctx, displayID)
	if err != nil {
		return ""
	}
	s.mu.Lock()
	s.orgID = d.OrgID
	s.mu.Unlock()
	return d.OrgID
}
