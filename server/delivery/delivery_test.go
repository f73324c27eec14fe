package delivery

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"slices"
	"sync"
	"testing"
	"time"

	"beacon/protocol"
	"beacon/server/bus"
	"beacon/server/players"
	"beacon/server/store"
)

// hub is the Sessions of a server, kept in memory: the displays with a
// session (with or without the override capability) and the frames
// queued to each. during runs inside SendOverrides, once the frames are
// queued and before the announcement goes on to write the deliveries:
// what players do at that instant (paint and answer, connect).
type hub struct {
	mu      sync.Mutex
	online  map[string]bool // display id → announced the override capability
	frames  map[string]int
	during  func(ids []string)
	fanOuts int
}

func (h *hub) SendOverride(id string, frame []byte) players.SendResult {
	h.mu.Lock()
	defer h.mu.Unlock()
	capable, ok := h.online[id]
	switch {
	case !ok:
		return players.Offline
	case !capable:
		return players.Unsupported
	}
	h.frames[id]++
	return players.Sent
}

func (h *hub) SendOverrides(ids []string, frame []byte) []players.SendResult {
	out := make([]players.SendResult, len(ids))
	for i, id := range ids {
		out[i] = h.SendOverride(id, frame)
	}
	h.mu.Lock()
	h.fanOuts++
	during := h.during
	h.mu.Unlock()
	if during != nil {
		during(ids)
	}
	return out
}

func (h *hub) sent(id string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.frames[id]
}

// announced stores a signed override for displays (as the trigger does,
// without deliveries) and returns it.
func announced(t *testing.T, st *store.Store, key ed25519.PrivateKey, orgID string, displays []string) store.Override {
	t.Helper()
	now := time.Now().UTC()
	spec := protocol.OverrideSpec{ID: store.NewID("ovr"), Revision: 1, Level: protocol.LevelCritical, Presentation: protocol.PresentFullscreen,
		Texts: map[string]string{"en": "EMERGENCY"}, StartsAt: now, ExpiresAt: now.Add(time.Hour), IssuedAt: now, OrgID: orgID, AllDisplays: true}
	signed, err := protocol.SignOverride(key, spec)
	if err != nil {
		t.Fatal(err)
	}
	o, err := st.InsertOverride(context.Background(), store.Override{ID: spec.ID, OrgID: orgID, Level: spec.Level, Presentation: spec.Presentation,
		Texts: spec.Texts, Targets: store.Targets{All: true}, AllDisplays: true, DisplayIDs: displays, StartsAt: now, ExpiresAt: spec.ExpiresAt,
		CreatedBy: "test", CreatedAt: now, Revision: 1, Payload: signed.Payload, Signature: signed.Signature})
	if err != nil {
		t.Fatal(err)
	}
	return o
}

