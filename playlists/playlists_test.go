package playlists

import (
	"strings"
	"testing"
	"time"
)

var hcm = mustLoc("Asia/Ho_Chi_Minh")
var berlin = mustLoc("Europe/Berlin")

func mustLoc(name string) *time.Location {
	l, err := time.LoadLocation(name)
	if err != nil {
		panic(err)
	}
	return l
}

func at(loc *time.Location, y int, m time.Month, d, hh, mm, ss int) time.Time {
	return time.Date(y, m, d, hh, mm, ss, 0, loc)
}

func img(id string, dur float64) Item {
	return Item{ID: id, Kind: KindImage, DurationS: dur, DefaultLang: "vi",
		Variants: map[string]Variant{"vi": {SHA256: "sha-" + id}}}
}

func pl(id string, items ...string) Playlist {
	p := Playlist{ID: id}
	for _, it := range items {
		p.Entries = append(p.Entries, Entry{ItemID: it})
	}
	return p
}

// base is a display with items a(10 s) b(20 s) c(30 s) x(5 s) y(15 s) and
// playlists P1 = a b c, P2 = x y, no schedules.
func base() *Program {
	return &Program{
		Display:   Display{ID: "d1", ClusterID: "c1", Tags: []string{"lobby"}, Width: 1920, Height: 1080},
		Items:     []Item{img("a", 10), img("b", 20), img("c", 30), img("x", 5), img("y", 15)},
		Playlists: []Playlist{pl("P1", "a", "b", "c"), pl("P2", "x", "y")},
	}
}

func sched(id string, prio int, content Content) Schedule {
	return Schedule{ID: id, Priority: prio, Target: Target{DisplayIDs: []string{"d1"}}, Content: content}
}

func zoneItem(n Now, zone string) string {
	for _, z := range n.Zones {
		if z.Zone == zone {
			if z.Item == nil {
				return "<nil>"
			}
			return z.Item.ID
		}
	}
	return "<none>"
}

func mustValid(t *testing.T, p *Program) {
	t.Helper()
	if err := p.Validate(); err != nil {
		t.Fatalf("Validate: %v", err)
	}
}

func TestApplies(t *testing.T) {
	d := Display{ID: "d1", ClusterID: "c1", Tags: []string{"lobby", "vip"}}
	cases := []struct {
		t    Target
		want bool
	}{
		{Target{}, false},
		{Target{DisplayIDs: []string{"d2", "d1"}}, true},
		{Target{ClusterIDs: []string{"c1"}}, true},
		{Target{ClusterIDs: []string{"c2"}}, false},
		{Target{Tags: []string{"vip"}}, true},
		{Target{Tags: []string{"outdoor"}, DisplayIDs: []string{"d9"}}, false},
	}
	for i, c := range cases {
		if got := Applies(c.t, d); got != c.want {
			t.Errorf("case %d: Applies = %v, want %v", i, got, c.want)
		}
	}
	if Applies(Target{ClusterIDs: []string{""}}, Display{ID: "x"}) {
		t.Error("empty cluster id must not match a display without cluster")
	}
}

func TestDurationsAndLanguage(t *testing.T) {
	p := base()
	p.Items = append(p.Items,
		Item{ID: "v", Kind: KindVideo, NaturalS: 42, Variants: map[string]Variant{"en": {SHA256: "v-en"}, "vi": {SHA256: "v-vi"}}, DefaultLang: "vi"},
		Item{ID: "w", Kind: KindVideo, Variants: map[string]Variant{"zh": {SHA256: "w-zh"}, "fr": {SHA256: "w-fr"}}},
		Item{ID: "t", Kind: KindText, Variants: map[string]Variant{"vi": {Text: "hi"}}},
	)
	p.Playlists = append(p.Playlists, Playlist{ID: "P3", Entries: []Entry{{ItemID: "v"}, {ItemID: "a", DurationS: 3}, {ItemID: "w"}, {ItemID: "t"}}})
	p.Display.Languages = []string{"en"}
	p.Default = &Content{PlaylistID: "P3"}
	mustValid(t, p)
	got := Timeline(p, at(hcm, 2026, 9, 1, 7, 0, 0), at(hcm, 2026, 9, 1, 7, 1, 30), Options{})
	want := []struct {
		id, lang, sha string
		dur           time.Duration
	}{
		{"v", "en", "v-en", 42 * time.Second},
		{"a", "vi", "sha-a", 3 * time.Second},
		{"w", "fr", "w-fr", 10 * time.Second}, // no natural length, sorted first language
		{"t", "vi", "", 10 * time.Second},
		{"v", "en", "v-en", 25 * time.Second}, // clipped at `to`
	}
	if len(got) != len(want) {
		t.Fatalf("got %d plays: %+v", len(got), got)
	}
	for i, w := range want {
		g := got[i]
		if g.ItemID != w.id || g.Lang != w.lang || g.SHA256 != w.sha || g.End.Sub(g.Start) != w.dur {
			t.Errorf("play %d = %s/%s/%s %v, want %+v", i, g.ItemID, g.Lang, g.SHA256, g.End.Sub(g.Start), w)
		}
	}
}

