package main

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
)

// beacon-player reset removes the pairing state and keeps the key and cache.
func TestResetCommand(t *testing.T) {
	dir := t.TempDir()
	for _, name := range []string{"player.key", "state.json", "manifest.json", "incidents.json", "cache/ab/abcd"} {
		path := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if rc := reset([]string{"--data", dir}); rc != 0 {
		t.Fatalf("reset: exit %d", rc)
	}
	for _, gone := range []string{"state.json", "manifest.json", "incidents.json"} {
		if _, err := os.Stat(filepath.Join(dir, gone)); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("%s survived reset: %v", gone, err)
		}
	}
	for _, kept := range []string{"player.key", "cache/ab/abcd"} {
		if _, err := os.Stat(filepath.Join(dir, kept)); err != nil {
			t.Errorf("%s removed by reset: %v", kept, err)
		}
	}
	if rc := reset([]string{"--data", dir}); rc != 0 {
		t.Errorf("second reset: exit %d", rc)
	}
	if rc := reset([]string{"--data", filepath.Join(dir, "nope")}); rc != 1 {
		t.Errorf("reset of a missing directory: exit %d, want 1", rc)
	}
	if rc := reset([]string{"extra"}); rc != 2 {
		t.Errorf("reset with an argument: exit %d, want 2", rc)
	}
}
