package bus_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"io"
	"net"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"beacon/server/bus"
	"beacon/server/bus/bustest"
)

// redisURL returns the test Redis (BEACON_TEST_REDIS_URL, by default the
// local one on 127.0.0.1:6379). Unreachable, the test is skipped, except
// in CI where it fails: CI starts Redis (scripts/services.sh).
func redisURL(t testing.TB) string {
	t.Helper()
	url := os.Getenv("BEACON_TEST_REDIS_URL")
	if url == "" {
		url = "redis://127.0.0.1:6379/0"
	}
	o, err := redis.ParseURL(url)
	if err != nil {
		t.Fatalf("BEACON_TEST_REDIS_URL: %v", err)
	}
	c, err := net.DialTimeout("tcp", o.Addr, 2*time.Second)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("Redis is not reachable at %s (%v); CI must start it (scripts/services.sh)", o.Addr, err)
		}
		t.Skipf("Redis is not reachable at %s (%v): start redis-server to run this test", o.Addr, err)
	}
	c.Close()
	return url
}

func uniquePrefix(t testing.TB) string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return "beacontest:" + strings.ReplaceAll(t.Name(), " ", "_") + ":" + hex.EncodeToString(b[:]) + ":"
}

// redisCluster connects every Bus of one test to the test Redis under a
// channel prefix of its own, optionally through a proxy address.
func redisCluster(t *testing.T) func(opts ...bus.Option) bus.Bus {
	url, prefix := redisURL(t), uniquePrefix(t)
	return func(opts ...bus.Option) bus.Bus {
		return newRedis(t, url, append([]bus.Option{bus.WithPrefix(prefix)}, opts...)...)
	}
}

