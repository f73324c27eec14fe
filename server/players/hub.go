// Package players owns the server side of protocol v1: one session per
// connected player, the challenge-response handshake, pairing codes,
// manifest pushes, and what players report (heartbeats, acks, file lists,
// incidents).
package players

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/binary"
	"encoding/json"
	"errors"
	"log/slog"
	"os"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gofiber/contrib/websocket"
	"github.com/gofiber/fiber/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/valyala/fasthttp"

	"beacon/protocol"
	"beacon/server/auth"
	"beacon/server/store"
)

// Timeouts of a session.
const (
	handshakeTimeout = 15 * time.Second
	readTimeout      = 90 * time.Second // a player sends a heartbeat every 15 s and answers pings
	pingEvery        = 30 * time.Second
	pingSlots        = 30 // the pinger pings one slot of sessions every pingEvery/pingSlots
	writeTimeout     = 10 * time.Second
	sendQueue        = 32
	// DefaultPairingLifetime is how long a pairing code is accepted; the
	// player is then sent a fresh one (see PairingCodeLen for the odds).
	DefaultPairingLifetime = time.Hour
)

// Limits bound what unauthenticated peers may hold open. Zero values take
// the defaults; a negative per-address limit turns that limit off.
type Limits struct {
	// HandshakeTimeout is how long a new connection has, from the moment it
	// opens, to finish hello and auth; frames do not extend it.
	HandshakeTimeout time.Duration
	// MaxHandshakesPerAddr caps connections from one address that have not
	// finished their handshake; more are refused with HTTP 429.
	MaxHandshakesPerAddr int
	// MaxPairingPerAddr caps pairing sessions (unknown keys showing a code)
	// from one address; more are closed with CloseTryAgainLater.
	MaxPairingPerAddr int
}

const (
	addrKey    = "beacon.playerAddr"
	requestKey = "beacon.playerRequest" // the upgrade's *fasthttp.RequestCtx
)

// Default limits.
const (
	DefaultHandshakeTimeout     = 10 * time.Second
	DefaultMaxHandshakesPerAddr = 32
	DefaultMaxPairingPerAddr    = 16
)

// WebSocket close codes the server uses besides the standard ones.
const (
	// ClosePolicyViolation (1008): the handshake was refused or not finished
	// within the handshake deadline.
	ClosePolicyViolation = websocket.ClosePolicyViolation
	// CloseTryAgainLater (1013): too many sessions from this address.
	CloseTryAgainLater = websocket.CloseTryAgainLater
	// CloseUnsupportedData (1003): the player sent a binary frame.
	CloseUnsupportedData = websocket.CloseUnsupportedData
)

// ErrNoSuchCode is returned by Claim when no connected player shows the code.
var ErrNoSuchCode = errors.New("no player is showing this pairing code (codes change every hour; check the screen)")

// Info is what the hub knows about a connected display.
type Info struct {
	Online     bool
	State      string
	NowPlaying *protocol.NowPlaying
	Missing    int
	LastSeen   time.Time
}

// OverrideListener is told when a display's session is authenticated
// (with the capabilities its hello announced) and when its player reports
// on an override. It is called on the session's reader goroutine: it must
// not block for long.
type OverrideListener interface {
	Connected(displayID, orgID string, capabilities []string)
	OverrideAck(displayID, orgID string, ack protocol.OverrideAck)
}

// SendResult says what became of an override frame for one display.
type SendResult int

// Results of SendOverrides.
const (
	Offline     SendResult = iota // no session on this server
	Unsupported                   // the player did not announce protocol.CapOverride
	Sent                          // queued to the session's writer
)

// DefaultStatusFlush is how often heartbeats are written to the store.
const DefaultStatusFlush = 5 * time.Second

