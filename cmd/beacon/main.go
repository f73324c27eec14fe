// Command beacon is Beacon's content server (beacon serve) and its admin
// command line (organisations, accounts, tokens, demo content, benchmarks).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"net/url"
	"os"
	"os/signal"
	"runtime/debug"
	"strings"
	"syscall"
	"time"

	"beacon/media/worker"
	"beacon/server"
	"beacon/server/auth"
	"beacon/server/bus"
	"beacon/server/delivery"
	"beacon/server/players"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

const usage = `beacon — digital signage content server

Usage:
  beacon serve --data DIR --listen ADDR [--trusted-proxy CIDR[,CIDR]] [--session-ttl 12h]
               [--redis URL] [--override-max-expiry 24h] [--override-ack-timeout 10s] [--alert-webhook URL]
               [--cap-sources FILE.json] [--cap-allow-unsigned]
                                            run the server (limits, timeouts, TLS: -h;
                                            see docs/deploy.md)
  beacon token create --data DIR --role admin|editor|viewer|authority --name NAME [--org ID] [--ttl 30d]
                                            print a new API token (only its hash is stored); on an
                                            empty data directory, first makes the organisation
                                            (named with --org-name)
  beacon token list --data DIR [--org ID]   live API tokens and login sessions
  beacon token revoke --data DIR TOKEN_ID   revoke a token or session
  beacon org create --data DIR --name NAME  add an organisation (prints its id)
  beacon org list --data DIR
  beacon user create --data DIR --name USER [--role ROLE] [--org ID] [--password-stdin]
                                            add an account; prints a generated password once,
                                            or reads it from the first line of standard input
  beacon user list --data DIR [--org ID]
  beacon user disable --data DIR USER       disable an account and revoke its sessions and tokens
  beacon demo --data DIR [--player-data DIR]
                                            seed a demo organisation, admin account, images,
                                            and a local player identity already paired
  beacon media probe FILE                   print what a video or audio file holds, as JSON
  beacon media transcode --profile WxH[:fit] … IN OUTDIR
                                            transcode as the server does, with progress
  beacon cap check [--trust CERT.pem]… [--policy P] [--at TIME] [--server URL --token T] FILE…
                                            parse and verify CAP alerts: each as JSON with its
                                            signature verdict, level and areas (with --server, the
                                            displays it would reach), or why refused
  beacon conformance player --listen ADDR [--step-timeout 45s] [--play-window 15s]
                     [--player-status URL] [--player-data DIR]
                                            act as a server for a player under test
                                            (beacon-player --server http://ADDR), run the
                                            protocol scenarios, print a report; exit 1 on a failure
  beacon override send --server URL --token T --level L --presentation P [--text LANG=TEXT]…
                     [--all | --cluster ID… | --display ID… | --tag T… | --circle LAT,LON,KM]
                     [--expires 15m] [--idempotency-key K]
                                            trigger an emergency override (roles admin, authority)
  beacon override cancel --server URL --token T ID
  beacon override list --server URL --token T [--active] [--deliveries ID]
  beacon bench timeline                     schedule evaluation: 1,000 displays × 7 days
  beacon bench video                        transcoding against the ffmpeg command line
  beacon bench fanout --players N [--overrides K] [--clients-procs P]
                                            a server and N simulated players on loopback:
                                            override trigger-to-receipt latency, memory per player
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
		return tokenCmd(args[1:], stdout, stderr)
	case "org":
		return orgCmd(args[1:], stdout)
	case "user":
		return userCmd(args[1:], stdout, stderr)
	case "demo":
		return demo(args[1:], stdout)
	case "bench":
		return bench(args[1:], stdout)
	case "media":
		return mediaCmd(args[1:], stdout, stderr)
	case "cap":
		return capCmd(args[1:], stdout, stderr)
	case "conformance":
		return conformanceCmd(args[1:], stdout, stderr)
	case "override":
		return overrideCmd(args[1:], os.Stdin, stdout, stderr)
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
	maxJSON := fs.Int64("max-json-body", server.DefaultMaxJSONBody, "largest accepted request body other than an upload, in bytes")
	readTimeout := fs.Duration("read-timeout", server.DefaultReadTimeout, "time to read a request's head and body (an upload: the longest pause between reads)")
	writeTimeout := fs.Duration("write-timeout", server.DefaultWriteTimeout, "longest a single write to a client may block (downloads and the event stream go on while the client reads)")
	idleTimeout := fs.Duration("idle-timeout", server.DefaultIdleTimeout, "how long an idle keep-alive connection stays open")
	maxHeader := fs.Int("max-header-bytes", server.DefaultMaxHeaderBytes, "largest request head (request line and headers), in bytes; every player connection keeps a buffer this size")
	wsHandshake := fs.Duration("ws-handshake-timeout", players.DefaultHandshakeTimeout, "time a player connection has to finish hello and auth")
	wsPerAddr := fs.Int("max-handshakes-per-addr", players.DefaultMaxHandshakesPerAddr, "player connections per address still in their handshake (-1: no limit)")
	pairPerAddr := fs.Int("max-pairing-per-addr", players.DefaultMaxPairingPerAddr, "pairing sessions (unpaired players) per address (-1: no limit)")
	tlsCert := fs.String("tls-cert", "", "serve HTTPS with this PEM certificate (chain) file")
	tlsKey := fs.String("tls-key", "", "private key of --tls-cert (PEM)")
	metricsListen := fs.String("metrics-listen", "", "serve /metrics on this address only, not on --listen")
	sessionTTL := fs.Duration("session-ttl", auth.DefaultSessionTTL, "how long a login session lasts")
	trusted := fs.String("trusted-proxy", "", "reverse proxies (CIDR[,CIDR]) whose X-Forwarded-For names the client")
	redisURL := fs.String("redis", "", "Redis URL (redis://host:6379/0) of the bus shared with other servers; default an in-process bus")
	langs := fs.String("languages", strings.Join(server.DefaultLanguages, ","), "order of an override's languages on displays that have none of their own (comma-separated codes)")
	ovrMax := fs.Duration("override-max-expiry", server.DefaultOverrideMaxExpiry, "longest an emergency override may last")
	ovrAck := fs.Duration("override-ack-timeout", delivery.DefaultAckTimeout, "time a display has to acknowledge painting an override before --alert-webhook is told")
	webhook := fs.String("alert-webhook", "", "URL that receives a JSON POST when displays do not acknowledge an override in time")
	capSources := fs.String("cap-sources", "", "JSON file of CAP sources (senders, trusted certificates, policy, feeds; docs/cap.md)")
	capUnsigned := fs.Bool("cap-allow-unsigned", false, "without --cap-sources: accept unsigned CAP messages pushed to /api/v1/cap (default: refuse them)")
	pprofListen := fs.String("pprof-listen", "", "serve Go's profiler (/debug/pprof/) on this loopback address (for diagnosis; off by default)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *pprofListen != "" {
		if err := checkLoopback(*pprofListen); err != nil {
			return fmt.Errorf("--pprof-listen: %w", err)
		}
	}
	var sources []server.CAPSource
	if *capSources != "" {
		var err error
		if sources, err = server.LoadCAPSources(*capSources); err != nil {
			return fmt.Errorf("--cap-sources: %w", err)
		}
	}
	if *webhook != "" {
		if u, err := url.Parse(*webhook); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fmt.Errorf("--alert-webhook %q: want an http or https URL", *webhook)
		}
	}
	proxies, err := server.ParsePrefixes(*trusted)
	if err != nil {
		return fmt.Errorf("--trusted-proxy: %w", err)
	}
	log := logger(stderr, *level)
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	var b bus.Bus
	if *redisURL != "" {
		rb, err := bus.NewRedis(*redisURL, bus.WithLogger(log))
		if err != nil {
			return fmt.Errorf("--redis: %w", err)
		}
		defer rb.Close()
		b = rb
	}
	srv, err := server.New(ctx, server.Config{Bus: b, OverrideMaxExpiry: *ovrMax, Languages: splitList(*langs), OverrideAckTimeout: *ovrAck, AlertWebhook: *webhook, DataDir: *data, MaxUploadBytes: *maxUpload, Logger: log,
		MediaWorker: &worker.Supervisor{MemoryLimit: *workerMem},
		Encoding:    worker.Options{Preset: *preset, CRF: *crf, LoudnessLUFS: *lufs}, PrefetchDays: *prefetch,
		MaxJSONBody: *maxJSON, MaxHeaderBytes: *maxHeader, ReadTimeout: *readTimeout, WriteTimeout: *writeTimeout, IdleTimeout: *idleTimeout,
		Players:     players.Limits{HandshakeTimeout: *wsHandshake, MaxHandshakesPerAddr: *wsPerAddr, MaxPairingPerAddr: *pairPerAddr},
		TLSCertFile: *tlsCert, TLSKeyFile: *tlsKey, SeparateMetrics: *metricsListen != "",
		SessionTTL: *sessionTTL, TrustedProxies: proxies, CAPSources: sources, CAPAllowUnsigned: *capUnsigned})
	if err != nil {
		return err
	}
	if *metricsListen != "" {
		mln, err := net.Listen("tcp", *metricsListen)
		if err != nil {
			srv.Close()
			return fmt.Errorf("listen on %s: %w", *metricsListen, err)
		}
		ms := &http.Server{Handler: metricsMux(srv), ReadHeaderTimeout: *readTimeout, ReadTimeout: *readTimeout, WriteTimeout: *writeTimeout, IdleTimeout: *idleTimeout}
		go func() { _ = ms.Serve(mln) }()
		defer ms.Close()
		log.Info("metrics serving", "addr", mln.Addr().String())
	}
	if *pprofListen != "" {
		pln, err := net.Listen("tcp", *pprofListen)
		if err != nil {
			srv.Close()
			return fmt.Errorf("listen on %s: %w", *pprofListen, err)
		}
		ps := &http.Server{Handler: pprofMux(), ReadHeaderTimeout: *readTimeout}
		go func() { _ = ps.Serve(pln) }()
		defer ps.Close()
		log.Info("profiler serving", "addr", pln.Addr().String())
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

func metricsMux(srv *server.Server) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", srv.MetricsHandler())
	return mux
}

// pprofMux serves Go's profiler. It is never on --listen: profiles show
// the server's internals, so only a loopback address is accepted.
func pprofMux() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	// The fan-out benchmark reads the server's RSS: it first has the
	// runtime collect and hand freed memory back to the system, so that
	// start-up garbage is not counted (or subtracted) per player.
	mux.HandleFunc("POST /debug/free-os-memory", func(w http.ResponseWriter, _ *http.Request) {
		debug.FreeOSMemory()
		w.WriteHeader(http.StatusNoContent)
	})
	return mux
}

// checkLoopback accepts host:port whose host is a loopback address.
func checkLoopback(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return err
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return fmt.Errorf("%s is not a loopback address (127.0.0.1, ::1 or localhost)", host)
	}
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

// splitList splits a comma-separated flag value, dropping empty parts.
func splitList(v string) []string {
	var out []string
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}
