package playlists

import (
	"sort"
	"time"
)

func toMS(t time.Time) int64 { return t.UnixMilli() }

func (c *Compiled) tm(ms int64) time.Time { return time.UnixMilli(ms).In(c.zc.loc) }

func (c *Compiled) schedID(i int32) string {
	if i < 0 {
		return ""
	}
	return c.scheds[i].s.ID
}

// At returns what the display shows at instant t. It compiles p afresh:
// to evaluate one Program more than once, Compile it and use Compiled.At.
func At(p *Program, t time.Time, opt Options) Now { return Compile(p).At(t, opt) }

// At returns what the display shows at instant t.
func (c *Compiled) At(t time.Time, opt Options) Now {
	now := Now{At: t, Zones: []ZoneNow{}}
	tm := toMS(t)
	day, idx, ok := c.hoursAt(tm)
	if !ok {
		now.Off = true
		now.Why = "outside operating hours"
		if nx, ok := c.nextHours(tm); ok {
			now.Next = c.tm(nx)
		}
		return now
	}
	pl := c.planFor(day, idx, opt.Playable)
	sp := pl.spanAt(tm)
	now.Why = sp.why
	next := sp.e
	if sp.layout != nil {
		now.LayoutID = sp.layout.id
	}
	si := pl.slotsFrom(tm)
	var active *slot
	if si < len(pl.slots) && pl.slots[si].s <= tm {
		active = &pl.slots[si]
	}
	if active != nil {
		now.Why += "; " + c.irqWhy(active)
		if sp.layout == nil || sp.layout.main < 0 {
			maxZ := 0
			if sp.layout != nil {
				for _, z := range sp.layout.zones {
					maxZ = max(maxZ, z.z)
				}
			}
			zn := c.slotNow(active, cZone{id: MainZone, rect: c.fullLay.zones[0].rect, z: maxZ + 1})
			now.Zones = append(now.Zones, zn)
			now.Next = c.tm(min(next, active.e))
			return now
		}
	}
	for zi := range sp.zones {
		zp := &sp.zones[zi]
		target := sp.irqTarget(zi)
		if target && active != nil {
			zn := c.slotNow(active, zp.zone)
			next = min(next, active.e)
			now.Zones = append(now.Zones, zn)
			continue
		}
		ent, ps, pe := zp.at(tm)
		if target {
			// the piece of this play between interrupt slots
			if si < len(pl.slots) && pl.slots[si].s < pe {
				pe = pl.slots[si].s
			}
			if si > 0 && pl.slots[si-1].e > ps {
				ps = pl.slots[si-1].e
			}
		}
		next = min(next, pe)
		zn := ZoneNow{Zone: zp.zone.id, Rect: zp.zone.rect, Z: zp.zone.z, Start: c.tm(ps), End: c.tm(pe), Why: sp.why}
		if ent != nil {
			c.fillZone(&zn, ent)
		}
		now.Zones = append(now.Zones, zn)
	}
	now.Next = c.tm(next)
	return now
}

func (c *Compiled) irqWhy(s *slot) string {
	cs := c.scheds[s.sched]
	return "interrupt " + cs.s.ID + " (" + itoa(int(cs.irq/msPerSec)) + " s per hour)"
}

func (c *Compiled) slotNow(s *slot, z cZone) ZoneNow {
	zn := ZoneNow{Zone: MainZone, Rect: z.rect, Z: z.z, Start: c.tm(s.s), End: c.tm(s.e), Interrupt: true, Why: c.irqWhy(s)}
	c.fillZone(&zn, &s.ent)
	return zn
}

func (c *Compiled) fillZone(zn *ZoneNow, e *flatEnt) {
	zn.Item = e.item.it
	zn.Lang = e.item.lang
	zn.Variant = e.item.v
	zn.DurationS = float64(e.dur) / 1000
	zn.ScheduleID = c.schedID(e.sched)
	zn.PlaylistID = e.top
	if e.inner != nil {
		zn.Transition = e.inner.Transition
	}
}

// forPlans calls fn for every plan of an operating-hours span meeting
// [f, t), in order, until fn returns false.
func (c *Compiled) forPlans(f, t int64, playable func(Item, Variant) bool, fn func(*plan) bool) {
	if t <= f {
		return
	}
	for d := c.zc.dayOf(f) - 1; d <= c.zc.dayOf(t-1); d++ {
		for i, o := range c.hoursOn(d) {
			if o.e <= f || o.s >= t {
				continue
			}
			if !fn(c.planFor(d, i, playable)) {
				return
			}
		}
	}
}

// Timeline is Compile(p).Timeline(from, to, opt).
func Timeline(p *Program, from, to time.Time, opt Options) []Play {
	return Compile(p).Timeline(from, to, opt)
}