func TestOperatingHours(t *testing.T) {
	p := base()
	p.Default = &Content{PlaylistID: "P1"}
	p.Holidays = []Holiday{{Date: "2026-09-02", Hours: []Window{{"09:00", "12:00"}}}, {Date: "2026-09-03"}}
	mustValid(t, p)
	cases := []struct {
		t    time.Time
		off  bool
		item string
		next time.Time
	}{
		{at(hcm, 2026, 9, 1, 6, 59, 59), true, "<none>", at(hcm, 2026, 9, 1, 7, 0, 0)},
		{at(hcm, 2026, 9, 1, 7, 0, 0), false, "a", at(hcm, 2026, 9, 1, 7, 0, 10)},
		{at(hcm, 2026, 9, 1, 7, 0, 15), false, "b", at(hcm, 2026, 9, 1, 7, 0, 30)},
		{at(hcm, 2026, 9, 1, 7, 1, 0), false, "a", at(hcm, 2026, 9, 1, 7, 1, 10)}, // looped
		{at(hcm, 2026, 9, 1, 21, 59, 59), false, "c", at(hcm, 2026, 9, 1, 22, 0, 0)},
		{at(hcm, 2026, 9, 1, 22, 0, 0), true, "<none>", at(hcm, 2026, 9, 2, 9, 0, 0)}, // holiday hours
		{at(hcm, 2026, 9, 2, 8, 0, 0), true, "<none>", at(hcm, 2026, 9, 2, 9, 0, 0)},
		{at(hcm, 2026, 9, 2, 9, 0, 0), false, "a", at(hcm, 2026, 9, 2, 9, 0, 10)},
		{at(hcm, 2026, 9, 2, 12, 0, 0), true, "<none>", at(hcm, 2026, 9, 3, 7, 0, 0)},
		{at(hcm, 2026, 9, 3, 7, 0, 0), false, "a", at(hcm, 2026, 9, 3, 7, 0, 10)}, // holiday without hours: usual hours
	}
	for i, c := range cases {
		n := At(p, c.t, Options{})
		if n.Off != c.off || zoneItem(n, MainZone) != c.item || !n.Next.Equal(c.next) {
			t.Errorf("case %d at %v: off=%v item=%s next=%v; want off=%v item=%s next=%v", i, c.t, n.Off, zoneItem(n, MainZone), n.Next, c.off, c.item, c.next)
		}
		if c.off && len(n.Zones) != 0 {
			t.Errorf("case %d: zones while off", i)
		}
	}
	tl := Timeline(p, at(hcm, 2026, 9, 1, 0, 0, 0), at(hcm, 2026, 9, 4, 0, 0, 0), Options{})
	for _, pl := range tl {
		h := pl.Start.In(hcm).Hour()
		if h < 7 || h >= 22 || (pl.Start.In(hcm).Day() == 2 && (h < 9 || h >= 12)) {
			t.Fatalf("play outside hours: %+v", pl)
		}
	}
}

