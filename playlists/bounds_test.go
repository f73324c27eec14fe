package playlists

import (
	"strings"
	"testing"
)

// A duration under MinDurationS is refused, for items and entries alike:
// a month of 1 ms items was 1.6 billion plays.
func TestValidateMinimumDurations(t *testing.T) {
	for _, c := range []struct {
		name string
		edit func(p *Program)
		want string
	}{
		{"item", func(p *Program) { p.Items[0].DurationS = 0.001 }, `item "a": duration_s 0.001`},
		{"entry", func(p *Program) { p.Playlists[0].Entries[0].DurationS = 0.5 }, `playlist "P1" entry 0: duration_s 0.5`},
		{"refresh", func(p *Program) { p.Items[0].RefreshS = 0.1 }, `item "a": refresh_s 0.1`},
		{"too long", func(p *Program) { p.Items[0].DurationS = MaxDurationS + 1 }, `item "a": duration_s 86401`},
	} {
		p := base()
		c.edit(p)
		err := p.Validate()
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: got %v, want %q", c.name, err, c.want)
		}
	}
	p := base()
	p.Items[0].DurationS = MinDurationS
	if err := p.Validate(); err != nil {
		t.Fatalf("1 s item refused: %v", err)
	}
}

// A media file shorter than MinDurationS plays for MinDurationS, on the
// server and the player alike (both evaluate with this package).
func TestShortNaturalLengthPlaysForTheMinimum(t *testing.T) {
	p := base()
	p.Items = append(p.Items, Item{ID: "v", Kind: KindVideo, NaturalS: 0.04, DefaultLang: "vi", Variants: map[string]Variant{"vi": {SHA256: "sha-v"}}})
	p.Playlists = []Playlist{pl("P1", "v")}
	p.Default = &Content{PlaylistID: "P1"}
	if err := p.Validate(); err != nil {
		t.Fatal(err)
	}
	from := at(hcm, 2026, 9, 1, 8, 0, 0)
	tl := Compile(p).Timeline(from, from.Add(10e9), Options{})
	if len(tl) != 10 {
		t.Fatalf("10 s of a 40 ms video: %d plays, want 10 of 1 s", len(tl))
	}
	for _, pl := range tl {
		if d := pl.End.Sub(pl.Start); d.Seconds() != MinDurationS {
			t.Fatalf("play of %v", d)
		}
	}
}

// Evaluating a Program keeps nothing behind its back: the functions
// compile afresh, so a Program edited in place is evaluated as it now is
// (the old hidden cache, keyed by the Program's address, answered for the
// Program as it was), and a Compiled is the caller's to keep or drop.
func TestNoHiddenCache(t *testing.T) {
	p := base()
	p.Default = &Content{PlaylistID: "P1"}
	t0 := at(hcm, 2026, 9, 1, 7, 0, 15) // a (10 s) then b
	if got := zoneItem(At(p, t0, Options{}), MainZone); got != "b" {
		t.Fatalf("before: %s", got)
	}
	kept := Compile(p)
	p.Items[0].DurationS = 20 // in place: a now lasts 20 s
	if got := zoneItem(At(p, t0, Options{}), MainZone); got != "a" {
		t.Fatalf("after an in-place edit: %s, want a", got)
	}
	if got := zoneItem(Compile(p).At(t0, Options{}), MainZone); got != "a" {
		t.Fatalf("compiled after the edit: %s, want a", got)
	}
	if kept.Program() != p {
		t.Fatal("Program() is not the compiled Program")
	}
}