// Hub holds every player session of this server.
type Hub struct {
	store *store.Store
	key   ed25519.PrivateKey
	log   *slog.Logger
	now   func() time.Time

	// ClientAddr names the address a request comes from, for the
	// per-address limits (the server's, which honours trusted proxies);
	// default the socket's peer address. Set before serving.
	ClientAddr func(*fiber.Ctx) string

	// PairingLifetime is how long a code is accepted before the player is
	// sent a fresh one; DefaultPairingLifetime if zero. Set before serving.
	PairingLifetime time.Duration

	// Overrides is told of authenticated sessions and of their override
	// acks (the delivery package); nil ignores them. Set before serving.
	Overrides OverrideListener

	// Changed is told when a display's live state changes: it connects or
	// disconnects, its player reports another state or content, files it
	// misses, or acknowledges a manifest (the console's live list); nil
	// ignores them. Called without the hub's locks, on the session's
	// goroutine: it must not block for long. Set before serving.
	Changed func(displayID, orgID string)

	// Heartbeats are kept in memory and written to the store in batches
	// (flushStatus), not one write per beat.
	statusMu     sync.Mutex
	status       map[string]store.DisplayStatus // by display id, not yet written
	flushStop    chan struct{}
	flushDone    chan struct{}
	flushOnce    sync.Once
	flushing     bool // the flusher runs (guarded by statusMu)
	statusWrites prometheus.Counter

	// pollers read the acks of parked display sessions (poller.go);
	// noPoll (BEACON_NO_POLLER=1, for comparisons) leaves every reader on
	// its goroutine.
	pollers pollers
	noPoll  bool

	polledAcks prometheus.Counter
	handedBack prometheus.Counter
	parkedNow  prometheus.Gauge

	mu         sync.Mutex
	sessions   map[string]*session // by display id
	pending    map[string]*session // by pairing code
	closed     bool
	running    sync.WaitGroup // session handlers (Add under mu while !closed)
	limits     Limits
	handshakes map[string]int // unfinished handshakes by address
	pairings   map[string]int // pairing sessions by address

	pingOnce  sync.Once
	pingStop  chan struct{}
	pingEvery atomic.Int64 // nanoseconds; pingEvery if zero (SetPingInterval)

	connected prometheus.Gauge
	unauthed  *prometheus.GaugeVec // sessions in their handshake, and pairing sessions
	pushed    prometheus.Counter
	incidents *prometheus.CounterVec
	// Broadcast frames (overrides, cancels) written by the broadcaster
	// itself (direct) or through a session's writer (queued).
	broadcast      *prometheus.CounterVec
	direct, queued prometheus.Counter
}

// New builds a hub. reg may be nil.
func New(st *store.Store, key ed25519.PrivateKey, log *slog.Logger, reg prometheus.Registerer) *Hub {
	h := &Hub{
		store: st, key: key, log: log, now: func() time.Time { return time.Now().UTC() },
		sessions:   map[string]*session{},
		pending:    map[string]*session{},
		handshakes: map[string]int{},
		pairings:   map[string]int{},
		connected:  prometheus.NewGauge(prometheus.GaugeOpts{Name: "beacon_players_connected", Help: "Authenticated player sessions on this server."}),
		unauthed:   prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "beacon_player_unauthenticated_sessions", Help: "Player connections still in their handshake (stage=handshake) or showing a pairing code (stage=pairing)."}, []string{"stage"}),
		pushed:     prometheus.NewCounter(prometheus.CounterOpts{Name: "beacon_manifests_pushed_total", Help: "Manifests sent to players."}),
		incidents:  prometheus.NewCounterVec(prometheus.CounterOpts{Name: "beacon_player_incidents_total", Help: "Security incidents reported by players."}, []string{"kind"}),
		status:     map[string]store.DisplayStatus{},
		pingStop:   make(chan struct{}),
		flushStop:  make(chan struct{}),
		flushDone:  make(chan struct{}),
		statusWrites: prometheus.NewCounter(prometheus.CounterOpts{Name: "beacon_display_status_flushes_total",
			Help: "Batched writes of player heartbeats to the store."}),
	}
	if reg != nil {
		reg.MustRegister(h.connected, h.unauthed, h.pushed, h.incidents, h.statusWrites)
	}
	h.broadcast = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "beacon_broadcast_frames_total",
		Help: "Override frames a broadcast wrote to an idle player's socket at once (path=direct), or queued to the session's writer (path=queued: the session was busy or its socket full)."}, []string{"path"})
	h.direct, h.queued = h.broadcast.WithLabelValues("direct"), h.broadcast.WithLabelValues("queued")
	if reg != nil {
		reg.MustRegister(h.broadcast)
	}
	h.polledAcks = prometheus.NewCounter(prometheus.CounterOpts{Name: "beacon_player_poller_acks_total",
		Help: "Override acks read by a player poller (the session's reader waited without being woken)."})
	h.handedBack = prometheus.NewCounter(prometheus.CounterOpts{Name: "beacon_player_poller_handbacks_total",
		Help: "Times a player poller gave a socket back to its session's reader (another message, a control frame, a frame not yet whole, the end)."})
	h.parkedNow = prometheus.NewGauge(prometheus.GaugeOpts{Name: "beacon_player_sessions_parked",
		Help: "Player sessions whose reader waits with a poller (no goroutine is woken for their acks)."})
	if reg != nil {
		reg.MustRegister(h.polledAcks, h.handedBack, h.parkedNow)
	}
	h.SetLimits(Limits{})
	h.noPoll = os.Getenv("BEACON_NO_POLLER") == "1"
	return h
}

