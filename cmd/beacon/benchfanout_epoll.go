package main

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha1"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"syscall"
	"time"

	"beacon/protocol"
)

// The event-loop players (the default of bench fanout): the same real
// protocol clients as the goroutine-per-connection ones (see
// fanoutAnswer; --client-io goroutines), without a goroutine, Go poller
// registration and WebSocket library per connection. Each connection is a
// non-blocking socket of the process's own epoll set, served by one of a
// few loops: on a shared two-core machine the players' scheduling, not
// their protocol work, was a third of their CPU, taken from the server
// being measured. The WebSocket framing they need is small and is done
// here (RFC 6455: a client's frames are masked, the server's are not).

// wsGUID is RFC 6455's key suffix for Sec-WebSocket-Accept.
const wsGUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

// Opcodes (RFC 6455 §5.2).
const (
	opContinuation = 0x0
	opText         = 0x1
	opBinary       = 0x2
	opClose        = 0x8
	opPing         = 0x9
	opPong         = 0xa
)

// rawConn is one player's socket, blocking during its handshake and then
// non-blocking in a loop's epoll set.
type rawConn struct {
	i     int    // the client's index in its process
	fd    int    // the socket
	rbuf  []byte // received bytes not yet a whole frame
	msg   []byte // fragments of a message in progress
	wpend []byte // bytes a write could not take yet
	dead  bool
}

// rawDial connects to addr (from the source address from, if not nil) and
// returns a blocking socket with read and write timeouts.
func rawDial(addr string, from net.IP, timeout time.Duration) (int, error) {
	ap, err := net.ResolveTCPAddr("tcp4", addr)
	if err != nil {
		return -1, err
	}
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		return -1, err
	}
	ok := false
	defer func() {
		if !ok {
			syscall.Close(fd)
		}
	}()
	tv := syscall.NsecToTimeval(timeout.Nanoseconds())
	if err := syscall.SetsockoptTimeval(fd, syscall.SOL_SOCKET, syscall.SO_RCVTIMEO, &tv); err != nil {
		return -1, err
	}
	if err := syscall.SetsockoptTimeval(fd, syscall.SOL_SOCKET, syscall.SO_SNDTIMEO, &tv); err != nil {
		return -1, err
	}
	if err := syscall.SetsockoptInt(fd, syscall.IPPROTO_TCP, syscall.TCP_NODELAY, 1); err != nil {
		return -1, err
	}
	if from != nil {
		var sa syscall.SockaddrInet4
		copy(sa.Addr[:], from.To4())
		if err := syscall.Bind(fd, &sa); err != nil {
			return -1, fmt.Errorf("bind %s: %w", from, err)
		}
	}
	var sa syscall.SockaddrInet4
	copy(sa.Addr[:], ap.IP.To4())
	sa.Port = ap.Port
	for {
		err = syscall.Connect(fd, &sa)
		if err != syscall.EINTR {
			break
		}
	}
	if err != nil {
		return -1, fmt.Errorf("connect %s: %w", addr, err)
	}
	ok = true
	return fd, nil
}

// writeAll writes b to a blocking socket.
func writeAll(fd int, b []byte) error {
	for len(b) > 0 {
		n, err := syscall.Write(fd, b)
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			return err
		}
		b = b[n:]
	}
	return nil
}

// readMore reads what a blocking socket has into b.
func readMore(fd int, b []byte) ([]byte, error) {
	if cap(b)-len(b) < 4096 {
		b = append(b, make([]byte, 4096)...)[:len(b)]
	}
	for {
		n, err := syscall.Read(fd, b[len(b):cap(b)])
		if err == syscall.EINTR {
			continue
		}
		if err == syscall.EAGAIN {
			return b, errors.New("timed out")
		}
		if err != nil {
			return b, err
		}
		if n == 0 {
			return b, errors.New("connection closed by the server")
		}
		return b[:len(b)+n], nil
	}
}

