// Package delivery owns the fan-out of emergency overrides: it frames a
// signed override or override_cancel once and queues the same bytes to
// every targeted session of this server (the players hub keeps the
// sessions and their writers), records each display's delivery state,
// re-sends live overrides and cancels when a player (re)connects, rings
// the other servers through the Bus and resynchronises from the store
// when the Bus reconnects, ends deliveries when an override expires, and
// watches for displays that do not acknowledge painting it in time (a
// webhook notification). Nothing here waits on content compilation: no
// lock of the content path is taken.
package delivery

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"beacon/protocol"
	"beacon/server/bus"
	"beacon/server/players"
	"beacon/server/store"
)

// Topic is the Bus topic of override doorbells.
const Topic = "overrides"

// DefaultAckTimeout is how long a display has to acknowledge painting an
// override before a notification is raised.
const DefaultAckTimeout = 10 * time.Second

// Sessions are the player sessions of this server (the players hub).
type Sessions interface {
	// SendOverrides sends the frame to many displays at once and says
	// what became of each, in their order.
	SendOverrides(displayIDs []string, frame []byte) []players.SendResult
}

// Progress is a delivery event, streamed to the console (GET
// /api/v1/events, event "override_delivery").
type Progress struct {
	OverrideID string     `json:"override_id"`
	DisplayID  string     `json:"display_id,omitempty"`
	State      string     `json:"state"`
	PaintedAt  *time.Time `json:"painted_at,omitempty"`
	LatencyMS  *int64     `json:"latency_ms,omitempty"`
	Error      string     `json:"error,omitempty"`
	// Unacknowledged lists, for State "unacknowledged", the displays that
	// had not painted the override within the ack timeout.
	Unacknowledged []Unacked `json:"unacknowledged,omitempty"`
}

// Unacked is a display that did not acknowledge painting in time.
type Unacked struct {
	DisplayID string `json:"display_id"`
	State     string `json:"state"`
}

// Config configures a Service.
type Config struct {
	Store    *store.Store
	Sessions Sessions
	Key      ed25519.PrivateKey
	Bus      bus.Bus
	// Shared says other servers share the Bus (and the store): a display
	// not connected here may be connected there, so its delivery stays
	// pending until the ack timeout before it is reported offline. Alone,
	// it is reported offline at once.
	Shared     bool
	AckTimeout time.Duration // DefaultAckTimeout if zero
	// Webhook receives a JSON POST for each override some displays did
	// not acknowledge in time; "" sends none.
	Webhook    string
	HTTPClient *http.Client
	Log        *slog.Logger
	// OffHours says which of an organisation's displays are outside their
	// operating hours at an instant (their screen is off; an override that
	// does not wake screens waits for the hours to begin). nil: none is.
	OffHours func(ctx context.Context, orgID string, displayIDs []string, at time.Time) (map[string]bool, error)
	// Progress is called for every change of a delivery (may be nil).
	Progress func(orgID string, p Progress)
	// Listening reports whether anyone follows an organisation's progress
	// events; when nobody does, the events of a whole fan-out (one per
	// display) are not made. nil: somebody may.
	Listening func(orgID string) bool
}

// Service delivers overrides. Create it with New, then Start.
type Service struct {
	cfg Config
	log *slog.Logger

	mu      sync.Mutex
	frames  map[string][]byte    // override id → framed override message
	cancels map[string][]byte    // override id → framed override_cancel
	expiry  map[string]time.Time // live overrides known here → expires_at
	unrung  map[string]doorbell  // doorbells whose publish failed
	meta    map[string]ackMeta   // live overrides delivered here → what acks need
	// inflight are the overrides being announced here: stored, queued to
	// the sessions, their deliveries not yet written (see Announce).
	inflight map[string]*flight

	collecting atomic.Bool // a collection started by collect is running
	acks       chan ackReq // queued acks (nil until Start)

	ctx    context.Context
	stop   context.CancelFunc
	wg     sync.WaitGroup
	ready  chan struct{}
	readyO sync.Once
}

type doorbell struct {
	Op string `json:"op"` // override or cancel
	ID string `json:"id"`
}