func TestPriorityMergeDefault(t *testing.T) {
	p := base()
	p.Default = &Content{PlaylistID: "P2"}
	lo := sched("lo", 1, Content{PlaylistID: "P1"})
	lo.Windows = []Window{{"08:00", "12:00"}}
	hi := sched("hi", 5, Content{PlaylistID: "P2"})
	hi.Windows = []Window{{"09:00", "10:00"}}
	m1 := sched("m1", 3, Content{PlaylistID: "P1"})
	m1.Windows = []Window{{"14:00", "15:00"}}
	m2 := sched("m2", 3, Content{PlaylistID: "P2"})
	m2.Windows = []Window{{"14:00", "15:00"}}
	p.Schedules = []Schedule{lo, hi, m1, m2}
	mustValid(t, p)
	cases := []struct {
		t     time.Time
		item  string
		sched string
	}{
		{at(hcm, 2026, 9, 1, 7, 0, 0), "x", ""},      // default
		{at(hcm, 2026, 9, 1, 8, 0, 0), "a", "lo"},    // loop anchored at 08:00
		{at(hcm, 2026, 9, 1, 9, 0, 0), "x", "hi"},    // higher priority
		{at(hcm, 2026, 9, 1, 9, 0, 5), "y", "hi"},    //
		{at(hcm, 2026, 9, 1, 10, 0, 0), "a", "lo"},   // lo restarts when it gets the screen back
		{at(hcm, 2026, 9, 1, 14, 0, 0), "a", "m1"},   // merged: a b c x y
		{at(hcm, 2026, 9, 1, 14, 1, 0), "x", "m2"},   //
		{at(hcm, 2026, 9, 1, 14, 1, 5), "y", "m2"},   //
		{at(hcm, 2026, 9, 1, 14, 1, 20), "a", "m1"},  // period 80 s
		{at(hcm, 2026, 9, 1, 15, 0, 0), "x", ""},     // default again
		{at(hcm, 2026, 9, 1, 12, 0, 0), "x", ""},     //
		{at(hcm, 2026, 9, 1, 11, 59, 59), "c", "lo"}, // 10:00 + 7199 s: 7199 mod 60 = 59 → c
	}
	for i, c := range cases {
		n := At(p, c.t, Options{})
		if len(n.Zones) != 1 || zoneItem(n, MainZone) != c.item || n.Zones[0].ScheduleID != c.sched {
			t.Errorf("case %d at %v: %s/%s, want %s/%s (%s)", i, c.t.Format("15:04:05"), zoneItem(n, MainZone), n.Zones[0].ScheduleID, c.item, c.sched, n.Why)
		}
	}
	if n := At(p, at(hcm, 2026, 9, 1, 14, 0, 0), Options{}); !strings.Contains(n.Why, "merged") {
		t.Errorf("why = %q", n.Why)
	}
}

func TestItemValidityDaypartsPlayable(t *testing.T) {
	p := base()
	p.Items[1].Dayparts = []Window{{"12:00", "13:00"}} // b only at noon
	p.Items[2].ValidFrom = "2026-09-02"                // c from tomorrow
	p.Default = &Content{PlaylistID: "P1"}
	mustValid(t, p)
	d1 := at(hcm, 2026, 9, 1, 7, 0, 0)
	seq := func(from time.Time, n int, opt Options) string {
		var ids []string
		for _, pl := range Timeline(p, from, from.Add(time.Hour), opt)[:n] {
			ids = append(ids, pl.ItemID)
		}
		return strings.Join(ids, " ")
	}
	if got := seq(d1, 4, Options{}); got != "a a a a" {
		t.Errorf("morning of day 1: %s", got)
	}
	if got := seq(at(hcm, 2026, 9, 2, 7, 0, 0), 4, Options{}); got != "a c a c" {
		t.Errorf("morning of day 2: %s", got)
	}
	if got := seq(at(hcm, 2026, 9, 2, 12, 0, 0), 6, Options{}); got != "a b c a b c" {
		t.Errorf("noon of day 2: %s", got)
	}
	// the play running at 12:00 finishes, then b joins in order
	tl := Timeline(p, at(hcm, 2026, 9, 2, 11, 59, 0), at(hcm, 2026, 9, 2, 12, 1, 0), Options{})
	var ids []string
	for _, pl := range tl {
		ids = append(ids, pl.ItemID+"@"+pl.Start.In(hcm).Format("15:04:05"))
	}
	// day 2 from 07:00: a c loop of 40 s; 11:59:00 = 17940 s = 448 periods + 20 s → c 11:58:50–11:59:20
	want := "c@11:59:00 a@11:59:20 c@11:59:30 a@12:00:00 b@12:00:10 c@12:00:30"
	if got := strings.Join(ids, " "); got != want {
		t.Errorf("around noon:\n got %s\nwant %s", got, want)
	}
	// Playable: c not playable → skipped; nothing playable → zone empty
	noC := Options{Playable: func(it Item, v Variant) bool { return it.ID != "c" }}
	if got := seq(at(hcm, 2026, 9, 2, 7, 0, 0), 3, noC); got != "a a a" {
		t.Errorf("without c: %s", got)
	}
	none := Options{Playable: func(Item, Variant) bool { return false }}
	n := At(p, at(hcm, 2026, 9, 2, 7, 0, 0), none)
	if len(n.Zones) != 1 || n.Zones[0].Item != nil || !n.Zones[0].End.Equal(at(hcm, 2026, 9, 2, 22, 0, 0)) {
		t.Errorf("nothing playable: %+v", n.Zones)
	}
	if tl := Timeline(p, at(hcm, 2026, 9, 2, 7, 0, 0), at(hcm, 2026, 9, 2, 8, 0, 0), none); len(tl) != 0 {
		t.Errorf("plays while nothing playable: %d", len(tl))
	}
}