func start(t *testing.T, h *hub) (*Service, *store.Store, ed25519.PrivateKey, string) {
	t.Helper()
	ctx := context.Background()
	st, err := store.Open(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	org, err := st.CreateOrg(ctx, "A")
	if err != nil {
		t.Fatal(err)
	}
	_, key, _ := ed25519.GenerateKey(rand.Reader)
	b := bus.NewLocal()
	t.Cleanup(func() { b.Close() })
	s := New(Config{Store: st, Sessions: h, Key: key, Bus: b, AckTimeout: time.Hour})
	if err := s.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	<-s.Ready()
	return s, st, key, org.ID
}

func eventually(t *testing.T, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("not within 10 s: %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func stateOf(t *testing.T, st *store.Store, overrideID, displayID string) string {
	t.Helper()
	d, err := st.Delivery(context.Background(), overrideID, displayID)
	if err != nil {
		return err.Error()
	}
	return d.State
}

// The frames leave before the deliveries are written: a player that
// paints and acknowledges the override at once (its ack is read, queued
// and its batch written while the deliveries are not in the store yet)
// still has its painted ack recorded, and the deliveries are written in
// their final states, none left pending.
func TestAnAckBeforeTheDeliveriesAreWrittenIsRecorded(t *testing.T) {
	h := &hub{online: map[string]bool{"d1": true, "d2": true, "d4": false}, frames: map[string]int{}}
	s, st, key, orgID := start(t, h)
	o := announced(t, st, key, orgID, []string{"d1", "d2", "d3", "d4"})
	h.during = func(ids []string) {
		// d1 paints and answers; its batch closes after ackQuiet, well
		// within this pause, while the deliveries are not written.
		s.OverrideAck("d1", orgID, protocol.OverrideAck{ID: o.ID, Revision: 1, State: protocol.AckPainted, At: time.Now(), PaintedAt: time.Now()})
		if has, err := st.HasDeliveries(context.Background(), o.ID); err != nil || has {
			t.Errorf("deliveries stored before the frames were queued: %v %v", has, err)
		}
		time.Sleep(10 * ackQuiet)
	}
	s.Announce(o)
	want := map[string]string{"d2": store.DeliverySent, "d3": store.DeliveryOffline, "d4": store.DeliveryUnsupported}
	for id, state := range want {
		if got := stateOf(t, st, o.ID, id); got != state {
			t.Errorf("%s: %s, want %s", id, got, state)
		}
	}
	eventually(t, "d1 painted", func() bool { return stateOf(t, st, o.ID, "d1") == store.DeliveryPainted })
	d, err := st.Delivery(context.Background(), o.ID, "d2")
	if err != nil || d.SentAt.IsZero() {
		t.Errorf("d2 has no sent_at: %+v %v", d, err)
	}
}

// A display whose session is registered after the fan-out passed it, and
// before the deliveries are written (the store does not list the override
// for it yet), is sent the override once they are, and its delivery says
// sent; one that stays away stays offline.
func TestADisplayConnectingDuringTheTriggerGetsTheOverride(t *testing.T) {
	h := &hub{online: map[string]bool{"d1": true}, frames: map[string]int{}}
	s, st, key, orgID := start(t, h)
	o := announced(t, st, key, orgID, []string{"d1", "d2", "d3"})
	h.during = func(ids []string) {
		if !slices.Contains(ids, "d2") {
			return
		}
		h.mu.Lock()
		h.during = nil
		h.online["d2"] = true
		h.mu.Unlock()
		s.Connected("d2", orgID, []string{protocol.CapOverride})
	}
	s.Announce(o)
	eventually(t, "d2 sent the override", func() bool { return h.sent("d2") == 1 })
	eventually(t, "d2 sent", func() bool { return stateOf(t, st, o.ID, "d2") == store.DeliverySent })
	if n := h.sent("d1"); n != 1 {
		t.Errorf("d1 was sent the override %d times", n)
	}
	if got := stateOf(t, st, o.ID, "d3"); got != store.DeliveryOffline {
		t.Errorf("d3: %s", got)
	}
	// Connecting once the deliveries are written: from the store.
	h.mu.Lock()
	h.online["d3"] = true
	h.mu.Unlock()
	s.Connected("d3", orgID, []string{protocol.CapOverride})
	if n := h.sent("d3"); n != 1 {
		t.Errorf("d3 was sent the override %d times on connecting", n)
	}
	if got := stateOf(t, st, o.ID, "d3"); got != store.DeliverySent {
		t.Errorf("d3 after connecting: %s", got)
	}
}

// A retry with the same Idempotency-Key answers after the deliveries of
// the override it names are stored, even while it is being announced.
func TestSettledWaitsForTheDeliveries(t *testing.T) {
	h := &hub{online: map[string]bool{"d1": true}, frames: map[string]int{}}
	s, st, key, orgID := start(t, h)
	o := announced(t, st, key, orgID, []string{"d1", "d2"})
	settled := make(chan bool, 1)
	h.during = func([]string) {
		go func() {
			s.Settled(context.Background(), o.ID)
			has, _ := st.HasDeliveries(context.Background(), o.ID)
			settled <- has
		}()
		time.Sleep(100 * time.Millisecond)
	}
	s.Announce(o)
	if !<-settled {
		t.Fatal("Settled returned before the deliveries were stored")
	}
}
