package playlists

import (
	"math"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"
)

// Applies reports whether a schedule's target covers the display: the
// display is listed, is in a listed cluster, or carries a listed tag. An
// empty target applies to no display.
func Applies(t Target, d Display) bool {
	if d.ID != "" && slices.Contains(t.DisplayIDs, d.ID) {
		return true
	}
	if d.ClusterID != "" && slices.Contains(t.ClusterIDs, d.ClusterID) {
		return true
	}
	for _, tag := range d.Tags {
		if tag != "" && slices.Contains(t.Tags, tag) {
			return true
		}
	}
	return false
}

// Compiled is a Program prepared for evaluation (see Compile): parsed
// dates and clocks, resolved references, and a cache of evaluated hours
// spans.
type Compiled struct {
	p    *Program
	zc   zoneClock
	disp Display

	items     map[string]*cItem
	playlists map[string]*Playlist
	layouts   map[string]*cLayout
	fullLay   *cLayout // the default full-screen layout
	flat      map[string][]flatEnt
	shuffles  bool            // some playlist shuffles
	daily     map[string]bool // playlists whose order changes by day (they or a nested one shuffle)

	hours    []cwin
	holidays map[int]*Holiday
	holHours map[int][]cwin

	scheds []*cSched // every schedule, Program order
	def    *cSched   // Default content, or nil

	mu    sync.Mutex
	days  map[int][]ival  // operating hours starting on a day
	plans map[int][]*plan // plans of a day's hours spans (no Playable)
}

type cItem struct {
	it         *Item
	lang       string
	v          Variant
	ok         bool // has a variant
	dur        int64
	validFrom  int
	validUntil int
	dayparts   []cwin
	limited    bool // validity dates or dayparts
}

type cZone struct {
	id   string
	rect Rect
	z    int
}

type cLayout struct {
	id    string
	zones []cZone
	main  int // index of MainZone, -1 if none
}

type cRec struct {
	freq     string
	interval int
	monthDay []int
	byWD     []NthWeekday
	months   uint16
}

type cSched struct {
	s        *Schedule
	idx      int // position in Program.Schedules; -1 for Default
	applies  bool
	from     int
	until    int
	days     uint8 // weekday bitmask; 0 = every day
	except   map[int]bool
	wins     []cwin // empty: all day
	rec      *cRec
	holidays string
	prio     int
	irq      int64 // ms per hour; 0 = regular schedule
	layout   *cLayout
	zones    map[string]string // zone → playlist
	irqPL    string            // interrupt playlist
	label    string            // for Why
	badDates bool
}

// flatEnt is one item of a flattened playlist.
type flatEnt struct {
	item  *cItem
	dur   int64
	top   string    // the playlist the schedule names
	inner *Playlist // the playlist holding the entry (transition)
	sched int32     // index into Compiled.scheds; -1 Default
}

const (
	minDay = math.MinInt32
	maxDay = math.MaxInt32
)

// Compile prepares a Program for evaluation: dates and clocks parsed,
// references resolved, nested playlists flattened. The result is a value
// the caller keeps for as long as it evaluates the same Program (the
// server per manifest, the player per verified manifest); it caches the
// operating-hours spans it evaluates, and is safe for concurrent use.
//
// The Compiled keeps pointers into p: p must not be modified while the
// Compiled is in use (compile a new one after any change).
func Compile(p *Program) *Compiled { return build(p) }

// Program is the Program c was compiled from.
func (c *Compiled) Program() *Program { return c.p }

