package journal

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"beacon/protocol"
)

var t0 = time.Date(2026, 3, 2, 8, 0, 0, 0, time.UTC)

func play(i int) protocol.PlayRecord {
	return protocol.PlayRecord{
		Zone: "main", ItemID: fmt.Sprintf("it-%d", i), SHA256: strings.Repeat("a", 64), ScheduleID: "sch-1",
		Start: t0.Add(time.Duration(i) * 10 * time.Second), End: t0.Add(time.Duration(i+1) * 10 * time.Second),
	}
}

func ids(rs []protocol.PlayRecord) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = r.ID
	}
	return out
}

func mustOpen(t *testing.T, path string) *Journal {
	t.Helper()
	j, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { j.Close() })
	return j
}

func TestAppendAckCompact(t *testing.T) {
	path := filepath.Join(t.TempDir(), "plays.jsonl")
	j := mustOpen(t, path)
	var all []protocol.PlayRecord
	for i := range 5 {
		r, err := j.Append(play(i))
		if err != nil {
			t.Fatal(err)
		}
		if r.ID != fmt.Sprintf("%s-%06d", j.Boot(), i+1) {
			t.Errorf("id %q", r.ID)
		}
		all = append(all, r)
	}
	if got := j.Pending(3); len(got) != 3 || got[0].ID != all[0].ID || got[2].ID != all[2].ID {
		t.Fatalf("Pending(3) = %v", ids(got))
	}
	if err := j.Ack(ids(all[:2])); err != nil {
		t.Fatal(err)
	}
	if err := j.Ack(ids(all[:2])); err != nil { // a repeated ack changes nothing
		t.Fatal(err)
	}
	if got := j.Pending(0); len(got) != 3 || got[0].ID != all[2].ID {
		t.Fatalf("after ack: %v", ids(got))
	}
	if err := j.Compact(); err != nil {
		t.Fatal(err)
	}
	raw, _ := os.ReadFile(path)
	if n := strings.Count(string(raw), "\n"); n != 3 || strings.Contains(string(raw), `"ack"`) {
		t.Errorf("compacted file has %d lines:\n%s", n, raw)
	}
	// Appending after compaction goes to the new file.
	r, err := j.Append(play(9))
	if err != nil {
		t.Fatal(err)
	}
	j.Close()
	j2 := mustOpen(t, path)
	if got := ids(j2.Pending(0)); strings.Join(got, ",") != strings.Join(append(ids(all[2:]), r.ID), ",") {
		t.Errorf("reloaded %v", got)
	}
	// Everything acknowledged: the file is rewritten empty.
	if err := j2.Ack(ids(j2.Pending(0))); err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Stat(path); fi.Size() != 0 || j2.Len() != 0 {
		t.Errorf("size %d, pending %d after acking everything", fi.Size(), j2.Len())
	}
}

func TestRestartKeepsUnacked(t *testing.T) {
	path := filepath.Join(t.TempDir(), "plays.jsonl")
	j := mustOpen(t, path)
	var sent []protocol.PlayRecord
	for i := range 4 {
		r, _ := j.Append(play(i))
		sent = append(sent, r)
	}
	_ = j.Ack([]string{sent[1].ID})
	// No Close: as if the process were killed (every line is synced).
	j2 := mustOpen(t, path)
	got := j2.Pending(0)
	want := []protocol.PlayRecord{sent[0], sent[2], sent[3]}
	if len(got) != len(want) {
		t.Fatalf("reloaded %v", ids(got))
	}
	for i := range want {
		if got[i].ID != want[i].ID || got[i].ItemID != want[i].ItemID || !got[i].Start.Equal(want[i].Start) || !got[i].End.Equal(want[i].End) {
			t.Errorf("record %d: %+v, want %+v", i, got[i], want[i])
		}
	}
	// New IDs never collide with the old ones.
	if j2.Boot() == j.Boot() {
		t.Fatal("same boot id twice")
	}
	r, _ := j2.Append(play(7))
	for _, old := range sent {
		if old.ID == r.ID {
			t.Fatalf("id %s reused", r.ID)
		}
	}
}

func TestTornLastLineIgnored(t *testing.T) {
	path := filepath.Join(t.TempDir(), "plays.jsonl")
	j := mustOpen(t, path)
	a, _ := j.Append(play(0))
	b, _ := j.Append(play(1))
	j.Close()
	// A crash in the middle of the next write.
	f, _ := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	f.WriteString(`{"play":{"id":"x-000003","zone":"main","item_id":"it-2","sta`)
	f.Close()

	j2 := mustOpen(t, path)
	if got := ids(j2.Pending(0)); len(got) != 2 || got[0] != a.ID || got[1] != b.ID {
		t.Fatalf("pending after torn line: %v", got)
	}
	if j2.Damaged() != 1 {
		t.Errorf("damaged = %d", j2.Damaged())
	}
	// The next record starts on its own line and survives another restart.
	c, err := j2.Append(play(2))
	if err != nil {
		t.Fatal(err)
	}
	j2.Close()
	j3 := mustOpen(t, path)
	if got := ids(j3.Pending(0)); len(got) != 3 || got[2] != c.ID {
		t.Fatalf("pending after append behind a torn line: %v", got)
	}
}

func TestNoDuplicatesAcrossResends(t *testing.T) {
	path := filepath.Join(t.TempDir(), "plays.jsonl")
	j := mustOpen(t, path)
	for i := range 10 {
		j.Append(play(i))
	}
	first := ids(j.Pending(4))
	// The batch is "lost" (no ack); a resend carries the same IDs.
	if again := ids(j.Pending(4)); strings.Join(again, ",") != strings.Join(first, ",") {
		t.Fatalf("resend ids %v, first %v", again, first)
	}
	// After a restart too.
	j.Close()
	j = mustOpen(t, path)
	if again := ids(j.Pending(4)); strings.Join(again, ",") != strings.Join(first, ",") {
		t.Fatalf("ids after restart %v, first %v", again, first)
	}
	_ = j.Ack(first)
	seen := map[string]bool{}
	for _, id := range first {
		seen[id] = true
	}
	for _, r := range j.Pending(0) {
		if seen[r.ID] {
			t.Fatalf("acknowledged %s still pending", r.ID)
		}
		seen[r.ID] = true
	}
	if len(seen) != 10 {
		t.Errorf("%d distinct ids, want 10", len(seen))
	}
}

func TestCompactionThreshold(t *testing.T) {
	path := filepath.Join(t.TempDir(), "plays.jsonl")
	j := mustOpen(t, path)
	for i := range compactAfter + 10 {
		r, err := j.Append(play(i))
		if err != nil {
			t.Fatal(err)
		}
		if i%2 == 0 {
			if err := j.Ack([]string{r.ID}); err != nil {
				t.Fatal(err)
			}
		}
	}
	raw, _ := os.ReadFile(path)
	lines := strings.Count(string(raw), "\n")
	if lines >= compactAfter*2 {
		t.Errorf("journal never compacted: %d lines", lines)
	}
	j.Close()
	j2 := mustOpen(t, path)
	if j2.Len() != (compactAfter+10)/2 {
		t.Errorf("pending %d after compactions, want %d", j2.Len(), (compactAfter+10)/2)
	}
}
