package player_test

import (
	"context"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"math"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"beacon/player"
	"beacon/player/internal/fakeserver"
	"beacon/player/playertest"
	"beacon/playlists"
	"beacon/protocol"
)

var (
	critRed   = color.RGBA{0xc6, 0x28, 0x28, 255}
	warnAmber = color.RGBA{0xff, 0xb3, 0x00, 255}
	infoBlue  = color.RGBA{0x15, 0x65, 0xc0, 255}
	slateGrey = color.RGBA{0x20, 0x20, 0x20, 255}
	black     = color.RGBA{0, 0, 0, 255}
)

func settleFrames(t *testing.T, ctx context.Context) {
	t.Helper()
	if err := chromedp.Do(ctx, chromedp.Sleep(300*time.Millisecond)); err != nil { // let the frame reach the compositor
		t.Fatal(err)
	}
}

// TestRendererOverrideChromium: in headless Chromium, over a running
// program (one green image): a critical fullscreen override appears (DOM
// and pixels: red, icon, texts), the tone plays, the player acks painted
// after the send and /status names it; a warning banner at the bottom lies
// over the program, which stays visible above it; blank is black; slate is
// the safe image; when the last is cancelled the program's image is back.
func TestRendererOverrideChromium(t *testing.T) {
	if testing.Short() {
		t.Skip("short mode")
	}
	const w, h = 640, 360
	ctx := browser(t, w, h)
	srv := fakeserver.New()
	defer srv.Close()
	green := color.RGBA{20, 160, 60, 255}
	f := srv.AddFile(solidPNG(t, w, h, green), "image/png")
	prog := &playlists.Program{
		Display:  playlists.Display{ID: testDisplay, Width: w, Height: h},
		Timezone: "Asia/Ho_Chi_Minh",
		Hours:    []playlists.Window{{Start: "00:00", End: "24:00"}},
		Items: []playlists.Item{{ID: "img", Kind: playlists.KindImage, DurationS: 600, DefaultLang: "vi",
			Variants: map[string]playlists.Variant{"vi": {SHA256: f.SHA256}}}},
		Playlists: []playlists.Playlist{{ID: "pl", Entries: []playlists.Entry{{ItemID: "img"}}}},
		Default:   &playlists.Content{PlaylistID: "pl"},
	}
	p := startPlayer(t, srv.URL, t.TempDir())
	pair(t, srv, p)
	if _, err := srv.SendManifest(programManifest(t, 1, prog, f)); err != nil {
		t.Fatal(err)
	}
	waitStatus(t, p, "image zone", func(s player.Status) bool { return len(s.Zones) == 1 })
	if err := chromedp.Do(ctx, chromedp.Navigate("http://"+p.Addr()+"/")); err != nil {
		t.Fatal(err)
	}
	waitJS(t, ctx, "image shown", `document.body.dataset.shown === '`+f.SHA256+`'`)

	sent := time.Now()
	o := ovrSpec("crit", protocol.LevelCritical, protocol.PresentFullscreen, time.Now(), time.Hour)
	o.Texts = map[string]string{"vi": "KHẨN CẤP", "en": "EMERGENCY"}
	if _, err := srv.SendOverride(testDisplay, o); err != nil {
		t.Fatal(err)
	}
	waitJS(t, ctx, "critical fullscreen", `(() => { const o = document.getElementById('override');
		return !o.hidden && o.dataset.id === 'crit' && o.dataset.level === 'critical' && o.dataset.lang === 'vi,en' &&
			o.querySelector('.ovr-icon svg') !== null && o.textContent.includes('KHẨN CẤP') && o.textContent.includes('EMERGENCY') &&
			getComputedStyle(document.getElementById('stage')).visibility === 'hidden'; })()`)
	a := waitAck(t, srv, "crit", protocol.AckPainted)
	if a.PaintedAt.Before(sent) {
		t.Errorf("painted_at %v before the send %v", a.PaintedAt, sent)
	}
	ms, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.getElementById('override').dataset.buildMs + ' ms to build, ' + document.getElementById('override').dataset.paintMs + ' ms to the paint report, of which fitting the text ' + document.getElementById('override').dataset.fitMs + ' ms'`))
	t.Logf("send to painted (renderer report): %v; in the page: %s", a.PaintedAt.Sub(sent), ms)
	settleFrames(t, ctx)
	img := screenshot(t, ctx, "override-critical")
	checkPixels(t, img, "critical background", critRed, image.Pt(2, 2), image.Pt(w-3, 2), image.Pt(2, h-3), image.Pt(w-3, h-3))
	// The icon: white (the triangle) near its centre-bottom, left side.
	whites := 0
	for x := 0; x < w/3; x++ {
		for y := h / 3; y < h*3/4; y++ {
			if near(img.At(x, y), color.RGBA{255, 255, 255, 255}, 12) {
				whites++
			}
		}
	}
	if whites < 1000 {
		t.Errorf("no icon drawn: %d white pixels in the icon's place", whites)
	}
	waitJS(t, ctx, "tone playing", `document.getElementById('override').dataset.tone === 'playing'`)
	st := waitStatus(t, p, "override in status", func(s player.Status) bool { return s.Override != nil && s.Override.Tone != "" })
	if st.Override.ID != "crit" || st.Override.Tone != "playing" || !st.Override.ShownAt.Equal(a.PaintedAt) {
		t.Errorf("status override %+v", st.Override)
	}

	// A banner (warning, bottom): the program is visible above it. Cancel
	// the critical one first.
	b := ovrSpec("banner", protocol.LevelWarning, protocol.PresentBanner, time.Now(), time.Hour)
	b.Position = protocol.BannerBottom
	if _, err := srv.SendOverride(testDisplay, b); err != nil {
		t.Fatal(err)
	}
	if _, err := srv.SendCancel(testDisplay, srv.Key, "crit", fakeserver.DefaultOrg, time.Now()); err != nil {
		t.Fatal(err)
	}
	waitJS(t, ctx, "banner", `document.getElementById('override').dataset.id === 'banner' &&
		getComputedStyle(document.getElementById('stage')).visibility === 'visible'`)
	waitAck(t, srv, "banner", protocol.AckPainted)
	ms, _ = chromedp.Run(ctx, chromedp.Evaluate[string](`document.getElementById('override').dataset.buildMs + ' ms to build, ' + document.getElementById('override').dataset.paintMs + ' ms to the paint report'`))
	t.Logf("banner in the page: %s", ms)
	settleFrames(t, ctx)
	img = screenshot(t, ctx, "override-banner")
	checkPixels(t, img, "program above the banner", green, image.Pt(2, 2), image.Pt(w/2, h/3), image.Pt(w-3, 10))
	checkPixels(t, img, "warning banner", warnAmber, image.Pt(1, h-2), image.Pt(w-2, h-2))

	// blank, then slate, outrank the banner (critical).
	bl := ovrSpec("blank", protocol.LevelCritical, protocol.PresentBlank, time.Now(), time.Hour)
	if _, err := srv.SendOverride(testDisplay, bl); err != nil {
		t.Fatal(err)
	}
	waitJS(t, ctx, "blank", `document.getElementById('override').dataset.presentation === 'blank'`)
	waitAck(t, srv, "blank", protocol.AckPainted)
	settleFrames(t, ctx)
	img = screenshot(t, ctx, "override-blank")
	checkPixels(t, img, "blank", black, image.Pt(2, 2), image.Pt(w/2, h/2), image.Pt(w-3, h-3), image.Pt(w/2, h-2))

	sl := ovrSpec("slate", protocol.LevelCritical, protocol.PresentSlate, time.Now().Add(time.Second), time.Hour)
	sl.IssuedAt = time.Now().Add(time.Second)
	sl.StartsAt = time.Now()
	if _, err := srv.SendOverride(testDisplay, sl); err != nil {
		t.Fatal(err)
	}
	waitJS(t, ctx, "slate", `(() => { const i = document.querySelector('#override .ovr-slate'); return i !== null && i.complete && i.naturalWidth > 0; })()`)
	waitAck(t, srv, "slate", protocol.AckPainted)
	settleFrames(t, ctx)
	img = screenshot(t, ctx, "override-slate")
	checkPixels(t, img, "slate", slateGrey, image.Pt(2, 2), image.Pt(w-3, h-3))

	for _, id := range []string{"slate", "blank", "banner"} {
		if _, err := srv.SendCancel(testDisplay, srv.Key, id, fakeserver.DefaultOrg, time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	waitJS(t, ctx, "override gone", `document.getElementById('override').hidden && !document.body.dataset.override`)
	waitStatus(t, p, "override null", func(s player.Status) bool { return s.Override == nil })
	settleFrames(t, ctx)
	img = screenshot(t, ctx, "override-gone")
	checkPixels(t, img, "program back", green, image.Pt(2, 2), image.Pt(w/2, h/2), image.Pt(w-3, h-3))
}

// fitReport is one text box measured in the page.
type fitReport struct {
	Name   string   `json:"name"`
	OK     bool     `json:"ok"`
	Bad    []string `json:"bad"`
	Font   float64  `json:"font"`
	W      float64  `json:"w"`
	H      float64  `json:"h"`
	Chars  int      `json:"chars"`
	Lines  int      `json:"lines"`
	Scroll string   `json:"scroll"`
}

// measureJS measures every fitted text box on the page: the box inside the
// window, its content not scrolling (scrollHeight/scrollWidth within the
// box), and every line box of every text inside the box's rectangle. A
// ticker is measured vertically only (it scrolls sideways by design).
const measureJS = `(() => {
  const out = [];
  const vw = window.innerWidth, vh = window.innerHeight;
  function inside(r, b, vertOnly) {
    return r.top >= b.top - 0.5 && r.bottom <= b.bottom + 0.5 && (vertOnly || (r.left >= b.left - 0.5 && r.right <= b.right + 0.5));
  }
  function check(name, box, parts, ticker) {
    const b = box.getBoundingClientRect();
    const bad = [];
    if (b.left < -0.5 || b.top < -0.5 || b.right > vw + 0.5 || b.bottom > vh + 0.5) bad.push('box outside the window ' + JSON.stringify(b));
    if (box.scrollHeight > box.clientHeight || (!ticker && box.scrollWidth > box.clientWidth)) bad.push('scrolls ' + box.scrollWidth + 'x' + box.scrollHeight + ' in ' + box.clientWidth + 'x' + box.clientHeight);
    let chars = 0, lines = 0;
    const tops = new Set();
    parts.forEach(p => {
      chars += [...p.textContent].length;
      const range = document.createRange();
      const walk = document.createTreeWalker(p, NodeFilter.SHOW_TEXT);
      let node;
      while ((node = walk.nextNode())) {
        const s = node.data;
        for (let i = 0; i < s.length; i++) {
          if (/\s/.test(s[i])) continue;
          range.setStart(node, i);
          range.setEnd(node, i + 1);
          for (const r of range.getClientRects()) {
            tops.add(Math.round(r.top));
            if (!inside(r, b, ticker) && bad.length < 4) bad.push('glyph ' + JSON.stringify(s[i]) + ' ' + JSON.stringify({l: r.left, t: r.top, r: r.right, b: r.bottom}) + ' outside ' + JSON.stringify({l: b.left, t: b.top, r: b.right, b: b.bottom}));
          }
        }
      }
    });
    lines = tops.size;
    out.push({name, ok: bad.length === 0, bad, font: parseFloat(getComputedStyle(box).fontSize), w: b.width, h: b.height, chars, lines,
      scroll: box.scrollWidth + 'x' + box.scrollHeight + '/' + box.clientWidth + 'x' + box.clientHeight});
  }
  const ot = document.querySelector('#override .ovr-text');
  if (ot && !document.getElementById('override').hidden) check('override', ot, [...ot.querySelectorAll('.ovr-t')], false);
  document.querySelectorAll('.zone > .text').forEach(box => {
    check('zone ' + box.parentNode.dataset.zone, box, [box.querySelector('span')], box.classList.contains('ticker'));
  });
  return JSON.stringify(out);
})()`

// Long warnings, as an authority writes them.
var longWarnings = map[string]string{
	"vi": "KHẨN CẤP: Mực nước sông Hồng đang dâng cao nhanh, vượt mức báo động III. Người dân các phường ven sông phải di chuyển ngay đến nơi cao ráo, mang theo giấy tờ tùy thân, thuốc men và nước uống; không đi qua ngầm tràn, cầu yếu; làm theo hướng dẫn của lực lượng cứu hộ và chính quyền địa phương.",
	"en": "EMERGENCY: The Red River is rising fast and has passed alert level III. Residents of the riverside wards must move to higher ground now, taking identity papers, medicine and drinking water; do not cross flooded fords or weak bridges; follow the instructions of rescue teams and the local authorities.",
	"zh": "紧急通知：红河水位正在迅速上涨，已超过三级警戒线。沿河各坊居民必须立即转移到高处，携带身份证件、药品和饮用水；不要涉水通过漫水路段或危桥；请服从救援队伍和地方政府的指挥。",
}

// TestRendererTextFitChromium: at 384×192, 1152×576, 1920×1080 and
// 1080×1920, long Vietnamese, English and Chinese warnings (fullscreen
// together, fullscreen rotating, banner) and the program's text and
// ticker items lie wholly inside their boxes (DOM measurement), at a
// readable size. The rule for readable: the font is at least half the
// size at which the text's characters, as squares, would tile its box
// (½·√(W·H/n)), so fitting never shrinks a text further than twice what
// its length forces; and a short text (a few words) is at least 1/12 of
// its box's height.
func TestRendererTextFitChromium(t *testing.T) {
	if testing.Short() {
		t.Skip("short mode")
	}
	sizes := []struct{ w, h int }{{384, 192}, {1152, 576}, {1920, 1080}, {1080, 1920}}
	srv := fakeserver.New()
	defer srv.Close()
	clk := playertest.NewClock(time.Date(2026, 3, 2, 9, 0, 0, 0, hcm))
	p := startPlayerWith(t, srv.URL, t.TempDir(), clk.Tune)
	pair(t, srv, p)
	ctx := browser(t, sizes[0].w, sizes[0].h)

	check := func(what string, minShort bool) []fitReport {
		t.Helper()
		var reps []fitReport
		raw, err := chromedp.Run(ctx, chromedp.Evaluate[string](measureJS))
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal([]byte(raw), &reps); err != nil {
			t.Fatal(err)
		}
		for _, r := range reps {
			floor := 0.5 * math.Sqrt(r.W*r.H/float64(max(r.Chars, 1)))
			if strings.HasPrefix(r.Name, "zone ticker") {
				floor = r.H / 2 // one line: at least half the strip's height
			}
			if minShort && r.Name == "override" {
				floor = max(floor, r.H/12)
			}
			t.Logf("%s %s: font %.0fpx (floor %.1f) box %.0fx%.0f, %d chars in %d lines, %s", what, r.Name, r.Font, floor, r.W, r.H, r.Chars, r.Lines, r.Scroll)
			if !r.OK {
				t.Errorf("%s %s: text not inside its box: %v", what, r.Name, r.Bad)
			}
			if r.Font < floor || r.Lines == 0 {
				t.Errorf("%s %s: font %.1fpx below the readable floor %.1fpx", what, r.Name, r.Font, floor)
			}
		}
		return reps
	}

	for i, sz := range sizes {
		name := fmt.Sprintf("%dx%d", sz.w, sz.h)
		prog := &playlists.Program{
			Display:  playlists.Display{ID: testDisplay, Width: sz.w, Height: sz.h},
			Timezone: "Asia/Ho_Chi_Minh",
			Items: []playlists.Item{
				{ID: "txt", Kind: playlists.KindText, DurationS: 600, DefaultLang: "vi", Variants: map[string]playlists.Variant{"vi": {Text: longWarnings["vi"]}}},
				{ID: "tick", Kind: playlists.KindText, DurationS: 600, DefaultLang: "vi",
					Text:     &playlists.TextStyle{Scroll: true, FontSizePx: 400},
					Variants: map[string]playlists.Variant{"vi": {Text: "Chào mừng quý khách — 欢迎光临 — Welcome"}}},
			},
			Playlists: []playlists.Playlist{{ID: "pl-t", Entries: []playlists.Entry{{ItemID: "txt"}}}, {ID: "pl-k", Entries: []playlists.Entry{{ItemID: "tick"}}}},
			Layouts: []playlists.Layout{{ID: "lay", Zones: []playlists.Zone{
				{ID: "main", X: 0, Y: 0, W: 100, H: 85, Unit: playlists.UnitPercent},
				{ID: "ticker", X: 0, Y: 85, W: 100, H: 15, Unit: playlists.UnitPercent, Z: 1},
			}}},
			Default: &playlists.Content{LayoutID: "lay", Zones: map[string]string{"main": "pl-t", "ticker": "pl-k"}},
		}
		if _, err := srv.SendManifest(programManifest(t, int64(i+1), prog)); err != nil {
			t.Fatal(err)
		}
		waitStatus(t, p, name+" program", func(s player.Status) bool { return s.ManifestVersion == int64(i+1) && len(s.Zones) == 2 })
		if err := chromedp.Do(ctx, chromedp.EmulateViewport(int64(sz.w), int64(sz.h))); err != nil {
			t.Fatal(err)
		}
		if err := chromedp.Do(ctx, chromedp.Navigate("http://"+p.Addr()+"/")); err != nil {
			t.Fatal(err)
		}
		waitJS(t, ctx, name+" text items", `document.body.getAttribute('data-zone-main-shown') === 'txt' && document.body.getAttribute('data-zone-ticker-shown') === 'tick' &&
			window.innerWidth === `+fmt.Sprint(sz.w))
		settleFrames(t, ctx)
		check(name+" items", false)

		now := clk.Now()
		id := func(s string) string { return fmt.Sprintf("%s-%d", s, i) }
		// Long warnings, together, fullscreen.
		o := ovrSpec(id("long"), protocol.LevelCritical, protocol.PresentFullscreen, now, time.Hour)
		o.Texts, o.Languages = longWarnings, []string{"vi", "en", "zh"}
		if _, err := srv.SendOverride(testDisplay, o); err != nil {
			t.Fatal(err)
		}
		waitJS(t, ctx, name+" long together", `document.getElementById('override').dataset.id === '`+o.ID+`' && document.getElementById('override').dataset.lang === 'vi,en,zh'`)
		settleFrames(t, ctx)
		screenshot(t, ctx, "fit-together-"+name)
		check(name+" together", false)
		// Rotating: each language alone, fitted (a bigger font than together).
		r := o
		r.ID, r.LangMode, r.RotateS, r.IssuedAt = id("rot"), protocol.LangsRotate, 1, now.Add(time.Second)
		if _, err := srv.SendOverride(testDisplay, r); err != nil {
			t.Fatal(err)
		}
		for _, lang := range []string{"vi", "en", "zh"} {
			waitJS(t, ctx, name+" rotate "+lang, `document.getElementById('override').dataset.id === '`+r.ID+`' && document.getElementById('override').dataset.lang === '`+lang+`'`)
			check(name+" rotate "+lang, false)
		}
		// Short: large.
		s := o
		s.ID, s.Texts, s.IssuedAt = id("short"), map[string]string{"vi": "KHẨN CẤP", "en": "EMERGENCY", "zh": "紧急"}, now.Add(2*time.Second)
		if _, err := srv.SendOverride(testDisplay, s); err != nil {
			t.Fatal(err)
		}
		waitJS(t, ctx, name+" short", `document.getElementById('override').dataset.id === '`+s.ID+`'`)
		settleFrames(t, ctx)
		screenshot(t, ctx, "fit-short-"+name)
		check(name+" short", true)
		// Banner with the long texts, over the program.
		for _, x := range []string{o.ID, r.ID, s.ID} {
			if _, err := srv.SendCancel(testDisplay, srv.Key, x, fakeserver.DefaultOrg, now); err != nil {
				t.Fatal(err)
			}
		}
		bn := o
		bn.ID, bn.Presentation, bn.Position, bn.Level = id("banner"), protocol.PresentBanner, protocol.BannerTop, protocol.LevelInfo
		if _, err := srv.SendOverride(testDisplay, bn); err != nil {
			t.Fatal(err)
		}
		waitJS(t, ctx, name+" banner", `document.getElementById('override').dataset.id === '`+bn.ID+`'`)
		auto, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.getElementById('override').dataset.autoRotate || 'no'`))
		t.Logf("%s banner: languages in turn because too small together: %s", name, auto)
		settleFrames(t, ctx)
		screenshot(t, ctx, "fit-banner-"+name)
		img := screenshot(t, ctx, "fit-banner-"+name)
		checkPixels(t, img, name+" info banner", infoBlue, image.Pt(1, 1), image.Pt(sz.w-2, 1))
		check(name+" banner", false)
		if _, err := srv.SendCancel(testDisplay, srv.Key, bn.ID, fakeserver.DefaultOrg, now); err != nil {
			t.Fatal(err)
		}
		waitJS(t, ctx, name+" cleared", `document.getElementById('override').hidden`)
	}
}

