package server

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/valyala/fasthttp"
)

// Transport defaults; each one is a `beacon serve` flag.
const (
	DefaultMaxJSONBody  int64 = 1 << 20 // request bodies other than uploads
	DefaultReadTimeout        = 30 * time.Second
	DefaultWriteTimeout       = 30 * time.Second
	DefaultIdleTimeout        = 120 * time.Second
	// DefaultMaxHeaderBytes bounds a request head: browsers and API
	// clients send well under 2 KB.
	DefaultMaxHeaderBytes = 4 << 10
	// uploadFraming is what a multipart upload may carry beyond the file
	// itself (boundaries, part headers, small form fields).
	uploadFraming int64 = 1 << 20
)

const uploadPath = "/api/v1/media"

// refusedLength marks a request whose Content-Length was over its limit
// when its head arrived (see headerReceived).
const refusedLength = "X-Beacon-Refused-Length"

// isUpload reports whether a request goes to the upload route, matching
// as the router does (case-insensitive, trailing slash ignored).
// A resumable upload's creation (which may carry the first bytes) and its
// PATCH requests are uploads too.
func isUpload(method, uri []byte) bool {
	path, _, _ := bytes.Cut(uri, []byte("?"))
	path = bytes.TrimSuffix(path, []byte("/"))
	switch {
	case bytes.Equal(method, []byte(fiber.MethodPost)):
		return bytes.EqualFold(path, []byte(uploadPath)) || bytes.EqualFold(path, []byte(strings.TrimSuffix(uploadsPath, "/")))
	case bytes.Equal(method, []byte(fiber.MethodPatch)):
		return len(path) > len(uploadsPath) && bytes.EqualFold(path[:len(uploadsPath)], []byte(uploadsPath))
	}
	return false
}

func (s *Server) bodyLimit(upload bool) int64 {
	if upload {
		return s.cfg.MaxUploadBytes + uploadFraming
	}
	return s.cfg.MaxJSONBody
}

// headerReceived runs when a request's head has arrived, before fasthttp
// reads any of its body. A body declared larger than its limit is not read
// at all: the request goes on with no body and a mark that limitBody
// answers with 413, closing the connection.
func (s *Server) headerReceived(h *fasthttp.RequestHeader) fasthttp.RequestConfig {
	h.Del(refusedLength) // only this hook sets it
	if cl := h.ContentLength(); cl > 0 && int64(cl) > s.bodyLimit(isUpload(h.Method(), h.RequestURI())) {
		h.Set(refusedLength, strconv.Itoa(cl))
		h.SetContentLength(0)
		h.Del(fiber.HeaderExpect) // no 100 Continue: nothing will be read
	}
	return fasthttp.RequestConfig{}
}

var errBodyTooLarge = errors.New("request body too large")

// bodyGuard reads a request body stream up to limit bytes. For uploads it
// also moves the connection's read deadline forward on every read: a long
// upload lives as long as it makes progress, a stalled one ends after the
// read timeout.
type bodyGuard struct {
	r        io.Reader
	limit    int64
	n        int64
	exceeded bool
	conn     net.Conn
	idle     time.Duration
}

func (g *bodyGuard) Read(p []byte) (int, error) {
	if g.exceeded {
		return 0, errBodyTooLarge
	}
	if g.conn != nil && g.idle > 0 {
		_ = g.conn.SetReadDeadline(time.Now().Add(g.idle))
	}
	if max := g.limit - g.n + 1; int64(len(p)) > max {
		p = p[:max]
	}
	n, err := g.r.Read(p)
	g.n += int64(n)
	if g.n > g.limit {
		g.exceeded = true
		return 0, errBodyTooLarge
	}
	return n, err
}

