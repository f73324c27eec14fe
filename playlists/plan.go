package playlists

import (
	"slices"
	"sort"
	"strings"
)

// A plan is the evaluation of one operating-hours span: the regular
// content spans (constant winning schedules) and the interrupt slots.
// Everything in it is anchored inside the hours span, so it is computed
// without looking further back than the previous day.
type plan struct {
	day    int // the local day the hours span starts on
	s, e   int64
	spans  []span
	slots  []slot
	notes  []planNote // interrupts that did not fit an hour
	active []int32    // schedules active somewhere in the plan
}

type planNote struct {
	s, e  int64
	ids   []string
	limit bool
}

// span is a stretch of constant content: the same winning schedules (or
// the Default content, or nothing) from s to e. Loops start at s.
type span struct {
	s, e    int64
	winners []int32 // indices into Compiled.scheds; -1 is the Default content
	layout  *cLayout
	zones   []zonePlan
	why     string
	dropped []string // merged schedules' zones the span's layout lacks
}

type zonePlan struct {
	zone cZone
	seq  []flatEnt
	segs []loopSeg // contiguous from the span's start to its end
}

// loopSeg is a stretch of a zone's loop in which the set of eligible
// items is fixed: plays start at s and follow rot cyclically; cum holds
// the prefix sums of their durations (cum[len(rot)] is the period).
type loopSeg struct {
	s, e int64
	rot  []int32
	cum  []int64
}

type slot struct {
	s, e  int64
	ent   flatEnt
	sched int32
}

type schedIvals struct {
	si int32
	iv []ival
}

// planFor returns the plan of the idx-th hours span of a day, cached when
// no Playable filter is given.
func (c *Compiled) planFor(day, idx int, playable func(Item, Variant) bool) *plan {
	hs := c.hoursOn(day)
	if playable != nil {
		return c.buildPlanP(day, hs[idx], playable)
	}
	c.mu.Lock()
	if ps := c.plans[day]; ps != nil && ps[idx] != nil {
		p := ps[idx]
		c.mu.Unlock()
		return p
	}
	c.mu.Unlock()
	p := c.buildPlanP(day, hs[idx], nil)
	c.mu.Lock()
	if len(c.plans) > 512 {
		clear(c.plans)
	}
	ps := c.plans[day]
	if ps == nil {
		ps = make([]*plan, len(hs))
		c.plans[day] = ps
	}
	if ps[idx] == nil {
		ps[idx] = p
	}
	p = ps[idx]
	c.mu.Unlock()
	return p
}

// occurrences returns a schedule's active intervals (union of its
// occurrences starting on day-1..day+1) clipped to o.
func (c *Compiled) occurrences(cs *cSched, dw *dayWalls, day int, o ival, buf []ival) []ival {
	v := buf[:0]
	for d := day - 1; d <= day+1; d++ {
		if !c.occursOn(cs, d) {
			continue
		}
		if len(cs.wins) == 0 {
			v = append(v, ival{dw.wall(d, 0), dw.wall(d+1, 0)})
			continue
		}
		for _, w := range cs.wins {
			v = append(v, dw.window(d, w))
		}
	}
	n := 0
	for _, x := range v {
		x.s, x.e = max(x.s, o.s), min(x.e, o.e)
		if x.e > x.s {
			v[n] = x
			n++
		}
	}
	return unionIvals(v[:n])
}

func (c *Compiled) buildPlanP(day int, o ival, playable func(Item, Variant) bool) *plan {
	pl := &plan{day: day, s: o.s, e: o.e}
	dw := newDayWalls(c.zc, day-1, 4)
	var regs, irqs []schedIvals
	var buf []ival
	for i, cs := range c.scheds {
		if !cs.applies {
			continue
		}
		if cs.s.Interrupt != nil && cs.irq <= 0 {
			continue
		}
		buf = c.occurrences(cs, dw, day, o, buf)
		if len(buf) == 0 {
			continue
		}
		si := schedIvals{int32(i), slices.Clone(buf)}
		pl.active = append(pl.active, int32(i))
		if cs.irq > 0 {
			irqs = append(irqs, si)
		} else {
			regs = append(regs, si)
		}
	}

	// Elementary segments between all boundaries; adjacent ones with the
	// same winners make one span.
	cuts := []int64{o.s, o.e}
	for _, r := range regs {
		for _, x := range r.iv {
			cuts = append(cuts, x.s, x.e)
		}
	}
	slices.Sort(cuts)
	cuts = slices.Compact(cuts)
	for k := 0; k+1 < len(cuts); k++ {
		a, b := cuts[k], cuts[k+1]
		w := activeWinners(c, regs, a)
		if len(pl.spans) > 0 && slices.Equal(pl.spans[len(pl.spans)-1].winners, w) {
			pl.spans[len(pl.spans)-1].e = b
			continue
		}
		pl.spans = append(pl.spans, span{s: a, e: b, winners: w})
	}
	for i := range pl.spans {
		c.fillSpan(&pl.spans[i], day, dw, playable)
	}
	if len(irqs) > 0 {
		c.placeInterrupts(pl, irqs, dw, playable)
	}
	return pl
}

