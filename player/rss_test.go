package player_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"beacon/player"
	"beacon/protocol"
)

// TestIdleRSS measures the resident memory of a real beacon-player process
// playing one manifest of 20 cached 1080p images offline, with a fake
// renderer fetching every image it is told to show. Run it with
//
//	BEACON_BENCH=1 go test -run TestIdleRSS -v ./player/
//
// It prints "player idle_rss_mb=N" and fails above 30 MB.
func TestIdleRSS(t *testing.T) {
	if os.Getenv("BEACON_BENCH") != "1" {
		t.Skip("set BEACON_BENCH=1 to measure the player's idle RSS")
	}
	tmp := t.TempDir()
	bin := filepath.Join(tmp, "beacon-player")
	build := exec.Command("go", "build", "-o", bin, "beacon/cmd/beacon-player")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}

	// A paired data dir: pinned key, signed manifest, 20 cached images.
	dir := filepath.Join(tmp, "data")
	pub, priv, _ := ed25519.GenerateKey(rand.Reader)
	state, _ := json.Marshal(map[string]any{"display_id": testDisplay, "name": "bench", "server_key": []byte(pub)})
	must(t, os.MkdirAll(dir, 0o700))
	must(t, os.WriteFile(filepath.Join(dir, "state.json"), state, 0o600))
	var files []protocol.File
	var total int
	for i := 0; i < 20; i++ {
		data := benchImage(t, 1920, 1080, i)
		total += len(data)
		s := sha(data)
		p := filepath.Join(dir, "cache", s[:2], s)
		must(t, os.MkdirAll(filepath.Dir(p), 0o755))
		must(t, os.WriteFile(p, data, 0o644))
		files = append(files, protocol.File{SHA256: s, Size: int64(len(data)), URL: "/player/v1/files/" + s, ContentType: "image/jpeg"})
	}
	sm, err := protocol.SignManifest(priv, makeManifest(1, 0.5, files...))
	must(t, err)
	raw, _ := json.Marshal(sm)
	must(t, os.WriteFile(filepath.Join(dir, "manifest.json"), raw, 0o600))

	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := ln.Addr().String()
	ln.Close()
	cmd := exec.Command(bin, "--server", "http://127.0.0.1:9", "--data", dir, "--listen", addr)
	must(t, cmd.Start())
	defer func() {
		_ = cmd.Process.Signal(os.Interrupt)
		_ = cmd.Wait()
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if _, err := player.WaitStatus(ctx, addr, func(s player.Status) bool { return s.NowPlaying != nil }); err != nil {
		t.Fatal(err)
	}

	// A stand-in renderer: fetch each image the player shows.
	ws, _, err := websocket.DefaultDialer.Dial("ws://"+addr+"/renderer/ws", http.Header{"Origin": {"http://" + addr}})
	must(t, err)
	defer ws.Close()
	shown := 0
	end := time.Now().Add(12 * time.Second)
	for time.Now().Before(end) {
		_ = ws.SetReadDeadline(end)
		_, msg, err := ws.ReadMessage()
		if err != nil {
			break
		}
		var c struct{ Type, URL, SHA256 string }
		_ = json.Unmarshal(msg, &c)
		if c.Type != "show" {
			continue
		}
		resp, err := http.Get("http://" + addr + c.URL)
		must(t, err)
		n, _ := bytes.NewBuffer(nil).ReadFrom(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || n == 0 {
			t.Fatalf("renderer fetch %s: %s", c.URL, resp.Status)
		}
		_ = ws.WriteJSON(map[string]string{"type": "shown", "sha256": c.SHA256})
		shown++
	}
	rss := vmRSS(t, cmd.Process.Pid)
	mb := float64(rss) / 1024
	msg := fmt.Sprintf("player idle_rss_mb=%.1f (20 cached 1080p JPEGs, %.1f MB in all; %d shown)", mb, float64(total)/(1<<20), shown)
	fmt.Println(msg)
	t.Log(msg)
	if shown < 10 {
		t.Errorf("only %d items shown in 12 s", shown)
	}
	if mb >= 30 {
		t.Errorf("idle RSS %.1f MB, target < 30 MB", mb)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// vmRSS returns a process's VmRSS in KiB.
func vmRSS(t *testing.T, pid int) int64 {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Skipf("no /proc: %v", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			n, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return n
		}
	}
	t.Fatal("VmRSS not found")
	return 0
}

// benchImage is a 1080p JPEG with enough detail to weigh a few hundred KB.
func benchImage(t *testing.T, w, h, seed int) []byte {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			v := (x*x + y*y*3 + seed*977) ^ (x * y)
			img.Set(x, y, color.RGBA{R: byte(v), G: byte(v >> 3), B: byte(v>>5 + seed*13), A: 255})
		}
	}
	var buf bytes.Buffer
	must(t, jpeg.Encode(&buf, img, &jpeg.Options{Quality: 85}))
	return buf.Bytes()
}
