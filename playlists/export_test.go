package playlists

import (
	"bytes"
	"encoding/xml"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite golden files")

func TestConflicts(t *testing.T) {
	p := base()
	p.Layouts = []Layout{{ID: "L", Zones: []Zone{{ID: MainZone, W: 50, H: 100}, {ID: "side", X: 50, W: 50, H: 100}}}}
	m1 := sched("m1", 2, Content{PlaylistID: "P1"})
	m1.Windows = []Window{{"08:00", "09:00"}}
	m2 := sched("m2", 2, Content{LayoutID: "L", Zones: map[string]string{MainZone: "P2", "nope": "P1"}})
	m2.Windows = []Window{{"08:30", "10:00"}}
	never := sched("never", 1, Content{PlaylistID: "P1"})
	never.From, never.Recurrence = "2026-01-01", &Recurrence{Freq: Yearly, ByMonth: []int{2}, ByMonthDay: []int{30}}
	night := sched("night", 1, Content{PlaylistID: "P1"})
	night.Windows = []Window{{"23:00", "05:00"}}
	big := sched("big", 0, Content{PlaylistID: "P1"})
	big.Interrupt = &Interrupt{SecondsPerHour: 5000}
	p.Schedules = []Schedule{m1, m2, never, night, big}
	cs := Conflicts(p, at(hcm, 2026, 9, 1, 0, 0, 0), at(hcm, 2026, 9, 2, 0, 0, 0))
	var msgs []string
	for _, c := range cs {
		msgs = append(msgs, strings.Join(c.ScheduleIDs, ",")+": "+c.Message)
	}
	all := strings.Join(msgs, "\n")
	for _, want := range []string{
		"big: interrupt big: 5000 s per hour cannot fit",
		"m2: schedule m2 names zone \"nope\", which layout L lacks",
		"m2: schedule m2 gives zone \"side\" of layout L no playlist",
		"never: schedule never never occurs",
		"night: schedule night occurs only outside operating hours",
		"m1,m2: schedules m1, m2 have equal priority 2 and merge",
	} {
		if !strings.Contains(all, want) {
			t.Errorf("missing %q in\n%s", want, all)
		}
	}
	for _, c := range cs {
		if strings.Contains(c.Message, "merge") && (!c.From.Equal(at(hcm, 2026, 9, 1, 8, 30, 0)) || !c.To.Equal(at(hcm, 2026, 9, 1, 9, 0, 0))) {
			t.Errorf("merge period %v–%v", c.From, c.To)
		}
	}
}

func TestFiles(t *testing.T) {
	p := base()
	p.Items[4].ValidUntil = "2026-08-31" // y expired
	p.Default = &Content{PlaylistID: "P2"}
	s := sched("s", 1, Content{PlaylistID: "P1"})
	s.From = "2026-09-02"
	p.Schedules = []Schedule{s}
	got := strings.Join(Files(p, at(hcm, 2026, 9, 1, 0, 0, 0), at(hcm, 2026, 9, 2, 0, 0, 0)), " ")
	if got != "sha-x" {
		t.Errorf("day 1 files: %s", got)
	}
	got = strings.Join(Files(p, at(hcm, 2026, 9, 1, 0, 0, 0), at(hcm, 2026, 9, 3, 0, 0, 0)), " ")
	if got != "sha-a sha-b sha-c sha-x" {
		t.Errorf("two days: %s", got)
	}
}

func smilProgram() *Program {
	p := irqProgram()
	p.Items = append(p.Items,
		Item{ID: "v1", Kind: KindVideo, NaturalS: 12.5, Variants: map[string]Variant{"vi": {SHA256: "sha-v1"}}, DefaultLang: "vi"},
		Item{ID: "t1", Kind: KindText, Variants: map[string]Variant{"vi": {Text: "Giờ mở cửa & <khuyến mãi>"}}, DefaultLang: "vi"},
		Item{ID: "w1", Kind: KindWeb, DurationS: 30, Variants: map[string]Variant{"vi": {URL: "https://example.com/?a=1&b=2"}}, DefaultLang: "vi"},
		Item{ID: "k1", Kind: KindClock, Variants: map[string]Variant{"vi": {}}, DefaultLang: "vi", Clock: &ClockStyle{Format: "15:04:05"}},
		Item{ID: "m1", Kind: KindAudio, NaturalS: 60, Variants: map[string]Variant{"vi": {SHA256: "sha-m1"}}, DefaultLang: "vi"},
	)
	p.Playlists = append(p.Playlists, pl("MIX", "v1", "t1", "w1", "k1"), pl("AUD", "m1"))
	p.Layouts = []Layout{{ID: "L", Zones: []Zone{{ID: MainZone, W: 75, H: 100}, {ID: "side", X: 75, W: 25, H: 100, Z: 1}}}}
	p.Hours = []Window{{"08:00", "10:00"}}
	s := sched("morning", 1, Content{LayoutID: "L", Zones: map[string]string{MainZone: "MIX", "side": "P2"}})
	s.Windows = []Window{{"09:00", "10:00"}}
	p.Schedules = append(p.Schedules, s)
	return p
}

func TestSMILGolden(t *testing.T) {
	p := smilProgram()
	out, err := SMIL(p, at(hcm, 2026, 9, 1, 0, 0, 0), 2)
	if err != nil {
		t.Fatal(err)
	}
	// well-formed, in the SMIL namespace
	var doc struct {
		XMLName xml.Name
		Version string `xml:"version,attr"`
		Body    struct {
			Inner []byte `xml:",innerxml"`
		} `xml:"body"`
	}
	if err := xml.Unmarshal(out, &doc); err != nil {
		t.Fatalf("not XML: %v", err)
	}
	if doc.XMLName.Space != "http://www.w3.org/ns/SMIL" || doc.XMLName.Local != "smil" || doc.Version != "3.0" {
		t.Errorf("root %v version %q", doc.XMLName, doc.Version)
	}
	for _, want := range []string{`<prefetch src="files/sha-a"/>`, `begin="wallclock(2026-09-01T08:00:00+07:00)"`, `<seq repeatCount="indefinite">`, `<priorityClass`, `<video src="files/sha-v1" region="r_L.main" dur="12.5s"`} {
		if !bytes.Contains(out, []byte(want)) {
			t.Errorf("missing %s", want)
		}
	}
	again, _ := SMIL(p, at(hcm, 2026, 9, 1, 0, 0, 0), 2)
	if !bytes.Equal(out, again) {
		t.Error("SMIL output not deterministic")
	}
	golden := filepath.Join("testdata", "smil_golden.xml")
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(golden, out, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run with -update)", err)
	}
	if !bytes.Equal(out, want) {
		t.Errorf("SMIL differs from %s (run with -update after checking):\n%s", golden, out)
	}
	if _, err := SMIL(p, time.Now(), 0); err == nil {
		t.Error("days 0 accepted")
	}
}