// New builds a Service.
func New(cfg Config) *Service {
	if cfg.AckTimeout <= 0 {
		cfg.AckTimeout = DefaultAckTimeout
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Timeout: 10 * time.Second}
	}
	ctx, stop := context.WithCancel(context.Background())
	return &Service{cfg: cfg, log: cfg.Log, frames: map[string][]byte{}, cancels: map[string][]byte{},
		expiry: map[string]time.Time{}, unrung: map[string]doorbell{}, meta: map[string]ackMeta{}, inflight: map[string]*flight{},
		ctx: ctx, stop: stop, ready: make(chan struct{})}
}

// Start subscribes to the Bus and runs the expiry loop until Close.
func (s *Service) Start(ctx context.Context) error {
	sub, err := s.cfg.Bus.Subscribe(ctx, Topic)
	if err != nil {
		return err
	}
	live, err := s.cfg.Store.UnexpiredOverrides(ctx, time.Now())
	if err != nil {
		_ = sub.Close()
		return err
	}
	s.mu.Lock()
	for _, o := range live {
		s.expiry[o.ID] = o.ExpiresAt
	}
	s.acks = make(chan ackReq, ackQueue)
	s.mu.Unlock()
	s.wg.Add(3)
	go func() {
		defer s.wg.Done()
		s.ackLoop()
	}()
	go func() {
		defer s.wg.Done()
		defer sub.Close()
		s.listen(sub)
	}()
	go func() {
		defer s.wg.Done()
		s.expire()
	}()
	return nil
}

// Ready is closed once the Bus subscription is in place (its first Ready).
func (s *Service) Ready() <-chan struct{} { return s.ready }

// Close stops the Service's goroutines (pending webhook retries end).
func (s *Service) Close() {
	s.mu.Lock()
	s.stop() // under mu: no goroutine is added once Close began (see spawn)
	s.mu.Unlock()
	s.wg.Wait()
}

// spawn runs f on a goroutine Close waits for, unless Close began.
func (s *Service) spawn(f func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ctx.Err() != nil {
		return
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		f()
	}()
}

func (s *Service) progress(orgID string, p Progress) {
	if s.cfg.Progress != nil {
		s.cfg.Progress(orgID, p)
	}
}

// listening reports whether progress events of the organisation are
// worth making (checked once per batch of events).
func (s *Service) listening(orgID string) bool {
	return s.cfg.Progress != nil && (s.cfg.Listening == nil || s.cfg.Listening(orgID))
}

// progressEach makes one event per display, in one state.
func (s *Service) progressEach(o store.Override, ids []string, state string) {
	if len(ids) == 0 || !s.listening(o.OrgID) {
		return
	}
	for _, id := range ids {
		s.progress(o.OrgID, Progress{OverrideID: o.ID, DisplayID: id, State: state})
	}
}

// envelope frames a body once: every session gets the same bytes.
func envelope(typ string, body any) ([]byte, error) {
	return protocol.Encode(typ, body)
}

// overrideFrame returns the framed override message, built once.
func (s *Service) overrideFrame(o store.Override) ([]byte, error) {
	s.mu.Lock()
	f := s.frames[o.ID]
	s.mu.Unlock()
	if f != nil {
		return f, nil
	}
	f, err := envelope(protocol.TypeOverride, protocol.SignedOverride{Payload: o.Payload, Signature: o.Signature,
		KeyID: protocol.KeyID(s.cfg.Key.Public().(ed25519.PublicKey))})
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	if _, live := s.expiry[o.ID]; live || o.Live(time.Now()) {
		s.frames[o.ID] = f
	}
	s.mu.Unlock()
	return f, nil
}

func (s *Service) cancelFrame(o store.Override) ([]byte, error) {
	s.mu.Lock()
	f := s.cancels[o.ID]
	s.mu.Unlock()
	if f != nil {
		return f, nil
	}
	f, err := envelope(protocol.TypeOverrideCancel, protocol.OverrideCancel{ID: o.ID, OrgID: o.OrgID, CancelledAt: o.CancelledAt.UTC(), Signature: o.CancelSignature})
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	s.cancels[o.ID] = f
	s.mu.Unlock()
	return f, nil
}

