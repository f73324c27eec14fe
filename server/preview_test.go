package server_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"image/color"
	"os/exec"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"beacon/server/servertest"
	"beacon/server/store"
)

type previewJSON struct {
	Width  int `json:"width"`
	Height int `json:"height"`
	Steps  []struct {
		AtMS int64 `json:"at_ms"`
		Cmd  struct {
			Type       string `json:"type"`
			Zone       string `json:"zone"`
			Kind       string `json:"kind"`
			URL        string `json:"url"`
			SHA256     string `json:"sha256"`
			ItemID     string `json:"item_id"`
			DurationMS int64  `json:"duration_ms"`
			Width      int    `json:"width"`
			Height     int    `json:"height"`
			Zones      []struct {
				ID         string
				X, Y, W, H int
			} `json:"zones"`
		} `json:"cmd"`
	} `json:"steps"`
}

// previewFixture makes a 640×360 display and a playlist of two images,
// waiting until the display's renditions exist.
func previewFixture(t *testing.T, s *servertest.Server) (displayID, playlistID string, a, b servertest.Media) {
	t.Helper()
	pub, _, _ := ed25519.GenerateKey(rand.Reader)
	d, err := s.Store().CreateDisplay(t.Context(), store.Display{OrgID: s.OrgID, Name: "Lobby", PublicKey: pub, Width: 640, Height: 360, Fit: "contain", Background: "#000000"})
	if err != nil {
		t.Fatal(err)
	}
	s.Upload("red.jpg", testJPEG(t, 800, 450, color.RGBA{220, 20, 20, 255}), &a)
	s.Upload("blue.jpg", testJPEG(t, 800, 450, color.RGBA{20, 20, 220, 255}), &b)
	var pl struct{ ID string }
	if code := s.Do("POST", "/api/v1/playlists", map[string]any{"name": "Lobby loop", "items": []map[string]any{{"media_id": a.ID, "duration_s": 3}, {"media_id": b.ID, "duration_s": 3}}}, &pl); code != 201 {
		t.Fatalf("playlist: %d", code)
	}
	return d.ID, pl.ID, a, b
}