func build(p *Program) *Compiled {
	loc, err := loadLocation(p.Timezone)
	if err != nil {
		if loc, err = loadLocation(DefaultTimezone); err != nil {
			loc = time.UTC
		}
	}
	c := &Compiled{
		p: p, zc: zoneClock{loc}, disp: p.Display,
		items:     make(map[string]*cItem, len(p.Items)),
		playlists: make(map[string]*Playlist, len(p.Playlists)),
		layouts:   make(map[string]*cLayout, len(p.Layouts)),
		holidays:  map[int]*Holiday{},
		holHours:  map[int][]cwin{},
		days:      map[int][]ival{},
		plans:     map[int][]*plan{},
	}
	for i := range p.Items {
		it := &p.Items[i]
		if _, dup := c.items[it.ID]; !dup {
			c.items[it.ID] = compileItem(it, p.Display.Languages)
		}
	}
	for i := range p.Playlists {
		pl := &p.Playlists[i]
		if _, dup := c.playlists[pl.ID]; !dup {
			c.playlists[pl.ID] = pl
		}
		if pl.Shuffle {
			c.shuffles = true
		}
	}
	for i := range p.Layouts {
		l := &p.Layouts[i]
		if _, dup := c.layouts[l.ID]; !dup {
			c.layouts[l.ID] = compileLayout(l, p.Display)
		}
	}
	c.fullLay = &cLayout{zones: []cZone{{id: MainZone, rect: Rect{0, 0, max(p.Display.Width, 0), max(p.Display.Height, 0)}}}}
	c.hours = parseWindows(p.Hours)
	if len(c.hours) == 0 {
		c.hours = parseWindows(DefaultHours)
	}
	for i := range p.Holidays {
		h := &p.Holidays[i]
		d, err := parseDate(h.Date)
		if err != nil {
			continue
		}
		c.holidays[d] = h
		if ws := parseWindows(h.Hours); len(ws) > 0 {
			c.holHours[d] = ws
		}
	}
	c.flat = map[string][]flatEnt{}
	c.daily = map[string]bool{}
	for id := range c.playlists {
		c.flat[id] = c.flatten(id, -1, nil, 0)
		c.daily[id] = c.shufflesWithin(id, 0)
	}
	for i := range p.Schedules {
		c.scheds = append(c.scheds, c.compileSched(&p.Schedules[i], i))
	}
	if p.Default != nil {
		c.def = c.compileContent(&cSched{idx: -1, from: minDay, until: maxDay, applies: true, label: "default content"}, *p.Default)
	}
	return c
}

func parseWindows(ws []Window) []cwin {
	var out []cwin
	for _, w := range ws {
		if cw, err := parseWindow(w); err == nil {
			out = append(out, cw)
		}
	}
	return out
}

// itemDuration is an item's own duration in seconds.
func itemDuration(it *Item) float64 {
	if it.DurationS > 0 {
		return it.DurationS
	}
	if (it.Kind == KindVideo || it.Kind == KindAudio) && it.NaturalS > 0 {
		return it.NaturalS
	}
	return DefaultDurationS
}

func secondsToMS(s float64) int64 { return int64(math.Round(s * 1000)) }

// playMS is a play's length in ms: never under MinDurationS (a media
// file's natural length may be shorter; Validate refuses shorter set
// durations).
func playMS(s float64) int64 { return max(secondsToMS(s), MinDurationS*msPerSec) }

