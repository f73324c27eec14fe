package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"beacon/conformance"
)

// conformanceCmd runs the player conformance kit: beacon conformance
// player --listen ADDR. It exits non-zero when a check fails.
func conformanceCmd(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "player" {
		return errors.New(`usage: beacon conformance player --listen ADDR [--step-timeout 45s] [--play-window 15s] [--tolerance 1s] [--player-status URL] [--player-data DIR]`)
	}
	fs := flag.NewFlagSet("conformance player", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var opts conformance.Options
	fs.StringVar(&opts.Listen, "listen", "127.0.0.1:8090", "address the player under test connects to (beacon-player --server http://ADDR)")
	fs.DurationVar(&opts.StepTimeout, "step-timeout", 45*time.Second, "how long each check waits for the player")
	fs.DurationVar(&opts.PlayWindow, "play-window", 15*time.Second, "how long the proof-of-play scenario watches the program")
	fs.DurationVar(&opts.Tolerance, "tolerance", time.Second, "how far play records may lie from the program's timeline")
	fs.StringVar(&opts.PlayerStatus, "player-status", "", "the player's status URL (reference player: http://127.0.0.1:7433/status); enables the checks of what it shows")
	fs.StringVar(&opts.PlayerData, "player-data", "", "the player's data directory on this machine; enables the cache-tampered scenario (the kit changes a cached file)")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	opts.Log = stderr
	kit, err := conformance.New(opts)
	if err != nil {
		return err
	}
	defer kit.Close()
	data := "$(mktemp -d)"
	if opts.PlayerData != "" {
		data = opts.PlayerData + " (empty)"
	}
	fmt.Fprintf(stderr, "conformance kit listening; start the player under test with a fresh data directory:\n  beacon-player --server %s --data %s\n", kit.URL(), data)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	rep := kit.Run(ctx)
	rep.Write(stdout)
	if rep.Failed() {
		return errors.New("the player does not conform")
	}
	return nil
}
