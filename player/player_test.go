package player_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"beacon/player"
	"beacon/player/internal/fakeserver"
	"beacon/playlists"
	"beacon/protocol"
)

const testDisplay = "disp-1"

func testLogger(t *testing.T) *slog.Logger {
	if os.Getenv("BEACON_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// running is a player started by startPlayer.
type running struct {
	*player.Player
	dir  string
	stop func()
}

func startPlayer(t *testing.T, serverURL, dir string) *running {
	t.Helper()
	return startPlayerWith(t, serverURL, dir, nil)
}

// startPlayerWith starts a player whose config is adjusted by tune.
func startPlayerWith(t *testing.T, serverURL, dir string, tune func(*player.Config)) *running {
	t.Helper()
	cfg := player.Config{
		ServerURL:      serverURL,
		DataDir:        dir,
		Listen:         "127.0.0.1:0",
		HeartbeatEvery: 200 * time.Millisecond,
		BackoffBase:    20 * time.Millisecond,
		BackoffMax:     200 * time.Millisecond,
		Logger:         testLogger(t),
		Version:        "test",
	}
	if tune != nil {
		tune(&cfg)
	}
	p, err := player.New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	stopped := false
	stop := func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("Run did not return after cancel")
		}
		if c, err := net.DialTimeout("tcp", p.Addr(), time.Second); err == nil {
			c.Close()
			t.Errorf("listen address %s still accepts connections after Run returned", p.Addr())
		}
	}
	t.Cleanup(stop)
	return &running{Player: p, dir: dir, stop: stop}
}

func ctxT(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

func waitStatus(t *testing.T, p *running, what string, cond func(player.Status) bool) player.Status {
	t.Helper()
	st, err := player.WaitStatus(ctxT(t, 15*time.Second), p.Addr(), cond)
	if err != nil {
		b, _ := json.Marshal(st)
		t.Fatalf("waiting for %s: %v; last status %s", what, err, b)
	}
	return st
}

// pair runs the pairing flow and returns once the player is paired.
func pair(t *testing.T, srv *fakeserver.Server, p *running) {
	t.Helper()
	code, err := srv.PairingCode(ctxT(t, 15*time.Second))
	if err != nil {
		t.Fatalf("no pairing code: %v", err)
	}
	waitStatus(t, p, "pairing code", func(s player.Status) bool {
		return s.State == protocol.StatePairing && s.PairingCode == code && !s.Paired
	})
	if err := srv.Claim(code, testDisplay, "Lobby"); err != nil {
		t.Fatal(err)
	}
	waitStatus(t, p, "paired", func(s player.Status) bool {
		return s.Paired && s.DisplayID == testDisplay && s.State == protocol.StateWaiting && s.PairingCode == ""
	})
}

// testImage makes a PNG of w×h with a pattern derived from seed.
func testImage(t testing.TB, w, h int, seed byte) []byte {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			c := color.RGBA{R: byte(x * 255 / w), G: byte(y * 255 / h), B: seed, A: 255}
			if (x/(w/4+1)+y/(h/3+1))%2 == 0 {
				c.R, c.B = 255-c.R, 255-seed
			}
			img.Set(x, y, c)
		}
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// makeManifest is a program manifest for testDisplay: one schedule, all
// day (UTC), looping an image item per file (item-1, item-2, …) for dur
// seconds each (at least 1 s, the shortest play a program allows).
func makeManifest(version int64, dur float64, files ...protocol.File) protocol.Manifest {
	prog := &playlists.Program{
		Display:   playlists.Display{ID: testDisplay, Width: 640, Height: 360},
		Timezone:  "UTC",
		Hours:     []playlists.Window{{Start: "00:00", End: "00:00"}},
		Playlists: []playlists.Playlist{{ID: "pl-1", Name: "Main", Transition: playlists.Transition{Kind: "cut"}}},
		Layouts:   []playlists.Layout{},
		Schedules: []playlists.Schedule{{ID: "sc-1", Target: playlists.Target{DisplayIDs: []string{testDisplay}},
			Content: playlists.Content{PlaylistID: "pl-1"}, Priority: 1}},
	}
	for i, f := range files {
		id := fmt.Sprintf("item-%d", i+1)
		prog.Items = append(prog.Items, playlists.Item{ID: id, Kind: playlists.KindImage, DurationS: max(dur, 1),
			Variants: map[string]playlists.Variant{"": {SHA256: f.SHA256, ContentType: f.ContentType}}})
		prog.Playlists[0].Entries = append(prog.Playlists[0].Entries, playlists.Entry{ItemID: id})
	}
	raw, err := json.Marshal(prog)
	if err != nil {
		panic(err)
	}
	return protocol.Manifest{
		DisplayID: testDisplay,
		Version:   version,
		IssuedAt:  time.Now().UTC(),
		Display:   protocol.DisplaySpec{Width: 640, Height: 360, Fit: "contain", Background: "#000000"},
		Timezone:  "UTC",
		Playlist:  protocol.Playlist{Items: []protocol.Item{}},
		Program:   raw,
		Files:     files,
	}
}

func httpGet(t *testing.T, url string) (*http.Response, []byte) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, b
}

