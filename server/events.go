package server

import (
	"bufio"
	"encoding/json"
	"fmt"
	"sync"
	"time"

	"github.com/gofiber/fiber/v2"
)

// Event is a live notification for the console (job progress, media
// status), delivered over server-sent events.
type Event struct {
	Type string `json:"type"` // job, media
	Data any    `json:"data"`
}

// events fans events out to an organisation's listeners. A listener that
// does not keep up loses events (the API stays the truth), never blocks.
type events struct {
	mu   sync.Mutex
	subs map[string]map[chan Event]bool // by org id
}

func newEvents() *events { return &events{subs: map[string]map[chan Event]bool{}} }

func (e *events) publish(orgID string, ev Event) {
	e.mu.Lock()
	defer e.mu.Unlock()
	for ch := range e.subs[orgID] {
		select {
		case ch <- ev:
		default:
		}
	}
}

// listening reports whether anyone listens to an organisation's events.
func (e *events) listening(orgID string) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return len(e.subs[orgID]) > 0
}

func (e *events) subscribe(orgID string) (chan Event, func()) {
	ch := make(chan Event, 64)
	e.mu.Lock()
	if e.subs[orgID] == nil {
		e.subs[orgID] = map[chan Event]bool{}
	}
	e.subs[orgID][ch] = true
	e.mu.Unlock()
	return ch, func() {
		e.mu.Lock()
		delete(e.subs[orgID], ch)
		e.mu.Unlock()
	}
}

// streamEvents serves GET /api/v1/events as text/event-stream.
func (s *Server) streamEvents(c *fiber.Ctx) error {
	org := who(c).OrgID
	c.Set(fiber.HeaderContentType, "text/event-stream")
	c.Set(fiber.HeaderCacheControl, "no-cache")
	c.Set("X-Accel-Buffering", "no")
	ch, unsubscribe := s.events.subscribe(org)
	done := s.bg.Done()
	c.Context().SetBodyStreamWriter(func(w *bufio.Writer) {
		defer unsubscribe()
		fmt.Fprint(w, ": beacon events\n\n")
		if w.Flush() != nil {
			return
		}
		keepalive := time.NewTicker(15 * time.Second)
		defer keepalive.Stop()
		for {
			select {
			case ev := <-ch:
				b, _ := json.Marshal(ev.Data)
				fmt.Fprintf(w, "event: %s\ndata: %s\n\n", ev.Type, b)
			case <-keepalive.C:
				fmt.Fprint(w, ": keepalive\n\n")
			case <-done:
				return
			}
			if w.Flush() != nil {
				return // the client went away
			}
		}
	})
	return nil
}
