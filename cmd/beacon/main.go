// Command beacon is Beacon's content server (beacon serve) and its admin
// command line (tokens, demo content, benchmarks).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"syscall"
	"time"

	"beacon/media/worker"
	"beacon/server"
	"beacon/server/auth"
	"beacon/server/store"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

const usage = `beacon — digital signage content server

Usage:
  beacon serve --data DIR --listen ADDR     run the server
  beacon token create --data DIR --role admin|editor|viewer --name NAME [--org ID]
                                            print a new API token (only its hash is stored)
  beacon demo --data DIR [--player-data DIR]
                                            seed a demo organisation, admin account, images,
                                            and a local player identity already paired
  beacon media probe FILE                   print what a video or audio file holds, as JSON
  beacon media transcode --profile WxH[:fit] … IN OUTDIR
                                            transcode as the server does, with progress
  beacon bench timeline                     schedule evaluation: 1,000 displays × 7 days
  beacon bench video                        transcoding against the ffmpeg command line
  beacon version

Run "beacon COMMAND -h" for a command's flags.
`

func main() {
	if err := run(os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "beacon:", err)
		os.Exit(1)
	}
}

func run(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return errors.New("no command given")
	}
	switch args[0] {
	case "serve":
		return serve(args[1:], stderr)
	case "token":
		if len(args) < 2 || args[1] != "create" {
			return errors.New(`usage: beacon token create --data DIR --role ROLE --name NAME`)
		}
		return tokenCreate(args[2:], stdout)
	case "demo":
		return demo(args[1:], stdout)
	case "bench":
		return bench(args[1:], stdout)
	case "media":
		return mediaCmd(args[1:], stdout, stderr)
	case "media-worker":
		return mediaWorkerCmd(args[1:], os.Stdin, stdout, stderr)
	case "version", "--version", "-version":
		fmt.Fprintln(stdout, "beacon", version)
		return nil
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	}
	fmt.Fprint(stderr, usage)
	return fmt.Errorf("unknown command %q", args[0])
}

func logger(w io.Writer, level string) *slog.Logger {
	var l slog.Level
	_ = l.UnmarshalText([]byte(level))
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: l}))
}

func serve(args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	data := fs.String("data", "./data", "data directory (database, keys, media)")
	listen := fs.String("listen", "127.0.0.1:8080", "address to listen on")
	maxUpload := fs.Int64("max-upload", server.DefaultMaxUpload, "largest accepted upload in bytes")
	level := fs.String("log-level", "info", "debug, info, warn or error")
	workerMem := fs.Uint64("worker-memory", 4<<30, "address-space limit of each media worker, in bytes")
	preset := fs.String("x264-preset", "veryfast", "libx264 preset for renditions")
	crf := fs.Int("x264-crf", 23, "libx264 CRF for renditions")
	lufs := fs.Float64("loudness", -23, "EBU R128 loudness target of audio, in LUFS")
	prefetch := fs.Int("prefetch-days", server.DefaultPrefetchDays, "days ahead whose files players download in advance")
	if err := fs.Parse(args); err != nil {
		return err
	}
	log := logger(stderr, *level)
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	srv, err := server.New(ctx, server.Config{DataDir: *data, MaxUploadBytes: *maxUpload, Logger: log,
		MediaWorker: &worker.Supervisor{MemoryLimit: *workerMem},
		Encoding:    worker.Options{Preset: *preset, CRF: *crf, LoudnessLUFS: *lufs}, PrefetchDays: *prefetch})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		srv.Close()
		return fmt.Errorf("listen on %s: %w", *listen, err)
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		srv.Close()
		return err
	case <-ctx.Done():
	}
	log.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	return srv.Shutdown(sctx)
}

func tokenCreate(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("token create", flag.ContinueOnError)
	data := fs.String("data", "./data", "data directory")
	role := fs.String("role", store.RoleAdmin, "admin, editor or viewer")
	name := fs.String("name", "", "what the token is for (required)")
	orgID := fs.String("org", "", "organisation id (default: the only organisation)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *name == "" {
		return errors.New("--name is required")
	}
	if !store.ValidRole(*role) {
		return fmt.Errorf("--role must be admin, editor or viewer, not %q", *role)
	}
	ctx := context.Background()
	st, err := store.Open(ctx, *data)
	if err != nil {
		return err
	}
	defer st.Close()
	if *orgID == "" {
		orgs, err := st.Orgs(ctx)
		if err != nil {
			return err
		}
		switch len(orgs) {
		case 0:
			return errors.New("no organisation yet: run `beacon demo` or create one first")
		case 1:
			*orgID = orgs[0].ID
		default:
			return errors.New("several organisations: choose one with --org")
		}
	}
	secret, hash := auth.NewToken(auth.APITokenPrefix)
	if _, err := st.CreateToken(ctx, store.Token{OrgID: *orgID, Name: *name, Role: *role}, hash); err != nil {
		return err
	}
	fmt.Fprintln(stdout, secret)
	return nil
}

func demo(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	data := fs.String("data", "./data", "data directory")
	playerData := fs.String("player-data", "", "also make a paired local player identity here")
	if err := fs.Parse(args); err != nil {
		return err
	}
	ctx := context.Background()
	srv, err := server.New(ctx, server.Config{DataDir: *data, Logger: logger(io.Discard, "error")})
	if err != nil {
		return err
	}
	defer srv.Close()
	res, err := srv.SeedDemo(ctx, *playerData)
	if err != nil {
		return err
	}
	if !res.Seeded {
		fmt.Fprintf(stdout, "demo: %s already holds an organisation; nothing seeded\n", *data)
		return nil
	}
	fmt.Fprintf(stdout, "demo: seeded organisation %s with 3 images and a playlist\n", res.OrgID)
	fmt.Fprintf(stdout, "demo: admin account: user %q password %q (shown once; keep it)\n", res.AdminUser, res.AdminPassword)
	if res.DisplayID != "" {
		fmt.Fprintf(stdout, "demo: local player paired as display %s (identity in %s)\n", res.DisplayID, *playerData)
	}
	return nil
}
