package player

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"beacon/player/cache"
	"beacon/player/web"
	"beacon/playlists"
	"beacon/protocol"
)

// maxProgramWait bounds how long the program loop sleeps without looking
// at the clock again, so a stepped wall clock is noticed.
const maxProgramWait = 30 * time.Second

// minProgramWait keeps a program whose next change is now (or in the past)
// from spinning the loop.
const minProgramWait = 10 * time.Millisecond

// ZoneStatus is what one zone of a program shows, as reported by /status.
type ZoneStatus struct {
	Zone       string    `json:"zone"`
	ItemID     string    `json:"item_id"`
	Kind       string    `json:"kind"`
	SHA256     string    `json:"sha256,omitempty"`
	ScheduleID string    `json:"schedule_id,omitempty"`
	StartedAt  time.Time `json:"started_at"`
	// Shown: the renderer reported this item painted (only then does its
	// play count as proof of play).
	Shown bool `json:"shown"`

	seq uint64 // show command
}

// decodeProgram decodes and validates a manifest's program.
func decodeProgram(raw json.RawMessage) (*playlists.Program, error) {
	var prog playlists.Program
	if err := json.Unmarshal(raw, &prog); err != nil {
		return nil, fmt.Errorf("program: %w", err)
	}
	if err := prog.Validate(); err != nil {
		return nil, fmt.Errorf("program: %w", err)
	}
	return &prog, nil
}

// zonePlay is an item on screen in a zone.
type zonePlay struct {
	key        string // item, variant file and scheduled start: a new key is a new play
	zone       string
	itemID     string
	kind       playlists.Kind
	sha        string
	scheduleID string
	start      time.Time // when it was put on screen (its proof of play starts when the renderer paints it)
	seq        uint64    // its show command, echoed by the renderer's report
}

// progState is what a program has put on screen. It outlives one manifest:
// an item still on screen under the next manifest's program goes on
// playing (and its play goes on) rather than restarting.
type progState struct {
	cur       map[string]*zonePlay
	preloaded map[string]string // zone → url already preloaded
	layoutKey string
	active    bool // a program has run since the last leaveProgram
}

func newProgState() *progState {
	return &progState{cur: map[string]*zonePlay{}, preloaded: map[string]string{}}
}

// leaveProgram ends whatever a program put on screen.
func (p *Player) leaveProgram(ps *progState) {
	if !ps.active {
		return
	}
	ps.active = false
	clear(ps.cur)
	clear(ps.preloaded)
	ps.layoutKey = ""
	p.screenClear(p.now())
	p.setProgramState(false, nil)
}

// playable reports whether an item's variant can start: media files must
// be verified in the cache; text and clocks always can; web pages need a URL.
func (p *Player) playable(it playlists.Item, v playlists.Variant) bool {
	switch it.Kind {
	case playlists.KindText, playlists.KindClock:
		return true
	case playlists.KindWeb:
		return v.URL != "" || p.fileReady(v.SHA256)
	default:
		return p.fileReady(v.SHA256)
	}
}

// fileReady reports whether sha is in the cache and verifies. A file is
// re-hashed the first time it is asked about and again whenever its size
// or modification time change; a corrupt file is removed and fetched again.
func (p *Player) fileReady(sha string) bool {
	if !protocol.ValidSHA256(sha) {
		return false
	}
	fi, err := os.Stat(p.cache.Path(sha))
	if err != nil || !fi.Mode().IsRegular() {
		return false
	}
	p.mu.Lock()
	bad := p.badFiles[sha]
	stamp, known := p.verified[sha]
	p.mu.Unlock()
	if bad {
		return false
	}
	if known && stamp.size == fi.Size() && stamp.mod.Equal(fi.ModTime()) {
		return true
	}
	hashed, err := p.cache.Check(sha)
	if err != nil {
		p.mu.Lock()
		delete(p.verified, sha)
		p.mu.Unlock()
		if errors.Is(err, cache.ErrCorrupt) {
			p.cacheTampered(sha, err)
		}
		return false
	}
	p.mu.Lock()
	p.verified[sha] = fileStamp{size: hashed.Size(), mod: hashed.ModTime()}
	p.mu.Unlock()
	p.cache.Used(p.now(), sha)
	return true
}

