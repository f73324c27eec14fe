package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"runtime/debug"
	"slices"
	"strconv"
	"sync"
	"syscall"
	"time"

	fiberws "github.com/gofiber/contrib/websocket"
	"github.com/gofiber/fiber/v2"
	"github.com/gorilla/websocket"
)

// `beacon bench broadcast`: the baseline of bench fanout, measured on the
// same machine in the same run. A plain fiber + contrib/websocket server
// (no Beacon: no store, no signatures, no acknowledgements, one sequential
// loop of WriteMessage calls per broadcast) in its own process, N
// gorilla/websocket clients (a goroutine each) in child processes on
// loopback, K broadcasts of a message as large as Beacon's override frame,
// and the time from just before each trigger (an HTTP POST, as Beacon's
// API call) to the instant each client read the message: one way only.
//
// The emergency issue's latency target (p99 ≤ 250 ms at 10,000 players,
// trigger to acknowledgement) was set against this very set-up, which
// reached a p99 of about 200 ms one way where the issue was written. A
// machine's speed moves both figures; their ratio, measured in one run,
// is what carries from one machine to another.

// broadcastFrameBytes is the size of the override frame bench fanout's
// overrides make (812 bytes of WebSocket payload, read off the wire).
const broadcastFrameBytes = 812

type broadcastConfig struct {
	benchProcs
	Messages  int
	Size      int    // message bytes
	LogPrefix string // of the progress lines (default "broadcast")
}

type broadcastResult struct {
	Players       int
	OneWay        []time.Duration // every client's, every message's, sorted
	P50, P99, Max time.Duration
	KBPerConn     float64
	Missing, Lost int
}

func (r broadcastResult) line() string {
	return fmt.Sprintf("broadcast players=%d p50_ms=%.1f p99_ms=%.1f max_ms=%.1f kb_per_conn=%.1f",
		r.Players, ms(r.P50), ms(r.P99), ms(r.Max), r.KBPerConn)
}

func benchBroadcast(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("bench broadcast", flag.ContinueOnError)
	var bp benchProcs
	bp.bind(fs, "clients", "broadcasts")
	k := fs.Int("messages", 3, "broadcasts, one after another")
	size := fs.Int("size", broadcastFrameBytes, "message bytes (default: the size of bench fanout's override frame)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	switch {
	case *k < 1:
		return errors.New("--messages must be at least 1")
	case *size < 64 || *size > 1<<20:
		return errors.New("--size must be between 64 bytes and 1 MiB")
	}
	res, err := runBroadcast(broadcastConfig{benchProcs: bp, Messages: *k, Size: *size})
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, res.line())
	return nil
}

