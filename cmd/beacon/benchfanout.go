package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"beacon/server"
	"beacon/server/auth"
	"beacon/server/store"
)

// `beacon bench fanout`: one `beacon serve` subprocess on 127.0.0.1 with a
// fresh data directory, N simulated players in child processes
// (fanout-clients), K overrides to every display through the API, and the
// time from just before each POST to the instant the server read each
// player's override_ack "painted" (as the server records it: the
// delivery's updated_at, read back through GET
// /api/v1/overrides/{id}/deliveries once the server is idle). The time to
// the instant each player read the frame (one way) is logged too. Server
// memory is the subprocess's VmRSS before the players connect and once
// they are all connected and idle.
//
// Set-up shortcut: pairing N displays through the claim API is slow and
// there is no bulk pairing, so the displays are created in the store
// (with each simulated player's public key) before the server starts. The
// handshakes, the overrides and the acks are the real protocol.

// fanoutConfig configures one run.
type fanoutConfig struct {
	benchProcs
	Overrides int
	// VerifyEach makes the clients verify every copy of a frame.
	VerifyEach bool
	// Goroutines runs each client on a goroutine of its own with a
	// gorilla/websocket connection instead of the event loops.
	Goroutines bool
	// ProfileDir, when set, receives the server's heap profile with the
	// players idle (heap.pprof, and runtime.MemStats in memstats.txt), its
	// goroutines (goroutine.pprof) and a
	// CPU profile of the override phase (cpu.pprof).
	ProfileDir string
	// Trace, with ProfileDir, also writes an execution trace of the
	// server around the last override (trace.out; go tool trace).
	Trace bool
}

// benchProcs is what bench fanout and its baseline (bench broadcast)
// share: a server process and client processes on loopback.
type benchProcs struct {
	Players int
	Procs   int           // client processes (default one per 10,000 clients)
	Spacing time.Duration // pause between triggers, once the server is idle
	Timeout time.Duration // the whole run
	// Command builds the command that runs `beacon ARGS…` (the server and
	// the client processes); default this executable.
	Command func(args ...string) *exec.Cmd
	Log     io.Writer // progress; the result line goes to stdout
}

// bind registers the command-line flags of a benchProcs; clients and
// triggers name them in the help.
func (b *benchProcs) bind(fs *flag.FlagSet, clients, triggers string) {
	fs.IntVar(&b.Players, "players", 1000, clients)
	fs.IntVar(&b.Procs, "clients-procs", 0, "client processes (default one per 10,000 clients)")
	fs.DurationVar(&b.Spacing, "spacing", time.Second, "pause between "+triggers+", once the server is idle after the previous one")
	fs.DurationVar(&b.Timeout, "timeout", 5*time.Minute, "bound of the whole run")
	b.Log = os.Stderr
}

// defaults checks the settings, fills in what was left unset and checks
// that the server process may open a descriptor per client.
func (b *benchProcs) defaults() error {
	switch {
	case b.Players < 1:
		return errors.New("--players must be at least 1")
	case b.Procs < 0:
		return errors.New("--clients-procs must not be negative")
	}
	if b.Command == nil {
		b.Command = selfCommand
	}
	if b.Log == nil {
		b.Log = io.Discard
	}
	if b.Procs <= 0 {
		b.Procs = (b.Players + 9999) / 10000 // fewer processes, fewer switches between them on a small machine
	}
	b.Procs = min(b.Procs, b.Players)
	if b.Timeout <= 0 {
		b.Timeout = 5 * time.Minute
	}
	raiseNoFile()
	if lim, ok := noFileLimit(); ok && lim < uint64(b.Players)+fanoutSpareFiles {
		return fmt.Errorf("--players %d needs about %d open files in the server process; the limit here is %d (raise the hard limit of open files: ulimit -Hn, or fs.nr_open with CAP_SYS_RESOURCE)",
			b.Players, uint64(b.Players)+fanoutSpareFiles, lim)
	}
	return nil
}