// Timeline returns every play on the display in [from, to), sorted by
// Start then Zone. Plays are clipped to [from, to); within a zone they
// never overlap. Empty zones (nothing playable) have no plays. The whole
// list is built in memory: over long periods or short items, use Plays.
func (c *Compiled) Timeline(from, to time.Time, opt Options) []Play {
	f, t := toMS(from), toMS(to)
	var plans []*plan
	c.forPlans(f, t, opt.Playable, func(pl *plan) bool { plans = append(plans, pl); return true })
	n := 0
	for _, pl := range plans {
		n += pl.countPlays(f, t)
	}
	out := make([]Play, 0, n)
	em := emitter{c: c, f: f, t: t, sink: func(p Play) bool { out = append(out, p); return true }}
	for _, pl := range plans {
		if !em.plan(pl) {
			break
		}
	}
	return out
}

// Plays yields the same plays as Timeline, in the same order, one at a
// time and without building the whole list: for reports and exports over
// long periods, and the benchmark.
func Plays(p *Program, from, to time.Time, opt Options, yield func(Play) bool) {
	Compile(p).Plays(from, to, opt, yield)
}

// Plays yields the same plays as Timeline, in the same order, one at a
// time and without building the whole list; it stops when yield returns
// false.
func (c *Compiled) Plays(from, to time.Time, opt Options, yield func(Play) bool) {
	f, t := toMS(from), toMS(to)
	em := emitter{c: c, f: f, t: t, sink: yield}
	c.forPlans(f, t, opt.Playable, em.plan)
}

// countPlays bounds the number of plays of a plan in [f, t) from above,
// to allocate the timeline once.
func (pl *plan) countPlays(f, t int64) int {
	n := 0
	for k := range pl.spans {
		sp := &pl.spans[k]
		if sp.e <= f || sp.s >= t {
			continue
		}
		for zi := range sp.zones {
			for g := range sp.zones[zi].segs {
				sg := &sp.zones[zi].segs[g]
				lo, hi := max(sg.s, f), min(sg.e, t)
				if lo >= hi || len(sg.rot) == 0 {
					continue
				}
				period := sg.cum[len(sg.rot)]
				span := hi - lo
				n += int(span/period)*len(sg.rot) + upper(sg.cum, span%period) + 1
			}
			if sp.irqTarget(zi) {
				n += len(pl.slots) // a slot splits a play in two
			}
		}
	}
	return n + len(pl.slots)
}

type emitter struct {
	c    *Compiled
	f, t int64
	sink func(Play) bool // false stops the emission
}

// zcur walks one zone's plays in a span, cut around interrupt slots, or
// (with slotsOnly) the interrupt slots themselves.
type zcur struct {
	zone  string
	rank  int
	zp    *zonePlan
	slots []slot
	irq   bool // yields slots
	g, q  int
	ps    int64 // next loop play start
	segHi int64
	// current play being cut into pieces
	in    bool
	ent   *flatEnt
	a, pe int64
	k, j  int // first slot ending after the play's start; next slot to cut with
	// head piece
	hs, he int64
	hent   *flatEnt
	done   bool
}

func (z *zcur) startSeg(f, t int64) bool {
	for ; z.g < len(z.zp.segs); z.g++ {
		sg := &z.zp.segs[z.g]
		lo, hi := max(sg.s, f), min(sg.e, t)
		if lo >= hi || len(sg.rot) == 0 {
			continue
		}
		period := sg.cum[len(sg.rot)]
		off := (lo - sg.s) % period
		z.q = upper(sg.cum, off) - 1
		z.ps = lo - (off - sg.cum[z.q])
		z.segHi = hi
		return true
	}
	return false
}

// advance sets the head to the next piece, or done.
func (z *zcur) advance(f, t int64) {
	if z.irq {
		for z.k < len(z.slots) {
			sl := &z.slots[z.k]
			z.k++
			if sl.e > f && sl.s < t {
				z.hs, z.he, z.hent = max(sl.s, f), min(sl.e, t), &sl.ent
				return
			}
		}
		z.done = true
		return
	}
	for {
		if z.in {
			if z.j < len(z.slots) && z.slots[z.j].s < z.pe {
				s := z.slots[z.j]
				z.j++
				a := z.a
				z.a = max(z.a, s.e)
				if s.s > a && z.setHead(a, s.s, f, t) {
					return
				}
				continue
			}
			z.in = false
			if z.a < z.pe && z.setHead(z.a, z.pe, f, t) {
				return
			}
		}
		if z.g >= len(z.zp.segs) {
			z.done = true
			return
		}
		if z.ps >= z.segHi {
			z.g++
			if !z.startSeg(f, t) {
				z.done = true
				return
			}
		}
		sg := &z.zp.segs[z.g]
		z.ent = &z.zp.seq[sg.rot[z.q]]
		z.a = z.ps
		z.pe = min(z.ps+z.ent.dur, sg.e)
		for z.k < len(z.slots) && z.slots[z.k].e <= z.a {
			z.k++
		}
		z.j = z.k
		z.ps = z.pe
		if z.q++; z.q == len(sg.rot) {
			z.q = 0
		}
		z.in = true
	}
}

