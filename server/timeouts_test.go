package server_test

import (
	"bufio"
	"bytes"
	"errors"
	"image"
	"image/png"
	"io"
	"net"
	"net/http"
	"syscall"
	"testing"
	"time"

	"beacon/server/servertest"
)

// bigPNG is an uncompressed PNG of about 12 MB: larger than what the
// loopback's socket buffers hold, made without spending time on noise.
func bigPNG(t *testing.T) []byte {
	t.Helper()
	img := image.NewNRGBA(image.Rect(0, 0, 1700, 1700))
	for i := range img.Pix {
		img.Pix[i] = byte(i * 7)
	}
	var b bytes.Buffer
	if err := (&png.Encoder{CompressionLevel: png.NoCompression}).Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// dialSmallWindow connects with a small receive buffer, so the server
// cannot park a whole file in the client's kernel.
func dialSmallWindow(t *testing.T, addr string) net.Conn {
	t.Helper()
	d := net.Dialer{Control: func(_, _ string, rc syscall.RawConn) error {
		var serr error
		if err := rc.Control(func(fd uintptr) {
			serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 16<<10)
		}); err != nil {
			return err
		}
		return serr
	}}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// TestHTTPTimeouts: a keep-alive connection is closed after the idle
// timeout (not the shorter read timeout); a client that stops reading a
// download is cut off after the write timeout; a client that reads slowly
// but steadily gets the whole file, however long it takes.
func TestHTTPTimeouts(t *testing.T) {
	const readTO, writeTO, idleTO = time.Second, 2 * time.Second, 4 * time.Second
	s := servertest.Start(t, servertest.Options{ReadTimeout: readTO, WriteTimeout: writeTO, IdleTimeout: idleTO})

	t.Run("idle keep-alive connection", func(t *testing.T) {
		c, err := net.Dial("tcp", s.Addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		br := bufio.NewReader(c)
		if _, err := io.WriteString(c, "GET /healthz HTTP/1.1\r\nHost: beacon\r\n\r\n"); err != nil {
			t.Fatal(err)
		}
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || resp.Close {
			t.Fatalf("healthz: %d, close %v", resp.StatusCode, resp.Close)
		}
		began := time.Now()
		_ = c.SetReadDeadline(time.Now().Add(20 * time.Second))
		_, err = br.ReadByte()
		took := time.Since(began)
		t.Logf("idle keep-alive connection closed after %v (%v); idle timeout %v, read timeout %v", took.Round(time.Millisecond), err, idleTO, readTO)
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			t.Fatal("an idle keep-alive connection was kept for 20 s")
		}
		if took < idleTO-time.Second || took > idleTO+5*time.Second {
			t.Fatalf("closed after %v, want about the idle timeout %v", took, idleTO)
		}
	})

	var med servertest.Media
	file := bigPNG(t)
	if code := s.Upload("big.png", file, &med); code != 201 {
		t.Fatalf("upload: %d", code)
	}
	get := "GET /api/v1/media/" + med.ID + "/original HTTP/1.1\r\nHost: beacon\r\nAuthorization: Bearer " + s.Token + "\r\n\r\n"

	t.Run("a client that stops reading is cut off", func(t *testing.T) {
		c := dialSmallWindow(t, s.Addr)
		if _, err := io.WriteString(c, get); err != nil {
			t.Fatal(err)
		}
		time.Sleep(writeTO + 3*time.Second) // the server's write blocks all along
		_ = c.SetReadDeadline(time.Now().Add(20 * time.Second))
		br := bufio.NewReader(c)
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatal(err)
		}
		n, err := io.Copy(io.Discard, resp.Body)
		t.Logf("stalled reader: %d of %d bytes, then %v (write timeout %v)", n, len(file), err, writeTO)
		if resp.ContentLength != int64(len(file)) {
			t.Fatalf("Content-Length %d, want %d", resp.ContentLength, len(file))
		}
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			t.Fatal("the server neither sent the rest nor closed")
		}
		if n >= int64(len(file)) {
			t.Fatal("the server waited for a client that stopped reading and sent the whole file")
		}
	})

	t.Run("a slow steady reader gets the whole file", func(t *testing.T) {
		slowRead(t, s.Addr, get, file, writeTO)
	})
}

// slowRead reads the answer to request at 1 MiB a second: each write of
// the server waits on the client longer than a fast one would, never the
// write timeout without progress.
func slowRead(t *testing.T, addr, request string, want []byte, writeTO time.Duration) {
	c := dialSmallWindow(t, addr)
	if _, err := io.WriteString(c, request); err != nil {
		t.Fatal(err)
	}
	_ = c.SetReadDeadline(time.Now().Add(60 * time.Second))
	began := time.Now()
	br := bufio.NewReaderSize(c, 64<<10)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	var got bytes.Buffer
	tick := time.NewTicker(125 * time.Millisecond)
	defer tick.Stop()
	for {
		<-tick.C
		n, err := io.CopyN(&got, resp.Body, 128<<10)
		if err == io.EOF || (err == nil && n == 0) {
			break
		}
		if err != nil {
			t.Fatalf("slow reader cut off after %d of %d bytes in %v: %v", got.Len(), len(want), time.Since(began).Round(time.Millisecond), err)
		}
	}
	t.Logf("slow reader: %d bytes in %v (write timeout %v)", got.Len(), time.Since(began).Round(time.Millisecond), writeTO)
	if resp.StatusCode != 200 || !bytes.Equal(got.Bytes(), want) {
		t.Fatalf("slow reader: %d, %d bytes, want the %d of the answer", resp.StatusCode, got.Len(), len(want))
	}
}