// parseServerFrame reads the frame at the start of b: its opcode, FIN bit
// and payload (within b), and its length; n is 0 while b holds less than
// a whole frame.
func parseServerFrame(b []byte) (op byte, fin bool, payload []byte, n int, err error) {
	if len(b) < 2 {
		return 0, false, nil, 0, nil
	}
	if b[1]&0x80 != 0 {
		return 0, false, nil, 0, errors.New("a server frame is masked")
	}
	if b[0]&0x70 != 0 {
		return 0, false, nil, 0, errors.New("a server frame sets reserved bits")
	}
	op, fin = b[0]&0x0f, b[0]&0x80 != 0
	h, size := 2, uint64(b[1]&0x7f)
	switch size {
	case 126:
		if len(b) < 4 {
			return 0, false, nil, 0, nil
		}
		h, size = 4, uint64(binary.BigEndian.Uint16(b[2:4]))
	case 127:
		if len(b) < 10 {
			return 0, false, nil, 0, nil
		}
		h, size = 10, binary.BigEndian.Uint64(b[2:10])
	}
	if size > protocol.MaxFrameSize {
		return 0, false, nil, 0, fmt.Errorf("a server frame of %d bytes", size)
	}
	if uint64(len(b)-h) < size {
		return 0, false, nil, 0, nil
	}
	end := h + int(size)
	return op, fin, b[h:end], end, nil
}

// appendClientFrame appends a masked client frame of opcode op.
func appendClientFrame(b []byte, op byte, payload []byte, key uint32) []byte {
	start := len(b)
	b = appendClientTextFrame(b, payload, key)
	b[start] = 0x80 | op
	return b
}

// rawHandshake upgrades a new socket to a WebSocket and authenticates the
// player (hello, the challenge checked against the pinned key, the signed
// auth) as fanoutHandshake does. It returns the socket, still blocking,
// and the bytes received after auth_ok.
func rawHandshake(addr string, serverKey ed25519.PublicKey, priv ed25519.PrivateKey, from net.IP) (int, []byte, error) {
	fd, err := rawDial(addr, from, 60*time.Second)
	if err != nil {
		return -1, nil, err
	}
	fail := func(err error) (int, []byte, error) {
		syscall.Close(fd)
		return -1, nil, err
	}
	var key [16]byte
	_, _ = rand.Read(key[:])
	wsKey := base64.StdEncoding.EncodeToString(key[:])
	req := "GET " + protocol.WSPath + " HTTP/1.1\r\nHost: " + addr + "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Key: " + wsKey + "\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: " + protocol.Subprotocol + "\r\n\r\n"
	if err := writeAll(fd, []byte(req)); err != nil {
		return fail(err)
	}
	var buf []byte
	end := -1
	for end < 0 {
		if buf, err = readMore(fd, buf); err != nil {
			return fail(fmt.Errorf("upgrade: %w", err))
		}
		if len(buf) > 16<<10 {
			return fail(errors.New("upgrade: response head too large"))
		}
		end = bytes.Index(buf, []byte("\r\n\r\n"))
	}
	head := string(buf[:end])
	buf = buf[end+4:]
	if !strings.HasPrefix(head, "HTTP/1.1 101 ") {
		line, _, _ := strings.Cut(head, "\r\n")
		return fail(fmt.Errorf("upgrade refused: %s", line))
	}
	sum := sha1.Sum([]byte(wsKey + wsGUID))
	accept := base64.StdEncoding.EncodeToString(sum[:])
	okAccept := false
	for _, line := range strings.Split(head, "\r\n")[1:] {
		name, value, _ := strings.Cut(line, ":")
		if strings.EqualFold(strings.TrimSpace(name), "Sec-WebSocket-Accept") && strings.TrimSpace(value) == accept {
			okAccept = true
		}
	}
	if !okAccept {
		return fail(errors.New("upgrade: wrong Sec-WebSocket-Accept"))
	}
	send := func(typ string, body any) error {
		b, err := protocol.Encode(typ, body)
		if err != nil {
			return err
		}
		return writeAll(fd, appendClientTextFrame(nil, b, fanoutMask()))
	}
	nonce := make([]byte, protocol.NonceSize)
	_, _ = rand.Read(nonce)
	if err := send(protocol.TypeHello, protocol.Hello{ProtocolVersion: 1, PlayerVersion: "bench", PublicKey: priv.Public().(ed25519.PublicKey), Nonce: nonce,
		Capabilities: []string{protocol.CapOverride}}); err != nil {
		return fail(err)
	}
	for {
		op, fin, payload, n, err := parseServerFrame(buf)
		if err != nil {
			return fail(err)
		}
		if n == 0 {
			if buf, err = readMore(fd, buf); err != nil {
				return fail(err)
			}
			continue
		}
		frame := bytes.Clone(payload)
		buf = buf[n:]
		switch {
		case op == opPing:
			if err := writeAll(fd, appendClientFrame(nil, opPong, frame, fanoutMask())); err != nil {
				return fail(err)
			}
			continue
		case op == opClose:
			return fail(fmt.Errorf("the server closed the connection: %q", frame))
		case op != opText || !fin:
			return fail(fmt.Errorf("unexpected frame (opcode %d) during the handshake", op))
		}
		done, err := authStep(frame, serverKey, priv, nonce, send)
		if err != nil {
			return fail(err)
		}
		if done {
			return fd, bytes.Clone(buf), nil
		}
	}
}