func TestDisplayPreviewCommands(t *testing.T) {
	s := servertest.Start(t, servertest.Options{})
	dsp, pl, a, b := previewFixture(t, s)
	var p previewJSON
	servertest.Eventually(t, 60*time.Second, "both images in the preview", func() bool {
		if code := s.Do("GET", "/api/v1/displays/"+dsp+"/preview?playlist_id="+pl, nil, &p); code != 200 {
			t.Fatalf("preview: %d", code)
		}
		return len(p.Steps) >= 3 && p.Steps[1].Cmd.ItemID != p.Steps[2].Cmd.ItemID
	})
	if p.Width != 640 || p.Height != 360 || p.Steps[0].Cmd.Type != "layout" || p.Steps[0].Cmd.Width != 640 || p.Steps[0].Cmd.Height != 360 {
		t.Fatalf("first step: %+v", p.Steps[0])
	}
	// The loop runs in the engine's phase (as on the screen): the first
	// show may be either image, part-way through; then every 3 s the other.
	first, second := p.Steps[1], p.Steps[2]
	if first.Cmd.Type != "show" || first.AtMS != 0 || first.Cmd.URL != "/api/v1/files/"+first.Cmd.SHA256 || first.Cmd.DurationMS != 3000 {
		t.Fatalf("first show: %+v", first)
	}
	if (first.Cmd.ItemID == a.ID) == (second.Cmd.ItemID == a.ID) || second.AtMS <= 0 || second.AtMS > 3000 {
		t.Fatalf("second show: %+v after %+v", second, first)
	}
	for i := 3; i < len(p.Steps); i++ {
		if p.Steps[i].AtMS-p.Steps[i-1].AtMS != 3000 || p.Steps[i].Cmd.ItemID == p.Steps[i-1].Cmd.ItemID {
			t.Fatalf("step %d: %+v after %+v", i, p.Steps[i], p.Steps[i-1])
		}
	}
	if first.Cmd.ItemID != a.ID {
		first = second
	}
	// The file shown is the display's rendition (640×360), not the original.
	var m servertest.Media
	s.Do("GET", "/api/v1/media/"+a.ID, nil, &m)
	found := false
	for _, r := range m.Renditions {
		if r.SHA256 == first.Cmd.SHA256 {
			found = r.Width <= 640 && r.Height <= 360
		}
	}
	if !found || first.Cmd.SHA256 == m.SHA256 {
		t.Fatalf("shown file %s is not a 640x360 rendition of %+v", first.Cmd.SHA256, m)
	}
	// Another organisation cannot preview this display; bad requests say why.
	_, other := s.NewOrg("other")
	if code := s.DoToken(other, "GET", "/api/v1/displays/"+dsp+"/preview?playlist_id="+pl, nil, nil); code != 404 {
		t.Fatalf("other org: %d", code)
	}
	for _, q := range []string{"", "playlist_id=pls_nope", "playlist_id=" + pl + "&layout_id=x", "layout_id=lay_nope", "playlist_id=" + pl + "&zone=main:" + pl} {
		var e servertest.APIError
		if code := s.Do("GET", "/api/v1/displays/"+dsp+"/preview?"+q, nil, &e); code != 400 {
			t.Errorf("%q: %d %v", q, code, e)
		}
	}

	// A layout of two zones, a playlist each.
	var lay struct{ ID string }
	if code := s.Do("POST", "/api/v1/layouts", map[string]any{"name": "Split", "zones": []map[string]any{
		{"id": "main", "x": 0, "y": 0, "w": 75, "h": 100}, {"id": "side", "x": 75, "y": 0, "w": 25, "h": 100}}}, &lay); code != 201 {
		t.Fatalf("layout: %d", code)
	}
	var pl2 struct{ ID string }
	s.Do("POST", "/api/v1/playlists", map[string]any{"name": "Side", "items": []map[string]any{{"media_id": b.ID, "duration_s": 5}}}, &pl2)
	if code := s.Do("GET", "/api/v1/displays/"+dsp+"/preview?layout_id="+lay.ID+"&zone=main:"+pl+"&zone=side:"+pl2.ID, nil, &p); code != 200 {
		t.Fatalf("layout preview: %d", code)
	}
	zones := map[string]string{}
	for _, st := range p.Steps {
		if st.AtMS == 0 && st.Cmd.Type == "show" {
			zones[st.Cmd.Zone] = st.Cmd.ItemID
		}
	}
	if p.Steps[0].Cmd.Type != "layout" || len(p.Steps[0].Cmd.Zones) != 2 || p.Steps[0].Cmd.Zones[1].W != 160 || zones["side"] != b.ID || zones["main"] == "" {
		t.Fatalf("layout preview: %+v", p.Steps)
	}

	// A layout keeps a playlist per zone: a preview (or a schedule) that
	// names none plays those; the playlist cannot be deleted meanwhile.
	var e servertest.APIError
	if code := s.Do("PUT", "/api/v1/layouts/"+lay.ID, map[string]any{"name": "Split", "zones": []map[string]any{
		{"id": "main", "x": 0, "y": 0, "w": 75, "h": 100}, {"id": "side", "x": 75, "y": 0, "w": 25, "h": 100}},
		"playlists": map[string]string{"main": pl, "side": pl2.ID}}, &e); code != 200 {
		t.Fatalf("layout with playlists: %d %v", code, e)
	}
	if code := s.Do("GET", "/api/v1/displays/"+dsp+"/preview?layout_id="+lay.ID, nil, &p); code != 200 {
		t.Fatalf("layout preview with its own playlists: %d", code)
	}
	zones = map[string]string{}
	for _, st := range p.Steps {
		if st.AtMS == 0 && st.Cmd.Type == "show" {
			zones[st.Cmd.Zone] = st.Cmd.ItemID
		}
	}
	if zones["side"] != b.ID || zones["main"] == "" {
		t.Fatalf("layout preview with its own playlists: %+v", p.Steps)
	}
	if code := s.Do("DELETE", "/api/v1/playlists/"+pl2.ID, nil, &e); code != 409 || e.Error.Code != "in_use" {
		t.Fatalf("delete a layout's playlist: %d %v", code, e)
	}
	for _, bad := range []map[string]string{{"top": pl}, {"main": "pls_nope"}} {
		if code := s.Do("PUT", "/api/v1/layouts/"+lay.ID, map[string]any{"name": "Split", "zones": []map[string]any{{"id": "main", "x": 0, "y": 0, "w": 100, "h": 100}},
			"playlists": bad}, &e); code != 400 {
			t.Fatalf("layout playlists %v: %d %v", bad, code, e)
		}
	}
}

