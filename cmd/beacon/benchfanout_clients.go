package main

import (
	"bufio"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"net"
	"os"
	"runtime/debug"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/gorilla/websocket"

	"beacon/protocol"
)

// The simulated players of `beacon bench fanout`, run in a child process
// (`beacon bench fanout-clients`, not listed in the usage) so that the
// server's memory is measured alone. Each is a real protocol client: the
// hello with capability "override", the server's challenge checked
// against the pinned key, the signed auth; then it reads, checks every
// override's signature with the server's key and answers override_ack
// received and painted at once, in one write (painted_at = the instant the
// frame was read). The players' CPU poses as server latency on a shared
// machine, so each distinct frame is decoded and verified once per
// process and its copies are known by their bytes (--verify-each: every
// copy in full), and the acks are written without reflection. What the
// bench process needs is written to stdout, one line each:
//
//	up COUNT                  every client of this process is authenticated
//	recv OVERRIDE_ID UNIXNANO a client read an override frame (verified)
//	bad OVERRIDE_ID REASON    an override frame that did not verify
//	lost INDEX REASON         a connection ended while the bench ran
//	fail REASON               setup failed; the process exits 1

// fanoutClientsConfig configures one client process.
type fanoutClientsConfig struct {
	Addr        string            // host:port of the server
	ServerKey   ed25519.PublicKey // pinned
	Seeds       [][]byte          // one Ed25519 seed per client
	Concurrency int               // handshakes in flight
	VerifyEach  bool              // verify every copy, not each distinct frame once
	First       int               // index of the first seed (names the source address)
	CPUProfile  string            // file for a CPU profile from "up" to the end ("": none)
	Goroutines  bool              // a goroutine and a gorilla/websocket connection per client, not event loops
}

func fanoutClientsCmd(args []string, stdin io.Reader, stdout io.Writer) error {
	fs := flag.NewFlagSet("bench fanout-clients", flag.ContinueOnError)
	addr := fs.String("server", "", "host:port of the server")
	keyHex := fs.String("server-key", "", "the server's Ed25519 public key, hex")
	keys := fs.String("keys", "", "file of 32-byte Ed25519 seeds, one client each")
	from := fs.Int("from", 0, "first seed (index) of this process")
	to := fs.Int("to", 0, "end of this process's seeds (exclusive)")
	conc := fs.Int("concurrency", 64, "handshakes in flight")
	verifyEach := fs.Bool("verify-each", false, "verify every copy of a frame (default: each distinct signed frame once per process)")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the clients, from when all are up, to this file")
	goroutines := fs.Bool("goroutines", false, "a goroutine and a gorilla/websocket connection per client (default: event loops)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	raiseNoFile()
	// These players stand in for a fleet of devices, each with its own
	// CPU; here they share the server's two cores, and their collector,
	// which scans all 10,000 goroutines' stacks each cycle (and shrinks
	// them, to grow again at the next frame), took about a third of their
	// CPU during a fan-out. A bench run allocates a few hundred MB at
	// most: the collector runs only past clientMemoryLimit.
	debug.SetGCPercent(-1)
	debug.SetMemoryLimit(clientMemoryLimit)
	key, err := hex.DecodeString(*keyHex)
	if err != nil || len(key) != ed25519.PublicKeySize {
		return errors.New("--server-key: want 64 hex digits")
	}
	raw, err := os.ReadFile(*keys)
	if err != nil {
		return err
	}
	if *from < 0 || *to < *from || *to*ed25519.SeedSize > len(raw) {
		return fmt.Errorf("--from %d --to %d: the keys file holds %d seeds", *from, *to, len(raw)/ed25519.SeedSize)
	}
	cfg := fanoutClientsConfig{Addr: *addr, ServerKey: key, Concurrency: *conc, VerifyEach: *verifyEach, First: *from, CPUProfile: *cpuProfile, Goroutines: *goroutines}
	for i := *from; i < *to; i++ {
		cfg.Seeds = append(cfg.Seeds, raw[i*ed25519.SeedSize:(i+1)*ed25519.SeedSize])
	}
	// The bench process closes stdin when it is done (or dies).
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		_, _ = io.Copy(io.Discard, stdin)
		cancel()
	}()
	return runFanoutClients(ctx, cfg, stdout)
}