func TestValidate(t *testing.T) {
	if err := smilProgram().Validate(); err != nil {
		t.Fatalf("valid program rejected: %v", err)
	}
	cases := []struct {
		name string
		mod  func(p *Program)
		want string
	}{
		{"time zone", func(p *Program) { p.Timezone = "Mars/Olympus" }, `unknown time zone "Mars/Olympus"`},
		{"hours clock", func(p *Program) { p.Hours = []Window{{"7:00", "22:00"}} }, `time "7:00" is not HH:MM`},
		{"holiday date", func(p *Program) { p.Holidays = []Holiday{{Date: "2026-02-29"}} }, `holiday "2026-02-29": date "2026-02-29" is not a calendar date`},
		{"dup item", func(p *Program) { p.Items = append(p.Items, img("a", 1)) }, `item "a": duplicate id`},
		{"item kind", func(p *Program) { p.Items[0].Kind = "hologram" }, `item "a": unknown kind "hologram"`},
		{"item no variants", func(p *Program) { p.Items[0].Variants = nil }, `item "a": no variants`},
		{"item negative", func(p *Program) { p.Items[0].DurationS = -1 }, `item "a": durations must be finite`},
		{"item validity", func(p *Program) { p.Items[0].ValidFrom, p.Items[0].ValidUntil = "2026-02-01", "2026-01-01" }, `item "a": valid_until 2026-01-01 is before`},
		{"same_origin not web", func(p *Program) { p.Items[0].SameOrigin = true }, `item "a": same_origin is for web items only`},
		{"media without file", func(p *Program) { p.Items[0].Variants["en"] = Variant{} }, `item "a": variant "en" has no sha256`},
		{"unknown item", func(p *Program) { p.Playlists[0].Entries[0].ItemID = "zz" }, `playlist "P1" entry 0: unknown item "zz"`},
		{"cycle", func(p *Program) {
			p.Playlists[0].Entries = append(p.Playlists[0].Entries, Entry{PlaylistID: "P2"})
			p.Playlists[1].Entries = append(p.Playlists[1].Entries, Entry{PlaylistID: "P1"})
		}, `nested playlists form a cycle (P1 → P2 → P1)`},
		{"entry both", func(p *Program) { p.Playlists[0].Entries[0].PlaylistID = "P2" }, `needs exactly one of item_id and playlist_id`},
		{"layout rect", func(p *Program) { p.Layouts[0].Zones[1].W = 40 }, `layout "L" zone "side": rectangle 75,0 40x100 % is not inside`},
		{"layout unit", func(p *Program) { p.Layouts[0].Zones[1].Unit = "em" }, `unknown unit "em"`},
		{"unknown layout", func(p *Program) { p.Schedules[1].Content.LayoutID = "Q" }, `schedule "morning": unknown layout "Q"`},
		{"unknown zone playlist", func(p *Program) { p.Schedules[1].Content.Zones["side"] = "nope" }, `schedule "morning": zone "side": unknown playlist "nope"`},
		{"sov zero", func(p *Program) { p.Schedules[0].Interrupt.SecondsPerHour = 0 }, `schedule "ad": interrupt seconds_per_hour 0 must be in 1..3600`},
		{"sov over", func(p *Program) { p.Schedules[0].Interrupt.SecondsPerHour = 3601 }, `seconds_per_hour 3601`},
		{"dates order", func(p *Program) { p.Schedules[0].From, p.Schedules[0].Until = "2026-05-01", "2026-04-01" }, `schedule "ad": until 2026-04-01 is before from 2026-05-01`},
		{"weekday", func(p *Program) { p.Schedules[0].Days = []time.Weekday{7} }, `weekday 7 out of range`},
		{"recurrence from", func(p *Program) { p.Schedules[0].Recurrence = &Recurrence{Freq: Daily} }, `a recurrence needs a from date`},
		{"recurrence freq", func(p *Program) {
			p.Schedules[0].From = "2026-01-01"
			p.Schedules[0].Recurrence = &Recurrence{Freq: "hourly"}
		}, `unknown recurrence freq "hourly"`},
		{"month day", func(p *Program) {
			p.Schedules[0].From = "2026-01-01"
			p.Schedules[0].Recurrence = &Recurrence{Freq: Monthly, ByMonthDay: []int{0}}
		}, `by_month_day 0 out of range`},
		{"holidays", func(p *Program) { p.Schedules[0].Holidays = "sometimes" }, `holidays must be`},
		{"window", func(p *Program) { p.Schedules[1].Windows = []Window{{"09:00", "25:00"}} }, `time "25:00" is not a time of day`},
		{"dup schedule", func(p *Program) { p.Schedules[1].ID = "ad" }, `schedule "ad": duplicate id`},
		{"empty content", func(p *Program) { p.Default = &Content{} }, `default content: content names no playlist or layout`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := smilProgram()
			c.mod(p)
			err := p.Validate()
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("err = %v, want %q", err, c.want)
			}
		})
	}
}

