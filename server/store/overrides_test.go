package store

import (
	"context"
	"errors"
	"testing"
	"time"
)

// TestAckDeliveriesInOneBatch: many players' reports written together
// follow AckDelivery's rules one by one, in order: states only move
// forward, an older report changes nothing, and a display the override
// does not target is ErrNotFound without failing the others.
func TestAckDeliveriesInOneBatch(t *testing.T) {
	ctx := context.Background()
	s, err := Open(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	org, _ := s.CreateOrg(ctx, "A")
	now := time.Date(2026, 11, 30, 8, 0, 0, 0, time.UTC)
	o := Override{ID: "ovr_a", OrgID: org.ID, Level: "critical", Presentation: "fullscreen", Texts: map[string]string{"en": "x"},
		AllDisplays: true, DisplayIDs: []string{"d1", "d2", "d3"}, StartsAt: now, ExpiresAt: now.Add(time.Hour), CreatedAt: now, Revision: 1, Payload: []byte("{}"), Signature: []byte("sig")}
	if _, err := s.CreateOverride(ctx, o, DeliverySent); err != nil {
		t.Fatal(err)
	}
	at := now.Add(time.Second)
	painted := now.Add(1200 * time.Millisecond)
	outs, err := s.AckDeliveries(ctx, []DeliveryAck{
		{OverrideID: o.ID, DisplayID: "d1", State: DeliveryReceived, At: at},
		{OverrideID: o.ID, DisplayID: "d1", State: DeliveryPainted, At: at, PaintedAt: painted, LatencyMS: 1200},
		{OverrideID: o.ID, DisplayID: "d1", State: DeliveryReceived, At: at}, // older: ignored
		{OverrideID: o.ID, DisplayID: "d2", State: DeliveryPainted, At: at, PaintedAt: painted, LatencyMS: 1200},
		{OverrideID: o.ID, DisplayID: "nope", State: DeliveryPainted, At: at, PaintedAt: painted, LatencyMS: 1},
		{OverrideID: o.ID, DisplayID: "d3", State: "bogus", At: at},
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(outs) != 6 {
		t.Fatalf("%d outcomes", len(outs))
	}
	if !outs[0].Changed || outs[0].Delivery.State != DeliveryReceived || !outs[0].Delivery.ReceivedAt.Equal(at) {
		t.Errorf("received: %+v", outs[0])
	}
	if d := outs[1].Delivery; !outs[1].Changed || d.State != DeliveryPainted || !d.PaintedAt.Equal(painted) || d.LatencyMS != 1200 || !d.ReceivedAt.Equal(at) {
		t.Errorf("painted: %+v", outs[1])
	}
	if outs[2].Changed || outs[2].Err != nil {
		t.Errorf("an older report changed the delivery: %+v", outs[2])
	}
	if !outs[3].Changed || outs[3].Delivery.State != DeliveryPainted || !outs[3].Delivery.ReceivedAt.Equal(at) {
		t.Errorf("painted without received: %+v", outs[3])
	}
	if !errors.Is(outs[4].Err, ErrNotFound) || outs[4].Changed {
		t.Errorf("a display not targeted: %+v", outs[4])
	}
	if outs[5].Err == nil || outs[5].Changed {
		t.Errorf("an unknown state: %+v", outs[5])
	}
	ds, err := s.Deliveries(ctx, o.ID)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"d1": DeliveryPainted, "d2": DeliveryPainted, "d3": DeliverySent}
	for _, d := range ds {
		if d.State != want[d.DisplayID] {
			t.Errorf("%s: stored %s, want %s", d.DisplayID, d.State, want[d.DisplayID])
		}
	}
	// A second batch: a delivery received earlier is painted (its
	// received report is not told again), a repeated painted report and a
	// received one after painted change nothing, a display not targeted
	// is ErrNotFound.
	later := at.Add(time.Second)
	outs, err = s.AckDeliveries(ctx, []DeliveryAck{
		{OverrideID: o.ID, DisplayID: "d3", State: DeliveryReceived, At: at},
		{OverrideID: o.ID, DisplayID: "d1", State: DeliveryPainted, At: later, PaintedAt: later, LatencyMS: 5},
		{OverrideID: o.ID, DisplayID: "d2", State: DeliveryReceived, At: later},
		{OverrideID: o.ID, DisplayID: "nope", State: DeliveryReceived, At: later},
	})
	if err != nil {
		t.Fatal(err)
	}
	if !outs[0].Changed || outs[0].Delivery.State != DeliveryReceived {
		t.Errorf("d3 received: %+v", outs[0])
	}
	if outs[1].Changed || outs[1].Err != nil || outs[2].Changed || outs[2].Err != nil {
		t.Errorf("older reports changed something: %+v %+v", outs[1], outs[2])
	}
	if !errors.Is(outs[3].Err, ErrNotFound) {
		t.Errorf("a display not targeted: %+v", outs[3])
	}
	outs, err = s.AckDeliveries(ctx, []DeliveryAck{
		{OverrideID: o.ID, DisplayID: "d3", State: DeliveryReceived, At: later},
		{OverrideID: o.ID, DisplayID: "d3", State: DeliveryPainted, At: later, PaintedAt: later, LatencyMS: 7},
	})
	if err != nil {
		t.Fatal(err)
	}
	if outs[0].Changed || !outs[1].Changed || !outs[1].Delivery.ReceivedAt.Equal(at) || outs[1].Delivery.LatencyMS != 7 {
		t.Errorf("painted after an earlier received: %+v %+v", outs[0], outs[1])
	}
	if d, _ := s.Delivery(ctx, o.ID, "d1"); !d.PaintedAt.Equal(painted) || d.LatencyMS != 1200 {
		t.Errorf("d1 changed by a repeated painted report: %+v", d)
	}
	ds, err = s.Deliveries(ctx, o.ID)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range ds {
		if d.State != DeliveryPainted {
			t.Errorf("%s: stored %s, want painted", d.DisplayID, d.State)
		}
	}
}

// TestAddDeliveriesAfterTheOverride: the override is stored alone, its
// deliveries are written after, each in its final state (sent ones with
// sent_at); written again, a delivery a report has moved on keeps its
// state, a pending one takes the new state.
func TestAddDeliveriesAfterTheOverride(t *testing.T) {
	ctx := context.Background()
	s, err := Open(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	org, _ := s.CreateOrg(ctx, "A")
	now := time.Date(2026, 11, 30, 8, 0, 0, 0, time.UTC)
	o := Override{ID: "ovr_b", OrgID: org.ID, Level: "critical", Presentation: "fullscreen", Texts: map[string]string{"en": "x"},
		AllDisplays: true, DisplayIDs: []string{"d1", "d2", "d3", "d4"}, StartsAt: now, ExpiresAt: now.Add(time.Hour), CreatedAt: now, Revision: 1,
		Payload: []byte("{}"), Signature: []byte("sig"), IdemToken: "tok", IdemKey: "k"}
	if _, err := s.InsertOverride(ctx, o); err != nil {
		t.Fatal(err)
	}
	if has, err := s.HasDeliveries(ctx, o.ID); err != nil || has {
		t.Fatalf("deliveries before they are written: %v %v", has, err)
	}
	again := o
	again.ID = "ovr_c"
	if prev, err := s.InsertOverride(ctx, again); !errors.Is(err, ErrConflict) || prev.ID != o.ID {
		t.Fatalf("the same idempotency key: %v %v", prev.ID, err)
	}
	at := now.Add(time.Second)
	if err := s.AddDeliveries(ctx, o.ID, map[string][]string{DeliverySent: {"d1", "d2"}, DeliveryUnsupported: {"d3"}, DeliveryPending: {"d4"}}, at); err != nil {
		t.Fatal(err)
	}
	if has, err := s.HasDeliveries(ctx, o.ID); err != nil || !has {
		t.Fatalf("no deliveries after they are written: %v %v", has, err)
	}
	if _, err := s.AckDeliveries(ctx, []DeliveryAck{{OverrideID: o.ID, DisplayID: "d1", State: DeliveryPainted, At: at, PaintedAt: at, LatencyMS: 1000}}); err != nil {
		t.Fatal(err)
	}
	later := at.Add(time.Second)
	if err := s.AddDeliveries(ctx, o.ID, map[string][]string{DeliveryOffline: {"d1", "d4"}}, later); err != nil {
		t.Fatal(err)
	}
	ds, err := s.Deliveries(ctx, o.ID)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]Delivery{}
	for _, d := range ds {
		got[d.DisplayID] = d
	}
	want := map[string]string{"d1": DeliveryPainted, "d2": DeliverySent, "d3": DeliveryUnsupported, "d4": DeliveryOffline}
	if len(got) != len(want) {
		t.Errorf("%d deliveries, want %d", len(got), len(want))
	}
	for id, state := range want {
		if got[id].State != state {
			t.Errorf("%s: %s, want %s", id, got[id].State, state)
		}
	}
	if !got["d2"].SentAt.Equal(at) || !got["d3"].SentAt.IsZero() || !got["d4"].UpdatedAt.Equal(later) {
		t.Errorf("times: d2 sent %v, d3 sent %v, d4 updated %v", got["d2"].SentAt, got["d3"].SentAt, got["d4"].UpdatedAt)
	}
	ids, err := s.DisplayIDs(ctx, org.ID)
	if err != nil || len(ids) != 0 {
		t.Errorf("display ids of an organisation without displays: %v %v", ids, err)
	}
}
