package protocol_test

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"testing"
	"time"

	"beacon/playlists"
	"beacon/protocol"
)

// The vectors of testdata/overrides: emergency overrides over a program at
// given instants (docs/evaluation.md §15). TestOverrideVectorsBuild makes
// them from the Go values below with playlists.At and protocol.Shown (the
// function the reference player uses to pick the override it shows), and
// fails if a file differs by a byte; TestOverrideVectorsAsRead evaluates
// each file as decoded and compares every instant.

const ovrDisplay, ovrOrg = "d-ovr-01", "org-hanoi"

// ovrVector is one file.
type ovrVector struct {
	Name        string                  `json:"name"`
	Description string                  `json:"description"`
	OrgID       string                  `json:"org_id"`
	Program     json.RawMessage         `json:"program"`
	Overrides   []protocol.OverrideSpec `json:"overrides"`
	At          []ovrAt                 `json:"at"`
}

// ovrAt is the expected screen at one instant.
type ovrAt struct {
	T        time.Time  `json:"t"`
	Override *ovrShown  `json:"override"` // null: no override on screen
	Program  ovrProgram `json:"program"`  // what the program says, visible or not
	Visible  bool       `json:"program_visible"`
	Next     time.Time  `json:"next"`
}

type ovrShown struct {
	ID           string `json:"id"`
	Level        string `json:"level"`
	Presentation string `json:"presentation"`
	Position     string `json:"position,omitempty"`
}

type ovrProgram struct {
	Off      bool        `json:"off"`
	LayoutID string      `json:"layout_id,omitempty"`
	Zones    []ovrZoneAt `json:"zones"`
}

type ovrZoneAt struct {
	Zone   string    `json:"zone"`
	ItemID string    `json:"item_id,omitempty"`
	Start  time.Time `json:"start"`
	End    time.Time `json:"end"`
}

func hcm(day int, hh, mm, ss int) time.Time {
	loc, err := time.LoadLocation("Asia/Ho_Chi_Minh")
	if err != nil {
		panic(err)
	}
	return time.Date(2026, 9, day, hh, mm, ss, 0, loc).UTC()
}

// ovrProgramValue is a two-zone program (main 70 % and side 30 %) of text
// items, 07:00–22:00 in Hanoi.
func ovrProgramValue() *playlists.Program {
	text := func(id, s string, d float64) playlists.Item {
		return playlists.Item{ID: id, Kind: playlists.KindText, DurationS: d, DefaultLang: "vi",
			Variants: map[string]playlists.Variant{"vi": {Text: s}}}
	}
	return &playlists.Program{
		Display:  playlists.Display{ID: ovrDisplay, Width: 1920, Height: 1080, Languages: []string{"vi", "en"}},
		Timezone: "Asia/Ho_Chi_Minh",
		Hours:    []playlists.Window{{Start: "07:00", End: "22:00"}},
		Items:    []playlists.Item{text("news-1", "Tin 1", 25), text("news-2", "Tin 2", 40), text("side-1", "Thời tiết", 30)},
		Playlists: []playlists.Playlist{
			{ID: "pl-main", Entries: []playlists.Entry{{ItemID: "news-1"}, {ItemID: "news-2"}}, Transition: playlists.Transition{Kind: "cut"}},
			{ID: "pl-side", Entries: []playlists.Entry{{ItemID: "side-1"}}, Transition: playlists.Transition{Kind: "cut"}},
		},
		Layouts: []playlists.Layout{{ID: "split", Zones: []playlists.Zone{
			{ID: "main", X: 0, Y: 0, W: 70, H: 100},
			{ID: "side", X: 70, Y: 0, W: 30, H: 100, Z: 1},
		}}},
		Schedules: []playlists.Schedule{{ID: "sc-news", Target: playlists.Target{DisplayIDs: []string{ovrDisplay}},
			Content: playlists.Content{LayoutID: "split", Zones: map[string]string{"main": "pl-main", "side": "pl-side"}}, Priority: 1}},
	}
}