// activeWinners returns the schedules that win the screen at instant a:
// those of the highest priority among the active ones, in Program order;
// the Default content ([-1]) when none is active; nil when there is none.
func activeWinners(c *Compiled, regs []schedIvals, a int64) []int32 {
	var w []int32
	best := 0
	for _, r := range regs {
		in := false
		for _, x := range r.iv {
			if x.s <= a && a < x.e {
				in = true
				break
			}
		}
		if !in {
			continue
		}
		p := c.scheds[r.si].prio
		switch {
		case len(w) == 0 || p > best:
			w = append(w[:0], r.si)
			best = p
		case p == best:
			w = append(w, r.si)
		}
	}
	if len(w) == 0 && c.def != nil {
		w = []int32{-1}
	}
	return w
}

func (c *Compiled) schedOf(i int32) *cSched {
	if i < 0 {
		return c.def
	}
	return c.scheds[i]
}

func (c *Compiled) fillSpan(sp *span, day int, dw *dayWalls, playable func(Item, Variant) bool) {
	if len(sp.winners) == 0 {
		// The console says these reasons in its reader's language by their
		// fixed forms (server/console/web/lib/why.js): change both together.
		sp.why = "nothing scheduled"
		return
	}
	first := c.schedOf(sp.winners[0])
	sp.layout = first.layout
	switch {
	case sp.winners[0] < 0:
		sp.why = "default content (no schedule applies)"
	case len(sp.winners) == 1:
		sp.why = first.label
	default:
		ids := make([]string, len(sp.winners))
		for i, w := range sp.winners {
			ids[i] = c.schedOf(w).s.ID
		}
		sp.why = "schedules " + strings.Join(ids, ", ") + " merged (equal priority " + itoa(first.prio) + ")"
	}
	for _, w := range sp.winners[1:] {
		cs := c.schedOf(w)
		for z := range cs.zones {
			if !layoutHas(sp.layout, z) {
				sp.dropped = append(sp.dropped, cs.s.ID+":"+z)
			}
		}
	}
	sort.Strings(sp.dropped)
	sp.zones = make([]zonePlan, len(sp.layout.zones))
	for zi, z := range sp.layout.zones {
		zp := &sp.zones[zi]
		zp.zone = z
		for _, w := range sp.winners {
			id := c.schedOf(w).zones[z.id]
			if id == "" {
				continue
			}
			items := c.playlistItems(id, day)
			start := len(zp.seq)
			zp.seq = append(zp.seq, items...)
			for k := start; k < len(zp.seq); k++ {
				zp.seq[k].sched = w
			}
		}
		zp.segs = c.loopSegs(ival{sp.s, sp.e}, zp.seq, dw, playable)
	}
}

func layoutHas(l *cLayout, zone string) bool {
	for _, z := range l.zones {
		if z.id == zone {
			return true
		}
	}
	return false
}

// eligible returns the intervals within o in which an item may play
// (validity dates and dayparts).
func (c *Compiled) eligible(ci *cItem, o ival, dw *dayWalls) []ival {
	vs, ve := o.s, o.e
	if ci.validFrom != minDay {
		vs = max(vs, dw.wall(ci.validFrom, 0))
	}
	if ci.validUntil != maxDay {
		ve = min(ve, dw.wall(ci.validUntil+1, 0))
	}
	if ve <= vs {
		return nil
	}
	if len(ci.dayparts) == 0 {
		return []ival{{vs, ve}}
	}
	var v []ival
	for d := c.zc.dayOf(vs) - 1; d <= c.zc.dayOf(ve-1); d++ {
		for _, w := range ci.dayparts {
			x := dw.window(d, w)
			x.s, x.e = max(x.s, vs), min(x.e, ve)
			v = append(v, x)
		}
	}
	return unionIvals(v)
}

