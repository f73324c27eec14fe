package delivery

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"

	"beacon/server/store"
)

// Webhook retries: at most webhookAttempts, waiting webhookBackoff, then
// twice as long each time (0.5 s, 1 s, 2 s, 4 s, 8 s).
const (
	webhookAttempts = 6
	webhookBackoff  = 500 * time.Millisecond
)

// Notification is the JSON body POSTed to the alert webhook.
type Notification struct {
	Event      string    `json:"event"` // override_unacknowledged
	OverrideID string    `json:"override_id"`
	OrgID      string    `json:"org_id"`
	Level      string    `json:"level"`
	AckTimeout float64   `json:"ack_timeout_s"`
	At         time.Time `json:"at"`
	Displays   []Unacked `json:"displays"`
}

// watch checks, once the ack timeout has passed after the override
// starts, which displays have not painted it; the server that triggered
// it is the one that watches.
func (s *Service) watch(o store.Override) {
	wait := time.Until(o.StartsAt)
	if wait < 0 {
		wait = 0
	}
	wait += s.cfg.AckTimeout
	s.spawn(func() {
		t := time.NewTimer(wait)
		defer t.Stop()
		select {
		case <-s.ctx.Done():
			return
		case <-t.C:
		}
		s.check(o.ID)
	})
}

func (s *Service) check(id string) {
	ctx, cancel := context.WithTimeout(s.ctx, 30*time.Second)
	defer cancel()
	o, err := s.cfg.Store.OverrideByID(ctx, id)
	now := time.Now()
	if err != nil || !o.ActiveAt(now) {
		return
	}
	if s.cfg.Shared { // nobody sent it by now: it is offline everywhere
		s.markOffline(o)
	}
	ds, err := s.cfg.Store.UnpaintedDeliveries(ctx, id) // the others are not late
	if err != nil {
		s.log.Error("check override acknowledgements", "override", id, "err", err)
		return
	}
	late, notDue := s.sortLate(ctx, o, ds, now)
	if len(notDue) > 0 {
		marked, err := s.cfg.Store.MarkNotDue(ctx, id, notDue, now)
		if err != nil {
			s.log.Error("record displays not due to show an override", "override", id, "err", err)
		}
		for _, d := range marked {
			s.progress(o.OrgID, Progress{OverrideID: id, DisplayID: d, State: store.DeliveryNotDue})
		}
	}
	if len(late) == 0 {
		return
	}
	s.log.Warn("displays did not acknowledge an override in time", "override", id, "displays", len(late), "timeout", s.cfg.AckTimeout)
	s.progress(o.OrgID, Progress{OverrideID: id, State: "unacknowledged", Unacknowledged: late})
	if s.cfg.Webhook == "" {
		return
	}
	n := Notification{Event: "override_unacknowledged", OverrideID: id, OrgID: o.OrgID, Level: o.Level,
		AckTimeout: s.cfg.AckTimeout.Seconds(), At: now.UTC(), Displays: late}
	s.notify(n)
}

// sortLate splits the deliveries that are not painted after the ack
// timeout into those that raise the alarm (late) and those whose screen
// is legitimately not showing the override, which do not:
//   - offline: the display was not connected when the override was sent
//     (nor since); it is sent when it connects. The deliveries list says
//     offline; the alarm is for screens that should show it and do not.
//   - not_due: the player has it (received) but the override does not
//     wake screens and the display is outside its operating hours now
//     (evaluated with the display's own program, as its player does). It
//     is painted, and reported painted, when the hours begin.
//
// Everything else not painted raises it: sent with no answer, received
// when the screen should be on, refused, unsupported, pending.
func (s *Service) sortLate(ctx context.Context, o store.Override, ds []store.Delivery, now time.Time) (late []Unacked, notDue []string) {
	var received []string
	for _, d := range ds {
		if d.State == store.DeliveryReceived && !o.Wake {
			received = append(received, d.DisplayID)
		}
	}
	var off map[string]bool
	if len(received) > 0 && s.cfg.OffHours != nil {
		var err error
		if off, err = s.cfg.OffHours(ctx, o.OrgID, received, now); err != nil {
			// Unknown: they raise the alarm rather than be silenced.
			s.log.Error("operating hours of displays that have not painted an override", "override", o.ID, "err", err)
		}
	}
	for _, d := range ds {
		switch {
		case d.State == store.DeliveryPainted, d.State == store.DeliveryEnded,
			d.State == store.DeliveryOffline, d.State == store.DeliveryNotDue:
		case d.State == store.DeliveryReceived && off[d.DisplayID]:
			notDue = append(notDue, d.DisplayID)
		default:
			late = append(late, Unacked{DisplayID: d.DisplayID, State: d.State})
		}
	}
	return late, notDue
}

// notify POSTs n to the webhook, retrying with backoff while it fails
// (a network error or a status other than 2xx), a bounded number of times.
func (s *Service) notify(n Notification) {
	body, _ := json.Marshal(n)
	wait := webhookBackoff
	for attempt := 1; ; attempt++ {
		err := s.post(body)
		if err == nil {
			return
		}
		if attempt == webhookAttempts {
			s.log.Error("alert webhook failed; giving up", "override", n.OverrideID, "attempts", attempt, "err", err)
			return
		}
		s.log.Warn("alert webhook failed; retrying", "override", n.OverrideID, "attempt", attempt, "in", wait, "err", err)
		select {
		case <-s.ctx.Done():
			return
		case <-time.After(wait):
		}
		wait *= 2
	}
}

func (s *Service) post(body []byte) error {
	ctx, cancel := context.WithTimeout(s.ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.cfg.Webhook, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "beacon-alerts")
	resp, err := s.cfg.HTTPClient.Do(req)
	if err != nil {
		return err
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("webhook answered %s", resp.Status)
	}
	return nil
}
