package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"strings"
	"syscall"
	"testing"
	"time"

	"beacon/protocol"
)

// serverFrame is a frame as a server writes it (unmasked).
func serverFrame(op byte, fin bool, payload []byte) []byte {
	b0 := op
	if fin {
		b0 |= 0x80
	}
	b := []byte{b0}
	switch n := len(payload); {
	case n < 126:
		b = append(b, byte(n))
	case n <= 0xffff:
		b = append(b, 126, byte(n>>8), byte(n))
	default:
		b = append(b, 127)
		b = binary.BigEndian.AppendUint64(b, uint64(n))
	}
	return append(b, payload...)
}

// readClientFrame reads one masked client frame from fd (blocking).
func readClientFrame(t *testing.T, fd int, buf *[]byte) (byte, []byte) {
	t.Helper()
	for {
		b := *buf
		if len(b) >= 2 {
			if b[1]&0x80 == 0 {
				t.Fatalf("a client frame is not masked: % x", b[:2])
			}
			h, n := 2, int(b[1]&0x7f)
			switch n {
			case 126:
				if len(b) >= 4 {
					h, n = 4, int(binary.BigEndian.Uint16(b[2:4]))
				} else {
					n = -1
				}
			case 127:
				if len(b) >= 10 {
					h, n = 10, int(binary.BigEndian.Uint64(b[2:10]))
				} else {
					n = -1
				}
			}
			if n >= 0 && len(b) >= h+4+n {
				key := b[h : h+4]
				p := bytes.Clone(b[h+4 : h+4+n])
				for i := range p {
					p[i] ^= key[i&3]
				}
				*buf = b[h+4+n:]
				return b[0] & 0x0f, p
			}
		}
		more := make([]byte, 4096)
		n, err := syscall.Read(fd, more)
		if err != nil || n == 0 {
			t.Fatalf("read from the client: %d, %v", n, err)
		}
		*buf = append(*buf, more[:n]...)
	}
}

func TestParseServerFrame(t *testing.T) {
	for _, size := range []int{0, 1, 125, 126, 127, 65535, 65536, 70001} {
		p := bytes.Repeat([]byte{'x'}, size)
		f := serverFrame(opText, true, p)
		for cut := 0; cut < len(f); cut += max(1, len(f)/7) {
			if _, _, _, n, err := parseServerFrame(f[:cut]); n != 0 || err != nil {
				t.Fatalf("size %d cut at %d: n=%d err=%v, want more bytes", size, cut, n, err)
			}
		}
		op, fin, got, n, err := parseServerFrame(append(f, 0x81))
		if err != nil || op != opText || !fin || n != len(f) || !bytes.Equal(got, p) {
			t.Fatalf("size %d: op %d fin %v n %d (want %d) err %v", size, op, fin, n, len(f), err)
		}
	}
	masked := serverFrame(opText, true, []byte("hi"))
	masked[1] |= 0x80
	if _, _, _, _, err := parseServerFrame(append(masked, 0, 0, 0, 0)); err == nil {
		t.Fatal("a masked server frame was taken")
	}
	huge := []byte{0x81, 127, 0, 0, 0, 1, 0, 0, 0, 0}
	if _, _, _, _, err := parseServerFrame(huge); err == nil {
		t.Fatal("a 4 GiB frame was taken")
	}
}

// An event-loop player on one end of a socket pair: it answers a ping,
// acks an override that arrives in pieces and one sent as two fragments
// (received then painted, in one write), ignores other messages, refuses
// a forged override, and reports a close.
func TestRawClientAnswersOverrides(t *testing.T) {
	pub, good, bad := overrideFrames(t)
	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	srv := fds[1]
	defer syscall.Close(srv)
	tv := syscall.NsecToTimeval((30 * time.Second).Nanoseconds())
	_ = syscall.SetsockoptTimeval(srv, syscall.SOL_SOCKET, syscall.SO_RCVTIMEO, &tv)

	var lines bytes.Buffer
	out := &lineWriter{w: bufio.NewWriter(&syncWriter{w: &lines})}
	l, err := newRawLoop(&verifier{key: pub, seen: map[string]verified{}}, &frameMemo{}, out)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	// A manifest-like message came with the handshake's last read.
	note, _ := protocol.Encode(protocol.TypeAck, protocol.Ack{Ref: "x"})
	if err := l.add(ctx, &rawConn{i: 7, fd: fds[0]}, serverFrame(opText, true, note)); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		l.run(ctx)
		close(done)
	}()

	send := func(b []byte) {
		t.Helper()
		if err := writeAll(srv, b); err != nil {
			t.Fatal(err)
		}
	}
	var rbuf []byte
	send(serverFrame(opPing, true, []byte("p1")))
	if op, p := readClientFrame(t, srv, &rbuf); op != opPong || string(p) != "p1" {
		t.Fatalf("answer to a ping: opcode %d %q", op, p)
	}
	expectAcks := func(what string) {
		t.Helper()
		for _, want := range []string{protocol.AckReceived, protocol.AckPainted} {
			op, p := readClientFrame(t, srv, &rbuf)
			env, err := protocol.Decode(p)
			var ack protocol.OverrideAck
			if err == nil {
				err = env.DecodeBody(&ack)
			}
			if op != opText || err != nil || env.Type != protocol.TypeOverrideAck || ack.ID != "ovr_test" || ack.State != want {
				t.Fatalf("%s: opcode %d, %+v %+v %v, want a %s ack", what, op, env, ack, err, want)
			}
		}
	}
	// An override in three pieces, one write each.
	f := serverFrame(opText, true, good)
	for _, piece := range [][]byte{f[:1], f[1:100], f[100:]} {
		send(piece)
		time.Sleep(20 * time.Millisecond)
	}
	expectAcks("an override read in pieces")
	// The same override as two fragments, a ping between them.
	send(serverFrame(opText, false, good[:50]))
	send(serverFrame(opPing, true, []byte("p2")))
	send(serverFrame(opContinuation, true, good[50:]))
	if op, p := readClientFrame(t, srv, &rbuf); op != opPong || string(p) != "p2" {
		t.Fatalf("answer to a ping between fragments: opcode %d %q", op, p)
	}
	expectAcks("a fragmented override")
	// A forged one gets no ack; the close is reported.
	send(serverFrame(opText, true, bad))
	send(serverFrame(opClose, true, []byte{0x03, 0xe8}))
	deadline := time.Now().Add(30 * time.Second)
	for {
		out.flush()
		if strings.Contains(lines.String(), "lost 7 ") || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	<-done
	out.flush()
	got := lines.String()
	if strings.Count(got, "recv ovr_test ") != 2 || strings.Count(got, "\nbad ") != 1 || !strings.Contains(got, "lost 7 \"closed by the server with code 1000\"") {
		t.Fatalf("reported:\n%s", got)
	}
	if more := make([]byte, 1); true {
		_ = syscall.SetsockoptTimeval(srv, syscall.SOL_SOCKET, syscall.SO_RCVTIMEO, &syscall.Timeval{Usec: 200000})
		if n, _ := syscall.Read(srv, more); n > 0 || len(rbuf) > 0 {
			t.Fatalf("the client wrote more: % x", append(rbuf, more[:n]...))
		}
	}
}
