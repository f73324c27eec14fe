package web

import "beacon/playlists"

// Command is one command to the renderer page. A show without a zone
// is the full-screen image of a plain playlist.
type Command struct {
	Type       string      `json:"type"`
	Code       string      `json:"code,omitempty"`        // pairing
	Zone       string      `json:"zone,omitempty"`        // show, clear, preload
	Kind       string      `json:"kind,omitempty"`        // show: image, video, audio, web, text, clock
	URL        string      `json:"url,omitempty"`         // show, preload: /content/<sha> (web: the page)
	SHA256     string      `json:"sha256,omitempty"`      // show, preload
	ItemID     string      `json:"item_id,omitempty"`     // show, preload
	Seq        uint64      `json:"seq,omitempty"`         // show of a program: echoed in the renderer's shown report
	DurationMS int64       `json:"duration_ms,omitempty"` // show
	Fit        string      `json:"fit,omitempty"`         // show: contain (default), cover or stretch
	Background string      `json:"background,omitempty"`  // show: letterbox colour #rrggbb
	Transition *Transition `json:"transition,omitempty"`  // show
	Text       string      `json:"text,omitempty"`        // show: text
	Style      *Style      `json:"style,omitempty"`       // show: text, clock
	RefreshS   float64     `json:"refresh_s,omitempty"`   // show: web
	SameOrigin bool        `json:"same_origin,omitempty"` // show: web page keeps its origin in its sandbox
	Width      int         `json:"width,omitempty"`       // layout: display size in pixels
	Height     int         `json:"height,omitempty"`      // layout
	Timezone   string      `json:"timezone,omitempty"`    // layout: IANA zone for clocks
	Zones      []Zone      `json:"zones,omitempty"`       // layout
}

// Zone is a zone's rectangle in display pixels.
type Zone struct {
	ID string `json:"id"`
	X  int    `json:"x"`
	Y  int    `json:"y"`
	W  int    `json:"w"`
	H  int    `json:"h"`
	Z  int    `json:"z"`
}

type Transition struct {
	Kind       string `json:"kind"` // cut or fade
	DurationMS int    `json:"duration_ms,omitempty"`
}

type Style struct {
	FontSizePx int     `json:"font_size_px,omitempty"`
	Color      string  `json:"color,omitempty"`
	Background string  `json:"background,omitempty"`
	Scroll     bool    `json:"scroll,omitempty"`
	SpeedPxS   float64 `json:"speed_px_s,omitempty"`
	Format     string  `json:"format,omitempty"` // clock: Go layout
}

// LayoutCommand places the zones of n on the display.
func LayoutCommand(prog *playlists.Program, n playlists.Now) Command {
	cmd := Command{
		Type: "layout", Width: prog.Display.Width, Height: prog.Display.Height,
		Timezone: prog.Timezone, Zones: make([]Zone, 0, len(n.Zones)),
	}
	if cmd.Timezone == "" {
		cmd.Timezone = playlists.DefaultTimezone
	}
	for _, zn := range n.Zones {
		cmd.Zones = append(cmd.Zones, Zone{ID: zn.Zone, X: zn.Rect.X, Y: zn.Rect.Y, W: zn.Rect.W, H: zn.Rect.H, Z: zn.Z})
	}
	if cmd.Width <= 0 || cmd.Height <= 0 {
		// No panel size: the zones' bounding box is the display.
		for _, z := range cmd.Zones {
			cmd.Width = max(cmd.Width, z.X+z.W)
			cmd.Height = max(cmd.Height, z.Y+z.H)
		}
	}
	return cmd
}

// ShowCommand puts a zone's item on screen.
func ShowCommand(fit, background string, zn playlists.ZoneNow, contentPrefix string) Command {
	it := zn.Item
	cmd := Command{
		Type: "show", Zone: zn.Zone, Kind: string(it.Kind), SHA256: zn.Variant.SHA256, ItemID: it.ID,
		DurationMS: int64(zn.DurationS * 1000), Fit: fit, Background: background,
		Text: zn.Variant.Text, RefreshS: it.RefreshS, SameOrigin: it.SameOrigin && it.Kind == playlists.KindWeb,
	}
	if cmd.DurationMS <= 0 && zn.End.After(zn.Start) {
		cmd.DurationMS = zn.End.Sub(zn.Start).Milliseconds()
	}
	if t := zn.Transition; t.Kind != "" {
		cmd.Transition = &Transition{Kind: t.Kind, DurationMS: t.DurationMS}
	}
	switch it.Kind {
	case playlists.KindWeb:
		cmd.URL = zn.Variant.URL
		if cmd.URL == "" && zn.Variant.SHA256 != "" {
			cmd.URL = contentPrefix + zn.Variant.SHA256
		}
	case playlists.KindText:
		if s := it.Text; s != nil {
			cmd.Style = &Style{FontSizePx: s.FontSizePx, Color: s.Color, Background: s.Background, Scroll: s.Scroll, SpeedPxS: s.SpeedPxS}
		}
	case playlists.KindClock:
		if s := it.Clock; s != nil {
			cmd.Style = &Style{Format: s.Format, Color: s.Color, Background: s.Background}
		}
	default:
		if zn.Variant.SHA256 != "" {
			cmd.URL = contentPrefix + zn.Variant.SHA256
		}
	}
	return cmd
}
