package playlists

import (
	"fmt"
	"math"
	"sync"
	"time"
	_ "time/tzdata" // server and player resolve zones even without a system tz database
)

// Calendar arithmetic on day numbers (days since 1970-01-01, proleptic
// Gregorian) and wall-clock → instant conversion in a time zone. Instants
// inside the package are Unix milliseconds.

const (
	msPerSec  = int64(1000)
	msPerMin  = 60 * msPerSec
	msPerHour = 60 * msPerMin
	minPerDay = 24 * 60
)

// daysFromCivil returns the day number of y-m-d.
func daysFromCivil(y, m, d int) int {
	if m <= 2 {
		y--
	}
	era := y / 400
	if y < 0 && y%400 != 0 {
		era = (y - 399) / 400
	}
	yoe := y - era*400
	mp := (m + 9) % 12
	doy := (153*mp+2)/5 + d - 1
	doe := yoe*365 + yoe/4 - yoe/100 + doy
	return era*146097 + doe - 719468
}

// civilFromDays returns the y-m-d of a day number.
func civilFromDays(z int) (y, m, d int) {
	z += 719468
	era := z / 146097
	if z < 0 && z%146097 != 0 {
		era = (z - 146096) / 146097
	}
	doe := z - era*146097
	yoe := (doe - doe/1460 + doe/36524 - doe/146096) / 365
	y = yoe + era*400
	doy := doe - (365*yoe + yoe/4 - yoe/100)
	mp := (5*doy + 2) / 153
	d = doy - (153*mp+2)/5 + 1
	if mp < 10 {
		m = mp + 3
	} else {
		m = mp - 9
	}
	if m <= 2 {
		y++
	}
	return
}

func weekdayOf(day int) time.Weekday {
	return time.Weekday(((day % 7) + 7 + 4) % 7) // 1970-01-01 was a Thursday
}

func isLeap(y int) bool { return y%4 == 0 && (y%100 != 0 || y%400 == 0) }

