// Package bustest is the conformance suite every bus.Bus implementation
// passes: call Run from the implementation's tests with a Cluster that
// connects Buses sharing one fresh namespace.
package bustest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"beacon/server/bus"
)

// Cluster prepares a namespace private to test t (a hub, a Redis channel
// prefix) and returns a function that connects a new Bus to it, as another
// server would. Connected Buses are closed when t ends.
type Cluster func(t *testing.T) (connect func(opts ...bus.Option) bus.Bus)

// Wait bounds every wait of the suite. It is generous: a loaded machine is
// slow, and a correct bus answers in milliseconds.
var Wait = 20 * time.Second

// Run runs the conformance suite.
func Run(t *testing.T, c Cluster) {
	tests := []struct {
		name string
		f    func(*testing.T, Cluster)
	}{
		{"ReadyFirst", testReadyFirst},
		{"SeveralSubscribersAndTopics", testSeveral},
		{"OrderFromOnePublisher", testOrder},
		{"Unsubscribe", testUnsubscribe},
		{"ClosedBus", testClosedBus},
		{"InvalidInput", testInvalid},
		{"SlowSubscriberGetsGap", testSlow},
		{"PayloadIsCopied", testCopied},
		{"TwoServersAndOrigin", testTwoServers},
		{"Concurrent", testConcurrent},
		{"CloseReleasesGoroutines", testNoLeak},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.f(t, c) })
	}
}

// Next returns the subscription's next event, failing t after Wait.
func Next(t testing.TB, s *bus.Subscription) bus.Event {
	t.Helper()
	select {
	case e, ok := <-s.C():
		if !ok {
			t.Fatalf("subscription %v closed, want an event", s.Topics())
		}
		return e
	case <-time.After(Wait):
		t.Fatalf("subscription %v: no event in %v", s.Topics(), Wait)
	}
	panic("unreachable")
}

// WaitReady consumes the subscription's Ready event.
func WaitReady(t testing.TB, s *bus.Subscription) {
	t.Helper()
	if e := Next(t, s); e.Kind != bus.Ready {
		t.Fatalf("subscription %v: first event %v, want ready", s.Topics(), describe(e))
	}
}

// NextMessage returns the next event, which must be a message.
func NextMessage(t testing.TB, s *bus.Subscription) bus.Message {
	t.Helper()
	e := Next(t, s)
	if e.Kind != bus.Msg {
		t.Fatalf("subscription %v: got %v, want a message", s.Topics(), describe(e))
	}
	return e.Message
}

func describe(e bus.Event) string {
	if e.Kind == bus.Msg {
		return fmt.Sprintf("message %s %q from %s", e.Message.Topic, e.Message.Payload, e.Message.Origin)
	}
	return fmt.Sprintf("%v (dropped %d)", e.Kind, e.Dropped)
}

func subscribe(t *testing.T, b bus.Bus, topics ...string) *bus.Subscription {
	t.Helper()
	s, err := b.Subscribe(context.Background(), topics...)
	if err != nil {
		t.Fatalf("Subscribe(%v): %v", topics, err)
	}
	t.Cleanup(func() { s.Close() })
	WaitReady(t, s)
	return s
}

func publish(t testing.TB, b bus.Bus, topic, payload string) {
	t.Helper()
	if err := b.Publish(context.Background(), topic, []byte(payload)); err != nil {
		t.Fatalf("Publish(%s, %q): %v", topic, payload, err)
	}
}

// collect reads messages until the fence payload arrives on fence's topic,
// and returns "topic:payload" of everything before it.
func collect(t *testing.T, s *bus.Subscription, fence string) []string {
	t.Helper()
	var got []string
	for {
		m := NextMessage(t, s)
		if string(m.Payload) == fence {
			return got
		}
		got = append(got, m.Topic+":"+string(m.Payload))
	}
}