// StartStatusFlush writes buffered heartbeats to the store every interval
// (DefaultStatusFlush if zero) until StopStatusFlush or Close.
func (h *Hub) StartStatusFlush(every time.Duration) {
	if every <= 0 {
		every = DefaultStatusFlush
	}
	h.statusMu.Lock()
	h.flushing = true
	h.statusMu.Unlock()
	go func() {
		defer close(h.flushDone)
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-h.flushStop:
				h.FlushStatus()
				return
			case <-t.C:
				h.FlushStatus()
			}
		}
	}()
}

// StopStatusFlush stops the flusher after a last flush (idempotent; a
// flusher never started is not waited for).
func (h *Hub) StopStatusFlush() {
	h.flushOnce.Do(func() { close(h.flushStop) })
	h.statusMu.Lock()
	started := h.flushing
	h.statusMu.Unlock()
	if started {
		<-h.flushDone
	} else {
		h.FlushStatus()
	}
}

// noteStatus buffers a display's heartbeat for the next flush.
func (h *Hub) noteStatus(displayID string, st store.DisplayStatus) {
	h.statusMu.Lock()
	prev, ok := h.status[displayID]
	if ok {
		if st.State == "" {
			st.State = prev.State
		}
		if st.NowPlaying == "" {
			st.NowPlaying = prev.NowPlaying
		}
	}
	h.status[displayID] = st
	h.statusMu.Unlock()
}

// FlushStatus writes the buffered heartbeats in one transaction.
func (h *Hub) FlushStatus() {
	h.statusMu.Lock()
	batch := h.status
	h.status = map[string]store.DisplayStatus{}
	h.statusMu.Unlock()
	if len(batch) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := h.store.UpdateDisplayStatuses(ctx, batch); err != nil {
		h.log.Warn("record heartbeats", "displays", len(batch), "err", err)
		return
	}
	h.statusWrites.Inc()
}

// SendOverrides sends the same frame (an override or override_cancel) to
// the sessions of many displays (one look-up under the hub's lock for the
// whole list, not one per display) and returns what became of each, in
// the order of displayIDs. An idle session is written to at once from
// here (sendDirect); the others get the frame through their writer.
func (h *Hub) SendOverrides(displayIDs []string, frame []byte) []SendResult {
	ss := make([]*session, len(displayIDs))
	h.mu.Lock()
	for i, id := range displayIDs {
		ss[i] = h.sessions[id]
	}
	h.mu.Unlock()
	out := make([]SendResult, len(displayIDs))
	wire := textFrame(frame)

	send := func(lo, hi int) {
		var direct, queued int // counted here: the metrics' atomics are shared by the goroutines
		for i := lo; i < hi; i++ {
			s := ss[i]
			switch {
			case s == nil:
				out[i] = Offline
			case !s.canOverride.Load():
				out[i] = Unsupported
			default:
				if s.sendDirect(wire) {
					direct++
				} else {
					s.sendFrame(frame)
					queued++
				}
				out[i] = Sent
			}
		}
		h.direct.Add(float64(direct))
		h.queued.Add(float64(queued))
	}
	// The writes are system calls that do most of the work (on loopback
	// also the receiver's): spread over the processors, a few hundred
	// sessions at least each.
	workers := min(runtime.GOMAXPROCS(0), (len(ss)+broadcastShare-1)/broadcastShare)
	if workers <= 1 {
		send(0, len(ss))
		return out
	}
	var wg sync.WaitGroup
	for w := range workers {
		lo, hi := w*len(ss)/workers, (w+1)*len(ss)/workers
		wg.Add(1)
		go func() {
			defer wg.Done()
			send(lo, hi)
		}()
	}
	wg.Wait()
	return out
}

// broadcastShare is the fewest sessions one goroutine of a broadcast
// writes to.
const broadcastShare = 256