// clientMemoryLimit is the heap a client process grows to before it
// collects garbage.
const clientMemoryLimit = 2 << 30

// raiseNoFile lifts the limit of open files: every connection is a
// descriptor, on both sides. A process allowed to (root) raises the hard
// limit too, to the system's maximum (fs.nr_open), so that 50,000 players
// fit; otherwise the soft limit goes to the hard one.
func raiseNoFile() {
	var l syscall.Rlimit
	if syscall.Getrlimit(syscall.RLIMIT_NOFILE, &l) != nil {
		return
	}
	if b, err := os.ReadFile("/proc/sys/fs/nr_open"); err == nil {
		if n, err := strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64); err == nil && n > l.Max {
			if syscall.Setrlimit(syscall.RLIMIT_NOFILE, &syscall.Rlimit{Cur: n, Max: n}) == nil {
				return
			}
		}
	}
	if l.Cur < l.Max {
		l.Cur = l.Max
		_ = syscall.Setrlimit(syscall.RLIMIT_NOFILE, &l)
	}
}

// sourceAddr spreads the players over loopback source addresses,
// 127.0.0.1 for the first 20,000 and one more address per 20,000 after
// that: one source address has about 28,000 ephemeral ports towards the
// server's address.
func sourceAddr(i int) net.IP {
	if i < 20000 {
		return nil
	}
	return net.IPv4(127, 0, 0, byte(1+i/20000))
}

// lineWriter serialises the report lines of many goroutines and flushes
// them often (the timestamps inside are what count, not when they pass).
type lineWriter struct {
	mu sync.Mutex
	w  *bufio.Writer
}

func (l *lineWriter) printf(format string, args ...any) {
	l.mu.Lock()
	fmt.Fprintf(l.w, format, args...)
	l.mu.Unlock()
}

// write writes one whole line.
func (l *lineWriter) write(line []byte) {
	l.mu.Lock()
	_, _ = l.w.Write(line)
	l.mu.Unlock()
}

func (l *lineWriter) flush() {
	l.mu.Lock()
	_ = l.w.Flush()
	l.mu.Unlock()
}

// flushEvery flushes every d until ctx ends.
func (l *lineWriter) flushEvery(ctx context.Context, d time.Duration) {
	t := time.NewTicker(d)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			l.flush()
		}
	}
}

// verifier checks override signatures. Every client gets the same bytes
// (the server frames a broadcast once), so by default each distinct
// (payload, signature) is verified once per process and the other copies
// are compared byte for byte: the clients' CPU would otherwise pose as
// server latency on a shared machine.
type verifier struct {
	key  ed25519.PublicKey
	each bool
	mu   sync.Mutex
	seen map[string]verified
}

type verified struct {
	spec protocol.OverrideSpec
	err  error
}

func (v *verifier) verify(so protocol.SignedOverride) (protocol.OverrideSpec, error) {
	if v.each {
		return protocol.VerifyOverride(v.key, so)
	}
	k := string(so.Payload) + "\x00" + string(so.Signature) + "\x00" + so.KeyID
	v.mu.Lock()
	r, ok := v.seen[k]
	v.mu.Unlock()
	if !ok {
		r.spec, r.err = protocol.VerifyOverride(v.key, so)
		v.mu.Lock()
		v.seen[k] = r
		v.mu.Unlock()
	}
	return r.spec, r.err
}