func testReadyFirst(t *testing.T, c Cluster) {
	b := c(t)()
	s, err := b.Subscribe(context.Background(), "a", "b", "a")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	WaitReady(t, s)
	if got := s.Topics(); strings.Join(got, ",") != "a,b" {
		t.Errorf("Topics() = %v, want [a b] (duplicates merged)", got)
	}
	publish(t, b, "a", "x")
	if m := NextMessage(t, s); string(m.Payload) != "x" || m.Topic != "a" {
		t.Errorf("got %s %q", m.Topic, m.Payload)
	}
	publish(t, b, "b", "y")
	if m := NextMessage(t, s); string(m.Payload) != "y" || m.Topic != "b" {
		t.Errorf("got %s %q", m.Topic, m.Payload)
	}
}

// Three subscribers with overlapping topic sets on two servers: each gets
// exactly its topics' messages, once each.
func testSeveral(t *testing.T, c Cluster) {
	connect := c(t)
	b1, b2 := connect(), connect()
	sA := subscribe(t, b1, "overrides", "cancels")
	sB := subscribe(t, b2, "cancels", "fence")
	sC := subscribe(t, b2, "commands", "overrides")
	// Each subscriber also needs the fence; sB already has it on its topic
	// set, the others get it on the last topic they listen to.
	publish(t, b1, "overrides", "o1")
	publish(t, b2, "cancels", "c1")
	publish(t, b1, "commands", "k1")
	publish(t, b1, "unheard", "u1")
	publish(t, b2, "overrides", "o2")
	publish(t, b1, "cancels", "c2")
	publish(t, b2, "commands", "k2")
	publish(t, b1, "cancels", "END")
	publish(t, b1, "fence", "END")
	publish(t, b1, "overrides", "END")

	check := func(name string, s *bus.Subscription, want string) {
		t.Helper()
		if got := strings.Join(collect(t, s, "END"), " "); got != want {
			t.Errorf("subscriber %s got %q, want %q", name, got, want)
		}
	}
	check("A", sA, "overrides:o1 cancels:c1 overrides:o2 cancels:c2")
	check("B", sB, "cancels:c1 cancels:c2")
	check("C", sC, "overrides:o1 commands:k1 overrides:o2 commands:k2")
	// A and B got END on more than one topic: the rest is exactly that.
	for name, s := range map[string]*bus.Subscription{"A": sA, "B": sB} {
		if m := NextMessage(t, s); string(m.Payload) != "END" {
			t.Errorf("subscriber %s: extra message %s %q", name, m.Topic, m.Payload)
		}
	}
	for name, s := range map[string]*bus.Subscription{"A": sA, "B": sB, "C": sC} {
		expectQuiet(t, name, s)
	}
}

// expectQuiet checks that nothing more arrives for a short while (a
// duplicate or a misrouted message would).
func expectQuiet(t *testing.T, name string, s *bus.Subscription) {
	t.Helper()
	select {
	case e := <-s.C():
		t.Errorf("subscriber %s: unexpected %s", name, describe(e))
	case <-time.After(100 * time.Millisecond):
	}
}

func testOrder(t *testing.T, c Cluster) {
	const n = 2000
	connect := c(t)
	pub, sub := connect(bus.WithBuffer(n+10)), connect(bus.WithBuffer(n+10))
	s := subscribe(t, sub, "seq")
	local := subscribe(t, pub, "seq")
	for i := range n {
		publish(t, pub, "seq", fmt.Sprint(i))
	}
	for name, s := range map[string]*bus.Subscription{"other server": s, "same server": local} {
		for i := range n {
			if m := NextMessage(t, s); string(m.Payload) != fmt.Sprint(i) {
				t.Fatalf("%s: message %d is %q", name, i, m.Payload)
			}
		}
	}
}