// flight is an override being announced by this server: stored, queued
// to the sessions, its deliveries not written yet; done is closed once
// they are.
type flight struct {
	o    store.Override
	done chan struct{}
	// What the session readers saw of the override's acks meanwhile
	// (awaitLull): the last one's instant (Unix nanoseconds) and how
	// many were final (painted or refused).
	lastAck atomic.Int64
	final   atomic.Int64
}

// Announce delivers a newly triggered override, stored without its
// deliveries (store.InsertOverride): the frame goes to this server's
// sessions first, then, once their acks pause (awaitLull), every targeted
// display's delivery is written in
// its final state (sent; unsupported; offline, or pending when other
// servers share the bus) in one transaction, then the other servers are
// rung (they find the deliveries in the store) and the ack watch is
// armed. Until the deliveries are written, this server's acks of the
// override wait for them (recordAcks) and a display that connects
// meanwhile is sent the override once they are (Connected).
func (s *Service) Announce(o store.Override) {
	f := &flight{o: o, done: make(chan struct{})}
	s.mu.Lock()
	s.expiry[o.ID] = o.ExpiresAt
	s.meta[o.ID] = ackMeta{orgID: o.OrgID, created: o.CreatedAt}
	s.inflight[o.ID] = f
	s.mu.Unlock()
	absent := store.DeliveryOffline
	if s.cfg.Shared {
		absent = store.DeliveryPending
	}
	byState := map[string][]string{}
	if frame, err := s.overrideFrame(o); err != nil {
		s.log.Error("frame override", "override", o.ID, "err", err)
		byState[absent] = o.DisplayIDs
	} else {
		sentAt := time.Now()
		for i, r := range s.cfg.Sessions.SendOverrides(o.DisplayIDs, frame) {
			st := absent
			switch r {
			case players.Sent:
				st = store.DeliverySent
			case players.Unsupported:
				st = store.DeliveryUnsupported
			}
			byState[st] = append(byState[st], o.DisplayIDs[i])
		}
		s.awaitLull(f, len(byState[store.DeliverySent]), sentAt)
	}
	ctx, cancel := context.WithTimeout(s.ctx, 30*time.Second)
	err := s.cfg.Store.AddDeliveries(ctx, o.ID, byState, time.Now())
	cancel()
	s.mu.Lock()
	delete(s.inflight, o.ID)
	s.mu.Unlock()
	close(f.done)
	if err != nil {
		s.log.Error("record override deliveries", "override", o.ID, "err", err)
	} else {
		for _, st := range []string{store.DeliverySent, store.DeliveryUnsupported, absent} {
			s.progressEach(o, byState[st], st)
		}
	}
	s.ring(doorbell{Op: "override", ID: o.ID})
	s.watch(o)
}

// The deliveries of an override are written once its acks pause: the
// rows (10,000 for a province's fleet) would otherwise take the CPU from
// the session readers while the acks they wait for are coming in. An
// override's acks come within a few hundred milliseconds on a local
// network; the wait ends when every player it was sent to has painted (or
// refused) it, when none has acked for ackLull after the first did (for
// firstAckWait when none has yet), or after lullMax at most. The
// deliveries of a trigger are listed once its API call answers, so the
// answer waits as well.
const (
	ackLull      = 50 * time.Millisecond
	firstAckWait = 250 * time.Millisecond
	lullMax      = time.Second
)

// awaitLull waits, after an override was sent to sent sessions at
// sentAt, until its acks pause (see ackLull).
func (s *Service) awaitLull(f *flight, sent int, sentAt time.Time) {
	if sent == 0 {
		return
	}
	t := time.NewTicker(10 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-t.C:
		case <-s.ctx.Done():
			return
		}
		now := time.Now()
		since := now.Sub(sentAt)
		last := f.lastAck.Load()
		switch {
		case f.final.Load() >= int64(sent), since >= lullMax:
			return
		case last == 0 && since >= firstAckWait:
			return
		case last != 0 && now.UnixNano()-last >= int64(ackLull):
			return
		}
	}
}