func TestConflictsHiddenByHigherPriority(t *testing.T) {
	p := base()
	top := sched("top", 9, Content{PlaylistID: "P1"}) // all day
	under := sched("under", 3, Content{PlaylistID: "P2"})
	under.Windows = []Window{{"10:00", "12:00"}}
	part := sched("part", 3, Content{PlaylistID: "P2"})
	part.Windows = []Window{{"11:00", "13:00"}} // overlaps under at equal priority: both show
	peek := sched("peek", 5, Content{PlaylistID: "P2"})
	peek.Days = []time.Weekday{time.Tuesday}
	p.Schedules = []Schedule{top, under, peek}
	mustValid(t, p)
	cs := Conflicts(p, at(hcm, 2026, 9, 1, 0, 0, 0), at(hcm, 2026, 9, 8, 0, 0, 0))
	var hidden []string
	for _, c := range cs {
		if strings.Contains(c.Message, "hidden the whole time") {
			hidden = append(hidden, strings.Join(c.ScheduleIDs, ","))
			if !strings.Contains(c.Message, "higher-priority schedule top") {
				t.Errorf("message does not name the hider: %s", c.Message)
			}
		}
	}
	if strings.Join(hidden, " ") != "peek,top under,top" {
		t.Errorf("hidden: %q (all: %v)", hidden, cs)
	}
	// Without the all-day schedule, nothing is hidden.
	p.Schedules = []Schedule{under, part, peek}
	for _, c := range Conflicts(p, at(hcm, 2026, 9, 1, 0, 0, 0), at(hcm, 2026, 9, 8, 0, 0, 0)) {
		if strings.Contains(c.Message, "hidden") {
			t.Errorf("unexpected: %s", c.Message)
		}
	}
}

func TestOccurrences(t *testing.T) {
	p := base()
	p.Hours = []Window{{"07:00", "22:00"}}
	morning := sched("morning", 1, Content{PlaylistID: "P1"})
	morning.Windows = []Window{{"08:00", "12:00"}}
	morning.Days = []time.Weekday{time.Tuesday, time.Wednesday}
	promo := sched("promo", 5, Content{PlaylistID: "P2"})
	promo.Windows = []Window{{"10:00", "11:00"}}
	promo.From, promo.Until = "2026-09-01", "2026-09-01"
	late := sched("late", 1, Content{PlaylistID: "P2"})
	late.Windows = []Window{{"21:00", "23:30"}} // cut at the end of the hours
	late.Days = []time.Weekday{time.Tuesday}
	p.Schedules = []Schedule{morning, promo, late}
	mustValid(t, p)
	// 2026-09-01 is a Tuesday.
	got := Compile(p).Occurrences(at(hcm, 2026, 9, 1, 0, 0, 0), at(hcm, 2026, 9, 3, 0, 0, 0))
	var lines []string
	for _, o := range got {
		lines = append(lines, o.ScheduleID+" "+o.From.In(hcm).Format("02 15:04")+"-"+o.To.In(hcm).Format("02 15:04")+" "+map[bool]string{true: "shown", false: "hidden"}[o.Shown])
	}
	want := []string{
		"morning 01 08:00-01 10:00 shown",
		"morning 01 10:00-01 11:00 hidden",
		"promo 01 10:00-01 11:00 shown",
		"morning 01 11:00-01 12:00 shown",
		"late 01 21:00-01 22:00 shown",
		"morning 02 08:00-02 12:00 shown",
	}
	if strings.Join(lines, "\n") != strings.Join(want, "\n") {
		t.Errorf("occurrences:\n%s\nwant:\n%s", strings.Join(lines, "\n"), strings.Join(want, "\n"))
	}
}
