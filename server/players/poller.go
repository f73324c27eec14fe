package players

import (
	"bufio"
	"errors"
	"reflect"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/gofiber/contrib/websocket"
)

// Parked readers. An authenticated display's reader that has nothing
// buffered hands its socket to one of the hub's pollers and waits on a
// channel instead of in Go's network poller. A poller is one goroutine
// with an epoll set of its own: when a parked socket is readable it reads
// what the socket holds and records every whole override_ack text frame
// at its start itself (scanAck, as the reader's quickAck does). A fleet
// acknowledges an emergency override within the same second, two frames
// per player: read this way, the acks of 10,000 players do not wake,
// schedule and park 10,000 goroutines, nor read each socket a second time
// to find it empty.
//
// Anything else (another message, a control frame, a frame not yet whole,
// the end of the stream, an error) goes back to the reader: the poller
// takes the socket out of its set, leaves the bytes it read and did not
// use with the connection (parkConn.Unread, which returns them first) and
// wakes the reader, which reads them through the WebSocket library as it
// reads everything else. The library's state stays right because a
// reader parks only at a frame boundary with nothing in the library's
// buffers (libraryReaders), and the poller only ever takes whole frames
// from the start of what it read.

// parkConn is a connection a poller can read for its session
// (server.progressConn, under fasthttp's hijacked connection). TLS
// connections are not.
type parkConn interface {
	SyscallConn() (syscall.RawConn, error)
	// Unread gives back bytes read from the socket: the next Read returns
	// them first. Called only while nothing reads the connection.
	Unread(b []byte)
}

// pollers reads parked sessions, one poller per processor.
type pollers struct {
	closed atomic.Bool
	once   sync.Once
	ps     []*poller
	err    error
	next   atomic.Uint32
}

// get returns a poller for a new parked session, or nil when none could
// be made (the reader then waits as before).
func (pp *pollers) get(h *Hub) *poller {
	if pp.closed.Load() {
		return nil
	}
	pp.once.Do(func() {
		for range runtime.GOMAXPROCS(0) {
			p, err := newPoller(h)
			if err != nil {
				pp.err = err
				h.log.Warn("player sessions are read without a poller", "err", err)
				break
			}
			pp.ps = append(pp.ps, p)
		}
	})
	if len(pp.ps) == 0 {
		return nil
	}
	return pp.ps[int(pp.next.Add(1))%len(pp.ps)]
}

// close stops the pollers (after every session has ended).
func (pp *pollers) close() {
	pp.closed.Store(true)
	pp.once.Do(func() {}) // none is started after this
	for _, p := range pp.ps {
		p.close()
	}
}

type poller struct {
	hub  *Hub
	epfd int
	wake int // eventfd that stops run
	done chan struct{}

	mu     sync.Mutex
	parked map[uint64]*parked
	tok    uint64

	buf     []byte // what one read takes (only run uses it)
	payload []byte // an unmasked frame (only run uses it)
}

// parked is a session's socket in a poller's set.
type parked struct {
	s   *session
	rc  syscall.RawConn
	pc  parkConn
	tok uint64

	mu   sync.Mutex // held while the poller reads, and to leave the set
	off  bool       // out of the set (guarded by mu)
	idle bool       // handed back because nothing came for timeout (guarded by mu)
	back chan struct{}
	// last is when the reader parked or the poller last took a frame
	// (Unix ns); the poller's sweep hands back a socket silent for
	// timeout since.
	last    atomic.Int64
	timeout time.Duration
}

const pollRead = 16 << 10

