package playlists

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"
)

var propZones = []string{"Europe/Berlin", "Asia/Ho_Chi_Minh", "America/New_York", "UTC"}

// randClock is a random time of day on a 15-minute grid.
func randClock(r *rand.Rand) Clock {
	m := r.IntN(96) * 15
	return Clock(fmt.Sprintf("%02d:%02d", m/60, m%60))
}

type propCase struct {
	p        *Program
	from, to time.Time
	irqOnly  bool // a single all-day interrupt, default hours: exact share checks
}

// randomProgram builds a small random but valid Program and a period of
// one to three days around interesting dates (DST changes, leap day).
func randomProgram(r *rand.Rand, i int) propCase {
	p := &Program{Display: Display{ID: fmt.Sprintf("d%d", i), ClusterID: "c", Tags: []string{"t"}, Width: 1280, Height: 720}}
	p.Timezone = propZones[r.IntN(len(propZones))]
	nItems := 3 + r.IntN(6)
	for k := 0; k < nItems; k++ {
		it := img(fmt.Sprintf("i%d", k), float64(3+r.IntN(40)))
		if r.IntN(8) == 0 {
			it.Dayparts = []Window{{randClock(r), randClock(r)}}
		}
		if r.IntN(10) == 0 {
			it.ValidFrom = "2026-10-25"
		}
		p.Items = append(p.Items, it)
	}
	nPL := 2 + r.IntN(3)
	for k := 0; k < nPL; k++ {
		q := Playlist{ID: fmt.Sprintf("p%d", k), Shuffle: r.IntN(4) == 0}
		for e := 0; e < 1+r.IntN(5); e++ {
			if k > 0 && r.IntN(6) == 0 {
				q.Entries = append(q.Entries, Entry{PlaylistID: fmt.Sprintf("p%d", r.IntN(k))})
			} else {
				q.Entries = append(q.Entries, Entry{ItemID: fmt.Sprintf("i%d", r.IntN(nItems))})
			}
		}
		p.Playlists = append(p.Playlists, q)
	}
	randPL := func() string { return fmt.Sprintf("p%d", r.IntN(nPL)) }
	p.Layouts = []Layout{
		{ID: "L3", Zones: []Zone{{ID: MainZone, W: 70, H: 100}, {ID: "side", X: 70, W: 30, H: 80, Z: 1}, {ID: "tick", X: 70, Y: 80, W: 30, H: 20, Z: 1}}},
		{ID: "L2", Zones: []Zone{{ID: "left", W: 50, H: 100}, {ID: "right", X: 50, W: 50, H: 100}}},
	}
	if r.IntN(2) == 0 {
		p.Default = &Content{PlaylistID: randPL()}
	}
	if r.IntN(3) == 0 {
		p.Hours = []Window{{randClock(r), randClock(r)}}
		if r.IntN(2) == 0 {
			p.Hours = append(p.Hours, Window{randClock(r), randClock(r)})
		}
	}
	starts := []string{"2026-03-28", "2026-10-24", "2026-11-01", "2028-02-28", "2026-09-01"}
	from, _ := time.ParseInLocation("2006-01-02", starts[r.IntN(len(starts))], mustLoc(p.Timezone))
	from = from.Add(time.Duration(r.IntN(24)) * time.Hour)
	to := from.Add(time.Duration(24+r.IntN(48)) * time.Hour)
	if r.IntN(5) == 0 { // exact share-of-voice case
		sp := Playlist{ID: "spots"}
		for k := 0; k < 1+r.IntN(3); k++ {
			id := fmt.Sprintf("s%d", k)
			p.Items = append(p.Items, img(id, float64(5+r.IntN(26))))
			sp.Entries = append(sp.Entries, Entry{ItemID: id})
		}
		p.Playlists = append(p.Playlists, sp)
		s := Schedule{ID: "irq", Target: Target{ClusterIDs: []string{"c"}}, Content: Content{PlaylistID: "spots"},
			Interrupt: &Interrupt{SecondsPerHour: []int{30, 60, 90, 120, 300}[r.IntN(5)]}}
		p.Hours = nil
		p.Schedules = append(p.Schedules, s)
		reg := Schedule{ID: "reg", Priority: 1, Target: Target{Tags: []string{"t"}}, Content: Content{PlaylistID: randPL()}}
		p.Schedules = append(p.Schedules, reg)
		return propCase{p, from, to, true}
	}
	nS := 1 + r.IntN(5)
	for k := 0; k < nS; k++ {
		s := Schedule{ID: fmt.Sprintf("s%d", k), Priority: r.IntN(3), Target: Target{DisplayIDs: []string{p.Display.ID}}}
		switch r.IntN(3) {
		case 0:
			s.Content = Content{LayoutID: "L3", Zones: map[string]string{MainZone: randPL(), "side": randPL()}}
			if r.IntN(2) == 0 {
				s.Content.Zones["tick"] = randPL()
			}
		case 1:
			s.Content = Content{LayoutID: "L2", Zones: map[string]string{"left": randPL(), "right": randPL()}}
		default:
			s.Content = Content{PlaylistID: randPL()}
		}
		if r.IntN(3) > 0 {
			s.Windows = []Window{{randClock(r), randClock(r)}}
		}
		if r.IntN(4) == 0 {
			s.Days = []time.Weekday{time.Weekday(r.IntN(7)), time.Weekday(r.IntN(7))}
		}
		if r.IntN(6) == 0 {
			s.From = "2026-01-01"
			s.Recurrence = &Recurrence{Freq: Daily, Interval: 2}
		}
		if r.IntN(5) == 0 {
			s.Interrupt = &Interrupt{SecondsPerHour: 30 + r.IntN(600)}
			s.Content = Content{PlaylistID: randPL()}
		}
		p.Schedules = append(p.Schedules, s)
	}
	return propCase{p, from, to, false}
}