func testUnsubscribe(t *testing.T, c Cluster) {
	connect := c(t)
	b1, b2 := connect(), connect()
	gone := subscribe(t, b2, "t")
	stays := subscribe(t, b2, "t")
	publish(t, b1, "t", "1")
	if m := NextMessage(t, gone); string(m.Payload) != "1" {
		t.Fatalf("got %q", m.Payload)
	}
	if err := gone.Close(); err != nil {
		t.Fatal(err)
	}
	if err := gone.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	publish(t, b1, "t", "2")
	if m := NextMessage(t, stays); string(m.Payload) != "1" {
		t.Fatalf("got %q", m.Payload)
	}
	if m := NextMessage(t, stays); string(m.Payload) != "2" {
		t.Fatalf("remaining subscriber got %q, want 2", m.Payload)
	}
	drainClosed(t, gone)
	// Subscribing again to a topic given up is a fresh subscription.
	again := subscribe(t, b2, "t")
	publish(t, b1, "t", "3")
	if m := NextMessage(t, again); string(m.Payload) != "3" {
		t.Fatalf("resubscribed got %q, want 3", m.Payload)
	}
	// Closing the last subscriber of a topic and subscribing at once again.
	stays.Close()
	again.Close()
	last := subscribe(t, b2, "t")
	publish(t, b1, "t", "4")
	if m := NextMessage(t, last); string(m.Payload) != "4" {
		t.Fatalf("resubscribed got %q, want 4", m.Payload)
	}
}

// drainClosed checks that a closed subscription's channel closes without
// delivering anything published after Close.
func drainClosed(t *testing.T, s *bus.Subscription) {
	t.Helper()
	deadline := time.After(Wait)
	for {
		select {
		case e, ok := <-s.C():
			if !ok {
				return
			}
			t.Errorf("closed subscription delivered %s", describe(e))
		case <-deadline:
			t.Fatalf("channel of a closed subscription still open after %v", Wait)
		}
	}
}

func testClosedBus(t *testing.T, c Cluster) {
	connect := c(t)
	b, other := connect(), connect()
	s := subscribe(t, b, "t")
	kept := subscribe(t, other, "t")
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if err := b.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	drainClosed(t, s)
	if err := b.Publish(context.Background(), "t", []byte("x")); !errors.Is(err, bus.ErrClosed) {
		t.Errorf("Publish after Close: %v, want ErrClosed", err)
	}
	if _, err := b.Subscribe(context.Background(), "t"); !errors.Is(err, bus.ErrClosed) {
		t.Errorf("Subscribe after Close: %v, want ErrClosed", err)
	}
	// Closing one server's Bus leaves the others working.
	publish(t, other, "t", "still")
	if m := NextMessage(t, kept); string(m.Payload) != "still" {
		t.Errorf("got %q", m.Payload)
	}
}

func testInvalid(t *testing.T, c Cluster) {
	b := c(t)()
	ctx := context.Background()
	for _, topic := range []string{"", "has space", "tab\t", "nl\n", "é", strings.Repeat("x", bus.MaxTopic+1)} {
		if err := b.Publish(ctx, topic, nil); !errors.Is(err, bus.ErrTopic) {
			t.Errorf("Publish(%q): %v, want ErrTopic", topic, err)
		}
		if _, err := b.Subscribe(ctx, "ok", topic); !errors.Is(err, bus.ErrTopic) {
			t.Errorf("Subscribe(%q): %v, want ErrTopic", topic, err)
		}
	}
	if _, err := b.Subscribe(ctx); !errors.Is(err, bus.ErrTopic) {
		t.Errorf("Subscribe(): %v, want ErrTopic", err)
	}
	if err := b.Publish(ctx, "t", make([]byte, bus.MaxPayload+1)); !errors.Is(err, bus.ErrTooLarge) {
		t.Errorf("Publish(MaxPayload+1): %v, want ErrTooLarge", err)
	}
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if err := b.Publish(cancelled, "t", nil); !errors.Is(err, context.Canceled) {
		t.Errorf("Publish(cancelled): %v, want context.Canceled", err)
	}
	if _, err := b.Subscribe(cancelled, "t"); !errors.Is(err, context.Canceled) {
		t.Errorf("Subscribe(cancelled): %v, want context.Canceled", err)
	}
	// The largest payload and an empty one both go through, byte for byte.
	s := subscribe(t, b, strings.Repeat("x", bus.MaxTopic))
	big := bytes.Repeat([]byte{0, 1, 2, 255}, bus.MaxPayload/4)
	if err := b.Publish(ctx, strings.Repeat("x", bus.MaxTopic), big); err != nil {
		t.Fatal(err)
	}
	if err := b.Publish(ctx, strings.Repeat("x", bus.MaxTopic), nil); err != nil {
		t.Fatal(err)
	}
	if m := NextMessage(t, s); !bytes.Equal(m.Payload, big) {
		t.Errorf("largest payload came back altered (%d bytes)", len(m.Payload))
	}
	if m := NextMessage(t, s); len(m.Payload) != 0 {
		t.Errorf("empty payload came back as %q", m.Payload)
	}
}

