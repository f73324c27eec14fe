package playlists

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"math/rand/v2"
	"runtime"
	"sync"
	"time"
)

// benchWorld is a deterministic fleet for RunTimelineBench and the go
// benchmarks: displays in ~20 clusters with tags, and a catalogue of
// schedules, playlists, layouts and items.
type benchWorld struct {
	displays []Display
	base     Program // everything; Display and Schedules set per display
	start    time.Time
}

var benchTags = []string{"lobby", "entrance", "food-court", "parking", "floor-1", "floor-2", "outdoor", "kiosk", "vip", "staff"}

func newBenchWorld(displays, schedules, items int) *benchWorld {
	r := rand.New(rand.NewPCG(20260907, 1))
	bw := &benchWorld{}
	loc, _ := loadLocation(DefaultTimezone)
	bw.start = time.Date(2026, 9, 7, 0, 0, 0, 0, loc)
	const clusters = 20
	for i := 0; i < displays; i++ {
		d := Display{ID: fmt.Sprintf("d%04d", i), ClusterID: fmt.Sprintf("c%02d", i%clusters), Width: 1920, Height: 1080}
		for k := 0; k < 1+r.IntN(3); k++ {
			d.Tags = append(d.Tags, benchTags[r.IntN(len(benchTags))])
		}
		switch r.IntN(10) {
		case 0, 1:
		case 2, 3, 4:
			d.Languages = []string{"en", "vi"}
		default:
			d.Languages = []string{"vi"}
		}
		bw.displays = append(bw.displays, d)
	}
	p := &bw.base
	p.Timezone = DefaultTimezone
	p.Holidays = []Holiday{{Date: "2026-09-02", Name: "National Day"}, {Date: "2026-09-10", Name: "Demo holiday", Hours: []Window{{"09:00", "20:00"}}}}
	for i := 0; i < items; i++ {
		id := fmt.Sprintf("i%04d", i)
		it := Item{ID: id, DefaultLang: "vi", Variants: map[string]Variant{}}
		sum := sha256.Sum256([]byte(id))
		h := hex.EncodeToString(sum[:])
		switch k := r.IntN(20); {
		case k < 10:
			it.Kind = KindImage
			it.DurationS = float64(8 + r.IntN(8))
			it.Variants["vi"] = Variant{SHA256: h, ContentType: "image/jpeg"}
		case k < 17:
			it.Kind = KindVideo
			it.NaturalS = float64(15 + r.IntN(46))
			it.Variants["vi"] = Variant{SHA256: h, ContentType: "video/mp4"}
		case k < 19:
			it.Kind = KindText
			it.DurationS = 20
			it.Variants["vi"] = Variant{Text: "Xin chào " + id}
		default:
			it.Kind = KindWeb
			it.DurationS = 30
			it.Variants["vi"] = Variant{URL: "https://example.com/" + id}
		}
		if r.IntN(2) == 0 && it.Variants["vi"].SHA256 != "" {
			sum := sha256.Sum256([]byte(id + "/en"))
			v := it.Variants["vi"]
			v.SHA256 = hex.EncodeToString(sum[:])
			it.Variants["en"] = v
		}
		switch r.IntN(20) {
		case 0:
			it.ValidFrom, it.ValidUntil = "2026-09-09", "2026-09-30"
		case 1:
			it.Dayparts = []Window{{"11:00", "14:00"}}
		}
		p.Items = append(p.Items, it)
	}
	nPL := max(schedules*3/2, 4)
	for i := 0; i < nPL; i++ {
		pl := Playlist{ID: fmt.Sprintf("p%04d", i), Shuffle: r.IntN(10) == 0, Transition: Transition{Kind: "fade", DurationMS: 300}}
		for k := 0; k < 6+r.IntN(10); k++ {
			if i > 10 && r.IntN(25) == 0 {
				pl.Entries = append(pl.Entries, Entry{PlaylistID: fmt.Sprintf("p%04d", r.IntN(i))})
				continue
			}
			e := Entry{ItemID: p.Items[r.IntN(items)].ID}
			if r.IntN(10) == 0 {
				e.DurationS = 12
			}
			pl.Entries = append(pl.Entries, e)
		}
		p.Playlists = append(p.Playlists, pl)
	}
	// short spots for interrupts
	spot := Playlist{ID: "spots", Transition: Transition{Kind: "cut"}}
	for k := 0; k < 4; k++ {
		spot.Entries = append(spot.Entries, Entry{ItemID: p.Items[r.IntN(items)].ID, DurationS: 15})
	}
	p.Playlists = append(p.Playlists, spot)
	for i := 0; i < 5; i++ {
		p.Layouts = append(p.Layouts, Layout{ID: fmt.Sprintf("l%d", i), Zones: []Zone{
			{ID: MainZone, X: 0, Y: 0, W: 75, H: 85},
			{ID: "side", X: 75, Y: 0, W: 25, H: 85, Z: 1},
			{ID: "ticker", X: 0, Y: 85, W: 100, H: 15, Z: 2},
		}})
	}
	p.Default = &Content{PlaylistID: "p0000"}
	windows := [][]Window{nil, nil, {{"07:00", "11:00"}}, {{"11:00", "14:00"}}, {{"17:00", "22:00"}}, {{"07:00", "10:00"}, {"16:00", "19:00"}}, {{"20:00", "06:00"}}}
	for i := 0; i < schedules; i++ {
		s := Schedule{ID: fmt.Sprintf("s%04d", i), Priority: r.IntN(4), From: "2026-08-01", Until: "2026-12-31"}
		switch k := r.IntN(10); {
		case k < 4:
			s.Target.ClusterIDs = []string{fmt.Sprintf("c%02d", r.IntN(clusters))}
		case k < 8:
			s.Target.Tags = []string{benchTags[r.IntN(len(benchTags))]}
		default:
			for j := 0; j < 5+r.IntN(15); j++ {
				s.Target.DisplayIDs = append(s.Target.DisplayIDs, fmt.Sprintf("d%04d", r.IntN(max(displays, 1))))
			}
		}
		s.Windows = windows[r.IntN(len(windows))]
		switch r.IntN(10) {
		case 0:
			s.Days = []time.Weekday{time.Monday, time.Tuesday, time.Wednesday, time.Thursday, time.Friday}
		case 1:
			s.Recurrence = &Recurrence{Freq: Weekly, Interval: 2, ByWeekday: []NthWeekday{{Weekday: time.Saturday}, {Weekday: time.Sunday}}}
		case 2:
			s.Recurrence = &Recurrence{Freq: Monthly, ByWeekday: []NthWeekday{{Weekday: time.Friday, N: -1}, {Weekday: time.Monday, N: 2}}}
		}
		pl := func() string { return fmt.Sprintf("p%04d", 1+r.IntN(nPL-1)) }
		switch {
		case i%25 == 7:
			s.Interrupt = &Interrupt{SecondsPerHour: []int{30, 60, 120}[r.IntN(3)]}
			s.Content = Content{PlaylistID: "spots"}
			s.Windows = nil
		case r.IntN(10) < 3:
			s.Content = Content{LayoutID: fmt.Sprintf("l%d", r.IntN(5)), Zones: map[string]string{MainZone: pl(), "side": pl(), "ticker": pl()}}
		default:
			s.Content = Content{PlaylistID: pl()}
		}
		p.Schedules = append(p.Schedules, s)
	}
	return bw
}