// TestPreviewPageRunsThePlayersRenderer loads the preview page in Chromium
// at the display's resolution: the player's renderer (served from the
// player's embedded files) paints the display's renditions in turn.
func TestPreviewPageRunsThePlayersRenderer(t *testing.T) {
	chrome, err := exec.LookPath("chromium")
	if err != nil {
		t.Skip("chromium is not installed")
	}
	s := servertest.Start(t, servertest.Options{})
	dsp, pl, _, _ := previewFixture(t, s)
	var p previewJSON
	servertest.Eventually(t, 60*time.Second, "both images in the preview", func() bool {
		s.Do("GET", "/api/v1/displays/"+dsp+"/preview?playlist_id="+pl, nil, &p)
		return len(p.Steps) >= 3 && p.Steps[1].Cmd.ItemID != p.Steps[2].Cmd.ItemID
	})
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chrome), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun, chromedp.NoDefaultBrowserCheck,
		chromedp.UserDataDir(t.TempDir()),
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true), chromedp.Flag("disable-sync", true),
		chromedp.WindowSize(640, 360),
	}
	actx, cancelA := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancelA()
	ctx, cancel := chromedp.NewContext(actx)
	defer cancel()
	ctx, cancelT := context.WithTimeout(ctx, 90*time.Second)
	defer cancelT()
	// The page's own requests carry the token (the console sends its cookie).
	if err := chromedp.Do(ctx); err != nil { // starts the browser
		t.Fatal(err)
	}
	if _, err := chromedp.Call(ctx, network.Enable, network.EnableParams{}); err != nil {
		t.Fatal(err)
	}
	if _, err := chromedp.Call(ctx, network.SetExtraHTTPHeaders, network.SetExtraHTTPHeadersParams{Headers: network.Headers{"Authorization": "Bearer " + s.Token}}); err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(640, 360), chromedp.Navigate(s.URL+"/renderer/preview?display="+dsp+"&playlist="+pl)); err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{p.Steps[1].Cmd.SHA256: false, p.Steps[2].Cmd.SHA256: false}
	deadline := time.Now().Add(60 * time.Second)
	for {
		shown, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body.dataset.shown || ""`))
		if err != nil {
			t.Fatal(err)
		}
		state, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body.dataset.state`))
		perr, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body.dataset.previewError || ""`))
		if perr != "" {
			t.Fatalf("preview error: %s", perr)
		}
		if _, ok := want[shown]; ok {
			want[shown] = true
		}
		if want[p.Steps[1].Cmd.SHA256] && want[p.Steps[2].Cmd.SHA256] {
			if state != "playing" {
				t.Fatalf("state %q", state)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the renderer did not paint both images: %v (state %q)", want, state)
		}
		time.Sleep(100 * time.Millisecond)
	}
	// The page is the player's own: its renderer script, unchanged.
	src, err := chromedp.Run(ctx, chromedp.Evaluate[string](`Array.from(document.scripts).map(s => s.getAttribute('src')).join(',')`))
	if err != nil {
		t.Fatal(err)
	}
	if src != "/glyphs.js,/renderer/preview-bridge.js,/renderer.js" {
		t.Fatalf("scripts: %s", src)
	}
}