// fanoutResult is what a run measured.
type fanoutResult struct {
	Players            int
	Latencies          []time.Duration // trigger to painted ack read by the server; one per player and override, sorted
	OneWay             []time.Duration // trigger to frame read by the player, sorted
	RSSBefore          int64           // bytes
	RSSAfter           int64
	P50, P99, Max      time.Duration
	KBPerPlayer        float64
	Missing, Bad, Lost int
}

func (r fanoutResult) line() string {
	return fmt.Sprintf("fanout players=%d servers=1 p50_ms=%.1f p99_ms=%.1f max_ms=%.1f kb_per_player=%.1f",
		r.Players, ms(r.P50), ms(r.P99), ms(r.Max), r.KBPerPlayer)
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func benchFanout(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("bench fanout", flag.ContinueOnError)
	var bp benchProcs
	bp.bind(fs, "simulated players (displays)", "overrides")
	k := fs.Int("overrides", 5, "overrides to trigger, one after another")
	verifyEach := fs.Bool("verify-each", false, "clients verify the signature of every copy (default: each distinct frame once per client process)")
	profile := fs.String("profile", "", "write the server's heap, goroutine and CPU profiles (go tool pprof) into this directory")
	trace := fs.Bool("trace", false, "with --profile, also write an execution trace of the server around the last override (trace.out, for go tool trace)")
	baseline := fs.Bool("baseline", false, "first measure the plain fiber + contrib/websocket broadcast (bench broadcast) to as many clients, and report Beacon's figures as ratios of its")
	clientIO := fs.String("client-io", "epoll", "how the players' connections are served: epoll (a few event loops per client process) or goroutines (one goroutine and gorilla/websocket connection each)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	switch {
	case *k < 1:
		return errors.New("--overrides must be at least 1")
	case *clientIO != "epoll" && *clientIO != "goroutines":
		return errors.New("--client-io must be epoll or goroutines")
	}
	var base broadcastResult
	if *baseline {
		var err error
		base, err = runBroadcast(broadcastConfig{benchProcs: bp, Messages: *k, LogPrefix: "fanout: baseline"})
		if err != nil {
			return fmt.Errorf("baseline: %w", err)
		}
		fmt.Fprintf(os.Stderr, "fanout: baseline: %s\n", base.line())
	}
	res, err := runFanout(fanoutConfig{benchProcs: bp, Overrides: *k,
		VerifyEach: *verifyEach, Goroutines: *clientIO == "goroutines", ProfileDir: *profile, Trace: *trace})
	if err != nil {
		return err
	}
	if *baseline {
		fmt.Fprintln(os.Stderr, baselineRatios(res, base))
	}
	fmt.Fprintln(stdout, res.line())
	return nil
}

// baselineRatios puts Beacon's figures of a run beside the plain
// broadcast's of the same run. The emergency issue's target (p99 ≤ 250 ms
// trigger to acknowledgement at 10,000) was set where the plain broadcast
// reached about 200 ms one way: 1.25× of it.
func baselineRatios(res fanoutResult, base broadcastResult) string {
	oneWay := pct(res.OneWay, 99)
	return fmt.Sprintf("fanout: against the plain broadcast of this run (one way p99 %.1f ms, %.1f KB per connection): "+
		"trigger to painted ack p99 %.2f×, one way p99 %.2f×, memory per idle player %.2f× (the issue's target: 1.25× for the p99 to the ack)",
		ms(base.P99), base.KBPerConn, ratio(res.P99, base.P99), ratio(oneWay, base.P99), res.KBPerPlayer/base.KBPerConn)
}

func ratio(a, b time.Duration) float64 {
	if b <= 0 {
		return 0
	}
	return float64(a) / float64(b)
}

func selfCommand(args ...string) *exec.Cmd {
	exe, err := os.Executable()
	if err != nil {
		exe = os.Args[0]
	}
	return exec.Command(exe, args...)
}

func runFanout(cfg fanoutConfig) (res fanoutResult, err error) {
	if err := cfg.defaults(); err != nil {
		return res, err
	}
	logf := func(format string, a ...any) { fmt.Fprintf(cfg.Log, "fanout: "+format+"\n", a...) }
	ctx, cancel := context.WithTimeout(context.Background(), cfg.Timeout)
	defer cancel()
	res.Players = cfg.Players

	dir, err := os.MkdirTemp("", "beacon-fanout-")
	if err != nil {
		return res, err
	}
	defer os.RemoveAll(dir)

	// Set-up: organisation, authority token, server key, N displays.
	began := time.Now()
	token, serverKey, keysFile, _, err := fanoutSetup(ctx, dir, cfg.Players)
	if err != nil {
		return res, fmt.Errorf("set-up: %w", err)
	}
	logf("%d displays created in the store in %s", cfg.Players, time.Since(began).Round(time.Millisecond))

	// The server, alone in its process.
	addr, err := freeLoopbackAddr()
	if err != nil {
		return res, err
	}
	srvArgs := []string{"serve", "--data", dir, "--listen", addr, "--log-level", "warn",
		"--max-handshakes-per-addr", "-1", "--max-pairing-per-addr", "-1", "--ws-handshake-timeout", "60s"}
	// The profiler's loopback listener is always on: the memory readings
	// ask the server to return freed memory first (settle).
	paddr, err := freeLoopbackAddr()
	if err != nil {
		return res, err
	}
	srvArgs = append(srvArgs, "--pprof-listen", paddr)
	settle := settler(ctx, "http://"+paddr+"/debug/free-os-memory")
	var pprofBase string
	if cfg.ProfileDir != "" {
		if err := os.MkdirAll(cfg.ProfileDir, 0o755); err != nil {
			return res, err
		}
		pprofBase = "http://" + paddr + "/debug/pprof/"
	}
	srv := cfg.Command(srvArgs...)
	srvLog := &clippedLines{w: cfg.Log, max: 400}
	srv.Stdout, srv.Stderr = srvLog, srvLog
	base := "http://" + addr
	srvDone, stopSrv, err := startServerProc(ctx, srv, base)
	if err != nil {
		return res, err
	}
	defer stopSrv()
	// On start the server compiles every display's manifest (a claimed
	// display has one already; these were made in the store). It is not
	// what is measured: wait until the server is idle.
	began = time.Now()
	if err := waitIdle(ctx, srv.Process.Pid, 3*time.Minute); err != nil {
		return res, err
	}
	logf("server idle %s after start", time.Since(began).Round(time.Millisecond))
	settle()
	if res.RSSBefore, err = vmRSS(srv.Process.Pid); err != nil {
		return res, err
	}
	logf("server pid %d on %s, RSS before players %.1f MB", srv.Process.Pid, addr, float64(res.RSSBefore)/(1<<20))

	// The players, in cfg.Procs child processes.
	agg := newFanoutAgg()
	kids := &childProcs{agg: agg}
	defer kids.stop()
	began = time.Now()
	per := (cfg.Players + cfg.Procs - 1) / cfg.Procs
	for from := 0; from < cfg.Players; from += per {
		to := min(from+per, cfg.Players)
		args := []string{"bench", "fanout-clients", "--server", addr, "--server-key", hex.EncodeToString(serverKey),
			"--keys", keysFile, "--from", strconv.Itoa(from), "--to", strconv.Itoa(to)}
		if cfg.VerifyEach {
			args = append(args, "--verify-each")
		}
		if cfg.Goroutines {
			args = append(args, "--goroutines")
		}
		if cfg.ProfileDir != "" {
			args = append(args, "--cpuprofile", filepath.Join(cfg.ProfileDir, fmt.Sprintf("clients-%d.pprof", len(kids.cmds)+1)))
		}
		c := cfg.Command(args...)
		c.Stderr = cfg.Log
		if err := kids.start(c); err != nil {
			return res, err
		}
	}
	clients := kids.cmds
	if err := agg.waitUp(ctx, cfg.Players, srvDone); err != nil {
		return res, err
	}
	logf("%d players connected and authenticated in %s (%d client processes)", cfg.Players, time.Since(began).Round(time.Millisecond), len(clients))
	if err := waitIdle(ctx, srv.Process.Pid, time.Minute); err != nil {
		return res, err
	}
	settle()
	if res.RSSAfter, err = vmRSS(srv.Process.Pid); err != nil {
		return res, err
	}
	res.KBPerPlayer = float64(res.RSSAfter-res.RSSBefore) / 1024 / float64(cfg.Players)
	logf("server RSS with %d idle players %.1f MB: %.1f KB per player", cfg.Players, float64(res.RSSAfter)/(1<<20), res.KBPerPlayer)
	var cpuProfile chan error
	if pprofBase != "" {
		for file, p := range map[string]string{"heap.pprof": "heap", "goroutine.pprof": "goroutine", "memstats.txt": "heap?debug=1"} {
			if err := fetchTo(ctx, pprofBase+p, filepath.Join(cfg.ProfileDir, file)); err != nil {
				return res, fmt.Errorf("%s profile: %w", p, err)
			}
		}
		// About the override phase (the bench waits for its end).
		secs := int(time.Duration(cfg.Overrides)*(cfg.Spacing+4*time.Second)/time.Second) + 2
		cpuProfile = make(chan error, 1)
		go func() {
			cpuProfile <- fetchTo(ctx, fmt.Sprintf("%sprofile?seconds=%d", pprofBase, secs), filepath.Join(cfg.ProfileDir, "cpu.pprof"))
		}()
		time.Sleep(200 * time.Millisecond) // the profile has started
	}

	// The overrides, one after another. CPU time of the server and of the
	// players over this phase says where a loaded machine's cores went.
	srvCPU0, _ := cpuTicks(srv.Process.Pid)
	cliCPU0 := clientTicks(clients)
	phase := time.Now()
	var deliverTicks int64 // server CPU from each trigger until it is idle again
	for i := 0; i < cfg.Overrides; i++ {
		if i > 0 {
			// Each override meets an idle server: the previous one's
			// acks are written before the next trigger.
			if err := waitIdle(ctx, srv.Process.Pid, time.Minute); err != nil {
				return res, err
			}
			time.Sleep(cfg.Spacing)
		}
		var traced chan error
		if pprofBase != "" && cfg.Trace && i == cfg.Overrides-1 {
			traced = make(chan error, 1)
			go func() {
				traced <- fetchTo(ctx, pprofBase+"trace?seconds=2", filepath.Join(cfg.ProfileDir, "trace.out"))
			}()
			time.Sleep(500 * time.Millisecond) // the trace has started
		}
		body := fmt.Sprintf(`{"level":"critical","presentation":"fullscreen","text":{"vi":"KHẨN CẤP: thử nghiệm %d","en":"EMERGENCY: test %d"},"targets":{"all":true},"expires_in_s":900}`, i+1, i+1)
		tick0, _ := cpuTicks(srv.Process.Pid)
		t0 := time.Now()
		id, answered, err := postOverride(ctx, base, token, body)
		if err != nil {
			return res, fmt.Errorf("override %d: %w", i+1, err)
		}
		oneWay := sinceSorted(agg.waitOverride(ctx, id, cfg.Players, 60*time.Second), t0)
		if len(oneWay) == 0 {
			return res, fmt.Errorf("override %d (%s): no player got it", i+1, id)
		}
		if traced != nil {
			if err := <-traced; err != nil {
				logf("execution trace: %v", err)
			}
		}
		// The acks as the server recorded them, once it has written them.
		if err := waitIdle(ctx, srv.Process.Pid, time.Minute); err != nil {
			return res, err
		}
		tick1, _ := cpuTicks(srv.Process.Pid)
		deliverTicks += tick1 - tick0
		acked, err := paintedAcks(ctx, base, token, id)
		if err != nil {
			return res, fmt.Errorf("override %d: %w", i+1, err)
		}
		lat := make([]time.Duration, 0, len(acked))
		for _, at := range acked {
			lat = append(lat, at.Sub(t0))
		}
		slices.Sort(lat)
		res.Missing += cfg.Players - len(lat)
		if len(lat) == 0 {
			return res, fmt.Errorf("override %d (%s): the server recorded no painted ack", i+1, id)
		}
		logf("override %d/%d %s: %d/%d painted acks recorded, first %.1f ms, p50 %.1f ms, p99 %.1f ms, max %.1f ms; one way %d/%d, first %.1f ms, p50 %.1f ms, p99 %.1f ms; API answered in %.1f ms",
			i+1, cfg.Overrides, id, len(lat), cfg.Players, ms(lat[0]), ms(pct(lat, 50)), ms(pct(lat, 99)), ms(lat[len(lat)-1]),
			len(oneWay), cfg.Players, ms(oneWay[0]), ms(pct(oneWay, 50)), ms(pct(oneWay, 99)), ms(answered))
		res.Latencies = append(res.Latencies, lat...)
		res.OneWay = append(res.OneWay, oneWay...)
	}
	if cpuProfile != nil {
		if err := <-cpuProfile; err != nil {
			logf("CPU profile: %v", err)
		}
	}
	srvCPU1, _ := cpuTicks(srv.Process.Pid)
	if rss, err := vmRSS(srv.Process.Pid); err == nil {
		logf("server RSS after the overrides %.1f MB: %.1f KB per player", float64(rss)/(1<<20), float64(rss-res.RSSBefore)/1024/float64(cfg.Players))
	}
	settle()
	if pprofBase != "" {
		if err := fetchTo(ctx, pprofBase+"heap?debug=1", filepath.Join(cfg.ProfileDir, "memstats-after.txt")); err != nil {
			logf("memory statistics after the overrides: %v", err)
		}
	}
	if rss, err := vmRSS(srv.Process.Pid); err == nil {
		logf("server RSS after the overrides, freed memory returned, %.1f MB: %.1f KB per player", float64(rss)/(1<<20), float64(rss-res.RSSBefore)/1024/float64(cfg.Players))
	}
	logf("over the %s of overrides: server CPU %.1f s (%.1f s from the triggers to idle: %.0f µs per player and override; the rest reads the deliveries back), players' CPU %.1f s (clock ticks of 10 ms)",
		time.Since(phase).Round(time.Millisecond), float64(srvCPU1-srvCPU0)/100, float64(deliverTicks)/100,
		float64(deliverTicks)*1e4/float64(cfg.Players*cfg.Overrides), float64(clientTicks(clients)-cliCPU0)/100)
	slices.Sort(res.Latencies)
	slices.Sort(res.OneWay)
	logf("one way (trigger to frame read by the player), all overrides: p50 %.1f ms, p99 %.1f ms, max %.1f ms",
		ms(pct(res.OneWay, 50)), ms(pct(res.OneWay, 99)), ms(res.OneWay[len(res.OneWay)-1]))
	res.P50, res.P99, res.Max = pct(res.Latencies, 50), pct(res.Latencies, 99), res.Latencies[len(res.Latencies)-1]
	res.Bad, res.Lost = agg.counts()
	if res.Missing > 0 || res.Bad > 0 || res.Lost > 0 {
		return res, fmt.Errorf("%d deliveries missing, %d frames that did not verify, %d connections lost (%s)", res.Missing, res.Bad, res.Lost, res.line())
	}
	return res, nil
}

// startServerProc starts a bench's server process and waits until base
// answers /healthz; done closes when it exits, and stop ends it (SIGTERM,
// then SIGKILL after 15 s).
func startServerProc(ctx context.Context, srv *exec.Cmd, base string) (done chan struct{}, stop func(), err error) {
	srv.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := srv.Start(); err != nil {
		return nil, nil, fmt.Errorf("start the server: %w", err)
	}
	done = make(chan struct{})
	go func() {
		_ = srv.Wait()
		close(done)
	}()
	stop = func() {
		_ = srv.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(15 * time.Second):
			_ = srv.Process.Kill()
			<-done
		}
	}
	if err := waitHealthy(ctx, base, done); err != nil {
		stop()
		return nil, nil, err
	}
	return done, stop, nil
}