// spec is an override addressed to the display.
func spec(id, level, presentation string, issued, start, expires time.Time, wake bool) protocol.OverrideSpec {
	o := protocol.OverrideSpec{ID: id, Revision: 1, Level: level, Presentation: presentation,
		StartsAt: start, ExpiresAt: expires, IssuedAt: issued, Wake: wake, OrgID: ovrOrg, DisplayIDs: []string{ovrDisplay}}
	if presentation == protocol.PresentFullscreen || presentation == protocol.PresentBanner {
		o.Texts = map[string]string{"vi": "Cảnh báo " + id, "en": "Warning " + id}
	}
	return o
}

func overrideVectorInputs() map[string]ovrVector {
	d := 1 // 2026-09-01, a Tuesday
	presentations := []protocol.OverrideSpec{
		spec("ovr-full", protocol.LevelCritical, protocol.PresentFullscreen, hcm(d, 9, 0, 0), hcm(d, 9, 0, 0), hcm(d, 9, 10, 0), true),
		func() protocol.OverrideSpec {
			o := spec("ovr-banner", protocol.LevelInfo, protocol.PresentBanner, hcm(d, 9, 55, 0), hcm(d, 10, 0, 0), hcm(d, 10, 30, 0), false)
			o.Position = "top"
			return o
		}(),
		spec("ovr-blank", protocol.LevelWarning, protocol.PresentBlank, hcm(d, 11, 0, 0), hcm(d, 11, 0, 0), hcm(d, 11, 5, 0), true),
		spec("ovr-slate", protocol.LevelWarning, protocol.PresentSlate, hcm(d, 12, 0, 0), hcm(d, 12, 0, 0), hcm(d, 12, 5, 0), true),
		// Not for this display, and of another organisation: never shown.
		func() protocol.OverrideSpec {
			o := spec("ovr-other-display", protocol.LevelCritical, protocol.PresentFullscreen, hcm(d, 9, 0, 0), hcm(d, 9, 0, 0), hcm(d, 13, 0, 0), true)
			o.DisplayIDs = []string{"d-elsewhere"}
			return o
		}(),
		func() protocol.OverrideSpec {
			o := spec("ovr-other-org", protocol.LevelCritical, protocol.PresentFullscreen, hcm(d, 9, 0, 0), hcm(d, 9, 0, 0), hcm(d, 13, 0, 0), true)
			o.OrgID, o.AllDisplays, o.DisplayIDs = "org-elsewhere", true, nil
			return o
		}(),
	}
	ordering := []protocol.OverrideSpec{
		spec("ovr-a-info", protocol.LevelInfo, protocol.PresentBanner, hcm(d, 14, 0, 0), hcm(d, 14, 0, 0), hcm(d, 15, 0, 0), false),
		spec("ovr-b-warning", protocol.LevelWarning, protocol.PresentBanner, hcm(d, 14, 1, 0), hcm(d, 14, 1, 0), hcm(d, 15, 0, 0), false),
		spec("ovr-c-warning", protocol.LevelWarning, protocol.PresentFullscreen, hcm(d, 14, 2, 0), hcm(d, 14, 2, 0), hcm(d, 14, 20, 0), false),
		// Issued at the same instant as c: the greater id wins.
		spec("ovr-d-warning", protocol.LevelWarning, protocol.PresentBanner, hcm(d, 14, 2, 0), hcm(d, 14, 3, 0), hcm(d, 14, 10, 0), false),
		// Issued before all of them, starting later: its level wins while in force.
		spec("ovr-e-critical", protocol.LevelCritical, protocol.PresentBlank, hcm(d, 13, 59, 0), hcm(d, 14, 5, 0), hcm(d, 14, 7, 30), false),
	}
	wake := []protocol.OverrideSpec{
		// Outside hours (22:00–07:00): only overrides with wake show.
		spec("ovr-night-critical", protocol.LevelCritical, protocol.PresentFullscreen, hcm(d, 23, 0, 0), hcm(d, 23, 0, 0), hcm(d+1, 0, 0, 0), true),
		// Outranks the night warning but does not wake: shown only when the hours begin.
		spec("ovr-morning-critical", protocol.LevelCritical, protocol.PresentFullscreen, hcm(d+1, 5, 0, 0), hcm(d+1, 5, 0, 0), hcm(d+1, 7, 10, 0), false),
		spec("ovr-night-warning", protocol.LevelWarning, protocol.PresentBanner, hcm(d+1, 4, 0, 0), hcm(d+1, 4, 0, 0), hcm(d+1, 8, 0, 0), true),
	}
	at := func(ts ...time.Time) []ovrAt {
		out := make([]ovrAt, len(ts))
		for i, t := range ts {
			out[i].T = t
		}
		return out
	}
	return map[string]ovrVector{
		"presentations": {Name: "presentations",
			Description: "A critical fullscreen over a two-zone layout (09:00–09:10), a top banner over it (10:00–10:30: the zones stay visible), a blank kill switch (11:00–11:05) and a slate (12:00–12:05); overrides for another display and another organisation are never shown. When each ends the program shows what its loop has reached: it ran on underneath.",
			Overrides:   presentations,
			At: at(hcm(d, 8, 59, 59), hcm(d, 9, 0, 0), hcm(d, 9, 4, 30), hcm(d, 9, 9, 59), hcm(d, 9, 10, 0),
				hcm(d, 10, 0, 0), hcm(d, 10, 15, 0), hcm(d, 10, 30, 0),
				hcm(d, 11, 0, 0), hcm(d, 11, 4, 59), hcm(d, 11, 5, 0), hcm(d, 12, 2, 0), hcm(d, 12, 5, 0), hcm(d, 12, 30, 0))},
		"ordering": {Name: "ordering",
			Description: "Several overrides in force at once: the highest level shows, then the newest issued_at, then the greater id; a critical issued first but starting later takes over while in force; when the top one expires the next in rank shows again.",
			Overrides:   ordering,
			At: at(hcm(d, 13, 59, 59), hcm(d, 14, 0, 0), hcm(d, 14, 1, 0), hcm(d, 14, 2, 0), hcm(d, 14, 3, 0), hcm(d, 14, 5, 0),
				hcm(d, 14, 7, 29), hcm(d, 14, 7, 30), hcm(d, 14, 10, 0), hcm(d, 14, 20, 0), hcm(d, 14, 59, 59), hcm(d, 15, 0, 0))},
		"wake": {Name: "wake",
			Description: "Outside operating hours (07:00–22:00) only overrides with wake show, and the program stays off underneath; a higher-ranked override without wake yields to a lower one with it until the hours begin at 07:00, and then outranks it; when the overrides end the screen shows what the program says (off at night, its loop by day).",
			Overrides:   wake,
			At: at(hcm(d, 22, 59, 59), hcm(d, 23, 0, 0), hcm(d, 23, 59, 59), hcm(d+1, 0, 0, 0), hcm(d+1, 4, 0, 0), hcm(d+1, 5, 0, 0),
				hcm(d+1, 6, 59, 59), hcm(d+1, 7, 0, 0), hcm(d+1, 7, 10, 0), hcm(d+1, 8, 0, 0))},
	}
}