// TestRendererOverrideToneBlockedChromium: a browser whose autoplay policy
// refuses sound without a user gesture (a kiosk started without
// --autoplay-policy=no-user-gesture-required) still shows the override;
// the refusal is visible in /status (override.tone "blocked: …").
func TestRendererOverrideToneBlockedChromium(t *testing.T) {
	if testing.Short() {
		t.Skip("short mode")
	}
	ctx := browserWith(t, 384, 192, chromedp.Flag("autoplay-policy", "document-user-activation-required"))
	srv := fakeserver.New()
	defer srv.Close()
	p := startPlayer(t, srv.URL, t.TempDir())
	pair(t, srv, p)
	if err := chromedp.Do(ctx, chromedp.Navigate("http://"+p.Addr()+"/")); err != nil {
		t.Fatal(err)
	}
	waitStatus(t, p, "renderer", func(s player.Status) bool { return s.RendererConnected })
	o := ovrSpec("loud", protocol.LevelWarning, protocol.PresentFullscreen, time.Now(), time.Hour)
	if _, err := srv.SendOverride(testDisplay, o); err != nil {
		t.Fatal(err)
	}
	waitAck(t, srv, "loud", protocol.AckPainted)
	st := waitStatus(t, p, "tone reported", func(s player.Status) bool { return s.Override != nil && s.Override.Tone != "" })
	if !strings.HasPrefix(st.Override.Tone, "blocked") {
		t.Errorf("tone %q, want blocked under a gesture-required autoplay policy", st.Override.Tone)
	}
	settleFrames(t, ctx)
	img := screenshot(t, ctx, "override-tone-blocked")
	checkPixels(t, img, "warning shown without sound", warnAmber, image.Pt(1, 1), image.Pt(382, 190))
}