func sha(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func decodeBody[T any](t *testing.T, e protocol.Envelope) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(e.Body, &v); err != nil {
		t.Fatalf("decode %s: %v", e.Type, err)
	}
	return v
}

func TestPairing(t *testing.T) {
	srv := fakeserver.New()
	defer srv.Close()
	p := startPlayer(t, srv.URL, t.TempDir())
	pair(t, srv, p)

	fi, err := os.Stat(filepath.Join(p.dir, "player.key"))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("player.key mode %v, want 0600", fi.Mode().Perm())
	}
	raw, err := os.ReadFile(filepath.Join(p.dir, "state.json"))
	if err != nil {
		t.Fatal(err)
	}
	var st struct {
		DisplayID string `json:"display_id"`
		Name      string `json:"name"`
		ServerKey string `json:"server_key"`
	}
	if err := json.Unmarshal(raw, &st); err != nil {
		t.Fatal(err)
	}
	if st.DisplayID != testDisplay || st.Name != "Lobby" || st.ServerKey != base64.StdEncoding.EncodeToString(srv.Pub) {
		t.Errorf("state.json = %s", raw)
	}
	// The hello carried the player's key; heartbeats follow pairing.
	hello := decodeBody[protocol.Hello](t, srv.Received(protocol.TypeHello)[0])
	if !bytes.Equal(hello.PublicKey, p.PublicKey()) || hello.ProtocolVersion != protocol.Version {
		t.Errorf("hello = %+v", hello)
	}
	// Heartbeats start with pairing (state pairing), then say waiting.
	hb, err := srv.WaitFor(ctxT(t, 5*time.Second), protocol.TypeHeartbeat, nil)
	if err != nil {
		t.Fatal(err)
	}
	if h := decodeBody[protocol.Heartbeat](t, hb); h.State != protocol.StatePairing && h.State != protocol.StateWaiting {
		t.Errorf("heartbeat state %q", h.State)
	}
	if _, err := srv.WaitFor(ctxT(t, 5*time.Second), protocol.TypeHeartbeat, func(e protocol.Envelope) bool {
		return decodeBody[protocol.Heartbeat](t, e).State == protocol.StateWaiting
	}); err != nil {
		t.Fatalf("no heartbeat with state waiting after paired: %v", err)
	}

	// A restart reconnects as the known display with auth_ok, no pairing.
	p.stop()
	p2 := startPlayer(t, srv.URL, p.dir)
	waitStatus(t, p2, "reconnected", func(s player.Status) bool { return s.Connected && s.Paired && s.State == protocol.StateWaiting })
	// The status can say connected before the server has recorded the
	// hello: wait for the server's side.
	if _, err := srv.WaitFor(ctxT(t, 5*time.Second), protocol.TypeHello, func(e protocol.Envelope) bool {
		return decodeBody[protocol.Hello](t, e).DisplayID == testDisplay
	}); err != nil {
		t.Errorf("no second hello with display_id %q: %v", testDisplay, err)
	}
	for _, e := range srv.Received(protocol.TypeHello)[1:] {
		if h := decodeBody[protocol.Hello](t, e); h.DisplayID != testDisplay {
			t.Errorf("a hello after pairing had display_id %q", h.DisplayID)
		}
	}
}

// setupPlaying pairs a player and applies a manifest with the given files.
func setupPlaying(t *testing.T, srv *fakeserver.Server, dir string, dur float64, files ...protocol.File) (*running, protocol.Manifest) {
	t.Helper()
	p := startPlayer(t, srv.URL, dir)
	pair(t, srv, p)
	m := makeManifest(1, dur, files...)
	if _, err := srv.SendManifest(m); err != nil {
		t.Fatal(err)
	}
	waitStatus(t, p, "manifest 1 playing", func(s player.Status) bool {
		return s.ManifestVersion == 1 && s.Cache.Missing == 0 && s.NowPlaying != nil && s.State == protocol.StatePlaying
	})
	return p, m
}