func newPoller(h *Hub) (*poller, error) {
	epfd, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
	if err != nil {
		return nil, err
	}
	// An eventfd (EFD_CLOEXEC|EFD_NONBLOCK) wakes run to stop it.
	wake, _, errno := syscall.Syscall(syscall.SYS_EVENTFD2, 0, syscall.O_CLOEXEC|syscall.O_NONBLOCK, 0)
	if errno != 0 {
		syscall.Close(epfd)
		return nil, errno
	}
	ev := syscall.EpollEvent{Events: syscall.EPOLLIN} // token 0: stop
	if err := syscall.EpollCtl(epfd, syscall.EPOLL_CTL_ADD, int(wake), &ev); err != nil {
		syscall.Close(epfd)
		syscall.Close(int(wake))
		return nil, err
	}
	p := &poller{hub: h, epfd: epfd, wake: int(wake), done: make(chan struct{}), parked: map[uint64]*parked{},
		buf: make([]byte, pollRead), payload: make([]byte, 0, maxPolledFrame)}
	go p.run()
	return p, nil
}

func (p *poller) close() {
	var one = [8]byte{1}
	_, _ = syscall.Write(p.wake, one[:])
	<-p.done
	syscall.Close(p.epfd)
	syscall.Close(p.wake)
}

// add puts a session's socket (rc, of pc) in the set. It is listed once
// it is in the epoll set: an event that comes in between is reported
// again (the set is level-triggered).
func (p *poller) add(s *session, pc parkConn, rc syscall.RawConn, timeout time.Duration) (*parked, error) {
	p.mu.Lock()
	p.tok++
	pk := &parked{s: s, rc: rc, pc: pc, tok: p.tok, back: make(chan struct{}), timeout: timeout}
	p.mu.Unlock()
	pk.last.Store(time.Now().UnixNano())
	ev := syscall.EpollEvent{Events: syscall.EPOLLIN | syscall.EPOLLRDHUP}
	ev.Fd, ev.Pad = int32(uint32(pk.tok)), int32(uint32(pk.tok>>32))
	var cerr error
	if err := rc.Control(func(fd uintptr) {
		cerr = syscall.EpollCtl(p.epfd, syscall.EPOLL_CTL_ADD, int(fd), &ev)
	}); err != nil {
		cerr = err
	}
	if cerr != nil {
		return nil, cerr
	}
	p.mu.Lock()
	p.parked[pk.tok] = pk
	p.mu.Unlock()
	p.hub.parkedNow.Inc()
	return pk, nil
}

// leave takes pk out of the set (waiting for a read of it in progress);
// the poller does not touch its socket afterwards.
func (p *poller) leave(pk *parked) {
	pk.mu.Lock()
	p.leaveLocked(pk)
	pk.mu.Unlock()
	p.forget(pk)
}

func (p *poller) leaveLocked(pk *parked) {
	if pk.off {
		return
	}
	pk.off = true
	_ = pk.rc.Control(func(fd uintptr) {
		_ = syscall.EpollCtl(p.epfd, syscall.EPOLL_CTL_DEL, int(fd), nil)
	})
}

func (p *poller) forget(pk *parked) {
	p.mu.Lock()
	_, there := p.parked[pk.tok]
	delete(p.parked, pk.tok)
	p.mu.Unlock()
	if there {
		p.hub.parkedNow.Dec()
	}
}

func (p *poller) run() {
	defer close(p.done)
	events := make([]syscall.EpollEvent, 256)
	swept := time.Now()
	for {
		n, err := syscall.EpollWait(p.epfd, events, int(sweepEvery/time.Millisecond))
		if now := time.Now(); now.Sub(swept) >= sweepEvery {
			p.sweep(now)
			swept = now
		}
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			p.hub.log.Error("player poller stopped", "err", err)
			p.handAllBack()
			return
		}
		for _, ev := range events[:n] {
			tok := uint64(uint32(ev.Fd)) | uint64(uint32(ev.Pad))<<32
			if tok == 0 {
				p.handAllBack()
				return
			}
			p.mu.Lock()
			pk := p.parked[tok]
			p.mu.Unlock()
			if pk != nil {
				p.readable(pk, ev.Events)
			}
		}
	}
}

// sweepEvery is how often a poller looks for parked sockets silent for
// their read timeout (which are then closed up to this much late).
const sweepEvery = time.Second

