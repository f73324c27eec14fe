package consoletest

import (
	"context"
	"log/slog"
	"os"
	"testing"
	"time"

	"beacon/player"
)

// Player is a real beacon-player running in the test process against the
// server, with its own data directory; it shows a pairing code until a
// display is claimed with it.
type Player struct {
	*player.Player
	t      testing.TB
	cancel context.CancelFunc
	done   chan struct{}
}

// StartPlayer starts a player that heartbeats every 200 ms. It stops at
// the end of the test (or with Stop).
func (e *Env) StartPlayer() *Player {
	t := e.t
	t.Helper()
	level := slog.LevelWarn
	if os.Getenv("BEACON_TEST_LOG") != "" {
		level = slog.LevelDebug
	}
	p, err := player.New(player.Config{
		ServerURL: e.URL, DataDir: t.TempDir(), Listen: "127.0.0.1:0",
		HeartbeatEvery: 200 * time.Millisecond, BackoffBase: 50 * time.Millisecond, BackoffMax: 300 * time.Millisecond,
		Logger: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level})),
	})
	if err != nil {
		t.Fatalf("player: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	rp := &Player{Player: p, t: t, cancel: cancel, done: make(chan struct{})}
	go func() { _ = p.Run(ctx); close(rp.done) }()
	t.Cleanup(rp.Stop)
	return rp
}

// Stop ends the player and waits for it (idempotent).
func (p *Player) Stop() {
	p.cancel()
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
	}
}

// Wait polls the player's status until cond holds.
func (p *Player) Wait(what string, cond func(player.Status) bool) player.Status {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	st, err := player.WaitStatus(ctx, p.Addr(), cond)
	if err != nil {
		p.t.Fatalf("player: waiting for %s: %v (last status %+v)", what, err, p.Status())
	}
	return st
}

// PairingCode waits until the player shows a pairing code and returns it.
func (p *Player) PairingCode() string {
	p.t.Helper()
	return p.Wait("a pairing code", func(s player.Status) bool { return s.PairingCode != "" }).PairingCode
}