// fileStamp is what a cached file looked like when it last verified.
type fileStamp struct {
	size int64
	mod  time.Time
}

// alarm returns a channel that fires when the player's clock reaches at.
func (p *Player) alarm(at time.Time) (<-chan time.Time, func()) {
	if p.cfg.Alarm != nil {
		return p.cfg.Alarm(at)
	}
	t := time.NewTimer(at.Sub(p.now()))
	return t.C, func() { t.Stop() }
}

// runProgram plays a manifest's program until the manifest changes,
// pairing starts or ctx is done. Plays are journalled as the renderer
// reports them (see screen).
func (p *Player) runProgram(ctx context.Context, gen uint64, m *protocol.Manifest, prog *playlists.Program, ps *progState) {
	opts := playlists.Options{Playable: p.playable}
	cp := playlists.Compile(prog) // evaluated for as long as this manifest plays
	cur, preloaded := ps.cur, ps.preloaded
	ps.active = true

	for ctx.Err() == nil {
		p.mu.Lock()
		interrupted := p.gen != gen || p.pairingCode != "" || p.ident.DisplayID == ""
		p.mu.Unlock()
		if interrupted {
			return
		}
		now := p.now()
		n := cp.At(now, opts)
		switch {
		case n.Off:
			clear(cur)
			clear(preloaded)
			ps.layoutKey = ""
			p.screenClear(now)
			p.setProgramState(true, nil)
			p.hub.render(rendererCmd{Type: cmdOff})
		default:
			seen := map[string]bool{}
			anything := false
			for _, zn := range n.Zones {
				seen[zn.Zone] = true
				if zn.Item != nil {
					anything = true
				}
			}
			// Zones that went away or became empty end their plays.
			for z := range cur {
				if !seen[z] {
					p.screenEnd(z, now)
					delete(cur, z)
				}
			}
			if !anything {
				clear(cur)
				clear(preloaded)
				ps.layoutKey = ""
				p.screenClear(now)
				p.setProgramState(false, nil)
				p.hub.render(rendererCmd{Type: cmdWaiting})
				break
			}
			lk := layoutCommandKey(prog, n)
			relayout := lk != ps.layoutKey
			if relayout {
				ps.layoutKey = lk
				clear(preloaded)
				p.hub.render(layoutCommand(prog, n))
			}
			for _, zn := range n.Zones {
				old := cur[zn.Zone]
				if zn.Item == nil {
					if old != nil {
						p.screenEnd(zn.Zone, now)
						delete(cur, zn.Zone)
					}
					if old != nil || relayout {
						p.hub.render(rendererCmd{Type: cmdClear, Zone: zn.Zone})
					}
					continue
				}
				key := playKey(zn)
				if old != nil && old.key == key {
					if relayout {
						cmd := showCommand(m, zn)
						cmd.Seq = old.seq
						p.hub.render(cmd)
					}
					continue
				}
				// The item it replaces stays on screen, and its play goes
				// on, until the renderer reports the new one painted.
				start := zn.Start
				if start.Before(now) {
					start = now
				}
				zp := &zonePlay{
					key: key, zone: zn.Zone, itemID: zn.Item.ID, kind: zn.Item.Kind,
					sha: zn.Variant.SHA256, scheduleID: zn.ScheduleID, start: start,
				}
				zp.seq = p.screen.show(screenPlay{zone: zp.zone, itemID: zp.itemID, sha: zp.sha, scheduleID: zp.scheduleID})
				cur[zn.Zone] = zp
				delete(preloaded, zn.Zone)
				cmd := showCommand(m, zn)
				cmd.Seq = zp.seq
				p.hub.render(cmd)
			}
			p.setProgramState(false, zoneStatuses(n.Zones, cur))
			p.preloadNext(cp, n, opts, cur, preloaded)
		}
		// Overrides are applied over whatever the program shows (or with
		// the screen off, those that wake it), and their next change is
		// waited for with the program's.
		next := n.Next
		if on := p.applyOverrides(); !on.IsZero() && (next.IsZero() || on.Before(next)) {
			next = on
		}
		if !p.waitProgram(ctx, now, next) {
			return
		}
	}
}