// childProcs are a bench's client processes: each reports on its stdout
// (read into agg) and exits when its stdin closes.
type childProcs struct {
	agg     *fanoutAgg
	cmds    []*exec.Cmd
	stdins  []io.Closer
	readers sync.WaitGroup
}

func (k *childProcs) start(c *exec.Cmd) error {
	c.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	in, err := c.StdinPipe()
	if err != nil {
		return err
	}
	out, err := c.StdoutPipe()
	if err != nil {
		return err
	}
	if err := c.Start(); err != nil {
		return fmt.Errorf("start a client process: %w", err)
	}
	k.cmds, k.stdins = append(k.cmds, c), append(k.stdins, in)
	k.readers.Add(1)
	go func() {
		defer k.readers.Done()
		k.agg.read(out)
	}()
	return nil
}

// stop closes the processes' stdin and waits for them (killing one that
// is still there 10 s later) and for their reports.
func (k *childProcs) stop() {
	for _, in := range k.stdins {
		in.Close()
	}
	for _, c := range k.cmds {
		done := make(chan struct{})
		go func() { _ = c.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = c.Process.Kill()
			<-done
		}
	}
	k.readers.Wait()
}

// fanoutSpareFiles is what the server holds open besides its players'
// connections (database, logs, listeners, the API calls of the bench).
const fanoutSpareFiles = 256