// textFrame is payload as one unmasked, final WebSocket text frame (RFC
// 6455 §5.2), as a server sends it.
func textFrame(payload []byte) []byte {
	n := len(payload)
	var b []byte
	switch {
	case n < 126:
		b = append(make([]byte, 0, 2+n), 0x81, byte(n))
	case n <= 0xffff:
		b = append(make([]byte, 0, 4+n), 0x81, 126, byte(n>>8), byte(n))
	default:
		b = append(make([]byte, 0, 10+n), 0x81, 127)
		b = binary.BigEndian.AppendUint64(b, uint64(n))
	}
	return append(b, payload...)
}

// Online reports whether the display has a session on this server.
func (h *Hub) Online(displayID string) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.sessions[displayID] != nil
}

// SetLimits sets the limits on unauthenticated connections; call it before
// serving.
func (h *Hub) SetLimits(l Limits) {
	if l.HandshakeTimeout <= 0 {
		l.HandshakeTimeout = DefaultHandshakeTimeout
	}
	if l.MaxHandshakesPerAddr == 0 {
		l.MaxHandshakesPerAddr = DefaultMaxHandshakesPerAddr
	}
	if l.MaxPairingPerAddr == 0 {
		l.MaxPairingPerAddr = DefaultMaxPairingPerAddr
	}
	h.mu.Lock()
	h.limits = l
	h.mu.Unlock()
}

// Per-address slots: a session holds one in handshakes until its handshake
// ends, and one in pairings while it shows a code. h.mu guards them.
func (h *Hub) takeSlotLocked(stage string, m map[string]int, addr string, max int) bool {
	if max >= 0 && m[addr] >= max {
		return false
	}
	m[addr]++
	h.unauthed.WithLabelValues(stage).Inc()
	return true
}

func (h *Hub) giveSlotLocked(stage string, m map[string]int, addr string, held *bool) {
	if !*held {
		return
	}
	*held = false
	if m[addr]--; m[addr] <= 0 {
		delete(m, addr)
	}
	h.unauthed.WithLabelValues(stage).Dec()
}

// takeHandshake counts s's handshake unless its address has too many.
func (h *Hub) takeHandshake(s *session) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	s.handshaking = h.takeSlotLocked("handshake", h.handshakes, s.addr, h.limits.MaxHandshakesPerAddr)
	return s.handshaking
}

// endHandshake gives back the session's handshake slot.
func (h *Hub) endHandshake(s *session) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.giveSlotLocked("handshake", h.handshakes, s.addr, &s.handshaking)
}

// takePairing counts a pairing session of s's address, unless too many.
func (h *Hub) takePairing(s *session) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	s.pairingSlot = h.takeSlotLocked("pairing", h.pairings, s.addr, h.limits.MaxPairingPerAddr)
	return s.pairingSlot
}

// endPairing gives back the session's pairing slot (it was claimed).
func (h *Hub) endPairing(s *session) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.giveSlotLocked("pairing", h.pairings, s.addr, &s.pairingSlot)
}

func (h *Hub) full(m map[string]int, addr string, max int) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return max >= 0 && m[addr] >= max
}

// Upgrade refuses requests that are not WebSocket upgrades offering the
// beacon.v1 subprotocol; mount it before Handler.
func (h *Hub) Upgrade(c *fiber.Ctx) error {
	if !websocket.IsWebSocketUpgrade(c) {
		return fiber.NewError(fiber.StatusUpgradeRequired, "this endpoint speaks WebSocket with subprotocol "+protocol.Subprotocol)
	}
	offered := false
	for _, p := range splitHeader(string(c.Request().Header.Peek("Sec-WebSocket-Protocol"))) {
		if p == protocol.Subprotocol {
			offered = true
		}
	}
	if !offered {
		return fiber.NewError(fiber.StatusUpgradeRequired, "unsupported protocol version: offer WebSocket subprotocol "+protocol.Subprotocol)
	}
	addr := c.IP()
	if h.ClientAddr != nil {
		addr = h.ClientAddr(c)
	}
	c.Locals(addrKey, addr)
	c.Locals(requestKey, c.Context())
	if h.full(h.handshakes, addr, h.limits.MaxHandshakesPerAddr) {
		c.Set(fiber.HeaderRetryAfter, "10")
		return fiber.NewError(fiber.StatusTooManyRequests, "too many unauthenticated player connections from this address; retry later")
	}
	return c.Next()
}

