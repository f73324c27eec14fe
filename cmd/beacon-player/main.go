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
	var (
		cfg       player.Config
		showVer   bool
		verbose   bool
		heartbeat time.Duration
	)
	flag.StringVar(&cfg.ServerURL, "server", "", "Beacon server base URL, e.g. https://beacon.example.org")
	flag.StringVar(&cfg.DataDir, "data", "/var/lib/beacon-player", "data directory (identity, manifest, cache)")
	flag.StringVar(&cfg.Listen, "listen", player.DefaultListen, "renderer and status listen address")
	flag.BoolVar(&cfg.Kiosk, "kiosk", false, "launch Chromium in kiosk mode and restart it if it exits")
	flag.StringVar(&cfg.ChromiumPath, "chromium", "chromium", "Chromium executable for --kiosk")
	flag.StringVar(&cfg.Window, "window", "", "kiosk window geometry WxH+X+Y (the LED controller's capture area)")
	flag.DurationVar(&heartbeat, "heartbeat", 15*time.Second, "heartbeat interval")
	flag.BoolVar(&verbose, "v", false, "debug logging")
	flag.BoolVar(&showVer, "version", false, "print the version and exit")
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
