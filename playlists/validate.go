package playlists

import (
	"errors"
	"fmt"
	"math"
	"sort"
	"time"
)

// Validate checks a Program: unique ids, every reference resolves (items,
// playlists, layouts), no nested-playlist cycles, valid dates, clocks,
// weekdays, recurrences and time zone, sane zone rectangles and interrupt
// shares (0 < seconds per hour <= 3600). It reports every problem found,
// each naming the offending id.
func (p *Program) Validate() error {
	var errs []error
	bad := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }

	if p.Timezone != "" {
		if _, err := loadLocation(p.Timezone); err != nil {
			bad("program: unknown time zone %q", p.Timezone)
		}
	}
	if p.Display.Width < 0 || p.Display.Height < 0 {
		bad("display %q: negative size %dx%d", p.Display.ID, p.Display.Width, p.Display.Height)
	}
	checkWindows := func(what string, ws []Window) {
		for _, w := range ws {
			if _, err := parseWindow(w); err != nil {
				bad("%s: %v", what, err)
			}
		}
	}
	checkDate := func(what string, d Date) (int, bool) {
		n, err := parseDate(d)
		if err != nil {
			bad("%s: %v", what, err)
			return 0, false
		}
		return n, true
	}
	checkWindows("operating hours", p.Hours)
	seenHol := map[Date]bool{}
	for _, h := range p.Holidays {
		checkDate(fmt.Sprintf("holiday %q", h.Date), h.Date)
		if seenHol[h.Date] {
			bad("holiday %q: listed twice", h.Date)
		}
		seenHol[h.Date] = true
		checkWindows(fmt.Sprintf("holiday %q hours", h.Date), h.Hours)
	}

	items := map[string]*Item{}
	for i := range p.Items {
		it := &p.Items[i]
		what := fmt.Sprintf("item %q", it.ID)
		if it.ID == "" {
			bad("item #%d: empty id", i)
			continue
		}
		if items[it.ID] != nil {
			bad("%s: duplicate id", what)
		}
		items[it.ID] = it
		switch it.Kind {
		case KindImage, KindVideo, KindAudio, KindWeb, KindText, KindClock:
		default:
			bad("%s: unknown kind %q", what, it.Kind)
		}
		if !finiteNonNeg(it.DurationS) || !finiteNonNeg(it.NaturalS) || !finiteNonNeg(it.RefreshS) {
			bad("%s: durations must be finite and >= 0", what)
		} else {
			if !durationOK(it.DurationS) {
				bad("%s: duration_s %g must be 0 (default) or between %d and %d seconds", what, it.DurationS, MinDurationS, MaxDurationS)
			}
			if !durationOK(it.RefreshS) {
				bad("%s: refresh_s %g must be 0 (never) or between %d and %d seconds", what, it.RefreshS, MinDurationS, MaxDurationS)
			}
		}
		var vf, vu int
		okF, okU := false, false
		if it.ValidFrom != "" {
			vf, okF = checkDate(what+" valid_from", it.ValidFrom)
		}
		if it.ValidUntil != "" {
			vu, okU = checkDate(what+" valid_until", it.ValidUntil)
		}
		if okF && okU && vu < vf {
			bad("%s: valid_until %s is before valid_from %s", what, it.ValidUntil, it.ValidFrom)
		}
		if it.SameOrigin && it.Kind != KindWeb {
			bad("%s: same_origin is for web items only", what)
		}
		checkWindows(what+" dayparts", it.Dayparts)
		if len(it.Variants) == 0 {
			bad("%s: no variants", what)
		}
		if it.DefaultLang != "" && len(it.Variants) > 0 {
			if _, ok := it.Variants[it.DefaultLang]; !ok {
				bad("%s: default_lang %q has no variant", what, it.DefaultLang)
			}
		}
		for lang, v := range it.Variants {
			switch it.Kind {
			case KindImage, KindVideo, KindAudio:
				if v.SHA256 == "" {
					bad("%s: variant %q has no sha256", what, lang)
				}
			}
		}
	}

	pls := map[string]*Playlist{}
	for i := range p.Playlists {
		pl := &p.Playlists[i]
		what := fmt.Sprintf("playlist %q", pl.ID)
		if pl.ID == "" {
			bad("playlist #%d: empty id", i)
			continue
		}
		if pls[pl.ID] != nil {
			bad("%s: duplicate id", what)
		}
		pls[pl.ID] = pl
		switch pl.Transition.Kind {
		case "", "cut", "fade":
		default:
			bad("%s: unknown transition %q", what, pl.Transition.Kind)
		}
		if pl.Transition.DurationMS < 0 {
			bad("%s: negative transition duration", what)
		}
	}
	for _, pl := range pls {
		for j, e := range pl.Entries {
			what := fmt.Sprintf("playlist %q entry %d", pl.ID, j)
			switch {
			case (e.ItemID == "") == (e.PlaylistID == ""):
				bad("%s: needs exactly one of item_id and playlist_id", what)
			case e.ItemID != "" && items[e.ItemID] == nil:
				bad("%s: unknown item %q", what, e.ItemID)
			case e.PlaylistID != "" && pls[e.PlaylistID] == nil:
				bad("%s: unknown playlist %q", what, e.PlaylistID)
			}
			if !finiteNonNeg(e.DurationS) {
				bad("%s: duration must be finite and >= 0", what)
			} else if !durationOK(e.DurationS) {
				bad("%s: duration_s %g must be 0 (the item's) or between %d and %d seconds", what, e.DurationS, MinDurationS, MaxDurationS)
			}
		}
	}
	// nested playlist cycles (depth-first, white/grey/black)
	state := map[string]int{}
	var visit func(id string, path []string) bool
	visit = func(id string, path []string) bool {
		switch state[id] {
		case 1:
			bad("playlist %q: nested playlists form a cycle (%s)", id, joinPath(append(path, id)))
			return true
		case 2:
			return false
		}
		state[id] = 1
		for _, e := range pls[id].Entries {
			if e.PlaylistID != "" && pls[e.PlaylistID] != nil && visit(e.PlaylistID, append(path, id)) {
				state[id] = 2
				return true
			}
		}
		state[id] = 2
		return false
	}
	ids := make([]string, 0, len(pls))
	for id := range pls {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		if state[id] == 0 {
			visit(id, nil)
		}
	}

	// Nesting depth: evaluation plays at most MaxNesting levels of nested
	// playlists, so deeper ones are refused rather than cut short.
	depth := map[string]int{} // -1 while visiting (cycles are reported above)
	var deep func(id string) int
	deep = func(id string) int {
		if d, ok := depth[id]; ok {
			return max(d, 0)
		}
		depth[id] = -1
		d := 0
		for _, e := range pls[id].Entries {
			if e.PlaylistID != "" && pls[e.PlaylistID] != nil {
				d = max(d, deep(e.PlaylistID)+1)
			}
		}
		depth[id] = d
		return d
	}
	for _, id := range ids {
		if d := deep(id); d > MaxNesting {
			bad("playlist %q: nests playlists %d deep, more than %d", id, d, MaxNesting)
		}
	}

	lays := map[string]*Layout{}
	for i := range p.Layouts {
		l := &p.Layouts[i]
		what := fmt.Sprintf("layout %q", l.ID)
		if l.ID == "" {
			bad("layout #%d: empty id", i)
			continue
		}
		if lays[l.ID] != nil {
			bad("%s: duplicate id", what)
		}
		lays[l.ID] = l
		if len(l.Zones) == 0 {
			bad("%s: no zones", what)
		}
		zs := map[string]bool{}
		for _, z := range l.Zones {
			zw := fmt.Sprintf("%s zone %q", what, z.ID)
			if z.ID == "" {
				bad("%s: zone with empty id", what)
			}
			if zs[z.ID] {
				bad("%s: duplicate zone", zw)
			}
			zs[z.ID] = true
			if !finite(z.X) || !finite(z.Y) || !finite(z.W) || !finite(z.H) {
				bad("%s: coordinates must be finite", zw)
				continue
			}
			switch z.Unit {
			case "", UnitPercent:
				if z.X < 0 || z.Y < 0 || z.W <= 0 || z.H <= 0 || z.X+z.W > 100.0001 || z.Y+z.H > 100.0001 {
					bad("%s: rectangle %g,%g %gx%g %% is not inside 0–100 with a positive size", zw, z.X, z.Y, z.W, z.H)
				}
			case UnitPixels:
				if z.X < 0 || z.Y < 0 || z.W <= 0 || z.H <= 0 {
					bad("%s: rectangle %g,%g %gx%g px needs x, y >= 0 and a positive size", zw, z.X, z.Y, z.W, z.H)
				}
			default:
				bad("%s: unknown unit %q", zw, z.Unit)
			}
		}
	}

	checkContent := func(what string, ct Content) {
		if ct.LayoutID == "" && ct.PlaylistID == "" {
			bad("%s: content names no playlist or layout", what)
		}
		if ct.LayoutID != "" && lays[ct.LayoutID] == nil {
			bad("%s: unknown layout %q", what, ct.LayoutID)
		}
		if ct.LayoutID == "" && len(ct.Zones) > 0 {
			bad("%s: zones given without a layout", what)
		}
		if ct.PlaylistID != "" && pls[ct.PlaylistID] == nil {
			bad("%s: unknown playlist %q", what, ct.PlaylistID)
		}
		zones := make([]string, 0, len(ct.Zones))
		for z := range ct.Zones {
			zones = append(zones, z)
		}
		sort.Strings(zones)
		for _, z := range zones {
			if pls[ct.Zones[z]] == nil {
				bad("%s: zone %q: unknown playlist %q", what, z, ct.Zones[z])
			}
		}
	}
	if p.Default != nil {
		checkContent("default content", *p.Default)
	}

	scheds := map[string]bool{}
	for i := range p.Schedules {
		s := &p.Schedules[i]
		what := fmt.Sprintf("schedule %q", s.ID)
		if s.ID == "" {
			bad("schedule #%d: empty id", i)
		} else if scheds[s.ID] {
			bad("%s: duplicate id", what)
		}
		scheds[s.ID] = true
		checkContent(what, s.Content)
		var from, until int
		okF, okU := false, false
		if s.From != "" {
			from, okF = checkDate(what+" from", s.From)
		}
		if s.Until != "" {
			until, okU = checkDate(what+" until", s.Until)
		}
		if okF && okU && until < from {
			bad("%s: until %s is before from %s", what, s.Until, s.From)
		}
		for _, d := range s.Days {
			if d < time.Sunday || d > time.Saturday {
				bad("%s: weekday %d out of range 0–6", what, d)
			}
		}
		checkWindows(what+" window", s.Windows)
		for _, e := range s.Except {
			checkDate(what+" except", e)
		}
		switch s.Holidays {
		case HolidaysAlso, HolidaysOnly, HolidaysSkip:
		default:
			bad("%s: holidays must be \"\", \"only\" or \"skip\", not %q", what, s.Holidays)
		}
		if r := s.Recurrence; r != nil {
			switch r.Freq {
			case Daily, Weekly, Monthly, Yearly:
			default:
				bad("%s: unknown recurrence freq %q", what, r.Freq)
			}
			if s.From == "" {
				bad("%s: a recurrence needs a from date to count from", what)
			}
			if r.Interval < 0 {
				bad("%s: negative recurrence interval", what)
			}
			for _, d := range r.ByMonthDay {
				if d == 0 || d < -31 || d > 31 {
					bad("%s: by_month_day %d out of range (1..31 or -31..-1)", what, d)
				}
			}
			// n counts within the month, or within the year for a yearly
			// rule without by_month (RFC 5545); daily and weekly rules take
			// plain weekdays only.
			maxN := 5
			if r.Freq == Yearly && len(r.ByMonth) == 0 {
				maxN = 53
			}
			for _, w := range r.ByWeekday {
				if w.Weekday < time.Sunday || w.Weekday > time.Saturday || w.N < -maxN || w.N > maxN {
					bad("%s: by_weekday {%d, %d} out of range (weekday 0..6, n -%d..%d)", what, w.Weekday, w.N, maxN, maxN)
				} else if w.N != 0 && (r.Freq == Daily || r.Freq == Weekly) {
					bad("%s: by_weekday {%d, %d}: a %s recurrence takes n 0 (every such weekday); the nth weekday needs a monthly or yearly recurrence", what, w.Weekday, w.N, r.Freq)
				}
			}
			for _, m := range r.ByMonth {
				if m < 1 || m > 12 {
					bad("%s: by_month %d out of range 1..12", what, m)
				}
			}
			if r.Freq == Weekly && len(r.ByMonthDay) > 0 {
				bad("%s: by_month_day does not apply to a weekly recurrence (RFC 5545); use monthly", what)
			}
		}
		if s.Interrupt != nil {
			n := s.Interrupt.SecondsPerHour
			if n <= 0 || n > 3600 {
				bad("%s: interrupt seconds_per_hour %d must be in 1..3600", what, n)
			}
			if s.Content.PlaylistID == "" && s.Content.Zones[MainZone] == "" {
				bad("%s: an interrupt needs a playlist (playlist_id or the %q zone)", what, MainZone)
			}
		}
	}
	return errors.Join(errs...)
}

// MaxNesting is how deep playlists may nest: a playlist may hold a
// playlist that holds a playlist… up to 16 levels below it.
const MaxNesting = 16

// durationOK: 0 (unset) or within [MinDurationS, MaxDurationS].
func durationOK(s float64) bool { return s == 0 || (s >= MinDurationS && s <= MaxDurationS) }

func finite(f float64) bool       { return !math.IsNaN(f) && !math.IsInf(f, 0) }
func finiteNonNeg(f float64) bool { return finite(f) && f >= 0 }

func joinPath(p []string) string {
	s := ""
	for i, x := range p {
		if i > 0 {
			s += " → "
		}
		s += x
	}
	return s
}
