package server

import (
	"context"
	"time"
)

// displayChanged tells the organisation's console listeners a display's
// current view (the "display" event): online state, now playing, last
// seen, manifest state. Nothing is read when nobody listens. orgID may be
// "" when the caller does not know it.
func (s *Server) displayChanged(displayID, orgID string) {
	if orgID != "" && !s.events.listening(orgID) {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	d, err := s.store.DisplayByID(ctx, displayID)
	if err != nil || orgID != "" && d.OrgID != orgID {
		return // deleted meanwhile: its deletion has its own event
	}
	if !s.events.listening(d.OrgID) {
		return
	}
	s.events.publish(d.OrgID, Event{Type: "display", Data: s.displayView(d)})
}
