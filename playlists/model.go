// Package playlists is Beacon's pure scheduling logic: content items,
// playlists, layouts with zones, schedules (dayparts, recurrence, date
// ranges, priorities, interrupts with share of voice), operating hours and
// time zones, and their evaluation: what each zone of a display shows at an
// instant, and the concrete timeline over a period.
//
// It does no I/O and reads no clock: every function takes the instant it
// is asked about. The server compiles a Program per display and signs it
// into the manifest; the player evaluates the same Program with the same
// code, so it plays correctly offline for as long as it must.
//
// # Evaluation rules
//
// docs/evaluation.md is the normative statement of these rules (part of
// the player protocol); this is a summary.
//
// Wall clock. Dates, days, windows and operating hours are read in
// Program.Timezone (default Asia/Ho_Chi_Minh; the tz database is embedded).
// A window whose end is at or before its start ends the next day and
// belongs, for Days, date ranges, recurrences, exceptions and holidays, to
// the day it starts on. A wall time that does not exist (spring forward)
// maps to the instant of the jump, so a window inside the gap is empty and
// one across it is clipped; a wall time that occurs twice (fall back) is
// its first occurrence, so a 02:00–03:00 window then lasts two hours.
//
// Operating hours. Hours (default DefaultHours) or a holiday's Hours make
// "hours spans" per local day (overlapping windows merged); a span running
// past midnight is cut where the next day's first span begins. Outside
// them Now.Off is true and nothing plays.
//
// Winning content. Inside an hours span, the active non-interrupt
// schedules of the highest priority win the screen; several of equal
// priority merge in Program.Schedules order: the layout is the first
// one's, and each zone plays the playlists the merged schedules give it
// one after the other as one loop (zones the layout lacks are dropped and
// reported by Conflicts). With no schedule active, Default plays. Content
// with only a PlaylistID is the full-screen layout with the one zone
// MainZone; with a LayoutID, a PlaylistID fills MainZone if Zones does not.
//
// Loop anchoring. A zone's loop starts with its first entry at the start
// of its span: the instant the set of winning schedules last changed or
// the hours span began. Content that loses the screen to a higher
// priority restarts its loop when it gets it back. So At(t) is computed
// from at most one hours span (cached per Compiled), and equals the
// Timeline at t.
//
// Items. Duration: the entry's DurationS, else the item's, else NaturalS
// for video and audio (at least MinDurationS), else DefaultDurationS. Variant: the first of
// Display.Languages the item has, else DefaultLang, else the first by
// sorted language. Items outside their validity dates or dayparts, and
// items Options.Playable rejects, are skipped: where the set of eligible
// items changes, the item then playing finishes and the loop goes on with
// the next eligible entry in order. A zone with nothing eligible is empty
// (ZoneNow.Item nil, no plays). Nested playlists play through once in
// place; ZoneNow.PlaylistID is the scheduled playlist, Transition the one
// of the playlist holding the item. Shuffle permutes a playlist's entries
// with a generator defined in this package, seeded by (display id, local
// date of the hours span, playlist id).
//
// Interrupts. A schedule with an Interrupt plays over whatever content
// wins, regardless of priority, clock hour by clock hour: it takes items
// of its playlist in order, continuing where it stopped the previous hour
// (restarting at each hours span), while their total stays within
// SecondsPerHour; items longer than that never play. Item j of k taken in
// an hour is placed at j/k of the hour (a 30 s spot at 60 s per hour plays
// at :00 and :30); several interrupts in one hour share it, higher
// priority first, never over 3600 s together. A slot plays only if it lies
// wholly inside the interrupt's active time (its own windows within the
// operating hours). It takes the layout's MainZone, or the whole screen
// (zone MainZone, above every zone) when the layout has no such zone. The
// interrupted content keeps running on its clock underneath: after the
// slot the zone shows whatever its loop has then.
//
// Now.Next and ZoneNow.End are the next instant anything changes. Timeline
// plays are clipped to [from, to), sorted by Start then Zone, and never
// overlap within a zone.
//
// Compile prepares a Program once; the caller keeps the Compiled value and
// evaluates it as often as it likes (At, Timeline, Plays, Files,
// Conflicts, SMIL). The functions of the same names compile afresh on each
// call, for one-off questions.
package playlists

import "time"

// Kind is what an item shows or plays.
type Kind string

// Item kinds.
const (
	KindImage Kind = "image"
	KindVideo Kind = "video"
	KindAudio Kind = "audio" // played on the display's sound system
	KindWeb   Kind = "web"   // a web page, reloaded every RefreshS
	KindText  Kind = "text"  // text or a scrolling ticker
	KindClock Kind = "clock"
)

// DefaultDurationS is the duration of images, text, web pages and clocks
// that give none.
const DefaultDurationS = 10

