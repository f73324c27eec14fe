package e2e_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"beacon/player/playertest"
)

// The shipped binaries: `beacon conformance player` judges a real
// `beacon-player` process (with a renderer that paints at once), reading
// its status and changing a file in its cache, and exits 0 with every
// check passed.
func TestConformanceKitOnPlayerBinary(t *testing.T) {
	beacon, beaconPlayer := buildBinaries(t)
	kitAddr, playerAddr := freeAddr(t), freeAddr(t)
	data := t.TempDir()
	kit := start(t, beacon, "conformance", "player", "--listen", kitAddr, "--step-timeout", "30s", "--play-window", "8s",
		"--player-status", "http://"+playerAddr+"/status", "--player-data", data)
	start(t, beaconPlayer, "--server", "http://"+kitAddr, "--data", data, "--listen", playerAddr, "--heartbeat", "250ms")
	waitHTTP(t, "http://"+playerAddr+"/status")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	r, err := playertest.DialRenderer(ctx, playerAddr)
	if err != nil {
		t.Fatalf("renderer: %v", err)
	}
	defer r.Close()
	done := make(chan error, 1)
	go func() { done <- kit.cmd.Wait() }()
	select {
	case err = <-done:
	case <-time.After(5 * time.Minute):
		t.Fatal("the kit did not finish within 5 minutes")
	}
	out := kit.out.String()
	t.Logf("beacon conformance player:\n%s", out)
	if err != nil {
		t.Fatalf("the kit exited with %v", err)
	}
	if !strings.Contains(out, " 0 failed") {
		t.Fatal("the report does not say 0 failed")
	}
	if strings.Contains(out, "SKIP  ") && !strings.Contains(out, "capabilities: none") {
		t.Fatal("a check was skipped")
	}
}