// Settled waits until the deliveries of an override are stored: a retry
// with the trigger's Idempotency-Key answered while the trigger is still
// being announced (here, or by another server) answers after them too.
// It gives up after settleWait (a trigger cut short by a crash leaves an
// override without deliveries until a resync repairs it) or when ctx ends.
func (s *Service) Settled(ctx context.Context, id string) {
	s.mu.Lock()
	f := s.inflight[id]
	s.mu.Unlock()
	if f != nil {
		select {
		case <-f.done:
		case <-ctx.Done():
		}
		return
	}
	deadline := time.Now().Add(settleWait)
	for {
		if ok, err := s.cfg.Store.HasDeliveries(ctx, id); err != nil || ok || time.Now().After(deadline) {
			return
		}
		select {
		case <-time.After(20 * time.Millisecond):
		case <-ctx.Done():
			return
		}
	}
}

// settleWait bounds Settled's wait for another server's announcement.
const settleWait = 5 * time.Second

// repairAfter is how old an unexpired override without deliveries must
// be before a resync writes them (its announcement was cut short).
const repairAfter = time.Minute

// AnnounceCancel sends a cancelled override's signed override_cancel to
// this server's sessions and rings the others.
func (s *Service) AnnounceCancel(o store.Override) {
	s.fanOutCancel(o, nil)
	s.ring(doorbell{Op: "cancel", ID: o.ID})
}

func (s *Service) ring(d doorbell) {
	b, _ := json.Marshal(d)
	ctx, cancel := context.WithTimeout(s.ctx, 5*time.Second)
	defer cancel()
	if err := s.cfg.Bus.Publish(ctx, Topic, b); err != nil {
		// The store has it; ring again when the bus is back (Ready).
		s.log.Warn("override doorbell not published; will ring again when the bus is back", "override", d.ID, "err", err)
		s.mu.Lock()
		s.unrung[d.Op+" "+d.ID] = d
		s.mu.Unlock()
	}
}

// fanOut queues the override to the targeted sessions of this server
// (only to those whose delivery is in want, when want is not nil) and
// records what became of each.
func (s *Service) fanOut(o store.Override, want map[string]bool) {
	frame, err := s.overrideFrame(o)
	if err != nil {
		s.log.Error("frame override", "override", o.ID, "err", err)
		return
	}
	s.mu.Lock()
	if _, live := s.expiry[o.ID]; live {
		s.meta[o.ID] = ackMeta{orgID: o.OrgID, created: o.CreatedAt}
	}
	s.mu.Unlock()
	ids := wanted(o.DisplayIDs, want)
	var sent, unsupported []string
	for i, r := range s.cfg.Sessions.SendOverrides(ids, frame) {
		switch r {
		case players.Sent:
			sent = append(sent, ids[i])
		case players.Unsupported:
			unsupported = append(unsupported, ids[i])
		}
	}
	s.record(o, sent, store.DeliverySent)
	s.record(o, unsupported, store.DeliveryUnsupported)
}

func (s *Service) fanOutCancel(o store.Override, want map[string]bool) {
	frame, err := s.cancelFrame(o)
	if err != nil {
		s.log.Error("frame override_cancel", "override", o.ID, "err", err)
		return
	}
	s.cfg.Sessions.SendOverrides(wanted(o.DisplayIDs, want), frame)
}

// wanted is the ids in want, or all of them when want is nil.
func wanted(ids []string, want map[string]bool) []string {
	if want == nil {
		return ids
	}
	out := make([]string, 0, len(want))
	for _, id := range ids {
		if want[id] {
			out = append(out, id)
		}
	}
	return out
}

func (s *Service) record(o store.Override, ids []string, state string) {
	if len(ids) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(s.ctx, 30*time.Second)
	defer cancel()
	if err := s.cfg.Store.MarkSent(ctx, o.ID, ids, state, time.Now()); err != nil {
		s.log.Error("record override deliveries", "override", o.ID, "err", err)
		return
	}
	s.progressEach(o, ids, state)
}

