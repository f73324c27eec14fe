package player_test

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"beacon/player"
	"beacon/player/internal/fakeserver"
	"beacon/player/playertest"
	"beacon/playlists"
	"beacon/protocol"
)

// browser starts headless Chromium with a w×h viewport.
func browser(t *testing.T, w, h int) context.Context {
	t.Helper()
	return browserWith(t, w, h)
}

// browserWith starts headless Chromium with a w×h viewport and extra
// options (which override the defaults).
func browserWith(t *testing.T, w, h int, extra ...chromedp.ExecAllocatorOption) context.Context {
	t.Helper()
	exe := chromiumPath(t)
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(exe),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(w, h),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("hide-scrollbars", true),
		chromedp.Flag("force-device-scale-factor", "1"),
		chromedp.Flag("mute-audio", true),
		chromedp.Flag("force-color-profile", "srgb"),
		chromedp.Flag("autoplay-policy", "no-user-gesture-required"),
	}
	opts = append(opts, extra...)
	actx, acancel := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(acancel)
	cctx, ccancel := chromedp.NewContext(actx)
	t.Cleanup(ccancel)
	ctx, cancel := context.WithTimeout(cctx, 60*time.Second)
	t.Cleanup(cancel)
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(int64(w), int64(h))); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	return ctx
}

func solidPNG(t *testing.T, w, h int, c color.RGBA) []byte {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			img.Set(x, y, c)
		}
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func screenshot(t *testing.T, ctx context.Context, name string) image.Image {
	t.Helper()
	shot, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		t.Fatal(err)
	}
	if dir := os.Getenv("BEACON_SHOT_DIR"); dir != "" { // for looking at the screens by eye
		_ = os.WriteFile(filepath.Join(dir, name+".png"), shot, 0o644)
	}
	img, err := png.Decode(bytes.NewReader(shot))
	if err != nil {
		t.Fatal(err)
	}
	return img
}

func near(c color.Color, want color.RGBA, tol int) bool {
	r, g, b, _ := c.RGBA()
	d := func(a uint32, b uint8) int {
		x := int(a>>8) - int(b)
		if x < 0 {
			return -x
		}
		return x
	}
	return d(r, want.R) <= tol && d(g, want.G) <= tol && d(b, want.B) <= tol
}

func checkPixels(t *testing.T, img image.Image, what string, want color.RGBA, pts ...image.Point) {
	t.Helper()
	for _, pt := range pts {
		if c := img.At(pt.X, pt.Y); !near(c, want, 12) {
			t.Errorf("%s: pixel %v is %v, want %v", what, pt, c, want)
		}
	}
}