// loopSegs lays out a zone's loop over span o: it starts at o.s with the
// first eligible entry; where the set of eligible entries changes (an
// item's validity or daypart begins or ends) the item then playing
// finishes and the loop continues with the next eligible entry in order.
func (c *Compiled) loopSegs(o ival, seq []flatEnt, dw *dayWalls, playable func(Item, Variant) bool) []loopSeg {
	n := len(seq)
	okStatic := make([]bool, n)
	var limited map[int][]ival
	cuts := []int64{o.s, o.e}
	var perItem map[*cItem][]ival
	for i, e := range seq {
		ok := e.item.ok && e.dur > 0 && (playable == nil || playable(*e.item.it, e.item.v))
		okStatic[i] = ok
		if !ok || !e.item.limited {
			continue
		}
		if perItem == nil {
			perItem = map[*cItem][]ival{}
			limited = map[int][]ival{}
		}
		iv, seen := perItem[e.item]
		if !seen {
			iv = c.eligible(e.item, o, dw)
			perItem[e.item] = iv
			for _, x := range iv {
				cuts = append(cuts, x.s, x.e)
			}
		}
		limited[i] = iv
	}
	if limited != nil {
		slices.Sort(cuts)
		cuts = slices.Compact(cuts)
	}
	eligAt := func(i int, t int64) bool {
		if !okStatic[i] {
			return false
		}
		iv, lim := limited[i]
		if !lim {
			return true
		}
		for _, x := range iv {
			if x.s <= t && t < x.e {
				return true
			}
		}
		return false
	}
	var segs []loopSeg
	tau, j, k := o.s, 0, 0
	for tau < o.e {
		for k+2 < len(cuts) && cuts[k+1] <= tau {
			k++
		}
		end := cuts[k+1]
		var rot []int32
		var cum []int64
		var sum int64
		for s := 0; s < n; s++ {
			i := (j + s) % n
			if eligAt(i, cuts[k]) {
				rot = append(rot, int32(i))
				cum = append(cum, sum)
				sum += seq[i].dur
			}
		}
		if len(rot) == 0 {
			segs = append(segs, loopSeg{s: tau, e: end})
			tau = end
			continue
		}
		cum = append(cum, sum)
		if end >= o.e {
			segs = append(segs, loopSeg{tau, o.e, rot, cum})
			break
		}
		off := (end - tau) % sum
		next, nj := end, int(rot[0])
		if off != 0 {
			q := upper(cum, off) - 1
			next = end - off + cum[q+1]
			nj = (int(rot[q]) + 1) % n
		}
		next = min(next, o.e)
		segs = append(segs, loopSeg{tau, next, rot, cum})
		tau, j = next, nj
	}
	return segs
}

// upper returns the first index with v[i] > x.
func upper(v []int64, x int64) int {
	lo, hi := 0, len(v)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if v[m] <= x {
			lo = m + 1
		} else {
			hi = m
		}
	}
	return lo
}

// at returns the entry of the zone's loop playing at t and its bounds;
// ent is nil when nothing is eligible (the bounds are then the empty
// stretch's).
func (zp *zonePlan) at(t int64) (ent *flatEnt, ps, pe int64) {
	i := sort.Search(len(zp.segs), func(i int) bool { return zp.segs[i].e > t })
	if i == len(zp.segs) {
		return nil, t, t
	}
	sg := &zp.segs[i]
	if len(sg.rot) == 0 {
		return nil, sg.s, sg.e
	}
	period := sg.cum[len(sg.rot)]
	off := (t - sg.s) % period
	q := upper(sg.cum, off) - 1
	ps = t - (off - sg.cum[q])
	ent = &zp.seq[sg.rot[q]]
	return ent, ps, min(ps+ent.dur, sg.e)
}

// hourStart is the start of the local clock hour holding t.
func (c *Compiled) hourStart(t int64) int64 {
	s := floorDiv(t, msPerSec)
	local := s + c.zc.offset(s)
	return (s - (local%3600+3600)%3600) * msPerSec
}

type irqRun struct {
	si   int32
	cs   *cSched
	act  []ival
	cyc  []flatEnt
	ok   []bool
	lim  map[int][]ival
	p    int
	take []int // flat indices chosen this hour
}