// waitProgram sleeps until next on the player's clock, a wake-up or ctx
// is done (false).
func (p *Player) waitProgram(ctx context.Context, now, next time.Time) bool {
	d := maxProgramWait
	if !next.IsZero() {
		d = min(max(next.Sub(now), minProgramWait), maxProgramWait)
	}
	ch, stop := p.alarm(now.Add(d))
	defer stop()
	select {
	case <-ctx.Done():
		return false
	case <-ch:
	case <-p.wake:
	}
	return true
}

// preloadNext tells the renderer to load the next video or audio item of
// each zone ahead of its start, when its file is cached, so it starts
// without a gap.
func (p *Player) preloadNext(cp *playlists.Compiled, n playlists.Now, opts playlists.Options, cur map[string]*zonePlay, preloaded map[string]string) {
	byEnd := map[time.Time]*playlists.Now{}
	for _, zn := range n.Zones {
		if zn.Item == nil || zn.End.IsZero() || !zn.End.After(n.At) {
			continue
		}
		next, ok := byEnd[zn.End]
		if !ok {
			nn := cp.At(zn.End, opts)
			next = &nn
			byEnd[zn.End] = next
		}
		if next.Off {
			continue
		}
		for _, nz := range next.Zones {
			if nz.Zone != zn.Zone || nz.Item == nil || (nz.Item.Kind != playlists.KindVideo && nz.Item.Kind != playlists.KindAudio) {
				continue
			}
			if zp := cur[zn.Zone]; zp != nil && zp.key == playKey(nz) {
				continue
			}
			url := "/content/" + nz.Variant.SHA256
			if preloaded[zn.Zone] == url || !p.fileReady(nz.Variant.SHA256) {
				continue
			}
			preloaded[zn.Zone] = url
			p.hub.render(rendererCmd{Type: cmdPreload, Zone: zn.Zone, Kind: string(nz.Item.Kind), URL: url, SHA256: nz.Variant.SHA256, ItemID: nz.Item.ID})
		}
	}
}

func playKey(zn playlists.ZoneNow) string {
	return zn.Item.ID + "|" + zn.Variant.SHA256 + "|" + zn.Lang + "|" + zn.Start.UTC().Format(time.RFC3339Nano)
}

// zoneStatuses lists the zones that show something, in layout order.
func zoneStatuses(zones []playlists.ZoneNow, cur map[string]*zonePlay) []ZoneStatus {
	var out []ZoneStatus
	for _, zn := range zones {
		zp := cur[zn.Zone]
		if zp == nil {
			continue
		}
		out = append(out, ZoneStatus{
			Zone: zp.zone, ItemID: zp.itemID, Kind: string(zp.kind), SHA256: zp.sha,
			ScheduleID: zp.scheduleID, StartedAt: zp.start.UTC(), seq: zp.seq,
		})
	}
	return out
}

// setProgramState records what a program shows: off, or the zones. The
// main zone (or the first zone showing something) is the now-playing item.
func (p *Player) setProgramState(off bool, zones []ZoneStatus) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.off = off
	p.zones = zones
	p.nowPlaying = nil
	for i, z := range zones {
		if z.Zone == playlists.MainZone || i == 0 {
			p.nowPlaying = &protocol.NowPlaying{ItemID: z.ItemID, SHA256: z.SHA256, StartedAt: z.StartedAt}
			if z.Zone == playlists.MainZone {
				break
			}
		}
	}
}

// layoutCommand places the zones of n on the display.
func layoutCommand(prog *playlists.Program, n playlists.Now) rendererCmd {
	return web.LayoutCommand(prog, n)
}

func layoutCommandKey(prog *playlists.Program, n playlists.Now) string {
	var b strings.Builder
	b.WriteString(n.LayoutID)
	for _, zn := range n.Zones {
		fmt.Fprintf(&b, "|%s:%d,%d,%d,%d,%d", zn.Zone, zn.Rect.X, zn.Rect.Y, zn.Rect.W, zn.Rect.H, zn.Z)
	}
	return b.String()
}

// showCommand puts a zone's item on screen.
func showCommand(m *protocol.Manifest, zn playlists.ZoneNow) rendererCmd {
	return web.ShowCommand(m.Display.Fit, m.Display.Background, zn, "/content/")
}
