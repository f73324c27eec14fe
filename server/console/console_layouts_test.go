package console_test

import (
	"crypto/ed25519"
	"crypto/rand"
	"fmt"
	"image/color"
	"math"
	"os"
	"testing"

	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"beacon/server/console/consoletest"
	"beacon/server/servertest"
	"beacon/server/store"
)

// TestConsoleLayouts: an editor makes a layout of two zones on a canvas of
// the display's shape (numeric entry, a zone dragged and resized with the
// mouse and moved with the keyboard, snapped to the grid), gives each zone
// a playlist, saves, and the preview shows both zones with the player's
// renderer; the API's state is checked; axe-core runs in both languages.
func TestConsoleLayouts(t *testing.T) {
	env := consoletest.Start(t, servertest.Options{})
	for _, d := range []struct {
		name string
		w, h int
	}{{"Sảnh ngang", 640, 360}, {"Cột dọc", 360, 640}} {
		pub, _, _ := ed25519.GenerateKey(rand.Reader)
		if _, err := env.Store().CreateDisplay(t.Context(), store.Display{OrgID: env.OrgID, Name: d.name, PublicKey: pub, Width: d.w, Height: d.h, Fit: "contain", Background: "#000000"}); err != nil {
			t.Fatal(err)
		}
	}
	dir := t.TempDir()
	var red, blue servertest.Media
	for _, x := range []struct {
		name string
		c    color.RGBA
		out  *servertest.Media
	}{{"red photo.jpg", color.RGBA{210, 20, 20, 255}, &red}, {"blue photo.jpg", color.RGBA{20, 20, 210, 255}, &blue}} {
		b, _ := os.ReadFile(jpegFile(t, dir, x.name, 800, 450, x.c))
		env.Upload(x.name, b, x.out)
	}
	var main, side struct{ ID string }
	env.Do("POST", "/api/v1/playlists", map[string]any{"name": "Chính", "items": []map[string]any{{"media_id": red.ID, "duration_s": 5}}}, &main)
	env.Do("POST", "/api/v1/playlists", map[string]any{"name": "Bên", "items": []map[string]any{{"media_id": blue.ID, "duration_s": 5}}}, &side)

	b := env.Browser(consoletest.Desktop)
	b.SignIn(consoletest.Editor, "vi")
	b.Open("#/layouts")
	b.Axe()
	b.Do("create", chromedp.SendKeys(chromedp.CSS(`#lay-new input[name="name"]`), "Hai vùng"), chromedp.Click(chromedp.CSS(`#lay-new button[type="submit"]`)))
	b.WaitJS("the editor", `/^#\/layouts\//.test(location.hash) && !!document.querySelector('#lay-canvas [data-zone="main"]')`)
	layID := consoletest.Eval[string](b, `decodeURIComponent(location.hash.split('/')[2])`)

	// The canvas takes the display's shape.
	b.Do("portrait display", chromedp.SetValue(chromedp.CSS(`#lay-display`), consoletest.Eval[string](b, `[...document.querySelectorAll('#lay-display option')].find((o) => /Cột dọc/.test(o.textContent)).value`)))
	consoletest.Eval[bool](b, `(document.getElementById('lay-display').dispatchEvent(new Event('change', { bubbles: true })), true)`)
	if r := consoletest.Eval[float64](b, `(() => { const c = document.getElementById('lay-canvas').getBoundingClientRect(); return c.height / c.width; })()`); math.Abs(r-640.0/360) > 0.02 {
		t.Fatalf("portrait canvas ratio %.3f", r)
	}
	b.Do("landscape display", chromedp.SetValue(chromedp.CSS(`#lay-display`), consoletest.Eval[string](b, `[...document.querySelectorAll('#lay-display option')].find((o) => /Sảnh ngang/.test(o.textContent)).value`)))
	consoletest.Eval[bool](b, `(document.getElementById('lay-display').dispatchEvent(new Event('change', { bubbles: true })), true)`)

	// Numeric entry: the main zone takes 70% of the width.
	consoletest.Eval[bool](b, `(() => { const i = document.querySelector('#lay-numbers [name="zone_w"]'); i.value = '70'; i.dispatchEvent(new Event('change', { bubbles: true })); return true; })()`)
	b.WaitJS("main at 70%", `document.querySelector('#lay-canvas [data-zone="main"]').style.width === '70%'`)
	b.Do("main's playlist", chromedp.SetValue(chromedp.CSS(`#lay-numbers [name="zone_playlist"]`), main.ID))
	consoletest.Eval[bool](b, `(document.querySelector('#lay-numbers [name="zone_playlist"]').dispatchEvent(new Event('change', { bubbles: true })), true)`)

	// A second zone, dragged with the mouse to the right edge and resized.
	b.Do("add a zone", chromedp.Click(chromedp.CSS(`#lay-add`)))
	b.WaitJS("zone2", `!!document.querySelector('#lay-canvas [data-zone="zone2"]')`)
	box := func(sel string) (x, y, w, h float64) {
		r := consoletest.Eval[[]float64](b, fmt.Sprintf(`(() => { const r = document.querySelector(%q).getBoundingClientRect(); return [r.left, r.top, r.width, r.height]; })()`, sel))
		return r[0], r[1], r[2], r[3]
	}
	cx, cy, cw, ch := box(`#lay-canvas`)
	zx, zy, zw, zh := box(`#lay-canvas [data-zone="zone2"]`)
	// Move from (70%,70%) to (70%,0%): drag up by 70% of the canvas height.
	sx, sy := zx+zw/2, zy+zh/2
	b.Do("drag zone2",
		chromedp.MouseEvent(input.DispatchMouseEventTypeMousePressed, sx, sy, chromedp.ButtonLeft, chromedp.ClickCount(1)),
		chromedp.MouseEvent(input.DispatchMouseEventTypeMouseMoved, sx, sy-ch*0.35, chromedp.ButtonLeft),
		chromedp.MouseEvent(input.DispatchMouseEventTypeMouseMoved, sx+1, sy-ch*0.70+2, chromedp.ButtonLeft),
		chromedp.MouseEvent(input.DispatchMouseEventTypeMouseReleased, sx+1, sy-ch*0.70+2, chromedp.ButtonLeft, chromedp.ClickCount(1)))
	b.WaitJS("zone2 at the top, snapped", `(() => { const s = document.querySelector('#lay-canvas [data-zone="zone2"]').style; return s.top === '0%' && s.left === '70%'; })()`)
	// Resize from the corner to the full height.
	_, _, _, _ = cx, cy, cw, zh
	zx, zy, zw, zh = box(`#lay-canvas [data-zone="zone2"]`)
	rx, ry := zx+zw-4, zy+zh-4
	b.Do("resize zone2",
		chromedp.MouseEvent(input.DispatchMouseEventTypeMousePressed, rx, ry, chromedp.ButtonLeft, chromedp.ClickCount(1)),
		chromedp.MouseEvent(input.DispatchMouseEventTypeMouseMoved, rx, ry+ch*0.35, chromedp.ButtonLeft),
		chromedp.MouseEvent(input.DispatchMouseEventTypeMouseMoved, rx, ry+ch*0.70+1, chromedp.ButtonLeft),
		chromedp.MouseEvent(input.DispatchMouseEventTypeMouseReleased, rx, ry+ch*0.70+1, chromedp.ButtonLeft, chromedp.ClickCount(1)))
	b.WaitJS("zone2 full height", `document.querySelector('#lay-canvas [data-zone="zone2"]').style.height === '100%'`)
	// Keyboard: Shift+← widens nothing past the edge; ← moves it 5% left, → back.
	b.Do("focus zone2", chromedp.Focus(chromedp.CSS(`#lay-canvas [data-zone="zone2"]`)))
	b.Do("left", chromedp.KeyEvent(kb.ArrowLeft))
	b.WaitJS("moved left", `document.querySelector('#lay-canvas [data-zone="zone2"]').style.left === '65%'`)
	b.Do("focus zone2", chromedp.Focus(chromedp.CSS(`#lay-canvas [data-zone="zone2"]`)))
	b.Do("right", chromedp.KeyEvent(kb.ArrowRight))
	b.WaitJS("moved back", `document.querySelector('#lay-canvas [data-zone="zone2"]').style.left === '70%'`)
	// Name it and give it its playlist.
	consoletest.Eval[bool](b, `(() => { const i = document.querySelector('#lay-numbers [name="zone_id"]'); i.value = 'side'; i.dispatchEvent(new Event('change', { bubbles: true })); return true; })()`)
	b.WaitJS("renamed", `!!document.querySelector('#lay-canvas [data-zone="side"]')`)
	b.Do("side's playlist", chromedp.SetValue(chromedp.CSS(`#lay-numbers [name="zone_playlist"]`), side.ID))
	consoletest.Eval[bool](b, `(document.querySelector('#lay-numbers [name="zone_playlist"]').dispatchEvent(new Event('change', { bubbles: true })), true)`)
	b.Do("save", chromedp.Click(chromedp.CSS(`#lay-save`)))
	b.WaitJS("saved", `/Đã lưu/.test((document.getElementById('toasts') || {}).textContent || '')`)

	code, lay := b.API("GET", "/layouts/"+layID, nil)
	if code != 200 {
		t.Fatalf("layout: %d", code)
	}
	zones := lay["zones"].([]any)
	pls := lay["playlists"].(map[string]any)
	z0, z1 := zones[0].(map[string]any), zones[1].(map[string]any)
	if len(zones) != 2 || z0["id"] != "main" || z0["w"].(float64) != 70 || z1["id"] != "side" || z1["x"].(float64) != 70 || z1["y"].(float64) != 0 ||
		z1["w"].(float64) != 30 || z1["h"].(float64) != 100 || pls["main"] != main.ID || pls["side"] != side.ID {
		t.Fatalf("saved layout: %v", lay)
	}

	// The preview: the player's renderer shows both zones.
	b.WaitJS("both zones painted", `(() => { const f = document.getElementById('pv-frame'); const d = f && f.contentDocument;
		if (!d || !d.body) return false; const m = d.querySelector('.zone[data-zone="main"]'), s = d.querySelector('.zone[data-zone="side"]');
		return !!m && !!s && !!m.dataset.shown && !!s.dataset.shown; })()`)
	if w := consoletest.Eval[string](b, `document.getElementById('pv-frame').contentDocument.querySelector('.zone[data-zone="side"]').style.width`); w != "192px" {
		t.Fatalf("side zone in the renderer is %s wide, want 192px (30%% of 640)", w)
	}
	b.CheckCatalogue("layout editor (vi)")
	b.Axe()
	b.Screenshot("layouts", "vi")
	b.SetLanguage("en")
	b.Open("#/layouts/" + layID)
	b.CheckCatalogue("layout editor (en)")
	b.Axe()
	b.Screenshot("layouts", "en")
	b.Open("#/layouts")
	b.CheckCatalogue("layouts (en)")
	b.Axe()
}
