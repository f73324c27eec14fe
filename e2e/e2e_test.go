package e2e_test

import (
	"bytes"
	"context"
	"encoding/json"
	"image"
	"image/color"
	"image/jpeg"
	_ "image/png"
	"log/slog"
	"math"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"beacon/player"
	"beacon/protocol"
	"beacon/server/servertest"
)

const panelW, panelH = 640, 360

// allDay puts a display in a cluster that operates around the clock, so
// the tests do not depend on the time of day they run at (the default
// operating hours are 07:00–22:00).
func allDay(t *testing.T, srv *servertest.Server, displayID string) {
	t.Helper()
	var cl struct{ ID string }
	if code := srv.Do("POST", "/api/v1/clusters", map[string]any{"name": "Round the clock", "hours": []map[string]string{{"start": "00:00", "end": "00:00"}}}, &cl); code != 201 {
		t.Fatalf("create cluster: %d", code)
	}
	if code := srv.Do("PATCH", "/api/v1/displays/"+displayID, map[string]any{"cluster_id": cl.ID}, nil); code != 200 {
		t.Fatalf("put display in cluster: %d", code)
	}
}

// runningPlayer is a player daemon started in-process.
type runningPlayer struct {
	*player.Player
	cancel context.CancelFunc
	done   chan struct{} // closed when Run has returned
}

// startPlayer starts an in-process player with quick heartbeats and
// reconnects; tune, if given, adjusts its config (e.g. a fake clock).
func startPlayer(t *testing.T, dataDir, serverURL string, tune ...func(*player.Config)) *runningPlayer {
	t.Helper()
	level := slog.LevelWarn
	if os.Getenv("BEACON_TEST_LOG") != "" {
		level = slog.LevelDebug
	}
	cfg := player.Config{
		ServerURL: serverURL, DataDir: dataDir, Listen: "127.0.0.1:0",
		HeartbeatEvery: 200 * time.Millisecond, BackoffBase: 50 * time.Millisecond, BackoffMax: 300 * time.Millisecond,
		Logger: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level})),
	}
	for _, f := range tune {
		f(&cfg)
	}
	p, err := player.New(cfg)
	if err != nil {
		t.Fatalf("player: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	rp := &runningPlayer{Player: p, cancel: cancel, done: make(chan struct{})}
	go func() { _ = p.Run(ctx); close(rp.done) }()
	t.Cleanup(rp.stop)
	return rp
}

// stop ends the player and waits for it (idempotent: the test's cleanup
// stops it again).
func (rp *runningPlayer) stop() {
	rp.cancel()
	select {
	case <-rp.done:
	case <-time.After(10 * time.Second):
	}
}

func (rp *runningPlayer) wait(t *testing.T, what string, cond func(player.Status) bool) player.Status {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	st, err := player.WaitStatus(ctx, rp.Addr(), cond)
	if err != nil {
		t.Fatalf("waiting for player: %s: %v (last status %+v)", what, err, rp.Status())
	}
	return st
}

// photo is a picture with large flat areas of distinct colours, so a
// screenshot can be compared with the rendition pixel by pixel.
func photo(t *testing.T, w, h int) []byte {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			c := color.RGBA{0x20, 0x60, 0xc0, 255}
			switch {
			case x < w/3 && y < h/2:
				c = color.RGBA{0xe0, 0x20, 0x20, 255}
			case x > 2*w/3 && y > h/2:
				c = color.RGBA{0xf0, 0xd0, 0x10, 255}
			case (x/(w/8)+y/(h/6))%2 == 0:
				c = color.RGBA{0x10, 0xa0, 0x40, 255}
			}
			img.SetRGBA(x, y, c)
		}
	}
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, img, &jpeg.Options{Quality: 92}); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func chromium(t *testing.T) string {
	for _, p := range []string{"/usr/bin/chromium", "/usr/bin/chromium-browser"} {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	if p, err := exec.LookPath("chromium"); err == nil {
		return p
	}
	t.Skip("chromium is not installed (apt-get install chromium); skipping the on-screen check")
	return ""
}

// screenshot loads the renderer in headless Chromium at the panel size,
// waits until it reports the given file on screen, and returns the pixels.
func screenshot(t *testing.T, url, wantSHA string) image.Image {
	t.Helper()
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromium(t)),
		chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun, chromedp.NoDefaultBrowserCheck,
		chromedp.UserDataDir(t.TempDir()),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("hide-scrollbars", true),
		chromedp.Flag("force-device-scale-factor", "1"),
		chromedp.Flag("force-color-profile", "srgb"),
		chromedp.WindowSize(panelW, panelH),
	}
	actx, cancelA := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancelA()
	ctx, cancel := chromedp.NewContext(actx)
	defer cancel()
	ctx, cancelT := context.WithTimeout(ctx, 60*time.Second)
	defer cancelT()
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(panelW, panelH), chromedp.Navigate(url)); err != nil {
		t.Fatalf("chromium: %v", err)
	}
	// The playlist loops; wait until the wanted file is the one on screen.
	var png []byte
	deadline := time.Now().Add(45 * time.Second)
	for {
		shown, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body.dataset.shown || ""`))
		if err != nil {
			t.Fatalf("chromium: %v", err)
		}
		if shown == wantSHA {
			if png, err = chromedp.Run(ctx, chromedp.CaptureScreenshot()); err != nil {
				t.Fatalf("chromium: %v", err)
			}
			// Keep the shot only if the same file was still up after it.
			if still, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body.dataset.shown || ""`)); still == wantSHA {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("renderer never showed %s (last: %q)", wantSHA, shown)
		}
		time.Sleep(20 * time.Millisecond)
	}
	img, _, err := image.Decode(bytes.NewReader(png))
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// meanDiff is the mean absolute difference per channel (0..255) of two
// images of the same size.
func meanDiff(t *testing.T, a, b image.Image) float64 {
	t.Helper()
	if a.Bounds().Size() != b.Bounds().Size() {
		t.Fatalf("sizes differ: %v vs %v", a.Bounds().Size(), b.Bounds().Size())
	}
	var sum float64
	n := 0
	ab, bb := a.Bounds(), b.Bounds()
	for y := 0; y < ab.Dy(); y++ {
		for x := 0; x < ab.Dx(); x++ {
			r1, g1, b1, _ := a.At(ab.Min.X+x, ab.Min.Y+y).RGBA()
			r2, g2, b2, _ := b.At(bb.Min.X+x, bb.Min.Y+y).RGBA()
			sum += math.Abs(float64(r1>>8)-float64(r2>>8)) + math.Abs(float64(g1>>8)-float64(g2>>8)) + math.Abs(float64(b1>>8)-float64(b2>>8))
			n += 3
		}
	}
	return sum / float64(n)
}

