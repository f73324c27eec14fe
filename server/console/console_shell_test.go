package console_test

import (
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"beacon/server/console/consoletest"
	"beacon/server/servertest"
)

// TestConsoleShell signs in through the form, walks every page of the
// router in Vietnamese and English (no missing or untranslated message,
// no axe-core violation of impact serious or critical, in the light and
// dark themes), and signs out. (Each page's own test takes its
// screenshots, with data on the page.)
func TestConsoleShell(t *testing.T) {
	env := consoletest.Start(t, servertest.Options{})
	b := env.Browser(consoletest.Desktop)

	// Signed out, every address leads to the sign-in page.
	b.Do("open", chromedp.Navigate(b.URL()+"#/displays"))
	b.WaitJS("sign-in page", `document.querySelector('main') && document.querySelector('main').dataset.ready === 'signin'`)
	b.CheckCatalogue("sign-in (vi)")
	b.Axe()
	b.Screenshot("signin", "vi")

	// A wrong password shows a Vietnamese message beside the password.
	b.Do("wrong password",
		chromedp.SendKeys(chromedp.CSS(`input[name="username"]`), consoletest.Admin),
		chromedp.SendKeys(chromedp.CSS(`input[name="password"]`), "not the password"),
		chromedp.Click(chromedp.CSS(`button[type="submit"]`)))
	b.WaitJS("the error beside the password", `(() => { const p = document.querySelector('input[name="password"]');
		const e = p && p.closest('.field').querySelector('.field-error'); return !!e && p.getAttribute('aria-invalid') === 'true' && /Sai tên đăng nhập/.test(e.textContent); })()`)
	b.Axe()

	b.SignIn(consoletest.Admin, "vi")
	// What the browser fetched of the console to get here, compressed as
	// it arrived (the API's JSON answers are not counted).
	loaded := consoletest.Eval[string](b, `(() => {
		const nav = performance.getEntriesByType('navigation')[0];
		const res = performance.getEntriesByType('resource').filter(r => new URL(r.name).pathname.startsWith('/console/'));
		const body = [nav, ...res].reduce((s, r) => s + r.encodedBodySize, 0);
		const raw = [nav, ...res].reduce((s, r) => s + r.decodedBodySize, 0);
		return (res.length + 1) + ' files, ' + body + ' bytes compressed (' + raw + ' uncompressed)';
	})()`)
	t.Logf("console loaded by the browser (sign-in page, then the page asked for): %s", loaded)
	pages := b.Pages()
	if len(pages) < 1 {
		t.Fatalf("router pages: %v", pages)
	}
	for _, lang := range []string{"vi", "en"} {
		b.SetLanguage(lang)
		if got := consoletest.Eval[string](b, `document.querySelector('#nav a[data-route="home"]').textContent`); (lang == "vi") != (got == "Tổng quan") {
			t.Errorf("%s: navigation says %q", lang, got)
		}
		for _, p := range pages {
			b.Open("#/" + p)
			b.CheckCatalogue(p + " (" + lang + ")")
			b.Theme("light")
			b.Axe()
			b.Theme("dark")
			b.Axe()
		}
		// Every navigation link leads somewhere that names itself.
		b.Theme("auto")
		for _, route := range []string{"library", "playlists", "layouts", "schedules", "displays", "clusters", "emergency", "people"} {
			b.Open("#/" + route)
			b.CheckCatalogue(route + " (" + lang + ")")
			if title := consoletest.Eval[string](b, `document.querySelector('h1').textContent`); title == "" {
				t.Errorf("%s: page %s has no heading", lang, route)
			}
		}
	}

	// The keyboard's first stop is the skip link, which moves the focus
	// to the main region.
	b.Open("#/home")
	consoletest.Eval[bool](b, `(document.activeElement && document.activeElement.blur(), true)`)
	b.Do("tab", chromedp.KeyEvent(kb.Tab))
	if cls := consoletest.Eval[string](b, `document.activeElement.className`); cls != "skip" {
		t.Errorf("first Tab reached %q, not the skip link", cls)
	}
	b.Do("enter", chromedp.KeyEvent(kb.Enter))
	if id := consoletest.Eval[string](b, `document.activeElement.id`); id != "main" {
		t.Errorf("skip link focused %q", id)
	}
	// The session ends elsewhere (an admin revokes it): the next request
	// leads to the sign-in page, which says why, and signing in again
	// returns to the page.
	b.Open("#/clusters")
	var toks struct {
		Tokens []struct{ ID, Kind string } `json:"tokens"`
	}
	env.Do("GET", "/api/v1/tokens", nil, &toks)
	for _, tk := range toks.Tokens {
		if tk.Kind == "session" {
			env.Do("DELETE", "/api/v1/tokens/"+tk.ID, nil, nil)
		}
	}
	consoletest.Eval[bool](b, `(location.hash = '#/displays', true)`)
	b.WaitJS("the sign-in page after the session ended", `document.querySelector('main').dataset.ready === 'signin' && !!document.querySelector('#signin-notice')`)
	if txt := consoletest.Eval[string](b, `document.querySelector('#signin-notice').textContent`); !strings.Contains(txt, "session has expired") {
		t.Errorf("sign-in notice %q", txt)
	}
	b.SignIn(consoletest.Admin, "en")
	if hash := consoletest.Eval[string](b, `location.hash`); hash != "#/displays" {
		t.Errorf("after signing in again: %s, want #/displays", hash)
	}

	// Sign out: back to the sign-in page, and the session is over.
	b.Do("sign out", chromedp.Click(chromedp.CSS(`#signout`)))
	b.WaitJS("sign-in after sign-out", `document.querySelector('main') && document.querySelector('main').dataset.ready === 'signin'`)
	if status, _ := b.API("GET", "/displays", nil); status != 401 {
		t.Errorf("after sign-out the browser still reads the API: %d", status)
	}
	b.CheckCatalogue("sign-in (en)")
	b.Axe()
	b.Screenshot("signin", "en")
}