// frameReport is what the page records about one override's paint.
type frameReport struct {
	Frames    string `json:"frames"`    // animation frames from the message to the frame holding it wholly
	FrameMs   string `json:"frameMs"`   // message to that frame's callback
	BuildMs   string `json:"buildMs"`   // building it (text fitting included)
	PaintMs   string `json:"paintMs"`   // message to the painted report
	Fit       string `json:"fitMs"`     // fitting, with the layouts it took
	FitSizes  string `json:"fitSizes"`  // font sizes the text was laid out at while fitting
	FirstFont string `json:"firstFont"` // text size in that frame
	Font      string `json:"font"`      // text size now
	Fonts     string `json:"fonts"`     // the page's fonts loaded, its warm-up at start
}

const frameReportJS = `(() => { const o = document.getElementById('override'); const b = o.querySelector('.ovr-text');
	return JSON.stringify({frames: o.dataset.frames || '', frameMs: o.dataset.frameMs || '', buildMs: o.dataset.buildMs || '',
		paintMs: o.dataset.paintMs || '', fitMs: o.dataset.fitMs || '', fitSizes: o.dataset.fitSizes || '', firstFont: o.dataset.firstFontPx || '',
		font: b ? (b.dataset.fontPx || '') : '', fonts: (document.body.dataset.fonts || '') + ', warm-up ' + document.body.dataset.warmMs + ' ms at page start'}); })()`