// noFileLimit is this process's soft limit of open files (the server and
// the players inherit it).
func noFileLimit() (uint64, bool) {
	var l syscall.Rlimit
	if syscall.Getrlimit(syscall.RLIMIT_NOFILE, &l) != nil {
		return 0, false
	}
	return l.Cur, true
}

// settler asks a bench's server, by a POST to u, to return its freed
// memory to the system before its memory is read.
func settler(ctx context.Context, u string) func() {
	return func() {
		req, _ := http.NewRequestWithContext(ctx, "POST", u, nil)
		if resp, err := http.DefaultClient.Do(req); err == nil {
			resp.Body.Close()
		}
	}
}

// sinceSorted is the time from t0 to each instant (Unix ns), sorted.
func sinceSorted(ats []int64, t0 time.Time) []time.Duration {
	d := make([]time.Duration, 0, len(ats))
	for _, at := range ats {
		d = append(d, time.Duration(at-t0.UnixNano()))
	}
	slices.Sort(d)
	return d
}

// pct is the p-th percentile of sorted values (nearest rank).
func pct(sorted []time.Duration, p int) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := (len(sorted)*p + 99) / 100
	return sorted[max(i-1, 0)]
}

// fanoutSetup makes the organisation, an authority token, the server's
// signing key and N displays with fresh player keys, whose seeds it
// writes to a file for the client processes.
func fanoutSetup(ctx context.Context, dir string, n int) (token string, serverKey ed25519.PublicKey, keysFile, lastID string, err error) {
	a, err := server.OpenAdmin(ctx, dir)
	if err != nil {
		return "", nil, "", "", err
	}
	org, _, err := a.ResolveOrg(ctx, "", "Fan-out bench")
	if err == nil {
		var t auth.Issued
		t, err = a.CreateToken(ctx, org.ID, "fanout bench", store.RoleAuthority, 0)
		token = t.Secret
	}
	a.Close()
	if err != nil {
		return "", nil, "", "", err
	}
	key, err := auth.LoadOrCreateSigningKey(filepath.Join(dir, "server.key"))
	if err != nil {
		return "", nil, "", "", err
	}
	st, err := store.Open(ctx, dir)
	if err != nil {
		return "", nil, "", "", err
	}
	defer st.Close()
	seeds := make([]byte, n*ed25519.SeedSize)
	if _, err := rand.Read(seeds); err != nil {
		return "", nil, "", "", err
	}
	for i := 0; i < n; i++ {
		priv := ed25519.NewKeyFromSeed(seeds[i*ed25519.SeedSize : (i+1)*ed25519.SeedSize])
		if _, err := st.CreateDisplay(ctx, store.Display{OrgID: org.ID, Name: fmt.Sprintf("bench %05d", i),
			PublicKey: priv.Public().(ed25519.PublicKey), Width: 384, Height: 192, Fit: "contain", Background: "#000000"}); err != nil {
			return "", nil, "", "", err
		}
	}
	keysFile = filepath.Join(dir, "player-seeds")
	if err := os.WriteFile(keysFile, seeds, 0o600); err != nil {
		return "", nil, "", "", err
	}
	return token, key.Public().(ed25519.PublicKey), keysFile, lastID, nil
}

