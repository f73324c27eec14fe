package player_test

import (
	"bytes"
	"image"
	"image/png"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"beacon/player"
	"beacon/player/internal/fakeserver"
	"beacon/protocol"
)

func chromiumPath(t *testing.T) string {
	for _, p := range []string{os.Getenv("BEACON_CHROMIUM"), "/usr/bin/chromium", "/usr/bin/chromium-browser"} {
		if p == "" {
			continue
		}
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	if p, err := exec.LookPath("chromium"); err == nil {
		return p
	}
	t.Skip("chromium not found (set BEACON_CHROMIUM); skipping the renderer test")
	return ""
}

// TestRendererChromium loads the renderer page in headless Chromium: it
// shows the pairing code, then the manifest's image, pixel for pixel.
func TestRendererChromium(t *testing.T) {
	if testing.Short() {
		t.Skip("short mode")
	}
	const w, h = 640, 360
	ctx := browser(t, w, h)
	srv := fakeserver.New()
	defer srv.Close()
	p := startPlayer(t, srv.URL, t.TempDir())

	if err := chromedp.Do(ctx,
		chromedp.Navigate("http://"+p.Addr()+"/"),
		chromedp.WaitReady(chromedp.CSS(`body[data-state="pairing"][data-code]`)),
	); err != nil {
		t.Fatalf("pairing screen: %v", err)
	}
	code, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body.dataset.code`))
	if err != nil {
		t.Fatal(err)
	}
	st := waitStatus(t, p, "renderer connected", func(s player.Status) bool { return s.RendererConnected })
	if code == "" || code != st.PairingCode {
		t.Fatalf("page shows code %q, status has %q", code, st.PairingCode)
	}
	if dir := os.Getenv("BEACON_SHOT_DIR"); dir != "" { // for looking at the screens by eye
		if shot, err := chromedp.Run(ctx, chromedp.CaptureScreenshot()); err == nil {
			_ = os.WriteFile(dir+"/pairing.png", shot, 0o644)
		}
	}
	text, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(`#pairing`)))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains([]byte(text), []byte(code)) || !bytes.Contains([]byte(text), []byte("Pair this screen in Beacon")) {
		t.Errorf("pairing screen text %q", text)
	}

	if err := srv.Claim(code, testDisplay, "Lobby"); err != nil {
		t.Fatal(err)
	}
	want := testImage(t, w, h, 128)
	f := srv.AddFile(want, "image/png")
	waitStatus(t, p, "paired", func(s player.Status) bool { return s.Paired })
	if _, err := srv.SendManifest(makeManifest(1, 60, f)); err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(ctx,
		chromedp.WaitReady(chromedp.CSS(`body[data-state="playing"][data-shown="`+f.SHA256+`"]`)),
		chromedp.Sleep(300*time.Millisecond), // let the frame reach the compositor
	); err != nil {
		t.Fatalf("image screen: %v", err)
	}
	shot, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		t.Fatal(err)
	}
	st = waitStatus(t, p, "now playing", func(s player.Status) bool {
		return s.State == protocol.StatePlaying && s.NowPlaying != nil && s.NowPlaying.SHA256 == f.SHA256
	})

	if dir := os.Getenv("BEACON_SHOT_DIR"); dir != "" {
		_ = os.WriteFile(dir+"/playing.png", shot, 0o644)
	}
	got, err := png.Decode(bytes.NewReader(shot))
	if err != nil {
		t.Fatal(err)
	}
	ref, _ := png.Decode(bytes.NewReader(want))
	if got.Bounds().Dx() != w || got.Bounds().Dy() != h {
		t.Fatalf("screenshot is %v, want %dx%d", got.Bounds(), w, h)
	}
	if d := meanDiff(got, ref); d >= 8 {
		_ = os.WriteFile(t.TempDir()+"/shot.png", shot, 0o644)
		t.Errorf("screenshot differs from the image: mean abs difference %.2f per channel", d)
	} else {
		t.Logf("screenshot mean abs difference %.2f per channel", d)
	}
}

func meanDiff(a, b image.Image) float64 {
	bb := b.Bounds()
	var sum, n float64
	for y := bb.Min.Y; y < bb.Max.Y; y++ {
		for x := bb.Min.X; x < bb.Max.X; x++ {
			r1, g1, b1, _ := a.At(x, y).RGBA()
			r2, g2, b2, _ := b.At(x, y).RGBA()
			sum += absDiff(r1>>8, r2>>8) + absDiff(g1>>8, g2>>8) + absDiff(b1>>8, b2>>8)
			n += 3
		}
	}
	return sum / n
}

func absDiff(a, b uint32) float64 {
	if a > b {
		return float64(a - b)
	}
	return float64(b - a)
}