func (s *Service) markOffline(o store.Override) {
	ctx, cancel := context.WithTimeout(s.ctx, 30*time.Second)
	defer cancel()
	ids, err := s.cfg.Store.MarkPendingOffline(ctx, o.ID, time.Now())
	if err != nil {
		s.log.Error("record offline displays", "override", o.ID, "err", err)
		return
	}
	s.progressEach(o, ids, store.DeliveryOffline)
}

// Connected sends a display that just authenticated every live override
// addressed to it, and the cancels of those cancelled but not expired
// (it may hold them from before). It implements players.OverrideListener.
func (s *Service) Connected(displayID, orgID string, caps []string) {
	// An override being announced has no deliveries in the store yet (the
	// read below misses it) and its fan-out may have passed this display
	// before its session was registered: it is sent once they are written.
	var waiting []*flight
	s.mu.Lock()
	for _, f := range s.inflight {
		if f.o.OrgID == orgID && slices.Contains(f.o.DisplayIDs, displayID) {
			waiting = append(waiting, f)
		}
	}
	s.mu.Unlock()
	if len(waiting) > 0 {
		s.spawn(func() { s.connectedLate(displayID, caps, waiting) })
	}
	ctx, cancel := context.WithTimeout(s.ctx, 10*time.Second)
	defer cancel()
	now := time.Now()
	list, err := s.cfg.Store.UnexpiredOverridesFor(ctx, displayID, now)
	if err != nil {
		s.log.Error("overrides for a connecting display", "display", displayID, "err", err)
		return
	}
	for _, o := range list {
		if o.OrgID != orgID || slices.ContainsFunc(waiting, func(f *flight) bool { return f.o.ID == o.ID }) {
			continue
		}
		s.sendConnected(o, displayID, caps)
	}
}

// connectedLate sends a display that connected while overrides were
// being announced those overrides, as the store has them once their
// deliveries are written (one may have been cancelled meanwhile).
func (s *Service) connectedLate(displayID string, caps []string, waiting []*flight) {
	for _, f := range waiting {
		select {
		case <-f.done:
		case <-s.ctx.Done():
			return
		}
		ctx, cancel := context.WithTimeout(s.ctx, 10*time.Second)
		o, err := s.cfg.Store.OverrideByID(ctx, f.o.ID)
		cancel()
		if err != nil {
			s.log.Error("override for a display that connected during its trigger", "display", displayID, "override", f.o.ID, "err", err)
			continue
		}
		if time.Now().Before(o.ExpiresAt) {
			s.sendConnected(o, displayID, caps)
		}
	}
}

// sendConnected sends a connecting display an unexpired override
// addressed to it: the override while it is live, its cancel once it is
// cancelled (to a player that may hold it).
func (s *Service) sendConnected(o store.Override, displayID string, caps []string) {
	one := map[string]bool{displayID: true}
	switch {
	case !o.CancelledAt.IsZero():
		if slices.Contains(caps, protocol.CapOverride) {
			s.fanOutCancel(o, one)
		}
	default:
		s.fanOut(o, one)
	}
}

// OverrideAck records a player's report on an override. It implements
// players.OverrideListener. Reports are queued and written in batches (a
// whole fleet acknowledges an override within the same instant; one write
// and one override read per report would queue them up behind each other
// and behind the next trigger); before Start they are written at once.
func (s *Service) OverrideAck(displayID, orgID string, ack protocol.OverrideAck) {
	r := ackReq{displayID: displayID, orgID: orgID, ack: ack, at: time.Now()}
	s.mu.Lock()
	started := s.acks != nil
	f := s.inflight[ack.ID]
	s.mu.Unlock()
	if f != nil {
		f.lastAck.Store(r.at.UnixNano())
		if ack.State == protocol.AckPainted || ack.State == protocol.AckRefused {
			f.final.Add(1)
		}
	}
	if !started {
		s.recordAcks([]ackReq{r})
		return
	}
	select {
	case s.acks <- r: // the common case: only the queue's lock is taken
		return
	default:
	}
	select {
	case s.acks <- r:
	case <-s.ctx.Done():
	}
}

type ackReq struct {
	displayID, orgID string
	ack              protocol.OverrideAck
	at               time.Time // when the server read it
}