func TestManifestApplied(t *testing.T) {
	srv := fakeserver.New()
	defer srv.Close()
	img1, img2 := testImage(t, 64, 36, 10), testImage(t, 64, 36, 200)
	f1, f2 := srv.AddFile(img1, "image/png"), srv.AddFile(img2, "image/png")
	p, _ := setupPlaying(t, srv, t.TempDir(), 0.3, f1, f2)

	ctx := ctxT(t, 10*time.Second)
	ack, err := srv.WaitFor(ctx, protocol.TypeAck, nil)
	if err != nil {
		t.Fatal(err)
	}
	if a := decodeBody[protocol.Ack](t, ack); a.ManifestVersion != 1 || a.Ref == "" {
		t.Errorf("ack = %+v", a)
	}
	if _, err := srv.WaitFor(ctx, protocol.TypeFileList, func(e protocol.Envelope) bool {
		fl := decodeBody[protocol.FileList](t, e)
		return fl.ManifestVersion == 1 && len(fl.Have) == 2 && len(fl.Missing) == 0
	}); err != nil {
		t.Fatal(err)
	}
	// Both items get their turn.
	seen := map[string]bool{}
	waitStatus(t, p, "both items played", func(s player.Status) bool {
		if s.NowPlaying != nil {
			seen[s.NowPlaying.SHA256] = true
		}
		return seen[f1.SHA256] && seen[f2.SHA256]
	})
	st := p.Status()
	if st.Cache.Files != 2 || st.Cache.Bytes != int64(len(img1)+len(img2)) {
		t.Errorf("cache stats %+v", st.Cache)
	}
	if _, err := srv.WaitFor(ctx, protocol.TypeHeartbeat, func(e protocol.Envelope) bool {
		h := decodeBody[protocol.Heartbeat](t, e)
		return h.ManifestVersion == 1 && h.State == protocol.StatePlaying && h.NowPlaying != nil && h.Cache.Files == 2
	}); err != nil {
		t.Fatal(err)
	}

	resp, body := httpGet(t, "http://"+p.Addr()+"/content/"+f1.SHA256)
	if resp.StatusCode != 200 || !bytes.Equal(body, img1) {
		t.Fatalf("/content: %s, %d bytes", resp.Status, len(body))
	}
	if ct, cc := resp.Header.Get("Content-Type"), resp.Header.Get("Cache-Control"); ct != "image/png" || cc != "no-store" {
		t.Errorf("/content headers: Content-Type %q, Cache-Control %q", ct, cc)
	}
	if resp, _ := httpGet(t, "http://"+p.Addr()+"/content/"+strings.Repeat("ab", 32)); resp.StatusCode != 404 {
		t.Errorf("/content for an unknown sha: %s", resp.Status)
	}
	if resp, _ := httpGet(t, "http://"+p.Addr()+"/content/..%2fstate.json"); resp.StatusCode != 404 {
		t.Errorf("/content with a bad name: %s", resp.Status)
	}
	// A renderer that (re)connects gets the current command at once.
	rc, _, err := websocket.DefaultDialer.Dial("ws://"+p.Addr()+"/renderer/ws", http.Header{"Origin": {"http://" + p.Addr()}})
	if err != nil {
		t.Fatal(err)
	}
	_ = rc.SetReadDeadline(time.Now().Add(5 * time.Second))
	// The layout, then what its zone shows.
	var cmd struct {
		Type, Zone, Kind, URL, SHA256 string
		DurationMS                    int64 `json:"duration_ms"`
	}
	for cmd.Type != "show" {
		if err := rc.ReadJSON(&cmd); err != nil {
			t.Fatal(err)
		}
	}
	if cmd.Zone != "main" || cmd.Kind != "image" || cmd.URL != "/content/"+cmd.SHA256 || cmd.DurationMS <= 0 ||
		(cmd.SHA256 != f1.SHA256 && cmd.SHA256 != f2.SHA256) {
		t.Errorf("renderer command %+v", cmd)
	}
	waitStatus(t, p, "renderer connected", func(s player.Status) bool { return s.RendererConnected })
	rc.Close()
	waitStatus(t, p, "renderer gone", func(s player.Status) bool { return !s.RendererConnected })

	// The renderer page and its assets are embedded.
	for _, path := range []string{"/", "/renderer.js", "/renderer.css"} {
		if resp, b := httpGet(t, "http://"+p.Addr()+path); resp.StatusCode != 200 || len(b) == 0 {
			t.Errorf("GET %s: %s", path, resp.Status)
		}
	}

	// A new manifest replaces the old one at the next item boundary; the
	// files it no longer lists stay in the cache (within its budget).
	img3 := testImage(t, 64, 36, 77)
	f3 := srv.AddFile(img3, "image/png")
	if _, err := srv.SendManifest(makeManifest(2, 0.3, f3)); err != nil {
		t.Fatal(err)
	}
	waitStatus(t, p, "manifest 2 playing", func(s player.Status) bool {
		return s.ManifestVersion == 2 && s.NowPlaying != nil && s.NowPlaying.SHA256 == f3.SHA256 && s.Cache.Files == 3 && s.Cache.Missing == 0
	})
	// A stale manifest is refused with stale_manifest and ignored.
	ref, err := srv.SendManifest(makeManifest(1, 0.3, f1))
	if err != nil {
		t.Fatal(err)
	}
	refusal, err := srv.WaitFor(ctx, protocol.TypeError, func(e protocol.Envelope) bool { return decodeBody[protocol.ErrorBody](t, e).Ref == ref })
	if err != nil {
		t.Fatal(err)
	}
	if e := decodeBody[protocol.ErrorBody](t, refusal); e.Code != protocol.CodeStaleManifest {
		t.Errorf("stale manifest answered %+v, want error stale_manifest", e)
	}
	if st := p.Status(); st.ManifestVersion != 2 {
		t.Errorf("manifest version after stale manifest: %d", st.ManifestVersion)
	}
}