// A subscriber that does not read loses messages beyond its buffer and is
// told how many; the publisher and the other subscribers do not wait.
func testSlow(t *testing.T, c Cluster) {
	const buffer, n = 8, 300
	connect := c(t)
	pub := connect()
	slowBus := connect(bus.WithBuffer(buffer))
	fastBus := connect(bus.WithBuffer(n + 10))
	slow := subscribe(t, slowBus, "t")
	fast := subscribe(t, fastBus, "t")

	done := make(chan error, 1)
	go func() {
		for i := range n {
			if err := pub.Publish(context.Background(), "t", []byte(fmt.Sprint(i))); err != nil {
				done <- err
				return
			}
		}
		done <- nil
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(Wait):
		t.Fatalf("publishing %d messages with a stalled subscriber took over %v", n, Wait)
	}
	for i := range n {
		if m := NextMessage(t, fast); string(m.Payload) != fmt.Sprint(i) {
			t.Fatalf("fast subscriber: message %d is %q", i, m.Payload)
		}
	}
	// The fast subscriber has everything; the slow one has lost some (Redis
	// may still hold the last ones in its socket). Now read
	// it: messages in order, and a Gap for each run it lost saying how many
	// (the runs may be several: its reader may have taken one message while
	// the publisher was already past the buffer).
	next, kept, gaps := 0, 0, 0
	for next < n {
		e := Next(t, slow)
		switch {
		case e.Kind == bus.Gap && e.Dropped > 0 && next+int(e.Dropped) <= n:
			next += int(e.Dropped)
			gaps++
		case e.Kind == bus.Msg && string(e.Message.Payload) == fmt.Sprint(next):
			next++
			kept++
		default:
			t.Fatalf("slow subscriber: got %s when message %d or a gap was due", describe(e), next)
		}
	}
	// kept may exceed the buffer: with Redis, messages still in the slow
	// connection's socket when the test starts reading are delivered.
	if kept < buffer || kept >= n || gaps == 0 {
		t.Errorf("slow subscriber kept %d messages and saw %d gaps with a buffer of %d", kept, gaps, buffer)
	}
	if d := slow.Dropped(); int(d) != n-kept {
		t.Errorf("Dropped() = %d, want %d", d, n-kept)
	}
	// Once read, the slow subscriber receives again.
	publish(t, pub, "t", "after")
	if m := NextMessage(t, slow); string(m.Payload) != "after" {
		t.Errorf("after the gap: %q, want the message published once it had room", m.Payload)
	}
	if m := NextMessage(t, fast); string(m.Payload) != "after" {
		t.Fatalf("fast subscriber got %q", m.Payload)
	}
}

func testCopied(t *testing.T, c Cluster) {
	connect := c(t)
	b := connect()
	s1 := subscribe(t, b, "t")
	s2 := subscribe(t, b, "t")
	buf := []byte("original")
	if err := b.Publish(context.Background(), "t", buf); err != nil {
		t.Fatal(err)
	}
	copy(buf, "MUTATED!")
	m1 := NextMessage(t, s1)
	if string(m1.Payload) != "original" {
		t.Fatalf("publisher's later change reached subscriber: %q", m1.Payload)
	}
	copy(m1.Payload, "changed!")
	if m2 := NextMessage(t, s2); string(m2.Payload) != "original" {
		t.Errorf("one receiver's change reached another: %q", m2.Payload)
	}
}