// pickLanguage chooses the variant: the first of the display's languages
// the item has, else its default language, else the first by sorted key.
func pickLanguage(it *Item, langs []string) (string, Variant, bool) {
	for _, l := range langs {
		if v, ok := it.Variants[l]; ok {
			return l, v, true
		}
	}
	if v, ok := it.Variants[it.DefaultLang]; ok {
		return it.DefaultLang, v, true
	}
	if len(it.Variants) == 0 {
		return "", Variant{}, false
	}
	keys := make([]string, 0, len(it.Variants))
	for k := range it.Variants {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys[0], it.Variants[keys[0]], true
}

func compileItem(it *Item, langs []string) *cItem {
	ci := &cItem{it: it, validFrom: minDay, validUntil: maxDay}
	ci.lang, ci.v, ci.ok = pickLanguage(it, langs)
	ci.dur = playMS(itemDuration(it))
	if it.ValidFrom != "" {
		if d, err := parseDate(it.ValidFrom); err == nil {
			ci.validFrom = d
			ci.limited = true
		}
	}
	if it.ValidUntil != "" {
		if d, err := parseDate(it.ValidUntil); err == nil {
			ci.validUntil = d
			ci.limited = true
		}
	}
	ci.dayparts = parseWindows(it.Dayparts)
	if len(ci.dayparts) > 0 {
		ci.limited = true
	}
	return ci
}

// compileLayout converts zone rectangles to pixels, clamped to the screen.
func compileLayout(l *Layout, d Display) *cLayout {
	cl := &cLayout{id: l.ID, main: -1}
	W, H := float64(max(d.Width, 0)), float64(max(d.Height, 0))
	for _, z := range l.Zones {
		x, y, w, h := z.X, z.Y, z.W, z.H
		if z.Unit != UnitPixels {
			x, y, w, h = x*W/100, y*H/100, w*W/100, h*H/100
		}
		x0 := clampF(math.Round(x), 0, W)
		y0 := clampF(math.Round(y), 0, H)
		x1 := clampF(math.Round(x+w), x0, W)
		y1 := clampF(math.Round(y+h), y0, H)
		if z.ID == MainZone && cl.main < 0 {
			cl.main = len(cl.zones)
		}
		cl.zones = append(cl.zones, cZone{id: z.ID, z: z.Z, rect: Rect{int(x0), int(y0), int(x1 - x0), int(y1 - y0)}})
	}
	return cl
}

func clampF(v, lo, hi float64) float64 {
	if v < lo {
		return lo
	}
	if v > hi {
		return hi
	}
	return v
}

func (c *Compiled) compileSched(s *Schedule, idx int) *cSched {
	cs := &cSched{s: s, idx: idx, from: minDay, until: maxDay, prio: s.Priority, holidays: s.Holidays}
	cs.applies = Applies(s.Target, c.disp)
	var err error
	if s.From != "" {
		if cs.from, err = parseDate(s.From); err != nil {
			cs.badDates = true
		}
	}
	if s.Until != "" {
		if cs.until, err = parseDate(s.Until); err != nil {
			cs.badDates = true
		}
	}
	for _, d := range s.Days {
		if d >= 0 && d <= 6 {
			cs.days |= 1 << d
		}
	}
	for _, e := range s.Except {
		if d, err := parseDate(e); err == nil {
			if cs.except == nil {
				cs.except = map[int]bool{}
			}
			cs.except[d] = true
		}
	}
	cs.wins = parseWindows(s.Windows)
	if r := s.Recurrence; r != nil {
		cr := &cRec{freq: r.Freq, interval: max(r.Interval, 1), monthDay: r.ByMonthDay, byWD: r.ByWeekday}
		for _, m := range r.ByMonth {
			if m >= 1 && m <= 12 {
				cr.months |= 1 << m
			}
		}
		cs.rec = cr
	}
	if s.Interrupt != nil {
		cs.irq = int64(s.Interrupt.SecondsPerHour) * msPerSec
		if cs.irq <= 0 {
			cs.irq = 0
			cs.badDates = true // an interrupt without a share never plays
		}
		cs.irqPL = s.Content.PlaylistID
		if cs.irqPL == "" {
			cs.irqPL = s.Content.Zones[MainZone]
		}
	}
	var b strings.Builder
	b.WriteString("schedule ")
	b.WriteString(s.ID)
	b.WriteString(" (priority ")
	b.WriteString(itoa(s.Priority))
	if len(cs.wins) == 0 {
		b.WriteString(", all day")
	} else {
		b.WriteString(", window")
		if len(cs.wins) > 1 {
			b.WriteString("s")
		}
		for i, w := range cs.wins {
			if i > 0 {
				b.WriteString(",")
			}
			b.WriteString(" ")
			b.WriteString(w.String())
		}
	}
	b.WriteString(")")
	cs.label = b.String()
	return c.compileContent(cs, s.Content)
}

func (c *Compiled) compileContent(cs *cSched, ct Content) *cSched {
	cs.zones = map[string]string{}
	if ct.LayoutID != "" {
		cs.layout = c.layouts[ct.LayoutID]
		for z, pl := range ct.Zones {
			cs.zones[z] = pl
		}
		if ct.PlaylistID != "" {
			if _, ok := cs.zones[MainZone]; !ok {
				cs.zones[MainZone] = ct.PlaylistID
			}
		}
	} else if ct.PlaylistID != "" {
		cs.zones[MainZone] = ct.PlaylistID
	}
	if cs.layout == nil {
		cs.layout = c.fullLay
	}
	return cs
}

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	var b [20]byte
	i := len(b)
	neg := n < 0
	u := uint64(n)
	if neg {
		u = uint64(-n)
	}
	for u > 0 {
		i--
		b[i] = byte('0' + u%10)
		u /= 10
	}
	if neg {
		i--
		b[i] = '-'
	}
	return string(b[i:])
}

// flatten expands a playlist into its items, nested playlists played
// through once in place. day >= 0 applies shuffles seeded for that day.
func (c *Compiled) flatten(id string, day int, out []flatEnt, depth int) []flatEnt {
	return c.flattenInto(id, id, day, out, depth)
}