func (z *zcur) setHead(s, e, f, t int64) bool {
	s, e = max(s, f), min(e, t)
	if e <= s {
		return false
	}
	z.hs, z.he, z.hent = s, e, z.ent
	return true
}

// plan appends the plays of a plan: per span, the zones' pieces and the
// interrupt slots whose (clipped) start falls in it, merged by (Start,
// Zone).
// plan emits a plan's plays in order; it reports false if the sink
// stopped it.
func (em *emitter) plan(pl *plan) bool {
	f, t := em.f, em.t
	c := em.c
	loc := c.zc.loc
	si := pl.slotsFrom(f)
	for k := range pl.spans {
		sp := &pl.spans[k]
		if sp.e <= f || sp.s >= t {
			continue
		}
		// The cursors live on the stack (layouts have few zones): written
		// in the heap, every cursor step would pay GC write barriers.
		var buf [8]zcur
		curs := buf[:0]
		// interrupt slots whose clipped start falls in this span
		lo := si
		for si < len(pl.slots) && max(pl.slots[si].s, f) < min(sp.e, t) {
			si++
		}
		if si > lo {
			curs = append(curs, zcur{zone: MainZone, irq: true, slots: pl.slots[lo:si]})
		}
		for zi := range sp.zones {
			zp := &sp.zones[zi]
			z := zcur{zone: zp.zone.id, zp: zp}
			if sp.irqTarget(zi) {
				a := pl.slotsFrom(max(sp.s, f))
				b := a
				for b < len(pl.slots) && pl.slots[b].s < sp.e {
					b++
				}
				z.slots = pl.slots[a:b]
			}
			if !z.startSeg(f, t) {
				continue
			}
			curs = append(curs, z)
		}
		// ranks by zone id for tie-breaks
		for i := range curs {
			curs[i].rank = 0
			for j := range curs {
				if curs[j].zone < curs[i].zone {
					curs[i].rank++
				}
			}
			curs[i].advance(f, t)
		}
		for {
			best := -1
			for i := range curs {
				z := &curs[i]
				if z.done {
					continue
				}
				if best < 0 || z.hs < curs[best].hs || (z.hs == curs[best].hs && z.rank < curs[best].rank) {
					best = i
				}
			}
			if best < 0 {
				break
			}
			z := &curs[best]
			e := z.hent
			// Passed by value: building it in place in the heap would cost a
			// write barrier per pointer field while the GC runs.
			if !em.sink(Play{Zone: z.zone, ItemID: e.item.it.ID, Lang: e.item.lang, SHA256: e.item.v.SHA256,
				Start: time.UnixMilli(z.hs).In(loc), End: time.UnixMilli(z.he).In(loc),
				ScheduleID: c.schedID(e.sched), PlaylistID: e.top, Interrupt: z.irq}) {
				return false
			}
			z.advance(f, t)
		}
	}
	return true
}

// Files returns the SHA-256 of every file that could play in [from, to):
// the chosen variant of each item of the winning content and of the
// interrupt slots, within its validity dates. Sorted and unique.
func Files(p *Program, from, to time.Time) []string { return Compile(p).Files(from, to) }

// Files is the SHA-256 of every file that could play in [from, to) (see
// the function Files).
func (c *Compiled) Files(from, to time.Time) []string {
	f, t := toMS(from), toMS(to)
	set := map[string]bool{}
	add := func(ci *cItem) {
		if ci.ok && ci.v.SHA256 != "" {
			set[ci.v.SHA256] = true
		}
	}
	c.forPlans(f, t, nil, func(pl *plan) bool {
		for k := range pl.spans {
			sp := &pl.spans[k]
			lo, hi := max(sp.s, f), min(sp.e, t)
			if lo >= hi {
				continue
			}
			dlo, dhi := c.zc.dayOf(lo), c.zc.dayOf(hi-1)
			for _, zp := range sp.zones {
				for _, e := range zp.seq {
					if e.item.validFrom <= dhi && e.item.validUntil >= dlo {
						add(e.item)
					}
				}
			}
		}
		for _, s := range pl.slots {
			if s.e > f && s.s < t {
				add(s.ent.item)
			}
		}
		return true
	})
	out := make([]string, 0, len(set))
	for h := range set {
		out = append(out, h)
	}
	sort.Strings(out)
	return out
}