// TestImageReachesTheScreen is the walking skeleton end to end: upload a
// JPEG, pair a player, schedule it, and see the rendition in the player's
// cache and on screen; then the server dies and the screen keeps playing;
// then the player restarts without a server and plays from its cache.
func TestImageReachesTheScreen(t *testing.T) {
	srv := servertest.Start(t, servertest.Options{})
	playerDir := t.TempDir()
	p := startPlayer(t, playerDir, srv.URL)

	st := p.wait(t, "pairing code", func(s player.Status) bool { return s.PairingCode != "" })
	var disp struct{ ID string }
	if code := srv.Do("POST", "/api/v1/displays/claim", map[string]any{"code": st.PairingCode, "name": "Square wall", "width": panelW, "height": panelH}, &disp); code != 201 {
		t.Fatalf("claim: %d", code)
	}
	p.wait(t, "paired", func(s player.Status) bool { return s.Paired && s.DisplayID == disp.ID })
	allDay(t, srv, disp.ID)

	var red, blue servertest.Media
	if code := srv.Upload("square.jpg", photo(t, 1600, 1200), &red); code != 201 {
		t.Fatalf("upload: %d", code)
	}
	if code := srv.Upload("gate.jpg", photo(t, 1200, 1600), &blue); code != 201 {
		t.Fatalf("upload: %d", code)
	}
	var pl struct{ ID string }
	srv.Do("POST", "/api/v1/playlists", map[string]any{"name": "Loop", "items": []map[string]any{
		{"media_id": red.ID, "duration_s": 1}, {"media_id": blue.ID, "duration_s": 1}}}, &pl)
	if code := srv.Do("POST", "/api/v1/schedules", map[string]any{"display_id": disp.ID, "playlist_id": pl.ID}, nil); code != 201 {
		t.Fatalf("schedule: %d", code)
	}

	// The rendition for this panel exists on the server...
	var rendition string
	servertest.Eventually(t, 30*time.Second, "640x360 rendition", func() bool {
		var m servertest.Media
		srv.Do("GET", "/api/v1/media/"+red.ID, nil, &m)
		for _, r := range m.Renditions {
			if r.Width == panelW && r.Height == panelH {
				rendition = r.SHA256
				return true
			}
		}
		return false
	})
	// ...reaches the player's cache...
	p.wait(t, "both files cached and playing", func(s player.Status) bool {
		return s.Cache.Files == 2 && s.Cache.Missing == 0 && s.NowPlaying != nil
	})
	cached, err := os.ReadFile(filepath.Join(playerDir, "cache", rendition[:2], rendition))
	if err != nil {
		t.Fatalf("rendition not in the player's cache: %v", err)
	}
	want, err := jpeg.Decode(bytes.NewReader(cached))
	if err != nil || want.Bounds().Dx() != panelW || want.Bounds().Dy() != panelH {
		t.Fatalf("cached rendition: %v %v", err, want.Bounds())
	}
	// ...and the screen: Chromium shows exactly those pixels.
	got := screenshot(t, "http://"+p.Addr()+"/", rendition)
	if d := meanDiff(t, got, want); d > 6 {
		t.Fatalf("screen differs from the rendition: mean difference %.1f per channel", d)
	} else {
		t.Logf("screen matches the rendition: mean difference %.2f per channel", d)
	}

	// The server reports what is playing.
	servertest.Eventually(t, 10*time.Second, "display list shows now playing", func() bool {
		var list struct {
			Displays []struct {
				Online          bool
				ManifestVersion int64                `json:"manifest_version"`
				NowPlaying      *protocol.NowPlaying `json:"now_playing"`
			}
		}
		srv.Do("GET", "/api/v1/displays", nil, &list)
		return len(list.Displays) == 1 && list.Displays[0].Online && list.Displays[0].NowPlaying != nil
	})

	// Kill the server: the player keeps playing.
	srv.Stop()
	p.wait(t, "disconnected", func(s player.Status) bool { return !s.Connected })
	first := p.Status().NowPlaying
	p.wait(t, "next item while the server is down", func(s player.Status) bool {
		return s.NowPlaying != nil && s.NowPlaying.StartedAt.After(first.StartedAt)
	})

	// Restart the player with the server still down: it plays from cache.
	p.stop()
	dead := "http://" + deadAddr(t)
	p2 := startPlayer(t, playerDir, dead)
	st = p2.wait(t, "playing from cache", func(s player.Status) bool { return s.NowPlaying != nil && s.State == protocol.StatePlaying })
	if st.Connected {
		t.Fatal("connected to a dead server?")
	}
	got = screenshot(t, "http://"+p2.Addr()+"/", rendition)
	if d := meanDiff(t, got, want); d > 6 {
		t.Fatalf("offline screen differs from the rendition: %.1f", d)
	}
}

