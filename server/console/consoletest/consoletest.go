// Package consoletest runs the web console in a real browser for tests: a
// real server (SQLite on disk, 127.0.0.1), an organisation with people,
// and headless Chromium driven by chromedp. It offers the checks every
// page's test makes: axe-core accessibility (Axe), the message catalogue
// (Misses), and screenshots for `make screenshots` (Screenshot).
package consoletest

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"beacon/server/servertest"
	"beacon/server/store"
)

// Password is every test person's password.
const Password = "console test password"

// People made by Start, one per role, in the server's first organisation.
const (
	Admin     = "admin"
	Editor    = "editor"
	Viewer    = "viewer"
	Authority = "authority"
)

// Env is a running server with its people.
type Env struct {
	*servertest.Server
	t testing.TB
}

// Start runs a server for a console test, with one person of each role
// (user names Admin, Editor, Viewer, Authority; password Password).
func Start(t testing.TB, opt servertest.Options) *Env {
	t.Helper()
	if testing.Short() {
		t.Skip("browser test (short mode)")
	}
	ChromiumPath(t)
	s := servertest.Start(t, opt)
	for _, r := range []string{store.RoleAdmin, store.RoleEditor, store.RoleViewer, store.RoleAuthority} {
		s.NewUser(s.OrgID, r, r, Password)
	}
	return &Env{Server: s, t: t}
}

// ChromiumPath finds Chromium (BEACON_CHROMIUM, /usr/bin/chromium); the
// test is skipped without one.
func ChromiumPath(t testing.TB) string {
	t.Helper()
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
	t.Skip("chromium not found (set BEACON_CHROMIUM)")
	return ""
}

// Browser is one headless Chromium tab on the console.
type Browser struct {
	Ctx  context.Context
	env  *Env
	t    testing.TB
	mu   sync.Mutex
	errs []string // uncaught exceptions, CSP violations, console errors
}

// Desktop and Phone are viewport sizes.
var (
	Desktop = [2]int{1280, 860}
	Phone   = [2]int{390, 844}
)

// Browser opens a fresh Chromium (its own profile) at the given viewport.
// At the end of the test it fails the test on any uncaught exception,
// console error or content-policy violation the pages caused.
func (e *Env) Browser(size [2]int) *Browser {
	t := e.t
	t.Helper()
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(ChromiumPath(t)),
		chromedp.Flag("headless", true),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.UserDataDir(t.TempDir()),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-default-apps", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.Flag("hide-scrollbars", true),
		chromedp.Flag("force-device-scale-factor", "1"),
		chromedp.Flag("force-color-profile", "srgb"),
		chromedp.Flag("lang", "vi-VN"),
		chromedp.WindowSize(size[0], size[1]),
	}
	actx, cancelA := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancelA)
	cctx, cancelC := chromedp.NewContext(actx)
	t.Cleanup(cancelC)
	ctx, cancelT := context.WithTimeout(cctx, 10*time.Minute)
	t.Cleanup(cancelT)
	b := &Browser{Ctx: ctx, env: e, t: t}
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(int64(size[0]), int64(size[1]))); err != nil {
		t.Fatalf("chromium: %v", err)
	}
	msgs := chromedp.Console(ctx)
	go func() {
		for m, err := range msgs {
			if err != nil {
				return
			}
			if m.Type == chromedp.ConsoleException || m.Type == chromedp.ConsoleError {
				b.mu.Lock()
				b.errs = append(b.errs, string(m.Type)+": "+m.Text+" "+m.URL)
				b.mu.Unlock()
			}
		}
	}()
	t.Cleanup(func() {
		b.mu.Lock()
		defer b.mu.Unlock()
		for _, e := range b.errs {
			if expectedConsoleError(e) {
				continue
			}
			t.Errorf("browser: %s", e)
		}
	})
	return b
}

// expectedConsoleError: the browser logs every HTTP error a fetch gets
// (the console shows API refusals to the person, which tests provoke).
func expectedConsoleError(e string) bool {
	return strings.Contains(e, "Failed to load resource: the server responded with a status of")
}

// Errors are the exceptions and console errors so far.
func (b *Browser) Errors() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.errs...)
}

// Do runs chromedp actions, failing the test on an error.
func (b *Browser) Do(what string, steps ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	if err := chromedp.Do(b.Ctx, steps...); err != nil {
		b.t.Fatalf("%s: %v\npage: %s", what, err, b.describe())
	}
}

// Eval evaluates a JavaScript expression (promises awaited).
func Eval[T any](b *Browser, expr string) T {
	b.t.Helper()
	v, err := chromedp.Run(b.Ctx, chromedp.Evaluate[T](expr, chromedp.EvalAwaitPromise))
	if err != nil {
		b.t.Fatalf("evaluate %s: %v\npage: %s", expr, err, b.describe())
	}
	return v
}

