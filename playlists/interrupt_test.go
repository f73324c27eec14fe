package playlists

import (
	"strings"
	"testing"
	"time"
)

func irqProgram() *Program {
	p := base()
	p.Items = append(p.Items, img("sp1", 30), img("sp2", 30), img("sp3", 30), img("long", 90))
	p.Playlists = append(p.Playlists, pl("SP", "sp1", "sp2", "sp3"))
	p.Default = &Content{PlaylistID: "P1"}
	s := sched("ad", 0, Content{PlaylistID: "SP"})
	s.Interrupt = &Interrupt{SecondsPerHour: 60}
	p.Schedules = []Schedule{s}
	return p
}

func TestInterruptShareOfVoice(t *testing.T) {
	p := irqProgram()
	mustValid(t, p)
	tl := Timeline(p, at(hcm, 2026, 9, 1, 7, 0, 0), at(hcm, 2026, 9, 1, 10, 0, 0), Options{})
	checkTimeline(t, tl)
	var got []string
	for _, pl := range tl {
		if pl.Interrupt {
			got = append(got, pl.ItemID+"@"+pl.Start.In(hcm).Format("15:04:05")+"-"+pl.End.In(hcm).Format("15:04:05"))
		}
	}
	want := "sp1@07:00:00-07:00:30 sp2@07:30:00-07:30:30 sp3@08:00:00-08:00:30 sp1@08:30:00-08:30:30 sp2@09:00:00-09:00:30 sp3@09:30:00-09:30:30"
	if g := strings.Join(got, " "); g != want {
		t.Errorf("slots:\n got %s\nwant %s", g, want)
	}
	// during a slot the main zone shows the spot
	n := At(p, at(hcm, 2026, 9, 1, 8, 0, 20), Options{})
	if len(n.Zones) != 1 || !n.Zones[0].Interrupt || zoneItem(n, MainZone) != "sp3" || n.Zones[0].ScheduleID != "ad" ||
		!n.Next.Equal(at(hcm, 2026, 9, 1, 8, 0, 30)) {
		t.Errorf("in slot: %+v", n)
	}
	// after it the content continues on its clock: 3635 s after 07:00 is c (30–60 s of the 60 s loop)
	n = At(p, at(hcm, 2026, 9, 1, 8, 0, 35), Options{})
	if zoneItem(n, MainZone) != "c" || !n.Zones[0].Start.Equal(at(hcm, 2026, 9, 1, 8, 0, 30)) || n.Zones[0].Interrupt {
		t.Errorf("after slot: %+v", n.Zones[0])
	}
	// just before a slot the play is cut at the slot's start
	n = At(p, at(hcm, 2026, 9, 1, 8, 29, 55), Options{})
	if !n.Zones[0].End.Equal(at(hcm, 2026, 9, 1, 8, 30, 0)) {
		t.Errorf("before slot: ends %v", n.Zones[0].End)
	}
}

func TestInterruptFullScreenAndWindows(t *testing.T) {
	p := irqProgram()
	p.Layouts = []Layout{{ID: "two", Zones: []Zone{{ID: "left", W: 50, H: 100, Z: 1}, {ID: "right", X: 50, W: 50, H: 100, Z: 4}}}}
	p.Schedules = append(p.Schedules, sched("split", 1, Content{LayoutID: "two", Zones: map[string]string{"left": "P1", "right": "P2"}}))
	p.Schedules[0].Windows = []Window{{"09:15", "10:00"}}
	mustValid(t, p)
	n := At(p, at(hcm, 2026, 9, 1, 9, 30, 10), Options{})
	if len(n.Zones) != 1 || n.Zones[0].Zone != MainZone || n.Zones[0].Rect != (Rect{0, 0, 1920, 1080}) || n.Zones[0].Z != 5 || !n.Zones[0].Interrupt {
		t.Fatalf("full-screen interrupt: %+v", n.Zones)
	}
	tl := Timeline(p, at(hcm, 2026, 9, 1, 9, 0, 0), at(hcm, 2026, 9, 1, 10, 0, 0), Options{})
	checkTimeline(t, tl)
	slots := 0
	for _, pl := range tl {
		if pl.Interrupt {
			slots++
			if !pl.Start.Equal(at(hcm, 2026, 9, 1, 9, 30, 0)) {
				t.Errorf("slot at %v; only the :30 slot lies in 09:15–10:00", pl.Start)
			}
		} else if pl.Start.Before(at(hcm, 2026, 9, 1, 9, 30, 30)) && pl.End.After(at(hcm, 2026, 9, 1, 9, 30, 0)) {
			t.Errorf("zone %s plays during the full-screen slot: %+v", pl.Zone, pl)
		}
	}
	if slots != 1 {
		t.Errorf("%d slots in the partial hour", slots)
	}
}

func TestInterruptLimits(t *testing.T) {
	p := irqProgram()
	p.Playlists = append(p.Playlists, pl("LONG", "long", "sp1"))
	p.Schedules[0].Content.PlaylistID = "LONG"
	p.Schedules[0].Interrupt.SecondsPerHour = 45
	mustValid(t, p)
	tl := Timeline(p, at(hcm, 2026, 9, 1, 7, 0, 0), at(hcm, 2026, 9, 1, 9, 0, 0), Options{})
	for _, pl := range tl {
		if pl.Interrupt && pl.ItemID != "sp1" {
			t.Errorf("an item longer than the share played: %+v", pl)
		}
	}
	cs := Conflicts(p, at(hcm, 2026, 9, 1, 0, 0, 0), at(hcm, 2026, 9, 2, 0, 0, 0))
	if len(cs) != 1 || !strings.Contains(cs[0].Message, "item long (90 s) is longer") {
		t.Errorf("conflicts: %+v", cs)
	}
	// two interrupts over the hour: higher priority first, never over 3600 s
	q := irqProgram()
	q.Items = append(q.Items, img("ten", 600))
	q.Playlists = append(q.Playlists, pl("TEN", "ten"))
	a := sched("a", 2, Content{PlaylistID: "TEN"})
	a.Interrupt = &Interrupt{SecondsPerHour: 2400}
	b := sched("b", 1, Content{PlaylistID: "TEN"})
	b.Interrupt = &Interrupt{SecondsPerHour: 2400}
	q.Schedules = []Schedule{b, a}
	tl = Timeline(q, at(hcm, 2026, 9, 1, 8, 0, 0), at(hcm, 2026, 9, 1, 9, 0, 0), Options{})
	checkTimeline(t, tl)
	per := map[string]time.Duration{}
	for _, pl := range tl {
		if pl.Interrupt {
			per[pl.ScheduleID] += pl.End.Sub(pl.Start)
		}
	}
	if per["a"] != 40*time.Minute || per["b"] != 20*time.Minute {
		t.Errorf("shares: %v", per)
	}
	found := false
	for _, c := range Conflicts(q, at(hcm, 2026, 9, 1, 8, 0, 0), at(hcm, 2026, 9, 1, 9, 0, 0)) {
		found = found || strings.Contains(c.Message, "exceed the hour")
	}
	if !found {
		t.Error("no conflict for interrupts over the hour")
	}
}