func runBroadcast(cfg broadcastConfig) (res broadcastResult, err error) {
	if err := cfg.defaults(); err != nil {
		return res, err
	}
	if cfg.LogPrefix == "" {
		cfg.LogPrefix = "broadcast"
	}
	if cfg.Size <= 0 {
		cfg.Size = broadcastFrameBytes
	}
	logf := func(format string, a ...any) { fmt.Fprintf(cfg.Log, cfg.LogPrefix+": "+format+"\n", a...) }
	ctx, cancel := context.WithTimeout(context.Background(), cfg.Timeout)
	defer cancel()
	res.Players = cfg.Players

	addr, err := freeLoopbackAddr()
	if err != nil {
		return res, err
	}
	srv := cfg.Command("bench", "broadcast-server", "--listen", addr, "--size", strconv.Itoa(cfg.Size))
	srv.Stdout, srv.Stderr = cfg.Log, cfg.Log
	base := "http://" + addr
	srvDone, stopSrv, err := startServerProc(ctx, srv, base)
	if err != nil {
		return res, err
	}
	defer stopSrv()
	settle := settler(ctx, base+"/free")
	settle()
	rssBefore, err := vmRSS(srv.Process.Pid)
	if err != nil {
		return res, err
	}

	agg := newFanoutAgg()
	kids := &childProcs{agg: agg}
	defer kids.stop()
	began := time.Now()
	per := (cfg.Players + cfg.Procs - 1) / cfg.Procs
	for from := 0; from < cfg.Players; from += per {
		to := min(from+per, cfg.Players)
		c := cfg.Command("bench", "broadcast-clients", "--server", addr, "--from", strconv.Itoa(from), "--to", strconv.Itoa(to))
		c.Stderr = cfg.Log
		if err := kids.start(c); err != nil {
			return res, err
		}
	}
	if err := agg.waitUp(ctx, cfg.Players, srvDone); err != nil {
		return res, err
	}
	logf("%d clients connected in %s (%d client processes)", cfg.Players, time.Since(began).Round(time.Millisecond), len(kids.cmds))
	if err := waitIdle(ctx, srv.Process.Pid, time.Minute); err != nil {
		return res, err
	}
	settle()
	rssAfter, err := vmRSS(srv.Process.Pid)
	if err != nil {
		return res, err
	}
	res.KBPerConn = float64(rssAfter-rssBefore) / 1024 / float64(cfg.Players)
	logf("server RSS with %d idle connections %.1f MB: %.1f KB per connection", cfg.Players, float64(rssAfter)/(1<<20), res.KBPerConn)

	for i := 0; i < cfg.Messages; i++ {
		if i > 0 {
			if err := waitIdle(ctx, srv.Process.Pid, time.Minute); err != nil {
				return res, err
			}
			time.Sleep(cfg.Spacing)
		}
		id := fmt.Sprintf("msg%d", i+1)
		t0 := time.Now()
		sent, answered, err := postBroadcast(ctx, base, id)
		if err != nil {
			return res, fmt.Errorf("broadcast %d: %w", i+1, err)
		}
		lat := sinceSorted(agg.waitOverride(ctx, id, cfg.Players, 60*time.Second), t0)
		res.Missing += cfg.Players - len(lat)
		if len(lat) == 0 {
			return res, fmt.Errorf("broadcast %d: no client got it", i+1)
		}
		logf("broadcast %d/%d to %d connections: %d/%d read, first %.1f ms, p50 %.1f ms, p99 %.1f ms, max %.1f ms; the loop of writes ended after %.1f ms",
			i+1, cfg.Messages, sent, len(lat), cfg.Players, ms(lat[0]), ms(pct(lat, 50)), ms(pct(lat, 99)), ms(lat[len(lat)-1]), ms(answered))
		res.OneWay = append(res.OneWay, lat...)
	}
	slices.Sort(res.OneWay)
	res.P50, res.P99, res.Max = pct(res.OneWay, 50), pct(res.OneWay, 99), res.OneWay[len(res.OneWay)-1]
	bad, lost := agg.counts()
	res.Lost = lost
	if res.Missing > 0 || res.Lost > 0 || bad > 0 {
		return res, fmt.Errorf("%d messages not read, %d undecodable, %d connections lost (%s)", res.Missing, bad, res.Lost, res.line())
	}
	return res, nil
}

// postBroadcast asks the baseline server to broadcast message id; it
// answers once its loop of writes has ended.
func postBroadcast(ctx context.Context, base, id string) (sent int, took time.Duration, err error) {
	t0 := time.Now()
	req, _ := http.NewRequestWithContext(ctx, "POST", base+"/broadcast?id="+id, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, 0, err
	}
	defer resp.Body.Close()
	took = time.Since(t0)
	var body struct {
		Sent, Failed int
	}
	if resp.StatusCode != 200 {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return 0, took, fmt.Errorf("%s: %s", resp.Status, bytes.TrimSpace(b))
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		return 0, took, err
	}
	if body.Failed > 0 {
		return body.Sent, took, fmt.Errorf("%d writes failed", body.Failed)
	}
	return body.Sent, took, nil
}

// broadcastMessage is the baseline's message: JSON, padded to size bytes.
func broadcastMessage(id string, size int) []byte {
	b := fmt.Appendf(nil, `{"type":"broadcast","id":%q,"pad":"`, id)
	for len(b) < size-2 {
		b = append(b, 'x')
	}
	return append(b, `"}`...)
}

