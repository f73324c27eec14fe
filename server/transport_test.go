package server_test

import (
	"io"
	"net/http"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"beacon/protocol"
	"beacon/server/players"
	"beacon/server/servertest"
)

// Behind a trusted proxy, the per-address limit on player connections in
// their handshake counts each forwarded client separately, and a client
// cannot escape it by sending its own X-Forwarded-For.
func TestHandshakeLimitPerForwardedClient(t *testing.T) {
	s := servertest.Start(t, servertest.Options{
		TrustedProxies: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")},
		Players:        players.Limits{MaxHandshakesPerAddr: 1, HandshakeTimeout: 20 * time.Second},
	})
	url := "ws" + strings.TrimPrefix(s.URL, "http") + protocol.WSPath
	d := websocket.Dialer{Subprotocols: []string{protocol.Subprotocol}, HandshakeTimeout: 5 * time.Second}
	dial := func(forwarded string) (int, *websocket.Conn) {
		h := http.Header{}
		if forwarded != "" {
			h.Set("X-Forwarded-For", forwarded)
		}
		c, resp, err := d.Dial(url, h)
		if err != nil {
			if resp == nil {
				t.Fatalf("dial as %s: %v", forwarded, err)
			}
			return resp.StatusCode, nil
		}
		t.Cleanup(func() { c.Close() })
		return 101, c
	}
	// The slot is counted once the session runs; a refusal shows it.
	waitRefused := func(forwarded string) {
		t.Helper()
		for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
			code, c := dial(forwarded)
			if code == http.StatusTooManyRequests {
				return
			}
			if c != nil {
				c.Close()
			}
			if time.Now().After(deadline) {
				t.Fatalf("a second connection as %q is never refused (last %d)", forwarded, code)
			}
		}
	}
	if code, _ := dial("10.0.0.1"); code != 101 {
		t.Fatalf("first client: %d", code)
	}
	// Its session takes the slot after the 101: a second connection made
	// before that could take it first (and the first be closed with 1013).
	servertest.Eventually(t, 5*time.Second, "the first session to hold its slot", func() bool {
		resp, err := http.Get(s.URL + "/metrics")
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return strings.Contains(string(b), "\nbeacon_player_unauthenticated_sessions{stage=\"handshake\"} 1\n")
	})
	waitRefused("10.0.0.1")
	// Spoofing a header through the proxy: the proxy appends the real client.
	waitRefused("192.0.2.9, 10.0.0.1")
	if code, _ := dial("10.0.0.2"); code != 101 {
		t.Fatalf("another client behind the same proxy: %d", code)
	}
}

// The request head may be up to 4 KB by default (fasthttp's read buffer,
// which every player's WebSocket keeps for its life): a 3 KB header is
// served, a 6 KB one is refused with 431; --max-header-bytes raises it.
func TestRequestHeadLimit(t *testing.T) {
	get := func(s *servertest.Server, n int) int {
		req, _ := http.NewRequest("GET", s.URL+"/healthz", nil)
		req.Header.Set("X-Pad", strings.Repeat("a", n))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return -1
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	s := servertest.Start(t, servertest.Options{})
	if code := get(s, 3<<10); code != 200 {
		t.Fatalf("a 3 KB header: %d", code)
	}
	if code := get(s, 6<<10); code != 431 {
		t.Fatalf("a 6 KB header: %d, want 431 (the read buffer is larger than 4 KB)", code)
	}
	big := servertest.Start(t, servertest.Options{MaxHeaderBytes: 8 << 10})
	if code := get(big, 6<<10); code != 200 {
		t.Fatalf("a 6 KB header with an 8 KB limit: %d", code)
	}
	if code := get(big, 12<<10); code == 200 {
		t.Fatalf("a 12 KB header was served with an 8 KB limit")
	}
}
