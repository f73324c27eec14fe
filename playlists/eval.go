package playlists

import "time"

// Rect is a zone's rectangle in pixels on the program's display.
type Rect struct {
	X int `json:"x"`
	Y int `json:"y"`
	W int `json:"w"`
	H int `json:"h"`
}

// ZoneNow is what one zone shows at an instant, and why.
type ZoneNow struct {
	Zone       string     `json:"zone"`
	Rect       Rect       `json:"rect"`
	Z          int        `json:"z"`
	Item       *Item      `json:"item,omitempty"` // nil: the zone is empty (nothing playable)
	Lang       string     `json:"lang,omitempty"`
	Variant    Variant    `json:"variant"`
	DurationS  float64    `json:"duration_s,omitempty"`
	Start      time.Time  `json:"start"` // when this play started
	End        time.Time  `json:"end"`   // when it ends (the next change in this zone)
	ScheduleID string     `json:"schedule_id,omitempty"`
	PlaylistID string     `json:"playlist_id,omitempty"`
	Interrupt  bool       `json:"interrupt,omitempty"`
	Transition Transition `json:"transition"`
	Why        string     `json:"why"` // e.g. "schedule sch_1 (priority 5, window 07:00–11:00)"
}

// Now is a display's state at an instant.
type Now struct {
	At       time.Time `json:"at"`
	Off      bool      `json:"off"` // outside operating hours: screen blank
	LayoutID string    `json:"layout_id,omitempty"`
	Zones    []ZoneNow `json:"zones"`
	Why      string    `json:"why"`
	Next     time.Time `json:"next"` // the earliest instant at which anything changes
}

// Play is one entry of a timeline: an item in a zone over [Start, End).
type Play struct {
	Zone       string    `json:"zone"`
	ItemID     string    `json:"item_id"`
	Lang       string    `json:"lang,omitempty"`
	SHA256     string    `json:"sha256,omitempty"`
	Start      time.Time `json:"start"`
	End        time.Time `json:"end"`
	ScheduleID string    `json:"schedule_id,omitempty"`
	PlaylistID string    `json:"playlist_id,omitempty"`
	Interrupt  bool      `json:"interrupt,omitempty"`
}

// Conflict reports schedules that overlap for a display in a way a person
// should look at (equal priority full-screen overlap, an interrupt whose
// share of voice cannot fit, a layout zone with no playlist, …).
type Conflict struct {
	Kind        string    `json:"kind"` // one of the Conflict… constants
	ScheduleIDs []string  `json:"schedule_ids"`
	From        time.Time `json:"from"`
	To          time.Time `json:"to"`
	Message     string    `json:"message"`
}

// Conflict kinds.
const (
	ConflictMerge              = "merge"                // equal priorities merge (informational)
	ConflictInterruptShare     = "interrupt_share"      // an interrupt's share cannot fit, or its items do not
	ConflictInterruptsOverHour = "interrupts_over_hour" // interrupts together exceed the hour
	ConflictZoneMissing        = "zone_missing"         // a zone the layout lacks
	ConflictZoneEmpty          = "zone_empty"           // a layout zone with no playlist
	ConflictNever              = "never"                // never occurs in the period
	ConflictOutsideHours       = "outside_hours"        // occurs only outside operating hours
	ConflictHidden             = "hidden"               // hidden the whole period by higher priorities
)

// Options tune evaluation.
type Options struct {
	// Playable reports whether an item's variant can start (the player: its
	// file is verified in the cache). Nil means everything is playable.
	// Unplayable items are skipped; the next playable one takes their place.
	Playable func(Item, Variant) bool
}
