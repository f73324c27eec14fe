package player_test

import (
	"net"
	"net/http"
	"testing"

	"github.com/gorilla/websocket"

	"beacon/player/internal/fakeserver"
)

// TestLocalHostCheck: the local server answers only the hosts it serves,
// so a page whose DNS name was rebound to 127.0.0.1 gets nothing; the
// renderer socket also wants the player's own origin.
func TestLocalHostCheck(t *testing.T) {
	srv := fakeserver.New()
	defer srv.Close()
	p := startPlayer(t, srv.URL, t.TempDir())
	_, port, _ := net.SplitHostPort(p.Addr())

	get := func(host, path string) int {
		t.Helper()
		req, _ := http.NewRequest("GET", "http://"+p.Addr()+path, nil)
		req.Host = host
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	for _, host := range []string{"127.0.0.1:" + port, "localhost:" + port, "LOCALHOST:" + port, "[::1]:" + port} {
		for _, path := range []string{"/", "/status", "/renderer.js"} {
			if code := get(host, path); code != 200 {
				t.Errorf("Host %s %s: %d, want 200", host, path, code)
			}
		}
	}
	for _, host := range []string{"attacker.example", "attacker.example:" + port, "127.0.0.1.nip.io:" + port, "localhost:1", "127.0.0.1", "10.1.2.3:" + port} {
		for _, path := range []string{"/", "/status", "/content/" + sha([]byte("x")), "/renderer/ws"} {
			if code := get(host, path); code != http.StatusMisdirectedRequest {
				t.Errorf("Host %s %s: %d, want 421", host, path, code)
			}
		}
	}

	dial := func(host, origin string) (int, error) {
		d := websocket.Dialer{NetDial: func(network, _ string) (net.Conn, error) { return net.Dial(network, p.Addr()) }}
		h := http.Header{}
		if origin != "" {
			h.Set("Origin", origin)
		}
		c, resp, err := d.Dial("ws://"+host+"/renderer/ws", h)
		if err == nil {
			c.Close()
			return 101, nil
		}
		if resp != nil {
			return resp.StatusCode, err
		}
		return 0, err
	}
	ok := "127.0.0.1:" + port
	if code, err := dial(ok, "http://"+ok); code != 101 {
		t.Fatalf("renderer socket from its own origin: %d %v", code, err)
	}
	if code, _ := dial("localhost:"+port, "http://localhost:"+port); code != 101 {
		t.Errorf("renderer socket via localhost: %d", code)
	}
	for _, c := range []struct{ host, origin string }{
		{ok, ""},                                // no Origin
		{ok, "http://attacker.example"},         // another site
		{ok, "http://attacker.example:" + port}, // rebound name
		{ok, "https://" + ok},                   // another scheme
		{ok, "http://localhost:" + port},        // another host than the request's
		{ok, "null"},                            // a sandboxed frame
		{"attacker.example:" + port, "http://attacker.example:" + port}, // the rebinding itself
	} {
		if code, _ := dial(c.host, c.origin); code == 101 {
			t.Errorf("renderer socket accepted Host %s Origin %q", c.host, c.origin)
		}
	}
}
