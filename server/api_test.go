package server_test

import (
	"bytes"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"beacon/server/auth"
	"beacon/server/servertest"
	"beacon/server/store"
)

func testJPEG(t testing.TB, w, h int, c color.RGBA) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			img.SetRGBA(x, y, color.RGBA{c.R, uint8(int(c.G) + x%7), c.B, 255})
		}
	}
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, img, &jpeg.Options{Quality: 90}); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestAPIRequiresToken(t *testing.T) {
	s := servertest.Start(t, servertest.Options{})
	var e servertest.APIError
	if code := s.DoToken("", "GET", "/api/v1/displays", nil, &e); code != 401 || e.Error.Code != "unauthorized" || e.Error.Message == "" {
		t.Fatalf("no token: got %d %v", code, e)
	}
	if code := s.DoToken("bkn_not-a-real-token", "GET", "/api/v1/media", nil, &e); code != 401 {
		t.Fatalf("bad token: got %d %v", code, e)
	}
	if code := s.DoToken("bkd_display-session-token", "GET", "/api/v1/media", nil, &e); code != 403 || e.Error.Code != "display_token" {
		t.Fatalf("display token: got %d %v", code, e)
	}
	if code := s.Do("GET", "/api/v1/displays", nil, nil); code != 200 {
		t.Fatalf("admin token: got %d", code)
	}
	if code := s.Do("GET", "/api/v1/nope", nil, &e); code != 404 || e.Error.Code != "not_found" {
		t.Fatalf("unknown route: %d %v", code, e)
	}
}

func TestHealthAndMetrics(t *testing.T) {
	s := servertest.Start(t, servertest.Options{})
	for _, p := range []string{"/healthz", "/metrics"} {
		resp, err := http.Get(s.URL + p)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("%s: %d", p, resp.StatusCode)
		}
		if p == "/metrics" && !strings.Contains(string(b), "beacon_players_connected") {
			t.Fatalf("metrics lack beacon_players_connected")
		}
	}
}

// Every API route is in the OpenAPI document, and every documented path exists.
func TestOpenAPIDocumentsEveryRoute(t *testing.T) {
	s := servertest.Start(t, servertest.Options{})
	var doc struct {
		OpenAPI string                    `json:"openapi"`
		Paths   map[string]map[string]any `json:"paths"`
	}
	if code := s.DoToken("", "GET", "/api/v1/openapi.json", nil, &doc); code != 200 || !strings.HasPrefix(doc.OpenAPI, "3.") {
		t.Fatalf("openapi: %d %q", code, doc.OpenAPI)
	}
	documented := map[string]bool{}
	for p, ops := range doc.Paths {
		for m := range ops {
			documented[strings.ToUpper(m)+" "+p] = true
		}
	}
	param := regexp.MustCompile(`:(\w+)`)
	routed := map[string]bool{}
	for _, r := range s.App().GetRoutes(true) {
		if !strings.HasPrefix(r.Path, "/api/v1/") || r.Method == "HEAD" || r.Method == "USE" {
			continue
		}
		key := r.Method + " " + param.ReplaceAllString(strings.TrimPrefix(r.Path, "/api/v1"), "{$1}")
		routed[key] = true
		if !documented[key] {
			t.Errorf("route %s is not in openapi.json", key)
		}
	}
	var extra []string
	for k := range documented {
		// fiber routes HEAD with every GET, so routed HEADs are not
		// listed; a documented HEAD (the tus offset) is taken as routed.
		if !routed[k] && !strings.HasPrefix(k, "HEAD ") {
			extra = append(extra, k)
		}
	}
	sort.Strings(extra)
	if len(extra) > 0 {
		t.Errorf("openapi.json documents routes that do not exist: %v", extra)
	}
}