// pingLoop pings every authenticated and pairing session once per
// pingEvery, a slot of them at a time (not all in the same instant), until
// Close. A ping goes through the session's queue like any frame: a
// session's writer runs only while it has something to write.
func (h *Hub) pingLoop() {
	t := time.NewTimer(h.pingInterval() / pingSlots)
	defer t.Stop()
	var slot uint8
	var due []*session
	for {
		select {
		case <-h.pingStop:
			return
		case <-t.C:
		}
		t.Reset(h.pingInterval() / pingSlots)
		due = due[:0]
		h.mu.Lock()
		for _, s := range h.sessions {
			if s.pingAt == slot {
				due = append(due, s)
			}
		}
		for _, s := range h.pending {
			if s.pingAt == slot {
				due = append(due, s)
			}
		}
		h.mu.Unlock()
		for _, s := range due {
			s.ping()
		}
		clear(due)
		slot = (slot + 1) % pingSlots
	}
}

// SetPingInterval sets how often each session is pinged (default 30 s);
// it applies from the pinger's next slot.
func (h *Hub) SetPingInterval(d time.Duration) {
	if d > 0 {
		h.pingEvery.Store(int64(d))
	}
}

func (h *Hub) pingInterval() time.Duration {
	if d := h.pingEvery.Load(); d > 0 {
		return time.Duration(d)
	}
	return pingEvery
}

// Handler serves one player connection.
func (h *Hub) Handler() fiber.Handler {
	h.pingOnce.Do(func() { go h.pingLoop() })
	return websocket.New(func(c *websocket.Conn) {
		h.mu.Lock()
		if h.closed {
			h.mu.Unlock()
			_ = c.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseGoingAway, "server shutting down"), time.Now().Add(time.Second))
			return
		}
		h.running.Add(1)
		h.mu.Unlock()
		defer h.running.Done()
		s := newSession(h, c)
		s.addr, _ = c.Locals(addrKey).(string)
		if r, ok := c.Locals(requestKey).(*fasthttp.RequestCtx); ok {
			dropRequest(r)
		}
		if !h.takeHandshake(s) {
			_ = c.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(CloseTryAgainLater, "too many unauthenticated connections from this address"), time.Now().Add(time.Second))
			return
		}
		s.run()
	}, websocket.Config{
		Subprotocols:     []string{protocol.Subprotocol},
		HandshakeTimeout: 10 * time.Second,
		// Write buffers are taken from a pool for each message, not kept
		// by every idle connection. Reads go through fasthttp's buffered
		// reader of the hijacked connection already: the WebSocket's own
		// read buffer need only hold a frame header or a control frame.
		WriteBufferPool: &sync.Pool{},
		ReadBufferSize:  256,
		RecoverHandler: func(c *websocket.Conn) {
			if r := recover(); r != nil {
				h.log.Error("player session panicked", "panic", r)
				_ = c.Close()
			}
		},
	})
}

// dropRequest lets go of what the upgrade request kept in its fasthttp
// context: fasthttp keeps the context, with the request's and the 101
// response's headers and buffers, for as long as the hijacked connection
// lives, and a player's connection lives for days. Everything the session
// needs was copied out before the upgrade (the WebSocket handler's own
// copies, the address in a local); the context itself returns to its pool
// when the connection ends and is reset before it serves again.
func dropRequest(r *fasthttp.RequestCtx) {
	r.ResetUserValues()
	r.Request = fasthttp.Request{}
	r.Response = fasthttp.Response{}
}

// Claim pairs the player showing code with a new display of orgID.
func (h *Hub) Claim(ctx context.Context, orgID, code string, d store.Display) (store.Display, error) {
	code = NormalizeCode(code)
	h.mu.Lock()
	s := h.pending[code]
	if s == nil || h.now().After(s.codeExpires) {
		// An expired code stays with its session until the renewal
		// replaces it (see expirePairing).
		h.mu.Unlock()
		return store.Display{}, ErrNoSuchCode
	}
	delete(h.pending, code)
	h.mu.Unlock()
	d.OrgID = orgID
	d.PublicKey = s.pub
	created, err := h.store.CreateDisplay(ctx, d)
	if err != nil {
		h.mu.Lock()
		h.pending[code] = s
		expired := h.now().After(s.codeExpires)
		h.mu.Unlock()
		if expired { // its renewal found it claimed and gave up: renew now
			go h.expirePairing(s, code)
		}
		return store.Display{}, err
	}
	token, err := h.newToken(ctx, s, created.ID)
	if err != nil {
		return store.Display{}, err
	}
	s.stopPairingTimer()
	s.mu.Lock()
	s.orgID = orgID
	s.mu.Unlock()
	s.becomeDisplay(created.ID)
	s.sendMsg(protocol.TypePaired, protocol.Paired{DisplayID: created.ID, Name: created.Name, Token: token, ServerKey: h.pubKey(), OrgID: orgID})
	if h.Overrides != nil {
		h.Overrides.Connected(created.ID, orgID, s.capabilities())
	}
	h.changed(created.ID, orgID)
	h.log.Info("display paired", "display", created.ID, "name", created.Name, "org", orgID)
	return created, nil
}

