package playlists

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"testing"
	"time"
)

// The evaluation vectors of protocol/testdata/evaluation: programs (as a
// manifest carries them) with what each zone shows at many instants and
// the timeline over a period. TestEvaluationVectors regenerates them from
// the Go values below and fails if a checked-in file differs by a byte
// (-update rewrites them); it also evaluates the program as decoded from
// each file and compares with the file's expectations, as a third party
// would. Document changes in protocol/testdata/README.md.

const vectorDir = "../protocol/testdata/evaluation"

// vector is one file.
type vector struct {
	Name        string   `json:"name"`
	Description string   `json:"description"`
	Program     *Program `json:"program"`
	// Verified, when present, lists the SHA-256 of the files the player
	// holds verified: an image, video or audio item (and a web item
	// without a URL) whose chosen variant's file is not listed is not
	// playable. Absent: everything is playable.
	Verified []string     `json:"verified,omitempty"`
	At       []vectorNow  `json:"at"`
	Timeline vectorPeriod `json:"timeline"`
}

type vectorNow struct {
	T        string       `json:"t"`
	Off      bool         `json:"off"`
	LayoutID string       `json:"layout_id,omitempty"`
	Zones    []vectorZone `json:"zones"`
	Next     string       `json:"next,omitempty"`
}

type vectorZone struct {
	Zone       string `json:"zone"`
	Rect       Rect   `json:"rect"`
	Z          int    `json:"z"`
	ItemID     string `json:"item_id,omitempty"` // empty: nothing playable
	Lang       string `json:"lang,omitempty"`
	SHA256     string `json:"sha256,omitempty"`
	Start      string `json:"start"`
	End        string `json:"end"`
	ScheduleID string `json:"schedule_id,omitempty"`
	PlaylistID string `json:"playlist_id,omitempty"`
	Interrupt  bool   `json:"interrupt,omitempty"`
}

type vectorPeriod struct {
	From  string       `json:"from"`
	To    string       `json:"to"`
	Plays []vectorPlay `json:"plays"`
}

type vectorPlay struct {
	Zone       string `json:"zone"`
	ItemID     string `json:"item_id"`
	Lang       string `json:"lang,omitempty"`
	SHA256     string `json:"sha256,omitempty"`
	Start      string `json:"start"`
	End        string `json:"end"`
	ScheduleID string `json:"schedule_id,omitempty"`
	PlaylistID string `json:"playlist_id,omitempty"`
	Interrupt  bool   `json:"interrupt,omitempty"`
}

func vts(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }

func vsha(s string) string { h := sha256.Sum256([]byte(s)); return hex.EncodeToString(h[:]) }

func vimg(id string, dur float64) Item {
	return Item{ID: id, Kind: KindImage, DurationS: dur, DefaultLang: "vi",
		Variants: map[string]Variant{"vi": {SHA256: vsha(id), ContentType: "image/png"}}}
}

// playableFor is the rule the vector's Verified states.
func playableFor(verified []string) func(Item, Variant) bool {
	if verified == nil {
		return nil
	}
	return func(it Item, v Variant) bool {
		switch it.Kind {
		case KindText, KindClock:
			return true
		case KindWeb:
			return v.URL != "" || slices.Contains(verified, v.SHA256)
		}
		return slices.Contains(verified, v.SHA256)
	}
}

// evaluate fills the expectations of v at the instants and over the period.
func (v *vector) evaluate(instants []time.Time, from, to time.Time) {
	c := Compile(v.Program)
	opt := Options{Playable: playableFor(v.Verified)}
	v.At = nil
	for _, t := range instants {
		n := c.At(t, opt)
		vn := vectorNow{T: vts(t), Off: n.Off, LayoutID: n.LayoutID, Zones: []vectorZone{}}
		if !n.Next.IsZero() {
			vn.Next = vts(n.Next)
		}
		for _, z := range n.Zones {
			vz := vectorZone{Zone: z.Zone, Rect: z.Rect, Z: z.Z, Start: vts(z.Start), End: vts(z.End),
				ScheduleID: z.ScheduleID, PlaylistID: z.PlaylistID, Interrupt: z.Interrupt}
			if z.Item != nil {
				vz.ItemID, vz.Lang, vz.SHA256 = z.Item.ID, z.Lang, z.Variant.SHA256
			}
			vn.Zones = append(vn.Zones, vz)
		}
		v.At = append(v.At, vn)
	}
	v.Timeline = vectorPeriod{From: vts(from), To: vts(to), Plays: []vectorPlay{}}
	for _, p := range c.Timeline(from, to, opt) {
		v.Timeline.Plays = append(v.Timeline.Plays, vectorPlay{Zone: p.Zone, ItemID: p.ItemID, Lang: p.Lang, SHA256: p.SHA256,
			Start: vts(p.Start), End: vts(p.End), ScheduleID: p.ScheduleID, PlaylistID: p.PlaylistID, Interrupt: p.Interrupt})
	}
}