func testTwoServers(t *testing.T, c Cluster) {
	connect := c(t)
	a, b := connect(bus.WithOrigin("server-a")), connect(bus.WithOrigin("server-b"))
	if a.Origin() != "server-a" || b.Origin() != "server-b" {
		t.Fatalf("origins %q %q", a.Origin(), b.Origin())
	}
	anon1, anon2 := connect(), connect()
	if anon1.Origin() == "" || anon1.Origin() == anon2.Origin() {
		t.Errorf("default origins %q and %q: want distinct and non-empty", anon1.Origin(), anon2.Origin())
	}
	sa := subscribe(t, a, "doorbell")
	sb := subscribe(t, b, "doorbell")
	publish(t, a, "doorbell", "from a")
	publish(t, b, "doorbell", "from b")
	for name, s := range map[string]*bus.Subscription{"a": sa, "b": sb} {
		m1, m2 := NextMessage(t, s), NextMessage(t, s)
		got := map[string]string{m1.Origin: string(m1.Payload), m2.Origin: string(m2.Payload)}
		if got["server-a"] != "from a" || got["server-b"] != "from b" {
			t.Errorf("server %s received %v", name, got)
		}
	}
}

// Publishers, subscribers coming and going, and closing, all at once: for
// -race, and every steady subscriber gets every message in per-publisher
// order.
func testConcurrent(t *testing.T, c Cluster) {
	const pubs, each = 4, 100
	connect := c(t)
	buses := []bus.Bus{connect(bus.WithBuffer(4 * pubs * each)), connect(bus.WithBuffer(4 * pubs * each))}
	var steady []*bus.Subscription
	for _, b := range buses {
		steady = append(steady, subscribe(t, b, "x", "y"))
	}
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for i := range 3 { // churn: subscriptions opened and closed meanwhile
		wg.Go(func() {
			b := buses[i%len(buses)]
			for {
				select {
				case <-stop:
					return
				default:
				}
				s, err := b.Subscribe(context.Background(), "x", fmt.Sprint("churn", i))
				if err != nil {
					t.Error(err)
					return
				}
				select {
				case <-s.C():
				case <-time.After(10 * time.Millisecond):
				}
				s.Close()
			}
		})
	}
	var pwg sync.WaitGroup
	for p := range pubs {
		pwg.Go(func() {
			b := buses[p%len(buses)]
			topic := []string{"x", "y"}[p%2]
			for i := range each {
				if err := b.Publish(context.Background(), topic, fmt.Appendf(nil, "%d/%d", p, i)); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	pwg.Wait()
	close(stop)
	wg.Wait()
	for si, s := range steady {
		next := make([]int, pubs)
		for range pubs * each {
			m := NextMessage(t, s)
			var p, i int
			if _, err := fmt.Sscanf(string(m.Payload), "%d/%d", &p, &i); err != nil || p < 0 || p >= pubs {
				t.Fatalf("subscriber %d: bad payload %q", si, m.Payload)
			}
			if i != next[p] {
				t.Fatalf("subscriber %d: publisher %d's message %d arrived when %d was due", si, p, i, next[p])
			}
			next[p]++
		}
	}
}

// Closing a Bus ends its goroutines, including those of subscriptions whose
// reader went away with events pending.
func testNoLeak(t *testing.T, c Cluster) {
	connect := c(t)
	before := runtime.NumGoroutine()
	b := connect()
	for range 3 {
		s, err := b.Subscribe(context.Background(), "t", "u")
		if err != nil {
			t.Fatal(err)
		}
		WaitReady(t, s)
	}
	for i := range 10 {
		publish(t, b, "t", fmt.Sprint(i))
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(Wait)
	for runtime.NumGoroutine() > before {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			t.Fatalf("%d goroutines after Close, %d before:\n%s", runtime.NumGoroutine(), before, buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(20 * time.Millisecond)
	}
}
