package main

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"io"
	"os"
	"os/exec"
	"regexp"
	"sync"
	"testing"
	"time"

	"beacon/protocol"
)

// The fan-out benchmark's whole path (a `beacon serve` subprocess, player
// processes doing the real handshake, overrides through the API, acks) on
// 50 players, so that it cannot rot. Nothing here is timed: `make bench`
// reports the figures. The server and the players are this test binary
// run as `beacon` (BEACON_TEST_RUN_MAIN).
func TestBenchFanoutSmall(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a server and player processes")
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	// Both kinds of simulated players: event loops (the default) and a
	// goroutine per player.
	for _, goroutines := range []bool{false, true} {
		var log bytes.Buffer
		res, err := runFanout(fanoutConfig{Overrides: 2, Goroutines: goroutines, benchProcs: testProcs(exe, 50, &log)})
		if err != nil {
			t.Fatalf("goroutines %v: %v\n%s", goroutines, err, log.String())
		}
		if len(res.Latencies) != 100 || res.Missing != 0 || res.Bad != 0 || res.Lost != 0 {
			t.Fatalf("goroutines %v: %d receipts for 50 players × 2 overrides (missing %d, bad %d, lost %d)\n%s",
				goroutines, len(res.Latencies), res.Missing, res.Bad, res.Lost, log.String())
		}
		if res.P50 <= 0 || res.P50 > res.P99 || res.P99 > res.Max || res.RSSBefore <= 0 || res.RSSAfter <= 0 {
			t.Fatalf("goroutines %v: figures: %+v", goroutines, res)
		}
		line := res.line()
		if !regexp.MustCompile(`^fanout players=50 servers=1 p50_ms=[0-9.]+ p99_ms=[0-9.]+ max_ms=[0-9.]+ kb_per_player=-?[0-9.]+$`).MatchString(line) {
			t.Fatalf("result line %q", line)
		}
		t.Logf("goroutines %v: %s", goroutines, line)
	}
}

// A frame that does not verify with the server's key is refused by the
// simulated players (and counted), not taken for a receipt.
func TestFanoutVerifierRefusesAForgedOverride(t *testing.T) {
	pub, priv := testKeys(t)
	_, other := testKeys(t)
	so := signedTestOverride(t, priv)
	v := &verifier{key: pub, seen: map[string]verified{}}
	for range 2 { // the second time from the memo
		if _, err := v.verify(so); err != nil {
			t.Fatalf("a good override: %v", err)
		}
	}
	forged := signedTestOverride(t, other)
	forged.KeyID = so.KeyID
	for range 2 {
		if _, err := v.verify(forged); err == nil {
			t.Fatal("an override signed with another key verified")
		}
	}
	tampered := so
	tampered.Payload = bytes.Replace(append([]byte(nil), so.Payload...), []byte(`"critical"`), []byte(`"info"`), 1)
	if _, err := v.verify(tampered); err == nil {
		t.Fatal("a changed payload verified")
	}
}

// TestMain runs the test binary as the beacon command when the fan-out
// test starts it as its server or player processes.
func TestMain(m *testing.M) {
	if os.Getenv("BEACON_TEST_RUN_MAIN") == "1" {
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// testProcs runs a small bench with this test binary as `beacon` (server
// and two client processes), logging into log.
func testProcs(exe string, players int, log *bytes.Buffer) benchProcs {
	return benchProcs{Players: players, Procs: 2, Spacing: 100 * time.Millisecond, Timeout: 2 * time.Minute,
		Log: &syncWriter{w: log},
		Command: func(args ...string) *exec.Cmd {
			c := exec.Command(exe, args...)
			c.Env = append(os.Environ(), "BEACON_TEST_RUN_MAIN=1")
			return c
		}}
}

type syncWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}

func testKeys(t *testing.T) (ed25519.PublicKey, ed25519.PrivateKey) {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return pub, priv
}

func signedTestOverride(t *testing.T, priv ed25519.PrivateKey) protocol.SignedOverride {
	t.Helper()
	now := time.Now().UTC()
	so, err := protocol.SignOverride(priv, protocol.OverrideSpec{ID: "ovr_test", Revision: 1, Level: protocol.LevelCritical,
		Presentation: protocol.PresentFullscreen, Texts: map[string]string{"en": "EMERGENCY"}, StartsAt: now, ExpiresAt: now.Add(time.Hour),
		IssuedAt: now, OrgID: "org_test", AllDisplays: true})
	if err != nil {
		t.Fatal(err)
	}
	return so
}
