package console_test

import (
	"bytes"
	"image"
	"image/color"
	"image/jpeg"
	"strconv"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"beacon/player"
	"beacon/server/console/consoletest"
	"beacon/server/servertest"
)

type displayOut struct {
	ID        string   `json:"id"`
	Name      string   `json:"name"`
	Width     int      `json:"width"`
	Height    int      `json:"height"`
	Fit       string   `json:"fit"`
	ClusterID string   `json:"cluster_id"`
	Tags      []string `json:"tags"`
	Languages []string `json:"languages"`
	Online    bool     `json:"online"`
	Latitude  *float64 `json:"latitude"`
	Longitude *float64 `json:"longitude"`
}

// TestConsoleDisplays: a real beacon-player shows a pairing code; the
// operator claims it on the Displays page (portrait, in a cluster); the
// list shows it online and then offline when the player stops, live,
// without reloading; a wrong code is refused beside the code field; the
// display's page changes its name, fit, tags, languages and location
// (picked on the map by click and keyboard) — each checked through the API.
func TestConsoleDisplays(t *testing.T) {
	env := consoletest.Start(t, servertest.Options{})
	var cl struct{ ID string }
	if code := env.Do("POST", "/api/v1/clusters", map[string]any{"name": "Thừa Thiên Huế", "latitude": 16.46, "longitude": 107.59,
		"hours": []map[string]string{{"start": "00:00", "end": "00:00"}}}, &cl); code != 201 {
		t.Fatalf("cluster: %d", code)
	}
	// A second display, placed, so the map has the organisation's points.
	other := env.StartPlayer()
	var od displayOut
	if code := env.Do("POST", "/api/v1/displays/claim", map[string]any{"code": other.PairingCode(), "name": "Cổng trường", "width": 1280, "height": 720,
		"latitude": 16.47, "longitude": 107.6}, &od); code != 201 {
		t.Fatalf("claim the other display: %d", code)
	}
	env.Do("PATCH", "/api/v1/displays/"+od.ID, map[string]any{"cluster_id": cl.ID}, nil)
	// It plays an image, so the list has something to say it plays.
	var m servertest.Media
	if code := env.Upload("cong-truong.jpg", testJPEG(t, 640, 360), &m); code != 201 {
		t.Fatalf("upload: %d", code)
	}
	var pl struct{ ID string }
	env.Do("POST", "/api/v1/playlists", map[string]any{"name": "Cổng", "items": []map[string]any{{"media_id": m.ID, "duration_s": 10}}}, &pl)
	if code := env.Do("POST", "/api/v1/schedules", map[string]any{"display_id": od.ID, "playlist_id": pl.ID}, nil); code != 201 {
		t.Fatalf("schedule: %d", code)
	}

	b := env.Browser(consoletest.Desktop)
	b.SignIn(consoletest.Editor, "vi")
	b.Open("#/displays")
	b.WaitJS("the other display listed", `!!document.querySelector('#displays tr[data-display]')`)
	// What it plays arrives live with its heartbeats.
	other.Wait("playing the image", func(s player.Status) bool {
		return s.NowPlaying != nil && (s.NowPlaying.MediaID == m.ID || s.NowPlaying.ItemID == m.ID)
	})
	b.WaitJS("now playing, live", `(document.querySelector('#displays tr[data-display="`+od.ID+`"]') || {}).textContent?.includes('cong-truong.jpg')`)
	b.Axe()
	consoletest.Eval[bool](b, `(window.__sameDocument = true)`)

	// A wrong code: the message is beside the code, in Vietnamese.
	b.Do("claim a wrong code",
		chromedp.SendKeys(chromedp.CSS(`#claim input[name="code"]`), "ZZZZ-ZZZZ-ZZ"),
		chromedp.SendKeys(chromedp.CSS(`#claim input[name="name"]`), "Sảnh chính"),
		chromedp.Click(chromedp.CSS(`#claim button[type="submit"]`)))
	b.WaitJS("the code error", `(() => { const e = document.querySelector('#claim .form-error, #claim .field-error'); return !!e && e.textContent.includes('Không có màn hình nào'); })()`)

	// The real player's code, typed in lower case.
	p := env.StartPlayer()
	code := p.PairingCode()
	consoletest.Eval[bool](b, `(document.querySelector('#claim input[name="code"]').value = '', true)`)
	b.Do("claim",
		chromedp.SendKeys(chromedp.CSS(`#claim input[name="code"]`), strings.ToLower(code)),
		chromedp.SetValue(chromedp.CSS(`#claim select[name="orientation"]`), "portrait"),
		chromedp.SetValue(chromedp.CSS(`#claim select[name="cluster_id"]`), cl.ID),
		chromedp.Click(chromedp.CSS(`#claim button[type="submit"]`)))
	st := p.Wait("paired", func(s player.Status) bool { return s.Paired && s.Connected })
	row := `#displays tr[data-display="` + st.DisplayID + `"]`
	b.WaitJS("the new display online in the list", `(() => { const r = document.querySelector('`+row+`'); return !!r && r.dataset.online === 'true'; })()`)
	b.WaitJS("the claim form cleared", `document.querySelector('#claim input[name="code"]').value === ''`)
	var d displayOut
	if c := env.Do("GET", "/api/v1/displays/"+st.DisplayID, nil, &d); c != 200 || d.Name != "Sảnh chính" || d.Width != 1080 || d.Height != 1920 || d.ClusterID != cl.ID {
		t.Fatalf("claimed display: %d %+v", c, d)
	}
	b.Screenshot("displays", "vi")

	// The player goes away: the row turns offline by itself.
	p.Stop()
	b.WaitJS("the display offline, live", `(() => { const r = document.querySelector('`+row+`'); return !!r && r.dataset.online === 'false' && r.textContent.includes('Ngoại tuyến'); })()`)
	if !consoletest.Eval[bool](b, `window.__sameDocument === true`) {
		t.Error("the page was reloaded")
	}
	b.CheckCatalogue("displays (vi)")

	// The display's own page.
	b.Do("open the display", chromedp.Click(chromedp.CSS(row+` a`)))
	b.WaitJS("the display page", `document.querySelector('main').dataset.ready === 'displays' && !!document.querySelector('#display-form')`)
	if h1 := consoletest.Eval[string](b, `document.querySelector('h1').textContent`); h1 != "Sảnh chính" {
		t.Errorf("heading %q", h1)
	}
	if n := consoletest.Eval[int](b, `document.querySelectorAll('svg.map [data-point]').length`); n != 1 {
		t.Errorf("the map shows %d other displays, want 1", n)
	}
	if n := consoletest.Eval[int](b, `document.querySelectorAll('svg.map [data-cluster]').length`); n != 1 {
		t.Errorf("the map shows %d cluster outlines, want 1", n)
	}
	b.Axe()
	// Pick a place: click the middle of the map, then one step north.
	b.Do("click the map", chromedp.Click(chromedp.CSS(`svg.map`)))
	b.WaitJS("latitude filled", `document.querySelector('#display-form input[name="latitude"]').value !== ''`)
	lat1 := consoletest.Eval[string](b, `document.querySelector('#display-form input[name="latitude"]').value`)
	b.Do("keyboard", chromedp.Focus(chromedp.CSS(`svg.map`)), chromedp.KeyEvent(kb.ArrowUp))
	lat2 := consoletest.Eval[string](b, `document.querySelector('#display-form input[name="latitude"]').value`)
	if lat2 <= lat1 {
		t.Errorf("ArrowUp moved latitude from %s to %s", lat1, lat2)
	}
	consoletest.Eval[bool](b, `(() => { const f = document.querySelector('#display-form');
		f.querySelector('input[name="name"]').value = 'Sảnh chính — tầng 1';
		f.querySelector('input[name="tags"]').value = 'sảnh, tầng-1';
		f.querySelector('input[name="languages"]').value = 'vi, en';
		f.querySelector('select[name="fit"]').value = 'cover';
		return true; })()`)
	b.Do("save", chromedp.Click(chromedp.CSS(`#display-form button[type="submit"]`)))
	b.WaitJS("saved", `document.querySelector('h1').textContent === 'Sảnh chính — tầng 1'`)
	env.Do("GET", "/api/v1/displays/"+d.ID, nil, &d)
	if d.Name != "Sảnh chính — tầng 1" || d.Fit != "cover" || strings.Join(d.Tags, ",") != "sảnh,tầng-1" || strings.Join(d.Languages, ",") != "vi,en" || d.Latitude == nil || d.Longitude == nil {
		t.Fatalf("after save: %+v", d)
	}
	if got := consoletest.Eval[string](b, `document.querySelector('#display-form input[name="latitude"]').value`); got != trimFloat(*d.Latitude) {
		t.Errorf("saved latitude %v, form %s", *d.Latitude, got)
	}
	b.Screenshot("display", "vi")
	b.CheckCatalogue("display (vi)")
	b.Open("#/home")
	b.WaitJS("the overview's counts", `document.querySelectorAll('.stat').length === 3`)
	b.Screenshot("home", "vi")

	b.SetLanguage("en")
	b.Open("#/displays")
	b.CheckCatalogue("displays (en)")
	b.Axe()
	b.Screenshot("displays", "en")
	b.Open("#/displays/" + d.ID)
	b.CheckCatalogue("display (en)")
	b.Axe()
	b.Screenshot("display", "en")
	b.Open("#/home")
	b.WaitJS("the overview's counts", `document.querySelectorAll('.stat').length === 3`)
	b.Screenshot("home", "en")

	// A viewer sees the list but no claim form, and a read-only display.
	v := env.Browser(consoletest.Desktop)
	v.SignIn(consoletest.Viewer, "en")
	v.Open("#/displays")
	if consoletest.Eval[bool](v, `!!document.querySelector('#claim')`) {
		t.Error("a viewer is offered the claim form")
	}
	v.Open("#/displays/" + d.ID)
	if !consoletest.Eval[bool](v, `document.querySelector('#display-form input[name="name"]').disabled`) {
		t.Error("a viewer may edit a display")
	}
}

// testJPEG is a plain picture with a stripe, as a camera would not make.
func testJPEG(t *testing.T, w, h int) []byte {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			c := color.RGBA{20, 90, 170, 255}
			if y > h/3 && y < 2*h/3 {
				c = color.RGBA{240, 200, 40, 255}
			}
			img.Set(x, y, c)
		}
	}
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, img, &jpeg.Options{Quality: 90}); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func trimFloat(f float64) string {
	s := strings.TrimRight(strings.TrimRight(strconvF(f), "0"), ".")
	return s
}

func strconvF(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }
