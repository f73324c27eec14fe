package server

import (
	"bytes"
	"errors"
	"io"
	"net"
	"sync"
	"testing"
	"time"
)

// TryWrite writes at once when the connection is idle, even after a write
// deadline fired while it was; it writes nothing while another write holds
// the connection; when the socket takes only part of the bytes, the rest
// goes out before anything written after, in order.
func TestTryWrite(t *testing.T) {
	c, client := tcpPair(t)

	// Idle, with a write deadline that fired long ago.
	_ = c.SetWriteDeadline(time.Now().Add(time.Millisecond))
	time.Sleep(20 * time.Millisecond)
	if rest, err := c.TryWrite([]byte("first")); err != nil || rest {
		t.Fatalf("TryWrite on an idle connection: rest %v, %v", rest, err)
	}
	got := make([]byte, 5)
	_ = client.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.ReadFull(client, got); err != nil || string(got) != "first" {
		t.Fatalf("read %q, %v; want first", got, err)
	}

	// Another write holds the connection: nothing is written.
	c.wmu.Lock()
	if _, err := c.TryWrite([]byte("never")); !errors.Is(err, errWouldWait) {
		c.wmu.Unlock()
		t.Fatalf("TryWrite during another write: %v, want errWouldWait", err)
	}
	c.wmu.Unlock()

	// The peer stops reading: the socket fills. Each TryWrite writes a
	// numbered chunk whole, or part of one (the rest kept), or nothing.
	var sent bytes.Buffer
	chunk := func(i int) []byte { return bytes.Repeat([]byte{byte('a' + i%26)}, 64<<10) }
	full := false // a chunk went out in part (its rest kept), or not at all
	for i := 0; i < 4096 && !full; i++ {
		b := chunk(i)
		rest, err := c.TryWrite(b)
		switch {
		case errors.Is(err, errWouldWait):
			full = true
			continue
		case err != nil:
			t.Fatalf("TryWrite %d: %v", i, err)
		}
		sent.Write(b)
		full = rest
	}
	if !full {
		t.Fatal("the socket never filled")
	}
	if _, err := c.TryWrite([]byte("x")); !errors.Is(err, errWouldWait) {
		t.Fatalf("TryWrite on a full socket: %v, want errWouldWait", err)
	}
	// A Write after it sends the kept rest first; the peer reads
	// everything, in order, while it blocks.
	tail := []byte("tail")
	sent.Write(tail)
	var wg sync.WaitGroup
	wg.Add(1)
	var readErr error
	var read []byte
	go func() {
		defer wg.Done()
		_ = client.SetReadDeadline(time.Now().Add(20 * time.Second))
		read = make([]byte, sent.Len())
		_, readErr = io.ReadFull(client, read)
	}()
	_ = c.SetWriteDeadline(time.Now().Add(20 * time.Second))
	if _, err := c.Write(tail); err != nil {
		t.Fatalf("Write after a partial TryWrite: %v", err)
	}
	wg.Wait()
	if readErr != nil {
		t.Fatalf("peer read: %v", readErr)
	}
	if !bytes.Equal(read, sent.Bytes()) {
		t.Fatalf("peer read %d bytes that differ from the %d written in order", len(read), sent.Len())
	}
}

// FlushPending writes what a partial TryWrite kept, and nothing else.
func TestFlushPending(t *testing.T) {
	c, client := tcpPair(t)
	var sent bytes.Buffer
	for i := 0; ; i++ {
		b := bytes.Repeat([]byte{byte('A' + i%26)}, 48<<10)
		rest, err := c.TryWrite(b)
		if errors.Is(err, errWouldWait) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		sent.Write(b)
		if rest {
			break
		}
		if i > 4096 {
			t.Fatal("the socket never filled")
		}
	}
	done := make(chan []byte)
	go func() {
		_ = client.SetReadDeadline(time.Now().Add(20 * time.Second))
		b := make([]byte, sent.Len())
		n, _ := io.ReadFull(client, b)
		done <- b[:n]
	}()
	if err := c.FlushPending(time.Now().Add(20 * time.Second)); err != nil {
		t.Fatal(err)
	}
	if got := <-done; !bytes.Equal(got, sent.Bytes()) {
		t.Fatalf("peer read %d bytes, want the %d written", len(got), sent.Len())
	}
	// Nothing more is on the wire.
	_ = client.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
	if n, err := client.Read(make([]byte, 1)); n != 0 || !isTimeout(err) {
		t.Fatalf("read after the flush: %d bytes, %v; want nothing", n, err)
	}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
