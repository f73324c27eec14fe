package server_test

import (
	"bytes"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"image"
	"image/color"
	"image/png"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"beacon/server"
	"beacon/server/cap"
	"beacon/server/servertest"
)

// testPNG is a w×h PNG in one colour.
func testPNG(t *testing.T, w, h int, c color.RGBA) []byte {
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

// resourceServer serves the files of the CAP resource tests on 127.0.0.1
// and counts the requests per path.
type resourceServer struct {
	*httptest.Server
	mu   sync.Mutex
	hits map[string]int
}

func (rs *resourceServer) hit(p string) int {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	return rs.hits[p]
}

func startResourceServer(t *testing.T, mapPNG []byte) *resourceServer {
	rs := &resourceServer{hits: map[string]int{}}
	mux := http.NewServeMux()
	mux.HandleFunc("/maps/evacuation.png", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "image/png")
		w.Write(mapPNG)
	})
	mux.HandleFunc("/page.png", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Write([]byte("<html><body>not an image</body></html>"))
	})
	mux.HandleFunc("/huge.png", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "image/png")
		w.Write(bytes.Repeat([]byte{0x89}, 2<<20)) // no Content-Length known in advance: streamed
	})
	mux.HandleFunc("/redirect.png", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "file:///etc/passwd", http.StatusFound)
	})
	mux.HandleFunc("/leaflet.pdf", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/pdf")
		w.Write([]byte("%PDF-1.4"))
	})
	rs.Server = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rs.mu.Lock()
		rs.hits[r.URL.Path]++
		rs.mu.Unlock()
		mux.ServeHTTP(w, r)
	}))
	rs.Start()
	t.Cleanup(rs.Close)
	return rs
}

// capDoc reads one of server/cap/testdata's resource messages and puts
// in the local server's address, times relative to now (sent a minute
// ago; effective and onset an hour from now; expiry in three hours) and
// the replacements given.
func capDoc(t *testing.T, name, base string, now time.Time, more ...string) []byte {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("cap", "testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	r := strings.NewReplacer(append([]string{
		"http://127.0.0.1:0", base,
		"2026-10-15T08:00:00+07:00", capTime(now.Add(-time.Minute)),
		"2026-10-15T09:00:00+07:00", capTime(now.Add(time.Hour)),
		"2026-10-15T10:00:00+07:00", capTime(now.Add(time.Hour)),
		"2026-10-15T12:00:00+07:00", capTime(now.Add(3 * time.Hour)),
	}, more...)...)
	return []byte(r.Replace(string(raw)))
}

type resourceAnswer struct {
	Outcome   string `json:"outcome"`
	Resources []struct {
		Description string `json:"description"`
		URI         string `json:"uri"`
		Inline      bool   `json:"inline"`
		MediaID     string `json:"media_id"`
		Kind        string `json:"kind"`
		Error       string `json:"error"`
	} `json:"resources"`
	Overrides []struct {
		ID string `json:"id"`
	} `json:"overrides"`
}

type resourceOverride struct {
	Status   string    `json:"status"`
	Media    []string  `json:"media"`
	StartsAt time.Time `json:"starts_at"`
}