// MinDurationS and MaxDurationS bound every duration a Program gives (an
// item's duration_s and refresh_s, an entry's duration_s): Validate
// refuses a duration set outside them, and evaluation plays an item whose
// natural length is shorter for MinDurationS, so a timeline never has
// more than one play per second per zone.
const (
	MinDurationS = 1
	MaxDurationS = 86400
)

// Date is a calendar date, "YYYY-MM-DD", in the program's time zone.
type Date string

// Clock is a time of day, "HH:MM" (24-hour), in the program's time zone.
type Clock string

// Window is a time-of-day window [Start, End). End at or before Start
// means the window crosses midnight ("22:00"–"06:00"); "00:00"–"00:00" is
// the whole day.
type Window struct {
	Start Clock `json:"start"`
	End   Clock `json:"end"`
}

// Variant is an item's content in one language. For media kinds it names
// the file (already the rendition for this display); text and web items
// carry their text or URL.
type Variant struct {
	SHA256      string `json:"sha256,omitempty"`
	ContentType string `json:"content_type,omitempty"`
	Text        string `json:"text,omitempty"`
	URL         string `json:"url,omitempty"`
}

// TextStyle styles text and ticker items.
type TextStyle struct {
	FontSizePx int     `json:"font_size_px,omitempty"` // default: a third of the zone's height
	Color      string  `json:"color,omitempty"`        // #rrggbb, default #ffffff
	Background string  `json:"background,omitempty"`   // #rrggbb, default #000000
	Scroll     bool    `json:"scroll,omitempty"`       // a ticker scrolls right to left
	SpeedPxS   float64 `json:"speed_px_s,omitempty"`   // ticker speed, default 120 px/s
}

// ClockStyle styles clock items.
type ClockStyle struct {
	Format     string `json:"format,omitempty"` // "15:04", "15:04:05", "02/01/2006 15:04" (Go layout); default "15:04"
	Color      string `json:"color,omitempty"`
	Background string `json:"background,omitempty"`
}

// Item is one piece of content.
type Item struct {
	ID        string  `json:"id"`
	Kind      Kind    `json:"kind"`
	Name      string  `json:"name,omitempty"`
	DurationS float64 `json:"duration_s,omitempty"` // 0: DefaultDurationS, or NaturalS for video and audio
	NaturalS  float64 `json:"natural_s,omitempty"`  // natural length of video and audio
	// Validity: the item plays only on these dates (inclusive; empty = open).
	ValidFrom  Date `json:"valid_from,omitempty"`
	ValidUntil Date `json:"valid_until,omitempty"`
	// Dayparts of its own: if set, the item plays only inside one of them.
	Dayparts []Window `json:"dayparts,omitempty"`
	// Variants by language ("vi", "en", "zh"…); DefaultLang is used when the
	// display's languages have none.
	Variants    map[string]Variant `json:"variants"`
	DefaultLang string             `json:"default_lang"`
	RefreshS    float64            `json:"refresh_s,omitempty"` // web pages
	// SameOrigin lets a web page keep its own origin (cookies, storage,
	// same-origin requests) inside the renderer's sandboxed frame. Web
	// pages run without it by default; only kind web may set it.
	SameOrigin bool        `json:"same_origin,omitempty"`
	Text       *TextStyle  `json:"text,omitempty"`
	Clock      *ClockStyle `json:"clock,omitempty"`
}

// Transition between two items of a playlist.
type Transition struct {
	Kind       string `json:"kind"` // "cut" or "fade"
	DurationMS int    `json:"duration_ms,omitempty"`
}

// Entry is one step of a playlist: an item, or a nested playlist played
// through once.
type Entry struct {
	ItemID     string  `json:"item_id,omitempty"`
	PlaylistID string  `json:"playlist_id,omitempty"`
	DurationS  float64 `json:"duration_s,omitempty"` // overrides the item's duration
}

// Playlist is an ordered list of entries played in a loop.
type Playlist struct {
	ID         string     `json:"id"`
	Name       string     `json:"name,omitempty"`
	Entries    []Entry    `json:"entries"`
	Shuffle    bool       `json:"shuffle,omitempty"` // seeded per display and day
	Transition Transition `json:"transition"`
}

// Zone units.
const (
	UnitPercent = "percent"
	UnitPixels  = "px"
)

// Zone is a rectangle of a layout.
type Zone struct {
	ID   string  `json:"id"`
	X    float64 `json:"x"`
	Y    float64 `json:"y"`
	W    float64 `json:"w"`
	H    float64 `json:"h"`
	Unit string  `json:"unit"` // percent (default) or px
	Z    int     `json:"z"`
}

// MainZone is the zone of the default full-screen layout, and the zone
// interrupts take over when a layout has no zone of that name.
const MainZone = "main"

// Layout divides a display into zones.
type Layout struct {
	ID    string `json:"id"`
	Name  string `json:"name,omitempty"`
	Zones []Zone `json:"zones"`
}

