package console_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"beacon/player"
	"beacon/server/console/consoletest"
	"beacon/server/servertest"
)

// runPlayer starts a real player in-process against the test server and
// pairs it by its code (the displays page's own test pairs through the
// page; here the API does it).
func runPlayer(t *testing.T, env *consoletest.Env, name string, w, h int) (*consoletest.Player, string) {
	t.Helper()
	p := env.StartPlayer()
	code := p.PairingCode()
	var d struct{ ID string }
	if c := env.Do("POST", "/api/v1/displays/claim", map[string]any{"code": code, "name": name, "width": w, "height": h}, &d); c != 201 {
		t.Fatalf("claim: %d", c)
	}
	p.Wait("paired", func(s player.Status) bool { return s.Paired && s.DisplayID == d.ID })
	return p, d.ID
}

// openRenderer shows the player's renderer page in another tab of the
// test browser (the screen); it returns the tab's context.
func openRenderer(t *testing.T, b *consoletest.Browser, addr string) context.Context {
	t.Helper()
	ctx, cancel := chromedp.NewContext(b.Ctx)
	t.Cleanup(cancel)
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(960, 540), chromedp.Navigate("http://"+addr+"/")); err != nil {
		t.Fatalf("renderer: %v", err)
	}
	return ctx
}

func waitTab(t *testing.T, ctx context.Context, what, expr string) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool](expr))
		if err == nil && ok {
			return
		}
		if time.Now().After(deadline) {
			body, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body.outerHTML.slice(0, 800)`))
			t.Fatalf("renderer: waiting for %s (%v): %s", what, err, body)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func setLocation(t *testing.T, env *consoletest.Env, id string, lat, lon float64, cluster string) {
	t.Helper()
	if code := env.Do("PATCH", "/api/v1/displays/"+id, map[string]any{"latitude": lat, "longitude": lon, "cluster_id": cluster}, nil); code != 200 {
		t.Fatalf("place display: %d", code)
	}
}

type overrideJSON struct {
	ID           string            `json:"id"`
	Level        string            `json:"level"`
	Presentation string            `json:"presentation"`
	Text         map[string]string `json:"text"`
	DisplayIDs   []string          `json:"display_ids"`
	Status       string            `json:"status"`
	Targets      map[string]any    `json:"targets"`
}

// TestConsoleEmergency: an authority fills the flood template, draws an
// area on the map around two of three screens, sees the player's own
// renderer draw the preview, confirms "2 screens, 1 offline", sends, and
// watches the real player's delivery turn to painted live; cancels; then
// blanks every screen with the kill switch (two clicks from anywhere)
// and cancels that too. The API and the player's screen agree at each
// step. Axe in vi and en.
func TestConsoleEmergency(t *testing.T) {
	env := consoletest.Start(t, servertest.Options{})
	var cl struct{ ID string }
	if code := env.Do("POST", "/api/v1/clusters", map[string]any{"name": "Bờ sông", "hours": []map[string]string{{"start": "00:00", "end": "00:00"}}}, &cl); code != 201 {
		t.Fatalf("cluster: %d", code)
	}
	p, onScreen := runPlayer(t, env, "Bến phà", 960, 540)
	setLocation(t, env, onScreen, 21.03, 105.85, cl.ID)
	offline := consoleDisplay(t, env, "Chợ ven sông", nil, 21.02, 105.86)
	setLocation(t, env, offline, 21.02, 105.86, cl.ID)
	far := consoleDisplay(t, env, "Cửa khẩu xa", nil, 22.80, 104.98)

	b := env.Browser(consoletest.Desktop)
	screen := openRenderer(t, b, p.Addr())
	waitTab(t, screen, "the renderer connected", `document.body.dataset.state !== 'connecting'`)

	b.SignIn(consoletest.Authority, "vi")
	// The kill switch is two clicks from any page: the navigation's
	// Emergency link, then the switch at the top of the page.
	b.Open("#/home")
	b.Do("emergency from the navigation", chromedp.Click(chromedp.CSS(`#nav a[data-route="emergency"]`)))
	b.WaitJS("the emergency page", `document.querySelector('main').dataset.ready === 'emergency' && !!document.querySelector('#kill-blank')`)
	b.CheckCatalogue("emergency (vi)")
	b.Axe()
	if rows := consoletest.Eval[int](b, `document.querySelectorAll('#cap-sources tbody tr').length`); rows != 1 {
		t.Errorf("CAP sources listed: %d", rows)
	}

	// The flood template, one blank filled.
	b.Do("flood template", chromedp.Click(chromedp.CSS(`#compose button[data-topic="flood"]`)))
	b.WaitJS("its blank", `!!document.querySelector('#blank-area')`)
	b.Do("fill the area", chromedp.SendKeys(chromedp.CSS(`#blank-area`), "Phường Bến Phà"))
	b.WaitJS("the texts filled", `document.querySelector('#text-vi').value.includes('Phường Bến Phà') && document.querySelector('#text-en').value.includes('Phường Bến Phà')`)
	// The preview is the player's renderer, drawing what a screen draws.
	b.WaitJS("the preview", `(() => { const d = document.querySelector('#preview-frame').contentDocument; const o = d && d.querySelector('#override');
		return !!o && !o.hidden && o.dataset.presentation === 'fullscreen' && o.dataset.level === 'critical' && o.textContent.includes('Phường Bến Phà') && o.dataset.lang === 'vi,en'; })()`)

	// An area drawn around the two river screens (not the far one).
	b.Do("area targets", chromedp.Click(chromedp.CSS(`#compose input[name="target_kind"][value="area"]`)))
	b.WaitJS("the map", `!!document.querySelector('#target-map circle[data-display]')`)
	corners := consoletest.Eval[[]point](b, fmt.Sprintf(`(() => { const r = (id) => document.querySelector('#target-map circle[data-display="'+id+'"]').getBoundingClientRect();
		document.querySelector('#target-map').scrollIntoView({block: 'center'});
		const a = r(%q), c = r(%q); const x0 = Math.min(a.left, c.left) - 15, x1 = Math.max(a.right, c.right) + 15, y0 = Math.min(a.top, c.top) - 15, y1 = Math.max(a.bottom, c.bottom) + 15;
		return [{X: x0, Y: y0}, {X: x1, Y: y0}, {X: x1, Y: y1}, {X: x0, Y: y1}]; })()`, onScreen, offline))
	for i, c := range corners {
		b.Do(fmt.Sprintf("corner %d", i), chromedp.MouseClickXY(c.X, c.Y))
	}
	b.WaitJS("a four-corner polygon", `document.querySelectorAll('#target-map .vertex').length === 4`)

	// A refused value: the server's message beside the control, nothing sent.
	consoletest.Eval[bool](b, `(document.querySelector('#compose [name="expires_in_s"]').value = '0', true)`)
	b.Do("review with no expiry", chromedp.Click(chromedp.CSS(`#compose-review`)))
	b.WaitJS("the error beside the expiry", `(() => { const i = document.querySelector('#compose [name="expires_in_s"]'); const e = i.closest('.field').querySelector('.field-error');
		return i.getAttribute('aria-invalid') === 'true' && !!e && e.textContent.includes('expires_in_s'); })()`)
	consoletest.Eval[bool](b, `(document.querySelector('#compose [name="expires_in_s"]').value = '60', true)`)

	// Review: the confirmation says how many screens and how many offline.
	b.Do("review", chromedp.Click(chromedp.CSS(`#compose-review`)))
	b.WaitJS("the confirmation", `!!document.querySelector('#confirm[open] #confirm-count')`)
	if got := consoletest.Eval[string](b, `(() => { const c = document.querySelector('#confirm-count'); return c.dataset.targeted + '/' + c.dataset.offline; })()`); got != "2/1" {
		t.Fatalf("confirmation targeted/offline: %s (%s)", got, consoletest.Eval[string](b, `document.querySelector('#confirm').innerText`))
	}
	b.Axe()
	b.Do("send", chromedp.Click(chromedp.CSS(`#confirm-send`)))

	// Live delivery: the real player paints it; the other stays offline.
	b.WaitJS("painted on the player", fmt.Sprintf(`!!document.querySelector('#delivery-table tr[data-display=%q][data-state="painted"]')`, onScreen))
	if st := consoletest.Eval[string](b, fmt.Sprintf(`document.querySelector('#delivery-table tr[data-display=%q]').dataset.state`, offline)); st != "offline" {
		t.Errorf("offline display's delivery: %s", st)
	}
	waitTab(t, screen, "the override on the screen", `(() => { const o = document.getElementById('override'); return !o.hidden && o.dataset.presentation === 'fullscreen' && o.textContent.includes('Phường Bến Phà'); })()`)
	var list struct{ Overrides []overrideJSON }
	env.Do("GET", "/api/v1/overrides?active=true", nil, &list)
	if len(list.Overrides) != 1 {
		t.Fatalf("active overrides: %+v", list)
	}
	o := list.Overrides[0]
	if o.Level != "critical" || o.Presentation != "fullscreen" || !strings.Contains(o.Text["vi"], "Phường Bến Phà") || !strings.Contains(o.Text["en"], "Phường Bến Phà") ||
		strings.Contains(o.Text["vi"], "{area}") || len(o.DisplayIDs) != 2 || o.Targets["area"] == nil {
		t.Fatalf("sent override: %+v", o)
	}
	for _, id := range o.DisplayIDs {
		if id == far {
			t.Fatalf("the far display was targeted: %v", o.DisplayIDs)
		}
	}
	b.Screenshot("emergency-delivery", "vi")

	// Cancel: the API says cancelled and the screen returns to its program.
	b.Do("cancel", chromedp.Click(chromedp.CSS(`#delivery-cancel`)))
	b.WaitJS("no active override", `!!document.querySelector('#active .empty')`)
	var got overrideJSON
	env.Do("GET", "/api/v1/overrides/"+o.ID, nil, &got)
	if got.Status != "cancelled" {
		t.Fatalf("after cancel: %s", got.Status)
	}
	waitTab(t, screen, "the override off the screen", `document.getElementById('override').hidden && !document.body.dataset.override`)

	// Kill switch: every screen blank, then cancelled.
	b.Do("kill switch", chromedp.Click(chromedp.CSS(`#kill-blank`)))
	b.WaitJS("the blank override listed", `!!document.querySelector('#active [data-override]')`)
	waitTab(t, screen, "the screen blank", `(() => { const o = document.getElementById('override'); return !o.hidden && o.dataset.presentation === 'blank'; })()`)
	list.Overrides = nil
	env.Do("GET", "/api/v1/overrides?active=true", nil, &list)
	if len(list.Overrides) != 1 || list.Overrides[0].Presentation != "blank" || list.Overrides[0].Targets["all"] != true || len(list.Overrides[0].DisplayIDs) != 3 {
		t.Fatalf("kill switch override: %+v", list.Overrides)
	}
	b.Do("cancel the kill switch", chromedp.Click(chromedp.CSS(`#active [data-cancel]`)))
	b.WaitJS("no active override", `!!document.querySelector('#active .empty')`)
	waitTab(t, screen, "the screen back", `document.getElementById('override').hidden`)

	// English: the same page, translated and accessible.
	b.SetLanguage("en")
	b.Open("#/emergency")
	b.CheckCatalogue("emergency (en)")
	b.Axe()
	b.Screenshot("emergency-delivery", "en")

	// On a phone: the same page, reachable and accessible.
	ph := env.Browser(consoletest.Phone)
	ph.SignIn(consoletest.Authority, "vi")
	ph.Open("#/emergency")
	ph.Axe()
	ph.Screenshot("emergency-phone", "vi")
}