// sweep hands back, marked idle, the sockets that received nothing for
// their timeout.
func (p *poller) sweep(now time.Time) {
	var silent []*parked
	p.mu.Lock()
	for _, pk := range p.parked {
		if now.UnixNano()-pk.last.Load() >= int64(pk.timeout) {
			silent = append(silent, pk)
		}
	}
	p.mu.Unlock()
	for _, pk := range silent {
		pk.mu.Lock()
		idle := !pk.off && now.UnixNano()-pk.last.Load() >= int64(pk.timeout)
		if idle {
			pk.idle = true
			p.handBackLocked(pk, nil)
		}
		pk.mu.Unlock()
		if idle { // a frame that came meanwhile keeps it parked
			p.forget(pk)
		}
	}
}

// handAllBack wakes every parked reader (the poller stops).
func (p *poller) handAllBack() {
	p.mu.Lock()
	all := make([]*parked, 0, len(p.parked))
	for _, pk := range p.parked {
		all = append(all, pk)
	}
	p.mu.Unlock()
	for _, pk := range all {
		pk.mu.Lock()
		p.handBackLocked(pk, nil)
		pk.mu.Unlock()
		p.forget(pk)
	}
}

// readable reads a parked socket: whole acks at the start are recorded,
// anything else goes back to the session's reader.
func (p *poller) readable(pk *parked, events uint32) {
	pk.mu.Lock()
	defer pk.mu.Unlock()
	if pk.off {
		return
	}
	var n int
	var rerr error
	// Control, not Read: the socket is non-blocking and the poller never
	// waits on it; Control holds it open meanwhile.
	if err := pk.rc.Control(func(fd uintptr) {
		for {
			n, rerr = syscall.Read(int(fd), p.buf)
			if rerr != syscall.EINTR {
				return
			}
		}
	}); err != nil {
		rerr = err // closed: the reader sees to it
	}
	switch {
	case rerr == syscall.EAGAIN:
		if events&(syscall.EPOLLRDHUP|syscall.EPOLLHUP|syscall.EPOLLERR) != 0 {
			p.handBackLocked(pk, nil)
		}
		return
	case rerr != nil || n <= 0:
		p.handBackLocked(pk, nil) // the reader's own read finds the end or the error
		return
	}
	data := p.buf[:n]
	used := p.takeAcks(pk, data)
	if used < len(data) {
		p.handBackLocked(pk, data[used:])
	} else if events&(syscall.EPOLLRDHUP|syscall.EPOLLHUP|syscall.EPOLLERR) != 0 {
		p.handBackLocked(pk, nil)
	}
}

// handBackLocked takes pk out of the set, leaves rest with the connection
// and wakes the reader.
func (p *poller) handBackLocked(pk *parked, rest []byte) {
	if pk.off {
		return
	}
	p.hub.handedBack.Inc()
	p.leaveLocked(pk)
	if len(rest) > 0 {
		pk.pc.Unread(append([]byte(nil), rest...))
	}
	close(pk.back)
}

// maxPolledFrame is the largest frame a poller records itself (an ack is
// about 200 bytes); larger ones go to the reader.
const maxPolledFrame = 1024

// takeAcks records the whole override_ack frames at the start of data and
// returns how many bytes they took.
func (p *poller) takeAcks(pk *parked, data []byte) int {
	used, acks, pongs := 0, 0, 0
	for used < len(data) {
		op, payload, size, ok := maskedFrame(data[used:], p.payload[:0])
		if !ok {
			break
		}
		if op == opPong { // an answer to the hub's ping: the player is there
			used += size
			pongs++
			continue
		}
		if op != opText || !pk.s.quickAck(payload) {
			break
		}
		used += size
		acks++
	}
	if acks+pongs > 0 {
		pk.last.Store(time.Now().UnixNano())
		p.hub.polledAcks.Add(float64(acks))
	}
	return used
}

// Opcodes a poller takes (RFC 6455 §5.2).
const (
	opText = 0x1
	opPong = 0xa
)