func TestRangeResume(t *testing.T) {
	srv := fakeserver.New()
	defer srv.Close()
	img := testImage(t, 320, 180, 42)
	f := srv.AddFile(img, "image/png")
	dir := t.TempDir()
	half := len(img) / 2
	partial := filepath.Join(dir, "cache", "partial", f.SHA256)
	if err := os.MkdirAll(filepath.Dir(partial), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(partial, img[:half], 0o644); err != nil {
		t.Fatal(err)
	}
	p, _ := setupPlaying(t, srv, dir, 1, f)

	served, requests := srv.Served(f.SHA256)
	if requests != 1 || served != int64(len(img)-half) {
		t.Errorf("served %d bytes in %d requests, want %d in 1", served, requests, len(img)-half)
	}
	if r := srv.Ranges(); len(r) != 1 || r[0] != fmt.Sprintf("bytes=%d-", half) {
		t.Errorf("Range headers %q", r)
	}
	got, err := os.ReadFile(filepath.Join(dir, "cache", f.SHA256[:2], f.SHA256))
	if err != nil || !bytes.Equal(got, img) {
		t.Errorf("cached file wrong (err %v)", err)
	}
	if _, err := os.Stat(partial); !os.IsNotExist(err) {
		t.Errorf("partial file left behind: %v", err)
	}
	_ = p
}

func TestTamperedManifest(t *testing.T) {
	srv := fakeserver.New()
	defer srv.Close()
	img1 := testImage(t, 64, 36, 1)
	f1 := srv.AddFile(img1, "image/png")
	p, _ := setupPlaying(t, srv, t.TempDir(), 0.2, f1)
	ctx := ctxT(t, 10*time.Second)

	img2 := testImage(t, 64, 36, 2)
	f2 := srv.AddFile(img2, "image/png")
	m2 := makeManifest(2, 0.2, f2)

	otherPub, otherKey, _ := ed25519.GenerateKey(rand.Reader)
	_ = otherPub
	wrongKey, err := protocol.SignManifest(otherKey, m2)
	if err != nil {
		t.Fatal(err)
	}
	cases := map[string]protocol.SignedManifest{
		"flipped payload byte":  fakeserver.Tamper(srv.Sign(m2)),
		"signed by another key": wrongKey,
	}
	for name, sm := range cases {
		ref, err := srv.SendSigned(testDisplay, sm)
		if err != nil {
			t.Fatal(err)
		}
		e, err := srv.WaitFor(ctx, protocol.TypeError, func(e protocol.Envelope) bool {
			return decodeBody[protocol.ErrorBody](t, e).Ref == ref
		})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if eb := decodeBody[protocol.ErrorBody](t, e); eb.Code != protocol.CodeBadSignature {
			t.Errorf("%s: error %+v", name, eb)
		}
	}
	incidents := 0
	for _, e := range srv.Received(protocol.TypeIncident) {
		if decodeBody[protocol.Incident](t, e).Kind == protocol.IncidentBadSignature {
			incidents++
		}
	}
	if incidents != 2 {
		t.Errorf("%d bad_signature incidents, want 2", incidents)
	}
	// The old manifest keeps playing; nothing of the rejected one was fetched.
	np := waitStatus(t, p, "still playing v1", func(s player.Status) bool { return s.NowPlaying != nil }).NowPlaying
	st := waitStatus(t, p, "the loop goes on", func(s player.Status) bool {
		return s.NowPlaying != nil && s.NowPlaying.StartedAt.After(np.StartedAt)
	})
	if st.ManifestVersion != 1 || st.NowPlaying.SHA256 != f1.SHA256 {
		t.Errorf("after tampered manifests: %+v", st)
	}
	if _, n := srv.Served(f2.SHA256); n != 0 {
		t.Errorf("file of a rejected manifest was requested %d times", n)
	}
	if len(srv.Received(protocol.TypeAck)) != 1 {
		t.Errorf("rejected manifests were acknowledged")
	}
	raw, _ := os.ReadFile(filepath.Join(p.dir, "manifest.json"))
	var sm protocol.SignedManifest
	_ = json.Unmarshal(raw, &sm)
	if m, err := protocol.VerifyManifest(srv.Pub, sm); err != nil || m.Version != 1 {
		t.Errorf("manifest.json no longer holds v1: %v", err)
	}
}

func TestHashMismatch(t *testing.T) {
	srv := fakeserver.New()
	defer srv.Close()
	img1 := testImage(t, 64, 36, 1)
	f1 := srv.AddFile(img1, "image/png")
	p, _ := setupPlaying(t, srv, t.TempDir(), 0.2, f1)

	good := testImage(t, 64, 36, 99)
	f2 := srv.AddFile(good, "image/png")
	evil := bytes.Clone(good)
	evil[len(evil)/2] ^= 0xff // same size, different bytes
	srv.ServeWrongBytes(f2.SHA256, evil)
	if _, err := srv.SendManifest(makeManifest(2, 0.2, f1, f2)); err != nil {
		t.Fatal(err)
	}
	ctx := ctxT(t, 10*time.Second)
	inc, err := srv.WaitFor(ctx, protocol.TypeIncident, nil)
	if err != nil {
		t.Fatal(err)
	}
	if i := decodeBody[protocol.Incident](t, inc); i.Kind != protocol.IncidentHashMismatch || i.SHA256 != f2.SHA256 || i.ManifestVersion != 2 {
		t.Errorf("incident %+v", i)
	}
	if _, err := srv.WaitFor(ctx, protocol.TypeFileList, func(e protocol.Envelope) bool {
		fl := decodeBody[protocol.FileList](t, e)
		return fl.ManifestVersion == 2 && len(fl.Missing) == 1 && fl.Missing[0] == f2.SHA256
	}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(time.Second)
	for time.Now().Before(deadline) {
		st := p.Status()
		if st.ManifestVersion != 2 || st.Cache.Missing != 1 {
			t.Fatalf("status %+v", st)
		}
		if st.NowPlaying != nil && st.NowPlaying.SHA256 == f2.SHA256 {
			t.Fatal("a file with the wrong hash is playing")
		}
		time.Sleep(50 * time.Millisecond)
	}
	if resp, _ := httpGet(t, "http://"+p.Addr()+"/content/"+f2.SHA256); resp.StatusCode != 404 {
		t.Errorf("/content served a file that failed its hash: %s", resp.Status)
	}
	matches, _ := filepath.Glob(filepath.Join(p.dir, "cache", "*", f2.SHA256))
	if len(matches) != 0 {
		t.Errorf("bad file kept on disk: %v", matches)
	}
}

func TestCorruptCachedFile(t *testing.T) {
	srv := fakeserver.New()
	defer srv.Close()
	img := testImage(t, 64, 36, 5)
	f := srv.AddFile(img, "image/png")
	// A long item, so playback does not re-check the file during the test.
	p, _ := setupPlaying(t, srv, t.TempDir(), 60, f)

	path := filepath.Join(p.dir, "cache", f.SHA256[:2], f.SHA256)
	bad := bytes.Clone(img)
	bad[10] ^= 0x55
	if err := os.WriteFile(path, bad, 0o644); err != nil {
		t.Fatal(err)
	}
	resp, body := httpGet(t, "http://"+p.Addr()+"/content/"+f.SHA256)
	if resp.StatusCode != 404 || bytes.Equal(body, bad) {
		t.Fatalf("corrupt file served: %s", resp.Status)
	}
	// The server hears of it, like of a tampered manifest.
	if _, err := srv.WaitFor(ctxT(t, 10*time.Second), protocol.TypeIncident, func(e protocol.Envelope) bool {
		inc := decodeBody[protocol.Incident](t, e)
		return inc.Kind == protocol.IncidentCacheTampered && inc.SHA256 == f.SHA256 && inc.ManifestVersion == 1
	}); err != nil {
		t.Fatalf("no cache_tampered incident: %v", err)
	}
	// It is removed and fetched again.
	ctx := ctxT(t, 10*time.Second)
	for {
		if _, n := srv.Served(f.SHA256); n >= 2 {
			break
		}
		if ctx.Err() != nil {
			t.Fatal("corrupt file was not downloaded again")
		}
		time.Sleep(20 * time.Millisecond)
	}
	waitStatus(t, p, "file back", func(s player.Status) bool { return s.Cache.Missing == 0 })
	resp, body = httpGet(t, "http://"+p.Addr()+"/content/"+f.SHA256)
	if resp.StatusCode != 200 || !bytes.Equal(body, img) {
		t.Fatalf("after re-download: %s", resp.Status)
	}
}

func TestOfflinePlayback(t *testing.T) {
	srv := fakeserver.New()
	img1, img2 := testImage(t, 64, 36, 1), testImage(t, 64, 36, 2)
	f1, f2 := srv.AddFile(img1, "image/png"), srv.AddFile(img2, "image/png")
	dir := t.TempDir()
	p, _ := setupPlaying(t, srv, dir, 0.2, f1, f2)

	// Killing the server does not stop playback.
	srv.Close()
	waitStatus(t, p, "disconnected", func(s player.Status) bool { return !s.Connected })
	first := waitStatus(t, p, "playing offline", func(s player.Status) bool { return s.NowPlaying != nil })
	waitStatus(t, p, "next item offline", func(s player.Status) bool {
		return s.NowPlaying != nil && s.NowPlaying.StartedAt.After(first.NowPlaying.StartedAt)
	})
	p.stop()

	// A new player on the same data dir plays from manifest.json and the
	// cache with no server at all.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := "http://" + ln.Addr().String()
	ln.Close()
	p2 := startPlayer(t, dead, dir)
	st := waitStatus(t, p2, "offline restart playing", func(s player.Status) bool {
		return s.NowPlaying != nil && s.State == protocol.StatePlaying
	})
	if st.ManifestVersion != 1 || !st.Paired || st.Connected || st.Cache.Missing != 0 {
		t.Errorf("offline status %+v", st)
	}
	if resp, b := httpGet(t, "http://"+p2.Addr()+"/content/"+st.NowPlaying.SHA256); resp.StatusCode != 200 || len(b) == 0 {
		t.Errorf("offline /content: %s", resp.Status)
	}
}

func TestStoredManifestTampered(t *testing.T) {
	srv := fakeserver.New()
	defer srv.Close()
	f1 := srv.AddFile(testImage(t, 64, 36, 1), "image/png")
	dir := t.TempDir()
	p, m := setupPlaying(t, srv, dir, 0.2, f1)
	p.stop()

	// Someone edits manifest.json on disk.
	sm := fakeserver.Tamper(srv.Sign(m))
	raw, _ := json.Marshal(sm)
	if err := os.WriteFile(filepath.Join(dir, "manifest.json"), raw, 0o600); err != nil {
		t.Fatal(err)
	}
	before := len(srv.Received(protocol.TypeIncident))
	p2 := startPlayer(t, srv.URL, dir)
	st := waitStatus(t, p2, "connected without manifest", func(s player.Status) bool { return s.Connected && s.Paired })
	if st.ManifestVersion != 0 || st.NowPlaying != nil {
		t.Errorf("tampered stored manifest used: %+v", st)
	}
	if _, err := srv.WaitFor(ctxT(t, 5*time.Second), protocol.TypeIncident, func(e protocol.Envelope) bool {
		return decodeBody[protocol.Incident](t, e).Kind == protocol.IncidentBadSignature
	}); err != nil || len(srv.Received(protocol.TypeIncident)) <= before {
		t.Errorf("no incident for the tampered stored manifest: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "manifest.json")); !os.IsNotExist(err) {
		t.Errorf("tampered manifest.json not removed")
	}
}

func TestProtocolRobustness(t *testing.T) {
	srv := fakeserver.New()
	defer srv.Close()
	f1 := srv.AddFile(testImage(t, 64, 36, 1), "image/png")
	p, _ := setupPlaying(t, srv, t.TempDir(), 0.2, f1)
	ctx := ctxT(t, 10*time.Second)
	conns := srv.Connections()

	if err := srv.SendRaw(testDisplay, []byte(`{"type":"teleport","id":"u1","ts":"2025-01-01T00:00:00Z","body":{}}`)); err != nil {
		t.Fatal(err)
	}
	e, err := srv.WaitFor(ctx, protocol.TypeError, func(e protocol.Envelope) bool { return decodeBody[protocol.ErrorBody](t, e).Ref == "u1" })
	if err != nil {
		t.Fatal(err)
	}
	if eb := decodeBody[protocol.ErrorBody](t, e); eb.Code != protocol.CodeUnknownType {
		t.Errorf("unknown type answered with %+v", eb)
	}
	if err := srv.SendRaw(testDisplay, []byte("this is not json")); err != nil {
		t.Fatal(err)
	}
	if _, err := srv.WaitFor(ctx, protocol.TypeError, func(e protocol.Envelope) bool {
		return decodeBody[protocol.ErrorBody](t, e).Code == protocol.CodeMalformed
	}); err != nil {
		t.Fatal(err)
	}
	// A manifest whose body lacks a signature is malformed (§7 step 1),
	// not a bad signature: no incident.
	if err := srv.SendRaw(testDisplay, []byte(`{"type":"manifest","id":"m1","ts":"2025-01-01T00:00:00Z","body":{"payload":"AA=="}}`)); err != nil {
		t.Fatal(err)
	}
	if _, err := srv.WaitFor(ctx, protocol.TypeError, func(e protocol.Envelope) bool {
		eb := decodeBody[protocol.ErrorBody](t, e)
		return eb.Ref == "m1" && eb.Code == protocol.CodeMalformed
	}); err != nil {
		t.Fatal(err)
	}
	// Still the same connection, still working.
	n := len(srv.Received(protocol.TypeHeartbeat))
	if _, err := srv.WaitFor(ctx, protocol.TypeHeartbeat, func(protocol.Envelope) bool { return len(srv.Received(protocol.TypeHeartbeat)) > n }); err != nil {
		t.Fatal(err)
	}
	if srv.Connections() != conns {
		t.Errorf("player reconnected after bad frames (%d → %d connections)", conns, srv.Connections())
	}

	// A frame over 1 MiB closes the connection; the player reconnects.
	big := []byte(`{"type":"ack","id":"big","body":{"ref":"` + strings.Repeat("x", protocol.MaxFrameSize) + `"}}`)
	_ = srv.SendRaw(testDisplay, big)
	waitStatus(t, p, "reconnected after oversize frame", func(s player.Status) bool {
		return srv.Connections() > conns && s.Connected
	})
	if st := p.Status(); st.NowPlaying == nil || st.ManifestVersion != 1 {
		t.Errorf("after reconnect: %+v", st)
	}
}

func TestRefusesWithoutSubprotocol(t *testing.T) {
	hits := make(chan struct{}, 100)
	up := websocket.Upgrader{} // selects no subprotocol
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		hits <- struct{}{}
		defer c.Close()
		_ = c.SetReadDeadline(time.Now().Add(2 * time.Second))
		if _, _, err := c.ReadMessage(); err == nil {
			t.Error("player sent a frame on a connection without beacon.v1")
		}
	}))
	defer hs.Close()
	p := startPlayer(t, hs.URL, t.TempDir())
	<-hits
	<-hits // it retried, so the first attempt was refused
	if st := p.Status(); st.Connected {
		t.Errorf("connected without the subprotocol")
	}
}