func TestLayoutsAndNested(t *testing.T) {
	p := base()
	p.Layouts = []Layout{{ID: "L", Zones: []Zone{
		{ID: MainZone, X: 0, Y: 0, W: 75, H: 100},
		{ID: "side", X: 75, Y: 0, W: 30, H: 50, Z: 2}, // overflows: clamped
		{ID: "logo", X: 1800, Y: 1000, W: 300, H: 300, Unit: UnitPixels, Z: 3},
	}}}
	p.Playlists = append(p.Playlists, Playlist{ID: "N", Entries: []Entry{{ItemID: "x"}, {PlaylistID: "P1"}, {ItemID: "y"}}, Transition: Transition{Kind: "fade", DurationMS: 500}})
	p.Schedules = []Schedule{sched("s", 1, Content{LayoutID: "L", Zones: map[string]string{MainZone: "N", "side": "P2"}})}
	n := At(p, at(hcm, 2026, 9, 1, 7, 0, 6), Options{})
	if n.LayoutID != "L" || len(n.Zones) != 3 {
		t.Fatalf("now = %+v", n)
	}
	wantRects := map[string]Rect{MainZone: {0, 0, 1440, 1080}, "side": {1440, 0, 480, 540}, "logo": {1800, 1000, 120, 80}}
	for _, z := range n.Zones {
		if z.Rect != wantRects[z.Zone] {
			t.Errorf("zone %s rect %+v, want %+v", z.Zone, z.Rect, wantRects[z.Zone])
		}
	}
	if zoneItem(n, MainZone) != "a" || zoneItem(n, "side") != "y" || zoneItem(n, "logo") != "<nil>" {
		t.Errorf("items: %s %s %s", zoneItem(n, MainZone), zoneItem(n, "side"), zoneItem(n, "logo"))
	}
	if n.Zones[0].Transition.Kind != "" || n.Zones[0].PlaylistID != "N" {
		t.Errorf("nested item carries its own playlist's transition and the scheduled playlist: %+v", n.Zones[0])
	}
	// N = x a b c y: 80 s
	var ids []string
	for _, pl := range Timeline(p, at(hcm, 2026, 9, 1, 7, 0, 0), at(hcm, 2026, 9, 1, 7, 1, 25), Options{}) {
		if pl.Zone == MainZone {
			ids = append(ids, pl.ItemID)
		}
	}
	if got := strings.Join(ids, " "); got != "x a b c y x" {
		t.Errorf("nested: %s", got)
	}
}

func TestShuffleDeterministic(t *testing.T) {
	p := base()
	var ids []string
	for i := 0; i < 12; i++ {
		id := "s" + itoa(i)
		p.Items = append(p.Items, img(id, 10))
		ids = append(ids, id)
	}
	sp := pl("S", ids...)
	sp.Shuffle = true
	p.Playlists = append(p.Playlists, sp)
	p.Default = &Content{PlaylistID: "S"}
	order := func(p *Program, day int) string {
		var out []string
		from := at(hcm, 2026, 9, day, 7, 0, 0)
		for _, pl := range Timeline(p, from, from.Add(120*time.Second), Options{}) {
			out = append(out, pl.ItemID)
		}
		return strings.Join(out, ",")
	}
	d1, d1b, d2 := order(p, 1), order(p, 1), order(p, 2)
	q := *p
	q.Display.ID = "d2"
	if d1 != d1b {
		t.Error("shuffle not deterministic")
	}
	if d1 == d2 || d1 == order(&q, 1) || d1 == strings.Join(ids, ",") {
		t.Errorf("shuffle does not depend on day/display: %s / %s", d1, d2)
	}
	// a fixed vector: server and player must agree across builds
	if got := order(p, 1); got != shuffleGolden {
		t.Errorf("shuffle order changed:\n got %s\nwant %s", got, shuffleGolden)
	}
}

const shuffleGolden = "s1,s11,s2,s3,s6,s5,s9,s8,s0,s7,s4,s10"
