package e2e_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"image"
	"image/png"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"beacon/player"
	"beacon/protocol"
)

// repeat is an endless stream of one byte: request bodies of any size are
// generated, never held in memory.
type repeat byte

func (r repeat) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = byte(r)
	}
	return len(p), nil
}

// procKB reads a "Vm…:  N kB" line of /proc/PID/status.
func procKB(t *testing.T, pid int, field string) int64 {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, field+":") {
			n, _ := strconv.ParseInt(strings.Fields(line)[1], 10, 64)
			return n
		}
	}
	t.Fatalf("no %s in /proc/%d/status", field, pid)
	return 0
}

// resetPeak makes VmHWM start again from the current RSS.
func resetPeak(pid int) {
	_ = os.WriteFile(fmt.Sprintf("/proc/%d/clear_refs", pid), []byte("5"), 0)
}

func openFDs(t *testing.T, pid int) int {
	t.Helper()
	ents, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		t.Fatal(err)
	}
	return len(ents)
}

type rawAnswer struct {
	status  int
	code    string
	elapsed time.Duration
	header  http.Header
	sent    int64 // body bytes the client managed to send
	close   bool  // Connection: close
}

// rawRequest writes head, then streams body (chunked if the head says so)
// while it waits for the answer; it does not wait for the body to be sent.
func rawRequest(t *testing.T, addr, head string, body io.Reader) rawAnswer {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(60 * time.Second))
	began := time.Now()
	if _, err := io.WriteString(conn, head); err != nil {
		t.Fatal(err)
	}
	var sent int64
	var wg sync.WaitGroup
	if body != nil {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var w io.Writer = conn
			if strings.Contains(head, "Transfer-Encoding: chunked") {
				cw := httputil.NewChunkedWriter(conn)
				defer cw.Close()
				w = cw
			}
			sent, _ = io.Copy(w, body)
		}()
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("no answer: %v", err)
	}
	elapsed := time.Since(began)
	var eb struct {
		Error struct{ Code string } `json:"error"`
	}
	_ = json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&eb)
	resp.Body.Close()
	conn.Close() // ends the sender
	wg.Wait()
	return rawAnswer{status: resp.StatusCode, code: eb.Error.Code, elapsed: elapsed, header: resp.Header, sent: sent, close: resp.Close}
}