func newRedis(t testing.TB, url string, opts ...bus.Option) *bus.Redis {
	t.Helper()
	b, err := bus.NewRedis(url, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

func TestRedisConformance(t *testing.T) { bustest.Run(t, redisCluster) }

func TestRedisBadURL(t *testing.T) {
	for _, u := range []string{"", "http://127.0.0.1:6379", "redis://127.0.0.1:6379/notadb"} {
		if b, err := bus.NewRedis(u); err == nil {
			b.Close()
			t.Errorf("NewRedis(%q) accepted", u)
		}
	}
	if _, err := bus.NewRedis("redis://127.0.0.1:6379", bus.WithOrigin(strings.Repeat("o", 256))); err == nil {
		t.Error("an origin of 256 bytes was accepted")
	}
}

// Something else publishing on the namespace is dropped and counted, not
// delivered as garbage.
func TestRedisForeignMessagesDropped(t *testing.T) {
	url, prefix := redisURL(t), uniquePrefix(t)
	b := newRedis(t, url, bus.WithPrefix(prefix))
	s, err := b.Subscribe(context.Background(), "t")
	if err != nil {
		t.Fatal(err)
	}
	bustest.WaitReady(t, s)
	admin := adminClient(t, url)
	for _, raw := range []string{"", "plain text", "\x01\x09short"} {
		if err := admin.Publish(context.Background(), prefix+"t", raw).Err(); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.Publish(context.Background(), "t", []byte("ok")); err != nil {
		t.Fatal(err)
	}
	if m := bustest.NextMessage(t, s); string(m.Payload) != "ok" {
		t.Fatalf("got %q", m.Payload)
	}
	if n := b.Malformed(); n != 3 {
		t.Errorf("Malformed() = %d, want 3", n)
	}
}

func adminClient(t testing.TB, url string) *redis.Client {
	o, err := redis.ParseURL(url)
	if err != nil {
		t.Fatal(err)
	}
	c := redis.NewClient(o)
	t.Cleanup(func() { c.Close() })
	return c
}

// Redis kills the subscriber connection (as it does to a subscriber past
// its output buffer limit): the bus reconnects, says Ready again, and
// delivers afterwards.
func TestRedisReconnectAfterClientKill(t *testing.T) {
	url, prefix := redisURL(t), uniquePrefix(t)
	origin := "kill-" + prefix[len(prefix)-13:len(prefix)-1]
	sub := newRedis(t, url, bus.WithPrefix(prefix), bus.WithOrigin(origin))
	pub := newRedis(t, url, bus.WithPrefix(prefix))
	s, err := sub.Subscribe(context.Background(), "t")
	if err != nil {
		t.Fatal(err)
	}
	bustest.WaitReady(t, s)

	admin := adminClient(t, url)
	list, err := admin.ClientList(context.Background()).Result()
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, line := range strings.Split(list, "\n") {
		f := fields(line)
		if f["name"] == "beacon-bus-"+origin && strings.Contains(f["flags"], "P") {
			ids = append(ids, f["id"])
		}
	}
	if len(ids) != 1 {
		t.Fatalf("found %d subscriber connections named beacon-bus-%s, want 1", len(ids), origin)
	}
	if err := admin.Do(context.Background(), "CLIENT", "KILL", "ID", ids[0]).Err(); err != nil {
		t.Fatal(err)
	}
	if e := bustest.Next(t, s); e.Kind != bus.Ready {
		t.Fatalf("after the kill: %v, want ready", e.Kind)
	}
	if err := pub.Publish(context.Background(), "t", []byte("again")); err != nil {
		t.Fatal(err)
	}
	if m := bustest.NextMessage(t, s); string(m.Payload) != "again" {
		t.Fatalf("got %q", m.Payload)
	}
}

func fields(line string) map[string]string {
	m := map[string]string{}
	for _, kv := range strings.Fields(line) {
		if k, v, ok := strings.Cut(kv, "="); ok {
			m[k] = v
		}
	}
	return m
}

// store stands for Beacon's database in the resync test: the truth that a
// server re-reads on Ready and Gap.
type store struct {
	mu sync.Mutex
	m  map[string]string
}

func (s *store) set(k, v string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if v == "" {
		delete(s.m, k)
	} else {
		s.m[k] = v
	}
}

func (s *store) get(k string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.m[k]
}

func (s *store) snapshot() map[string]string {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := make(map[string]string, len(s.m))
	for k, v := range s.m {
		c[k] = v
	}
	return c
}

// follower is a server's view of the active overrides, kept the way the
// bus package says: re-read everything on Ready or Gap, re-read one record
// on a message.
type follower struct {
	mu     sync.Mutex
	view   map[string]string
	readys int
}

func (f *follower) run(s *bus.Subscription, st *store) {
	for e := range s.C() {
		f.mu.Lock()
		switch e.Kind {
		case bus.Ready, bus.Gap:
			f.view = st.snapshot()
			f.readys++
		case bus.Msg:
			id := string(e.Message.Payload)
			if v := st.get(id); v != "" {
				f.view[id] = v
			} else {
				delete(f.view, id)
			}
		}
		f.mu.Unlock()
	}
}

func (f *follower) state() (string, int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return render(f.view), f.readys
}

func render(m map[string]string) string {
	var parts []string
	for k, v := range m {
		parts = append(parts, k+"="+v)
	}
	// small maps: sort by insertion is not needed, a stable order is
	for i := range parts {
		for j := i + 1; j < len(parts); j++ {
			if parts[j] < parts[i] {
				parts[i], parts[j] = parts[j], parts[i]
			}
		}
	}
	return strings.Join(parts, " ")
}

// eventually polls cond until it holds or bustest.Wait passes.
func eventually(t *testing.T, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(bustest.Wait)
	for {
		ok, got := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: still %s after %v", what, got, bustest.Wait)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// A server that loses Redis, misses what was published meanwhile, and
// regains it, ends up with the store's state: the Ready after reconnecting
// makes it re-read. Without that re-read it would keep "o1" and never learn
// of "o2".
func TestRedisResyncAfterOutage(t *testing.T) {
	url, prefix := redisURL(t), uniquePrefix(t)
	proxy := startProxy(t, url)
	st := &store{m: map[string]string{}}
	a := newRedis(t, url, bus.WithPrefix(prefix), bus.WithOrigin("server-a"))
	b := newRedis(t, proxy.url(), bus.WithPrefix(prefix), bus.WithOrigin("server-b"),
		bus.WithHealthCheck(200*time.Millisecond), bus.WithMaxBackoff(200*time.Millisecond))
	s, err := b.Subscribe(context.Background(), "overrides")
	if err != nil {
		t.Fatal(err)
	}
	f := &follower{}
	go f.run(s, st)
	eventually(t, "first ready", func() (bool, string) { v, n := f.state(); return n == 1, v })

	write := func(id, v string) {
		st.set(id, v)
		if err := a.Publish(context.Background(), "overrides", []byte(id)); err != nil {
			t.Fatal(err)
		}
	}
	write("o1", "flood")
	eventually(t, "o1 seen", func() (bool, string) { v, _ := f.state(); return v == "o1=flood", v })

	proxy.stop()
	write("o2", "evacuate")
	write("o1", "")
	time.Sleep(300 * time.Millisecond) // let server b try, and fail, to reconnect
	if v, n := f.state(); n != 1 || v != "o1=flood" {
		t.Fatalf("during the outage server b has %q after %d readies: the messages should have been lost", v, n)
	}
	proxy.start()
	eventually(t, "resynchronised", func() (bool, string) {
		v, n := f.state()
		return n >= 2 && v == "o2=evacuate", v
	})
	write("o3", "missing child")
	eventually(t, "o3 delivered after the reconnection", func() (bool, string) {
		v, _ := f.state()
		return v == "o2=evacuate o3=missing child", v
	})
}

// A connection that stays open but carries nothing (a half-open TCP
// connection, a hung proxy) is found by the health check and replaced.
func TestRedisHalfOpenConnectionReplaced(t *testing.T) {
	url, prefix := redisURL(t), uniquePrefix(t)
	proxy := startProxy(t, url)
	pub := newRedis(t, url, bus.WithPrefix(prefix))
	b := newRedis(t, proxy.url(), bus.WithPrefix(prefix), bus.WithHealthCheck(100*time.Millisecond))
	s, err := b.Subscribe(context.Background(), "t")
	if err != nil {
		t.Fatal(err)
	}
	bustest.WaitReady(t, s)
	proxy.blackhole() // existing connections go silent; new ones work
	start := time.Now()
	if e := bustest.Next(t, s); e.Kind != bus.Ready {
		t.Fatalf("after the connection went silent: %v, want ready", e.Kind)
	}
	t.Logf("silent connection replaced after %v", time.Since(start).Round(time.Millisecond))
	if err := pub.Publish(context.Background(), "t", []byte("through")); err != nil {
		t.Fatal(err)
	}
	if m := bustest.NextMessage(t, s); string(m.Payload) != "through" {
		t.Fatalf("got %q", m.Payload)
	}
}

// A server may start while Redis is away: Subscribe returns, and Ready
// comes once Redis is reachable.
func TestRedisStartsWhileRedisAway(t *testing.T) {
	url, prefix := redisURL(t), uniquePrefix(t)
	proxy := startProxy(t, url)
	proxy.stop()
	b := newRedis(t, proxy.url(), bus.WithPrefix(prefix), bus.WithMaxBackoff(100*time.Millisecond))
	if err := b.Ping(context.Background()); err == nil {
		t.Fatal("Ping succeeded with Redis away")
	}
	start := time.Now()
	if err := b.Publish(context.Background(), "t", []byte("lost")); err == nil {
		t.Fatal("Publish succeeded with Redis away")
	}
	t.Logf("a publish with Redis away failed after %v", time.Since(start).Round(time.Millisecond))
	s, err := b.Subscribe(context.Background(), "t")
	if err != nil {
		t.Fatalf("Subscribe with Redis away: %v", err)
	}
	select {
	case e := <-s.C():
		t.Fatalf("with Redis away: %v", e.Kind)
	case <-time.After(300 * time.Millisecond):
	}
	proxy.start()
	bustest.WaitReady(t, s)
	pub := newRedis(t, url, bus.WithPrefix(prefix))
	if err := pub.Publish(context.Background(), "t", []byte("hello")); err != nil {
		t.Fatal(err)
	}
	if m := bustest.NextMessage(t, s); string(m.Payload) != "hello" {
		t.Fatalf("got %q", m.Payload)
	}
}

// proxy is a TCP forwarder on 127.0.0.1 in front of the test Redis, to cut
// and restore the connection.
type proxy struct {
	t        testing.TB
	addr     string // fixed across restarts
	upstream string

	mu    sync.Mutex
	ln    net.Listener
	pairs map[*pair]struct{}
	wg    sync.WaitGroup
}

type pair struct {
	client, server net.Conn
	silent         atomic.Bool
}

func startProxy(t testing.TB, url string) *proxy {
	o, err := redis.ParseURL(url)
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{t: t, upstream: o.Addr, addr: "127.0.0.1:0", pairs: map[*pair]struct{}{}}
	p.start()
	t.Cleanup(func() { p.stop(); p.wg.Wait() })
	return p
}

func (p *proxy) url() string { return "redis://" + p.addr + "/0" }

func (p *proxy) start() {
	p.t.Helper()
	var ln net.Listener
	var err error
	for range 50 { // the port was ours a moment ago; retry briefly if it lingers
		if ln, err = net.Listen("tcp", p.addr); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		p.t.Fatalf("proxy: %v", err)
	}
	p.mu.Lock()
	p.ln, p.addr = ln, ln.Addr().String()
	p.mu.Unlock()
	p.wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s, err := net.Dial("tcp", p.upstream)
			if err != nil {
				c.Close()
				continue
			}
			pr := &pair{client: c, server: s}
			p.mu.Lock()
			p.pairs[pr] = struct{}{}
			p.mu.Unlock()
			p.wg.Go(func() { p.copy(pr, s, c) })
			p.wg.Go(func() { p.copy(pr, c, s) })
		}
	})
}

func (p *proxy) copy(pr *pair, dst, src net.Conn) {
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 && !pr.silent.Load() {
			if _, werr := dst.Write(buf[:n]); werr != nil {
				err = werr
			}
		}
		if err != nil {
			if !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) {
				p.t.Logf("proxy: %v", err)
			}
			pr.client.Close()
			pr.server.Close()
			return
		}
	}
}

// stop closes the listener and every connection: Redis is away.
func (p *proxy) stop() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln != nil {
		p.ln.Close()
		p.ln = nil
	}
	for pr := range p.pairs {
		pr.client.Close()
		pr.server.Close()
		delete(p.pairs, pr)
	}
}

// blackhole makes every current connection swallow what it carries,
// without closing it.
func (p *proxy) blackhole() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for pr := range p.pairs {
		pr.silent.Store(true)
	}
}
