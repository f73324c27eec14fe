package playlists

import (
	"fmt"
	"testing"
	"time"
)

// activeDays lists the days of [from, from+n) on which schedule s is on
// screen at the given local time.
func activeDays(t *testing.T, p *Program, from time.Time, n int, hh, mm int) []string {
	t.Helper()
	var out []string
	for i := 0; i < n; i++ {
		d := from.AddDate(0, 0, i)
		x := time.Date(d.Year(), d.Month(), d.Day(), hh, mm, 0, 0, d.Location())
		now := At(p, x, Options{})
		if len(now.Zones) > 0 && now.Zones[0].ScheduleID == "s" {
			out = append(out, x.Format("2006-01-02"))
		}
	}
	return out
}

func TestRecurrence(t *testing.T) {
	cases := []struct {
		name string
		mod  func(s *Schedule)
		from string
		days int
		want string
	}{
		{"date range inclusive", func(s *Schedule) { s.From, s.Until = "2026-09-03", "2026-09-05" }, "2026-09-01", 7, "[2026-09-03 2026-09-04 2026-09-05]"},
		{"days", func(s *Schedule) { s.Days = []time.Weekday{time.Saturday, time.Sunday} }, "2026-09-01", 7, "[2026-09-05 2026-09-06]"},
		{"except", func(s *Schedule) { s.Except = []Date{"2026-09-02"}; s.Until = "2026-09-03" }, "2026-09-01", 5, "[2026-09-01 2026-09-03]"},
		{"daily every 3", func(s *Schedule) {
			s.From = "2026-09-01"
			s.Recurrence = &Recurrence{Freq: Daily, Interval: 3}
		}, "2026-09-01", 8, "[2026-09-01 2026-09-04 2026-09-07]"},
		{"weekly every 2 on Mon+Thu", func(s *Schedule) {
			s.From = "2026-09-02" // a Wednesday: the week of Mon 08-31 counts as week 0
			s.Days = []time.Weekday{time.Monday, time.Thursday}
			s.Recurrence = &Recurrence{Freq: Weekly, Interval: 2}
		}, "2026-08-31", 21, "[2026-09-03 2026-09-14 2026-09-17]"},
		{"weekly default weekday of From", func(s *Schedule) {
			s.From = "2026-09-02"
			s.Recurrence = &Recurrence{Freq: Weekly}
		}, "2026-09-01", 14, "[2026-09-02 2026-09-09]"},
		{"monthly day 31 skips short months", func(s *Schedule) {
			s.From = "2026-01-01"
			s.Recurrence = &Recurrence{Freq: Monthly, ByMonthDay: []int{31}}
		}, "2026-08-01", 153, "[2026-08-31 2026-10-31 2026-12-31]"},
		{"monthly last day", func(s *Schedule) {
			s.From = "2026-01-01"
			s.Recurrence = &Recurrence{Freq: Monthly, ByMonthDay: []int{-1}}
		}, "2028-01-15", 60, "[2028-01-31 2028-02-29]"},
		{"monthly last Friday and 2nd Monday", func(s *Schedule) {
			s.From = "2026-01-01"
			s.Recurrence = &Recurrence{Freq: Monthly, ByWeekday: []NthWeekday{{time.Friday, -1}, {time.Monday, 2}}}
		}, "2026-09-01", 30, "[2026-09-14 2026-09-25]"},
		{"monthly every 2 from From's day", func(s *Schedule) {
			s.From = "2026-01-15"
			s.Recurrence = &Recurrence{Freq: Monthly, Interval: 2}
		}, "2026-01-01", 120, "[2026-01-15 2026-03-15]"},
		{"yearly Feb 29 in a leap year", func(s *Schedule) {
			s.From = "2028-02-29"
			s.Recurrence = &Recurrence{Freq: Yearly}
		}, "2028-02-27", 4, "[2028-02-29]"},
		{"yearly Feb 29 not in 2029", func(s *Schedule) {
			s.From = "2028-02-29"
			s.Recurrence = &Recurrence{Freq: Yearly}
		}, "2029-02-27", 4, "[]"},
		{"yearly Feb 29 again in 2032", func(s *Schedule) {
			s.From = "2028-02-29"
			s.Recurrence = &Recurrence{Freq: Yearly}
		}, "2032-02-28", 2, "[2032-02-29]"},
		{"yearly by month and weekday", func(s *Schedule) {
			s.From = "2026-01-01"
			s.Recurrence = &Recurrence{Freq: Yearly, ByMonth: []int{11}, ByWeekday: []NthWeekday{{time.Thursday, 4}}}
		}, "2026-11-01", 30, "[2026-11-26]"},
		{"holidays only", func(s *Schedule) { s.Holidays = HolidaysOnly }, "2026-09-01", 4, "[2026-09-02]"},
		{"holidays skip", func(s *Schedule) { s.Holidays = HolidaysSkip }, "2026-09-01", 4, "[2026-09-01 2026-09-03 2026-09-04]"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := base()
			p.Holidays = []Holiday{{Date: "2026-09-02"}}
			p.Default = &Content{PlaylistID: "P2"}
			s := sched("s", 1, Content{PlaylistID: "P1"})
			c.mod(&s)
			p.Schedules = []Schedule{s}
			mustValid(t, p)
			from, _ := time.ParseInLocation("2006-01-02", c.from, hcm)
			if got := fmt.Sprint(activeDays(t, p, from, c.days, 12, 0)); got != c.want {
				t.Errorf("got %s, want %s", got, c.want)
			}
		})
	}
}