// TestRendererOverrideNextFrameChromium: an override is painted in the
// first animation frame after its message reaches the page, counted in
// requestAnimationFrame callbacks (no wall clock): the page counts the
// frames from the message's arrival to the first frame in which the
// override is wholly in the DOM (built, its text fitted, fonts loaded),
// and that count must be 1; the text size painted in that frame is the
// final one (no refit later, e.g. when a font finishes loading). It runs
// with a cold page (the first override straight after the page loads)
// and warm, for long Vietnamese, English and Chinese warnings together
// and short ones, fullscreen and banner, at 1920×1080 and 384×192, and
// logs the figures: frames, the page's times, and the time from the
// player receiving the message to the renderer's painted report.
func TestRendererOverrideNextFrameChromium(t *testing.T) {
	if testing.Short() {
		t.Skip("short mode")
	}
	srv := fakeserver.New()
	defer srv.Close()
	p := startPlayer(t, srv.URL, t.TempDir())
	pair(t, srv, p)
	n := 0
	for _, sz := range []struct{ w, h int }{{1920, 1080}, {384, 192}} {
		ctx := browser(t, sz.w, sz.h)
		if err := chromedp.Do(ctx, chromedp.Navigate("http://"+p.Addr()+"/")); err != nil {
			t.Fatal(err)
		}
		waitStatus(t, p, "renderer", func(s player.Status) bool { return s.RendererConnected })
		cases := []struct {
			name, pres string
			texts      map[string]string
		}{
			{"cold long together", protocol.PresentFullscreen, longWarnings},
			{"short", protocol.PresentFullscreen, map[string]string{"vi": "KHẨN CẤP", "en": "EMERGENCY", "zh": "紧急"}},
			{"long banner", protocol.PresentBanner, longWarnings},
			{"long together again", protocol.PresentFullscreen, longWarnings},
		}
		prev := ""
		for _, c := range cases {
			n++
			name := fmt.Sprintf("%dx%d %s", sz.w, sz.h, c.name)
			o := ovrSpec(fmt.Sprintf("frames-%d", n), protocol.LevelCritical, c.pres, time.Now(), time.Hour)
			o.Texts, o.Languages = c.texts, []string{"vi", "en", "zh"}
			o.Tone = nil
			if _, err := srv.SendOverride(testDisplay, o); err != nil {
				t.Fatal(err)
			}
			waitAck(t, srv, o.ID, protocol.AckPainted)
			st := waitStatus(t, p, name+" status", func(s player.Status) bool { return s.Override != nil && s.Override.ID == o.ID })
			settleFrames(t, ctx)
			raw, err := chromedp.Run(ctx, chromedp.Evaluate[string](frameReportJS))
			if err != nil {
				t.Fatal(err)
			}
			var r frameReport
			if err := json.Unmarshal([]byte(raw), &r); err != nil {
				t.Fatal(err)
			}
			e2e := "?"
			if st.Override.ReceivedAt != nil {
				e2e = st.Override.ShownAt.Sub(*st.Override.ReceivedAt).Round(100 * time.Microsecond).String()
			}
			t.Logf("%s: %s animation frame(s) from the message to the frame painting it (that frame %s ms after the message; built in %s ms, fitting %s ms at %s font sizes); painted report %s ms after the message; player received → painted %s; font %s px; fonts %s",
				name, r.Frames, r.FrameMs, r.BuildMs, r.Fit, r.FitSizes, r.PaintMs, e2e, r.FirstFont, r.Fonts)
			if r.Frames != "1" {
				t.Errorf("%s: painted %q animation frames after its message, want the next (1)", name, r.Frames)
			}
			// Laying the text out at a new font size is most of a fit's
			// cost: the search keeps to one size, and the size found.
			if n, err := strconv.Atoi(r.FitSizes); r.FitSizes != "" && (err != nil || n > 3) {
				t.Errorf("%s: the text was laid out at %s font sizes while fitting, want at most 3", name, r.FitSizes)
			}
			if r.FirstFont != r.Font {
				t.Errorf("%s: text painted at %s px in its first frame, refitted to %s px later", name, r.FirstFont, r.Font)
			}
			if prev != "" {
				if _, err := srv.SendCancel(testDisplay, srv.Key, prev, fakeserver.DefaultOrg, time.Now()); err != nil {
					t.Fatal(err)
				}
			}
			prev = o.ID
		}
		if _, err := srv.SendCancel(testDisplay, srv.Key, prev, fakeserver.DefaultOrg, time.Now()); err != nil {
			t.Fatal(err)
		}
		waitStatus(t, p, "override gone", func(s player.Status) bool { return s.Override == nil })
	}
}