// evalOverrides fills in what the display shows at each instant.
func evalOverrides(t testing.TB, prog *playlists.Program, orgID string, overrides []protocol.OverrideSpec, at []ovrAt) []ovrAt {
	t.Helper()
	if err := prog.Validate(); err != nil {
		t.Fatalf("program: %v", err)
	}
	var addressed []protocol.OverrideSpec
	for _, o := range overrides {
		if err := o.Check(); err != nil {
			t.Fatalf("override %s: %v", o.ID, err)
		}
		if o.For(orgID, prog.Display.ID) {
			addressed = append(addressed, o)
		}
	}
	out := make([]ovrAt, len(at))
	for i, a := range at {
		now := playlists.At(prog, a.T, playlists.Options{})
		r := ovrAt{T: a.T, Program: ovrProgram{Off: now.Off, LayoutID: now.LayoutID, Zones: []ovrZoneAt{}}, Next: now.Next.UTC()}
		for _, z := range now.Zones {
			zr := ovrZoneAt{Zone: z.Zone, Start: z.Start.UTC(), End: z.End.UTC()}
			if z.Item != nil {
				zr.ItemID = z.Item.ID
			}
			r.Program.Zones = append(r.Program.Zones, zr)
		}
		o, ok := protocol.Shown(addressed, a.T, now.Off)
		r.Visible = !now.Off && (!ok || !o.Covers())
		if ok {
			r.Override = &ovrShown{ID: o.ID, Level: o.Level, Presentation: o.Presentation, Position: o.Position}
		}
		for _, x := range addressed {
			for _, c := range []time.Time{x.StartsAt, x.ExpiresAt} {
				if c.After(a.T) && (r.Next.IsZero() || c.Before(r.Next)) {
					r.Next = c
				}
			}
		}
		out[i] = r
	}
	return out
}