func waitJS(t *testing.T, ctx context.Context, what, expr string) {
	t.Helper()
	if err := chromedp.Do(ctx, chromedp.Poll[chromedp.Void](expr, chromedp.WithPollingInterval(50*time.Millisecond), chromedp.WithPollingTimeout(20*time.Second))); err != nil {
		state, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body.dataset.state + ' ' + document.getElementById('stage').innerHTML.slice(0, 600)`))
		t.Fatalf("waiting for %s: %v (page: %s)", what, err, state)
	}
}

// TestRendererZonesChromium: a three-zone layout (main image, ticker strip
// along the bottom, clock in the top-right corner) on a 1152×576 screen;
// every zone shows its content in its rectangle, and the screen is black
// when the program is off.
func TestRendererZonesChromium(t *testing.T) {
	if testing.Short() {
		t.Skip("short mode")
	}
	const w, h = 1152, 576
	ctx := browser(t, w, h)
	srv := fakeserver.New()
	defer srv.Close()

	red := color.RGBA{200, 30, 40, 255}
	blue := color.RGBA{20, 60, 190, 255}
	clockBG := color.RGBA{10, 120, 40, 255}
	f := srv.AddFile(solidPNG(t, 1152, 480, red), "image/png")
	ticker := "Chào mừng quý khách — Giảm giá cuối tuần 欢迎光临"
	prog := &playlists.Program{
		Display:  playlists.Display{ID: testDisplay, Width: w, Height: h},
		Timezone: "Asia/Ho_Chi_Minh",
		Hours:    []playlists.Window{{Start: "07:00", End: "22:00"}},
		Items: []playlists.Item{
			{ID: "img", Kind: playlists.KindImage, DurationS: 30, DefaultLang: "vi", Variants: map[string]playlists.Variant{"vi": {SHA256: f.SHA256}}},
			{ID: "tick", Kind: playlists.KindText, DurationS: 30, DefaultLang: "vi",
				Text:     &playlists.TextStyle{Scroll: true, SpeedPxS: 200, FontSizePx: 40, Color: "#ffffff", Background: "#143cbe"},
				Variants: map[string]playlists.Variant{"vi": {Text: ticker}}},
			{ID: "clk", Kind: playlists.KindClock, DurationS: 30, DefaultLang: "vi",
				Clock:    &playlists.ClockStyle{Format: "15:04", Color: "#ffffff", Background: "#0a7828"},
				Variants: map[string]playlists.Variant{"vi": {}}},
		},
		Playlists: []playlists.Playlist{
			{ID: "pl-img", Entries: []playlists.Entry{{ItemID: "img"}}},
			{ID: "pl-tick", Entries: []playlists.Entry{{ItemID: "tick"}}},
			{ID: "pl-clk", Entries: []playlists.Entry{{ItemID: "clk"}}},
		},
		Layouts: []playlists.Layout{{ID: "three", Zones: []playlists.Zone{
			{ID: "main", X: 0, Y: 0, W: 1152, H: 480, Unit: playlists.UnitPixels},
			{ID: "ticker", X: 0, Y: 480, W: 1152, H: 96, Unit: playlists.UnitPixels, Z: 1},
			{ID: "clock", X: 912, Y: 16, W: 224, H: 80, Unit: playlists.UnitPixels, Z: 2},
		}}},
		Default: &playlists.Content{LayoutID: "three", Zones: map[string]string{"main": "pl-img", "ticker": "pl-tick", "clock": "pl-clk"}},
	}
	clk := playertest.NewClock(time.Date(2026, 3, 2, 9, 0, 0, 0, hcm))
	p := startPlayerWith(t, srv.URL, t.TempDir(), clk.Tune)
	pair(t, srv, p)
	if _, err := srv.SendManifest(programManifest(t, 1, prog, f)); err != nil {
		t.Fatal(err)
	}
	waitStatus(t, p, "three zones", func(s player.Status) bool { return len(s.Zones) == 3 })
	if err := chromedp.Do(ctx, chromedp.Navigate("http://"+p.Addr()+"/")); err != nil {
		t.Fatal(err)
	}
	waitJS(t, ctx, "three zones shown", `document.body.dataset.state === 'playing' &&
		document.body.getAttribute('data-zone-main-shown') === '`+f.SHA256+`' &&
		document.body.getAttribute('data-zone-ticker-shown') === 'tick' &&
		document.body.getAttribute('data-zone-clock-shown') === 'clk'`)
	if err := chromedp.Do(ctx, chromedp.Sleep(300*time.Millisecond)); err != nil { // let the frame reach the compositor
		t.Fatal(err)
	}
	img := screenshot(t, ctx, "zones")
	if img.Bounds().Dx() != w || img.Bounds().Dy() != h {
		t.Fatalf("screenshot is %v", img.Bounds())
	}
	checkPixels(t, img, "main image", red, image.Pt(10, 10), image.Pt(576, 240), image.Pt(900, 470), image.Pt(1140, 200))
	checkPixels(t, img, "ticker strip", blue, image.Pt(2, 482), image.Pt(576, 483), image.Pt(1150, 573), image.Pt(300, 574))
	checkPixels(t, img, "clock background", clockBG, image.Pt(915, 19), image.Pt(1133, 93))

	// The clock shows the time in the program's zone, inside its rectangle.
	type rect struct{ X, Y, W, H float64 }
	r, err := chromedp.Run(ctx, chromedp.Evaluate[rect](`(() => { const b = document.querySelector('.zone[data-zone="clock"] .clock span').getBoundingClientRect(); return {X: b.x, Y: b.y, W: b.width, H: b.height}; })()`))
	if err != nil {
		t.Fatal(err)
	}
	if r.X < 912 || r.Y < 16 || r.X+r.W > 912+224 || r.Y+r.H > 16+80 || r.W == 0 {
		t.Errorf("clock text at %+v, outside its zone", r)
	}
	text, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.querySelector('.zone[data-zone="clock"]').textContent`))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().In(hcm)
	if text != now.Format("15:04") && text != now.Add(-time.Minute).Format("15:04") && text != now.Add(time.Minute).Format("15:04") {
		t.Errorf("clock shows %q, the time in Ho Chi Minh City is %s", text, now.Format("15:04"))
	}
	// The ticker holds the text (diacritics intact) and moves.
	tick, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.querySelector('.zone[data-zone="ticker"] .ticker span').textContent`))
	if err != nil || tick != ticker {
		t.Errorf("ticker text %q (%v)", tick, err)
	}
	pos := `new DOMMatrix(getComputedStyle(document.querySelector('.zone[data-zone="ticker"] .ticker span')).transform).m41`
	x1, err := chromedp.Run(ctx, chromedp.Evaluate[float64](pos))
	if err != nil {
		t.Fatal(err)
	}
	waitJS(t, ctx, "ticker moving", fmt.Sprintf(`Math.abs(%s - (%f)) > 20`, pos, x1))
	fonts, err := chromedp.Run(ctx, chromedp.Evaluate[string](`getComputedStyle(document.querySelector('.zone[data-zone="ticker"] .ticker')).fontFamily`))
	if err != nil || !bytes.Contains([]byte(fonts), []byte("Noto Sans")) || !bytes.Contains([]byte(fonts), []byte("Noto Sans CJK SC")) {
		t.Errorf("ticker font stack %q (%v)", fonts, err)
	}

	// Outside operating hours: off, and black.
	clk.Set(time.Date(2026, 3, 2, 22, 0, 0, 0, hcm))
	waitStatus(t, p, "off", func(s player.Status) bool { return s.State == protocol.StateOff })
	waitJS(t, ctx, "off screen", `document.body.dataset.state === 'off' && !document.querySelector('.zone')`)
	if err := chromedp.Do(ctx, chromedp.Sleep(300*time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	img = screenshot(t, ctx, "off")
	black := color.RGBA{0, 0, 0, 255}
	for y := 0; y < h; y += 16 {
		for x := 0; x < w; x += 16 {
			if c := img.At(x, y); !near(c, black, 2) {
				t.Fatalf("screen not black when off: pixel (%d,%d) is %v", x, y, c)
			}
		}
	}
}

// makeClip encodes a 2 s 320×180 H.264 test clip with the ffmpeg CLI.
func makeClip(t *testing.T, pattern string) []byte {
	t.Helper()
	ff, err := exec.LookPath("ffmpeg")
	if err != nil {
		t.Skip("ffmpeg not found; skipping the video test")
	}
	out := filepath.Join(t.TempDir(), "clip.mp4")
	cmd := exec.Command(ff, "-hide_banner", "-loglevel", "error", "-f", "lavfi", "-i", pattern+"=size=320x180:rate=25",
		"-t", "2", "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-profile:v", "baseline", "-movflags", "+faststart", "-y", out)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Skipf("ffmpeg cannot make an H.264 clip: %v\n%s", err, b)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestRendererVideoChromium: a video plays in a zone (its currentTime
// advances); the next video is preloaded and then plays from that element.
func TestRendererVideoChromium(t *testing.T) {
	if testing.Short() {
		t.Skip("short mode")
	}
	chromiumPath(t)
	clip1, clip2 := makeClip(t, "testsrc"), makeClip(t, "testsrc2")
	const w, h = 640, 360
	ctx := browser(t, w, h)
	ok, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.createElement('video').canPlayType('video/mp4; codecs="avc1.42E01E"')`))
	if err != nil {
		t.Fatal(err)
	}
	if ok == "" {
		t.Skip("this Chromium does not play H.264")
	}
	srv := fakeserver.New()
	defer srv.Close()
	f1, f2 := srv.AddFile(clip1, "video/mp4"), srv.AddFile(clip2, "video/mp4")
	prog := &playlists.Program{
		Display:  playlists.Display{ID: testDisplay, Width: w, Height: h},
		Timezone: "Asia/Ho_Chi_Minh",
		Items: []playlists.Item{
			{ID: "v1", Kind: playlists.KindVideo, NaturalS: 2, DefaultLang: "vi", Variants: map[string]playlists.Variant{"vi": {SHA256: f1.SHA256, ContentType: "video/mp4"}}},
			{ID: "v2", Kind: playlists.KindVideo, NaturalS: 2, DefaultLang: "vi", Variants: map[string]playlists.Variant{"vi": {SHA256: f2.SHA256, ContentType: "video/mp4"}}},
		},
		Playlists: []playlists.Playlist{{ID: "pl", Entries: []playlists.Entry{{ItemID: "v1"}, {ItemID: "v2"}}}},
		Layouts: []playlists.Layout{{ID: "one", Zones: []playlists.Zone{
			{ID: "main", X: 0, Y: 0, W: 100, H: 100, Unit: playlists.UnitPercent},
		}}},
		Default: &playlists.Content{LayoutID: "one", Zones: map[string]string{"main": "pl"}},
	}
	start := time.Date(2026, 3, 2, 9, 0, 0, 0, hcm)
	clk := playertest.NewClock(start)
	p := startPlayerWith(t, srv.URL, t.TempDir(), clk.Tune)
	pair(t, srv, p)
	if _, err := srv.SendManifest(programManifest(t, 1, prog, f1, f2)); err != nil {
		t.Fatal(err)
	}
	st := waitStatus(t, p, "video playing", func(s player.Status) bool { return len(s.Zones) == 1 && s.Cache.Missing == 0 })
	first, next := f1, f2
	if st.Zones[0].SHA256 == f2.SHA256 {
		first, next = f2, f1
	}
	if err := chromedp.Do(ctx, chromedp.Navigate("http://"+p.Addr()+"/")); err != nil {
		t.Fatal(err)
	}
	waitJS(t, ctx, "first video shown", `document.body.getAttribute('data-zone-main-shown') === '`+first.SHA256+`'`)
	waitJS(t, ctx, "first video playing", `(() => { const v = document.querySelector('.zone[data-zone="main"] video.item'); return v && v.currentTime > 0.3; })()`)
	waitJS(t, ctx, "next video preloaded", `(() => { const v = document.querySelector('.zone[data-zone="main"] video.preload'); return v && v.src.endsWith('/content/`+next.SHA256+`') && v.readyState >= 2; })()`)

	// Its turn: it plays from the preloaded element.
	at, err := clk.WaitAlarm(ctxT(t, 5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	clk.Set(at)
	waitJS(t, ctx, "next video shown", `document.body.getAttribute('data-zone-main-shown') === '`+next.SHA256+`'`)
	waitJS(t, ctx, "next video playing", `(() => { const v = document.querySelectorAll('.zone[data-zone="main"] video.item'); return v.length === 1 && v[0].src.endsWith('/content/`+next.SHA256+`') && v[0].currentTime > 0.3; })()`)
}

// makeTone writes a 2 s AAC tone in M4A, as the server's audio renditions are.
func makeTone(t *testing.T, freq int) []byte {
	t.Helper()
	ff, err := exec.LookPath("ffmpeg")
	if err != nil {
		t.Skip("ffmpeg not found; skipping the audio test")
	}
	out := filepath.Join(t.TempDir(), "tone.m4a")
	cmd := exec.Command(ff, "-hide_banner", "-loglevel", "error", "-f", "lavfi", "-i", fmt.Sprintf("sine=f=%d:sample_rate=48000", freq),
		"-t", "2", "-c:a", "aac", "-movflags", "+faststart", "-y", out)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Skipf("ffmpeg cannot make an AAC file: %v\n%s", err, b)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestRendererAudioChromium: audio items play on the sound system (an
// audio element whose currentTime advances); the next one is preloaded and
// then plays from that element, without a gap.
func TestRendererAudioChromium(t *testing.T) {
	if testing.Short() {
		t.Skip("short mode")
	}
	chromiumPath(t)
	const w, h = 640, 360
	ctx := browser(t, w, h)
	srv := fakeserver.New()
	defer srv.Close()
	f1, f2 := srv.AddFile(makeTone(t, 440), "audio/mp4"), srv.AddFile(makeTone(t, 660), "audio/mp4")
	prog := &playlists.Program{
		Display:  playlists.Display{ID: testDisplay, Width: w, Height: h},
		Timezone: "Asia/Ho_Chi_Minh",
		Items: []playlists.Item{
			{ID: "a1", Kind: playlists.KindAudio, NaturalS: 2, DefaultLang: "vi", Variants: map[string]playlists.Variant{"vi": {SHA256: f1.SHA256, ContentType: "audio/mp4"}}},
			{ID: "a2", Kind: playlists.KindAudio, NaturalS: 2, DefaultLang: "vi", Variants: map[string]playlists.Variant{"vi": {SHA256: f2.SHA256, ContentType: "audio/mp4"}}},
		},
		Playlists: []playlists.Playlist{{ID: "pl", Entries: []playlists.Entry{{ItemID: "a1"}, {ItemID: "a2"}}}},
		Layouts:   []playlists.Layout{{ID: "one", Zones: []playlists.Zone{{ID: "main", W: 100, H: 100, Unit: playlists.UnitPercent}}}},
		Default:   &playlists.Content{LayoutID: "one", Zones: map[string]string{"main": "pl"}},
	}
	clk := playertest.NewClock(time.Date(2026, 3, 2, 9, 0, 0, 0, hcm))
	p := startPlayerWith(t, srv.URL, t.TempDir(), clk.Tune)
	pair(t, srv, p)
	if _, err := srv.SendManifest(programManifest(t, 1, prog, f1, f2)); err != nil {
		t.Fatal(err)
	}
	st := waitStatus(t, p, "audio playing", func(s player.Status) bool { return len(s.Zones) == 1 && s.Cache.Missing == 0 })
	first, next := f1, f2
	if st.Zones[0].SHA256 == f2.SHA256 {
		first, next = f2, f1
	}
	if err := chromedp.Do(ctx, chromedp.Navigate("http://"+p.Addr()+"/")); err != nil {
		t.Fatal(err)
	}
	waitJS(t, ctx, "first audio playing", `(() => { const a = document.querySelector('.zone[data-zone="main"] audio.audio'); return a && a.src.endsWith('/content/`+first.SHA256+`') && a.currentTime > 0.3; })()`)
	waitJS(t, ctx, "next audio preloaded", `(() => { const a = document.querySelector('.zone[data-zone="main"] audio.preload'); if (a && a.src.endsWith('/content/`+next.SHA256+`') && a.readyState >= 2) { a.dataset.mark = 'preloaded'; return true; } return false; })()`)
	at, err := clk.WaitAlarm(ctxT(t, 5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	clk.Set(at)
	waitJS(t, ctx, "next audio playing from the preloaded element", `(() => { const a = document.querySelector('.zone[data-zone="main"] audio.item'); return a && a.dataset.mark === 'preloaded' && a.src.endsWith('/content/`+next.SHA256+`') && a.currentTime > 0.3; })()`)
}