func TestUploadDedupAndRenditions(t *testing.T) {
	s := servertest.Start(t, servertest.Options{})
	jpg := testJPEG(t, 800, 600, color.RGBA{200, 30, 30, 255})
	var m1, m2 servertest.Media
	if code := s.Upload("photo.jpg", jpg, &m1); code != 201 {
		t.Fatalf("upload: %d", code)
	}
	if m1.Width != 800 || m1.Height != 600 || len(m1.SHA256) != 64 {
		t.Fatalf("media: %+v", m1)
	}
	if code := s.Upload("again.jpg", jpg, &m2); code != 200 || m2.ID != m1.ID {
		t.Fatalf("re-upload: %d %s vs %s", code, m2.ID, m1.ID)
	}
	var got servertest.Media
	if code := s.Do("GET", "/api/v1/media/"+m1.ID, nil, &got); code != 200 || got.Status != "ready" && got.Status != "processing" {
		t.Fatalf("get media: %d %+v", code, got)
	}
}

func TestBadUploadsAreRefusedAndServerKeepsRunning(t *testing.T) {
	s := servertest.Start(t, servertest.Options{MaxUploadBytes: 64 << 10})
	jpg := testJPEG(t, 200, 100, color.RGBA{10, 200, 10, 255})
	cases := []struct {
		name, file string
		data       []byte
		status     int
		code       string
		mention    string
	}{
		{"truncated jpeg", "cut.jpg", jpg[:len(jpg)/2], 422, "corrupt_media", "cut.jpg"},
		{"text named jpg", "notes.jpg", []byte("hello, this is not a picture\n"), 415, "unsupported_media", "not a supported image"},
		{"png bomb", "bomb.png", pngHeader(100000, 100000), 422, "image_too_large", "100000"},
		{"too large", "big.jpg", bytes.Repeat([]byte{0xff}, 100<<10), 413, "too_large", "upload limit"},
		{"empty", "empty.jpg", nil, 415, "unsupported_media", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var e servertest.APIError
			code := s.Upload(tc.file, tc.data, &e)
			if code != tc.status || e.Error.Code != tc.code || !strings.Contains(e.Error.Message, tc.mention) {
				t.Fatalf("got %d %v, want %d %s mentioning %q", code, e, tc.status, tc.code, tc.mention)
			}
		})
	}
	// Nothing half-stored: no media items, no blobs, no temp files left.
	var list struct{ Media []servertest.Media }
	s.Do("GET", "/api/v1/media", nil, &list)
	if len(list.Media) != 0 {
		t.Fatalf("refused uploads left media items: %+v", list.Media)
	}
	leftovers := 0
	_ = filepath.Walk(filepath.Join(s.DataDir, "media"), func(p string, info os.FileInfo, err error) error {
		if err == nil && !info.IsDir() {
			leftovers++
			t.Logf("left: %s", p)
		}
		return nil
	})
	if leftovers != 0 {
		t.Fatalf("%d files left in the media store", leftovers)
	}
	// And the server still works.
	var m servertest.Media
	if code := s.Upload("ok.jpg", jpg, &m); code != 201 {
		t.Fatalf("good upload after bad ones: %d", code)
	}
	resp, err := http.Get(s.URL + "/healthz")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("healthz after bad uploads: %v", err)
	}
	resp.Body.Close()
}

// pngHeader is a PNG whose header claims w×h pixels, with a tiny body.
func pngHeader(w, h int) []byte {
	img := image.NewGray(image.Rect(0, 0, 1, 1))
	var buf bytes.Buffer
	_ = png.Encode(&buf, img)
	b := buf.Bytes()
	// IHDR data starts at byte 16: width, height big-endian; then fix its CRC.
	put := func(off, v int) { b[off], b[off+1], b[off+2], b[off+3] = byte(v>>24), byte(v>>16), byte(v>>8), byte(v) }
	put(16, w)
	put(20, h)
	crc := crc32IEEE(b[12:29])
	put(29, int(crc))
	return b
}

func TestOrganisationsAreIsolated(t *testing.T) {
	s := servertest.Start(t, servertest.Options{})
	_, other := s.NewOrg("Other province")
	var m servertest.Media
	if code := s.Upload("mine.jpg", testJPEG(t, 64, 64, color.RGBA{1, 2, 3, 255}), &m); code != 201 {
		t.Fatal(code)
	}
	var e servertest.APIError
	if code := s.DoToken(other, "GET", "/api/v1/media/"+m.ID, nil, &e); code != 404 {
		t.Fatalf("other org reads media: %d", code)
	}
	var list struct{ Media []servertest.Media }
	s.DoToken(other, "GET", "/api/v1/media", nil, &list)
	if len(list.Media) != 0 {
		t.Fatalf("other org lists %d media", len(list.Media))
	}
	if code := s.DoToken(other, "GET", "/api/v1/files/"+m.SHA256, nil, nil); code != 404 {
		t.Fatalf("other org downloads file: %d", code)
	}
	var pl map[string]any
	code := s.DoToken(other, "POST", "/api/v1/playlists", map[string]any{"name": "steal", "items": []map[string]any{{"media_id": m.ID}}}, &pl)
	if code != 400 {
		t.Fatalf("other org builds a playlist from foreign media: %d %v", code, pl)
	}
}