func runFanoutClients(ctx context.Context, cfg fanoutClientsConfig, stdout io.Writer) error {
	out := &lineWriter{w: bufio.NewWriterSize(stdout, 64<<10)}
	defer out.flush()
	go out.flushEvery(ctx, 20*time.Millisecond)
	v := &verifier{key: cfg.ServerKey, each: cfg.VerifyEach, seen: map[string]verified{}}
	if cfg.Concurrency <= 0 {
		cfg.Concurrency = 64
	}
	if !cfg.Goroutines {
		return runRawClients(ctx, cfg, out, v)
	}
	conns := make([]*websocket.Conn, len(cfg.Seeds))
	defer func() {
		for _, c := range conns {
			if c != nil {
				c.Close()
			}
		}
	}()
	err := connectAll(ctx, cfg, func(i int, priv ed25519.PrivateKey) error {
		c, err := fanoutHandshake(ctx, cfg.Addr, cfg.ServerKey, priv, sourceAddr(cfg.First+i))
		conns[i] = c
		return err
	})
	if err != nil {
		out.printf("fail %s\n", err)
		return err
	}
	memo := &frameMemo{each: cfg.VerifyEach}
	for i, c := range conns {
		go fanoutRead(ctx, i, c, v, memo, out)
	}
	return clientsUp(ctx, cfg, out, len(conns))
}

// connectAll runs connect for every client, cfg.Concurrency at a time,
// each tried up to five times; it returns the first client's error that
// remained after its tries (the others' handshakes still end first).
func connectAll(ctx context.Context, cfg fanoutClientsConfig, connect func(i int, priv ed25519.PrivateKey) error) error {
	sem := make(chan struct{}, cfg.Concurrency)
	errc := make(chan error, 1)
	var wg sync.WaitGroup
	defer wg.Wait()
	for i, seed := range cfg.Seeds {
		select {
		case sem <- struct{}{}:
		case err := <-errc:
			return err
		case <-ctx.Done():
			return ctx.Err()
		}
		wg.Add(1)
		go func(i int, priv ed25519.PrivateKey) {
			defer wg.Done()
			defer func() { <-sem }()
			var err error
			for try := 0; try < 5; try++ {
				if err = connect(i, priv); err == nil {
					return
				}
				time.Sleep(time.Duration(200*(try+1)) * time.Millisecond)
			}
			select {
			case errc <- fmt.Errorf("client %d: %w", i, err):
			default:
			}
		}(i, ed25519.NewKeyFromSeed(seed))
	}
	wg.Wait()
	select {
	case err := <-errc:
		return err
	default:
		return nil
	}
}