// WaitJS polls a JavaScript condition until it holds (within a generous
// deadline: the machine may be loaded).
func (b *Browser) WaitJS(what, expr string) {
	b.t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		ok, err := chromedp.Run(b.Ctx, chromedp.Evaluate[bool](expr))
		if err == nil && ok {
			return
		}
		if time.Now().After(deadline) {
			b.t.Fatalf("waiting for %s (%v)\npage: %s", what, err, b.describe())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (b *Browser) describe() string {
	s, err := chromedp.Run(b.Ctx, chromedp.Evaluate[string](`location.hash + ' | ' + (document.querySelector('main') ? document.querySelector('main').innerText.slice(0, 600) : document.body.innerText.slice(0, 600))`))
	if err != nil {
		return "(unreadable: " + err.Error() + ")"
	}
	return s
}

// URL is the console's address.
func (b *Browser) URL() string { return b.env.URL + "/" }

// SignIn opens the console, signs in through the sign-in form and waits
// for the first page (the overview, or the page asked for before). lang ("vi" or "en") is chosen before.
func (b *Browser) SignIn(user, lang string) {
	b.t.Helper()
	b.Do("open the console", chromedp.Navigate(b.URL()+"#/signin"))
	b.WaitJS("the sign-in page", `!!document.querySelector('main[data-ready]')`)
	if Eval[string](b, `document.documentElement.lang`) != lang {
		b.SetLanguage(lang)
		b.WaitJS("the sign-in page", `!!document.querySelector('main[data-ready="signin"]')`)
	}
	Eval[bool](b, `(document.querySelectorAll('form input').forEach(i => { i.value = ''; }), true)`)
	b.Do("sign in",
		chromedp.SendKeys(chromedp.CSS(`form input[name="username"]`), user),
		chromedp.SendKeys(chromedp.CSS(`form input[name="password"]`), Password),
		chromedp.Click(chromedp.CSS(`form button[type="submit"]`)),
	)
	b.WaitJS("the first page after sign-in", `!!document.querySelector('main[data-ready]:not([data-ready="signin"])')`)
}

// SetLanguage switches the console's language and reloads the page.
func (b *Browser) SetLanguage(lang string) {
	b.t.Helper()
	Eval[bool](b, fmt.Sprintf(`(localStorage.setItem('beacon.lang', %q), true)`, lang))
	b.Do("reload", chromedp.Reload())
	b.WaitJS("the console in "+lang, fmt.Sprintf(`document.documentElement.lang === %q && !!document.querySelector('main[data-ready]')`, lang))
}

// Open goes to a page (#/route or #/route/id) and waits until it is ready.
func (b *Browser) Open(hash string) {
	b.t.Helper()
	// The route is the first path segment, without a query ("#/schedules?display=…").
	route := strings.SplitN(strings.SplitN(strings.TrimPrefix(hash, "#/"), "?", 2)[0], "/", 2)[0]
	Eval[bool](b, fmt.Sprintf(`(location.hash = %q, true)`, hash))
	b.WaitJS("page "+hash, fmt.Sprintf(`location.hash === %q && document.querySelector('main') && document.querySelector('main').dataset.ready === %q`, hash, route))
}

// Pages are the routes of the console's router (web/app.js), except
// sign-in.
func (b *Browser) Pages() []string {
	b.t.Helper()
	var out []string
	raw := Eval[string](b, `JSON.stringify([...window.beaconConsole.pages.keys()].filter(r => r !== 'signin'))`)
	if err := json.Unmarshal([]byte(raw), &out); err != nil {
		b.t.Fatal(err)
	}
	return out
}

// Misses are the message keys the pages asked for and the catalogue of
// the current language lacks, plus visible texts that look like keys.
func (b *Browser) Misses() []string {
	b.t.Helper()
	raw := Eval[string](b, `JSON.stringify(window.__beaconI18nMisses())`)
	var out []string
	_ = json.Unmarshal([]byte(raw), &out)
	// A text node that is a bare key ("displays.name") was never
	// translated, whatever path it took to the page.
	raw = Eval[string](b, `(() => {
		const out = [], w = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
		const attrs = ['aria-label', 'title', 'placeholder', 'alt'];
		while (w.nextNode()) { const s = w.currentNode.nodeValue.trim(); if (/^[a-z]+\.[a-zA-Z0-9_.]+$/.test(s)) out.push(s); }
		for (const el of document.querySelectorAll('*')) for (const a of attrs) { const s = (el.getAttribute(a) || '').trim(); if (/^[a-z]+\.[a-zA-Z0-9_.]+$/.test(s)) out.push(a + '=' + s); }
		return JSON.stringify(out);
	})()`)
	var keys []string
	_ = json.Unmarshal([]byte(raw), &keys)
	return append(out, keys...)
}

// CheckCatalogue fails the test if the page asked for missing keys.
func (b *Browser) CheckCatalogue(where string) {
	b.t.Helper()
	if m := b.Misses(); len(m) > 0 {
		b.t.Errorf("%s: untranslated or missing messages: %v", where, m)
	}
}

// AxePath is axe-core's script, installed by npm (package.json at the
// repository's root; `make deps-test` runs npm ci).
func AxePath(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			p := filepath.Join(dir, "node_modules", "axe-core", "axe.min.js")
			if _, err := os.Stat(p); err != nil {
				t.Fatalf("axe-core is not installed (%v): run `npm ci` at the repository's root (make deps-test does)", err)
			}
			return p
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("consoletest: no go.mod above the test's directory")
		}
		dir = parent
	}
}