// programFor compiles a display's Program the way the server does: the
// schedules whose target covers it and only what they reference.
func (bw *benchWorld) programFor(d Display) *Program {
	b := &bw.base
	p := &Program{Display: d, Timezone: b.Timezone, Hours: b.Hours, Holidays: b.Holidays, Default: b.Default}
	needPL := map[string]bool{}
	needLay := map[string]bool{}
	addContent := func(ct Content) {
		if ct.PlaylistID != "" {
			needPL[ct.PlaylistID] = true
		}
		if ct.LayoutID != "" {
			needLay[ct.LayoutID] = true
		}
		for _, pl := range ct.Zones {
			needPL[pl] = true
		}
	}
	for _, s := range b.Schedules {
		if Applies(s.Target, d) {
			p.Schedules = append(p.Schedules, s)
			addContent(s.Content)
		}
	}
	if b.Default != nil {
		addContent(*b.Default)
	}
	plIdx := make(map[string]int, len(b.Playlists))
	for i := range b.Playlists {
		plIdx[b.Playlists[i].ID] = i
	}
	var walk func(id string)
	needItem := map[string]bool{}
	seen := map[string]bool{}
	walk = func(id string) {
		if seen[id] {
			return
		}
		seen[id] = true
		for _, e := range b.Playlists[plIdx[id]].Entries {
			if e.PlaylistID != "" {
				walk(e.PlaylistID)
			} else {
				needItem[e.ItemID] = true
			}
		}
	}
	for id := range needPL {
		walk(id)
	}
	for _, pl := range b.Playlists {
		if seen[pl.ID] {
			p.Playlists = append(p.Playlists, pl)
		}
	}
	for _, it := range b.Items {
		if needItem[it.ID] {
			p.Items = append(p.Items, it)
		}
	}
	for _, l := range b.Layouts {
		if needLay[l.ID] {
			p.Layouts = append(p.Layouts, l)
		}
	}
	return p
}

