package server_test

import (
	"bufio"
	"bytes"
	"image"
	"image/png"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"beacon/server/servertest"
)

// TestSecurityHeadersOnEveryAnswer: the security headers are on every kind
// of answer the main listener gives: success, the API's errors, answers
// made from the request head alone (body over the limit, head too large,
// a half-sent head that runs out of time), files and ranges.
func TestSecurityHeadersOnEveryAnswer(t *testing.T) {
	s := servertest.Start(t, servertest.Options{ReadTimeout: time.Second})
	var med servertest.Media
	if code := s.Upload("small.png", tinyPNGFile(t), &med); code != 201 {
		t.Fatalf("upload: %d", code)
	}
	auth := "Authorization: Bearer " + s.Token + "\r\n"
	for _, tc := range []struct {
		name, request string
		status        int
	}{
		{"health", "GET /healthz HTTP/1.1\r\nHost: b\r\n\r\n", 200},
		{"JSON", "GET /api/v1/me HTTP/1.1\r\nHost: b\r\n" + auth + "\r\n", 200},
		{"no token", "GET /api/v1/me HTTP/1.1\r\nHost: b\r\n\r\n", 401},
		{"no route", "GET /nope HTTP/1.1\r\nHost: b\r\n\r\n", 404},
		{"missing object", "GET /api/v1/playlists/pls_x HTTP/1.1\r\nHost: b\r\n" + auth + "\r\n", 404},
		{"wrong method", "PATCH /healthz HTTP/1.1\r\nHost: b\r\n\r\n", 405},
		{"wrong content type", "POST /api/v1/playlists HTTP/1.1\r\nHost: b\r\n" + auth + "Content-Type: text/plain\r\nContent-Length: 2\r\n\r\n{}", 415},
		{"body over the limit", "POST /api/v1/auth/login HTTP/1.1\r\nHost: b\r\nContent-Type: application/json\r\nContent-Length: 1073741824\r\n\r\n", 413},
		{"original", "GET /api/v1/media/" + med.ID + "/original HTTP/1.1\r\nHost: b\r\n" + auth + "\r\n", 200},
		{"range", "GET /api/v1/media/" + med.ID + "/original HTTP/1.1\r\nHost: b\r\n" + auth + "Range: bytes=1-\r\n\r\n", 206},
		{"head too large", "GET /healthz HTTP/1.1\r\nHost: b\r\nX-Pad: " + strings.Repeat("a", 6<<10) + "\r\n\r\n", 431},
		{"head runs out of time", "GET /healthz HTTP/1.1\r\nHost: b\r\n", 408},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := net.Dial("tcp", s.Addr)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			_ = c.SetDeadline(time.Now().Add(10 * time.Second))
			if _, err := io.WriteString(c, tc.request); err != nil {
				t.Fatal(err)
			}
			resp, err := http.ReadResponse(bufio.NewReader(c), nil)
			if err != nil {
				t.Fatalf("no answer: %v", err)
			}
			resp.Body.Close()
			if resp.StatusCode != tc.status {
				t.Fatalf("%d, want %d", resp.StatusCode, tc.status)
			}
			for h, want := range map[string]string{"X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer", "X-Frame-Options": "DENY"} {
				if got := resp.Header.Get(h); got != want {
					t.Errorf("%s: %q, want %q", h, got, want)
				}
			}
			if csp := resp.Header.Get("Content-Security-Policy"); !strings.HasPrefix(csp, "default-src 'none'") {
				t.Errorf("Content-Security-Policy: %q", csp)
			}
		})
	}
}

func tinyPNGFile(t *testing.T) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := png.Encode(&b, image.NewNRGBA(image.Rect(0, 0, 32, 32))); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}