// activeAt is an independent check of whether a regular schedule is
// active at t (its occurrence on the start day or the day before covers t).
func activeAt(c *Compiled, cs *cSched, t int64) bool {
	d := c.zc.dayOf(t)
	for dd := d - 1; dd <= d; dd++ {
		if !c.occursOn(cs, dd) {
			continue
		}
		if len(cs.wins) == 0 {
			if c.zc.wall(dd, 0) <= t && t < c.zc.wall(dd+1, 0) {
				return true
			}
			continue
		}
		dw := newDayWalls(c.zc, dd-1, 4)
		for _, w := range cs.wins {
			x := dw.window(dd, w)
			if x.s <= t && t < x.e {
				return true
			}
		}
	}
	return false
}

func TestPropertyTimeline(t *testing.T) {
	r := rand.New(rand.NewPCG(42, 2026))
	exact := 0
	for i := 0; i < 200; i++ {
		pc := randomProgram(r, i)
		p := pc.p
		if err := p.Validate(); err != nil {
			t.Fatalf("program %d invalid: %v", i, err)
		}
		tl := Timeline(p, pc.from, pc.to, Options{})
		name := fmt.Sprintf("program %d (%s, %s)", i, p.Timezone, pc.from.Format(time.RFC3339))
		t.Run(name, func(t *testing.T) {
			checkTimeline(t, tl)
			c := Compile(p)
			f, to := toMS(pc.from), toMS(pc.to)
			for _, pl := range tl {
				s, e := toMS(pl.Start), toMS(pl.End)
				if s < f || e > to {
					t.Fatalf("play outside [from,to): %+v", pl)
				}
				// inside operating hours
				if _, _, ok := c.hoursAt(s); !ok {
					t.Fatalf("play outside operating hours: %+v", pl)
				}
				if _, _, ok := c.hoursAt(e - 1); !ok {
					t.Fatalf("play runs past operating hours: %+v", pl)
				}
				// priorities: no regular play while a higher-priority regular schedule is active
				if !pl.Interrupt {
					prio := -1 << 31
					if pl.ScheduleID != "" {
						for _, cs := range c.scheds {
							if cs.s.ID == pl.ScheduleID {
								prio = cs.prio
							}
						}
					}
					for _, cs := range c.scheds {
						if cs.s.Interrupt == nil && cs.prio > prio && (activeAt(c, cs, s) || activeAt(c, cs, e-1)) {
							t.Fatalf("%+v plays while %s (priority %d) is active", pl, cs.s.ID, cs.prio)
						}
					}
				}
			}
			// interrupts: never more than N in a clock hour
			type key struct {
				id   string
				hour int64
			}
			per := map[key]int64{}
			for _, pl := range tl {
				if pl.Interrupt {
					s := toMS(pl.Start)
					per[key{pl.ScheduleID, c.hourStart(s)}] += toMS(pl.End) - s
				}
			}
			limit := map[string]int64{}
			for _, cs := range c.scheds {
				if cs.s.Interrupt != nil {
					limit[cs.s.ID] = cs.irq
				}
			}
			for k, v := range per {
				if v > limit[k.id] {
					t.Fatalf("interrupt %s plays %d ms in the hour of %v (limit %d)", k.id, v, c.tm(k.hour), limit[k.id])
				}
			}
			if pc.irqOnly {
				exact++
				var maxd int64
				for _, e := range c.flat["spots"] {
					maxd = max(maxd, e.dur)
				}
				n := limit["irq"]
				for h := c.hourStart(f) + msPerHour; h+msPerHour <= to; h += msPerHour {
					// full hours inside 07:00–22:00
					d1, _, ok1 := c.hoursAt(h)
					d2, _, ok2 := c.hoursAt(h + msPerHour - 1)
					if !ok1 || !ok2 || d1 != d2 {
						continue
					}
					got := per[key{"irq", h}]
					if got > n || got < n-maxd {
						t.Fatalf("interrupt share in hour %v: %d ms, want within (%d, %d]", c.tm(h), got, n-maxd, n)
					}
				}
			}
			// At(t) agrees with Timeline
			for k := 0; k < 60; k++ {
				x := f + r.Int64N(to-f)
				now := c.At(time.UnixMilli(x), Options{})
				want := map[string]Play{}
				for _, pl := range tl {
					if toMS(pl.Start) <= x && x < toMS(pl.End) {
						want[pl.Zone] = pl
					}
				}
				got := map[string]ZoneNow{}
				for _, z := range now.Zones {
					if z.Item != nil {
						got[z.Zone] = z
					}
				}
				if len(got) != len(want) {
					t.Fatalf("At(%v): %d zones playing, timeline has %d\nAt: %+v\nTL: %+v", c.tm(x), len(got), len(want), now, want)
				}
				for zone, w := range want {
					z := got[zone]
					if z.Item.ID != w.ItemID || z.ScheduleID != w.ScheduleID || z.Interrupt != w.Interrupt ||
						!maxT(z.Start, pc.from).Equal(w.Start) || !minT(z.End, pc.to).Equal(w.End) {
						t.Fatalf("At(%v) zone %s: %s %s %v %v–%v; timeline %+v", c.tm(x), zone, z.Item.ID, z.ScheduleID, z.Interrupt, z.Start, z.End, w)
					}
					if now.Next.After(z.End) {
						t.Fatalf("Next %v after zone end %v", now.Next, z.End)
					}
				}
				if now.Off != (len(now.Zones) == 0 && now.Why == "outside operating hours") {
					t.Fatalf("Off inconsistent: %+v", now)
				}
				if !now.Next.After(now.At) && !now.Next.IsZero() {
					t.Fatalf("Next %v not after %v", now.Next, now.At)
				}
			}
		})
	}
	if exact < 20 {
		t.Errorf("only %d exact share-of-voice cases", exact)
	}
}