// Batches of acks. A fleet acknowledges an override within the same
// second: its reports are written once the flow pauses (no report for
// ackQuiet), or ackGatherMax after the first of the batch, or at ackBatch
// reports, so that the writes do not compete for the CPU with the
// fan-out and the reading of the acks themselves (the server records the
// instant it read each report; the store has it within about a second).
const (
	ackQueue     = 1 << 15
	ackBatch     = 20000
	ackQuiet     = 50 * time.Millisecond
	ackGatherMax = time.Second
)

// ackLoop writes queued acks in batches until Close, then the rest.
func (s *Service) ackLoop() {
	batch := make([]ackReq, 0, 256)
	quiet := time.NewTimer(time.Hour)
	quiet.Stop()
	for {
		var first ackReq
		select {
		case first = <-s.acks:
		case <-s.ctx.Done():
			for {
				select {
				case r := <-s.acks:
					batch = append(batch, r)
				default:
					s.recordAcks(batch)
					return
				}
			}
		}
		batch = append(batch[:0], first)
		limit := time.NewTimer(ackGatherMax)
		quiet.Reset(ackQuiet)
	fill:
		for len(batch) < ackBatch {
			select {
			case r := <-s.acks:
				batch = append(batch, r)
				if len(batch)%64 == 0 { // not a timer reset per report
					quiet.Reset(ackQuiet)
				}
			case <-quiet.C:
				break fill
			case <-limit.C:
				break fill
			case <-s.ctx.Done():
				break fill
			}
		}
		limit.Stop()
		quiet.Stop()
		s.recordAcks(batch)
		if len(batch) >= collectAfter {
			s.collect()
		}
		clear(batch)
		if cap(batch) > 4096 { // a fleet's batch is not kept while idle
			batch = make([]ackReq, 0, 256)
		}
		batch = batch[:0]
	}
}

// collectAfter is the size of an ack batch (a fan-out's acknowledgements
// coming back) after which the server collects its garbage at once.
const collectAfter = 1000

// collect runs a garbage collection in the background unless one this
// started is still running. A fan-out and its acknowledgements allocate
// in a burst; left alone, the collection they make due starts whenever
// the heap reaches its goal, often during the next broadcast, where
// scanning every session's stack takes CPU from the frames on their way
// out. Collected while the fleet is quiet, the next broadcast starts with
// the whole allowance of the heap.
func (s *Service) collect() {
	if !s.collecting.CompareAndSwap(false, true) {
		return
	}
	go func() {
		defer s.collecting.Store(false)
		runtime.GC()
	}()
}

// ackMeta is what an ack needs of its override.
type ackMeta struct {
	orgID   string
	created time.Time
}

// metaFor returns an override's organisation and creation instant, from
// memory for the live ones this server delivered, else from the store.
func (s *Service) metaFor(ctx context.Context, id string) (ackMeta, bool) {
	s.mu.Lock()
	m, ok := s.meta[id]
	s.mu.Unlock()
	if ok {
		return m, true
	}
	o, err := s.cfg.Store.OverrideByID(ctx, id)
	if err != nil {
		return ackMeta{}, false
	}
	return ackMeta{orgID: o.OrgID, created: o.CreatedAt}, true
}

// awaitFlights waits until the overrides of a batch of acks that are
// being announced here have their deliveries in the store: a player may
// paint and acknowledge an override before the trigger has written them,
// and an ack with no delivery to update would be lost.
func (s *Service) awaitFlights(batch []ackReq) {
	var fs []*flight
	s.mu.Lock()
	if len(s.inflight) > 0 {
		for _, r := range batch {
			if f := s.inflight[r.ack.ID]; f != nil && !slices.Contains(fs, f) {
				fs = append(fs, f)
			}
		}
	}
	s.mu.Unlock()
	for _, f := range fs {
		<-f.done // Announce closes it whatever becomes of the write
	}
}