// waitIdle waits until the process has used under a tenth of a core
// over two consecutive half seconds.
func waitIdle(ctx context.Context, pid int, within time.Duration) error {
	deadline := time.Now().Add(within)
	prev, err := cpuTicks(pid)
	if err != nil {
		return err
	}
	quiet := 0
	for quiet < 2 {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
		now, err := cpuTicks(pid)
		if err != nil {
			return err
		}
		if now-prev <= 5 { // clock ticks of 10 ms
			quiet++
		} else {
			quiet = 0
		}
		prev = now
		if time.Now().After(deadline) {
			return fmt.Errorf("the server stayed busy for %s", within)
		}
	}
	return nil
}

func clientTicks(cs []*exec.Cmd) int64 {
	var n int64
	for _, c := range cs {
		t, _ := cpuTicks(c.Process.Pid)
		n += t
	}
	return n
}

// cpuTicks is a process's user and system time, in clock ticks.
func cpuTicks(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// The command name may hold spaces: fields count from after ")".
	i := bytes.LastIndexByte(b, ')')
	f := strings.Fields(string(b[i+1:]))
	if i < 0 || len(f) < 13 {
		return 0, errors.New("unexpected /proc stat format")
	}
	u, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, errors.New("unexpected /proc stat format")
	}
	return u + st, nil
}