// RunTimelineBench builds a deterministic fleet (displays in ~20 clusters
// with tags, `schedules` schedules mixing windows, recurrences, priorities,
// three-zone layouts and a few interrupts, `items` items) and each
// display's Program, then times computing every display's timeline over
// `days` days (on all CPUs; streamed with Plays, which is Timeline without
// holding 26 million plays in memory at once), then At on random instants.
// The last line printed is "timeline displays=N days=D total_ms=T at_us=A".
func RunTimelineBench(w io.Writer, displays, days, schedules, items int) error {
	if displays < 1 || days < 1 || schedules < 1 || items < 1 {
		return fmt.Errorf("bench: all sizes must be positive")
	}
	bw := newBenchWorld(displays, schedules, items)
	from, to := bw.start, bw.start.AddDate(0, 0, days)
	// Each display's Program is what the server compiles and signs into its
	// manifest; making them is not part of evaluating them.
	progs := make([]*Program, displays)
	for i := range progs {
		progs[i] = bw.programFor(bw.displays[i])
	}

	// Compiled as each worker takes its display (timed), then kept for At.
	comps := make([]*Compiled, displays)

	start := time.Now()
	workers := runtime.GOMAXPROCS(0)
	var wg sync.WaitGroup
	var mu sync.Mutex
	plays, scheds := 0, 0
	next := 0
	for k := 0; k < workers; k++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			np, ns := 0, 0
			for {
				mu.Lock()
				i := next
				next++
				mu.Unlock()
				if i >= displays {
					break
				}
				p := progs[i]
				c := Compile(p)
				comps[i] = c
				c.Plays(from, to, Options{}, func(Play) bool { np++; return true })
				ns += len(p.Schedules)
			}
			mu.Lock()
			plays += np
			scheds += ns
			mu.Unlock()
		}()
	}
	wg.Wait()
	total := time.Since(start)

	r := rand.New(rand.NewPCG(7, 7))
	span := to.Sub(from)
	const calls = 20000
	inst := make([]time.Time, calls)
	which := make([]*Compiled, calls)
	for i := range inst {
		inst[i] = from.Add(time.Duration(r.Int64N(int64(span))))
		which[i] = comps[r.IntN(displays)]
	}
	zones := 0
	t0 := time.Now()
	for i := range inst {
		zones += len(which[i].At(inst[i], Options{}).Zones)
	}
	atUS := float64(time.Since(t0).Microseconds()) / calls

	fmt.Fprintf(w, "fleet: %d displays, %d schedules (%.1f per display), %d items, %d workers\n", displays, schedules, float64(scheds)/float64(displays), items, workers)
	fmt.Fprintf(w, "timeline: %d plays over %d days (%.0f per display), %.3f µs per play\n", plays, days, float64(plays)/float64(displays), float64(total.Nanoseconds())/1000/float64(max(plays, 1)))
	fmt.Fprintf(w, "at: %d calls on random displays and instants, %d zones\n", calls, zones)
	fmt.Fprintf(w, "timeline displays=%d days=%d total_ms=%d at_us=%.2f\n", displays, days, total.Milliseconds(), atUS)
	return nil
}
