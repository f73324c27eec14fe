package server

import (
	"errors"
	"net"
	"os"
	"testing"
	"time"
)

// tcpPair returns both ends of a loopback TCP connection, the server's
// wrapped as beacon serve wraps it.
func tcpPair(t *testing.T) (*progressConn, net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, _ := ln.Accept()
		accepted <- c
	}()
	client, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	raw := <-accepted
	if raw == nil {
		t.Fatal("accept failed")
	}
	c := newProgressConn(raw, time.Minute)
	t.Cleanup(func() { c.Close(); client.Close() })
	return c, client
}

// A deadline moved later is honoured at its new time, although the poller
// was armed with the first one; one moved sooner, or into the past,
// interrupts a blocked read at once.
func TestLazyReadDeadline(t *testing.T) {
	c, client := tcpPair(t)
	buf := make([]byte, 8)

	start := time.Now()
	_ = c.SetReadDeadline(start.Add(100 * time.Millisecond))
	_ = c.SetReadDeadline(start.Add(400 * time.Millisecond)) // later: not armed yet
	_, err := c.Read(buf)
	if !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("read: %v, want a timeout", err)
	}
	if took := time.Since(start); took < 400*time.Millisecond {
		t.Fatalf("read timed out after %s, before its deadline (400 ms)", took)
	}

	// Data that comes after the first armed deadline but before the last
	// one asked for is read.
	start = time.Now()
	_ = c.SetReadDeadline(start.Add(50 * time.Millisecond))
	_ = c.SetReadDeadline(start.Add(5 * time.Second))
	go func() {
		time.Sleep(200 * time.Millisecond)
		_, _ = client.Write([]byte("late"))
	}()
	n, err := c.Read(buf)
	if err != nil || string(buf[:n]) != "late" {
		t.Fatalf("read %q, %v; want the late bytes", buf[:n], err)
	}

	// No deadline after a finite one: a read outlives the finite one.
	_ = c.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
	_ = c.SetReadDeadline(time.Time{})
	go func() {
		time.Sleep(200 * time.Millisecond)
		_, _ = client.Write([]byte("none"))
	}()
	n, err = c.Read(buf)
	if err != nil || string(buf[:n]) != "none" {
		t.Fatalf("read %q, %v; want the bytes written after the cleared deadline", buf[:n], err)
	}

	// A close sets a past deadline to end a reader blocked with a far one.
	_ = c.SetReadDeadline(time.Now().Add(time.Hour))
	ended := make(chan error, 1)
	go func() {
		_, err := c.Read(buf)
		ended <- err
	}()
	time.Sleep(50 * time.Millisecond)
	_ = c.SetReadDeadline(time.Now())
	select {
	case err := <-ended:
		if !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("read: %v, want a timeout", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("a past deadline did not interrupt the blocked read")
	}
}

// A write to a peer that stops reading times out at the last deadline set,
// and says how much it wrote.
func TestLazyWriteDeadline(t *testing.T) {
	c, _ := tcpPair(t)
	big := make([]byte, 64<<20) // more than the socket buffers hold
	start := time.Now()
	_ = c.SetWriteDeadline(start.Add(100 * time.Millisecond))
	_ = c.SetWriteDeadline(start.Add(500 * time.Millisecond))
	n, err := c.Write(big)
	if !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("write: %d, %v; want a timeout", n, err)
	}
	if took := time.Since(start); took < 500*time.Millisecond {
		t.Fatalf("write timed out after %s, before its deadline (500 ms)", took)
	}
	if n <= 0 || n >= len(big) {
		t.Fatalf("write reported %d bytes; want part of %d", n, len(big))
	}
}