// maskedFrame reads one whole, final, masked text or pong frame of at most
// maxPolledFrame bytes of payload from the start of b (a client's frame,
// RFC 6455 §5.2) and unmasks its payload into dst. ok is false for
// anything else, or a frame not yet whole, which the library then reads
// (and refuses, if it is not valid).
func maskedFrame(b, dst []byte) (op byte, payload []byte, size int, ok bool) {
	if len(b) < 2 || b[1]&0x80 == 0 { // masked
		return 0, nil, 0, false
	}
	switch b[0] { // FIN, no RSV bits
	case 0x80 | opText:
	case 0x80 | opPong:
		if b[1]&0x7f > 125 {
			return 0, nil, 0, false
		}
	default:
		return 0, nil, 0, false
	}
	op = b[0] & 0x0f
	n, hdr := int(b[1]&0x7f), 2
	switch {
	case n == 127:
		return 0, nil, 0, false
	case n == 126:
		if len(b) < 4 {
			return 0, nil, 0, false
		}
		n, hdr = int(b[2])<<8|int(b[3]), 4
		if n < 126 { // not the shortest form
			return 0, nil, 0, false
		}
	}
	if n > maxPolledFrame || len(b) < hdr+4+n {
		return 0, nil, 0, false
	}
	key := b[hdr : hdr+4]
	body := b[hdr+4 : hdr+4+n]
	dst = append(dst[:0], body...)
	for i := range dst {
		dst[i] ^= key[i&3]
	}
	return op, dst, hdr + 4 + n, true
}

// errIdle ends a parked session that received nothing for readTimeout.
var errIdle = errors.New("no frame from the player within the read timeout")

// park waits, the socket in a poller's set, until the poller hands it
// back: nil to read on, errIdle when nothing came for timeout (since park
// began or the poller's last frame), errClosed when the session closes.
//
//go:noinline
func (s *session) park(p *poller, pc parkConn, rc syscall.RawConn, timeout time.Duration) error {
	pk, err := p.add(s, pc, rc, timeout)
	if err != nil {
		return nil // read as before
	}
	select {
	case <-pk.back:
		p.forget(pk)
		pk.mu.Lock()
		idle := pk.idle
		pk.mu.Unlock()
		if idle {
			return errIdle
		}
		return nil
	case <-s.done:
		p.leave(pk)
		return errClosed
	}
}

var bufioReaderType = reflect.TypeOf((*bufio.Reader)(nil))

// libraryReaders are the buffered readers the WebSocket library reads the
// connection through: the WebSocket connection's, and the reader of
// fasthttp's hijacked connection under it (when it has one). ok is false
// when they cannot be found (their layout is not the one this was
// written for): the session then never parks, and
// TestParkedReadersAcksAndTheRest (server) fails.
func libraryReaders(c *websocket.Conn) (rs []*bufio.Reader, ok bool) {
	if c == nil || c.Conn == nil {
		return nil, false
	}
	br := reflect.ValueOf(c.Conn).Elem().FieldByName("br")
	if !br.IsValid() || br.Type() != bufioReaderType || br.IsNil() {
		return nil, false
	}
	rs = append(rs, (*bufio.Reader)(br.UnsafePointer()))
	hj := reflect.ValueOf(c.NetConn())
	if hj.Kind() != reflect.Pointer || hj.IsNil() || hj.Elem().Kind() != reflect.Struct {
		return nil, false
	}
	r := hj.Elem().FieldByName("r")
	if !r.IsValid() || r.Kind() != reflect.Interface {
		return nil, false
	}
	if !r.IsNil() {
		if e := r.Elem(); e.Type() == bufioReaderType && !e.IsNil() {
			rs = append(rs, (*bufio.Reader)(e.UnsafePointer()))
		}
	}
	return rs, true
}

// buffered is how many bytes the library's readers hold unread.
func buffered(rs []*bufio.Reader) int {
	n := 0
	for _, r := range rs {
		n += r.Buffered()
	}
	return n
}
