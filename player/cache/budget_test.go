package cache

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

// put places a verified file in the cache directly.
func put(t *testing.T, c *Cache, data []byte) string {
	t.Helper()
	sha := HashBytes(data)
	if err := os.MkdirAll(filepath.Dir(c.Path(sha)), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(c.Path(sha), data, 0o644); err != nil {
		t.Fatal(err)
	}
	return sha
}

func TestTrimLeastRecentlyNeeded(t *testing.T) {
	dir := t.TempDir()
	c, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	a := put(t, c, make([]byte, 100))
	b := put(t, c, append(make([]byte, 99), 1))
	d := put(t, c, append(make([]byte, 99), 2))
	kept := put(t, c, append(make([]byte, 99), 3))
	never := put(t, c, append(make([]byte, 99), 4)) // never recorded as needed
	must(t, c.Touch(t0, a))
	must(t, c.Touch(t0.Add(2*time.Minute), b))
	must(t, c.Touch(t0.Add(time.Minute), d))
	must(t, c.Touch(t0, kept))
	partial := c.PartialPath(HashBytes([]byte("partial")))
	must(t, os.WriteFile(partial, []byte("half"), 0o644))

	// Reopened: the index is on disk.
	c, err = Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	keep := map[string]bool{kept: true}
	// Within budget: only the stray partial goes.
	if n, err := c.Trim(keep, 500); err != nil || n != 1 {
		t.Fatalf("Trim within budget: %d, %v", n, err)
	}
	if _, err := os.Stat(partial); !os.IsNotExist(err) {
		t.Errorf("partial download kept: %v", err)
	}
	// 300 bytes: never-needed first, then a (oldest).
	if n, err := c.Trim(keep, 300); err != nil || n != 2 {
		t.Fatalf("Trim to 300: %d, %v", n, err)
	}
	for sha, want := range map[string]bool{never: false, a: false, d: true, b: true, kept: true} {
		if c.Has(sha) != want {
			t.Errorf("%s: has %v, want %v", sha[:8], !want, want)
		}
	}
	// Used (in memory) counts as needed, and is saved by the next Trim.
	c.Used(t0.Add(time.Hour), d)
	if n, err := c.Trim(keep, 200); err != nil || n != 1 || c.Has(b) || !c.Has(d) {
		t.Fatalf("Trim to 200: %d, %v; b %v d %v", n, err, c.Has(b), c.Has(d))
	}
	// Kept files stay even over budget.
	if _, err := c.Trim(keep, 0); err != nil || !c.Has(kept) || c.Has(d) {
		t.Fatalf("Trim to 0: %v; kept %v", err, c.Has(kept))
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
