package playlists

import (
	"slices"
	"sort"
	"time"
)

// Occurrence is a stretch of time in which a schedule is in force on the
// display (its dates, days, windows and recurrence, within operating
// hours) and whether it is on screen then: a regular schedule is shown
// where it wins (the highest priority in force, or merged with equal
// ones) and hidden where a higher priority wins; an interrupt in force
// takes its share of every hour, so it counts as shown.
type Occurrence struct {
	ScheduleID string    `json:"schedule_id"`
	From       time.Time `json:"from"`
	To         time.Time `json:"to"`
	Priority   int       `json:"priority"`
	Interrupt  bool      `json:"interrupt,omitempty"`
	Shown      bool      `json:"shown"`
}

// Occurrences lists the occurrences in [from, to) of the schedules that
// apply to the display, sorted by From, then ScheduleID; consecutive
// stretches of one schedule with the same Shown are joined.
func (c *Compiled) Occurrences(from, to time.Time) []Occurrence {
	f, t := toMS(from), toMS(to)
	out := []Occurrence{}
	last := map[int32]int{} // schedule → index of its latest occurrence in out
	put := func(i int32, s, e int64, shown bool) {
		cs := c.scheds[i]
		if k, ok := last[i]; ok && toMS(out[k].To) == s && out[k].Shown == shown {
			out[k].To = c.tm(e)
			return
		}
		last[i] = len(out)
		out = append(out, Occurrence{ScheduleID: cs.s.ID, From: c.tm(s), To: c.tm(e), Priority: cs.prio, Interrupt: cs.s.Interrupt != nil, Shown: shown})
	}
	var buf []ival
	c.forPlans(f, t, nil, func(pl *plan) bool {
		dw := newDayWalls(c.zc, pl.day-1, 4)
		for _, i := range pl.active {
			cs := c.scheds[i]
			buf = c.occurrences(cs, dw, pl.day, ival{pl.s, pl.e}, buf)
			for _, x := range buf {
				s, e := max(x.s, f), min(x.e, t)
				if e <= s {
					continue
				}
				if cs.s.Interrupt != nil {
					put(i, s, e, true)
					continue
				}
				for _, sp := range pl.spans {
					lo, hi := max(sp.s, s), min(sp.e, e)
					if lo < hi {
						put(i, lo, hi, slices.Contains(sp.winners, i))
					}
				}
			}
		}
		return true
	})
	sort.SliceStable(out, func(a, b int) bool {
		if !out[a].From.Equal(out[b].From) {
			return out[a].From.Before(out[b].From)
		}
		return out[a].ScheduleID < out[b].ScheduleID
	})
	return out
}
