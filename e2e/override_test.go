package e2e_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"beacon/player"
	"beacon/protocol"
	"beacon/server/servertest"
)

// Emergency overrides end to end: a real server (servertest), a real
// player and its renderer in headless Chromium, driven through the API as
// an authority would.

// critRed is the renderer's background of a critical override.
var critRed = color.RGBA{0xc6, 0x28, 0x28, 255}

// The smallest useful trigger of the issue, in Vietnamese and English.
const (
	ovrVI = "KHẨN CẤP: Lũ lụt. Hãy di chuyển lên chỗ cao ngay."
	ovrEN = "EMERGENCY: Flooding. Move to higher ground now."
)

func smallestTrigger(expiresS float64) map[string]any {
	return map[string]any{"level": "critical", "presentation": "fullscreen",
		"text": map[string]string{"vi": ovrVI, "en": ovrEN}, "targets": map[string]any{"all": true}, "expires_in_s": expiresS}
}

type ovrView struct {
	ID        string    `json:"id"`
	Status    string    `json:"status"`
	ExpiresAt time.Time `json:"expires_at"`
}

type deliveryRow struct {
	DisplayID string     `json:"display_id"`
	State     string     `json:"state"`
	SentAt    *time.Time `json:"sent_at"`
	PaintedAt *time.Time `json:"painted_at"`
	LatencyMS *int64     `json:"latency_ms"`
	Error     string     `json:"error"`
}

func deliveries(t *testing.T, srv *servertest.Server, id string) []deliveryRow {
	t.Helper()
	var out struct {
		Deliveries []deliveryRow `json:"deliveries"`
	}
	if code := srv.Do("GET", "/api/v1/overrides/"+id+"/deliveries", nil, &out); code != 200 {
		t.Fatalf("deliveries of %s: %d", id, code)
	}
	return out.Deliveries
}

// waitDelivery polls until the display's delivery is in state.
func waitDelivery(t *testing.T, srv *servertest.Server, id, displayID, state string) deliveryRow {
	t.Helper()
	var last []deliveryRow
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		last = deliveries(t, srv, id)
		for _, d := range last {
			if d.DisplayID == displayID && d.State == state {
				return d
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("delivery of %s to %s never reached %q: %+v", id, displayID, state, last)
	return deliveryRow{}
}

func trigger(t *testing.T, srv *servertest.Server, body map[string]any) ovrView {
	t.Helper()
	var o ovrView
	var raw map[string]any
	code := srv.Do("POST", "/api/v1/overrides", body, &raw)
	if code != 201 {
		t.Fatalf("trigger: %d %v", code, raw)
	}
	o.ID, _ = raw["id"].(string)
	o.Status, _ = raw["status"].(string)
	if o.ID == "" {
		t.Fatalf("trigger answered without an id: %v", raw)
	}
	return o
}

// page is a headless Chromium tab on a player's renderer.
type page struct {
	t    *testing.T
	ctx  context.Context
	w, h int
}

func openRenderer(t *testing.T, playerAddr string, w, h int) *page {
	t.Helper()
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromium(t)),
		chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun, chromedp.NoDefaultBrowserCheck,
		chromedp.UserDataDir(t.TempDir()),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("hide-scrollbars", true),
		chromedp.Flag("force-device-scale-factor", "1"),
		chromedp.Flag("force-color-profile", "srgb"),
		chromedp.Flag("mute-audio", true),
		chromedp.Flag("autoplay-policy", "no-user-gesture-required"),
		chromedp.WindowSize(w, h),
	}
	actx, cancelA := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancelA)
	cctx, cancelC := chromedp.NewContext(actx)
	t.Cleanup(cancelC)
	ctx, cancelT := context.WithTimeout(cctx, 3*time.Minute)
	t.Cleanup(cancelT)
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(int64(w), int64(h)), chromedp.Navigate("http://"+playerAddr+"/")); err != nil {
		t.Fatalf("chromium: %v", err)
	}
	return &page{t: t, ctx: ctx, w: w, h: h}
}

// describe is what the renderer shows, for failure messages.
func (p *page) describe() string {
	s, err := chromedp.Run(p.ctx, chromedp.Evaluate[string](`(() => {
		const b = document.body, o = document.getElementById('override');
		return 'state=' + b.dataset.state + ' shown=' + (b.dataset.shown || '') + ' body.override=' + (b.dataset.override || '') +
			' override.hidden=' + o.hidden + ' override.class=' + o.className + ' override.text=' + JSON.stringify(o.innerText.slice(0, 300)) +
			' stage.visibility=' + getComputedStyle(document.getElementById('stage')).visibility;
	})()`))
	if err != nil {
		return "page unreadable: " + err.Error()
	}
	return s
}