// rawLoop serves its share of the connections from one epoll set.
type rawLoop struct {
	epfd  int
	conns map[int]*rawConn // by socket
	v     *verifier
	memo  *frameMemo
	out   *lineWriter
	sc    fanoutScratch
	read  []byte
}

func newRawLoop(v *verifier, memo *frameMemo, out *lineWriter) (*rawLoop, error) {
	epfd, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
	if err != nil {
		return nil, err
	}
	return &rawLoop{epfd: epfd, conns: map[int]*rawConn{}, v: v, memo: memo, out: out, read: make([]byte, 64<<10),
		sc: fanoutScratch{frame: make([]byte, 0, 4096), msg: make([]byte, 0, 512), out: make([]byte, 0, 1024), line: make([]byte, 0, 64)}}, nil
}

// add makes c's socket non-blocking, takes the bytes that came after its
// handshake and watches it.
func (l *rawLoop) add(ctx context.Context, c *rawConn, pending []byte) error {
	if err := syscall.SetNonblock(c.fd, true); err != nil {
		return err
	}
	l.conns[c.fd] = c
	if err := syscall.EpollCtl(l.epfd, syscall.EPOLL_CTL_ADD, c.fd, &syscall.EpollEvent{Events: syscall.EPOLLIN, Fd: int32(c.fd)}); err != nil {
		return err
	}
	if len(pending) > 0 {
		l.received(ctx, c, pending)
	}
	return nil
}

// run serves the connections until ctx ends.
func (l *rawLoop) run(ctx context.Context) {
	defer func() {
		for fd := range l.conns {
			syscall.Close(fd)
		}
		syscall.Close(l.epfd)
	}()
	events := make([]syscall.EpollEvent, 512)
	for ctx.Err() == nil {
		n, err := syscall.EpollWait(l.epfd, events, 100)
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			l.out.printf("fail epoll: %s\n", oneLine(err.Error()))
			return
		}
		for _, ev := range events[:n] {
			c := l.conns[int(ev.Fd)]
			if c == nil || c.dead {
				continue
			}
			if ev.Events&syscall.EPOLLOUT != 0 {
				l.flush(ctx, c)
			}
			if ev.Events&(syscall.EPOLLIN|syscall.EPOLLHUP|syscall.EPOLLERR) != 0 {
				l.readable(ctx, c)
			}
		}
	}
}

// readable reads what the socket has; level-triggered, so one read per
// event (the next EpollWait reports what is left).
func (l *rawLoop) readable(ctx context.Context, c *rawConn) {
	for {
		n, err := syscall.Read(c.fd, l.read)
		switch {
		case err == syscall.EINTR:
			continue
		case err == syscall.EAGAIN:
			return
		case err != nil:
			l.lose(ctx, c, err.Error())
			return
		case n == 0:
			l.lose(ctx, c, "connection closed by the server")
			return
		}
		l.received(ctx, c, l.read[:n])
		return
	}
}

// received handles data read from c: every whole frame in it, and keeps
// the rest.
func (l *rawLoop) received(ctx context.Context, c *rawConn, data []byte) {
	if len(c.rbuf) > 0 {
		c.rbuf = append(c.rbuf, data...)
		data = c.rbuf
	}
	for !c.dead {
		op, fin, payload, n, err := parseServerFrame(data)
		if err != nil {
			l.lose(ctx, c, err.Error())
			return
		}
		if n == 0 {
			break
		}
		l.frame(ctx, c, op, fin, payload)
		data = data[n:]
	}
	if len(data) == 0 {
		c.rbuf = nil
		return
	}
	c.rbuf = append(c.rbuf[:0:0], data...) // data may be the loop's read buffer
}

func (l *rawLoop) frame(ctx context.Context, c *rawConn, op byte, fin bool, payload []byte) {
	switch op {
	case opPing:
		l.write(ctx, c, appendClientFrame(l.sc.out[:0], opPong, payload, fanoutMask()))
	case opPong:
	case opClose:
		reason := "closed by the server"
		if len(payload) >= 2 {
			reason += " with code " + strconv.Itoa(int(binary.BigEndian.Uint16(payload)))
		}
		l.lose(ctx, c, reason)
	case opText, opBinary, opContinuation:
		if op != opContinuation && len(c.msg) > 0 {
			l.lose(ctx, c, "a new message before the last one ended")
			return
		}
		if !fin || len(c.msg) > 0 {
			c.msg = append(c.msg, payload...)
			if !fin {
				return
			}
			payload, c.msg = c.msg, nil
		}
		if op == opBinary {
			return
		}
		l.text(ctx, c, payload)
	default:
		l.lose(ctx, c, fmt.Sprintf("unknown opcode %d", op))
	}
}

// text answers an override frame as fanoutAnswer does: reported, then
// both acks in one write.
func (l *rawLoop) text(ctx context.Context, c *rawConn, frame []byte) {
	at := time.Now()
	res := l.memo.lookup(frame)
	if res == nil {
		res = decodeOverrideFrame(frame, l.v)
		if res.override {
			l.memo.store(frame, res)
		}
	}
	if !res.override {
		return
	}
	if res.err != nil {
		l.out.printf("bad ? %s\n", oneLine(res.err.Error()))
		return
	}
	sc := &l.sc
	sc.line = append(append(append(sc.line[:0], "recv "...), res.spec.ID...), ' ')
	sc.line = append(strconv.AppendInt(sc.line, at.UnixNano(), 10), '\n')
	l.out.write(sc.line)
	sc.out = appendAcks(sc.out[:0], sc, res.spec, at.UTC(), time.Now().UTC())
	l.write(ctx, c, sc.out)
}

// write sends b (copied if the socket cannot take it all now).
func (l *rawLoop) write(ctx context.Context, c *rawConn, b []byte) {
	if len(c.wpend) > 0 {
		c.wpend = append(c.wpend, b...)
		return
	}
	n, err := syscall.Write(c.fd, b)
	if err == syscall.EAGAIN || err == syscall.EINTR {
		n, err = 0, nil
	}
	if err != nil {
		l.lose(ctx, c, err.Error())
		return
	}
	if n < len(b) {
		c.wpend = append([]byte(nil), b[n:]...)
		if err := syscall.EpollCtl(l.epfd, syscall.EPOLL_CTL_MOD, c.fd, &syscall.EpollEvent{Events: syscall.EPOLLIN | syscall.EPOLLOUT, Fd: int32(c.fd)}); err != nil {
			l.lose(ctx, c, err.Error())
		}
	}
}

// flush writes what was left over once the socket takes more.
func (l *rawLoop) flush(ctx context.Context, c *rawConn) {
	n, err := syscall.Write(c.fd, c.wpend)
	if err == syscall.EAGAIN || err == syscall.EINTR {
		return
	}
	if err != nil {
		l.lose(ctx, c, err.Error())
		return
	}
	c.wpend = c.wpend[n:]
	if len(c.wpend) == 0 {
		c.wpend = nil
		if err := syscall.EpollCtl(l.epfd, syscall.EPOLL_CTL_MOD, c.fd, &syscall.EpollEvent{Events: syscall.EPOLLIN, Fd: int32(c.fd)}); err != nil {
			l.lose(ctx, c, err.Error())
		}
	}
}

// lose ends a connection and reports it unless the bench is over.
func (l *rawLoop) lose(ctx context.Context, c *rawConn, reason string) {
	if c.dead {
		return
	}
	c.dead = true
	_ = syscall.EpollCtl(l.epfd, syscall.EPOLL_CTL_DEL, c.fd, nil)
	syscall.Close(c.fd)
	delete(l.conns, c.fd)
	if ctx.Err() == nil {
		l.out.printf("lost %d %s\n", c.i, oneLine(reason))
	}
}
