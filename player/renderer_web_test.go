package player_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"beacon/player"
	"beacon/player/internal/fakeserver"
	"beacon/player/playertest"
	"beacon/playlists"
)

// TestRendererWebSandboxChromium: a web item's page runs in a frame
// sandboxed without allow-same-origin, even when it is served from the
// player's own origin (a cached HTML file): it can neither reach the
// renderer page nor open the renderer socket. An item with same_origin
// keeps its origin (the control that shows the probe works).
func TestRendererWebSandboxChromium(t *testing.T) {
	if testing.Short() {
		t.Skip("short mode")
	}
	ctx := browser(t, 640, 360)
	reports := make(chan string, 16)
	probe := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case reports <- r.URL.RawQuery:
		default:
		}
		w.WriteHeader(204)
	}))
	defer probe.Close()
	page := []byte(fmt.Sprintf(`<!doctype html><html><body style="background:#123456"><script>
var parentAccess = 'blocked';
try { parent.document.body.dataset.reached = 'yes'; parentAccess = 'reached'; } catch (e) {}
function report(ws) { new Image().src = '%s/probe?parent=' + parentAccess + '&ws=' + ws; }
try {
  var s = new WebSocket('ws://' + location.host + '/renderer/ws');
  s.onopen = function () { report('open'); s.close(); };
  s.onerror = function () { report('refused'); };
} catch (e) { report('throw'); }
</script></body></html>`, probe.URL))

	srv := fakeserver.New()
	defer srv.Close()
	f := srv.AddFile(page, "text/html; charset=utf-8")
	prog := func(sameOrigin bool) *playlists.Program {
		return &playlists.Program{
			Display:  playlists.Display{ID: testDisplay, Width: 640, Height: 360},
			Timezone: "Asia/Ho_Chi_Minh",
			Items: []playlists.Item{{ID: fmt.Sprintf("web-%v", sameOrigin), Kind: playlists.KindWeb, DurationS: 600, DefaultLang: "vi",
				SameOrigin: sameOrigin, Variants: map[string]playlists.Variant{"vi": {SHA256: f.SHA256, ContentType: "text/html"}}}},
			Playlists: []playlists.Playlist{{ID: "pl", Entries: []playlists.Entry{{ItemID: fmt.Sprintf("web-%v", sameOrigin)}}}},
			Default:   &playlists.Content{PlaylistID: "pl"},
		}
	}
	clk := playertest.NewClock(time.Date(2026, 3, 2, 9, 0, 0, 0, hcm))
	p := startPlayerWith(t, srv.URL, t.TempDir(), clk.Tune)
	pair(t, srv, p)
	if _, err := srv.SendManifest(programManifest(t, 1, prog(false), f)); err != nil {
		t.Fatal(err)
	}
	waitStatus(t, p, "web item", func(s player.Status) bool { return len(s.Zones) == 1 && s.Zones[0].ItemID == "web-false" })
	if err := chromedp.Do(ctx, chromedp.Navigate("http://"+p.Addr()+"/")); err != nil {
		t.Fatal(err)
	}
	waitJS(t, ctx, "web item shown", `document.body.getAttribute('data-zone-main-shown') === '`+f.SHA256+`'`)
	sandbox, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.querySelector('.zone[data-zone="main"] iframe').getAttribute('sandbox')`))
	if err != nil || sandbox != "allow-scripts" {
		t.Errorf("iframe sandbox %q (%v), want allow-scripts", sandbox, err)
	}
	wait := func(what string) string {
		t.Helper()
		select {
		case r := <-reports:
			return r
		case <-time.After(20 * time.Second):
			t.Fatalf("the web page never reported (%s)", what)
			return ""
		}
	}
	if r := wait("sandboxed"); r != "parent=blocked&ws=refused" {
		t.Errorf("sandboxed web page: %s, want parent=blocked&ws=refused", r)
	}
	if reached, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body.dataset.reached || ''`)); reached != "" {
		t.Errorf("a sandboxed web page changed the renderer page")
	}

	// The item that asks for its origin gets it.
	if _, err := srv.SendManifest(programManifest(t, 2, prog(true), f)); err != nil {
		t.Fatal(err)
	}
	waitJS(t, ctx, "same-origin web item", `document.body.dataset.item === 'web-true'`)
	if r := wait("same origin"); r != "parent=reached&ws=open" {
		t.Errorf("same-origin web page: %s, want parent=reached&ws=open", r)
	}
}
