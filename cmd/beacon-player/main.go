// Command beacon-player runs on each screen's computer: it keeps the
// content cache and the last verified manifest, plays offline, and drives
// a local renderer page shown full-screen by Chromium.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"beacon/player"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

func main() {
	if len(os.Args) > 1 && os.Args[1] == "reset" {
		os.Exit(reset(os.Args[2:]))
	}
	var (
		cfg       player.Config
		showVer   bool
		verbose   bool
		heartbeat time.Duration
		budget    string
	)
	flag.StringVar(&cfg.ServerURL, "server", "", "Beacon server base URL, e.g. https://beacon.example.org")
	flag.StringVar(&cfg.CAFile, "ca", "", "PEM file of the certificates to trust for an https server (default: the system roots)")
	flag.StringVar(&cfg.DataDir, "data", "/var/lib/beacon-player", "data directory (identity, manifest, cache)")
	flag.StringVar(&cfg.Listen, "listen", player.DefaultListen, "renderer and status listen address")
	flag.BoolVar(&cfg.Kiosk, "kiosk", false, "launch Chromium in kiosk mode and restart it if it exits")
	flag.StringVar(&cfg.ChromiumPath, "chromium", "chromium", "Chromium executable for --kiosk")
	flag.StringVar(&cfg.Window, "window", "", "kiosk window geometry WxH+X+Y (the LED controller's capture area)")
	flag.StringVar(&cfg.KioskUser, "kiosk-user", player.DefaultKioskUser, "unprivileged user Chromium runs as when beacon-player runs as root (Chromium never runs without its sandbox)")
	flag.DurationVar(&heartbeat, "heartbeat", 15*time.Second, "heartbeat interval")
	flag.StringVar(&budget, "cache-budget", fmt.Sprintf("%d%%", player.DefaultCacheBudgetPercent), "content cache budget: bytes (2GiB, 500MB) or a percent of the space the cache may use (its files plus the free disk); files the current manifest lists are always kept, others go least recently needed first")
	flag.BoolVar(&verbose, "v", false, "debug logging")
	flag.BoolVar(&showVer, "version", false, "print the version and exit")
	flag.Usage = func() {
		fmt.Fprintf(flag.CommandLine.Output(), "usage: beacon-player [flags]\n       beacon-player reset [--data DIR]   forget the pairing (stop the player first)\n\nflags:\n")
		flag.PrintDefaults()
	}
	flag.Parse()

	if showVer {
		fmt.Println("beacon-player", version)
		return
	}
	level := slog.LevelInfo
	if verbose {
		level = slog.LevelDebug
	}
	cfg.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	cfg.Version = version
	cfg.HeartbeatEvery = heartbeat
	var err error
	if cfg.CacheBudget, cfg.CacheBudgetPercent, err = player.ParseCacheBudget(budget); err != nil {
		fmt.Fprintln(os.Stderr, "beacon-player: --cache-budget:", err)
		os.Exit(2)
	}

	p, err := player.New(cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, "beacon-player:", err)
		os.Exit(1)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if err := p.Run(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "beacon-player:", err)
		os.Exit(1)
	}
}

// reset returns the player to pairing: it forgets the display id, the
// pinned server key, the last manifest and the incidents kept for that
// server. The player's key and content cache stay. This is the only way,
// besides a signed unpair from the pinned server, to pair the player with
// another server (or again after the server's key was lost).
func reset(args []string) int {
	fs := flag.NewFlagSet("reset", flag.ContinueOnError)
	dataDir := fs.String("data", "/var/lib/beacon-player", "data directory of the player to reset")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: beacon-player reset [--data DIR]\n\nForgets the pairing (display id, pinned server key, last manifest).\nStop the player first; it shows a pairing code when it starts again.\n\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 0 {
		fs.Usage()
		return 2
	}
	removed, err := player.Reset(*dataDir)
	if err != nil {
		fmt.Fprintln(os.Stderr, "beacon-player reset:", err)
		return 1
	}
	if len(removed) == 0 {
		fmt.Fprintln(os.Stderr, "beacon-player reset: the player in", *dataDir, "was not paired; nothing to do")
		return 0
	}
	for _, f := range removed {
		fmt.Fprintln(os.Stderr, "removed", f)
	}
	fmt.Fprintln(os.Stderr, "beacon-player reset: the player will show a pairing code when it starts")
	return 0
}