// every returns the instants from a to b (exclusive) every step.
func every(a, b time.Time, step time.Duration) []time.Time {
	var out []time.Time
	for t := a; t.Before(b); t = t.Add(step) {
		out = append(out, t)
	}
	return out
}

func wall(loc *time.Location, s string) time.Time {
	t, err := time.ParseInLocation("2006-01-02 15:04:05", s, loc)
	if err != nil {
		panic(err)
	}
	return t
}

func vectorProgram(tz string) *Program {
	return &Program{
		Display:  Display{ID: "d-7f3a9c", Width: 1920, Height: 1080},
		Timezone: tz,
		Items:    []Item{vimg("a", 10), vimg("b", 20), vimg("c", 30), vimg("d", 15), vimg("e", 5)},
		Playlists: []Playlist{
			{ID: "P1", Entries: []Entry{{ItemID: "a"}, {ItemID: "b"}}},
			{ID: "P2", Entries: []Entry{{ItemID: "c"}, {ItemID: "d", DurationS: 12}}},
		},
		Layouts:   []Layout{},
		Schedules: []Schedule{},
	}
}

// buildVectors returns every vector, evaluated.
func buildVectors() []*vector {
	var out []*vector
	add := func(name, desc string, p *Program, verified []string, instants []time.Time, from, to time.Time) {
		v := &vector{Name: name, Description: desc, Program: p, Verified: verified}
		v.evaluate(instants, from, to)
		out = append(out, v)
	}
	hcm := mustLoc("Asia/Ho_Chi_Minh")
	ber := mustLoc("Europe/Berlin")

	// Operating hours and holidays.
	{
		p := vectorProgram("Asia/Ho_Chi_Minh")
		p.Hours = []Window{{"07:00", "12:00"}, {"13:00", "22:00"}}
		p.Holidays = []Holiday{{Date: "2026-09-02", Name: "National Day", Hours: []Window{{"09:00", "11:00"}}}, {Date: "2026-09-03"}}
		p.Default = &Content{PlaylistID: "P1"}
		s := Schedule{ID: "workdays", Target: Target{DisplayIDs: []string{"d-7f3a9c"}}, Content: Content{PlaylistID: "P2"}, Priority: 1, Holidays: HolidaysSkip,
			Windows: []Window{{"08:00", "10:00"}}}
		p.Schedules = []Schedule{s}
		var ins []time.Time
		for _, d := range []string{"2026-09-01", "2026-09-02", "2026-09-03"} {
			for _, c := range []string{"06:59:59", "07:00:00", "07:00:10", "07:00:35", "08:00:00", "08:00:31", "09:00:00", "10:00:00", "11:59:59", "12:00:00", "13:00:00", "21:59:59", "22:00:00"} {
				ins = append(ins, wall(hcm, d+" "+c))
			}
		}
		add("hours_holidays", "Operating hours 07:00–12:00 and 13:00–22:00 in Asia/Ho_Chi_Minh; 2026-09-02 is a holiday with hours 09:00–11:00, 2026-09-03 a holiday with the usual hours. Schedule workdays (08:00–10:00, holidays skip) wins over the default content; each hours span and each change of winner restarts the loop.",
			p, nil, ins, wall(hcm, "2026-09-01 07:58:00"), wall(hcm, "2026-09-01 08:02:00"))
	}
	// Windows across midnight.
	{
		p := vectorProgram("Asia/Ho_Chi_Minh")
		p.Hours = []Window{{"00:00", "00:00"}}
		p.Default = &Content{PlaylistID: "P1"}
		s := Schedule{ID: "fri-night", Target: Target{DisplayIDs: []string{"d-7f3a9c"}}, Content: Content{PlaylistID: "P2"}, Priority: 1,
			Days: []time.Weekday{time.Friday}, Windows: []Window{{"22:00", "06:00"}}}
		p.Schedules = []Schedule{s}
		var ins []time.Time
		for _, c := range []string{"2026-09-04 21:59:59", "2026-09-04 22:00:00", "2026-09-04 23:59:59", "2026-09-05 00:00:00", "2026-09-05 05:59:59", "2026-09-05 06:00:00", "2026-09-05 22:00:00", "2026-09-06 03:00:00"} {
			ins = append(ins, wall(hcm, c))
		}
		add("window_midnight", "Hours 00:00–00:00 (all day, one span per day). Schedule fri-night has window 22:00–06:00 on Fridays: it runs Friday 22:00 to Saturday 06:00 (the window belongs to the day it starts on), and not Saturday night. Hours 00:00–00:00 make one hours span per day, from midnight to midnight, so at midnight every loop restarts from its first entry (fri-night shows c again at 00:00) although the schedule runs on.",
			p, nil, ins, wall(hcm, "2026-09-04 23:59:00"), wall(hcm, "2026-09-05 00:01:00"))
	}
	// Priorities and equal-priority merge.
	{
		p := vectorProgram("Asia/Ho_Chi_Minh")
		p.Default = &Content{PlaylistID: "P1"}
		t := Target{DisplayIDs: []string{"d-7f3a9c"}}
		m1 := Schedule{ID: "m1", Target: t, Content: Content{PlaylistID: "P1"}, Priority: 3, Windows: []Window{{"09:00", "11:00"}}}
		m2 := Schedule{ID: "m2", Target: t, Content: Content{PlaylistID: "P2"}, Priority: 3, Windows: []Window{{"10:00", "12:00"}}}
		hi := Schedule{ID: "hi", Target: t, Content: Content{PlaylistID: "P2"}, Priority: 5, Windows: []Window{{"10:30", "10:31"}}}
		lo := Schedule{ID: "lo", Target: t, Content: Content{PlaylistID: "P2"}, Priority: 1}
		p.Schedules = []Schedule{m1, m2, hi, lo}
		var ins []time.Time
		for _, c := range []string{"08:59:59", "09:00:00", "09:00:15", "10:00:00", "10:00:10", "10:00:30", "10:00:42", "10:01:00", "10:01:14", "10:30:00", "10:30:59", "10:31:00", "10:31:30", "11:00:00", "11:00:31", "12:00:00"} {
			ins = append(ins, wall(hcm, "2026-09-01 "+c))
		}
		add("priority_merge", "m1 (P1) and m2 (P2) have equal priority 3 and overlap 10:00–11:00: there they merge into one loop a, b, c, d (P1's items then P2's) starting at 10:00, the instant the set of winners changed. hi (priority 5, 10:30–10:31) takes the screen for a minute; the merged loop restarts at 10:31. lo (priority 1, all day) wins when neither plays; the default content never shows.",
			p, nil, ins, wall(hcm, "2026-09-01 09:59:00"), wall(hcm, "2026-09-01 10:02:00"))
	}
	// An interrupt with share of voice.
	{
		p := vectorProgram("Asia/Ho_Chi_Minh")
		p.Items = append(p.Items, vimg("spot", 30), vimg("spot2", 20))
		p.Playlists = append(p.Playlists, Playlist{ID: "ADS", Entries: []Entry{{ItemID: "spot"}, {ItemID: "spot2"}}})
		p.Layouts = []Layout{{ID: "L", Zones: []Zone{{ID: MainZone, W: 75, H: 100}, {ID: "side", X: 75, W: 25, H: 100, Z: 1}}}}
		t := Target{DisplayIDs: []string{"d-7f3a9c"}}
		reg := Schedule{ID: "reg", Target: t, Content: Content{LayoutID: "L", Zones: map[string]string{MainZone: "P1", "side": "P2"}}}
		irq := Schedule{ID: "ads", Target: t, Content: Content{PlaylistID: "ADS"}, Priority: 0, Interrupt: &Interrupt{SecondsPerHour: 60}, Windows: []Window{{"08:00", "10:00"}}}
		p.Schedules = []Schedule{reg, irq}
		var ins []time.Time
		for _, c := range []string{"07:59:59", "08:00:00", "08:00:29", "08:00:30", "08:00:35", "08:29:59", "08:30:00", "08:30:25", "08:31:00", "09:00:00", "09:00:25", "09:30:00", "09:30:29", "10:00:00"} {
			ins = append(ins, wall(hcm, "2026-09-01 "+c))
		}
		add("interrupt", "Schedule ads is an interrupt of 60 s per hour (08:00–10:00) over layout L (zones main and side). Each clock hour it takes items of ADS in order while they fit in 60 s, continuing where it stopped: 08:00 takes spot (30 s) and spot2 (20 s), placed at 0/2 and 1/2 of the hour (08:00:00 and 08:30:00); 09:00 again spot and spot2. The slots cover zone main only; P1 runs on underneath.",
			p, nil, ins, wall(hcm, "2026-09-01 07:59:30"), wall(hcm, "2026-09-01 08:01:00"))
	}
	// Shuffle.
	{
		p := vectorProgram("Asia/Ho_Chi_Minh")
		p.Playlists = append(p.Playlists, Playlist{ID: "SHUF", Shuffle: true, Entries: []Entry{{ItemID: "a"}, {ItemID: "b"}, {ItemID: "c"}, {ItemID: "d"}, {ItemID: "e"}}})
		p.Default = &Content{PlaylistID: "SHUF"}
		var ins []time.Time
		for _, d := range []string{"2026-09-01", "2026-09-02"} {
			ins = append(ins, every(wall(hcm, d+" 07:00:00"), wall(hcm, d+" 07:01:20"), 10*time.Second)...)
		}
		add("shuffle", "Playlist SHUF (a, b, c, d, e) shuffles: its order on each day is the Fisher–Yates permutation driven by SplitMix64 seeded with FNV-1a 64 of \"d-7f3a9c|2026-09-01|SHUF\" (the local date of the hours span). 2026-09-01 and 2026-09-02 give different orders.",
			p, nil, ins, wall(hcm, "2026-09-02 07:00:00"), wall(hcm, "2026-09-02 07:01:20"))
	}
	// DST in Europe/Berlin.
	{
		p := vectorProgram("Europe/Berlin")
		p.Hours = []Window{{"01:00", "04:00"}}
		p.Default = &Content{PlaylistID: "P1"}
		s := Schedule{ID: "night", Target: Target{DisplayIDs: []string{"d-7f3a9c"}}, Content: Content{PlaylistID: "P2"}, Priority: 1, Windows: []Window{{"02:00", "03:00"}}}
		gap := Schedule{ID: "gap", Target: Target{DisplayIDs: []string{"d-7f3a9c"}}, Content: Content{PlaylistID: "P2"}, Priority: 2, Windows: []Window{{"02:15", "02:45"}}}
		p.Schedules = []Schedule{s, gap}
		var ins []time.Time
		// spring forward: 2026-03-29 02:00 CET becomes 03:00 CEST (01:00 UTC)
		for _, u := range []string{"2026-03-28T23:59:59Z", "2026-03-29T00:00:00Z", "2026-03-29T00:59:59Z", "2026-03-29T01:00:00Z", "2026-03-29T01:59:59Z", "2026-03-29T02:00:00Z",
			// fall back: 2026-10-25 03:00 CEST becomes 02:00 CET (01:00 UTC)
			"2026-10-24T23:00:00Z", "2026-10-24T23:59:59Z", "2026-10-25T00:00:00Z", "2026-10-25T00:15:00Z", "2026-10-25T00:45:00Z", "2026-10-25T01:00:00Z", "2026-10-25T01:30:00Z", "2026-10-25T02:00:00Z", "2026-10-25T02:59:59Z", "2026-10-25T03:00:00Z"} {
			t, _ := time.Parse(time.RFC3339, u)
			ins = append(ins, t)
		}
		add("dst_berlin", "Europe/Berlin, hours 01:00–04:00, schedule night 02:00–03:00 (priority 1) and gap 02:15–02:45 (priority 2). On 2026-03-29 02:00–03:00 does not exist: 02:00 and 03:00 both map to the jump (01:00 UTC), so night and gap never show and the hours span lasts two hours. On 2026-10-25 02:00–03:00 occurs twice: each wall time is its first occurrence, so night runs from 00:00 UTC to 02:00 UTC (two hours) and gap from 00:15 UTC to 00:45 UTC.",
			p, nil, ins, time.Date(2026, 10, 25, 1, 59, 0, 0, time.UTC), time.Date(2026, 10, 25, 2, 1, 0, 0, time.UTC))
		_ = ber
	}
	// Zones and languages, text, clock and an item not yet verified.
	{
		p := vectorProgram("Asia/Ho_Chi_Minh")
		p.Display.Languages = []string{"en", "vi"}
		vid := Item{ID: "promo", Kind: KindVideo, NaturalS: 12.5, DefaultLang: "vi", Variants: map[string]Variant{
			"vi": {SHA256: vsha("promo-vi"), ContentType: "video/mp4"}, "en": {SHA256: vsha("promo-en"), ContentType: "video/mp4"}}}
		zh := Item{ID: "menu", Kind: KindImage, DurationS: 8, DefaultLang: "zh", Variants: map[string]Variant{
			"zh": {SHA256: vsha("menu-zh"), ContentType: "image/png"}, "fr": {SHA256: vsha("menu-fr"), ContentType: "image/png"}}}
		fr := Item{ID: "poster", Kind: KindImage, Variants: map[string]Variant{
			"fr": {SHA256: vsha("poster-fr"), ContentType: "image/png"}, "de": {SHA256: vsha("poster-de"), ContentType: "image/png"}}}
		tick := Item{ID: "ticker", Kind: KindText, DurationS: 60, DefaultLang: "vi", Variants: map[string]Variant{
			"vi": {Text: "Chào mừng"}, "en": {Text: "Welcome"}}, Text: &TextStyle{Scroll: true, SpeedPxS: 90}}
		clk := Item{ID: "clock", Kind: KindClock, DurationS: 30, DefaultLang: "vi", Variants: map[string]Variant{"vi": {}}, Clock: &ClockStyle{Format: "15:04:05"}}
		p.Items = append(p.Items, vid, zh, fr, tick, clk)
		p.Playlists = append(p.Playlists,
			Playlist{ID: "MAIN", Entries: []Entry{{ItemID: "promo"}, {ItemID: "menu"}, {ItemID: "poster"}, {ItemID: "a"}}},
			Playlist{ID: "TICK", Entries: []Entry{{ItemID: "ticker"}}},
			Playlist{ID: "CLK", Entries: []Entry{{ItemID: "clock"}, {PlaylistID: "P1"}}})
		p.Layouts = []Layout{{ID: "L3", Zones: []Zone{
			{ID: MainZone, W: 75, H: 90}, {ID: "clock", X: 75, W: 25, H: 90}, {ID: "ticker", Y: 1000, W: 1920, H: 80, Unit: UnitPixels, Z: 2}}}}
		p.Default = &Content{LayoutID: "L3", PlaylistID: "MAIN", Zones: map[string]string{"ticker": "TICK", "clock": "CLK"}}
		ins := every(wall(hcm, "2026-09-01 07:00:00"), wall(hcm, "2026-09-01 07:02:00"), 5*time.Second)
		add("zones_languages", "Display languages en, vi. Layout L3: main (75 %×90 %), clock (25 %×90 %), ticker (1920×80 px at y 1000, z 2). promo has vi and en variants (en chosen; a video without duration plays its natural 12.5 s); menu has zh and fr (neither wanted: its default_lang zh); poster has fr and de and no default_lang (the first by sorted language: de, 10 s default). Zone clock nests playlist P1 after the clock item.",
			p, nil, ins, wall(hcm, "2026-09-01 07:00:00"), wall(hcm, "2026-09-01 07:02:00"))
		p2 := *p
		add("unverified", "The program of zones_languages on a player that holds only some files verified (listed in verified): promo's en file and a's file are missing, so those items are skipped from the loop as if absent, and the loop is laid out over the playable items from the start of its span. Text and clock items need no file.",
			&p2, []string{vsha("menu-zh"), vsha("poster-de"), vsha("b")}, ins, wall(hcm, "2026-09-01 07:00:00"), wall(hcm, "2026-09-01 07:02:00"))
	}
	// Items with validity dates and dayparts: the loop changes mid-stretch.
	{
		p := vectorProgram("Asia/Ho_Chi_Minh")
		p.Items[1].Dayparts = []Window{{"07:01", "07:02"}} // b only 07:01–07:02
		p.Items[2].ValidUntil = "2026-09-01"               // c until the 1st
		p.Items[3].Dayparts = []Window{{"23:00", "07:00"}} // d only before 07:00 (never inside hours)
		p.Items[4].ValidFrom = "2026-09-02"                // e from the 2nd
		p.Playlists = append(p.Playlists, Playlist{ID: "ALL", Entries: []Entry{{ItemID: "a"}, {ItemID: "b"}, {ItemID: "c"}, {ItemID: "d"}, {ItemID: "e"}}})
		p.Hours = []Window{{"07:00", "01:00"}}
		p.Default = &Content{PlaylistID: "ALL"}
		ins := every(wall(hcm, "2026-09-01 07:00:00"), wall(hcm, "2026-09-01 07:04:00"), 7*time.Second)
		ins = append(ins, every(wall(hcm, "2026-09-01 23:58:00"), wall(hcm, "2026-09-02 00:02:00"), 9*time.Second)...)
		add("eligibility", "Playlist ALL (a 10 s, b 20 s, c 30 s, d 15 s, e 5 s) with b only inside the daypart 07:01–07:02, c valid until 2026-09-01, d only 23:00–07:00 (outside the hours except 23:00–01:00), e valid from 2026-09-02. Hours 07:00–01:00. Where the set of eligible items changes, the item then playing finishes and the loop goes on with the next eligible entry; the span started on 2026-09-01 runs past midnight.",
			p, nil, ins, wall(hcm, "2026-09-01 23:59:00"), wall(hcm, "2026-09-02 00:01:00"))
	}
	// Interrupts over a layout without a main zone; two interrupts share
	// an hour; one's window cuts a slot.
	{
		p := vectorProgram("Asia/Ho_Chi_Minh")
		p.Items = append(p.Items, vimg("spot", 30), vimg("jingle", 600))
		p.Playlists = append(p.Playlists, Playlist{ID: "ADS", Entries: []Entry{{ItemID: "spot"}}}, Playlist{ID: "LONG", Entries: []Entry{{ItemID: "jingle"}, {ItemID: "e"}}})
		p.Layouts = []Layout{{ID: "SPLIT", Zones: []Zone{{ID: "left", W: 50, H: 100, Z: 1}, {ID: "right", X: 50, W: 50, H: 100, Z: 3}}}}
		t := Target{DisplayIDs: []string{"d-7f3a9c"}}
		reg := Schedule{ID: "reg", Target: t, Content: Content{LayoutID: "SPLIT", Zones: map[string]string{"left": "P1", "right": "P2"}}}
		ads := Schedule{ID: "ads", Target: t, Content: Content{PlaylistID: "ADS"}, Priority: 2, Interrupt: &Interrupt{SecondsPerHour: 120}, Windows: []Window{{"08:00", "08:40"}}}
		long := Schedule{ID: "long", Target: t, Content: Content{PlaylistID: "LONG"}, Priority: 1, Interrupt: &Interrupt{SecondsPerHour: 700}}
		p.Schedules = []Schedule{reg, long, ads}
		var ins []time.Time
		for _, c := range []string{"08:00:00", "08:00:29", "08:00:30", "08:00:45", "08:05:00", "08:10:01", "08:15:00", "08:15:40", "08:30:00", "08:30:10", "08:45:00", "09:00:00", "09:00:10", "09:10:00", "09:30:00", "09:30:03"} {
			ins = append(ins, wall(hcm, "2026-09-01 "+c))
		}
		add("interrupt_fullscreen", "Layout SPLIT has zones left and right and no main zone, so interrupt slots cover the whole screen (reported as the only zone, main, z 4). Interrupt ads (priority 2, 120 s per hour, window 08:00–08:40) takes its 30 s spot four times an hour at 0/4…3/4 of the hour; the slot at 08:45 lies outside its window and is dropped. Interrupt long (priority 1, 700 s per hour) takes the 600 s jingle and the 5 s item e, placed at 0/2 and 1/2 of the hour after ads's slots: where they collide, the later candidate is pushed back (the jingle starts at 08:00:30, after the spot; e at 08:30:30).",
			p, nil, ins, wall(hcm, "2026-09-01 08:00:00"), wall(hcm, "2026-09-01 08:20:00"))
	}
	// Recurrence: Friday the 13th.
	{
		p := vectorProgram("Asia/Ho_Chi_Minh")
		p.Default = &Content{PlaylistID: "P1"}
		s := Schedule{ID: "f13", Target: Target{DisplayIDs: []string{"d-7f3a9c"}}, Content: Content{PlaylistID: "P2"}, Priority: 1, From: "2026-01-01",
			Recurrence: &Recurrence{Freq: Monthly, ByMonthDay: []int{13}, ByWeekday: []NthWeekday{{Weekday: time.Friday}}}}
		p.Schedules = []Schedule{s}
		var ins []time.Time
		for _, d := range []string{"2026-02-13", "2026-03-06", "2026-03-13", "2026-04-13", "2026-11-13", "2026-11-20", "2027-08-13"} {
			ins = append(ins, wall(hcm, d+" 12:00:00"))
		}
		add("recurrence_friday13", "Schedule f13 recurs monthly on by_month_day 13 and by_weekday Friday: both must match (RFC 5545), so it runs on Friday the 13th only (2026-02-13, 2026-03-13, 2026-11-13, 2027-08-13); other Fridays and 13ths show the default.",
			p, nil, ins, wall(hcm, "2026-03-13 07:00:00"), wall(hcm, "2026-03-13 07:01:00"))
	}
	return out
}