func TestWindowAcrossMidnight(t *testing.T) {
	p := base()
	p.Hours = []Window{{"00:00", "00:00"}} // open all day
	p.Default = &Content{PlaylistID: "P2"}
	s := sched("s", 1, Content{PlaylistID: "P1"})
	s.Windows = []Window{{"22:00", "06:00"}}
	s.Days = []time.Weekday{time.Friday}
	s.Until = "2026-09-04"
	p.Schedules = []Schedule{s}
	mustValid(t, p)
	cases := []struct {
		t    time.Time
		want string
	}{
		{at(hcm, 2026, 9, 4, 2, 0, 0), ""},   // Friday 02:00 belongs to Thursday's window
		{at(hcm, 2026, 9, 4, 22, 0, 0), "s"}, // Friday 22:00
		{at(hcm, 2026, 9, 5, 2, 0, 0), "s"},  // Saturday 02:00, Until was Friday
		{at(hcm, 2026, 9, 5, 6, 0, 0), ""},
	}
	for i, c := range cases {
		n := At(p, c.t, Options{})
		if n.Off || n.Zones[0].ScheduleID != c.want {
			t.Errorf("case %d: %+v", i, n)
		}
	}
	// the loop runs on across midnight (anchored at 22:00; 14400 s = 240 periods)
	if n := At(p, at(hcm, 2026, 9, 5, 2, 0, 0), Options{}); zoneItem(n, MainZone) != "a" || !n.Zones[0].Start.Equal(at(hcm, 2026, 9, 5, 2, 0, 0)) {
		t.Errorf("loop across midnight: %+v", n.Zones[0])
	}
	// operating hours across midnight belong to the day they start on
	q := base()
	q.Hours = []Window{{"18:00", "02:00"}}
	q.Default = &Content{PlaylistID: "P1"}
	q.Holidays = []Holiday{{Date: "2026-09-02", Hours: []Window{{"10:00", "12:00"}}}}
	if n := At(q, at(hcm, 2026, 9, 2, 1, 0, 0), Options{}); n.Off {
		t.Error("01:00 on the holiday still belongs to the previous evening")
	}
	if n := At(q, at(hcm, 2026, 9, 3, 1, 0, 0), Options{}); !n.Off {
		t.Error("01:00 after the holiday: the holiday had no evening hours")
	}
}