func TestRolesAreEnforced(t *testing.T) {
	s := servertest.Start(t, servertest.Options{})
	var tok struct{ Token string }
	if code := s.Do("POST", "/api/v1/tokens", map[string]string{"name": "wall", "role": "viewer"}, &tok); code != 201 || tok.Token == "" {
		t.Fatalf("create viewer token: %d", code)
	}
	var e servertest.APIError
	if code := s.UploadToken(tok.Token, "x.jpg", testJPEG(t, 32, 32, color.RGBA{}), &e); code != 403 || e.Error.Code != "forbidden" {
		t.Fatalf("viewer uploads: %d %v", code, e)
	}
	if code := s.DoToken(tok.Token, "GET", "/api/v1/media", nil, nil); code != 200 {
		t.Fatalf("viewer reads: %d", code)
	}
	if code := s.DoToken(tok.Token, "POST", "/api/v1/tokens", map[string]string{"name": "x", "role": "admin"}, &e); code != 403 {
		t.Fatalf("viewer mints admin token: %d", code)
	}
}

func TestLogin(t *testing.T) {
	s := servertest.Start(t, servertest.Options{})
	hash, err := auth.HashPassword("quảng trường 2026")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Store().CreateUser(t.Context(), store.User{OrgID: s.OrgID, Username: "admin", PasswordHash: hash, Role: store.RoleAdmin}); err != nil {
		t.Fatal(err)
	}
	var e servertest.APIError
	if code := s.DoToken("", "POST", "/api/v1/auth/login", map[string]string{"username": "admin", "password": "wrong"}, &e); code != 401 {
		t.Fatalf("wrong password: %d", code)
	}
	var tok struct{ Token string }
	if code := s.DoToken("", "POST", "/api/v1/auth/login", map[string]string{"username": "admin", "password": "quảng trường 2026"}, &tok); code != 201 || tok.Token == "" {
		t.Fatalf("right password: %d", code)
	}
	if code := s.DoToken(tok.Token, "GET", "/api/v1/me", nil, nil); code != 200 {
		t.Fatalf("login token: %d", code)
	}
	// Guessing is slowed down.
	code := 0
	for i := 0; i < 12 && code != 429; i++ {
		code = s.DoToken("", "POST", "/api/v1/auth/login", map[string]string{"username": "admin", "password": "guess"}, &e)
	}
	if code != 429 || e.Error.Code != "too_many_attempts" {
		t.Fatalf("twelve wrong passwords in a row: %d %v", code, e)
	}
}

func TestClaimUnknownCode(t *testing.T) {
	s := servertest.Start(t, servertest.Options{})
	var e servertest.APIError
	code := s.Do("POST", "/api/v1/displays/claim", map[string]any{"code": "ZZZZZZ", "name": "x", "width": 1920, "height": 1080}, &e)
	if code != 404 || e.Error.Code != "unknown_code" {
		t.Fatalf("got %d %v", code, e)
	}
	code = s.Do("POST", "/api/v1/displays/claim", map[string]any{"code": "ZZZZZZ", "name": "x", "width": 1, "height": 1080}, &e)
	if code != 400 || !strings.Contains(e.Error.Message, "width") {
		t.Fatalf("got %d %v", code, e)
	}
	code = s.Do("POST", "/api/v1/displays/claim", map[string]any{"code": "ZZZZZZ", "name": "x", "width": 1920, "height": 1080, "fit": "zoom"}, &e)
	if code != 400 || !strings.Contains(e.Error.Message, "fit") {
		t.Fatalf("got %d %v", code, e)
	}
}