// deadAddr is a loopback address nothing listens on.
func deadAddr(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// TestTamperingIsRejected: a manifest altered on disk is never played and
// is reported once the server is back; a corrupted cached file is never
// shown and is downloaded again.
func TestTamperingIsRejected(t *testing.T) {
	srv := servertest.Start(t, servertest.Options{})
	addr := srv.Addr
	playerDir := t.TempDir()
	p := startPlayer(t, playerDir, srv.URL)
	st := p.wait(t, "pairing code", func(s player.Status) bool { return s.PairingCode != "" })
	var disp struct{ ID string }
	srv.Do("POST", "/api/v1/displays/claim", map[string]any{"code": st.PairingCode, "name": "Kiosk", "width": 320, "height": 180}, &disp)
	allDay(t, srv, disp.ID)
	var m servertest.Media
	srv.Upload("a.jpg", photo(t, 800, 600), &m)
	var pl struct{ ID string }
	srv.Do("POST", "/api/v1/playlists", map[string]any{"name": "L", "items": []map[string]any{{"media_id": m.ID, "duration_s": 1}}}, &pl)
	srv.Do("POST", "/api/v1/schedules", map[string]any{"display_id": disp.ID, "playlist_id": pl.ID}, nil)
	st = p.wait(t, "playing", func(s player.Status) bool { return s.NowPlaying != nil && s.Cache.Missing == 0 })
	sha := st.NowPlaying.SHA256
	version := st.ManifestVersion

	// Corrupt the cached file: it is not shown, and comes back verified.
	path := filepath.Join(playerDir, "cache", sha[:2], sha)
	good, _ := os.ReadFile(path)
	bad := bytes.Clone(good)
	bad[len(bad)/2] ^= 0xff
	if err := os.WriteFile(path, bad, 0o644); err != nil {
		t.Fatal(err)
	}
	servertest.Eventually(t, 30*time.Second, "corrupted file replaced by a verified download", func() bool {
		b, err := os.ReadFile(path)
		return err == nil && bytes.Equal(b, good)
	})

	// Tamper with the stored manifest while the player is down.
	p.stop()
	srv.Stop()
	mpath := filepath.Join(playerDir, "manifest.json")
	raw, err := os.ReadFile(mpath)
	if err != nil {
		t.Fatal(err)
	}
	var sm protocol.SignedManifest
	if err := json.Unmarshal(raw, &sm); err != nil {
		t.Fatal(err)
	}
	sm.Payload = bytes.Replace(sm.Payload, []byte(`"duration_s":1`), []byte(`"duration_s":9`), 1)
	raw, _ = json.Marshal(sm)
	if err := os.WriteFile(mpath, raw, 0o644); err != nil {
		t.Fatal(err)
	}
	p2 := startPlayer(t, playerDir, "http://"+addr)
	time.Sleep(500 * time.Millisecond)
	if s := p2.Status(); s.NowPlaying != nil || s.ManifestVersion != 0 {
		t.Fatalf("tampered manifest was used: %+v", s)
	}
	// The server comes back on the same address: the player reports the
	// incident and gets a genuine manifest.
	srv2 := servertest.Start(t, servertest.Options{DataDir: srv.DataDir, Addr: addr})
	p2.wait(t, "playing a genuine manifest", func(s player.Status) bool { return s.NowPlaying != nil && s.ManifestVersion == version })
	servertest.Eventually(t, 10*time.Second, "bad_signature incident recorded", func() bool {
		var list struct {
			Incidents []struct {
				Kind string `json:"kind"`
			}
		}
		srv2.Do("GET", "/api/v1/incidents", nil, &list)
		for _, in := range list.Incidents {
			if in.Kind == protocol.IncidentBadSignature {
				return true
			}
		}
		return false
	})
}
