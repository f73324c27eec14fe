package conformance_test

import (
	"bytes"
	"context"
	"log/slog"
	"slices"
	"testing"
	"time"

	"beacon/conformance"
	"beacon/player"
	"beacon/player/playertest"
	"beacon/protocol"
)

// testOptions keep a run short: the players under test heartbeat every
// 200 ms and reconnect within 200 ms.
func testOptions() conformance.Options {
	return conformance.Options{StepTimeout: 20 * time.Second, PlayWindow: 8 * time.Second, Tolerance: time.Second}
}

func startKit(t *testing.T, opts conformance.Options) *conformance.Kit {
	t.Helper()
	kit, err := conformance.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { kit.Close() })
	return kit
}

func runKit(t *testing.T, kit *conformance.Kit) conformance.Report {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	rep := kit.Run(ctx)
	var buf bytes.Buffer
	rep.Write(&buf)
	t.Logf("report:\n%s", buf.String())
	return rep
}

// The reference player passes the kit. The override scenario runs when
// the player announces the capability, and is skipped otherwise.
func TestReferencePlayerConforms(t *testing.T) {
	t.Parallel()
	kit := startKit(t, testOptions())
	dir := t.TempDir()
	p, err := player.New(player.Config{
		ServerURL:      kit.URL(),
		DataDir:        dir,
		Listen:         "127.0.0.1:0",
		HeartbeatEvery: 200 * time.Millisecond,
		BackoffBase:    20 * time.Millisecond,
		BackoffMax:     200 * time.Millisecond,
		Logger:         slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn})),
		Version:        "conformance-test",
	})
	if err != nil {
		t.Fatal(err)
	}
	// The kit may read the player's status and change a file in its cache.
	kit.SetPlayer("http://"+p.Addr()+"/status", dir)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	defer func() {
		cancel()
		<-done
	}()
	// A renderer that paints at once, as the page in Chromium does: the
	// player journals only what a renderer reported painted.
	var r *playertest.Renderer
	deadline := time.Now().Add(10 * time.Second)
	for {
		r, err = playertest.DialRenderer(ctx, p.Addr())
		if err == nil || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("renderer: %v", err)
	}
	defer r.Close()

	rep := runKit(t, kit)
	if rep.Failed() {
		t.Fatal("the reference player failed the conformance kit")
	}
	// Every scenario ran on it: nothing is skipped but for a reason the
	// reference player does not give (a capability it lacks).
	for _, res := range rep.Results {
		if res.Status == conformance.Skip && res.Scenario != "overrides" {
			t.Errorf("%s / %s skipped: %s", res.Scenario, res.Check, res.Reason)
		}
	}
	res, _ := rep.Find("overrides", "a signed override")
	if slices.Contains(rep.Capabilities, protocol.CapOverride) {
		if res.Status != conformance.Pass {
			t.Fatalf("overrides announced but not passed: %+v", res)
		}
	} else if res.Status != conformance.Skip {
		t.Fatalf("overrides not announced, want skipped: %+v", res)
	}
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(b []byte) (int, error) {
	w.t.Log(string(bytes.TrimRight(b, "\n")))
	return len(b), nil
}