var (
	axeOnce sync.Once
	axeSrc  string
	axeErr  error
)

// AxeViolation is one rule axe-core found broken.
type AxeViolation struct {
	ID     string `json:"id"`
	Impact string `json:"impact"`
	Help   string `json:"help"`
	Nodes  []struct {
		Target []any  `json:"target"`
		HTML   string `json:"html"`
		Fail   string `json:"failureSummary"`
	} `json:"nodes"`
}

// Axe runs axe-core on the page in ctx (WCAG 2 A and AA rules) and fails
// the test on any violation of impact serious or critical.
func Axe(t testing.TB, ctx context.Context) []AxeViolation {
	t.Helper()
	axeOnce.Do(func() {
		b, err := os.ReadFile(AxePath(t))
		axeSrc, axeErr = string(b), err
	})
	if axeErr != nil {
		t.Fatal(axeErr)
	}
	loaded, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`typeof window.axe === 'object'`))
	if err != nil {
		t.Fatal(err)
	}
	if !loaded {
		if _, err := chromedp.Run(ctx, chromedp.Evaluate[*struct{}](axeSrc+"\n;null")); err != nil {
			t.Fatalf("load axe-core: %v", err)
		}
	}
	raw, err := chromedp.Run(ctx, chromedp.Evaluate[string](`axe.run(document, {
		runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice'] },
		resultTypes: ['violations'],
	}).then(r => JSON.stringify(r.violations))`, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatalf("axe run: %v", err)
	}
	var vs []AxeViolation
	if err := json.Unmarshal([]byte(raw), &vs); err != nil {
		t.Fatal(err)
	}
	where, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`location.hash + ' (' + document.documentElement.lang + ', theme ' + document.documentElement.dataset.theme + ')'`))
	for _, v := range vs {
		if v.Impact != "serious" && v.Impact != "critical" {
			continue
		}
		var nodes []string
		for i, n := range v.Nodes {
			if i == 3 {
				nodes = append(nodes, fmt.Sprintf("… %d more", len(v.Nodes)-3))
				break
			}
			nodes = append(nodes, fmt.Sprintf("%v %s (%s)", n.Target, n.HTML, n.Fail))
		}
		t.Errorf("axe %s: %s [%s]: %s\n  %s", where, v.ID, v.Impact, v.Help, strings.Join(nodes, "\n  "))
	}
	return vs
}

// Axe runs axe-core on the browser's page.
func (b *Browser) Axe() { b.t.Helper(); Axe(b.t, b.Ctx) }

// ScreenshotDir is where `make screenshots` wants the pictures
// (BEACON_SCREENSHOTS); empty: screenshots are not written.
func ScreenshotDir() string { return os.Getenv("BEACON_SCREENSHOTS") }

// Screenshot saves the page as <dir>/<lang>/<name>.png when screenshots
// are asked for (make screenshots); otherwise it does nothing.
func (b *Browser) Screenshot(name, lang string) {
	b.t.Helper()
	dir := ScreenshotDir()
	if dir == "" {
		return
	}
	// From the top of the page, without passing notices; let fonts and
	// the last layout settle (no timing is asserted).
	Eval[bool](b, `(window.scrollTo(0, 0), document.getElementById('toasts')?.replaceChildren(), true)`)
	b.Do("settle", chromedp.Sleep(200*time.Millisecond))
	png, err := chromedp.Run(b.Ctx, chromedp.CaptureScreenshot())
	if err != nil {
		b.t.Fatalf("screenshot %s: %v", name, err)
	}
	if err := os.MkdirAll(filepath.Join(dir, lang), 0o755); err != nil {
		b.t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, lang, name+".png"), png, 0o644); err != nil {
		b.t.Fatal(err)
	}
}

// Theme sets the console's theme (auto, light or dark) without a reload.
func (b *Browser) Theme(theme string) {
	b.t.Helper()
	Eval[bool](b, fmt.Sprintf(`(document.documentElement.dataset.theme = %q, localStorage.setItem('beacon.theme', %q), true)`, theme, theme))
}

// API is a request through the signed-in browser's own session (cookie
// and CSRF token), as the console makes it; it returns the status and the
// decoded JSON.
func (b *Browser) API(method, path string, body any) (int, map[string]any) {
	b.t.Helper()
	raw, _ := json.Marshal(body)
	if body == nil {
		raw = []byte("null")
	}
	res := Eval[string](b, fmt.Sprintf(`(async () => {
		const api = await import('/console/lib/api.js');
		try { const v = await api.api(%q, %q, %s ?? undefined); return JSON.stringify({status: 200, body: v}); }
		catch (e) { return JSON.stringify({status: e.status || 0, body: {error: {code: e.code, message: e.message, field: e.field}}}); }
	})()`, method, path, raw))
	var out struct {
		Status int            `json:"status"`
		Body   map[string]any `json:"body"`
	}
	if err := json.Unmarshal([]byte(res), &out); err != nil {
		b.t.Fatal(err)
	}
	return out.Status, out.Body
}