func (s *Service) recordAcks(batch []ackReq) {
	if len(batch) == 0 {
		return
	}
	s.awaitFlights(batch)
	// Not s.ctx: the last batch is written while Close waits.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	metas := map[string]ackMeta{}
	unknown := map[string]bool{}
	rows := make([]store.DeliveryAck, 0, len(batch))
	reqs := make([]ackReq, 0, len(batch))
	for _, r := range batch {
		id := r.ack.ID
		m, ok := metas[id]
		if !ok && !unknown[id] {
			if m, ok = s.metaFor(ctx, id); ok {
				metas[id] = m
			} else {
				unknown[id] = true
			}
		}
		if !ok || m.orgID != r.orgID {
			s.log.Info("override_ack for an unknown override", "display", r.displayID, "override", id)
			continue
		}
		var latency int64 = -1
		if r.ack.State == protocol.AckPainted {
			latency = max(r.ack.PaintedAt.Sub(m.created).Milliseconds(), 0)
		}
		rows = append(rows, store.DeliveryAck{OverrideID: id, DisplayID: r.displayID, State: r.ack.State, At: r.at,
			PaintedAt: r.ack.PaintedAt, LatencyMS: latency, Error: r.ack.Error})
		reqs = append(reqs, r)
	}
	if len(rows) == 0 {
		return
	}
	outs, err := s.cfg.Store.AckDeliveries(ctx, rows)
	if err != nil {
		s.log.Error("record override_acks", "acks", len(rows), "err", err)
		return
	}
	listening := map[string]bool{} // by organisation
	for i, out := range outs {
		r := reqs[i]
		switch {
		case errors.Is(out.Err, store.ErrNotFound):
			s.log.Info("override_ack from a display the override does not target", "display", r.displayID, "override", r.ack.ID)
			continue
		case out.Err != nil:
			s.log.Error("record override_ack", "display", r.displayID, "override", r.ack.ID, "err", out.Err)
			continue
		case !out.Changed:
			continue
		}
		l, ok := listening[r.orgID]
		if !ok {
			l = s.listening(r.orgID)
			listening[r.orgID] = l
		}
		if !l {
			continue
		}
		d := out.Delivery
		p := Progress{OverrideID: d.OverrideID, DisplayID: r.displayID, State: d.State, Error: d.Error}
		if !d.PaintedAt.IsZero() {
			t := d.PaintedAt
			p.PaintedAt = &t
		}
		if d.LatencyMS >= 0 {
			l := d.LatencyMS
			p.LatencyMS = &l
		}
		s.progress(r.orgID, p)
	}
}

// listen handles doorbells from other servers, and resynchronises on
// Ready and Gap.
func (s *Service) listen(sub *bus.Subscription) {
	for {
		select {
		case <-s.ctx.Done():
			return
		case ev, ok := <-sub.C():
			if !ok {
				return
			}
			switch ev.Kind {
			case bus.Ready:
				s.readyO.Do(func() { close(s.ready) })
				s.resync()
				s.ringAgain()
			case bus.Gap:
				s.resync()
			case bus.Msg:
				if ev.Message.Origin == s.cfg.Bus.Origin() {
					continue // delivered locally when announced
				}
				var d doorbell
				if json.Unmarshal(ev.Message.Payload, &d) != nil || d.ID == "" {
					continue
				}
				s.rung(d)
			}
		}
	}
}

func (s *Service) rung(d doorbell) {
	ctx, cancel := context.WithTimeout(s.ctx, 10*time.Second)
	defer cancel()
	o, err := s.cfg.Store.OverrideByID(ctx, d.ID)
	if err != nil {
		s.log.Warn("override doorbell for an override not in the store", "override", d.ID, "err", err)
		return
	}
	switch d.Op {
	case "override":
		if !o.Live(time.Now()) {
			return
		}
		s.mu.Lock()
		s.expiry[o.ID] = o.ExpiresAt
		s.mu.Unlock()
		s.fanOut(o, nil)
	case "cancel":
		s.fanOutCancel(o, nil)
	}
}

func (s *Service) ringAgain() {
	s.mu.Lock()
	list := make([]doorbell, 0, len(s.unrung))
	for k, d := range s.unrung {
		list = append(list, d)
		delete(s.unrung, k)
	}
	s.mu.Unlock()
	for _, d := range list {
		s.ring(d)
	}
}