// wait polls a JavaScript condition in the page until it holds.
func (p *page) wait(what, expr string) {
	p.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		ok, err := chromedp.Run(p.ctx, chromedp.Evaluate[bool](expr))
		if err == nil && ok {
			return
		}
		if time.Now().After(deadline) {
			p.t.Fatalf("renderer: waiting for %s (%v); it shows: %s", what, err, p.describe())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// shot captures the screen after the latest change reached the compositor;
// with BEACON_SHOT_DIR set it is saved there too.
func (p *page) shot(name string) image.Image {
	p.t.Helper()
	if err := chromedp.Do(p.ctx, chromedp.Sleep(300*time.Millisecond)); err != nil {
		p.t.Fatal(err)
	}
	raw, err := chromedp.Run(p.ctx, chromedp.CaptureScreenshot())
	if err != nil {
		p.t.Fatalf("screenshot: %v", err)
	}
	if dir := os.Getenv("BEACON_SHOT_DIR"); dir != "" {
		_ = os.WriteFile(filepath.Join(dir, name+".png"), raw, 0o644)
	}
	img, err := png.Decode(bytes.NewReader(raw))
	if err != nil {
		p.t.Fatal(err)
	}
	return img
}

func nearRGB(c color.Color, want color.RGBA, tol int) bool {
	r, g, b, _ := c.RGBA()
	d := func(a uint32, b uint8) bool {
		x := int(a>>8) - int(b)
		return x >= -tol && x <= tol
	}
	return d(r, want.R) && d(g, want.G) && d(b, want.B)
}

// share is the fraction of the image's pixels near want.
func share(img image.Image, want color.RGBA) float64 {
	b := img.Bounds()
	n := 0
	for y := b.Min.Y; y < b.Max.Y; y += 2 {
		for x := b.Min.X; x < b.Max.X; x += 2 {
			if nearRGB(img.At(x, y), want, 12) {
				n++
			}
		}
	}
	return float64(n) / float64(((b.Dx()+1)/2)*((b.Dy()+1)/2))
}

// checkCritical: the layer shows the override's texts in both languages
// (in the display's order of languages; without one, the deployment's),
// covers the program, and the screen is the critical red at its corners
// and over most of its area.
func (p *page) checkCritical(id, name string) {
	p.t.Helper()
	p.wait("critical fullscreen override "+id, `(() => { const o = document.getElementById('override');
		return !o.hidden && o.dataset.id === '`+id+`' && o.dataset.level === 'critical' && o.dataset.presentation === 'fullscreen' &&
			(o.dataset.lang || '').split(',').sort().join(',') === 'en,vi' && o.innerText.includes('`+ovrVI+`') && o.innerText.includes('`+ovrEN+`') &&
			getComputedStyle(document.getElementById('stage')).visibility === 'hidden'; })()`)
	img := p.shot(name)
	for _, pt := range []image.Point{{1, 1}, {p.w - 2, 1}, {1, p.h - 2}, {p.w - 2, p.h - 2}} {
		if c := img.At(pt.X, pt.Y); !nearRGB(c, critRed, 12) {
			p.t.Errorf("%s: pixel %v is %v, want the critical red %v; renderer: %s", name, pt, c, critRed, p.describe())
		}
	}
	if s := share(img, critRed); s < 0.4 {
		p.t.Errorf("%s: only %.0f%% of the screen is the critical red; renderer: %s", name, 100*s, p.describe())
	}
}

// regularScreen is a paired player with one image scheduled, playing.
type regularScreen struct {
	srv       *servertest.Server
	p         *runningPlayer
	dir       string
	displayID string
	sha       string // the rendition on screen
	want      image.Image
	version   int64
}

// claimDisplay pairs a new player with the server at panel size.
func claimDisplay(t *testing.T, srv *servertest.Server, serverURL string) (*runningPlayer, string, string) {
	t.Helper()
	dir := t.TempDir()
	p := startPlayer(t, dir, serverURL)
	st := p.wait(t, "pairing code", func(s player.Status) bool { return s.PairingCode != "" })
	var disp struct{ ID string }
	if code := srv.Do("POST", "/api/v1/displays/claim", map[string]any{"code": st.PairingCode, "name": "Riverside wall", "width": panelW, "height": panelH}, &disp); code != 201 {
		t.Fatalf("claim: %d", code)
	}
	p.wait(t, "paired", func(s player.Status) bool { return s.Paired && s.DisplayID == disp.ID })
	return p, dir, disp.ID
}

// scheduleImage schedules one photo on the display and waits until the
// player plays it from its cache.
func scheduleImage(t *testing.T, rs *regularScreen) {
	t.Helper()
	var m servertest.Media
	if code := rs.srv.Upload("river.jpg", photo(t, 1600, 900), &m); code != 201 {
		t.Fatalf("upload: %d", code)
	}
	var pl struct{ ID string }
	if code := rs.srv.Do("POST", "/api/v1/playlists", map[string]any{"name": "Regular", "items": []map[string]any{{"media_id": m.ID, "duration_s": 600}}}, &pl); code != 201 {
		t.Fatalf("playlist: %d", code)
	}
	if code := rs.srv.Do("POST", "/api/v1/schedules", map[string]any{"display_id": rs.displayID, "playlist_id": pl.ID}, nil); code != 201 {
		t.Fatalf("schedule: %d", code)
	}
	servertest.Eventually(t, 30*time.Second, "rendition at panel size", func() bool {
		var got servertest.Media
		rs.srv.Do("GET", "/api/v1/media/"+m.ID, nil, &got)
		for _, r := range got.Renditions {
			if r.Width == panelW && r.Height == panelH {
				rs.sha = r.SHA256
				return true
			}
		}
		return false
	})
	st := rs.p.wait(t, "regular content cached", func(s player.Status) bool {
		return s.Cache.Files == 1 && s.Cache.Missing == 0 && s.ManifestVersion > 0
	})
	rs.version = st.ManifestVersion
	rs.want = rs.cachedImage(t)
}

// startRegular: server, player, display in a round-the-clock cluster, one
// image playing.
func startRegular(t *testing.T) *regularScreen {
	t.Helper()
	return startRegularWith(t, servertest.Options{})
}

// startRegularWith is startRegular with the server's options.
func startRegularWith(t *testing.T, opt servertest.Options) *regularScreen {
	t.Helper()
	srv := servertest.Start(t, opt)
	p, dir, id := claimDisplay(t, srv, srv.URL)
	allDay(t, srv, id)
	rs := &regularScreen{srv: srv, p: p, dir: dir, displayID: id}
	scheduleImage(t, rs)
	rs.p.wait(t, "regular content playing", func(s player.Status) bool { return s.NowPlaying != nil && s.NowPlaying.SHA256 == rs.sha })
	return rs
}

func (rs *regularScreen) cachedImage(t *testing.T) image.Image {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(rs.dir, "cache", rs.sha[:2], rs.sha))
	if err != nil {
		t.Fatalf("the regular file is not in the player's cache: %v", err)
	}
	img, _, err := image.Decode(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// checkRegular: the program's image is on screen again, without any
// override, pixel for pixel.
func (rs *regularScreen) checkRegular(t *testing.T, pg *page, name string) {
	t.Helper()
	pg.wait("the schedule's image back, no override", `(() => { const o = document.getElementById('override');
		return o.hidden && !document.body.dataset.override && document.body.dataset.state === 'playing' &&
			document.body.dataset.shown === '`+rs.sha+`' && getComputedStyle(document.getElementById('stage')).visibility === 'visible'; })()`)
	got := pg.shot(name)
	if d := meanDiff(t, got, rs.want); d > 6 {
		t.Errorf("%s: the screen differs from the schedule's image (mean difference %.1f per channel); renderer: %s", name, d, pg.describe())
	}
	st := rs.p.wait(t, "no override in status", func(s player.Status) bool { return s.Override == nil })
	if st.NowPlaying == nil || st.NowPlaying.SHA256 != rs.sha {
		t.Errorf("%s: player status plays %+v, want %s", name, st.NowPlaying, rs.sha)
	}
}

// checkRegularFiles: the override left the player's regular files,
// manifest and cache alone.
func (rs *regularScreen) checkRegularFiles(t *testing.T) {
	t.Helper()
	st := rs.p.Status()
	if st.ManifestVersion != rs.version {
		t.Errorf("an override changed the manifest: version %d, was %d", st.ManifestVersion, rs.version)
	}
	if st.Cache.Files != 1 || st.Cache.Missing != 0 {
		t.Errorf("player cache after the override: %+v, want the one regular file and nothing missing", st.Cache)
	}
	if d := meanDiff(t, rs.cachedImage(t), rs.want); d != 0 {
		t.Errorf("the cached regular file changed (%.1f)", d)
	}
}

// TestOverrideTriggerPaintCancelExpire: the smallest trigger reaches the
// screen (DOM and pixels) and the deliveries turn to painted with the
// renderer's paint instant and a latency; cancel brings the schedule's
// image back; a short expiry does the same on its own; the player keeps
// its regular manifest and files throughout.
func TestOverrideTriggerPaintCancelExpire(t *testing.T) {
	if testing.Short() {
		t.Skip("starts Chromium")
	}
	rs := startRegular(t)
	pg := openRenderer(t, rs.p.Addr(), panelW, panelH)
	pg.wait("the schedule's image", `document.body.dataset.shown === '`+rs.sha+`'`)

	sent := time.Now()
	o := trigger(t, rs.srv, smallestTrigger(900))
	if o.Status != "active" {
		t.Errorf("a new override is %q, want active", o.Status)
	}
	pg.checkCritical(o.ID, "override-640x360")
	d := waitDelivery(t, rs.srv, o.ID, rs.displayID, store_painted)
	if d.PaintedAt == nil || d.PaintedAt.Before(sent.Add(-time.Second)) || d.PaintedAt.After(time.Now()) {
		t.Errorf("painted_at %v is not between the trigger (%v) and now", d.PaintedAt, sent)
	}
	if d.LatencyMS == nil || *d.LatencyMS < 0 || *d.LatencyMS > 30000 {
		t.Errorf("latency_ms %v", d.LatencyMS)
	} else {
		t.Logf("trigger to painted: latency_ms=%d (server), %v (test clock)", *d.LatencyMS, d.PaintedAt.Sub(sent))
	}
	if len(deliveries(t, rs.srv, o.ID)) != 1 {
		t.Errorf("one display, deliveries %+v", deliveries(t, rs.srv, o.ID))
	}
	st := rs.p.wait(t, "override in status", func(s player.Status) bool { return s.Override != nil })
	if st.Override.ID != o.ID || st.Override.Level != "critical" || st.Override.Presentation != "fullscreen" || st.Override.ShownAt.IsZero() {
		t.Errorf("status override %+v", st.Override)
	}
	rs.checkRegularFiles(t)

	// Cancel: the schedule's image is back, the delivery ended.
	var cv ovrView
	if code := rs.srv.Do("POST", "/api/v1/overrides/"+o.ID+"/cancel", nil, &cv); code != 200 || cv.Status != "cancelled" {
		t.Fatalf("cancel: %d %+v", code, cv)
	}
	rs.checkRegular(t, pg, "after-cancel")
	waitDelivery(t, rs.srv, o.ID, rs.displayID, "ended")

	// Expiry: shown, then gone on its own.
	o2 := trigger(t, rs.srv, smallestTrigger(4))
	pg.checkCritical(o2.ID, "override-expiring")
	waitDelivery(t, rs.srv, o2.ID, rs.displayID, store_painted)
	rs.checkRegular(t, pg, "after-expiry")
	var gv ovrView
	rs.srv.Do("GET", "/api/v1/overrides/"+o2.ID, nil, &gv)
	if gv.Status != "expired" {
		t.Errorf("after its expiry the override is %q", gv.Status)
	}
	rs.checkRegularFiles(t)
}

const store_painted = "painted"

// TestOverrideWakesScreenOutsideHours: the display's cluster is closed
// now, so the screen is off; a warning (no wake by default) leaves it off;
// a critical override wakes it, and its cancel puts it back to sleep.
func TestOverrideWakesScreenOutsideHours(t *testing.T) {
	if testing.Short() {
		t.Skip("starts Chromium")
	}
	srv := servertest.Start(t, servertest.Options{})
	p, dir, id := claimDisplay(t, srv, srv.URL)
	// Hours that exclude the present instant, in UTC.
	hours := []map[string]string{{"start": "18:00", "end": "19:00"}}
	if time.Now().UTC().Hour() >= 12 {
		hours = []map[string]string{{"start": "02:00", "end": "03:00"}}
	}
	var cl struct{ ID string }
	if code := srv.Do("POST", "/api/v1/clusters", map[string]any{"name": "Closed now", "timezone": "UTC", "hours": hours}, &cl); code != 201 {
		t.Fatalf("create cluster: %d", code)
	}
	if code := srv.Do("PATCH", "/api/v1/displays/"+id, map[string]any{"cluster_id": cl.ID}, nil); code != 200 {
		t.Fatalf("put display in cluster: %d", code)
	}
	rs := &regularScreen{srv: srv, p: p, dir: dir, displayID: id}
	scheduleImage(t, rs)
	p.wait(t, "screen off outside hours", func(s player.Status) bool { return s.State == protocol.StateOff })
	pg := openRenderer(t, p.Addr(), panelW, panelH)
	pg.wait("screen off", `document.body.dataset.state === 'off'`)
	if s := share(pg.shot("off"), color.RGBA{0, 0, 0, 255}); s < 0.95 {
		t.Fatalf("the screen outside hours is not black (%.0f%% black); renderer: %s", 100*s, pg.describe())
	}

	// A warning does not wake a screen by default: the player holds it,
	// the screen stays off.
	w := trigger(t, srv, map[string]any{"level": "warning", "presentation": "fullscreen",
		"text": map[string]string{"vi": "Cảnh báo: đường ngập", "en": "Warning: road flooded"}, "targets": map[string]any{"all": true}, "expires_in_s": 900})
	waitDelivery(t, srv, w.ID, id, "received")
	time.Sleep(time.Second) // a wrong paint would come within a frame or two
	if ok, _ := chromedp.Run(pg.ctx, chromedp.Evaluate[bool](`document.getElementById('override').hidden && document.body.dataset.state === 'off'`)); !ok {
		t.Fatalf("a warning without wake lit the screen outside hours; renderer: %s", pg.describe())
	}
	t.Logf("warning outside hours: deliveries %+v", deliveries(t, srv, w.ID))

	o := trigger(t, srv, smallestTrigger(900))
	pg.checkCritical(o.ID, "override-woke")
	waitDelivery(t, srv, o.ID, id, store_painted)

	if code := srv.Do("POST", "/api/v1/overrides/"+o.ID+"/cancel", nil, nil); code != 200 {
		t.Fatalf("cancel: %d", code)
	}
	pg.wait("screen off again", `document.getElementById('override').hidden && document.body.dataset.state === 'off'`)
	if s := share(pg.shot("off-again"), color.RGBA{0, 0, 0, 255}); s < 0.95 {
		t.Errorf("after the cancel the screen outside hours is not black (%.0f%% black); renderer: %s", 100*s, pg.describe())
	}
	rs.checkRegularFiles(t)
}

// TestOverrideOfflinePlayerShowsOnReconnect: the network between player
// and server is cut; an override triggered meanwhile is delivered
// "offline", and painted as soon as the player is back. A player
// restarted while cut off goes on showing it; the cancel, once it is back,
// returns the schedule's image.
func TestOverrideOfflinePlayerShowsOnReconnect(t *testing.T) {
	if testing.Short() {
		t.Skip("starts Chromium")
	}
	srv := servertest.Start(t, servertest.Options{})
	link := newSwitchProxy(t, srv.Addr)
	p, dir, id := claimDisplay(t, srv, "http://"+link.ln.Addr().String())
	allDay(t, srv, id)
	rs := &regularScreen{srv: srv, p: p, dir: dir, displayID: id}
	scheduleImage(t, rs)
	p.wait(t, "regular content playing", func(s player.Status) bool { return s.NowPlaying != nil && s.NowPlaying.SHA256 == rs.sha })
	pg := openRenderer(t, p.Addr(), panelW, panelH)
	pg.wait("the schedule's image", `document.body.dataset.shown === '`+rs.sha+`'`)

	link.set(deadAddr(t))
	p.wait(t, "disconnected", func(s player.Status) bool { return !s.Connected })
	servertest.Eventually(t, 30*time.Second, "server sees the display offline", func() bool {
		var d struct{ Online bool }
		srv.Do("GET", "/api/v1/displays/"+id, nil, &d)
		return !d.Online
	})
	o := trigger(t, srv, smallestTrigger(900))
	waitDelivery(t, srv, o.ID, id, "offline")
	// Still the schedule on screen while cut off.
	if ok, _ := chromedp.Run(pg.ctx, chromedp.Evaluate[bool](`!document.body.dataset.override`)); !ok {
		t.Fatalf("an override on screen before the player could receive it: %s", pg.describe())
	}

	back := time.Now()
	link.set(srv.Addr)
	pg.checkCritical(o.ID, "override-after-reconnect")
	d := waitDelivery(t, srv, o.ID, id, store_painted)
	if d.PaintedAt == nil || d.PaintedAt.Before(back.Add(-time.Second)) {
		t.Errorf("painted_at %v before the player was back (%v)", d.PaintedAt, back)
	} else {
		t.Logf("reconnect to painted: %v", d.PaintedAt.Sub(back))
	}

	// Restarted while cut off, the player shows the override it verified.
	p.stop()
	link.set(deadAddr(t))
	rs.p = startPlayer(t, dir, "http://"+link.ln.Addr().String())
	pg = openRenderer(t, rs.p.Addr(), panelW, panelH)
	pg.checkCritical(o.ID, "override-restarted-offline")
	if st := rs.p.wait(t, "override in status", func(s player.Status) bool { return s.Override != nil }); st.Connected || st.Override.ID != o.ID {
		t.Errorf("restarted offline: connected=%v override=%+v", st.Connected, st.Override)
	}

	// Back online, the cancel takes it down.
	link.set(srv.Addr)
	rs.p.wait(t, "reconnected", func(s player.Status) bool { return s.Connected })
	if code := srv.Do("POST", "/api/v1/overrides/"+o.ID+"/cancel", nil, nil); code != 200 {
		t.Fatalf("cancel: %d", code)
	}
	rs.checkRegular(t, pg, "after-reconnect-cancel")
	rs.checkRegularFiles(t)
}

// TestOverrideTriggerRoles: editor and viewer tokens are refused (403),
// an authority token may trigger and cancel.
func TestOverrideTriggerRoles(t *testing.T) {
	srv := servertest.Start(t, servertest.Options{})
	p, _, _ := claimDisplay(t, srv, srv.URL)
	_ = p
	tokens := map[string]string{}
	for _, role := range []string{"editor", "viewer", "authority"} {
		var tok struct {
			Token string `json:"token"`
		}
		if code := srv.Do("POST", "/api/v1/tokens", map[string]any{"name": role, "role": role}, &tok); code != 201 || tok.Token == "" {
			t.Fatalf("create %s token: %d", role, code)
		}
		tokens[role] = tok.Token
	}
	for _, role := range []string{"editor", "viewer"} {
		var e servertest.APIError
		if code := srv.DoToken(tokens[role], "POST", "/api/v1/overrides", smallestTrigger(60), &e); code != 403 || e.Error.Code != "forbidden" {
			t.Errorf("%s trigger: %d %s, want 403 forbidden", role, code, e)
		}
	}
	var list struct {
		Overrides []ovrView `json:"overrides"`
	}
	srv.Do("GET", "/api/v1/overrides", nil, &list)
	if len(list.Overrides) != 0 {
		t.Fatalf("refused triggers created overrides: %+v", list.Overrides)
	}
	var o ovrView
	if code := srv.DoToken(tokens["authority"], "POST", "/api/v1/overrides", smallestTrigger(60), &o); code != 201 || o.ID == "" {
		t.Fatalf("authority trigger: %d %+v", code, o)
	}
	for _, role := range []string{"editor", "viewer"} {
		if code := srv.DoToken(tokens[role], "POST", "/api/v1/overrides/"+o.ID+"/cancel", nil, nil); code != 403 {
			t.Errorf("%s cancel: %d, want 403", role, code)
		}
	}
	if code := srv.DoToken(tokens["authority"], "POST", "/api/v1/overrides/"+o.ID+"/cancel", nil, nil); code != 200 {
		t.Errorf("authority cancel: %d", code)
	}
}

// fitJS reports how the override's text sits on screen: the text box
// inside the window and clear of the icon, every glyph inside the box,
// and the font size the fitting chose.
const fitJS = `(() => {
  const o = document.getElementById('override'), box = o.querySelector('.ovr-text'), ic = o.querySelector('.ovr-icon');
  const bad = [];
  if (!box) return JSON.stringify({bad: ['no text box'], px: 0});
  const b = box.getBoundingClientRect();
  if (b.left < -0.5 || b.top < -0.5 || b.right > innerWidth + 0.5 || b.bottom > innerHeight + 0.5) bad.push('text box outside the window');
  if (ic) {
    const i = ic.getBoundingClientRect();
    if (i.left < b.right - 0.5 && b.left < i.right - 0.5 && i.top < b.bottom - 0.5 && b.top < i.bottom - 0.5) bad.push('icon overlaps the text');
  }
  const range = document.createRange();
  let glyphs = 0;
  box.querySelectorAll('.ovr-t').forEach(p => {
    const walk = document.createTreeWalker(p, NodeFilter.SHOW_TEXT);
    let n;
    while ((n = walk.nextNode())) {
      for (let k = 0; k < n.data.length; k++) {
        if (/\s/.test(n.data[k])) continue;
        range.setStart(n, k); range.setEnd(n, k + 1);
        for (const r of range.getClientRects()) {
          glyphs++;
          if ((r.top < b.top - 0.5 || r.bottom > b.bottom + 0.5 || r.left < b.left - 0.5 || r.right > b.right + 0.5) && bad.length < 4)
            bad.push('glyph ' + n.data[k] + ' outside the box');
        }
      }
    }
  });
  return JSON.stringify({bad, glyphs, px: Number(box.dataset.fontPx || 0)});
})()`

// TestOverrideFullscreenSizes: the critical fullscreen override of the
// smallest trigger on the largest and the smallest panel of the issue:
// the critical red, both languages whole inside their box, clear of the
// icon, at a readable size.
func TestOverrideFullscreenSizes(t *testing.T) {
	if testing.Short() {
		t.Skip("starts Chromium")
	}
	rs := startRegular(t)
	// No renderer yet: the player received it, nothing painted it.
	o := trigger(t, rs.srv, smallestTrigger(900))
	waitDelivery(t, rs.srv, o.ID, rs.displayID, "received")
	for _, sz := range []struct{ w, h, minPx int }{{1920, 1080, 40}, {384, 192, 9}} {
		name := fmt.Sprintf("override-critical-%dx%d", sz.w, sz.h)
		pg := openRenderer(t, rs.p.Addr(), sz.w, sz.h)
		pg.checkCritical(o.ID, name)
		waitDelivery(t, rs.srv, o.ID, rs.displayID, store_painted)
		raw, err := chromedp.Run(pg.ctx, chromedp.Evaluate[string](fitJS))
		if err != nil {
			t.Fatal(err)
		}
		var fit struct {
			Bad    []string
			Glyphs int
			Px     float64
		}
		if err := json.Unmarshal([]byte(raw), &fit); err != nil {
			t.Fatal(err)
		}
		want := len([]rune(strings.ReplaceAll(ovrVI+ovrEN, " ", "")))
		if len(fit.Bad) > 0 || fit.Glyphs < want || fit.Px < float64(sz.minPx) {
			t.Errorf("%s: %v, %d glyphs laid out (want %d), font %.0f px (want at least %d); renderer: %s",
				name, fit.Bad, fit.Glyphs, want, fit.Px, sz.minPx, pg.describe())
		} else {
			t.Logf("%s: font %.0f px, %d glyphs inside the box", name, fit.Px, fit.Glyphs)
		}
	}
}

// TestOverrideProcesses runs the shipped binaries: the demo's server and
// paired player, a token made with `beacon token create --role authority`,
// the smallest trigger over HTTP, and the renderer in Chromium shows it;
// the deliveries say painted.
func TestOverrideProcesses(t *testing.T) {
	if testing.Short() {
		t.Skip("builds binaries and starts Chromium")
	}
	chromium(t)
	beacon, beaconPlayer := buildBinaries(t)
	data := t.TempDir()
	if out, err := exec.Command(beacon, "demo", "--data", data, "--player-data", filepath.Join(data, "player")).CombinedOutput(); err != nil {
		t.Fatalf("demo: %v\n%s", err, out)
	}
	tok, err := exec.Command(beacon, "token", "create", "--data", data, "--role", "authority", "--name", "civil defence").Output()
	if err != nil || !bytes.HasPrefix(tok, []byte("bkn_")) {
		t.Fatalf("token create --role authority: %v %q", err, tok)
	}
	token := strings.TrimSpace(string(tok))
	addr, paddr := freeAddr(t), freeAddr(t)
	start(t, beacon, "serve", "--data", data, "--listen", addr)
	waitHTTP(t, "http://"+addr+"/healthz")
	start(t, beaconPlayer, "--server", "http://"+addr, "--data", filepath.Join(data, "player"), "--listen", paddr)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	st, err := player.WaitStatus(ctx, paddr, func(s player.Status) bool { return s.Paired && s.Connected && s.NowPlaying != nil })
	if err != nil {
		t.Fatalf("demo player never played: %v", err)
	}
	pg := openRenderer(t, paddr, panelW, panelH)
	pg.wait("the demo's content", `document.body.dataset.state === 'playing'`)

	api := func(method, path string, body any, out any) int {
		t.Helper()
		var rd io.Reader
		if body != nil {
			b, _ := json.Marshal(body)
			rd = bytes.NewReader(b)
		}
		req, _ := http.NewRequest(method, "http://"+addr+path, rd)
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", method, path, err)
		}
		defer resp.Body.Close()
		if out != nil {
			_ = json.NewDecoder(resp.Body).Decode(out)
		}
		return resp.StatusCode
	}
	var o ovrView
	if code := api("POST", "/api/v1/overrides", smallestTrigger(900), &o); code != 201 || o.ID == "" {
		t.Fatalf("trigger with the authority token: %d %+v", code, o)
	}
	pg.checkCritical(o.ID, "override-processes")
	deadline := time.Now().Add(30 * time.Second)
	for {
		var ds struct{ Deliveries []deliveryRow }
		api("GET", "/api/v1/overrides/"+o.ID+"/deliveries", nil, &ds)
		if len(ds.Deliveries) == 1 && ds.Deliveries[0].DisplayID == st.DisplayID && ds.Deliveries[0].State == "painted" && ds.Deliveries[0].PaintedAt != nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("deliveries never painted: %+v", ds.Deliveries)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if code := api("POST", "/api/v1/overrides/"+o.ID+"/cancel", nil, nil); code != 200 {
		t.Fatalf("cancel with the authority token: %d", code)
	}
	pg.wait("the demo's content back", `document.getElementById('override').hidden && !document.body.dataset.override && document.body.dataset.state === 'playing'`)
}

// TestOverrideCancelledWhileOffline: an override on screen is cancelled
// while the player is cut off from the server; once back, the player
// takes it down and the schedule's image returns.
func TestOverrideCancelledWhileOffline(t *testing.T) {
	if testing.Short() {
		t.Skip("starts Chromium")
	}
	srv := servertest.Start(t, servertest.Options{})
	link := newSwitchProxy(t, srv.Addr)
	p, dir, id := claimDisplay(t, srv, "http://"+link.ln.Addr().String())
	allDay(t, srv, id)
	rs := &regularScreen{srv: srv, p: p, dir: dir, displayID: id}
	scheduleImage(t, rs)
	pg := openRenderer(t, p.Addr(), panelW, panelH)
	pg.wait("the schedule's image", `document.body.dataset.shown === '`+rs.sha+`'`)
	o := trigger(t, srv, smallestTrigger(900))
	pg.checkCritical(o.ID, "override-before-cut")
	waitDelivery(t, srv, o.ID, id, store_painted)

	link.set(deadAddr(t))
	p.wait(t, "disconnected", func(s player.Status) bool { return !s.Connected })
	if code := srv.Do("POST", "/api/v1/overrides/"+o.ID+"/cancel", nil, nil); code != 200 {
		t.Fatalf("cancel: %d", code)
	}
	link.set(srv.Addr)
	p.wait(t, "reconnected", func(s player.Status) bool { return s.Connected })
	rs.checkRegular(t, pg, "cancelled-while-offline")
	waitDelivery(t, srv, o.ID, id, "ended")
	rs.checkRegularFiles(t)
}

// TestOverrideScheduleChangesUnderneath: a warning banner lies over the
// program, which stays visible above it; while a critical fullscreen
// override covers the screen the schedule changes to another image; when
// the override is cancelled the screen shows what the schedule says now.
func TestOverrideScheduleChangesUnderneath(t *testing.T) {
	if testing.Short() {
		t.Skip("starts Chromium")
	}
	rs := startRegular(t)
	pg := openRenderer(t, rs.p.Addr(), panelW, panelH)
	pg.wait("the schedule's image", `document.body.dataset.shown === '`+rs.sha+`'`)

	amber := color.RGBA{0xff, 0xb3, 0x00, 255}
	b := trigger(t, rs.srv, map[string]any{"level": "warning", "presentation": "banner", "position": "bottom",
		"text": map[string]string{"vi": "Cảnh báo: đường ngập", "en": "Warning: road flooded"}, "targets": map[string]any{"all": true}, "expires_in_s": 900})
	pg.wait("warning banner over the program", `(() => { const o = document.getElementById('override');
		return !o.hidden && o.dataset.id === '`+b.ID+`' && o.dataset.presentation === 'banner' &&
			getComputedStyle(document.getElementById('stage')).visibility === 'visible' && document.body.dataset.shown === '`+rs.sha+`'; })()`)
	img := pg.shot("banner")
	if c := img.At(panelW/2, panelH-2); !nearRGB(c, amber, 12) {
		t.Errorf("bottom of the screen is %v, want the warning amber; renderer: %s", c, pg.describe())
	}
	// The top half is the program's image, unchanged.
	top := image.Rect(0, 0, panelW, panelH/2)
	if d := meanDiff(t, img.(interface {
		SubImage(image.Rectangle) image.Image
	}).SubImage(top), rs.want.(interface {
		SubImage(image.Rectangle) image.Image
	}).SubImage(top)); d > 6 {
		t.Errorf("the program above the banner differs from its image (%.1f); renderer: %s", d, pg.describe())
	}
	waitDelivery(t, rs.srv, b.ID, rs.displayID, store_painted)

	o := trigger(t, rs.srv, smallestTrigger(900))
	pg.checkCritical(o.ID, "critical-over-banner")

	// The schedule changes underneath: a new image, higher priority.
	var m servertest.Media
	if code := rs.srv.Upload("evacuation-map.jpg", photo(t, 900, 1600), &m); code != 201 {
		t.Fatalf("upload: %d", code)
	}
	var pl struct{ ID string }
	rs.srv.Do("POST", "/api/v1/playlists", map[string]any{"name": "Map", "items": []map[string]any{{"media_id": m.ID, "duration_s": 600}}}, &pl)
	if code := rs.srv.Do("POST", "/api/v1/schedules", map[string]any{"name": "Map", "priority": 50,
		"target": map[string]any{"display_ids": []string{rs.displayID}}, "content": map[string]any{"playlist_id": pl.ID}}, nil); code != 201 {
		t.Fatalf("schedule: %d", code)
	}
	st := rs.p.wait(t, "new schedule playing under the override", func(s player.Status) bool {
		return s.ManifestVersion > rs.version && s.NowPlaying != nil && s.NowPlaying.SHA256 != rs.sha && s.Cache.Missing == 0
	})
	newSHA := st.NowPlaying.SHA256
	pg.checkCritical(o.ID, "critical-still-on")

	if code := rs.srv.Do("POST", "/api/v1/overrides/"+o.ID+"/cancel", nil, nil); code != 200 {
		t.Fatalf("cancel: %d", code)
	}
	pg.wait("the banner again, over the new schedule's image", `(() => { const o = document.getElementById('override');
		return !o.hidden && o.dataset.id === '`+b.ID+`' && document.body.dataset.shown === '`+newSHA+`' &&
			getComputedStyle(document.getElementById('stage')).visibility === 'visible'; })()`)
	if code := rs.srv.Do("POST", "/api/v1/overrides/"+b.ID+"/cancel", nil, nil); code != 200 {
		t.Fatalf("cancel banner: %d", code)
	}
	pg.wait("the new schedule's image, no override", `(() => { const o = document.getElementById('override');
		return o.hidden && !document.body.dataset.override && document.body.dataset.shown === '`+newSHA+`' &&
			getComputedStyle(document.getElementById('stage')).visibility === 'visible'; })()`)
	if s := share(pg.shot("new-schedule"), critRed); s > 0.05 {
		t.Errorf("critical red left on screen after the cancel (%.0f%%); renderer: %s", 100*s, pg.describe())
	}
}

// TestOverrideKillSwitchAndOrder: the kill switch blanks the screen (all
// black, the program hidden) and opens an incident; a newer warning does
// not displace an older critical override (highest level first); an
// override with a later start appears only from its start.
func TestOverrideKillSwitchAndOrder(t *testing.T) {
	if testing.Short() {
		t.Skip("starts Chromium")
	}
	rs := startRegular(t)
	pg := openRenderer(t, rs.p.Addr(), panelW, panelH)
	pg.wait("the schedule's image", `document.body.dataset.shown === '`+rs.sha+`'`)

	k := trigger(t, rs.srv, map[string]any{"level": "critical", "presentation": "blank", "targets": map[string]any{"all": true}, "expires_in_s": 900})
	pg.wait("blank override", `(() => { const o = document.getElementById('override');
		return !o.hidden && o.dataset.id === '`+k.ID+`' && getComputedStyle(document.getElementById('stage')).visibility === 'hidden'; })()`)
	if s := share(pg.shot("kill-switch-blank"), color.RGBA{0, 0, 0, 255}); s < 0.99 {
		t.Errorf("kill switch: only %.0f%% of the screen is black; renderer: %s", 100*s, pg.describe())
	}
	waitDelivery(t, rs.srv, k.ID, rs.displayID, store_painted)
	servertest.Eventually(t, 10*time.Second, "kill switch incident", func() bool {
		var list struct {
			Incidents []struct{ Kind string }
		}
		rs.srv.Do("GET", "/api/v1/incidents", nil, &list)
		for _, in := range list.Incidents {
			if in.Kind == "kill_switch" {
				return true
			}
		}
		return false
	})
	if code := rs.srv.Do("POST", "/api/v1/overrides/"+k.ID+"/cancel", nil, nil); code != 200 {
		t.Fatalf("cancel: %d", code)
	}
	rs.checkRegular(t, pg, "after-kill-switch")

	// Highest level first: a newer warning stays under the critical one.
	c := trigger(t, rs.srv, smallestTrigger(900))
	pg.checkCritical(c.ID, "critical-first")
	w := trigger(t, rs.srv, map[string]any{"level": "warning", "presentation": "fullscreen",
		"text": map[string]string{"en": "Warning: road flooded"}, "targets": map[string]any{"all": true}, "expires_in_s": 900})
	waitDelivery(t, rs.srv, w.ID, rs.displayID, "received")
	time.Sleep(time.Second) // a wrong paint would come within a frame or two
	pg.checkCritical(c.ID, "critical-over-newer-warning")
	if code := rs.srv.Do("POST", "/api/v1/overrides/"+c.ID+"/cancel", nil, nil); code != 200 {
		t.Fatalf("cancel: %d", code)
	}
	pg.wait("the warning once the critical one is cancelled", `document.getElementById('override').dataset.id === '`+w.ID+`' &&
		document.getElementById('override').dataset.level === 'warning'`)
	waitDelivery(t, rs.srv, w.ID, rs.displayID, store_painted)
	if code := rs.srv.Do("POST", "/api/v1/overrides/"+w.ID+"/cancel", nil, nil); code != 200 {
		t.Fatalf("cancel: %d", code)
	}
	rs.checkRegular(t, pg, "after-warning")

	// A later start: held until then, shown from then.
	startsAt := time.Now().Add(4 * time.Second).UTC()
	body := smallestTrigger(900)
	body["starts_at"] = startsAt.Format(time.RFC3339Nano)
	l := trigger(t, rs.srv, body)
	if l.Status != "scheduled" {
		t.Errorf("an override starting later is %q, want scheduled", l.Status)
	}
	waitDelivery(t, rs.srv, l.ID, rs.displayID, "received")
	if time.Now().Before(startsAt.Add(-time.Second)) {
		if ok, _ := chromedp.Run(pg.ctx, chromedp.Evaluate[bool](`!document.body.dataset.override`)); !ok {
			t.Errorf("an override shown before its start; renderer: %s", pg.describe())
		}
	}
	pg.checkCritical(l.ID, "later-start")
	d := waitDelivery(t, rs.srv, l.ID, rs.displayID, store_painted)
	if d.PaintedAt.Before(startsAt.Add(-500 * time.Millisecond)) {
		t.Errorf("painted at %v, before its start %v", d.PaintedAt, startsAt)
	}
	rs.checkRegularFiles(t)
}

// TestOverrideExpiresWhileOffline: an override on screen expires while the
// player is cut off from the server; the player takes it down on its own
// clock and the schedule's image returns.
func TestOverrideExpiresWhileOffline(t *testing.T) {
	if testing.Short() {
		t.Skip("starts Chromium")
	}
	srv := servertest.Start(t, servertest.Options{})
	link := newSwitchProxy(t, srv.Addr)
	p, dir, id := claimDisplay(t, srv, "http://"+link.ln.Addr().String())
	allDay(t, srv, id)
	rs := &regularScreen{srv: srv, p: p, dir: dir, displayID: id}
	scheduleImage(t, rs)
	pg := openRenderer(t, p.Addr(), panelW, panelH)
	pg.wait("the schedule's image", `document.body.dataset.shown === '`+rs.sha+`'`)
	o := trigger(t, srv, smallestTrigger(5))
	pg.checkCritical(o.ID, "override-expiring-offline")
	waitDelivery(t, srv, o.ID, id, store_painted)
	link.set(deadAddr(t))
	p.wait(t, "disconnected", func(s player.Status) bool { return !s.Connected })
	rs.checkRegular(t, pg, "expired-offline")
	if st := p.Status(); st.Connected {
		t.Errorf("the test needs the player cut off at the expiry")
	}
	rs.checkRegularFiles(t)
}

// TestOverrideDisplayLanguages: a display whose languages are Vietnamese
// then English shows the Vietnamese text first; in turn (lang_mode
// rotate), one language at a time, both in turn.
func TestOverrideDisplayLanguages(t *testing.T) {
	if testing.Short() {
		t.Skip("starts Chromium")
	}
	rs := startRegular(t)
	if code := rs.srv.Do("PATCH", "/api/v1/displays/"+rs.displayID, map[string]any{"languages": []string{"vi", "en"}}, nil); code != 200 {
		t.Fatalf("display languages: %d", code)
	}
	rs.p.wait(t, "new manifest with the display's languages", func(s player.Status) bool { return s.ManifestVersion > rs.version })
	rs.version = rs.p.Status().ManifestVersion
	pg := openRenderer(t, rs.p.Addr(), panelW, panelH)
	o := trigger(t, rs.srv, smallestTrigger(900))
	pg.checkCritical(o.ID, "languages-vi-en")
	pg.wait("Vietnamese first", `document.getElementById('override').dataset.lang === 'vi,en'`)
	if code := rs.srv.Do("POST", "/api/v1/overrides/"+o.ID+"/cancel", nil, nil); code != 200 {
		t.Fatalf("cancel: %d", code)
	}

	body := smallestTrigger(900)
	body["lang_mode"], body["rotate_s"] = "rotate", 1
	r := trigger(t, rs.srv, body)
	pg.wait("Vietnamese alone", `document.getElementById('override').dataset.id === '`+r.ID+`' && document.getElementById('override').dataset.lang === 'vi' &&
		document.getElementById('override').innerText.includes('`+ovrVI+`') && !document.getElementById('override').innerText.includes('`+ovrEN+`')`)
	pg.wait("then English alone", `document.getElementById('override').dataset.lang === 'en' &&
		document.getElementById('override').innerText.includes('`+ovrEN+`') && !document.getElementById('override').innerText.includes('`+ovrVI+`')`)
	rs.checkRegularFiles(t)
}

// TestOverrideWithImage: an override carrying an image already on the
// server (an evacuation map) shows it beside the texts, fetched into the
// player's cache; the regular file stays there throughout.
func TestOverrideWithImage(t *testing.T) {
	if testing.Short() {
		t.Skip("starts Chromium")
	}
	rs := startRegular(t)
	var m servertest.Media
	if code := rs.srv.Upload("evacuation-map.jpg", photo(t, 1200, 900), &m); code != 201 {
		t.Fatalf("upload: %d", code)
	}
	servertest.Eventually(t, 30*time.Second, "map rendition", func() bool {
		var got servertest.Media
		rs.srv.Do("GET", "/api/v1/media/"+m.ID, nil, &got)
		return len(got.Renditions) > 0
	})
	pg := openRenderer(t, rs.p.Addr(), panelW, panelH)
	pg.wait("the schedule's image", `document.body.dataset.shown === '`+rs.sha+`'`)
	body := smallestTrigger(900)
	body["media"] = []string{m.ID}
	o := trigger(t, rs.srv, body)
	pg.checkCritical(o.ID, "override-with-map")
	pg.wait("the map decoded in the override", `(() => { const i = document.querySelector('#override img.ovr-media-item');
		return i && i.complete && i.naturalWidth > 0 && i.getBoundingClientRect().width > 50; })()`)
	waitDelivery(t, rs.srv, o.ID, rs.displayID, store_painted)
	st := rs.p.wait(t, "map in the cache", func(s player.Status) bool { return s.Cache.Files == 2 && s.Cache.Missing == 0 })
	if st.ManifestVersion != rs.version {
		t.Errorf("an override with media changed the manifest: %d, was %d", st.ManifestVersion, rs.version)
	}
	if d := meanDiff(t, rs.cachedImage(t), rs.want); d != 0 {
		t.Errorf("the regular file changed")
	}
	if code := rs.srv.Do("POST", "/api/v1/overrides/"+o.ID+"/cancel", nil, nil); code != 200 {
		t.Fatalf("cancel: %d", code)
	}
	rs.checkRegular(t, pg, "after-map")
}

// TestOverrideLanguageOrder: with Vietnamese, English and Chinese texts,
// a display without languages of its own shows them in the deployment's
// order (Vietnamese first: the server's default --languages vi,en,zh),
// not alphabetically; a display whose languages are Chinese then English
// shows Chinese, English, then the rest (Vietnamese); and a display with
// vi, en, zh shows them together in that order, and in turn (lang_mode
// rotate) one at a time, each in that order.
func TestOverrideLanguageOrder(t *testing.T) {
	if testing.Short() {
		t.Skip("starts Chromium")
	}
	const zh = "紧急通知：洪水。请立即转移到高处。"
	texts := map[string]string{"vi": ovrVI, "en": ovrEN, "zh": zh}
	rs := startRegular(t)
	var d struct {
		Languages []string `json:"languages"`
	}
	if code := rs.srv.Do("GET", "/api/v1/displays/"+rs.displayID, nil, &d); code != 200 || len(d.Languages) != 0 {
		t.Fatalf("display: %d, languages %v; want none", code, d.Languages)
	}
	pg := openRenderer(t, rs.p.Addr(), panelW, panelH)
	body := smallestTrigger(900)
	body["text"] = texts
	o := trigger(t, rs.srv, body)
	pg.wait("no display languages: Vietnamese first", `document.getElementById('override').dataset.id === '`+o.ID+`' &&
		document.getElementById('override').dataset.lang === 'vi,en,zh' && document.getElementById('override').innerText.includes('`+zh+`')`)
	if code := rs.srv.Do("POST", "/api/v1/overrides/"+o.ID+"/cancel", nil, nil); code != 200 {
		t.Fatalf("cancel: %d", code)
	}

	setLangs := func(langs ...string) {
		t.Helper()
		if code := rs.srv.Do("PATCH", "/api/v1/displays/"+rs.displayID, map[string]any{"languages": langs}, nil); code != 200 {
			t.Fatalf("display languages: %d", code)
		}
		rs.p.wait(t, "new manifest with the display's languages", func(s player.Status) bool { return s.ManifestVersion > rs.version })
		rs.version = rs.p.Status().ManifestVersion
	}
	setLangs("zh", "en")
	o = trigger(t, rs.srv, body)
	pg.wait("Chinese, English, then Vietnamese", `document.getElementById('override').dataset.id === '`+o.ID+`' &&
		document.getElementById('override').dataset.lang === 'zh,en,vi'`)
	if code := rs.srv.Do("POST", "/api/v1/overrides/"+o.ID+"/cancel", nil, nil); code != 200 {
		t.Fatalf("cancel: %d", code)
	}

	setLangs("vi", "en", "zh")
	o = trigger(t, rs.srv, body)
	pg.wait("together: vi, en, zh", `(() => { const o = document.getElementById('override');
		const ps = [...o.querySelectorAll('.ovr-t')].map(p => p.lang).join(',');
		return o.dataset.id === '`+o.ID+`' && o.dataset.lang === 'vi,en,zh' && ps === 'vi,en,zh'; })()`)
	if code := rs.srv.Do("POST", "/api/v1/overrides/"+o.ID+"/cancel", nil, nil); code != 200 {
		t.Fatalf("cancel: %d", code)
	}
	body["lang_mode"], body["rotate_s"] = "rotate", 1
	r := trigger(t, rs.srv, body)
	alone := func(lang, text string) string {
		return `(() => { const o = document.getElementById('override'); const ps = o.querySelectorAll('.ovr-t');
			return o.dataset.id === '` + r.ID + `' && o.dataset.lang === '` + lang + `' && ps.length === 1 && ps[0].textContent === '` + text + `'; })()`
	}
	pg.wait("in turn: Vietnamese", alone("vi", ovrVI))
	pg.wait("in turn: then English", alone("en", ovrEN))
	pg.wait("in turn: then Chinese", alone("zh", zh))
	pg.wait("in turn: Vietnamese again", alone("vi", ovrVI))
	rs.checkRegularFiles(t)
}