// TestRendererOverrideVideoAudioChromium: an override's media of every
// kind plays in headless Chromium: its video beside the texts (muted,
// looping: currentTime advances and the frame is not the level's colour)
// and its audio (playing), fetched into the player's cache and verified
// first; the alert tone is scheduled with the override's repetitions.
func TestRendererOverrideVideoAudioChromium(t *testing.T) {
	if testing.Short() {
		t.Skip("short mode")
	}
	chromiumPath(t)
	clip, m4a := makeClip(t, "testsrc"), makeTone(t, 440)
	const w, h = 640, 360
	ctx := browser(t, w, h)
	if ok, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.createElement('video').canPlayType('video/mp4; codecs="avc1.42E01E"')`)); ok == "" {
		t.Skip("this Chromium does not play H.264")
	}
	srv := fakeserver.New()
	defer srv.Close()
	fv, fa := srv.AddFile(clip, "video/mp4"), srv.AddFile(m4a, "audio/mp4")
	p := startPlayer(t, srv.URL, t.TempDir())
	pair(t, srv, p)
	if err := chromedp.Do(ctx, chromedp.Navigate("http://"+p.Addr()+"/")); err != nil {
		t.Fatal(err)
	}
	waitStatus(t, p, "renderer", func(s player.Status) bool { return s.RendererConnected })
	o := ovrSpec("media", protocol.LevelWarning, protocol.PresentFullscreen, time.Now(), time.Hour)
	o.Media = []protocol.File{fv, fa}
	o.Tone = &protocol.Tone{Kind: "alert", Repeat: 3}
	if _, err := srv.SendOverride(testDisplay, o); err != nil {
		t.Fatal(err)
	}
	waitJS(t, ctx, "video and audio in the override", `(() => { const o = document.getElementById('override');
		const v = o.querySelector('video.ovr-media-item'), a = o.querySelector('audio.ovr-audio');
		return o.dataset.id === 'media' && v && a && v.src.endsWith('/content/`+fv.SHA256+`') && a.src.endsWith('/content/`+fa.SHA256+`'); })()`)
	waitJS(t, ctx, "video and audio playing", `(() => { const o = document.getElementById('override');
		const v = o.querySelector('video.ovr-media-item'), a = o.querySelector('audio.ovr-audio');
		return v.currentTime > 0.3 && !v.paused && v.muted && v.loop && a.currentTime > 0.3 && v.videoWidth === 320; })()`)
	waitJS(t, ctx, "video beside the text", `(() => { const o = document.getElementById('override');
		const v = o.querySelector('video.ovr-media-item').getBoundingClientRect(), tx = o.querySelector('.ovr-text').getBoundingClientRect();
		return v.width > 50 && v.height > 30 && (v.bottom <= tx.top + 1 || v.right <= tx.left + 1 || tx.bottom <= v.top + 1 || tx.right <= v.left + 1); })()`)
	waitJS(t, ctx, "tone with 3 chimes", `document.getElementById('override').dataset.toneChimes === '3'`)
	waitAck(t, srv, "media", protocol.AckPainted)
	settleFrames(t, ctx)
	img := screenshot(t, ctx, "override-video")
	// The video's test pattern is not the warning's amber everywhere in
	// its box.
	raw, err := chromedp.Run(ctx, chromedp.Evaluate[string](`JSON.stringify(document.querySelector('#override video.ovr-media-item').getBoundingClientRect())`))
	if err != nil {
		t.Fatal(err)
	}
	var r struct{ X, Y, Width, Height float64 }
	if err := json.Unmarshal([]byte(raw), &r); err != nil {
		t.Fatal(err)
	}
	other := 0
	for x := int(r.X) + 2; x < int(r.X+r.Width)-2; x += 4 {
		for y := int(r.Y) + 2; y < int(r.Y+r.Height)-2; y += 4 {
			if !near(img.At(x, y), warnAmber, 12) {
				other++
			}
		}
	}
	if other < 50 {
		t.Errorf("the video's box shows nothing but the background (%d other pixels)", other)
	}
	if _, err := srv.SendCancel(testDisplay, srv.Key, "media", fakeserver.DefaultOrg, time.Now()); err != nil {
		t.Fatal(err)
	}
	waitJS(t, ctx, "override gone, media stopped", `document.getElementById('override').hidden && document.querySelectorAll('#override video, #override audio').length === 0`)
}