// Push sends a display's manifest to its player if it is connected.
func (h *Hub) Push(displayID string, m store.SignedManifest) {
	h.mu.Lock()
	s := h.sessions[displayID]
	h.mu.Unlock()
	if s != nil {
		s.sendManifest(m)
	}
}

// Info returns what is known about a display's live session.
func (h *Hub) Info(displayID string) Info {
	h.mu.Lock()
	s := h.sessions[displayID]
	h.mu.Unlock()
	if s == nil {
		return Info{}
	}
	return s.info()
}

// Disconnect ends a deleted display's session: the player is sent a
// signed unpair (so it forgets the display and shows a pairing code) and
// the connection is closed once that frame is written. A player that is
// offline now is unpaired when it next connects with an unknown key.
func (h *Hub) Disconnect(displayID string) {
	h.mu.Lock()
	s := h.sessions[displayID]
	h.mu.Unlock()
	if s != nil {
		s.unpair()
	}
}

// Close ends every session (server shutdown).
func (h *Hub) Close() {
	h.pingOnce.Do(func() {}) // a pinger not started is never started
	h.mu.Lock()
	if !h.closed {
		close(h.pingStop)
	}
	h.closed = true
	all := make([]*session, 0, len(h.sessions)+len(h.pending))
	for _, s := range h.sessions {
		all = append(all, s)
	}
	for _, s := range h.pending {
		all = append(all, s)
	}
	h.mu.Unlock()
	for _, s := range all {
		s.close()
	}
	// The sessions end their display tokens in the store as they go: wait
	// for them (each is bounded by its writer's deadline) before the
	// store may close.
	if !waitAtMost(&h.running, closeWait) {
		h.log.Warn("player sessions still ending after shutdown wait", "wait", closeWait)
	}
	h.StopStatusFlush()
	h.pollers.close()
}

// closeWait bounds how long Close waits for the sessions to end.
const closeWait = 15 * time.Second

func (h *Hub) pubKey() []byte { return h.key.Public().(ed25519.PublicKey) }

// newToken issues the session's display token; it lives as long as the
// session (see unregister).
func (h *Hub) newToken(ctx context.Context, s *session, displayID string) (string, error) {
	secret, hash := auth.NewToken(auth.DisplayTokenPrefix)
	if err := h.store.CreateDisplayToken(ctx, displayID, hash); err != nil {
		return "", err
	}
	s.mu.Lock()
	s.tokenHash = hash
	s.mu.Unlock()
	return secret, nil
}

// register makes s the display's session, closing any older one.
func (h *Hub) register(s *session) bool {
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return false
	}
	old := h.sessions[s.displayID]
	h.sessions[s.displayID] = s
	h.mu.Unlock()
	if old != nil && old != s {
		old.close()
	} else {
		h.connected.Inc()
	}
	return true
}

func (h *Hub) unregister(s *session) {
	s.mu.Lock()
	hash := s.tokenHash
	s.mu.Unlock()
	if hash != "" { // the session's download token ends with it
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		if err := h.store.DeleteDisplayToken(ctx, hash); err != nil {
			h.log.Warn("revoke display token", "err", err)
		}
		cancel()
	}
	s.stopPairingTimer()
	h.mu.Lock()
	h.giveSlotLocked("handshake", h.handshakes, s.addr, &s.handshaking)
	h.giveSlotLocked("pairing", h.pairings, s.addr, &s.pairingSlot)
	if s.code != "" && h.pending[s.code] == s {
		delete(h.pending, s.code)
	}
	gone := ""
	if s.displayID != "" && h.sessions[s.displayID] == s {
		delete(h.sessions, s.displayID)
		h.connected.Dec()
		gone = s.displayID
	}
	h.mu.Unlock()
	if gone != "" {
		s.mu.Lock()
		org := s.orgID
		s.mu.Unlock()
		h.changed(gone, org)
	}
}

