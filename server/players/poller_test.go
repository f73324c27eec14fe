package players

import (
	"io"
	"log/slog"
	"net"
	"syscall"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
)

// testParkConn is a loopback socket a poller can read, keeping what it
// gives back.
type testParkConn struct {
	*net.TCPConn
	unread []byte
}

func (c *testParkConn) SyscallConn() (syscall.RawConn, error) { return c.TCPConn.SyscallConn() }
func (c *testParkConn) Unread(b []byte)                       { c.unread = append(c.unread, b...) }

func loopbackPair(t *testing.T) (server *net.TCPConn, client net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	client, err = net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	sc, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sc.Close(); client.Close() })
	return sc.(*net.TCPConn), client
}

// maskedPong is a client's pong frame (RFC 6455 §5.2), mask 1, 2, 3, 4.
func maskedPong(payload string) []byte {
	b := []byte{0x8a, 0x80 | byte(len(payload)), 1, 2, 3, 4}
	for i := range len(payload) {
		b = append(b, payload[i]^byte(i%4+1))
	}
	return b
}

// A parked reader is woken with the bytes the poller did not take, ends
// as idle when nothing came for its timeout (a pong counts as something),
// and leaves the poller when its session closes.
func TestParkHandBackIdleAndClose(t *testing.T) {
	h := New(nil, nil, slog.New(slog.NewTextHandler(io.Discard, nil)), nil)
	defer h.pollers.close()
	p := h.pollers.get(h)
	if p == nil {
		t.Fatalf("no poller: %v", h.pollers.err)
	}
	newSession := func() *session {
		return &session{hub: h, done: make(chan struct{}), displayID: "dsp_1", orgID: "org_1"}
	}
	park := func(s *session, pc parkConn, timeout time.Duration) chan error {
		ended := make(chan error, 1)
		rc, err := pc.SyscallConn()
		if err != nil {
			t.Fatal(err)
		}
		go func() { ended <- s.park(p, pc, rc, timeout) }()
		return ended
	}
	within := func(ended chan error, d time.Duration) (error, bool) {
		select {
		case err := <-ended:
			return err, true
		case <-time.After(d):
			return nil, false
		}
	}
	waitParked := func(n float64) {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for gaugeValue(h) != n {
			if time.Now().After(deadline) {
				t.Fatalf("%v sessions parked, want %v", gaugeValue(h), n)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}

	t.Run("bytes that are not a frame go back", func(t *testing.T) {
		sc, cc := loopbackPair(t)
		pc := &testParkConn{TCPConn: sc}
		ended := park(newSession(), pc, time.Minute)
		waitParked(1)
		if _, err := cc.Write([]byte("GET / HTTP/1.1\r\n")); err != nil {
			t.Fatal(err)
		}
		err, ok := within(ended, 5*time.Second)
		if !ok || err != nil {
			t.Fatalf("park: %v, %v", err, ok)
		}
		if string(pc.unread) != "GET / HTTP/1.1\r\n" {
			t.Fatalf("given back %q", pc.unread)
		}
		waitParked(0)
	})
	t.Run("pongs are taken, then silence ends it", func(t *testing.T) {
		sc, cc := loopbackPair(t)
		pc := &testParkConn{TCPConn: sc}
		began := time.Now()
		ended := park(newSession(), pc, 1500*time.Millisecond)
		waitParked(1)
		time.Sleep(1200 * time.Millisecond)
		if _, err := cc.Write(maskedPong("x")); err != nil {
			t.Fatal(err)
		}
		err, ok := within(ended, 10*time.Second)
		if !ok || err != errIdle {
			t.Fatalf("park: %v, %v", err, ok)
		}
		// Without the pong it would end 1.5 to 2.5 s after it began (the
		// sweep runs every second); the pong at 1.2 s moves that to 2.7 to
		// 3.7 s (later on a loaded machine, never earlier).
		if took := time.Since(began); took < 2600*time.Millisecond {
			t.Fatalf("ended as idle after %s: the pong did not count", took)
		}
		if len(pc.unread) != 0 {
			t.Fatalf("given back %q", pc.unread)
		}
		waitParked(0)
	})
	t.Run("the end of the stream goes back", func(t *testing.T) {
		sc, cc := loopbackPair(t)
		pc := &testParkConn{TCPConn: sc}
		ended := park(newSession(), pc, time.Minute)
		waitParked(1)
		cc.Close()
		if err, ok := within(ended, 5*time.Second); !ok || err != nil {
			t.Fatalf("park: %v, %v", err, ok)
		}
		waitParked(0)
	})
	t.Run("closing the session", func(t *testing.T) {
		sc, _ := loopbackPair(t)
		s := newSession()
		ended := park(s, &testParkConn{TCPConn: sc}, time.Minute)
		waitParked(1)
		close(s.done)
		if err, ok := within(ended, 5*time.Second); !ok || err != errClosed {
			t.Fatalf("park: %v, %v", err, ok)
		}
		waitParked(0)
	})
}

func gaugeValue(h *Hub) float64 {
	var m dto.Metric
	if err := h.parkedNow.Write(&m); err != nil {
		return -1
	}
	return m.GetGauge().GetValue()
}