func tinyPNG(t *testing.T) []byte {
	var b bytes.Buffer
	if err := png.Encode(&b, image.NewRGBA(image.Rect(0, 0, 16, 16))); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// TestServeLimits runs the real `beacon serve` with short timeouts and
// small limits and attacks it the way issue 7 §2–3 describes: bodies of a
// gigabyte, uploads over the limit, half-sent requests, WebSockets that
// never say hello, and floods of unauthenticated sessions. The server must
// answer quickly, stay up, keep its memory and its open files bounded.
func TestServeLimits(t *testing.T) {
	if testing.Short() {
		t.Skip("builds binaries")
	}
	beacon, _ := buildBinaries(t)
	data := t.TempDir()
	if out, err := exec.Command(beacon, "demo", "--data", data).CombinedOutput(); err != nil {
		t.Fatalf("demo: %v\n%s", err, out)
	}
	tokOut, err := exec.Command(beacon, "token", "create", "--data", data, "--role", "admin", "--name", "limits").Output()
	if err != nil {
		t.Fatalf("token create: %v", err)
	}
	token := strings.TrimSpace(string(tokOut))

	const maxUpload = 8 << 20
	addr, metricsAddr := freeAddr(t), freeAddr(t)
	srv := start(t, beacon, "serve", "--data", data, "--listen", addr,
		"--max-upload", strconv.Itoa(maxUpload), "--read-timeout", "2s", "--idle-timeout", "2s", "--write-timeout", "5s",
		"--ws-handshake-timeout", "3s", "--max-handshakes-per-addr", "4", "--max-pairing-per-addr", "2",
		"--metrics-listen", metricsAddr)
	waitHTTP(t, "http://"+addr+"/healthz")
	pid := srv.cmd.Process.Pid
	api := func(method, path string, out any) int {
		req, _ := http.NewRequest(method, "http://"+addr+path, nil)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", method, path, err)
		}
		defer resp.Body.Close()
		if out != nil {
			_ = json.NewDecoder(resp.Body).Decode(out)
		}
		return resp.StatusCode
	}
	count := func(path, key string) int {
		var m map[string][]json.RawMessage
		if st := api("GET", path, &m); st != 200 {
			t.Fatalf("GET %s: %d", path, st)
		}
		return len(m[key])
	}
	api("GET", "/api/v1/playlists", nil) // warm up before the baseline
	baseRSS := procKB(t, pid, "VmRSS")
	t.Logf("server RSS at start: %d MB", baseRSS/1024)

	// bounded runs one oversized request and checks the answer, the time,
	// the server's peak memory and that it still serves.
	bounded := func(t *testing.T, name, head string, body io.Reader, wantStatus int, wantCode string) rawAnswer {
		t.Helper()
		resetPeak(pid)
		before := procKB(t, pid, "VmRSS")
		a := rawRequest(t, addr, head, body)
		peak := procKB(t, pid, "VmHWM")
		grew := (peak - before) / 1024
		t.Logf("%s: %d %s in %v after %.1f MB sent; server RSS %d MB before, peak %d MB (+%d MB)",
			name, a.status, a.code, a.elapsed.Round(time.Millisecond), float64(a.sent)/(1<<20), before/1024, peak/1024, grew)
		if a.status != wantStatus || a.code != wantCode {
			t.Fatalf("%s: got %d %q, want %d %q", name, a.status, a.code, wantStatus, wantCode)
		}
		if a.elapsed > 10*time.Second {
			t.Errorf("%s: answered after %v", name, a.elapsed)
		}
		if grew >= 50 {
			t.Errorf("%s: server memory grew by %d MB", name, grew)
		}
		if resp, err := http.Get("http://" + addr + "/healthz"); err != nil || resp.StatusCode != 200 {
			t.Fatalf("%s: server down afterwards: %v", name, err)
		} else {
			resp.Body.Close()
		}
		return a
	}
	const gib = 1 << 30
	login := "POST /api/v1/auth/login HTTP/1.1\r\nHost: beacon\r\nContent-Type: application/json\r\n"
	jsonPrefix := func(s string) io.Reader { return io.MultiReader(strings.NewReader(s), repeat('a')) }

	t.Run("login 1 GiB by Content-Length", func(t *testing.T) {
		a := bounded(t, "login CL 1 GiB", login+"Content-Length: "+strconv.Itoa(gib)+"\r\n\r\n",
			io.LimitReader(jsonPrefix(`{"username":"admin","password":"`), gib), 413, "too_large")
		if !a.close {
			t.Error("the refused connection is not closed")
		}
	})
	t.Run("login 1 GiB chunked", func(t *testing.T) {
		bounded(t, "login chunked 1 GiB", login+"Transfer-Encoding: chunked\r\n\r\n",
			io.LimitReader(jsonPrefix(`{"username":"admin","password":"`), gib), 413, "too_large")
	})
	t.Run("gzip body refused", func(t *testing.T) {
		bounded(t, "login gzip", login+"Content-Encoding: gzip\r\nContent-Length: 20\r\n\r\n",
			strings.NewReader(strings.Repeat("x", 20)), 415, "unsupported_encoding")
	})

	playlists := count("/api/v1/playlists", "playlists")
	playlist := "POST /api/v1/playlists HTTP/1.1\r\nHost: beacon\r\nAuthorization: Bearer " + token + "\r\nContent-Type: application/json\r\n"
	t.Run("playlist 100 MB by Content-Length", func(t *testing.T) {
		bounded(t, "playlist CL 100 MB", playlist+"Content-Length: "+strconv.Itoa(100<<20)+"\r\n\r\n",
			io.LimitReader(jsonPrefix(`{"name":"`), 100<<20), 413, "too_large")
	})
	t.Run("playlist 100 MB chunked", func(t *testing.T) {
		bounded(t, "playlist chunked 100 MB", playlist+"Transfer-Encoding: chunked\r\n\r\n",
			io.LimitReader(jsonPrefix(`{"name":"`), 100<<20), 413, "too_large")
		if n := count("/api/v1/playlists", "playlists"); n != playlists {
			t.Fatalf("playlists: %d before, %d after the refused ones", playlists, n)
		}
	})

	mediaCount := count("/api/v1/media", "media")
	upload := "POST /api/v1/media HTTP/1.1\r\nHost: beacon\r\nAuthorization: Bearer " + token + "\r\nContent-Type: multipart/form-data; boundary=XyZ\r\n"
	t.Run("upload over the limit by Content-Length", func(t *testing.T) {
		// No body at all: the answer must come from the header alone.
		a := bounded(t, "upload CL 100 MB, no body sent", upload+"Content-Length: "+strconv.Itoa(100<<20)+"\r\n\r\n", nil, 413, "too_large")
		if a.elapsed > 2*time.Second { // the read timeout would have answered otherwise
			t.Errorf("refused only after %v", a.elapsed)
		}
	})
	t.Run("upload without a token is refused before its body", func(t *testing.T) {
		head := strings.Replace(upload, "Authorization: Bearer "+token+"\r\n", "", 1)
		a := bounded(t, "unauthenticated upload CL 8 MB", head+"Content-Length: "+strconv.Itoa(8<<20)+"\r\n\r\n",
			io.LimitReader(repeat('u'), 8<<20), 401, "unauthorized")
		if !a.close {
			t.Error("the connection of a refused upload stays open with its body unread")
		}
	})
	part := func(field, filename string) string {
		return "--XyZ\r\nContent-Disposition: form-data; name=\"" + field + "\"; filename=\"" + filename + "\"\r\nContent-Type: application/octet-stream\r\n\r\n"
	}
	t.Run("chunked upload over the limit", func(t *testing.T) {
		body := io.MultiReader(strings.NewReader(part("file", "big.png")), io.LimitReader(repeat('p'), 40<<20), strings.NewReader("\r\n--XyZ--\r\n"))
		bounded(t, "chunked upload 40 MB file", upload+"Transfer-Encoding: chunked\r\n\r\n", body, 413, "too_large")
	})
	t.Run("chunked upload with a huge extra field", func(t *testing.T) {
		// The file itself is small and valid; a 40 MB form field around it
		// must not pass the limit either.
		body := io.MultiReader(strings.NewReader("--XyZ\r\nContent-Disposition: form-data; name=\"note\"\r\n\r\n"),
			io.LimitReader(repeat('n'), 40<<20), strings.NewReader("\r\n"+part("file", "small.png")),
			bytes.NewReader(tinyPNG(t)), strings.NewReader("\r\n--XyZ--\r\n"))
		bounded(t, "chunked upload 40 MB field", upload+"Transfer-Encoding: chunked\r\n\r\n", body, 413, "too_large")
	})
	t.Run("a slow upload and the event stream outlive the read timeout", func(t *testing.T) {
		// The event stream is opened first and must still deliver the new
		// media item's event after ~4 s (read and idle timeouts 2 s).
		req, _ := http.NewRequest("GET", "http://"+addr+"/api/v1/events", nil)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("event stream: %v", err)
		}
		defer resp.Body.Close()
		gotEvent := make(chan string, 1)
		go func() {
			sc := bufio.NewScanner(resp.Body)
			for sc.Scan() {
				if strings.HasPrefix(sc.Text(), "event: media") {
					gotEvent <- sc.Text()
					return
				}
			}
			gotEvent <- "stream ended: " + fmt.Sprint(sc.Err())
		}()
		pr, pw := io.Pipe()
		go func() {
			_, _ = io.WriteString(pw, "--XyZ\r\nContent-Disposition: form-data; name=\"note\"\r\n\r\n")
			for i := 0; i < 8; i++ { // 8 × 0.5 s: twice the read timeout
				time.Sleep(500 * time.Millisecond)
				if _, err := pw.Write(bytes.Repeat([]byte("n"), 64<<10)); err != nil {
					return
				}
			}
			_, _ = io.WriteString(pw, "\r\n"+part("file", "slow.png"))
			_, _ = pw.Write(tinyPNG(t))
			_, _ = io.WriteString(pw, "\r\n--XyZ--\r\n")
			pw.Close()
		}()
		a := rawRequest(t, addr, upload+"Transfer-Encoding: chunked\r\n\r\n", pr)
		t.Logf("upload sent over %v: %d %s", a.elapsed.Round(time.Millisecond), a.status, a.code)
		if a.status != 201 {
			t.Fatalf("a slow but steady upload: %d %s, want 201", a.status, a.code)
		}
		select {
		case ev := <-gotEvent:
			if !strings.HasPrefix(ev, "event: media") {
				t.Fatalf("event stream: %s", ev)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("no media event on the stream")
		}
		mediaCount++
	})
	if n := count("/api/v1/media", "media"); n != mediaCount {
		t.Fatalf("media: %d before, %d after the refused uploads", mediaCount, n)
	}
	// Renditions being written pass through tmp/ too: wait for them.
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		left, _ := os.ReadDir(filepath.Join(data, "media", "tmp"))
		if len(left) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("refused uploads left %d temporary files", len(left))
		}
	}

	t.Run("security headers and separate metrics", func(t *testing.T) {
		resp, err := http.Get("http://" + addr + "/api/v1/me")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		for h, want := range map[string]string{"X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer", "X-Frame-Options": "DENY"} {
			if got := resp.Header.Get(h); got != want {
				t.Errorf("%s: %q, want %q", h, got, want)
			}
		}
		if csp := resp.Header.Get("Content-Security-Policy"); !strings.HasPrefix(csp, "default-src 'none'") {
			t.Errorf("Content-Security-Policy %q", csp)
		}
		if resp.Header.Get("Strict-Transport-Security") != "" {
			t.Error("HSTS on plain HTTP")
		}
		if resp, err := http.Get("http://" + addr + "/metrics"); err != nil || resp.StatusCode != 404 {
			t.Errorf("/metrics on the main listener with --metrics-listen: %v %v", err, resp.Status)
		} else {
			resp.Body.Close()
		}
		resp, err = http.Get("http://" + metricsAddr + "/metrics")
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("/metrics on --metrics-listen: %v", err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		// Six bodies were cut off by the limits (the 40 MB file by the
		// upload's own check, counted with the uploads).
		if !bytes.Contains(b, []byte("beacon_http_body_too_large_total 6")) {
			t.Errorf("metrics do not count the 6 refused bodies:\n%s", grepLines(b, "too_large"))
		}
	})

	t.Run("1000 half-open connections", func(t *testing.T) {
		const n = 1000
		base := openFDs(t, pid)
		conns := make([]net.Conn, 0, n)
		defer func() {
			for _, c := range conns {
				c.Close()
			}
		}()
		for i := 0; i < n; i++ {
			c, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatalf("connection %d: %v", i, err)
			}
			conns = append(conns, c)
			// A request head that never ends.
			if _, err := io.WriteString(c, "POST /api/v1/auth/login HTTP/1.1\r\nHost: beacon\r\nContent-Type: application/json\r\n"); err != nil {
				t.Fatal(err)
			}
		}
		opened := time.Now()
		deadline := opened.Add(30 * time.Second)
		for openFDs(t, pid) < base+n*9/10 && time.Now().Before(deadline) {
			time.Sleep(20 * time.Millisecond)
		}
		held := openFDs(t, pid)
		var wg sync.WaitGroup
		var mu sync.Mutex
		var last time.Duration
		closed := 0
		for _, c := range conns {
			wg.Add(1)
			go func(c net.Conn) {
				defer wg.Done()
				_ = c.SetReadDeadline(time.Now().Add(20 * time.Second))
				_, err := io.Copy(io.Discard, c) // returns when the server closes
				mu.Lock()
				defer mu.Unlock()
				if ne, ok := err.(net.Error); ok && ne.Timeout() {
					return
				}
				closed++
				last = max(last, time.Since(opened))
			}(c)
		}
		wg.Wait()
		for openFDs(t, pid) > base+10 && time.Now().Before(deadline) {
			time.Sleep(50 * time.Millisecond)
		}
		after := openFDs(t, pid)
		t.Logf("half-open: server fds %d before, %d while held, %d after; %d/%d closed by the server, the last %v after all were open (read timeout 2s)",
			base, held, after, closed, n, last.Round(time.Millisecond))
		if closed != n {
			t.Fatalf("the server closed only %d of %d half-open connections within 20 s", closed, n)
		}
		if after > base+10 {
			t.Fatalf("server fds: %d before, %d after", base, after)
		}
	})

	wsURL := "ws://" + addr + protocol.WSPath
	dialer := websocket.Dialer{Subprotocols: []string{protocol.Subprotocol}, HandshakeTimeout: 5 * time.Second}
	t.Run("junk frames do not extend the handshake", func(t *testing.T) {
		conn, _, err := dialer.Dial(wsURL, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		began := time.Now()
		stop := make(chan struct{})
		defer close(stop)
		go func() {
			tick := time.NewTicker(100 * time.Millisecond)
			defer tick.Stop()
			for {
				select {
				case <-stop:
					return
				case <-tick.C:
					// Pings: frames that do not end the session (a binary
					// frame would be closed at once with 1003).
					if conn.WriteControl(websocket.PingMessage, []byte("junk"), time.Now().Add(time.Second)) != nil {
						return
					}
				}
			}
		}()
		_ = conn.SetReadDeadline(time.Now().Add(20 * time.Second))
		for {
			_, _, err = conn.ReadMessage()
			if err != nil {
				break
			}
		}
		took := time.Since(began)
		t.Logf("no hello, a ping every 100 ms: closed after %v with %v (handshake timeout 3s)", took.Round(time.Millisecond), err)
		if ne, ok := err.(net.Error); ok && ne.Timeout() {
			t.Fatal("the server kept a connection that never said hello for 20 s")
		}
		if !websocket.IsCloseError(err, websocket.ClosePolicyViolation) {
			t.Errorf("closed with %v, want close code 1008", err)
		}
		if took < 2*time.Second || took > 10*time.Second {
			t.Errorf("closed after %v; the deadline is 3 s", took)
		}
	})

	t.Run("unauthenticated sockets per address", func(t *testing.T) {
		var open []*websocket.Conn
		defer func() {
			for _, c := range open {
				c.Close()
			}
		}()
		for i := 0; i < 4; i++ {
			deadline := time.Now().Add(5 * time.Second) // earlier sockets may still be ending
			for {
				c, _, err := dialer.Dial(wsURL, nil)
				if err == nil {
					open = append(open, c)
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("socket %d of 4 allowed: %v", i+1, err)
				}
				time.Sleep(50 * time.Millisecond)
			}
		}
		// The slots are counted once each session runs.
		waitMetric(t, metricsAddr, `beacon_player_unauthenticated_sessions{stage="handshake"} 4`)
		var resp *http.Response
		var lastErr error
		deadline := time.Now().Add(2 * time.Second)
		for time.Now().Before(deadline) {
			c, r, err := dialer.Dial(wsURL, nil)
			if err == nil {
				c.Close()
			} else if lastErr = err; r != nil {
				resp = r
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
		if resp == nil || resp.StatusCode != http.StatusTooManyRequests {
			t.Fatalf("a fifth unauthenticated socket from one address: %v (%v), want 429", resp, lastErr)
		}
		if resp.Header.Get("Retry-After") == "" {
			t.Error("429 without Retry-After")
		}
		// Once the four are gone (handshake deadline), sockets are allowed again.
		deadline = time.Now().Add(15 * time.Second)
		for {
			c, _, err := dialer.Dial(wsURL, nil)
			if err == nil {
				c.Close()
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("sockets still refused after the others ended: %v", err)
			}
			time.Sleep(100 * time.Millisecond)
		}
	})

	t.Run("pairing sessions per address", func(t *testing.T) {
		a := startPlayer(t, t.TempDir(), "http://"+addr)
		b := startPlayer(t, t.TempDir(), "http://"+addr)
		hasCode := func(s player.Status) bool { return s.PairingCode != "" }
		a.wait(t, "first pairing code", hasCode)
		b.wait(t, "second pairing code", hasCode)
		c := startPlayer(t, t.TempDir(), "http://"+addr)
		time.Sleep(3 * time.Second) // it retries every 300 ms meanwhile
		if st := c.Status(); st.PairingCode != "" {
			t.Fatalf("a third pairing session from one address got code %s (limit 2)", st.PairingCode)
		}
		stopped := time.Now()
		a.stop()
		c.wait(t, "a code once a pairing session ended", hasCode)
		t.Logf("third player got a code %v after the first stopped", time.Since(stopped).Round(time.Millisecond))
		if !strings.Contains(srv.out.String(), "too many pairing sessions") {
			t.Error("the refusal is not logged")
		}
	})
}

// waitMetric polls /metrics on addr until a line equals want.
func waitMetric(t *testing.T, addr, want string) {
	t.Helper()
	var b []byte
	for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		resp, err := http.Get("http://" + addr + "/metrics")
		if err != nil {
			continue
		}
		b, _ = io.ReadAll(resp.Body)
		resp.Body.Close()
		for _, l := range strings.Split(string(b), "\n") {
			if l == want {
				return
			}
		}
	}
	t.Fatalf("metrics never showed %q:\n%s", want, grepLines(b, "beacon_player"))
}

func grepLines(b []byte, sub string) string {
	var out []string
	for _, l := range strings.Split(string(b), "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
