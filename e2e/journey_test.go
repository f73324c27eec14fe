package e2e_test

import (
	"context"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"beacon/media/worker"
	"beacon/player"
	"beacon/server/console/consoletest"
	"beacon/server/servertest"
)

func journeyJPEG(t *testing.T, path string, w, h int, c color.RGBA) {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			img.Set(x, y, color.RGBA{c.R, c.G + uint8(x%5), c.B, 255})
		}
	}
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := jpeg.Encode(f, img, &jpeg.Options{Quality: 90}); err != nil {
		t.Fatal(err)
	}
}

// tab opens a URL in another tab of the test browser (the screen).
func tab(t *testing.T, b *consoletest.Browser, url string) context.Context {
	t.Helper()
	ctx, cancel := chromedp.NewContext(b.Ctx)
	t.Cleanup(cancel)
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(960, 540), chromedp.Navigate(url)); err != nil {
		t.Fatalf("open %s: %v", url, err)
	}
	return ctx
}

func waitIn(t *testing.T, ctx context.Context, what, expr string) {
	t.Helper()
	deadline := time.Now().Add(120 * time.Second)
	for {
		ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool](expr))
		if err == nil && ok {
			return
		}
		if time.Now().After(deadline) {
			body, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body.outerHTML.slice(0, 1200)`))
			t.Fatalf("waiting for %s (%v): %s", what, err, body)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestConsoleJourney is the web console's whole journey, as the issue
// asks, in the shipped binaries' company: the beacon binary transcodes
// (its media-worker), the beacon-player binary is the screen. Through the
// console: sign in; upload two images and a video and watch processing
// finish; build a playlist; lay out two zones; schedule the layout on a
// display;
// pair the beacon-player by its code and see the image on its renderer;
// send an emergency override from the emergency page, see the renderer
// show it and the delivery view turn to painted; cancel it.
func TestConsoleJourney(t *testing.T) {
	if testing.Short() {
		t.Skip("builds binaries, runs a browser")
	}
	if _, err := exec.LookPath("ffmpeg"); err != nil {
		t.Skip("the ffmpeg command line makes the test video: apt-get install ffmpeg")
	}
	beacon, beaconPlayer := buildBinaries(t)
	env := consoletest.Start(t, servertest.Options{MediaWorker: &worker.Supervisor{Command: beacon, Args: []string{"media-worker"}}})
	b := env.Browser(consoletest.Desktop)

	// The inputs: two photos and a two-second clip.
	dir := t.TempDir()
	red, blue, clip := filepath.Join(dir, "cảng đỏ.jpg"), filepath.Join(dir, "blue gate.jpg"), filepath.Join(dir, "clip.mp4")
	journeyJPEG(t, red, 1280, 720, color.RGBA{200, 30, 30, 255})
	journeyJPEG(t, blue, 1280, 720, color.RGBA{30, 40, 200, 255})
	if out, err := exec.Command("ffmpeg", "-v", "error", "-f", "lavfi", "-i", "testsrc2=size=640x360:rate=25", "-f", "lavfi", "-i", "sine=f=440:sample_rate=48000",
		"-t", "2", "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-c:a", "aac", "-shortest", clip).CombinedOutput(); err != nil {
		t.Fatalf("ffmpeg: %v\n%s", err, out)
	}

	// 1. Sign in.
	b.SignIn(consoletest.Admin, "vi")

	// 2. Library: three files, processed to ready (the video transcoded by
	// the beacon binary's media worker).
	b.Open("#/library")
	b.Do("choose three files", chromedp.SetUploadFiles(chromedp.CSS(`#lib-files`), []string{red, blue, clip}))
	b.WaitJS("three uploads done", `document.querySelectorAll('.upload[data-state="done"]').length === 3`)
	b.WaitJS("three ready", `document.querySelectorAll('table.library tbody tr[data-status="ready"]').length === 3`)
	ids := map[string]string{}
	code, body := b.API("GET", "/media", nil)
	if code != 200 {
		t.Fatalf("media: %d", code)
	}
	for _, m := range body["media"].([]any) {
		mm := m.(map[string]any)
		if mm["status"] != "ready" {
			t.Fatalf("media not ready: %v", mm)
		}
		ids[mm["filename"].(string)] = mm["id"].(string)
	}
	if len(ids) != 3 {
		t.Fatalf("media: %v", ids)
	}

	// 3. A playlist of the two photos, built on the playlists page.
	b.Open("#/playlists")
	b.Do("create", chromedp.SendKeys(chromedp.CSS(`#pl-new input[name="name"]`), "Ảnh cửa khẩu"), chromedp.Click(chromedp.CSS(`#pl-new button[type="submit"]`)))
	b.WaitJS("the editor", `/^#\/playlists\/pls_/.test(location.hash) && document.querySelector('main').dataset.ready === 'playlists' && !!document.getElementById('pl-entries')`)
	photos := consoletest.Eval[string](b, `location.hash.split('/')[2]`)
	b.WaitJS("library results", fmt.Sprintf(`!!document.querySelector('[data-add=%q]') && !!document.querySelector('[data-add=%q]')`, ids["cảng đỏ.jpg"], ids["blue gate.jpg"]))
	b.Do("add the photos", chromedp.Click(chromedp.CSS(fmt.Sprintf(`[data-add=%q]`, ids["cảng đỏ.jpg"]))), chromedp.Click(chromedp.CSS(fmt.Sprintf(`[data-add=%q]`, ids["blue gate.jpg"]))))
	b.Do("save", chromedp.Click(chromedp.CSS(`#pl-save`)))
	b.WaitJS("saved", `/Đã lưu/.test(document.getElementById('toasts') ? document.getElementById('toasts').textContent : '')`)
	if code, pl := b.API("GET", "/playlists/"+photos, nil); code != 200 || len(pl["items"].([]any)) != 2 {
		t.Fatalf("photos playlist: %d %v", code, pl)
	}
	// The video's own playlist for the second zone (through the API: the
	// journey asks for one playlist built on the page).
	code, vpl := b.API("POST", "/playlists", map[string]any{"name": "Video", "items": []any{map[string]any{"media_id": ids["clip.mp4"]}}})
	if code != 200 {
		t.Fatalf("video playlist: %d %v", code, vpl)
	}

	// 4. Two zones on the layouts page: the photos above, the video in a
	// strip below (numeric entry; the layouts page's own test drags).
	b.Open("#/layouts")
	b.Do("new layout", chromedp.SendKeys(chromedp.CSS(`#lay-new input[name="name"]`), "Hai vùng"), chromedp.Click(chromedp.CSS(`#lay-new button[type="submit"]`)))
	b.WaitJS("the editor", `/^#\/layouts\//.test(location.hash) && !!document.querySelector('#lay-canvas [data-zone="main"]')`)
	layID := consoletest.Eval[string](b, `decodeURIComponent(location.hash.split('/')[2])`)
	set := func(name, value string) {
		consoletest.Eval[bool](b, fmt.Sprintf(`(() => { const i = document.querySelector('#lay-numbers [name=%q]'); i.value = %q; i.dispatchEvent(new Event('change', { bubbles: true })); return true; })()`, name, value))
	}
	set("zone_h", "75")
	set("zone_playlist", photos)
	b.Do("add a zone", chromedp.Click(chromedp.CSS(`#lay-add`)))
	b.WaitJS("zone2", `!!document.querySelector('#lay-canvas [data-zone="zone2"]')`)
	for _, kv := range [][2]string{{"zone_x", "0"}, {"zone_w", "100"}, {"zone_h", "25"}, {"zone_y", "75"}, {"zone_id", "strip"}, {"zone_playlist", vpl["id"].(string)}} {
		set(kv[0], kv[1])
	}
	b.WaitJS("the strip", `!!document.querySelector('#lay-canvas [data-zone="strip"]')`)
	b.Do("save the layout", chromedp.Click(chromedp.CSS(`#lay-save`)))
	b.WaitJS("saved", `/Đã lưu/.test((document.getElementById('toasts') || {}).textContent || '')`)
	code, lay := b.API("GET", "/layouts/"+layID, nil)
	if code != 200 || len(lay["zones"].([]any)) != 2 {
		t.Fatalf("layout: %d %v", code, lay)
	}
	if z := lay["zones"].([]any)[1].(map[string]any); z["id"] != "strip" || z["y"].(float64) != 75 || z["h"].(float64) != 25 || z["w"].(float64) != 100 {
		t.Fatalf("the strip: %v", z)
	}

	// 5. Pair the beacon-player by its code on the displays page, into a
	// cluster that runs around the clock (the journey must not depend on
	// the hour it runs at).
	code, cl := b.API("POST", "/clusters", map[string]any{"name": "Cả ngày", "hours": []any{map[string]string{"start": "00:00", "end": "00:00"}}})
	if code != 200 {
		t.Fatalf("cluster: %d %v", code, cl)
	}
	paddr := freeAddr(t)
	start(t, beaconPlayer, "--server", env.URL, "--data", t.TempDir(), "--listen", paddr)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	st, err := player.WaitStatus(ctx, paddr, func(s player.Status) bool { return s.PairingCode != "" })
	if err != nil {
		t.Fatalf("pairing code: %v", err)
	}
	b.Open("#/displays")
	b.Do("claim",
		chromedp.SendKeys(chromedp.CSS(`#claim input[name="code"]`), st.PairingCode),
		chromedp.SendKeys(chromedp.CSS(`#claim input[name="name"]`), "Cửa khẩu Hữu Nghị"),
		chromedp.SetValue(chromedp.CSS(`#claim select[name="size"]`), "1280x720"),
		chromedp.SetValue(chromedp.CSS(`#claim select[name="cluster_id"]`), cl["id"].(string)),
		chromedp.Click(chromedp.CSS(`#claim button[type="submit"]`)))
	st, err = player.WaitStatus(ctx, paddr, func(s player.Status) bool { return s.Paired && s.Connected })
	if err != nil {
		t.Fatalf("paired: %v", err)
	}
	display := st.DisplayID

	// 6. Schedule the layout on the display, by the schedules page's form.
	b.Open("#/schedules")
	b.WaitJS("the calendar", `!!document.querySelector('.cal-week')`)
	b.Do("new schedule", chromedp.Click(chromedp.CSS(`#sched-new`)))
	b.WaitJS("the form", `!!document.querySelector('dialog[open] form')`)
	consoletest.Eval[bool](b, fmt.Sprintf(`(() => { const f = document.querySelector('dialog form');
		[...f.querySelector('[name="display_ids"]').options].forEach(o => o.selected = o.value === %q);
		const l = f.querySelector('[name="layout_id"]'); l.value = %q; l.dispatchEvent(new Event('change', { bubbles: true }));
		return true; })()`, display, layID))
	b.WaitJS("the zones", `!!document.querySelector('dialog [name="zone:main"]') && !!document.querySelector('dialog [name="zone:strip"]')`)
	b.Do("fill",
		chromedp.SendKeys(chromedp.CSS(`dialog [name="name"]`), "Cửa khẩu cả ngày"),
		chromedp.SetValue(chromedp.CSS(`dialog [name="zone:main"]`), photos),
		chromedp.SetValue(chromedp.CSS(`dialog [name="zone:strip"]`), vpl["id"].(string)),
		chromedp.Click(chromedp.CSS(`#sched-save`)))
	b.WaitJS("saved, no warning", `!!document.querySelector('#sched-warnings[data-count="0"]')`)

	// The image on the player's own renderer: the main zone shows one of
	// the photos' renditions (the strip plays the transcoded video).
	var shas []string
	for _, name := range []string{"cảng đỏ.jpg", "blue gate.jpg"} {
		code, m := b.API("GET", "/media/"+ids[name], nil)
		if code != 200 {
			t.Fatalf("media %s: %d", name, code)
		}
		for _, r := range m["renditions"].([]any) {
			shas = append(shas, r.(map[string]any)["sha256"].(string))
		}
	}
	screen := tab(t, b, "http://"+paddr+"/")
	waitIn(t, screen, "a photo in the main zone", fmt.Sprintf(`(() => { const s = document.body.getAttribute('data-zone-main-shown'); return !!s && %q.includes(s); })()`, strings.Join(shas, ",")))
	waitIn(t, screen, "the image painted", `(() => { const i = document.querySelector('.zone[data-zone="main"] img'); return !!i && i.complete && i.naturalWidth > 0; })()`)
	waitIn(t, screen, "the video in the strip", `!!document.querySelector('.zone[data-zone="strip"][data-kind="video"]')`)

	// 7. Emergency: compose, confirm (1 screen, 0 offline), send; the
	// renderer shows it and the delivery view turns to painted; cancel.
	b.Open("#/emergency")
	b.Do("texts",
		chromedp.SendKeys(chromedp.CSS(`#text-vi`), "KHẨN CẤP: Đóng cửa khẩu do lũ"),
		chromedp.SendKeys(chromedp.CSS(`#text-en`), "EMERGENCY: the border gate is closed (flood)"),
		chromedp.Click(chromedp.CSS(`#compose-review`)))
	b.WaitJS("the confirmation", `!!document.querySelector('#confirm[open] #confirm-count')`)
	if got := consoletest.Eval[string](b, `(() => { const c = document.querySelector('#confirm-count'); return c.dataset.targeted + '/' + c.dataset.offline; })()`); got != "1/0" {
		t.Fatalf("confirmation: %s", got)
	}
	b.Do("send", chromedp.Click(chromedp.CSS(`#confirm-send`)))
	waitIn(t, screen, "the override on the screen", `(() => { const o = document.getElementById('override'); return !o.hidden && o.dataset.level === 'critical' && o.textContent.includes('KHẨN CẤP'); })()`)
	b.WaitJS("painted in the delivery view", fmt.Sprintf(`!!document.querySelector('#delivery-table tr[data-display=%q][data-state="painted"]')`, display))
	code, ovs := b.API("GET", "/overrides?active=true", nil)
	list, _ := ovs["overrides"].([]any)
	if code != 200 || len(list) != 1 {
		t.Fatalf("active overrides: %d %v", code, ovs)
	}
	b.Do("cancel", chromedp.Click(chromedp.CSS(`#delivery-cancel`)))
	waitIn(t, screen, "the override gone, the photos back", `document.getElementById('override').hidden && !!document.body.getAttribute('data-zone-main-shown')`)
	code, ov := b.API("GET", "/overrides/"+list[0].(map[string]any)["id"].(string), nil)
	if code != 200 || ov["status"] != "cancelled" {
		t.Fatalf("after cancel: %d %v", code, ov["status"])
	}
}
