package console_test

import (
	"crypto/ed25519"
	"crypto/rand"
	"fmt"
	"image/color"
	"os"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"beacon/server/console/consoletest"
	"beacon/server/servertest"
	"beacon/server/store"
)

// TestConsolePlaylists: an editor creates a playlist, adds two images from
// the library and a nested playlist, reorders by keyboard and by drag and
// drop, sets a duration and an end date, saves, and the preview plays it
// with the player's renderer at the display's resolution; the API's state
// is checked; axe-core runs in Vietnamese and English.
func TestConsolePlaylists(t *testing.T) {
	env := consoletest.Start(t, servertest.Options{})
	pub, _, _ := ed25519.GenerateKey(rand.Reader)
	if _, err := env.Store().CreateDisplay(t.Context(), store.Display{OrgID: env.OrgID, Name: "Sảnh A", PublicKey: pub, Width: 640, Height: 360, Fit: "contain", Background: "#000000"}); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	var red, blue servertest.Media
	for _, x := range []struct {
		name string
		c    color.RGBA
		out  *servertest.Media
	}{{"red photo.jpg", color.RGBA{210, 20, 20, 255}, &red}, {"blue photo.jpg", color.RGBA{20, 20, 210, 255}, &blue}} {
		b, _ := os.ReadFile(jpegFile(t, dir, x.name, 800, 450, x.c))
		if code := env.Upload(x.name, b, x.out); code != 201 {
			t.Fatalf("upload: %d", code)
		}
	}
	var inner struct{ ID string }
	env.Do("POST", "/api/v1/playlists", map[string]any{"name": "Tin ngắn", "items": []map[string]any{{"media_id": blue.ID, "duration_s": 2}}}, &inner)

	b := env.Browser(consoletest.Desktop)
	b.SignIn(consoletest.Editor, "vi")
	b.Open("#/playlists")
	b.Axe()
	b.Do("create", chromedp.SendKeys(chromedp.CSS(`#pl-new input[name="name"]`), "Sảnh chính"), chromedp.Click(chromedp.CSS(`#pl-new button[type="submit"]`)))
	b.WaitJS("the editor", `/^#\/playlists\/pls_/.test(location.hash) && document.querySelector('main').dataset.ready === 'playlists' && !!document.getElementById('pl-entries')`)
	plID := consoletest.Eval[string](b, `location.hash.split('/')[2]`)

	b.WaitJS("library results", fmt.Sprintf(`!!document.querySelector('[data-add=%q]') && !!document.querySelector('[data-add=%q]')`, red.ID, blue.ID))
	b.Do("add red, blue", chromedp.Click(chromedp.CSS(fmt.Sprintf(`[data-add=%q]`, red.ID))), chromedp.Click(chromedp.CSS(fmt.Sprintf(`[data-add=%q]`, blue.ID))))
	b.Do("add nested", chromedp.SetValue(chromedp.CSS(`#pl-nest`), inner.ID), chromedp.Click(chromedp.CSS(`#pl-add-nested`)))
	order := func() string {
		return consoletest.Eval[string](b, `[...document.querySelectorAll('#pl-entries li.entry')].map((li) => li.dataset.media || 'pl:' + li.dataset.playlist).join(',')`)
	}
	if got, want := order(), red.ID+","+blue.ID+",pl:"+inner.ID; got != want {
		t.Fatalf("order %s, want %s", got, want)
	}
	// Keyboard: the nested playlist moves up to the top.
	b.Do("focus the third handle", chromedp.Focus(chromedp.CSS(`#pl-entries li.entry:nth-child(3) .handle`)))
	b.Do("alt+up", chromedp.KeyEvent(kb.ArrowUp, chromedp.KeyModifiers(chromedp.ModifierAlt)))
	b.Do("alt+up", chromedp.KeyEvent(kb.ArrowUp, chromedp.KeyModifiers(chromedp.ModifierAlt)))
	if got, want := order(), "pl:"+inner.ID+","+red.ID+","+blue.ID; got != want {
		t.Fatalf("after Alt+↑ twice: %s, want %s", got, want)
	}
	if !consoletest.Eval[bool](b, `document.activeElement.classList.contains('handle') && document.activeElement.closest('li').dataset.index === '0'`) {
		t.Fatal("the focus did not follow the moved entry")
	}
	// Drag and drop: blue onto the first place.
	consoletest.Eval[bool](b, `(() => {
		const lis = document.querySelectorAll('#pl-entries li.entry');
		const dt = new DataTransfer();
		lis[2].dispatchEvent(new DragEvent('dragstart', { dataTransfer: dt, bubbles: true }));
		lis[0].dispatchEvent(new DragEvent('dragover', { dataTransfer: dt, bubbles: true, cancelable: true }));
		lis[0].dispatchEvent(new DragEvent('drop', { dataTransfer: dt, bubbles: true, cancelable: true }));
		return true; })()`)
	if got, want := order(), blue.ID+",pl:"+inner.ID+","+red.ID; got != want {
		t.Fatalf("after drag and drop: %s, want %s", got, want)
	}
	// Durations and dates; the total follows.
	b.Do("duration", chromedp.SendKeys(chromedp.CSS(`#pl-entries li.entry:nth-child(1) input[type=number]`), "4"))
	consoletest.Eval[bool](b, `(() => { const i = document.querySelector('#pl-entries li.entry:nth-child(3) input[type=date]:last-of-type');
		i.value = '2099-12-31'; i.dispatchEvent(new Event('change', { bubbles: true })); return true; })()`)
	b.WaitJS("total", `/0:14/.test(document.getElementById('pl-total').textContent)`)
	b.Do("save", chromedp.Click(chromedp.CSS(`#pl-save`)))
	b.WaitJS("saved", `document.querySelectorAll('#pl-entries li.entry')[2] && !document.querySelector('.form-error') && /Đã lưu/.test(document.getElementById('toasts') ? document.getElementById('toasts').textContent : '')`)

	code, pl := b.API("GET", "/playlists/"+plID, nil)
	if code != 200 {
		t.Fatalf("playlist: %d", code)
	}
	items := pl["items"].([]any)
	first, second, third := items[0].(map[string]any), items[1].(map[string]any), items[2].(map[string]any)
	if len(items) != 3 || first["media_id"] != blue.ID || first["duration_s"].(float64) != 4 || second["playlist_id"] != inner.ID || third["item_id"] == nil {
		t.Fatalf("saved playlist: %v", pl)
	}
	_, item := b.API("GET", "/items/"+third["item_id"].(string), nil)
	if item["valid_until"] != "2099-12-31" || item["variants"].(map[string]any)[""].(map[string]any)["media_id"] != red.ID {
		t.Fatalf("the dated entry's item: %v", item)
	}

	// The preview plays it with the player's renderer at 640×360.
	b.WaitJS("the preview frame", `(() => { const f = document.getElementById('pv-frame'); return !!f && f.width == 640 && f.height == 360; })()`)
	b.WaitJS("the renderer playing", `(() => { const f = document.getElementById('pv-frame'); const d = f && f.contentDocument;
		return !!d && !!d.body && d.body.dataset.state === 'playing' && !!d.body.dataset.shown && !!d.querySelector('script[src="/renderer.js"]'); })()`)
	shown := consoletest.Eval[string](b, `document.getElementById('pv-frame').contentDocument.body.dataset.shown`)
	var m servertest.Media
	found := false
	for _, id := range []string{red.ID, blue.ID} {
		env.Do("GET", "/api/v1/media/"+id, nil, &m)
		for _, r := range m.Renditions {
			found = found || r.SHA256 == shown && r.Width <= 640 && r.Height <= 360
		}
	}
	if !found {
		t.Fatalf("the preview shows %s, not a 640×360 rendition of the playlist's images", shown)
	}
	b.CheckCatalogue("playlist editor (vi)")
	b.Axe()
	b.Screenshot("playlists", "vi")

	b.SetLanguage("en")
	b.Open("#/playlists/" + plID)
	b.WaitJS("entries", `document.querySelectorAll('#pl-entries li.entry').length === 3`)
	b.CheckCatalogue("playlist editor (en)")
	b.Axe()
	b.Screenshot("playlists", "en")
	b.Open("#/playlists")
	b.CheckCatalogue("playlists (en)")
	b.Axe()

	// A cycle is refused with the server's reason beside the form.
	b.Open("#/playlists/" + inner.ID)
	b.Do("nest the outer playlist", chromedp.SetValue(chromedp.CSS(`#pl-nest`), plID), chromedp.Click(chromedp.CSS(`#pl-add-nested`)), chromedp.Click(chromedp.CSS(`#pl-save`)))
	b.WaitJS("the cycle refused", `/cycle/i.test((document.querySelector('#pl-form .form-error') || {}).textContent || '')`)
}