func (c *Compiled) flattenInto(top, id string, day int, out []flatEnt, depth int) []flatEnt {
	pl := c.playlists[id]
	if pl == nil || depth > MaxNesting {
		return out
	}
	order := pl.Entries
	if pl.Shuffle && day >= 0 {
		order = shuffled(pl.Entries, shuffleSeed(c.disp.ID, dateString(day), pl.ID))
	}
	for _, e := range order {
		if e.PlaylistID != "" {
			out = c.flattenInto(top, e.PlaylistID, day, out, depth+1)
			continue
		}
		ci := c.items[e.ItemID]
		if ci == nil {
			continue
		}
		d := ci.dur
		if e.DurationS > 0 {
			d = playMS(e.DurationS)
		}
		if d <= 0 {
			continue
		}
		out = append(out, flatEnt{item: ci, dur: d, top: top, inner: pl, sched: -1})
	}
	return out
}

// playlistItems is the flattened playlist for a day (shuffled if needed).
// Playlists with no shuffle in them are the same every day.
func (c *Compiled) playlistItems(id string, day int) []flatEnt {
	if !c.shuffles || !c.daily[id] {
		return c.flat[id]
	}
	return c.flatten(id, day, nil, 0)
}

// shufflesWithin reports whether a playlist or one nested in it shuffles.
func (c *Compiled) shufflesWithin(id string, depth int) bool {
	pl := c.playlists[id]
	if pl == nil || depth > MaxNesting {
		return false
	}
	if pl.Shuffle {
		return true
	}
	for _, e := range pl.Entries {
		if e.PlaylistID != "" && c.shufflesWithin(e.PlaylistID, depth+1) {
			return true
		}
	}
	return false
}

// shuffleSeed hashes (display, date, playlist) with FNV-1a 64.
func shuffleSeed(parts ...string) uint64 {
	h := uint64(14695981039346656037)
	for i, p := range parts {
		if i > 0 {
			h ^= '|'
			h *= 1099511628211
		}
		for j := 0; j < len(p); j++ {
			h ^= uint64(p[j])
			h *= 1099511628211
		}
	}
	return h
}

// shuffled is a Fisher–Yates permutation driven by SplitMix64, defined here
// so that every build of server and player agrees.
func shuffled(es []Entry, seed uint64) []Entry {
	out := append([]Entry(nil), es...)
	x := seed
	for i := len(out) - 1; i > 0; i-- {
		x += 0x9e3779b97f4a7c15
		z := x
		z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
		z = (z ^ (z >> 27)) * 0x94d049bb133111eb
		z ^= z >> 31
		j := int(z % uint64(i+1))
		out[i], out[j] = out[j], out[i]
	}
	return out
}

// isHoliday reports whether a local day is a public holiday.
func (c *Compiled) isHoliday(day int) bool { _, ok := c.holidays[day]; return ok }

// occursOn reports whether a schedule has an occurrence starting on day.
func (c *Compiled) occursOn(cs *cSched, day int) bool {
	if cs.badDates || day < cs.from || day > cs.until {
		return false
	}
	wd := weekdayOf(day)
	if cs.days != 0 && cs.days&(1<<wd) == 0 {
		return false
	}
	if cs.except[day] {
		return false
	}
	switch cs.holidays {
	case HolidaysOnly:
		if !c.isHoliday(day) {
			return false
		}
	case HolidaysSkip:
		if c.isHoliday(day) {
			return false
		}
	}
	if cs.rec != nil {
		return c.recurs(cs, day)
	}
	return true
}

func (c *Compiled) recurs(cs *cSched, day int) bool {
	r := cs.rec
	if cs.from == minDay {
		return false // recurrence counts from From
	}
	fy, fm, fd := civilFromDays(cs.from)
	y, m, d := civilFromDays(day)
	if r.months != 0 && r.months&(1<<m) == 0 {
		return false // by_month limits every frequency (RFC 5545 BYMONTH)
	}
	wd := weekdayOf(day)
	switch r.freq {
	case Daily:
		if (day-cs.from)%r.interval != 0 {
			return false
		}
		// by_month_day and by_weekday limit a daily rule.
		return monthDayMatch(r, y, m, d) && weekdayMatch(r, day, y, m, d, false)
	case Weekly:
		monday := func(x int) int { return x - (int(weekdayOf(x))+6)%7 }
		if ((monday(day)-monday(cs.from))/7)%r.interval != 0 {
			return false
		}
		if len(r.byWD) > 0 {
			return weekdayMatch(r, day, y, m, d, false)
		}
		if cs.days != 0 {
			return true // Days already matched
		}
		return wd == weekdayOf(cs.from)
	case Monthly:
		if ((y*12+m)-(fy*12+fm))%r.interval != 0 {
			return false
		}
		return dayRule(r, day, y, m, d, fd, false)
	case Yearly:
		if (y-fy)%r.interval != 0 {
			return false
		}
		if r.months == 0 {
			if len(r.monthDay) == 0 && len(r.byWD) == 0 {
				return m == fm && d == fd
			}
			// RFC 5545: by_month_day in every month, by_weekday's n counted
			// within the year.
			return dayRule(r, day, y, m, d, fd, true)
		}
		return dayRule(r, day, y, m, d, fd, false)
	}
	return false
}

