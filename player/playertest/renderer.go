package playertest

import (
	"context"
	"net/http"
	"sync"
	"time"

	"github.com/gorilla/websocket"

	"beacon/player"
)

// Renderer stands in for the renderer page: it connects to a player's
// /renderer/ws as the page does (with the player's origin), records every
// command, and reports each program show painted as soon as it arrives,
// as a page that paints instantly would. A player journals proof of play
// only for shows a renderer reported painted. Override commands are
// reported painted too; under a covering override shows are not reported
// until it is taken down, when every zone's show is reported again, as the
// page does.
type Renderer struct {
	c        *websocket.Conn
	mu       sync.Mutex
	cmds     []map[string]any
	done     chan struct{}
	zones    map[string]map[string]any // zone → last shown report
	covering bool
}

// DialRenderer connects a stand-in renderer to the player listening on addr.
func DialRenderer(ctx context.Context, addr string) (*Renderer, error) {
	c, _, err := websocket.DefaultDialer.DialContext(ctx, "ws://"+addr+"/renderer/ws", http.Header{"Origin": {"http://" + addr}})
	if err != nil {
		return nil, err
	}
	r := &Renderer{c: c, done: make(chan struct{}), zones: map[string]map[string]any{}}
	go r.read()
	return r, nil
}

func (r *Renderer) read() {
	defer close(r.done)
	for {
		var m map[string]any
		if err := r.c.ReadJSON(&m); err != nil {
			return
		}
		r.mu.Lock()
		r.cmds = append(r.cmds, m)
		var out []map[string]any
		seq, _ := m["seq"].(float64)
		uncover := false
		switch m["type"] {
		case "show":
			rep := map[string]any{"type": "shown", "zone": m["zone"], "sha256": m["sha256"], "item_id": m["item_id"], "seq": uint64(seq)}
			if z, _ := m["zone"].(string); z != "" {
				r.zones[z] = rep
			}
			if !r.covering {
				out = append(out, rep)
			}
		case "clear":
			z, _ := m["zone"].(string)
			delete(r.zones, z)
		case "layout", "off", "waiting", "pairing", "blank":
			clear(r.zones)
		case "override":
			cov, _ := m["covering"].(bool)
			uncover = r.covering && !cov
			r.covering = cov
			out = append(out, map[string]any{"type": "override_shown", "id": m["id"], "seq": uint64(seq)})
		case "override_clear":
			uncover = r.covering
			r.covering = false
		}
		if uncover {
			for _, rep := range r.zones {
				out = append(out, rep)
			}
		}
		r.mu.Unlock()
		for _, rep := range out {
			_ = r.c.WriteJSON(rep)
		}
	}
}

// Commands returns the commands received so far.
func (r *Renderer) Commands() []map[string]any {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]map[string]any(nil), r.cmds...)
}

// Close disconnects the renderer and waits for its reader to stop.
func (r *Renderer) Close() error {
	err := r.c.Close()
	<-r.done
	return err
}

// AllShown returns a condition for Clock.Settle: every zone the player
// shows has been reported painted by its renderer.
func AllShown(p *player.Player) func() bool {
	return func() bool {
		for _, z := range p.Status().Zones {
			if !z.Shown {
				return false
			}
		}
		return true
	}
}

// settle waits until f holds, polling; false if it never does within d.
func settle(f func() bool, d time.Duration) bool {
	deadline := time.Now().Add(d)
	for !f() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(200 * time.Microsecond)
	}
	return true
}