func maxT(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

func minT(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

// Playable filters never make a zone overlap or disagree with At.
func TestPropertyPlayable(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 11))
	for i := 0; i < 200; i++ {
		pc := randomProgram(r, i)
		bad := fmt.Sprintf("i%d", r.IntN(4))
		opt := Options{Playable: func(it Item, v Variant) bool { return it.ID != bad }}
		cp := Compile(pc.p)
		tl := cp.Timeline(pc.from, pc.to, opt)
		checkTimeline(t, tl)
		for _, pl := range tl {
			if pl.ItemID == bad {
				t.Fatalf("program %d: unplayable %s played", i, bad)
			}
		}
		for k := 0; k < 20; k++ {
			x := pc.from.Add(time.Duration(r.Int64N(int64(pc.to.Sub(pc.from)))))
			now := cp.At(x, opt)
			for _, z := range now.Zones {
				if z.Item == nil {
					continue
				}
				found := false
				for _, pl := range tl {
					if pl.Zone == z.Zone && !pl.Start.After(x) && pl.End.After(x) {
						found = pl.ItemID == z.Item.ID
					}
				}
				if !found {
					t.Fatalf("program %d: At(%v) zone %s = %s not in timeline", i, x, z.Zone, z.Item.ID)
				}
			}
		}
	}
}

// Plays streams exactly what Timeline returns, and stops when asked.
func TestPropertyPlaysEqualsTimeline(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 2026))
	for i := 0; i < 100; i++ {
		pc := randomProgram(r, i)
		tl := Timeline(pc.p, pc.from, pc.to, Options{})
		var got []Play
		Plays(pc.p, pc.from, pc.to, Options{}, func(p Play) bool { got = append(got, p); return true })
		if len(got) != len(tl) {
			t.Fatalf("program %d: Plays gave %d, Timeline %d", i, len(got), len(tl))
		}
		for k := range tl {
			if !got[k].Start.Equal(tl[k].Start) || !got[k].End.Equal(tl[k].End) || got[k].Zone != tl[k].Zone || got[k].ItemID != tl[k].ItemID {
				t.Fatalf("program %d play %d: %+v vs %+v", i, k, got[k], tl[k])
			}
		}
		if len(tl) > 3 {
			n := 0
			Plays(pc.p, pc.from, pc.to, Options{}, func(Play) bool { n++; return n < 3 })
			if n != 3 {
				t.Fatalf("program %d: Plays went on after yield returned false (%d)", i, n)
			}
		}
	}
}