// clientsUp reports the clients up (after starting the CPU profile, if
// one is asked for) and waits for the end of the bench.
func clientsUp(ctx context.Context, cfg fanoutClientsConfig, out *lineWriter, n int) error {
	if cfg.CPUProfile != "" {
		f, err := os.Create(cfg.CPUProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	out.printf("up %d\n", n)
	out.flush()
	<-ctx.Done()
	return nil
}

// runRawClients runs the clients on event loops (see rawLoop).
func runRawClients(ctx context.Context, cfg fanoutClientsConfig, out *lineWriter, v *verifier) error {
	type up struct {
		fd      int
		pending []byte
	}
	ups := make([]up, len(cfg.Seeds))
	for i := range ups {
		ups[i].fd = -1
	}
	defer func() {
		for _, u := range ups {
			if u.fd >= 0 {
				syscall.Close(u.fd)
			}
		}
	}()
	err := connectAll(ctx, cfg, func(i int, priv ed25519.PrivateKey) error {
		var err error
		ups[i].fd, ups[i].pending, err = rawHandshake(cfg.Addr, cfg.ServerKey, priv, sourceAddr(cfg.First+i))
		return err
	})
	if err != nil {
		out.printf("fail %s\n", err)
		return err
	}
	memo := &frameMemo{each: cfg.VerifyEach}
	loops := make([]*rawLoop, max(1, min(rawLoops, len(ups))))
	for k := range loops {
		l, err := newRawLoop(v, memo, out)
		if err != nil {
			return err
		}
		loops[k] = l
	}
	for i := range ups {
		l := loops[i%len(loops)]
		if err := l.add(ctx, &rawConn{i: i, fd: ups[i].fd}, ups[i].pending); err != nil {
			return err
		}
		ups[i].fd = -1 // the loop closes it
	}
	var running sync.WaitGroup
	for _, l := range loops {
		running.Add(1)
		go func() {
			defer running.Done()
			l.run(ctx)
		}()
	}
	defer running.Wait()
	return clientsUp(ctx, cfg, out, len(ups))
}

// rawLoops is how many event loops a client process runs (one per core
// of the machine the bench was made for).
const rawLoops = 2

// fanoutHandshake connects and authenticates one player.
func fanoutHandshake(ctx context.Context, addr string, serverKey ed25519.PublicKey, priv ed25519.PrivateKey, from net.IP) (*websocket.Conn, error) {
	d := websocket.Dialer{Subprotocols: []string{protocol.Subprotocol}, HandshakeTimeout: 30 * time.Second,
		ReadBufferSize: 2048, WriteBufferSize: 1024}
	if from != nil {
		nd := &net.Dialer{LocalAddr: &net.TCPAddr{IP: from}}
		d.NetDialContext = nd.DialContext
	}
	c, _, err := d.DialContext(ctx, "ws://"+addr+protocol.WSPath, nil)
	if err != nil {
		return nil, err
	}
	fail := func(err error) (*websocket.Conn, error) {
		c.Close()
		return nil, err
	}
	send := func(typ string, body any) error {
		b, err := protocol.Encode(typ, body)
		if err != nil {
			return err
		}
		return c.WriteMessage(websocket.TextMessage, b)
	}
	pub := priv.Public().(ed25519.PublicKey)
	nonce := make([]byte, protocol.NonceSize)
	_, _ = rand.Read(nonce)
	if err := send(protocol.TypeHello, protocol.Hello{ProtocolVersion: 1, PlayerVersion: "bench", PublicKey: pub, Nonce: nonce,
		Capabilities: []string{protocol.CapOverride}}); err != nil {
		return fail(err)
	}
	_ = c.SetReadDeadline(time.Now().Add(60 * time.Second))
	authed := false
	for !authed {
		_, frame, err := c.ReadMessage()
		if err != nil {
			return fail(err)
		}
		if authed, err = authStep(frame, serverKey, priv, nonce, send); err != nil {
			return fail(err)
		}
	}
	_ = c.SetReadDeadline(time.Time{})
	return c, nil
}

// authStep handles a frame of the handshake after hello: it answers the
// challenge, checked against the pinned key, with the signed auth; done
// on auth_ok.
func authStep(frame []byte, serverKey ed25519.PublicKey, priv ed25519.PrivateKey, nonce []byte, send func(typ string, body any) error) (done bool, err error) {
	env, err := protocol.Decode(frame)
	if err != nil {
		return false, err
	}
	switch env.Type {
	case protocol.TypeChallenge:
		var ch protocol.Challenge
		if err := env.DecodeBody(&ch); err != nil {
			return false, err
		}
		if err := protocol.VerifyChallenge(serverKey, priv.Public().(ed25519.PublicKey), nonce, ch); err != nil {
			return false, fmt.Errorf("challenge: %w", err)
		}
		return false, send(protocol.TypeAuth, protocol.SignAuth(priv, ch))
	case protocol.TypeAuthOK:
		return true, nil
	case protocol.TypePairing:
		return false, errors.New("the server does not know this key (sent a pairing code)")
	case protocol.TypeError:
		return false, fmt.Errorf("server error: %s", env.Body)
	}
	return false, nil
}

// fanoutRead reads one client's frames until the bench ends. Every write
// after the handshake is made by this goroutine (the acks, and gorilla's
// pongs from inside the reads), so the acks may go to the connection
// beneath gorilla's.
func fanoutRead(ctx context.Context, i int, c *websocket.Conn, v *verifier, memo *frameMemo, out *lineWriter) {
	for {
		_, r, err := c.NextReader()
		if err == nil {
			sc := scratchPool.Get().(*fanoutScratch)
			err = fanoutAnswer(r, c.NetConn(), v, memo, out, sc)
			scratchPool.Put(sc)
		}
		if err != nil {
			if ctx.Err() == nil {
				out.printf("lost %d %s\n", i, oneLine(err.Error()))
			}
			return
		}
	}
}

// fanoutAnswer reads the rest of one message and, for an override that
// verifies, reports it and sends its acks on nc; an error ends the client.
func fanoutAnswer(r io.Reader, nc net.Conn, v *verifier, memo *frameMemo, out *lineWriter, sc *fanoutScratch) error {
	var err error
	sc.frame, err = readMessage(r, sc.frame)
	at := time.Now()
	if err != nil {
		return err
	}
	res := memo.lookup(sc.frame)
	if res == nil {
		res = decodeOverrideFrame(sc.frame, v)
		if res.override {
			memo.store(sc.frame, res)
		}
	}
	if !res.override {
		return nil
	}
	if res.err != nil {
		out.printf("bad ? %s\n", oneLine(res.err.Error()))
		return nil
	}
	sc.line = append(append(append(sc.line[:0], "recv "...), res.spec.ID...), ' ')
	sc.line = append(strconv.AppendInt(sc.line, at.UnixNano(), 10), '\n')
	out.write(sc.line)
	sc.out = appendAcks(sc.out[:0], sc, res.spec, at.UTC(), time.Now().UTC())
	// Both acks in one write, received then painted. As gorilla does
	// before each write, the write deadline is set (to none): a pong
	// leaves one behind.
	if err := nc.SetWriteDeadline(time.Time{}); err != nil {
		return err
	}
	_, err = nc.Write(sc.out)
	return err
}

// appendAcks appends a client's two acks of an override read at at,
// received then painted (painted_at = at), as masked frames.
func appendAcks(b []byte, sc *fanoutScratch, spec protocol.OverrideSpec, at, now time.Time) []byte {
	for _, ack := range [...]protocol.OverrideAck{
		{ID: spec.ID, Revision: spec.Revision, State: protocol.AckReceived, At: at},
		{ID: spec.ID, Revision: spec.Revision, State: protocol.AckPainted, At: at, PaintedAt: at},
	} {
		sc.msg = appendOverrideAck(sc.msg[:0], fanoutMsgID(), now, ack)
		b = appendClientTextFrame(b, sc.msg, fanoutMask())
	}
	return b
}

// fanoutScratch holds one client's buffers while it handles a frame; an
// idle client holds none.
type fanoutScratch struct {
	frame, msg, out, line []byte
}

var scratchPool = sync.Pool{New: func() any {
	return &fanoutScratch{frame: make([]byte, 0, 4096), msg: make([]byte, 0, 512), out: make([]byte, 0, 1024), line: make([]byte, 0, 64)}
}}

// readMessage reads the rest of a message into b (reused), as
// websocket.ReadMessage does into a fresh slice.
func readMessage(r io.Reader, b []byte) ([]byte, error) {
	b = b[:0]
	for {
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)]
		}
		n, err := r.Read(b[len(b):cap(b)])
		b = b[:len(b)+n]
		if err == io.EOF {
			return b, nil
		}
		if err != nil {
			return b, err
		}
	}
}

