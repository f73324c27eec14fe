// Package players owns the server side of protocol v1: one session per
// connected player, the challenge-response handshake, pairing codes,
// manifest pushes, and what players report (heartbeats, acks, file lists,
// incidents).
package players

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/gofiber/contrib/websocket"
	"github.com/gofiber/fiber/v2"
	"github.com/prometheus/client_golang/prometheus"

	"beacon/protocol"
	"beacon/server/auth"
	"beacon/server/store"
)

// Timeouts of a session.
const (
	handshakeTimeout = 15 * time.Second
	readTimeout      = 90 * time.Second // a player sends a heartbeat every 15 s and answers pings
	pingEvery        = 30 * time.Second
	writeTimeout     = 10 * time.Second
	sendQueue        = 32
	pairingLifetime  = time.Hour
)

// ErrNoSuchCode is returned by Claim when no connected player shows the code.
var ErrNoSuchCode = errors.New("no player is showing this pairing code (codes last an hour; check the screen)")

// Info is what the hub knows about a connected display.
type Info struct {
	Online     bool
	State      string
	NowPlaying *protocol.NowPlaying
	Missing    int
	LastSeen   time.Time
}

// Hub holds every player session of this server.
type Hub struct {
	store *store.Store
	key   ed25519.PrivateKey
	log   *slog.Logger
	now   func() time.Time

	mu       sync.Mutex
	sessions map[string]*session // by display id
	pending  map[string]*session // by pairing code
	closed   bool

	connected prometheus.Gauge
	pushed    prometheus.Counter
	incidents *prometheus.CounterVec
}

// New builds a hub. reg may be nil.
func New(st *store.Store, key ed25519.PrivateKey, log *slog.Logger, reg prometheus.Registerer) *Hub {
	h := &Hub{
		store: st, key: key, log: log, now: func() time.Time { return time.Now().UTC() },
		sessions:  map[string]*session{},
		pending:   map[string]*session{},
		connected: prometheus.NewGauge(prometheus.GaugeOpts{Name: "beacon_players_connected", Help: "Authenticated player sessions on this server."}),
		pushed:    prometheus.NewCounter(prometheus.CounterOpts{Name: "beacon_manifests_pushed_total", Help: "Manifests sent to players."}),
		incidents: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "beacon_player_incidents_total", Help: "Security incidents reported by players."}, []string{"kind"}),
	}
	if reg != nil {
		reg.MustRegister(h.connected, h.pushed, h.incidents)
	}
	return h
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
	return c.Next()
}

// Handler serves one player connection.
func (h *Hub) Handler() fiber.Handler {
	return websocket.New(func(c *websocket.Conn) {
		s := newSession(h, c)
		s.run()
	}, websocket.Config{
		Subprotocols:     []string{protocol.Subprotocol},
		HandshakeTimeout: 10 * time.Second,
		RecoverHandler: func(c *websocket.Conn) {
			if r := recover(); r != nil {
				h.log.Error("player session panicked", "panic", r)
				_ = c.Close()
			}
		},
	})
}

// Claim pairs the player showing code with a new display of orgID.
func (h *Hub) Claim(ctx context.Context, orgID, code string, d store.Display) (store.Display, error) {
	h.mu.Lock()
	s := h.pending[code]
	if s != nil {
		delete(h.pending, code)
	}
	h.mu.Unlock()
	if s == nil || h.now().After(s.codeExpires) {
		return store.Display{}, ErrNoSuchCode
	}
	d.OrgID = orgID
	d.PublicKey = s.pub
	created, err := h.store.CreateDisplay(ctx, d)
	if err != nil {
		h.mu.Lock()
		h.pending[code] = s
		h.mu.Unlock()
		return store.Display{}, err
	}
	token, err := h.newToken(ctx, s, created.ID)
	if err != nil {
		return store.Display{}, err
	}
	s.becomeDisplay(created.ID)
	s.sendMsg(protocol.TypePaired, protocol.Paired{DisplayID: created.ID, Name: created.Name, Token: token, ServerKey: h.pubKey()})
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

// Disconnect ends a display's session (the display was deleted).
func (h *Hub) Disconnect(displayID string) {
	h.mu.Lock()
	s := h.sessions[displayID]
	h.mu.Unlock()
	if s != nil {
		s.close()
	}
}

// Close ends every session (server shutdown).
func (h *Hub) Close() {
	h.mu.Lock()
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
}

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
	h.mu.Lock()
	defer h.mu.Unlock()
	if s.code != "" && h.pending[s.code] == s {
		delete(h.pending, s.code)
	}
	if s.displayID != "" && h.sessions[s.displayID] == s {
		delete(h.sessions, s.displayID)
		h.connected.Dec()
	}
}

// pairingCodeAlphabet leaves out characters people confuse (0/O, 1/I/L).
const pairingCodeAlphabet = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"

func (h *Hub) addPending(s *session) (string, time.Time) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for {
		var b [6]byte
		_, _ = rand.Read(b[:])
		code := make([]byte, len(b))
		for i, v := range b {
			code[i] = pairingCodeAlphabet[int(v)%len(pairingCodeAlphabet)]
		}
		if _, taken := h.pending[string(code)]; !taken {
			s.code = string(code)
			s.codeExpires = h.now().Add(pairingLifetime)
			h.pending[s.code] = s
			return s.code, s.codeExpires
		}
	}
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
