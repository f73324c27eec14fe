package playlists

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// TestRecurrenceRFC5545 compares recurrences over two years (2026 and
// 2027) with answers worked out by hand from a calendar as RFC 5545 reads
// the same rule (DTSTART = from).
func TestRecurrenceRFC5545(t *testing.T) {
	var thirteenths []string
	for y := 2026; y <= 2027; y++ {
		for m := 1; m <= 12; m++ {
			thirteenths = append(thirteenths, fmt.Sprintf("%d-%02d-13", y, m))
		}
	}
	cases := []struct {
		name string
		rule string // the RFC 5545 RRULE it stands for
		rec  Recurrence
		days []time.Weekday
		want string
	}{
		{"Friday the 13th", "FREQ=MONTHLY;BYDAY=FR;BYMONTHDAY=13",
			Recurrence{Freq: Monthly, ByMonthDay: []int{13}, ByWeekday: []NthWeekday{{time.Friday, 0}}}, nil,
			"[2026-02-13 2026-03-13 2026-11-13 2027-08-13]"},
		{"monthly limited to January and July", "FREQ=MONTHLY;BYMONTH=1,7",
			Recurrence{Freq: Monthly, ByMonth: []int{1, 7}}, nil,
			"[2026-01-01 2026-07-01 2027-01-01 2027-07-01]"},
		{"monthly every 2 in January and July", "FREQ=MONTHLY;INTERVAL=2;BYMONTH=1,7;BYMONTHDAY=-1",
			Recurrence{Freq: Monthly, Interval: 2, ByMonth: []int{1, 7}, ByMonthDay: []int{-1}}, nil,
			"[2026-01-31 2026-07-31 2027-01-31 2027-07-31]"},
		{"yearly 13th without by_month is every month", "FREQ=YEARLY;BYMONTHDAY=13",
			Recurrence{Freq: Yearly, ByMonthDay: []int{13}}, nil,
			"[" + strings.Join(thirteenths, " ") + "]"},
		{"yearly 10th Monday of the year", "FREQ=YEARLY;BYDAY=10MO",
			Recurrence{Freq: Yearly, ByWeekday: []NthWeekday{{time.Monday, 10}}}, nil,
			"[2026-03-09 2027-03-08]"},
		{"yearly last Sunday of the year", "FREQ=YEARLY;BYDAY=-1SU",
			Recurrence{Freq: Yearly, ByWeekday: []NthWeekday{{time.Sunday, -1}}}, nil,
			"[2026-12-27 2027-12-26]"},
		{"yearly Friday 13 November", "FREQ=YEARLY;BYMONTH=11;BYMONTHDAY=13;BYDAY=FR",
			Recurrence{Freq: Yearly, ByMonth: []int{11}, ByMonthDay: []int{13}, ByWeekday: []NthWeekday{{time.Friday, 0}}}, nil,
			"[2026-11-13]"},
		{"daily Fridays in February", "FREQ=DAILY;BYMONTH=2;BYDAY=FR",
			Recurrence{Freq: Daily, ByMonth: []int{2}, ByWeekday: []NthWeekday{{time.Friday, 0}}}, nil,
			"[2026-02-06 2026-02-13 2026-02-20 2026-02-27 2027-02-05 2027-02-12 2027-02-19 2027-02-26]"},
		{"daily on the 1st and last in March", "FREQ=DAILY;BYMONTH=3;BYMONTHDAY=1,-1",
			Recurrence{Freq: Daily, ByMonth: []int{3}, ByMonthDay: []int{1, -1}}, nil,
			"[2026-03-01 2026-03-31 2027-03-01 2027-03-31]"},
		{"weekly by_weekday within days", "FREQ=WEEKLY;BYMONTH=12;BYDAY=FR (days Mon, Fri)",
			Recurrence{Freq: Weekly, ByMonth: []int{12}, ByWeekday: []NthWeekday{{time.Friday, 0}}}, []time.Weekday{time.Monday, time.Friday},
			"[2026-12-04 2026-12-11 2026-12-18 2026-12-25 2027-12-03 2027-12-10 2027-12-17 2027-12-24 2027-12-31]"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := base()
			p.Default = &Content{PlaylistID: "P2"}
			s := sched("s", 1, Content{PlaylistID: "P1"})
			s.From = "2026-01-01"
			s.Days = c.days
			rec := c.rec
			s.Recurrence = &rec
			p.Schedules = []Schedule{s}
			mustValid(t, p)
			from, _ := time.ParseInLocation("2006-01-02", "2026-01-01", hcm)
			if got := fmt.Sprint(activeDays(t, p, from, 730, 12, 0)); got != c.want {
				t.Errorf("%s:\n got %s\nwant %s", c.rule, got, c.want)
			}
		})
	}
}

// TestRecurrenceRefused: rules Beacon does not support are refused with a
// clear error, never accepted and ignored.
func TestRecurrenceRefused(t *testing.T) {
	cases := []struct {
		rec  Recurrence
		want string
	}{
		{Recurrence{Freq: Weekly, ByMonthDay: []int{13}}, "by_month_day does not apply to a weekly recurrence"},
		{Recurrence{Freq: Daily, ByWeekday: []NthWeekday{{time.Monday, 1}}}, "a daily recurrence takes n 0"},
		{Recurrence{Freq: Weekly, ByWeekday: []NthWeekday{{time.Monday, -1}}}, "a weekly recurrence takes n 0"},
		{Recurrence{Freq: Monthly, ByWeekday: []NthWeekday{{time.Monday, 6}}}, "by_weekday {1, 6} out of range (weekday 0..6, n -5..5)"},
		{Recurrence{Freq: Yearly, ByMonth: []int{3}, ByWeekday: []NthWeekday{{time.Monday, 10}}}, "out of range (weekday 0..6, n -5..5)"},
		{Recurrence{Freq: Yearly, ByWeekday: []NthWeekday{{time.Monday, 54}}}, "out of range (weekday 0..6, n -53..53)"},
		{Recurrence{Freq: Monthly, ByMonth: []int{13}}, "by_month 13 out of range"},
	}
	for _, c := range cases {
		p := base()
		s := sched("s", 1, Content{PlaylistID: "P1"})
		s.From = "2026-01-01"
		rec := c.rec
		s.Recurrence = &rec
		p.Schedules = []Schedule{s}
		err := p.Validate()
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: got %v, want an error with %q", c.rec, err, c.want)
		}
	}
}

// TestNestingTooDeep: playlists nested deeper than evaluation follows are
// refused, not cut short.
func TestNestingTooDeep(t *testing.T) {
	p := base()
	chain := func(n int) {
		p.Playlists = p.Playlists[:0]
		for i := 0; i <= n; i++ {
			pl := Playlist{ID: fmt.Sprintf("N%d", i), Entries: []Entry{{ItemID: "a"}}}
			if i < n {
				pl.Entries = append(pl.Entries, Entry{PlaylistID: fmt.Sprintf("N%d", i+1)})
			}
			p.Playlists = append(p.Playlists, pl)
		}
		p.Schedules = []Schedule{sched("s", 1, Content{PlaylistID: "N0"})}
	}
	chain(MaxNesting)
	mustValid(t, p)
	if got := len(Compile(p).flat["N0"]); got != MaxNesting+1 {
		t.Fatalf("N0 flattens to %d items, want %d", got, MaxNesting+1)
	}
	chain(MaxNesting + 1)
	if err := p.Validate(); err == nil || !strings.Contains(err.Error(), `playlist "N0": nests playlists 17 deep, more than 16`) {
		t.Fatalf("got %v", err)
	}
}
