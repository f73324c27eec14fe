package cap

import (
	"os"
	"path/filepath"
	"testing"
)

// findSharedDir finds shared/testdata/cap beside the repository (the
// directory holding go.mod), or beside one of its parents (a git worktree
// sits deeper). "" when absent. The files are read in place, never copied
// into the repository.
func findSharedDir() string {
	dir, err := os.Getwd()
	if err != nil {
		return ""
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			break
		}
		if filepath.Dir(dir) == dir {
			return ""
		}
		dir = filepath.Dir(dir)
	}
	for up := filepath.Dir(dir); ; up = filepath.Dir(up) {
		d := filepath.Join(up, "shared", "testdata", "cap")
		if _, err := os.Stat(d); err == nil {
			return d
		}
		if filepath.Dir(up) == up {
			return ""
		}
	}
}

// sharedDir is findSharedDir, skipping the test when the data is absent.
func sharedDir(t testing.TB) string {
	t.Helper()
	d := findSharedDir()
	if d == "" {
		t.Skip("shared/testdata/cap not found beside the repository: skipping the tests on real CAP messages")
	}
	return d
}

func readFile(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func mustParse(t testing.TB, data []byte) *Alert {
	t.Helper()
	a, err := Parse(data, Options{})
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	return a
}

func mustRefuse(t testing.TB, data []byte, code string) *RefusedError {
	t.Helper()
	a, err := Parse(data, Options{})
	if err == nil {
		t.Fatalf("Parse accepted %+v; want refusal %s", a, code)
	}
	r, ok := Refusal(err)
	if !ok {
		t.Fatalf("Parse error %v is not a RefusedError", err)
	}
	if r.Code != code {
		t.Fatalf("refusal code %q (%s); want %q", r.Code, r.Reason, code)
	}
	return r
}