// TestCAPResourcesFetchedAndAttached: a CAP alert's image resources, one
// fetched from its uri on an allowed host (SHA-1 digest checked) and one
// sent inline (derefUri), go into the media library and onto the
// override; its effective time an hour from now is the override's
// start. An alert none of whose resources can be taken (file: URI, a
// host not allowed, a page that is not an image, a missing file, one
// over the size limit, a wrong digest, a redirect to a file: URI, a PDF)
// makes a text-only override, with each reason in the answer and the
// audit log; its onset an hour from now is the start. Nothing but the
// allowed local server is ever asked for anything.
func TestCAPResourcesFetchedAndAttached(t *testing.T) {
	mapPNG := testPNG(t, 320, 240, color.RGBA{30, 90, 200, 255})
	pictogram := testPNG(t, 64, 64, color.RGBA{250, 200, 0, 255})
	rsrv := startResourceServer(t, mapPNG)
	host := strings.TrimPrefix(rsrv.URL, "http://")
	s := servertest.Start(t, servertest.Options{CAPSources: []server.CAPSource{{ID: "hanoi", Sender: "canhbao@example.gov.vn",
		Policy: cap.AllowUnsigned, ResourceHosts: []string{host}, ResourceMaxBytes: 1 << 20, ResourceTimeout: 90 * time.Second}}})
	mkDisplay(t, s, "Hoàn Kiếm", nil, f64(21.0285), f64(105.8542))
	now := time.Now()
	sum := sha1.Sum(mapPNG)

	doc := capDoc(t, "flood-resources.xml", rsrv.URL, now, "MAP-SHA1", hex.EncodeToString(sum[:]), "PICTOGRAM-BASE64", base64.StdEncoding.EncodeToString(pictogram))
	code, raw := doRaw(t, s, s.Token, "POST", "/api/v1/cap", doc, map[string]string{"Content-Type": "application/cap+xml"})
	var ans resourceAnswer
	mustJSON(t, raw, &ans)
	if code != 201 || ans.Outcome != "triggered" || len(ans.Overrides) != 1 {
		t.Fatalf("alert with resources: %d %s", code, raw)
	}
	if len(ans.Resources) != 2 {
		t.Fatalf("resources: want the map (once, though two info blocks name it) and the pictogram: %s", raw)
	}
	var ids []string
	for _, r := range ans.Resources {
		if r.Error != "" || r.MediaID == "" || r.Kind != "image" {
			t.Errorf("resource %q not taken: %+v", r.Description, r)
		}
		ids = append(ids, r.MediaID)
	}
	if !ans.Resources[1].Inline || ans.Resources[0].Inline {
		t.Errorf("inline flags: %+v", ans.Resources)
	}
	if rsrv.hit("/maps/evacuation.png") != 1 {
		t.Errorf("the map was fetched %d times, want once", rsrv.hit("/maps/evacuation.png"))
	}
	var ov resourceOverride
	if code := s.Do("GET", "/api/v1/overrides/"+ans.Overrides[0].ID, nil, &ov); code != 200 {
		t.Fatalf("override: %d", code)
	}
	if !sameIDs(ov.Media, ids) {
		t.Errorf("override media %v, want %v", ov.Media, ids)
	}
	if want := now.Add(time.Hour).Truncate(time.Second); !ov.StartsAt.Equal(want) || ov.Status != "scheduled" {
		t.Errorf("override starts %v (%s), want the alert's effective time %v (scheduled)", ov.StartsAt, ov.Status, want)
	}
	var m struct {
		SHA256 string `json:"sha256"`
		Kind   string `json:"kind"`
		Status string `json:"status"`
	}
	s.Do("GET", "/api/v1/media/"+ids[0], nil, &m)
	if want := sha256Hex(mapPNG); m.SHA256 != want || m.Kind != "image" || m.Status != "ready" {
		t.Errorf("the map in the media library: %+v, want sha256 %s, ready", m, want)
	}

	// None of these can be taken: the override has its text only.
	doc = capDoc(t, "flood-bad-resources.xml", rsrv.URL, now)
	code, raw = doRaw(t, s, s.Token, "POST", "/api/v1/cap", doc, map[string]string{"Content-Type": "application/cap+xml"})
	ans = resourceAnswer{}
	mustJSON(t, raw, &ans)
	if code != 201 || ans.Outcome != "triggered" || len(ans.Overrides) != 1 {
		t.Fatalf("alert with bad resources: %d %s", code, raw)
	}
	wantErr := []string{"scheme \"file\"", "not among the source's resource_hosts", "content type \"text/html", "404", "over the limit", "digest", "redirect", "not an image, audio or video"}
	if len(ans.Resources) != len(wantErr) {
		t.Fatalf("resources: %s", raw)
	}
	for i, r := range ans.Resources {
		if r.MediaID != "" || !strings.Contains(r.Error, wantErr[i]) {
			t.Errorf("resource %q: %+v, want refused with %q", r.Description, r, wantErr[i])
		}
	}
	ov = resourceOverride{}
	s.Do("GET", "/api/v1/overrides/"+ans.Overrides[0].ID, nil, &ov)
	if len(ov.Media) != 0 {
		t.Errorf("text-only override has media %v", ov.Media)
	}
	if want := now.Add(time.Hour).Truncate(time.Second); !ov.StartsAt.Equal(want) {
		t.Errorf("override starts %v, want the alert's onset %v", ov.StartsAt, want)
	}
	for _, p := range []string{"/leaflet.pdf", "/etc/passwd"} {
		if rsrv.hit(p) != 0 {
			t.Errorf("%s was fetched", p)
		}
	}
	if rsrv.hit("/redirect.png") != 1 || rsrv.hit("/page.png") != 1 {
		t.Errorf("hits %v", rsrv.hits)
	}
	rows := auditLog(t, s, "cap.accepted")
	found := false
	for _, r := range rows {
		if strings.Contains(r.Subject, "BEACON-TEST-RES-002") && strings.Contains(r.Details, "resource1=not shown: uri scheme \"file\"") &&
			strings.Contains(r.Details, "resource8=not shown:") {
			found = true
		}
	}
	if !found {
		t.Errorf("the reasons are not in the audit log: %+v", rows)
	}
}

func mustJSON(t *testing.T, raw []byte, v any) {
	t.Helper()
	if err := json.Unmarshal(raw, v); err != nil {
		t.Fatalf("answer %s: %v", raw, err)
	}
}

func sha256Hex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}