// Content is what a schedule puts on screen: a playlist full-screen, or a
// layout with a playlist per zone.
type Content struct {
	PlaylistID string            `json:"playlist_id,omitempty"`
	LayoutID   string            `json:"layout_id,omitempty"`
	Zones      map[string]string `json:"zones,omitempty"` // zone id → playlist id
}

// Target says which displays a schedule applies to: any display listed,
// in a listed cluster, or carrying a listed tag.
type Target struct {
	DisplayIDs []string `json:"display_ids,omitempty"`
	ClusterIDs []string `json:"cluster_ids,omitempty"`
	Tags       []string `json:"tags,omitempty"`
}

// Recurrence frequencies.
const (
	Daily   = "daily"
	Weekly  = "weekly"
	Monthly = "monthly"
	Yearly  = "yearly"
)

// NthWeekday is "the Nth weekday of the month"; N = -1 is the last.
type NthWeekday struct {
	Weekday time.Weekday `json:"weekday"`
	N       int          `json:"n"`
}

// Recurrence repeats a schedule from its From date, with the rules of
// RFC 5545 (DTSTART = From, WKST = MO): by_month limits; for monthly and
// yearly rules by_month_day and by_weekday select days and, given both,
// a day must match both; a yearly rule without by_month reads
// by_month_day in every month and N within the year. docs/evaluation.md
// has the exact rules.
type Recurrence struct {
	Freq       string       `json:"freq"`                   // daily, weekly, monthly, yearly
	Interval   int          `json:"interval,omitempty"`     // every N periods, default 1
	ByMonthDay []int        `json:"by_month_day,omitempty"` // days of the month (-1 = last); not weekly
	ByWeekday  []NthWeekday `json:"by_weekday,omitempty"`   // e.g. the first Monday; N only monthly/yearly
	ByMonth    []int        `json:"by_month,omitempty"`     // months 1..12: limits any frequency
}

// Holiday handling of a schedule.
const (
	HolidaysAlso = ""     // plays on holidays as on other days
	HolidaysOnly = "only" // plays only on public holidays
	HolidaysSkip = "skip" // never on public holidays
)

// Interrupt makes a schedule a share-of-voice interrupt: it takes over the
// main zone for SecondsPerHour each hour, spread evenly, never more.
type Interrupt struct {
	SecondsPerHour int `json:"seconds_per_hour"`
}

// Schedule puts content on displays at certain times.
type Schedule struct {
	ID         string         `json:"id"`
	Name       string         `json:"name,omitempty"`
	Target     Target         `json:"target"`
	Content    Content        `json:"content"`
	From       Date           `json:"from,omitempty"`  // inclusive; empty = open
	Until      Date           `json:"until,omitempty"` // inclusive; empty = open
	Days       []time.Weekday `json:"days,omitempty"`  // empty = every day
	Windows    []Window       `json:"windows,omitempty"`
	Recurrence *Recurrence    `json:"recurrence,omitempty"`
	Except     []Date         `json:"except,omitempty"`
	Holidays   string         `json:"holidays,omitempty"` // "", "only" or "skip"
	Priority   int            `json:"priority"`           // higher wins; equal priority merges in order
	Interrupt  *Interrupt     `json:"interrupt,omitempty"`
}

// Holiday is a public holiday; Hours, if set, replace the operating hours
// that day.
type Holiday struct {
	Date  Date     `json:"date"`
	Name  string   `json:"name,omitempty"`
	Hours []Window `json:"hours,omitempty"`
}

// DefaultHours are the operating hours of a cluster that sets none:
// 07:00–22:00 every day, weekends and holidays included.
var DefaultHours = []Window{{Start: "07:00", End: "22:00"}}

// DefaultTimezone is the time zone of a cluster that sets none.
const DefaultTimezone = "Asia/Ho_Chi_Minh"

// Display is the display a Program is for.
type Display struct {
	ID        string   `json:"id"`
	ClusterID string   `json:"cluster_id,omitempty"`
	Tags      []string `json:"tags,omitempty"`
	Width     int      `json:"width"`
	Height    int      `json:"height"`
	Languages []string `json:"languages,omitempty"` // preferred first; empty = each item's default
}

// Program is everything a display needs to know what to play at any
// instant: it is compiled by the server, carried in the signed manifest,
// and evaluated by the player.
type Program struct {
	Display   Display    `json:"display"`
	Timezone  string     `json:"timezone"`        // IANA name; default DefaultTimezone
	Hours     []Window   `json:"hours,omitempty"` // operating hours; empty = DefaultHours
	Holidays  []Holiday  `json:"holidays,omitempty"`
	Items     []Item     `json:"items"`
	Playlists []Playlist `json:"playlists"`
	Layouts   []Layout   `json:"layouts"`
	Schedules []Schedule `json:"schedules"`
	Default   *Content   `json:"default,omitempty"` // when no schedule applies
}