// frameResult is what a frame from the server told a client: whether it
// is an override, and if so the verified spec or why it did not verify.
type frameResult struct {
	override bool
	spec     protocol.OverrideSpec
	err      error
}

// decodeOverrideFrame decodes a frame as protocol.Decode and DecodeBody do
// and verifies an override's signature.
func decodeOverrideFrame(frame []byte, v *verifier) *frameResult {
	env, err := protocol.Decode(frame)
	if err != nil || env.Type != protocol.TypeOverride {
		return &frameResult{}
	}
	var so protocol.SignedOverride
	if err := env.DecodeBody(&so); err != nil {
		return &frameResult{override: true, err: err}
	}
	spec, err := v.verify(so)
	return &frameResult{override: true, spec: spec, err: err}
}

// frameMemo remembers what each distinct override frame said, by its
// bytes: the server frames a broadcast once and every client of the
// process reads the same bytes, which are decoded and verified once and
// recognised by a map lookup after that (other frames, such as each
// display's manifest, are not remembered). A memo with each set (--verify-each) remembers
// nothing. The map is replaced, never changed, so readers take no lock.
type frameMemo struct {
	each bool
	mu   sync.Mutex
	m    atomic.Pointer[map[string]*frameResult]
}

// frameMemoMax bounds the frames remembered (a bench sends a few overrides).
const frameMemoMax = 256