// placeInterrupts lays out the interrupt slots of a plan, clock hour by
// clock hour. Each active interrupt takes items of its playlist in order
// (continuing where it stopped the previous hour) while their total stays
// within its seconds per hour; all interrupts of the hour together stay
// within the hour, higher priority first. Item j of an interrupt taking
// k items is placed at j/k of the hour (pushed later only to avoid
// another slot); a slot plays only if it lies entirely inside its
// interrupt's active time (its windows within the operating hours).
func (c *Compiled) placeInterrupts(pl *plan, irqs []schedIvals, dw *dayWalls, playable func(Item, Variant) bool) {
	runs := make([]*irqRun, 0, len(irqs))
	for _, r := range irqs {
		cs := c.scheds[r.si]
		run := &irqRun{si: r.si, cs: cs, act: r.iv, cyc: c.playlistItems(cs.irqPL, pl.day)}
		run.ok = make([]bool, len(run.cyc))
		for i, e := range run.cyc {
			run.ok[i] = e.item.ok && e.dur > 0 && e.dur <= cs.irq && (playable == nil || playable(*e.item.it, e.item.v))
			if run.ok[i] && e.item.limited {
				if run.lim == nil {
					run.lim = map[int][]ival{}
				}
				run.lim[i] = c.eligible(e.item, ival{pl.s, pl.e}, dw)
			}
		}
		runs = append(runs, run)
	}
	sort.SliceStable(runs, func(a, b int) bool { return runs[a].cs.prio > runs[b].cs.prio })

	type cand struct {
		ideal int64
		rank  int
		j     int
		d     int64
		run   *irqRun
		flat  int
		s, e  int64
	}
	var cands []cand
	for h := c.hourStart(pl.s); h < pl.e; h += msPerHour {
		he := h + msPerHour
		cands = cands[:0]
		var total int64
		var over []string
		for rank, run := range runs {
			run.take = run.take[:0]
			if !overlaps(run.act, h, he) || len(run.cyc) == 0 {
				continue
			}
			var sum int64
			n := len(run.cyc)
			miss := 0
			for i := run.p; len(run.take) < 3600 && miss < n; i = (i + 1) % n {
				if !run.eligibleAt(i, h) {
					miss++
					continue
				}
				miss = 0
				d := run.cyc[i].dur
				if sum+d > run.cs.irq {
					break
				}
				if total+sum+d > msPerHour {
					over = append(over, run.cs.s.ID)
					break
				}
				sum += d
				run.take = append(run.take, i)
			}
			total += sum
			for j, i := range run.take {
				cands = append(cands, cand{ideal: h + int64(j)*msPerHour/int64(len(run.take)), rank: rank, j: j, d: run.cyc[i].dur, run: run, flat: i})
			}
		}
		if len(over) > 0 {
			pl.notes = append(pl.notes, planNote{s: h, e: he, ids: over})
		}
		if len(cands) == 0 {
			continue
		}
		sort.Slice(cands, func(a, b int) bool {
			if cands[a].ideal != cands[b].ideal {
				return cands[a].ideal < cands[b].ideal
			}
			if cands[a].rank != cands[b].rank {
				return cands[a].rank < cands[b].rank
			}
			return cands[a].j < cands[b].j
		})
		prev := h
		for i := range cands {
			cands[i].s = max(cands[i].ideal, prev)
			prev = cands[i].s + cands[i].d
		}
		lim := he
		for i := len(cands) - 1; i >= 0; i-- {
			if cands[i].s+cands[i].d > lim {
				cands[i].s = lim - cands[i].d
			}
			cands[i].e = cands[i].s + cands[i].d
			lim = cands[i].s
		}
		for _, cd := range cands {
			if !inside(cd.run.act, cd.s, cd.e) {
				continue
			}
			ent := cd.run.cyc[cd.flat]
			ent.sched = cd.run.si
			pl.slots = append(pl.slots, slot{s: cd.s, e: cd.e, ent: ent, sched: cd.run.si})
			cd.run.p = (cd.flat + 1) % len(cd.run.cyc)
		}
	}
}

func (r *irqRun) eligibleAt(i int, t int64) bool {
	if !r.ok[i] {
		return false
	}
	iv, lim := r.lim[i]
	if !lim {
		return true
	}
	for _, x := range iv {
		if x.s <= t && t < x.e {
			return true
		}
	}
	return false
}

func overlaps(v []ival, s, e int64) bool {
	for _, x := range v {
		if x.s < e && s < x.e {
			return true
		}
	}
	return false
}

func inside(v []ival, s, e int64) bool {
	for _, x := range v {
		if x.s <= s && e <= x.e {
			return true
		}
	}
	return false
}

func (pl *plan) spanAt(t int64) *span {
	i := sort.Search(len(pl.spans), func(i int) bool { return pl.spans[i].e > t })
	if i == len(pl.spans) {
		i--
	}
	return &pl.spans[i]
}

// slotsFrom returns the index of the first slot ending after t.
func (pl *plan) slotsFrom(t int64) int {
	return sort.Search(len(pl.slots), func(i int) bool { return pl.slots[i].e > t })
}

// irqTarget reports whether interrupts cover zone zi of the span (the
// main zone, or every zone when the layout has none).
func (sp *span) irqTarget(zi int) bool {
	if sp.layout == nil || sp.layout.main < 0 {
		return true
	}
	return sp.layout.main == zi
}
