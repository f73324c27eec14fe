package e2e_test

import (
	"bytes"
	"crypto/sha1"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"image"
	"image/color"
	"image/png"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"beacon/server"
	"beacon/server/cap"
	"beacon/server/servertest"
)

func solidPNG(t *testing.T, w, h int, c color.RGBA) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			img.Set(x, y, c)
		}
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestCAPAlertWithResourcesOnScreen: a CAP alert pushed to the server
// (server/cap/testdata/flood-resources.xml, in force now) whose evacuation
// map is fetched from an allowed host on 127.0.0.1 (SHA-1 checked) and
// whose pictogram comes inline reaches the screen: the renderer shows the
// Vietnamese and English texts (Vietnamese first), both images decoded,
// the map's blue and the pictogram's amber each in its own box, and the
// delivery is painted; once cancelled, the schedule's image is back.
func TestCAPAlertWithResourcesOnScreen(t *testing.T) {
	if testing.Short() {
		t.Skip("starts Chromium")
	}
	blue, amber := color.RGBA{30, 90, 200, 255}, color.RGBA{250, 200, 0, 255}
	mapPNG, pictogram := solidPNG(t, 480, 360, blue), solidPNG(t, 64, 64, amber)
	var hits atomic.Int32
	maps := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		if r.URL.Path != "/maps/evacuation.png" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "image/png")
		w.Write(mapPNG)
	}))
	defer maps.Close()
	rs := startRegularWith(t, servertest.Options{CAPSources: []server.CAPSource{{ID: "canhbao", Sender: "canhbao@example.gov.vn",
		Policy: cap.AllowUnsigned, ResourceHosts: []string{strings.TrimPrefix(maps.URL, "http://")}, ResourceTimeout: 2 * time.Minute}}})
	pg := openRenderer(t, rs.p.Addr(), panelW, panelH)
	pg.wait("the schedule's image", `document.body.dataset.shown === '`+rs.sha+`'`)

	raw, err := os.ReadFile(filepath.Join("..", "server", "cap", "testdata", "flood-resources.xml"))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	ct := func(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05-07:00") }
	sum := sha1.Sum(mapPNG)
	doc := strings.NewReplacer("http://127.0.0.1:0", maps.URL,
		"2026-10-15T08:00:00+07:00", ct(now.Add(-time.Minute)),
		"2026-10-15T09:00:00+07:00", ct(now.Add(-time.Minute)), // in force now
		"2026-10-15T10:00:00+07:00", ct(now.Add(time.Hour)),
		"2026-10-15T12:00:00+07:00", ct(now.Add(2*time.Hour)),
		"MAP-SHA1", hex.EncodeToString(sum[:]), "PICTOGRAM-BASE64", base64.StdEncoding.EncodeToString(pictogram)).Replace(string(raw))
	req, _ := http.NewRequest("POST", rs.srv.URL+"/api/v1/cap", strings.NewReader(doc))
	req.Header.Set("Authorization", "Bearer "+rs.srv.Token)
	req.Header.Set("Content-Type", "application/cap+xml")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var ans struct {
		Outcome   string `json:"outcome"`
		Overrides []struct {
			ID    string   `json:"id"`
			Media []string `json:"media"`
		} `json:"overrides"`
	}
	if err := json.Unmarshal(body, &ans); err != nil || resp.StatusCode != 201 || len(ans.Overrides) != 1 || len(ans.Overrides[0].Media) != 2 {
		t.Fatalf("CAP alert: %d %s", resp.StatusCode, body)
	}
	id := ans.Overrides[0].ID
	pg.wait("the alert with both images", `(() => { const o = document.getElementById('override');
		const imgs = [...o.querySelectorAll('img.ovr-media-item')];
		return !o.hidden && o.dataset.id === '`+id+`' && o.dataset.level === 'critical' && o.dataset.lang === 'vi,en' &&
			o.innerText.includes('KHẨN CẤP: lũ lớn trên sông Hồng') && o.innerText.includes('EMERGENCY: major flood') &&
			imgs.length === 2 && imgs.every(i => i.complete && i.naturalWidth > 0); })()`)
	waitDelivery(t, rs.srv, id, rs.displayID, store_painted)
	img := pg.shot("cap-resources")
	var boxes []struct{ X, Y, Width, Height float64 }
	b, err := chromedp.Run(pg.ctx, chromedp.Evaluate[string](`JSON.stringify([...document.querySelectorAll('#override img.ovr-media-item')].map(i => { const r = i.getBoundingClientRect(); return {x: r.x, y: r.y, width: r.width, height: r.height}; }))`))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal([]byte(b), &boxes); err != nil {
		t.Fatal(err)
	}
	found := 0
	for _, bx := range boxes {
		for x := int(bx.X); x < int(bx.X+bx.Width); x += 2 {
			for y := int(bx.Y); y < int(bx.Y+bx.Height); y += 2 {
				if nearRGB(img.At(x, y), blue, 16) {
					found++
				}
			}
		}
	}
	if found < 100 {
		t.Errorf("the map's blue is not on screen (%d pixels in the image boxes %+v)", found, boxes)
	}
	if len(boxes) == 2 {
		a, c := boxes[0], boxes[1]
		if a.X < c.X+c.Width-1 && c.X < a.X+a.Width-1 && a.Y < c.Y+c.Height-1 && c.Y < a.Y+a.Height-1 {
			t.Errorf("the two images overlap: %+v", boxes)
		}
	}
	if n := hits.Load(); n != 1 {
		t.Errorf("the map server was asked %d times, want once", n)
	}
	if code := rs.srv.Do("POST", "/api/v1/overrides/"+id+"/cancel", nil, nil); code != 200 {
		t.Fatalf("cancel: %d", code)
	}
	rs.checkRegular(t, pg, "after-cap")
	if st := rs.p.Status(); st.ManifestVersion != rs.version {
		t.Errorf("the alert changed the manifest: %d, was %d", st.ManifestVersion, rs.version)
	}
}
