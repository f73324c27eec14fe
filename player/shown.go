package player

import (
	"sync"
	"time"

	"beacon/protocol"
)

// minPlayRecord is the shortest play journalled: an item painted and
// replaced within it was not seen by anyone.
const minPlayRecord = 250 * time.Millisecond

// screen is what the renderer really shows, zone by zone, as the page
// reports it. Proof of play comes from here, never from the schedule: a
// play starts when the renderer reports its show command painted (echoing
// the command's seq) and ends when the renderer paints the zone's next
// item, when the zone is cleared or the screen changes (off, waiting,
// pairing), when the last renderer disconnects, or when the player stops.
// With no renderer connected nothing is journalled.
type screen struct {
	mu      sync.Mutex
	covered bool // a covering override is painted: nothing of the program is seen
	seq     uint64
	painted map[string]*screenPlay // zone → on screen since start
	pending map[string]*screenPlay // zone → sent, not painted yet
}

// screenPlay is one item in one zone; seq identifies its show command.
type screenPlay struct {
	seq        uint64
	zone       string
	itemID     string
	sha        string
	scheduleID string
	start      time.Time // when the renderer reported it painted
}

func newScreen() *screen {
	return &screen{painted: map[string]*screenPlay{}, pending: map[string]*screenPlay{}}
}

// show registers a show command about to be sent and returns its seq.
func (s *screen) show(sp screenPlay) uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.seq++
	sp.seq = s.seq
	s.pending[sp.zone] = &sp
	return sp.seq
}

// paint handles the renderer's report that the show seq is on screen in
// zone at now. It returns the play it replaced, if any.
func (s *screen) paint(zone string, seq uint64, now time.Time) (ended *screenPlay) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sp := s.pending[zone]
	if sp == nil || sp.seq != seq || s.covered {
		// Stale, unknown, already painted (a re-show), or painted under a
		// covering override: it starts when the page reports it again
		// after the override is taken down.
		return nil
	}
	delete(s.pending, zone)
	ended = s.painted[zone]
	sp.start = now
	s.painted[zone] = sp
	return ended
}

// end takes the play of zone off the screen (and forgets a show not yet
// painted). It returns the play that ended, if any.
func (s *screen) end(zone string) *screenPlay {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.pending, zone)
	sp := s.painted[zone]
	delete(s.painted, zone)
	return sp
}

// clear takes every zone off the screen.
func (s *screen) clear() []*screenPlay {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []*screenPlay
	for z, sp := range s.painted {
		out = append(out, sp)
		delete(s.painted, z)
	}
	clear(s.pending)
	return out
}

// lost handles the last renderer going away: what it painted is no longer
// on screen. The shows stay pending, so a renderer that comes back (and
// gets the scene again) starts new plays when it paints them.
func (s *screen) lost() []*screenPlay {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []*screenPlay
	for z, sp := range s.painted {
		out = append(out, sp)
		delete(s.painted, z)
		if s.pending[z] == nil {
			again := *sp
			again.start = time.Time{}
			s.pending[z] = &again
		}
	}
	return out
}

// cover handles a covering override (fullscreen, blank, slate) painted
// over the zones: their plays end now, and start again only when the
// renderer reports them painted after uncover (the page re-reports every
// zone when the override is taken down). Shows sent meanwhile wait too.
func (s *screen) cover() []*screenPlay {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.covered = true
	var out []*screenPlay
	for z, sp := range s.painted {
		out = append(out, sp)
		delete(s.painted, z)
		if s.pending[z] == nil {
			again := *sp
			again.start = time.Time{}
			s.pending[z] = &again
		}
	}
	return out
}

// uncover lets plays start again: the covering override is going away.
func (s *screen) uncover() {
	s.mu.Lock()
	s.covered = false
	s.mu.Unlock()
}

// isPainted reports whether show seq is on screen in zone.
func (s *screen) isPainted(zone string, seq uint64) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	sp := s.painted[zone]
	return sp != nil && sp.seq == seq
}

// journalPlays journals plays that ended at end.
func (p *Player) journalPlays(end time.Time, plays ...*screenPlay) {
	for _, sp := range plays {
		if sp == nil || sp.start.IsZero() || end.Sub(sp.start) < minPlayRecord {
			continue
		}
		p.recordPlay(protocol.PlayRecord{
			Zone: sp.zone, ItemID: sp.itemID, SHA256: sp.sha, ScheduleID: sp.scheduleID,
			Start: sp.start, End: end,
		})
	}
}

// rendererPainted handles a renderer's report that show seq is painted.
func (p *Player) rendererPainted(zone string, seq uint64) {
	if seq == 0 {
		return
	}
	now := p.now()
	if ended := p.screen.paint(zone, seq, now); ended != nil {
		p.journalPlays(now, ended)
	}
}

// rendererLost handles the last renderer disconnecting.
func (p *Player) rendererLost() {
	p.journalPlays(p.now(), p.screen.lost()...)
}

// screenEnd takes zone off the screen (a clear).
func (p *Player) screenEnd(zone string, now time.Time) {
	p.journalPlays(now, p.screen.end(zone))
}

// screenClear takes everything off the screen (off, waiting, pairing, stop).
func (p *Player) screenClear(now time.Time) {
	p.journalPlays(now, p.screen.clear()...)
}