// limitBody bounds every request body while it streams, whoever reads it.
// Uploads (POST /api/v1/media) may carry MaxUploadBytes; every other body
// MaxJSONBody. A Content-Length over the limit is refused before anything is
// read; a chunked body is cut off at the limit. Bodies up to MaxJSONBody are
// read by fasthttp before the handler runs (that is the server's BodyLimit);
// larger ones arrive as a stream that only this middleware and the upload
// handler read.
func (s *Server) limitBody(c *fiber.Ctx) error {
	h := &c.Request().Header
	cl := h.ContentLength() // -1 chunked, -2 no body
	if refused := h.Peek(refusedLength); len(refused) > 0 {
		cl, _ = strconv.Atoi(string(refused))
	}
	if cl == 0 || cl == -2 {
		return c.Next()
	}
	if ce := h.Peek(fiber.HeaderContentEncoding); len(ce) > 0 && !bytes.EqualFold(ce, []byte("identity")) {
		c.Context().SetConnectionClose()
		return fail(fiber.StatusUnsupportedMediaType, "unsupported_encoding", "request bodies are accepted without Content-Encoding only")
	}
	upload := isUpload(h.Method(), h.RequestURI())
	limit := s.bodyLimit(upload)
	tooLarge := func() error {
		c.Context().SetConnectionClose() // the client may still be sending
		s.m.tooLarge.Inc()
		if upload {
			return fail(fiber.StatusRequestEntityTooLarge, "too_large", fmt.Sprintf("file exceeds the upload limit of %d bytes", s.cfg.MaxUploadBytes))
		}
		return fail(fiber.StatusRequestEntityTooLarge, "too_large", fmt.Sprintf("request body exceeds the limit of %d bytes", limit))
	}
	if int64(cl) > limit {
		return tooLarge()
	}
	if cl > 0 && int64(cl) <= s.cfg.MaxJSONBody {
		return c.Next() // already read, and within every limit
	}
	stream := c.Context().RequestBodyStream()
	if stream == nil {
		return c.Next()
	}
	g := &bodyGuard{r: stream, limit: limit}
	if upload {
		g.conn, g.idle = c.Context().Conn(), s.cfg.ReadTimeout
		c.Locals(uploadBodyKey, g)
	} else {
		// A chunked body of a small request: read it here, at most to the
		// limit, so any decoder downstream sees a bounded byte slice.
		body, err := io.ReadAll(g)
		if g.exceeded {
			return tooLarge()
		}
		if err != nil {
			c.Context().SetConnectionClose()
			return fail(fiber.StatusBadRequest, "bad_request", "reading the request body: "+err.Error())
		}
		c.Request().SetBody(body)
	}
	err := c.Next()
	if g.exceeded {
		return tooLarge()
	}
	if err != nil || c.Response().StatusCode() >= 400 {
		// The handler may have left part of the body unread.
		c.Context().SetConnectionClose()
	}
	return err
}

const uploadBodyKey = "beacon.uploadBody"

// uploadBody is the request body of an upload, bounded by limitBody.
func uploadBody(c *fiber.Ctx) io.Reader {
	if g, ok := c.Locals(uploadBodyKey).(*bodyGuard); ok {
		return g
	}
	if r := c.Context().RequestBodyStream(); r != nil {
		return r
	}
	return bytes.NewReader(c.Body())
}

// securityHeaders go on every response. The API answers JSON and files,
// never pages, so its content policy forbids everything.
func securityHeaders(c *fiber.Ctx) error {
	setSecurityHeaders(c)
	return c.Next()
}

func setSecurityHeaders(c *fiber.Ctx) {
	c.Set(fiber.HeaderXContentTypeOptions, "nosniff")
	c.Set(fiber.HeaderReferrerPolicy, "no-referrer")
	c.Set(fiber.HeaderXFrameOptions, "DENY")
	c.Set(fiber.HeaderContentSecurityPolicy, "default-src 'none'; frame-ancestors 'none'; sandbox")
	if c.Context().IsTLS() {
		c.Set(fiber.HeaderStrictTransportSecurity, "max-age=31536000")
	}
}

// progressListener gives every accepted connection a write timeout that is
// a progress rule: each write must complete within d. A large download or
// the event stream lives as long as the client keeps reading; a client that
// stops reading is cut off after d. Code that sets its own write deadline
// (the WebSocket sessions) turns the rule off for that connection.
type progressListener struct {
	net.Listener
	d time.Duration
}

func (l progressListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil || l.d <= 0 {
		return c, err
	}
	return newProgressConn(c, l.d), nil
}

func newProgressConn(c net.Conn, d time.Duration) *progressConn {
	pc := &progressConn{Conn: c, d: d}
	if sc, ok := c.(syscall.Conn); ok {
		pc.rc, _ = sc.SyscallConn()
	}
	return pc
}

type progressConn struct {
	net.Conn
	d      time.Duration
	manual atomic.Bool
	rd, wd lazyDeadline // see lazyDeadline
	// rc is the socket, for TryWrite and a player poller; nil when the
	// connection is not one.
	rc syscall.RawConn

	// wmu makes each Write, ReadFrom, TryWrite and FlushPending whole:
	// no bytes of one come between those of another. pending holds the
	// end of a frame TryWrite began; it goes out before anything else.
	wmu     sync.Mutex
	pending []byte

	// unread holds bytes a player poller read from the socket and gave
	// back (Unread): Read returns them first. Only the connection's
	// reader uses it, and the poller only while the reader waits for it
	// (the hand-over is a channel's close).
	unread []byte
}

// progressChunk is the most of a file sent under one deadline: a client
// that reads at least this much per write timeout is never cut off (256
// KiB per 30 s: about 70 kbit/s).
const progressChunk = 256 << 10

func (c *progressConn) Read(p []byte) (int, error) {
	if len(c.unread) > 0 {
		n := copy(p, c.unread)
		c.unread = c.unread[n:]
		if len(c.unread) == 0 {
			c.unread = nil
		}
		return n, nil
	}
	for {
		n, err := c.Conn.Read(p)
		if n == 0 && err != nil && c.rd.expired(err, c.Conn.SetReadDeadline) {
			continue
		}
		return n, err
	}
}