// resync re-reads the unexpired overrides from the store and delivers to
// this server's sessions what they may have missed while the bus was
// away: live overrides to displays that have not acknowledged them, and
// cancels to displays that had them.
func (s *Service) resync() {
	ctx, cancel := context.WithTimeout(s.ctx, 60*time.Second)
	defer cancel()
	now := time.Now()
	list, err := s.cfg.Store.UnexpiredOverrides(ctx, now)
	if err != nil {
		s.log.Error("resynchronise overrides", "err", err)
		return
	}
	for _, o := range list {
		ds, err := s.cfg.Store.Deliveries(ctx, o.ID)
		if err != nil {
			s.log.Error("resynchronise overrides", "override", o.ID, "err", err)
			continue
		}
		repaired := false
		if len(ds) == 0 && o.CancelledAt.IsZero() && now.Sub(o.CreatedAt) > repairAfter && len(o.DisplayIDs) > 0 {
			// Stored, but its announcement was cut short before the
			// deliveries were written (the server stopped): write them
			// pending and send it as to displays that missed it.
			s.mu.Lock()
			_, here := s.inflight[o.ID]
			s.mu.Unlock()
			if !here {
				s.log.Warn("override without deliveries; writing them", "override", o.ID, "displays", len(o.DisplayIDs))
				if err := s.cfg.Store.AddDeliveries(ctx, o.ID, map[string][]string{store.DeliveryPending: o.DisplayIDs}, now); err != nil {
					s.log.Error("resynchronise overrides", "override", o.ID, "err", err)
					continue
				}
				for _, id := range o.DisplayIDs {
					ds = append(ds, store.Delivery{OverrideID: o.ID, DisplayID: id, State: store.DeliveryPending})
				}
				repaired = true
			}
		}
		want := map[string]bool{}
		for _, d := range ds {
			switch {
			case o.CancelledAt.IsZero() && (d.State == store.DeliveryPending || d.State == store.DeliveryOffline || d.State == store.DeliverySent):
				want[d.DisplayID] = true
			case !o.CancelledAt.IsZero() && d.State != store.DeliveryEnded && d.State != store.DeliveryUnsupported:
				want[d.DisplayID] = true
			}
		}
		if len(want) == 0 {
			continue
		}
		if o.CancelledAt.IsZero() {
			s.mu.Lock()
			s.expiry[o.ID] = o.ExpiresAt
			s.mu.Unlock()
			s.fanOut(o, want)
			if repaired && !s.cfg.Shared {
				s.markOffline(o)
			}
		} else {
			s.fanOutCancel(o, want)
		}
	}
}

// expire ends the deliveries of overrides as they expire (players end
// them by themselves: no message is sent) and forgets their frames.
func (s *Service) expire() {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-s.ctx.Done():
			return
		case now := <-t.C:
			var due []string
			s.mu.Lock()
			for id, at := range s.expiry {
				if !now.Before(at) {
					due = append(due, id)
					delete(s.expiry, id)
					delete(s.frames, id)
					delete(s.cancels, id)
					delete(s.meta, id)
				}
			}
			s.mu.Unlock()
			for _, id := range due {
				s.ended(id)
			}
		}
	}
}

func (s *Service) ended(id string) {
	ctx, cancel := context.WithTimeout(s.ctx, 30*time.Second)
	defer cancel()
	o, err := s.cfg.Store.OverrideByID(ctx, id)
	if err != nil {
		return
	}
	var ds []store.Delivery
	if s.listening(o.OrgID) { // for the events only
		ds, _ = s.cfg.Store.Deliveries(ctx, id)
	}
	if _, err := s.cfg.Store.EndDeliveries(ctx, id, o.ExpiresAt); err != nil {
		s.log.Error("end override deliveries", "override", id, "err", err)
		return
	}
	for _, d := range ds {
		if d.State == store.DeliverySent || d.State == store.DeliveryReceived || d.State == store.DeliveryNotDue || d.State == store.DeliveryPainted {
			s.progress(o.OrgID, Progress{OverrideID: id, DisplayID: d.DisplayID, State: store.DeliveryEnded})
		}
	}
}