func (f *frameMemo) lookup(frame []byte) *frameResult {
	if f.each {
		return nil
	}
	if m := f.m.Load(); m != nil {
		return (*m)[string(frame)]
	}
	return nil
}

func (f *frameMemo) store(frame []byte, r *frameResult) {
	if f.each || len(frame) > protocol.MaxFrameSize {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	old := f.m.Load()
	if old != nil && (len(*old) >= frameMemoMax || (*old)[string(frame)] != nil) {
		return
	}
	m := make(map[string]*frameResult, 1+lenMap(old))
	if old != nil {
		for k, v := range *old {
			m[k] = v
		}
	}
	m[string(frame)] = r
	f.m.Store(&m)
}

func lenMap(m *map[string]*frameResult) int {
	if m == nil {
		return 0
	}
	return len(*m)
}

// fanoutMsgID is a fresh message id, 16 hex digits as protocol.NewID
// writes them, from the runtime's generator (no system call).
func fanoutMsgID() uint64 { return mrand.Uint64() }

// fanoutMask is a fresh masking key for a client frame.
func fanoutMask() uint32 { return mrand.Uint32() }

// appendOverrideAck appends the override_ack frame protocol.Encode would
// produce for ack (the same fields in the same order, the times in RFC
// 3339 as encoding/json writes them) with message id id and timestamp ts,
// without reflection: a fleet sends two per override.
func appendOverrideAck(b []byte, id uint64, ts time.Time, ack protocol.OverrideAck) []byte {
	b = append(b, `{"type":"`+protocol.TypeOverrideAck+`","id":"`...)
	var idb [8]byte
	binary.BigEndian.PutUint64(idb[:], id)
	b = hex.AppendEncode(b, idb[:])
	b = append(b, `","ts":"`...)
	b = ts.AppendFormat(b, time.RFC3339Nano)
	b = append(b, `","body":{"id":`...)
	b = appendJSONString(b, ack.ID)
	b = append(b, `,"revision":`...)
	b = strconv.AppendInt(b, ack.Revision, 10)
	b = append(b, `,"state":`...)
	b = appendJSONString(b, ack.State)
	b = append(b, `,"at":"`...)
	b = ack.At.AppendFormat(b, time.RFC3339Nano)
	b = append(b, '"')
	if !ack.PaintedAt.IsZero() {
		b = append(b, `,"painted_at":"`...)
		b = ack.PaintedAt.AppendFormat(b, time.RFC3339Nano)
		b = append(b, '"')
	}
	if ack.Error != "" {
		b = append(b, `,"error":`...)
		b = appendJSONString(b, ack.Error)
	}
	return append(b, "}}"...)
}

// appendJSONString appends s as a JSON string, as encoding/json writes it.
func appendJSONString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			q, _ := json.Marshal(s)
			return append(b, q...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

// appendClientTextFrame appends one final text frame as a client sends it
// (RFC 6455 §5.2–5.3): masked with key, the payload length in the
// shortest form.
func appendClientTextFrame(b, payload []byte, key uint32) []byte {
	b = append(b, 0x80|websocket.TextMessage)
	switch n := len(payload); {
	case n < 126:
		b = append(b, 0x80|byte(n))
	case n <= 0xffff:
		b = append(b, 0x80|126, byte(n>>8), byte(n))
	default:
		b = append(b, 0x80|127)
		b = binary.BigEndian.AppendUint64(b, uint64(n))
	}
	var k [4]byte
	binary.LittleEndian.PutUint32(k[:], key)
	b = append(b, k[:]...)
	start := len(b)
	b = append(b, payload...)
	p := b[start:]
	k8 := uint64(key) | uint64(key)<<32
	j := 0
	for ; j+8 <= len(p); j += 8 {
		binary.LittleEndian.PutUint64(p[j:], binary.LittleEndian.Uint64(p[j:])^k8)
	}
	for ; j < len(p); j++ {
		p[j] ^= k[j&3]
	}
	return b
}

func oneLine(s string) string { return strconv.Quote(s) }
