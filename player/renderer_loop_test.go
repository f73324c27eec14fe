package player_test

import (
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"beacon/player"
	"beacon/player/internal/fakeserver"
	"beacon/player/playertest"
	"beacon/playlists"
)

// TestRendererLoopsShortVideoChromium: a video shorter than its slot (an
// animated picture turned into video, a short loop) starts again until the
// slot ends rather than freezing on its last frame; a video as long as its
// slot does not loop.
func TestRendererLoopsShortVideoChromium(t *testing.T) {
	if testing.Short() {
		t.Skip("short mode")
	}
	chromiumPath(t)
	clip := makeClip(t, "testsrc")
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
	f := srv.AddFile(clip, "video/mp4")
	prog := &playlists.Program{
		Display:  playlists.Display{ID: testDisplay, Width: w, Height: h},
		Timezone: "Asia/Ho_Chi_Minh",
		Items: []playlists.Item{
			{ID: "anim", Kind: playlists.KindVideo, NaturalS: 2, DefaultLang: "vi", Variants: map[string]playlists.Variant{"vi": {SHA256: f.SHA256, ContentType: "video/mp4"}}},
		},
		Playlists: []playlists.Playlist{{ID: "pl", Entries: []playlists.Entry{{ItemID: "anim", DurationS: 10}}}},
		Layouts: []playlists.Layout{{ID: "one", Zones: []playlists.Zone{
			{ID: "main", X: 0, Y: 0, W: 100, H: 100, Unit: playlists.UnitPercent},
		}}},
		Default: &playlists.Content{LayoutID: "one", Zones: map[string]string{"main": "pl"}},
	}
	clk := playertest.NewClock(time.Date(2026, 3, 2, 9, 0, 0, 0, hcm))
	p := startPlayerWith(t, srv.URL, t.TempDir(), clk.Tune)
	pair(t, srv, p)
	if _, err := srv.SendManifest(programManifest(t, 1, prog, f)); err != nil {
		t.Fatal(err)
	}
	waitStatus(t, p, "video scheduled", func(s player.Status) bool { return len(s.Zones) == 1 && s.Cache.Missing == 0 })
	if err := chromedp.Do(ctx, chromedp.Navigate("http://"+p.Addr()+"/")); err != nil {
		t.Fatal(err)
	}
	video := `document.querySelector('.zone[data-zone="main"] video.item')`
	waitJS(t, ctx, "video playing", `(() => { const v = `+video+`; return v && v.currentTime > 0.2; })()`)
	waitJS(t, ctx, "loop set for a 2 s video in a 10 s slot", `(() => { const v = `+video+`; return v.loop === true; })()`)
	// Past its end it starts again: the time goes back to near 0 while the
	// same element stays on screen and playing.
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`(() => { const v = `+video+`; window.__maxT = 0; window.__wrapped = false;
		v.addEventListener('timeupdate', () => { if (v.currentTime + 0.5 < window.__maxT) window.__wrapped = true; window.__maxT = Math.max(window.__maxT, v.currentTime); }); return true; })()`)); err != nil {
		t.Fatal(err)
	}
	waitJS(t, ctx, "video started again after its end", `window.__wrapped === true && !`+video+`.paused && !`+video+`.ended`)
}