// broadcastServerCmd is the baseline's server (a child process): fiber
// and contrib/websocket as their documentation shows them, a set of
// connections under a mutex, and a broadcast that writes the message to
// each connection in turn.
func broadcastServerCmd(args []string) error {
	fs := flag.NewFlagSet("bench broadcast-server", flag.ContinueOnError)
	listen := fs.String("listen", "127.0.0.1:0", "address")
	size := fs.Int("size", broadcastFrameBytes, "message bytes")
	if err := fs.Parse(args); err != nil {
		return err
	}
	var mu sync.Mutex
	conns := map[*fiberws.Conn]struct{}{}
	app := fiber.New(fiber.Config{DisableStartupMessage: true})
	app.Get("/healthz", func(c *fiber.Ctx) error { return c.SendString("ok") })
	app.Post("/free", func(c *fiber.Ctx) error {
		debug.FreeOSMemory()
		return c.SendStatus(http.StatusNoContent)
	})
	app.Post("/broadcast", func(c *fiber.Ctx) error {
		msg := broadcastMessage(c.Query("id"), *size)
		mu.Lock()
		list := make([]*fiberws.Conn, 0, len(conns))
		for ws := range conns {
			list = append(list, ws)
		}
		mu.Unlock()
		failed := 0
		for _, ws := range list {
			if err := ws.WriteMessage(fiberws.TextMessage, msg); err != nil {
				failed++
			}
		}
		return c.JSON(fiber.Map{"sent": len(list) - failed, "failed": failed})
	})
	app.Use("/ws", func(c *fiber.Ctx) error {
		if fiberws.IsWebSocketUpgrade(c) {
			return c.Next()
		}
		return fiber.ErrUpgradeRequired
	})
	app.Get("/ws", fiberws.New(func(ws *fiberws.Conn) {
		mu.Lock()
		conns[ws] = struct{}{}
		mu.Unlock()
		defer func() {
			mu.Lock()
			delete(conns, ws)
			mu.Unlock()
		}()
		for {
			if _, _, err := ws.ReadMessage(); err != nil {
				return
			}
		}
	}))
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return err
	}
	go func() {
		<-terminated()
		_ = app.Shutdown()
	}()
	return app.Listener(ln)
}

// terminated is closed on SIGTERM or SIGINT.
func terminated() <-chan struct{} {
	ch := make(chan struct{})
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, os.Interrupt)
	go func() {
		<-sig
		close(ch)
	}()
	return ch
}

// broadcastClientsCmd runs the baseline's clients (a child process): one
// gorilla/websocket connection and goroutine each, which decodes every
// message and reports the instant it read it (the fan-out bench's line
// format: up N, recv ID UNIX_NS, lost, fail REASON). They end when stdin
// closes.
func broadcastClientsCmd(args []string, stdin io.Reader, stdout io.Writer) error {
	fs := flag.NewFlagSet("bench broadcast-clients", flag.ContinueOnError)
	addr := fs.String("server", "", "the server's host:port")
	from := fs.Int("from", 0, "first client's index (picks its source address)")
	to := fs.Int("to", 0, "after the last client's index")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *addr == "" || *to <= *from {
		return errors.New("--server and --to > --from are needed")
	}
	raiseNoFile()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	out := &lineWriter{w: bufio.NewWriterSize(stdout, 64<<10)}
	defer out.flush()
	go out.flushEvery(ctx, 20*time.Millisecond)
	n := *to - *from
	conns := make([]*websocket.Conn, n)
	defer func() {
		for _, c := range conns {
			if c != nil {
				c.Close()
			}
		}
	}()
	sem := make(chan struct{}, 64)
	var wg sync.WaitGroup
	var failMu sync.Mutex
	var failed error
	for i := range n {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			d := websocket.Dialer{HandshakeTimeout: 30 * time.Second}
			if src := sourceAddr(*from + i); src != nil {
				d.NetDial = func(network, a string) (net.Conn, error) {
					return (&net.Dialer{LocalAddr: &net.TCPAddr{IP: src}}).Dial(network, a)
				}
			}
			var err error
			for try := 0; try < 5; try++ {
				var c *websocket.Conn
				if c, _, err = d.Dial("ws://"+*addr+"/ws", nil); err == nil {
					conns[i] = c
					return
				}
				time.Sleep(time.Duration(200*(try+1)) * time.Millisecond)
			}
			failMu.Lock()
			if failed == nil {
				failed = fmt.Errorf("client %d: %w", *from+i, err)
			}
			failMu.Unlock()
		}()
	}
	wg.Wait()
	if failed != nil {
		out.printf("fail %s\n", failed)
		return failed
	}
	for _, c := range conns {
		go func() {
			var m struct {
				ID string `json:"id"`
			}
			for {
				_, b, err := c.ReadMessage()
				if err != nil {
					if ctx.Err() == nil {
						out.printf("lost %s\n", err)
					}
					return
				}
				at := time.Now().UnixNano()
				if json.Unmarshal(b, &m) != nil {
					out.printf("bad undecodable\n")
					continue
				}
				out.printf("recv %s %d\n", m.ID, at)
			}
		}()
	}
	out.printf("up %d\n", n)
	out.flush()
	_, _ = io.Copy(io.Discard, stdin)
	cancel()
	return nil
}