// TestConsolePhone: on a phone-sized screen the navigation folds behind a
// menu button that opens it, and the pages pass axe there too.
func TestConsolePhone(t *testing.T) {
	env := consoletest.Start(t, servertest.Options{})
	b := env.Browser(consoletest.Phone)
	b.SignIn(consoletest.Editor, "vi")
	if consoletest.Eval[bool](b, `getComputedStyle(document.getElementById('nav')).display !== 'none'`) {
		t.Error("phone: navigation open before the menu button is pressed")
	}
	b.Do("menu", chromedp.Click(chromedp.CSS(`.nav-toggle`)))
	if !consoletest.Eval[bool](b, `getComputedStyle(document.getElementById('nav')).display !== 'none' && document.querySelector('.nav-toggle').getAttribute('aria-expanded') === 'true'`) {
		t.Error("phone: the menu button does not open the navigation")
	}
	if w := consoletest.Eval[int](b, `document.documentElement.scrollWidth`); w > consoletest.Phone[0] {
		t.Errorf("phone: the page is %d px wide on a %d px screen", w, consoletest.Phone[0])
	}
	b.Axe()
	b.Screenshot("home-phone", "vi")
	// The catalogue check can fail: a key nobody translated is caught,
	// and so is a bare key left in the page's text.
	consoletest.Eval[bool](b, `import('/console/lib/i18n.js').then((m) => { document.querySelector('main').append(m.t('home.noSuchKey')); return true; })`)
	if m := b.Misses(); len(m) != 2 || m[0] != "home.noSuchKey" || m[1] != "home.noSuchKey" {
		t.Errorf("misses after asking for a missing key: %v", m)
	}
	// An editor is not shown the people page.
	if consoletest.Eval[bool](b, `!!document.querySelector('#nav a[data-route="people"]')`) {
		t.Error("an editor sees the people page in the navigation")
	}
}