func vectorJSON(v *vector) []byte {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		panic(err)
	}
	return b.Bytes()
}

func TestEvaluationVectors(t *testing.T) {
	vs := buildVectors()
	names := map[string]bool{}
	for _, v := range vs {
		if err := v.Program.Validate(); err != nil {
			t.Fatalf("%s: %v", v.Name, err)
		}
		path := filepath.Join(vectorDir, v.Name+".json")
		names[v.Name+".json"] = true
		want := vectorJSON(v)
		if *update {
			if err := os.WriteFile(path, want, 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		got, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("%v (run with -update to write it)", err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s differs from what the Go implementation computes (edited by hand? regenerate with -update)", path)
		}
	}
	// Every file is a vector this test builds.
	files, _ := filepath.Glob(filepath.Join(vectorDir, "*.json"))
	for _, f := range files {
		if !names[filepath.Base(f)] {
			t.Errorf("%s is not generated by TestEvaluationVectors", f)
		}
	}
}

// TestEvaluationVectorsAsRead evaluates each file as a third party would:
// the program decoded from the file, the instants and period read from it.
func TestEvaluationVectorsAsRead(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join(vectorDir, "*.json"))
	if len(files) == 0 {
		t.Fatal("no evaluation vectors")
	}
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var file vector
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&file); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		if err := file.Program.Validate(); err != nil {
			t.Fatalf("%s: program: %v", f, err)
		}
		var instants []time.Time
		for _, a := range file.At {
			ti, err := time.Parse(time.RFC3339, a.T)
			if err != nil {
				t.Fatal(err)
			}
			instants = append(instants, ti)
		}
		from, err1 := time.Parse(time.RFC3339, file.Timeline.From)
		to, err2 := time.Parse(time.RFC3339, file.Timeline.To)
		if err1 != nil || err2 != nil {
			t.Fatalf("%s: period: %v %v", f, err1, err2)
		}
		got := file
		got.evaluate(instants, from, to)
		for i := range file.At {
			if !reflect.DeepEqual(file.At[i], got.At[i]) {
				t.Errorf("%s: at %s:\n file %+v\n  got %+v", filepath.Base(f), file.At[i].T, file.At[i], got.At[i])
			}
		}
		if !reflect.DeepEqual(file.Timeline, got.Timeline) {
			t.Errorf("%s: timeline differs:\n file %+v\n  got %+v", filepath.Base(f), file.Timeline, got.Timeline)
		}
		if len(file.At) == 0 || fmt.Sprint(file.At[0].Zones) == "" {
			t.Errorf("%s: no instants", f)
		}
	}
}