// dayRule is the day selection of a monthly or yearly rule: by_month_day
// and by_weekday each select days, and when both are given a day must
// match both (RFC 5545: BYDAY limits BYMONTHDAY); with neither, the day of
// the month of From.
func dayRule(r *cRec, day, y, m, d, fd int, yearScope bool) bool {
	if len(r.monthDay) == 0 && len(r.byWD) == 0 {
		return d == fd
	}
	return monthDayMatch(r, y, m, d) && weekdayMatch(r, day, y, m, d, yearScope)
}

// monthDayMatch: d is one of by_month_day (negative counts from the
// month's end); true when by_month_day is empty.
func monthDayMatch(r *cRec, y, m, d int) bool {
	if len(r.monthDay) == 0 {
		return true
	}
	dim := daysIn(y, m)
	for _, v := range r.monthDay {
		if (v > 0 && d == v) || (v < 0 && d == dim+v+1) {
			return true
		}
	}
	return false
}

// weekdayMatch: the day is one of by_weekday (the Nth such weekday of the
// month, or of the year with yearScope; N < 0 counts from the end; N = 0
// every); true when by_weekday is empty.
func weekdayMatch(r *cRec, day, y, m, d int, yearScope bool) bool {
	if len(r.byWD) == 0 {
		return true
	}
	pos, n := d, daysIn(y, m) // position in the period, period length
	if yearScope {
		pos = day - daysFromCivil(y, 1, 1) + 1
		n = 365
		if isLeap(y) {
			n = 366
		}
	}
	wd := weekdayOf(day)
	for _, b := range r.byWD {
		if b.Weekday != wd {
			continue
		}
		switch {
		case b.N == 0:
			return true
		case b.N > 0 && (pos-1)/7+1 == b.N:
			return true
		case b.N < 0 && (n-pos)/7+1 == -b.N:
			return true
		}
	}
	return false
}

// hoursOn returns the operating hours starting on a local day, merged,
// each truncated where the next day's hours begin so they never overlap.
func (c *Compiled) hoursOn(day int) []ival {
	c.mu.Lock()
	v, ok := c.days[day]
	c.mu.Unlock()
	if ok {
		return v
	}
	dw := newDayWalls(c.zc, day, 3)
	v = c.rawHours(dw, day)
	next := c.rawHours(dw, day+1)
	if len(next) > 0 {
		lim := next[0].s
		n := 0
		for _, x := range v {
			if x.e > lim {
				x.e = lim
			}
			if x.e > x.s {
				v[n] = x
				n++
			}
		}
		v = v[:n]
	}
	c.mu.Lock()
	if len(c.days) > 4096 {
		clear(c.days)
	}
	c.days[day] = v
	c.mu.Unlock()
	return v
}

func (c *Compiled) rawHours(dw *dayWalls, day int) []ival {
	ws := c.hours
	if h, ok := c.holHours[day]; ok {
		ws = h
	}
	v := make([]ival, 0, len(ws))
	for _, w := range ws {
		v = append(v, dw.window(day, w))
	}
	return unionIvals(v)
}

// hoursAt finds the operating-hours span containing instant t.
func (c *Compiled) hoursAt(t int64) (day, idx int, ok bool) {
	d := c.zc.dayOf(t)
	for _, dd := range [...]int{d, d - 1} {
		for i, x := range c.hoursOn(dd) {
			if x.s <= t && t < x.e {
				return dd, i, true
			}
		}
	}
	return 0, 0, false
}

// nextHours is the first operating-hours start after t (searching a
// little over a year), or false.
func (c *Compiled) nextHours(t int64) (int64, bool) {
	d := c.zc.dayOf(t)
	for dd := d - 1; dd < d+400; dd++ {
		for _, x := range c.hoursOn(dd) {
			if x.s > t {
				return x.s, true
			}
		}
	}
	return 0, false
}
