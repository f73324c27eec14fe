package playlists

import (
	"fmt"
	"testing"
)

// TestShuffleSpec pins the shuffle of docs/evaluation.md: the seed is
// FNV-1a 64 of "display|date|playlist", the order a Fisher–Yates pass
// driven by SplitMix64. The numbers are the worked example of the doc.
func TestShuffleSpec(t *testing.T) {
	seed := shuffleSeed("d-7f3a9c", "2026-09-01", "SHUF")
	if got := fmt.Sprintf("%016x", seed); got != "4e89a7a9ee935339" {
		t.Errorf("seed %s", got)
	}
	es := []Entry{{ItemID: "a"}, {ItemID: "b"}, {ItemID: "c"}, {ItemID: "d"}, {ItemID: "e"}}
	var got []string
	for _, e := range shuffled(es, seed) {
		got = append(got, e.ItemID)
	}
	if fmt.Sprint(got) != "[b e a d c]" {
		t.Errorf("order %v", got)
	}
	seed2 := shuffleSeed("d-7f3a9c", "2026-09-02", "SHUF")
	got = nil
	for _, e := range shuffled(es, seed2) {
		got = append(got, e.ItemID)
	}
	if fmt.Sprintf("%016x %v", seed2, got) != "1c299955da3a1ca6 [d c a b e]" {
		t.Errorf("day 2: %016x %v", seed2, got)
	}
}