// changed tells Changed, if set, that a display's live state changed.
func (h *Hub) changed(displayID, orgID string) {
	if h.Changed != nil && displayID != "" && orgID != "" {
		h.Changed(displayID, orgID)
	}
}

// Pairing codes are PairingCodeLen characters of pairingCodeAlphabet,
// each drawn uniformly from crypto/rand by rejection sampling (no modulo
// bias): 31^10 ≈ 8.2·10^14 codes, about 49.5 bits. A code lives
// PairingLifetime (an hour) and claims are rate limited per token, per
// client address and per organisation (docs/accounts.md has the odds).
const (
	pairingCodeAlphabet = "ABCDEFGHJKMNPQRSTUVWXYZ23456789" // no 0/O, 1/I/L
	PairingCodeLen      = 10
)

// NewPairingCode returns a fresh random pairing code.
func NewPairingCode() string {
	const n = len(pairingCodeAlphabet)
	const limit = 256 - 256%n // bytes at or above limit would bias the draw
	code := make([]byte, 0, PairingCodeLen)
	var buf [32]byte
	for len(code) < PairingCodeLen {
		_, _ = rand.Read(buf[:])
		for _, v := range buf {
			if int(v) < limit && len(code) < PairingCodeLen {
				code = append(code, pairingCodeAlphabet[int(v)%n])
			}
		}
	}
	return string(code)
}

// NormalizeCode is a code as an operator may type it: any case, with
// spaces or dashes between groups.
func NormalizeCode(code string) string {
	code = strings.ToUpper(code)
	return strings.Map(func(r rune) rune {
		if r == ' ' || r == '-' || r == '\t' {
			return -1
		}
		return r
	}, code)
}

func (h *Hub) pairingLifetime() time.Duration {
	if h.PairingLifetime > 0 {
		return h.PairingLifetime
	}
	return DefaultPairingLifetime
}

// addPending gives s a fresh pairing code and arms its expiry: when the
// code expires unclaimed, the player is sent error pairing_expired and a
// new code on the same connection (protocol §4 step 4).
func (h *Hub) addPending(s *session) (string, time.Time) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if s.code != "" && h.pending[s.code] == s {
		delete(h.pending, s.code)
	}
	for {
		code := NewPairingCode()
		if _, taken := h.pending[code]; taken {
			continue
		}
		life := h.pairingLifetime()
		s.code = code
		s.codeExpires = h.now().Add(life)
		h.pending[code] = s
		s.mu.Lock()
		if s.pairTimer != nil {
			s.pairTimer.Stop()
		}
		s.pairTimer = time.AfterFunc(life, func() { h.expirePairing(s, code) })
		s.mu.Unlock()
		return s.code, s.codeExpires
	}
}

// expirePairing replaces s's code if it is still code and unclaimed.
func (h *Hub) expirePairing(s *session, code string) {
	h.mu.Lock()
	live := h.pending[code] == s && !h.closed
	h.mu.Unlock()
	if !live || s.displayIDSafe() != "" {
		return
	}
	select {
	case <-s.done:
		return
	default:
	}
	next, exp := h.addPending(s)
	s.sendError(protocol.CodePairingExpired, "the pairing code expired unclaimed; a new one follows", "")
	s.sendMsg(protocol.TypePairing, protocol.Pairing{Code: next, ExpiresAt: exp})
	h.log.Info("pairing code renewed", "remote", s.addr) // not s.conn: it may be released by now
}

func splitHeader(v string) []string {
	var out []string
	start := 0
	for i := 0; i <= len(v); i++ {
		if i == len(v) || v[i] == ',' {
			p := v[start:i]
			for len(p) > 0 && p[0] == ' ' {
				p = p[1:]
			}
			for len(p) > 0 && p[len(p)-1] == ' ' {
				p = p[:len(p)-1]
			}
			if p != "" {
				out = append(out, p)
			}
			start = i + 1
		}
	}
	return out
}

func marshalNowPlaying(np *protocol.NowPlaying) string {
	if np == nil {
		return ""
	}
	b, _ := json.Marshal(np)
	return string(b)
}