func TestDSTBerlin(t *testing.T) {
	mk := func() *Program {
		p := base()
		p.Timezone = "Europe/Berlin"
		p.Hours = []Window{{"00:00", "00:00"}}
		p.Default = &Content{PlaylistID: "P2"}
		s := sched("s", 1, Content{PlaylistID: "P1"})
		s.Windows = []Window{{"02:00", "03:00"}}
		s2 := sched("late", 1, Content{PlaylistID: "P1"})
		s2.Windows = []Window{{"02:30", "04:00"}}
		p.Schedules = []Schedule{s, s2}
		return p
	}
	p := mk()
	mustValid(t, p)
	// spring forward 2026-03-29: 02:00–03:00 does not exist
	spring := Timeline(p, at(berlin, 2026, 3, 29, 0, 0, 0), at(berlin, 2026, 3, 30, 0, 0, 0), Options{})
	var sDur, lateDur time.Duration
	for _, pl := range spring {
		switch pl.ScheduleID {
		case "s":
			sDur += pl.End.Sub(pl.Start)
		case "late":
			lateDur += pl.End.Sub(pl.Start)
		}
	}
	if sDur != 0 || lateDur != time.Hour { // 02:30–04:00 clipped to 03:00–04:00
		t.Errorf("spring forward: s %v, late %v", sDur, lateDur)
	}
	checkTimeline(t, spring)
	// the day is 23 h long
	var total time.Duration
	for _, pl := range spring {
		total += pl.End.Sub(pl.Start)
	}
	if total != 23*time.Hour {
		t.Errorf("spring day plays %v", total)
	}
	// fall back 2026-10-25: 02:00–03:00 happens twice; the window covers
	// both (02:00 CEST until 03:00 CET), the 02:30 start is the first one
	fall := Timeline(p, at(berlin, 2026, 10, 25, 0, 0, 0), at(berlin, 2026, 10, 26, 0, 0, 0), Options{})
	checkTimeline(t, fall)
	total, sDur = 0, 0
	for _, pl := range fall {
		total += pl.End.Sub(pl.Start)
		if pl.ScheduleID != "" {
			sDur += pl.End.Sub(pl.Start)
			if pl.Start.Before(time.Date(2026, 10, 25, 0, 0, 0, 0, time.UTC)) || pl.End.After(time.Date(2026, 10, 25, 3, 0, 0, 0, time.UTC)) {
				t.Errorf("scheduled play outside 02:00 CEST–04:00 CET: %+v", pl)
			}
		}
	}
	// s (02:00 CEST–03:00 CET) and late (02:30 CEST–04:00 CET) together: 3 h
	if total != 25*time.Hour || sDur != 3*time.Hour {
		t.Errorf("fall back: total %v, scheduled %v", total, sDur)
	}
	first := time.Date(2026, 10, 25, 0, 30, 0, 0, time.UTC)  // 02:30 CEST
	second := time.Date(2026, 10, 25, 1, 30, 0, 0, time.UTC) // 02:30 CET
	n1, n2 := At(p, first, Options{}), At(p, second, Options{})
	if n1.Zones[0].ScheduleID != "s" || n2.Zones[0].ScheduleID != "s" {
		t.Errorf("02:30 twice: %s / %s", n1.Why, n2.Why)
	}
	if !n1.Zones[0].Start.Equal(first) || !n2.Zones[0].Start.Equal(second) {
		// s and late merge from the first 02:30 (CEST) until 03:00 CET:
		// the merged loop is anchored at 02:30 CEST; 3600 s later is a
		// multiple of its 120 s period
		t.Errorf("fall back anchoring: %v / %v", n1.Zones[0].Start, n2.Zones[0].Start)
	}
	// At agrees with Timeline across both transitions
	for _, tl := range [][]Play{spring, fall} {
		for i := 0; i < len(tl); i += 37 {
			n := At(p, tl[i].Start, Options{})
			if zoneItem(n, MainZone) != tl[i].ItemID || n.Zones[0].ScheduleID != tl[i].ScheduleID {
				t.Fatalf("At/Timeline disagree at %v: %s vs %+v", tl[i].Start, zoneItem(n, MainZone), tl[i])
			}
		}
	}
	// hours across the spring gap: 01:00–05:00 is 3 h long
	q := mk()
	q.Hours = []Window{{"01:00", "05:00"}}
	q.Schedules = nil
	var d time.Duration
	for _, pl := range Timeline(q, at(berlin, 2026, 3, 29, 0, 0, 0), at(berlin, 2026, 3, 30, 0, 0, 0), Options{}) {
		d += pl.End.Sub(pl.Start)
	}
	if d != 3*time.Hour {
		t.Errorf("hours over the gap: %v", d)
	}
}

func TestTimezoneHCM(t *testing.T) {
	p := base()
	p.Default = &Content{PlaylistID: "P1"}
	// 00:00 UTC is 07:00 in Ho Chi Minh City (UTC+7, no DST)
	n := At(p, time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC), Options{})
	if n.Off || zoneItem(n, MainZone) != "a" || !n.Zones[0].Start.Equal(time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("HCM 07:00: %+v", n)
	}
	if n := At(p, time.Date(2026, 5, 31, 23, 59, 0, 0, time.UTC), Options{}); !n.Off {
		t.Error("06:59 in HCM should be off")
	}
	if loc := n.Zones[0].Start.Location().String(); loc != "Asia/Ho_Chi_Minh" {
		t.Errorf("times are reported in the program's zone, got %s", loc)
	}
}

// checkTimeline asserts sorted order and no overlap within a zone.
func checkTimeline(t *testing.T, tl []Play) {
	t.Helper()
	last := map[string]time.Time{}
	for i, pl := range tl {
		if !pl.End.After(pl.Start) {
			t.Fatalf("empty play %d: %+v", i, pl)
		}
		if i > 0 {
			prev := tl[i-1]
			if pl.Start.Before(prev.Start) || (pl.Start.Equal(prev.Start) && pl.Zone <= prev.Zone) {
				t.Fatalf("not sorted at %d: %+v after %+v", i, pl, prev)
			}
		}
		if e, ok := last[pl.Zone]; ok && pl.Start.Before(e) {
			t.Fatalf("overlap in zone %s at %d: %+v starts before %v", pl.Zone, i, pl, e)
		}
		last[pl.Zone] = pl.End
	}
}