// clippedLines passes lines through, each cut to max bytes.
type clippedLines struct {
	mu   sync.Mutex
	w    io.Writer
	max  int
	line []byte
}

func (c *clippedLines) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, b := range p {
		if b == '\n' {
			_, _ = c.w.Write(append(c.line, '\n'))
			c.line = c.line[:0]
			continue
		}
		if len(c.line) < c.max {
			c.line = append(c.line, b)
		} else if len(c.line) == c.max {
			c.line = append(c.line, " …"...)
		}
	}
	return len(p), nil
}

func freeLoopbackAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

func waitHealthy(ctx context.Context, base string, exited <-chan struct{}) error {
	for {
		resp, err := http.Get(base + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return nil
			}
		}
		select {
		case <-exited:
			return errors.New("the server exited while starting")
		case <-ctx.Done():
			return fmt.Errorf("the server did not become healthy: %w", ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// vmRSS reads a process's resident set size, in bytes.
func vmRSS(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, l := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(l, "VmRSS:"); ok {
			f := strings.Fields(rest) // "123456 kB"
			if len(f) == 2 && f[1] == "kB" {
				kb, err := strconv.ParseInt(f[0], 10, 64)
				return kb * 1024, err
			}
		}
	}
	return 0, errors.New("no VmRSS in /proc status")
}

// postOverride triggers an override; it returns its id and how long the
// API took to answer.
func postOverride(ctx context.Context, base, token, body string) (string, time.Duration, error) {
	t0 := time.Now()
	req, err := http.NewRequestWithContext(ctx, "POST", base+"/api/v1/overrides", strings.NewReader(body))
	if err != nil {
		return "", 0, err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", 0, err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	answered := time.Since(t0)
	var o struct {
		ID string `json:"id"`
	}
	if resp.StatusCode != http.StatusCreated || json.Unmarshal(b, &o) != nil || o.ID == "" {
		return "", 0, fmt.Errorf("POST /api/v1/overrides: %d %s", resp.StatusCode, bytes.TrimSpace(b[:min(len(b), 300)]))
	}
	return o.ID, answered, nil
}

// paintedAcks reads an override's deliveries through the API and returns,
// for each display whose player acknowledged painting it, the instant the
// server read that ack (updated_at of a delivery in state painted).
func paintedAcks(ctx context.Context, base, token, id string) ([]time.Time, error) {
	var out []time.Time
	cursor := ""
	for {
		u := base + "/api/v1/overrides/" + id + "/deliveries?limit=1000"
		if cursor != "" {
			u += "&cursor=" + url.QueryEscape(cursor)
		}
		req, err := http.NewRequestWithContext(ctx, "GET", u, nil)
		if err != nil {
			return nil, err
		}
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return nil, err
		}
		var page struct {
			Deliveries []struct {
				State     string    `json:"state"`
				UpdatedAt time.Time `json:"updated_at"`
			} `json:"deliveries"`
			Next string `json:"next_cursor"`
		}
		err = json.NewDecoder(resp.Body).Decode(&page)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || err != nil {
			return nil, fmt.Errorf("GET deliveries: %d %v", resp.StatusCode, err)
		}
		for _, d := range page.Deliveries {
			if d.State == "painted" {
				out = append(out, d.UpdatedAt)
			}
		}
		if page.Next == "" {
			return out, nil
		}
		cursor = page.Next
	}
}

// fetchTo saves a GET's body to a file.
func fetchTo(ctx context.Context, u, path string) error {
	req, err := http.NewRequestWithContext(ctx, "GET", u, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", u, resp.Status)
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, resp.Body); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// fanoutAgg gathers the client processes' report lines.
type fanoutAgg struct {
	mu      sync.Mutex
	changed chan struct{} // closed and replaced on every change
	up      int
	fails   []string
	recv    map[string][]int64 // override id → receive instants (Unix ns)
	bad     int
	lost    int
	ended   int // client processes whose output ended
}

func newFanoutAgg() *fanoutAgg {
	return &fanoutAgg{changed: make(chan struct{}), recv: map[string][]int64{}}
}

func (a *fanoutAgg) read(r io.Reader) {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		f := strings.SplitN(sc.Text(), " ", 3)
		a.mu.Lock()
		switch f[0] {
		case "up":
			if len(f) > 1 {
				n, _ := strconv.Atoi(f[1])
				a.up += n
			}
		case "recv":
			if len(f) == 3 {
				at, _ := strconv.ParseInt(f[2], 10, 64)
				a.recv[f[1]] = append(a.recv[f[1]], at)
			}
		case "bad":
			a.bad++
		case "lost":
			a.lost++
		case "fail":
			a.fails = append(a.fails, strings.Join(f[1:], " "))
		}
		a.notifyLocked()
		a.mu.Unlock()
	}
	a.mu.Lock()
	a.ended++
	a.notifyLocked()
	a.mu.Unlock()
}

func (a *fanoutAgg) notifyLocked() {
	close(a.changed)
	a.changed = make(chan struct{})
}

func (a *fanoutAgg) waitUp(ctx context.Context, n int, srvDone <-chan struct{}) error {
	for {
		a.mu.Lock()
		up, fails, ended, ch := a.up, a.fails, a.ended, a.changed
		a.mu.Unlock()
		switch {
		case len(fails) > 0:
			return fmt.Errorf("players: %s", fails[0])
		case up >= n:
			return nil
		case ended > 0:
			return errors.New("a client process ended before its players were up")
		}
		select {
		case <-ch:
		case <-srvDone:
			return errors.New("the server exited")
		case <-ctx.Done():
			return fmt.Errorf("%d of %d players up: %w", up, n, ctx.Err())
		}
	}
}

// waitOverride waits until n players read override id (or within
// passes), and returns their receive instants.
func (a *fanoutAgg) waitOverride(ctx context.Context, id string, n int, within time.Duration) []int64 {
	deadline := time.After(within)
	for {
		a.mu.Lock()
		got, ch := a.recv[id], a.changed
		a.mu.Unlock()
		if len(got) >= n {
			return got
		}
		select {
		case <-ch:
		case <-deadline:
			return got
		case <-ctx.Done():
			return got
		}
	}
}

func (a *fanoutAgg) counts() (bad, lost int) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.bad, a.lost
}