func daysIn(y, m int) int {
	switch m {
	case 2:
		if isLeap(y) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}

func dateString(day int) string {
	y, m, d := civilFromDays(day)
	return fmt.Sprintf("%04d-%02d-%02d", y, m, d)
}

// parseDate parses "YYYY-MM-DD" into a day number.
func parseDate(s Date) (int, error) {
	b := string(s)
	if len(b) != 10 || b[4] != '-' || b[7] != '-' {
		return 0, fmt.Errorf("date %q is not YYYY-MM-DD", b)
	}
	y, ok1 := digits(b[0:4])
	m, ok2 := digits(b[5:7])
	d, ok3 := digits(b[8:10])
	if !ok1 || !ok2 || !ok3 || m < 1 || m > 12 || d < 1 || d > daysIn(y, m) {
		return 0, fmt.Errorf("date %q is not a calendar date", b)
	}
	return daysFromCivil(y, m, d), nil
}

// parseClock parses "HH:MM" into minutes after midnight; "24:00" is the
// end of the day.
func parseClock(s Clock) (int, error) {
	b := string(s)
	if len(b) != 5 || b[2] != ':' {
		return 0, fmt.Errorf("time %q is not HH:MM", b)
	}
	h, ok1 := digits(b[0:2])
	m, ok2 := digits(b[3:5])
	if !ok1 || !ok2 || m > 59 || h > 24 || (h == 24 && m != 0) {
		return 0, fmt.Errorf("time %q is not a time of day", b)
	}
	return h*60 + m, nil
}

func digits(s string) (int, bool) {
	n := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, true
}

// cwin is a parsed Window in minutes; e <= s crosses midnight.
type cwin struct{ s, e int }

func parseWindow(w Window) (cwin, error) {
	s, err := parseClock(w.Start)
	if err != nil {
		return cwin{}, err
	}
	e, err := parseClock(w.End)
	if err != nil {
		return cwin{}, err
	}
	if s == minPerDay {
		return cwin{}, fmt.Errorf("window %s–%s starts at 24:00", w.Start, w.End)
	}
	return cwin{s, e}, nil
}

func (w cwin) String() string {
	e := w.e
	return fmt.Sprintf("%02d:%02d–%02d:%02d", w.s/60, w.s%60, e/60, e%60)
}

// ival is a half-open interval of instants [s, e) in Unix ms.
type ival struct{ s, e int64 }

// unionIvals sorts and merges overlapping or touching intervals, dropping
// empty ones. It reuses the slice.
func unionIvals(v []ival) []ival {
	n := 0
	for _, x := range v {
		if x.e > x.s {
			v[n] = x
			n++
		}
	}
	v = v[:n]
	if len(v) < 2 {
		return v
	}
	for i := 1; i < len(v); i++ { // insertion sort: lists are short
		for j := i; j > 0 && v[j].s < v[j-1].s; j-- {
			v[j], v[j-1] = v[j-1], v[j]
		}
	}
	out := v[:1]
	for _, x := range v[1:] {
		last := &out[len(out)-1]
		if x.s <= last.e {
			if x.e > last.e {
				last.e = x.e
			}
			continue
		}
		out = append(out, x)
	}
	return out
}

// Locations are loaded once per name.
var locCache sync.Map // name → *time.Location

func loadLocation(name string) (*time.Location, error) {
	if name == "" {
		name = DefaultTimezone
	}
	if l, ok := locCache.Load(name); ok {
		return l.(*time.Location), nil
	}
	l, err := time.LoadLocation(name)
	if err != nil {
		return nil, err
	}
	locCache.Store(name, l)
	return l, nil
}

// zoneClock converts between wall clock and instants in one location.
type zoneClock struct {
	loc *time.Location
}

func (z zoneClock) offset(unixS int64) int64 {
	_, off := time.Unix(unixS, 0).In(z.loc).Zone()
	return int64(off)
}

// dayOf is the local day number of an instant.
func (z zoneClock) dayOf(ms int64) int {
	s := floorDiv(ms, msPerSec)
	return int(floorDiv(s+z.offset(s), 86400))
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if (a%b != 0) && ((a < 0) != (b < 0)) {
		q--
	}
	return q
}

// wall returns the instant (Unix ms) of minute m (0..1440) of a local day.
// A wall time that occurs twice (the clock goes back) maps to its first
// occurrence; one that does not occur (the clock jumps forward) maps to the
// instant of the jump, so a window inside the gap is empty and one across
// it is clipped.
func (z zoneClock) wall(day, m int) int64 {
	w := int64(day)*86400 + int64(m)*60
	offs := [3]int64{z.offset(w - 86400), z.offset(w), z.offset(w + 86400)}
	best := int64(math.MaxInt64)
	maxU := int64(math.MinInt64)
	for _, o := range offs {
		u := w - o
		if z.offset(u) == o && u < best {
			best = u
		}
		if u > maxU {
			maxU = u
		}
	}
	if best != math.MaxInt64 {
		return best * msPerSec
	}
	start, _ := time.Unix(maxU, 0).In(z.loc).ZoneBounds()
	if start.IsZero() {
		return maxU * msPerSec
	}
	return start.Unix() * msPerSec
}

// dayWalls converts wall clocks of a few consecutive days quickly: most
// days have no offset change, so a minute is the day's start plus m.
type dayWalls struct {
	z     zoneClock
	first int
	start []int64 // instant of 00:00 of first+i
	fast  []bool  // no offset change from 00:00 until 00:00 the next day
}

func newDayWalls(z zoneClock, first, n int) *dayWalls {
	dw := &dayWalls{z: z, first: first, start: make([]int64, n+1), fast: make([]bool, n)}
	for i := 0; i <= n; i++ {
		dw.start[i] = z.wall(first+i, 0)
	}
	for i := 0; i < n; i++ {
		_, end := time.UnixMilli(dw.start[i]).In(z.loc).ZoneBounds()
		dw.fast[i] = (end.IsZero() || end.UnixMilli() >= dw.start[i+1]) && dw.start[i+1]-dw.start[i] == 86400*msPerSec
	}
	return dw
}

func (dw *dayWalls) wall(day, m int) int64 {
	i := day - dw.first
	if m == minPerDay {
		i++
		m = 0
		day++
	}
	if i >= 0 && i < len(dw.fast) && dw.fast[i] {
		return dw.start[i] + int64(m)*msPerMin
	}
	if i >= 0 && i < len(dw.start) && m == 0 {
		return dw.start[i]
	}
	return dw.z.wall(day, m)
}

// window returns the occurrence of w starting on day: windows whose end is
// at or before their start end on the next day.
func (dw *dayWalls) window(day int, w cwin) ival {
	s := dw.wall(day, w.s)
	var e int64
	if w.e <= w.s {
		e = dw.wall(day+1, w.e)
	} else {
		e = dw.wall(day, w.e)
	}
	return ival{s, e}
}