func overrideVectors(t testing.TB) map[string][]byte {
	files := map[string][]byte{}
	for name, v := range overrideVectorInputs() {
		prog := ovrProgramValue()
		raw, err := json.Marshal(prog)
		if err != nil {
			t.Fatal(err)
		}
		v.OrgID, v.Program = ovrOrg, raw
		v.At = evalOverrides(t, prog, ovrOrg, v.Overrides, v.At)
		files[name+".json"] = indentJSON(t, v)
	}
	return files
}

func TestOverrideVectorsBuild(t *testing.T) {
	files := overrideVectors(t)
	for name, want := range files {
		path := filepath.Join("testdata", "overrides", name)
		if *update {
			if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, want, 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		got, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("%v (go test ./protocol/ -run TestOverrideVectorsBuild -update)", err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s differs from what the Go implementation computes (regenerate with -update)", path)
		}
	}
	fs, _ := filepath.Glob(filepath.Join("testdata", "overrides", "*.json"))
	for _, f := range fs {
		if files[filepath.Base(f)] == nil {
			t.Errorf("%s is not generated by TestOverrideVectorsBuild", f)
		}
	}
}

// Each file, as a third party reads it: the program and the overrides
// decoded from the file, evaluated at every instant, give the file's answers;
// and the vectors cover what docs/evaluation.md §15 names.
func TestOverrideVectorsAsRead(t *testing.T) {
	fs, _ := filepath.Glob(filepath.Join("testdata", "overrides", "*.json"))
	if len(fs) < 3 {
		t.Fatalf("%d override vectors", len(fs))
	}
	seen := map[string]bool{}
	for _, f := range fs {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var v ovrVector
		if err := json.Unmarshal(raw, &v); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		var prog playlists.Program
		if err := json.Unmarshal(v.Program, &prog); err != nil {
			t.Fatalf("%s: program: %v", f, err)
		}
		got := evalOverrides(t, &prog, v.OrgID, v.Overrides, v.At)
		for i := range v.At {
			if !reflect.DeepEqual(got[i], v.At[i]) {
				g, _ := json.Marshal(got[i])
				w, _ := json.Marshal(v.At[i])
				t.Errorf("%s at %s:\n got %s\nwant %s", filepath.Base(f), v.At[i].T.Format(time.RFC3339), g, w)
			}
			a := v.At[i]
			switch {
			case a.Override == nil:
				seen["none"] = true
			case a.Program.Off:
				seen["woken"] = true
			case a.Visible:
				seen["banner over the program"] = true
			default:
				seen[a.Override.Presentation+" covering the program"] = true
			}
			if a.Override != nil && len(a.Program.Zones) > 1 {
				seen["over zones"] = true
			}
		}
	}
	for _, want := range []string{"none", "woken", "banner over the program", "fullscreen covering the program", "blank covering the program", "slate covering the program", "over zones"} {
		if !seen[want] {
			t.Errorf("no instant with %s", want)
		}
	}
	if !slices.Contains(protocol.KnownTypes, protocol.TypeOverride) {
		t.Error("override is not a known type")
	}
}