// Unread gives back bytes read from the socket (by a player poller):
// the next reads return them first.
func (c *progressConn) Unread(b []byte) { c.unread = append(c.unread, b...) }

// SyscallConn is the socket's, for a player poller.
func (c *progressConn) SyscallConn() (syscall.RawConn, error) {
	if c.rc == nil {
		return nil, errors.New("not a socket")
	}
	return c.rc, nil
}

func (c *progressConn) Write(p []byte) (int, error) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if !c.manual.Load() {
		_ = c.wd.set(time.Now().Add(c.d), c.Conn.SetWriteDeadline)
	}
	if err := c.flushPendingLocked(); err != nil {
		return 0, err
	}
	return c.writeLocked(p)
}

func (c *progressConn) writeLocked(p []byte) (int, error) {
	total := 0
	for {
		n, err := c.Conn.Write(p[total:])
		total += n
		if err != nil && c.wd.expired(err, c.Conn.SetWriteDeadline) {
			continue
		}
		return total, err
	}
}

func (c *progressConn) flushPendingLocked() error {
	if len(c.pending) == 0 {
		return nil
	}
	n, err := c.writeLocked(c.pending)
	c.pending = c.pending[n:]
	if len(c.pending) == 0 {
		c.pending = nil
	}
	return err
}

// errWouldWait is TryWrite's answer when it could write nothing at once.
var errWouldWait = errors.New("the connection cannot take the bytes without waiting")

// TryWrite writes p from the caller's goroutine without waiting: not for
// another writer, the socket's buffer or a deadline. It answers
// errWouldWait, having written nothing, when another write is under way,
// the end of an earlier TryWrite is still to go, or the socket takes no
// byte now. When the socket takes only part of p (rest), the rest is kept
// and goes out first on the next Write or FlushPending, which the caller
// must then see to. The sessions' broadcast writes one frame to thousands
// of idle players this way, without waking a writer for each
// (players.directWriter).
func (c *progressConn) TryWrite(p []byte) (rest bool, err error) {
	if !c.wmu.TryLock() {
		return false, errWouldWait
	}
	defer c.wmu.Unlock()
	if len(c.pending) > 0 || len(p) == 0 || c.rc == nil {
		return false, errWouldWait
	}
	// Control, not RawConn.Write: that one waits for the poller and
	// honours a write deadline that fired while the session was idle. The
	// descriptor is non-blocking; wmu keeps every other write of this
	// connection out meanwhile.
	var n int
	var werr error
	if err := c.rc.Control(func(fd uintptr) {
		for {
			n, werr = syscall.Write(int(fd), p)
			if werr != syscall.EINTR {
				return
			}
		}
	}); err != nil {
		return false, err
	}
	switch {
	case werr == syscall.EAGAIN || werr == nil && n <= 0:
		return false, errWouldWait
	case werr != nil:
		return false, werr
	case n < len(p):
		c.pending = append([]byte(nil), p[n:]...)
		return true, nil
	}
	return false, nil
}

// FlushPending writes what a TryWrite left, waiting at most until
// deadline.
func (c *progressConn) FlushPending(deadline time.Time) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if len(c.pending) == 0 {
		return nil
	}
	_ = c.wd.set(deadline, c.Conn.SetWriteDeadline)
	return c.flushPendingLocked()
}

// ReadFrom keeps sendfile for file responses, one chunk per deadline.
func (c *progressConn) ReadFrom(r io.Reader) (int64, error) {
	rf, ok := c.Conn.(io.ReaderFrom)
	if !ok {
		return io.Copy(struct{ io.Writer }{c}, r)
	}
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if err := c.flushPendingLocked(); err != nil {
		return 0, err
	}
	var total int64
	for {
		if !c.manual.Load() {
			_ = c.wd.set(time.Now().Add(c.d), c.Conn.SetWriteDeadline)
		}
		n, err := rf.ReadFrom(io.LimitReader(r, progressChunk))
		total += n
		if err != nil && c.wd.expired(err, c.Conn.SetWriteDeadline) {
			continue
		}
		if err != nil || n < progressChunk {
			return total, err
		}
	}
}

func (c *progressConn) SetReadDeadline(t time.Time) error {
	return c.rd.set(t, c.Conn.SetReadDeadline)
}

func (c *progressConn) SetWriteDeadline(t time.Time) error {
	if !t.IsZero() {
		c.manual.Store(true)
	}
	return c.wd.set(t, c.Conn.SetWriteDeadline)
}

func (c *progressConn) SetDeadline(t time.Time) error {
	if !t.IsZero() {
		c.manual.Store(true)
	}
	err := c.rd.set(t, c.Conn.SetReadDeadline)
	if werr := c.wd.set(t, c.Conn.SetWriteDeadline); err == nil {
		err = werr
	}
	return err
}
