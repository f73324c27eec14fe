package playlists

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"
)

// Conflicts reports what a person should look at in [from, to) for the
// Program's display: equal-priority schedules that merge (informational),
// interrupts whose share cannot fit (over 3600 s, items longer than the
// share, several interrupts over the hour), schedules naming zones their
// layout lacks or leaving zones without a playlist, schedules that never
// occur in the period, and schedules that occur only outside operating
// hours. Schedules whose target does not cover the display are ignored.
// Sorted by From, then Message.
func Conflicts(p *Program, from, to time.Time) []Conflict { return Compile(p).Conflicts(from, to) }

// Conflicts is what a person should look at in [from, to) (see the
// function Conflicts).
func (c *Compiled) Conflicts(from, to time.Time) []Conflict {
	f, t := toMS(from), toMS(to)
	var out []Conflict
	add := func(kind string, ids []string, s, e time.Time, msg string) {
		out = append(out, Conflict{Kind: kind, ScheduleIDs: ids, From: s, To: e, Message: msg})
	}

	// static problems
	for _, cs := range c.scheds {
		if !cs.applies {
			continue
		}
		id := cs.s.ID
		ids := []string{id}
		if in := cs.s.Interrupt; in != nil {
			n := in.SecondsPerHour
			if n <= 0 || n > 3600 {
				add(ConflictInterruptShare, ids, from, to, fmt.Sprintf("interrupt %s: %d s per hour cannot fit in an hour (1..3600)", id, n))
			} else {
				fits := 0
				for _, e := range c.playlistItems(cs.irqPL, c.zc.dayOf(f)) {
					if e.dur > cs.irq {
						add(ConflictInterruptShare, ids, from, to, fmt.Sprintf("interrupt %s: item %s (%s) is longer than its %d s per hour and never plays", id, e.item.it.ID, secs(e.dur), n))
					} else {
						fits++
					}
				}
				if fits == 0 {
					add(ConflictInterruptShare, ids, from, to, fmt.Sprintf("interrupt %s: no item fits its %d s per hour; it never plays", id, n))
				}
			}
			continue
		}
		if cs.s.Content.LayoutID != "" && cs.layout != c.fullLay {
			var missing []string
			for z := range cs.s.Content.Zones {
				if !layoutHas(cs.layout, z) {
					missing = append(missing, z)
				}
			}
			sort.Strings(missing)
			for _, z := range missing {
				add(ConflictZoneMissing, ids, from, to, fmt.Sprintf("schedule %s names zone %q, which layout %s lacks; it does not play", id, z, cs.layout.id))
			}
			for _, z := range cs.layout.zones {
				if cs.zones[z.id] == "" {
					add(ConflictZoneEmpty, ids, from, to, fmt.Sprintf("schedule %s gives zone %q of layout %s no playlist; it stays empty", id, z.id, cs.layout.id))
				}
			}
		}
	}

	// evaluated problems
	active := map[int32]bool{}
	won := map[int32]bool{}              // schedules on screen somewhere
	hiders := map[int32]map[int32]bool{} // who wins the plans a schedule is active in
	var merged *Conflict
	flush := func() {
		if merged != nil {
			out = append(out, *merged)
			merged = nil
		}
	}
	c.forPlans(f, t, nil, func(pl *plan) bool {
		winners := map[int32]bool{}
		for k := range pl.spans {
			for _, w := range pl.spans[k].winners {
				if w >= 0 && pl.spans[k].e > f && pl.spans[k].s < t {
					won[w], winners[w] = true, true
				}
			}
		}
		for _, a := range pl.active {
			active[a] = true
			if hiders[a] == nil {
				hiders[a] = map[int32]bool{}
			}
			for w := range winners {
				hiders[a][w] = true
			}
		}
		for k := range pl.spans {
			sp := &pl.spans[k]
			lo, hi := max(sp.s, f), min(sp.e, t)
			if lo >= hi || len(sp.winners) < 2 {
				continue
			}
			ids := make([]string, len(sp.winners))
			for i, w := range sp.winners {
				ids[i] = c.schedID(w)
			}
			if merged != nil && toMS(merged.To) == lo && slices.Equal(merged.ScheduleIDs, ids) {
				merged.To = c.tm(hi)
				continue
			}
			flush()
			msg := fmt.Sprintf("schedules %s have equal priority %d and merge: their playlists play in turn", strings.Join(ids, ", "), c.schedOf(sp.winners[0]).prio)
			if len(sp.dropped) > 0 {
				msg += fmt.Sprintf("; zones missing from layout %s do not play (%s)", layoutName(sp.layout), strings.Join(sp.dropped, ", "))
			}
			merged = &Conflict{Kind: ConflictMerge, ScheduleIDs: ids, From: c.tm(lo), To: c.tm(hi), Message: msg}
		}
		for _, n := range pl.notes {
			if n.e <= f || n.s >= t {
				continue
			}
			flush()
			add(ConflictInterruptsOverHour, n.ids, c.tm(max(n.s, f)), c.tm(min(n.e, t)), fmt.Sprintf("interrupts %s together exceed the hour; the lower-priority ones play less", strings.Join(n.ids, ", ")))
		}
		return true
	})
	flush()

	if t > f {
		d0, d1 := c.zc.dayOf(f), c.zc.dayOf(t-1)
		for i, cs := range c.scheds {
			if cs.applies && active[int32(i)] && !won[int32(i)] && cs.s.Interrupt == nil {
				var by []string
				for w := range hiders[int32(i)] {
					if c.scheds[w].prio > cs.prio {
						by = append(by, c.schedID(w))
					}
				}
				sort.Strings(by)
				if len(by) > 0 {
					add(ConflictHidden, append([]string{cs.s.ID}, by...), from, to, fmt.Sprintf("schedule %s (priority %d) is hidden the whole time between %s and %s by higher-priority schedule %s; it never shows",
						cs.s.ID, cs.prio, dateString(d0), dateString(d1), strings.Join(by, ", ")))
				}
			}
			if !cs.applies || active[int32(i)] {
				continue
			}
			occurs := false
			for d := d0; d <= d1 && !occurs; d++ {
				occurs = c.occursOn(cs, d)
			}
			ids := []string{cs.s.ID}
			if occurs {
				add(ConflictOutsideHours, ids, from, to, fmt.Sprintf("schedule %s occurs only outside operating hours between %s and %s", cs.s.ID, dateString(d0), dateString(d1)))
			} else if cs.s.Interrupt == nil || cs.irq > 0 {
				add(ConflictNever, ids, from, to, fmt.Sprintf("schedule %s never occurs between %s and %s (dates, days, recurrence or exceptions leave no day)", cs.s.ID, dateString(d0), dateString(d1)))
			}
		}
	}
	sort.SliceStable(out, func(a, b int) bool {
		if !out[a].From.Equal(out[b].From) {
			return out[a].From.Before(out[b].From)
		}
		return out[a].Message < out[b].Message
	})
	return out
}

func layoutName(l *cLayout) string {
	if l == nil || l.id == "" {
		return "(full screen)"
	}
	return l.id
}

func secs(ms int64) string {
	return fmt.Sprintf("%g s", float64(ms)/1000)
}
