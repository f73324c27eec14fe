package main

import (
	"bytes"
	"encoding/json"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"
)

// The baseline of the fan-out benchmark (a plain fiber + contrib/websocket
// broadcast server and gorilla clients, each in its own process) on 40
// clients, so that it cannot rot; nothing is timed here.
func TestBenchBroadcastSmall(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a server and client processes")
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	var log bytes.Buffer
	res, err := runBroadcast(broadcastConfig{Messages: 3, benchProcs: testProcs(exe, 40, &log)})
	if err != nil {
		t.Fatalf("%v\n%s", err, log.String())
	}
	if len(res.OneWay) != 120 || res.Missing != 0 || res.Lost != 0 {
		t.Fatalf("%d receipts for 40 clients × 3 messages (missing %d, lost %d)\n%s", len(res.OneWay), res.Missing, res.Lost, log.String())
	}
	if res.P50 <= 0 || res.P50 > res.P99 || res.P99 > res.Max {
		t.Fatalf("figures: %+v", res)
	}
	if got := strings.Count(log.String(), "to 40 connections: 40/40 read"); got != 3 {
		t.Fatalf("%d broadcasts reached all 40 clients, want 3\n%s", got, log.String())
	}
	line := res.line()
	if !regexp.MustCompile(`^broadcast players=40 p50_ms=[0-9.]+ p99_ms=[0-9.]+ max_ms=[0-9.]+ kb_per_conn=-?[0-9.]+$`).MatchString(line) {
		t.Fatalf("result line %q", line)
	}
	t.Log(line)
}

// The baseline's message is valid JSON of exactly the asked size, and
// carries its id.
func TestBroadcastMessage(t *testing.T) {
	for _, size := range []int{64, broadcastFrameBytes, 4096} {
		b := broadcastMessage("msg12", size)
		if len(b) != size {
			t.Fatalf("size %d: %d bytes", size, len(b))
		}
		var m struct{ Type, ID string }
		if err := json.Unmarshal(b, &m); err != nil || m.ID != "msg12" || m.Type != "broadcast" {
			t.Fatalf("size %d: %v %+v", size, err, m)
		}
	}
}

// The ratios line names Beacon's figures against the baseline's.
func TestBaselineRatios(t *testing.T) {
	res := fanoutResult{P99: 300 * time.Millisecond, KBPerPlayer: 18, OneWay: []time.Duration{100 * time.Millisecond, 240 * time.Millisecond}}
	base := broadcastResult{P99: 200 * time.Millisecond, KBPerConn: 15}
	got := baselineRatios(res, base)
	for _, want := range []string{"one way p99 200.0 ms", "painted ack p99 1.50×", "one way p99 1.20×", "idle player 1.20×"} {
		if !strings.Contains(got, want) {
			t.Fatalf("%q lacks %q", got, want)
		}
	}
}
