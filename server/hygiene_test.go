package server_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"image/color"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"beacon/server"
	"beacon/server/servertest"
)

// raw sends body as it is, with the admin token and the given Content-Type
// ("" sends none), and decodes an API error.
func raw(t *testing.T, s *servertest.Server, method, path, contentType, body string) (int, servertest.APIError, http.Header) {
	t.Helper()
	req, err := http.NewRequest(method, s.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	req.Header.Set("Authorization", "Bearer "+s.Token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	var e servertest.APIError
	b, _ := io.ReadAll(resp.Body)
	_ = json.Unmarshal(b, &e)
	return resp.StatusCode, e, resp.Header
}

// jsonEndpoints are every route that reads a JSON body, with a body each
// accepts, on objects that exist.
func jsonEndpoints(t *testing.T, s *servertest.Server) []struct{ method, path, body string } {
	t.Helper()
	var cl, pl, it, lay, sc struct{ ID string }
	mustCreate := func(path string, body any, out any) {
		t.Helper()
		var e servertest.APIError
		if code := s.Do("POST", path, body, out); code != 201 {
			s.Do("POST", path, body, &e)
			t.Fatalf("POST %s: %d %v", path, code, e)
		}
	}
	mustCreate("/api/v1/clusters", map[string]any{"name": "Gate"}, &cl)
	mustCreate("/api/v1/playlists", map[string]any{"name": "Loop", "items": []any{}}, &pl)
	mustCreate("/api/v1/items", map[string]any{"kind": "text", "variants": map[string]any{"en": map[string]any{"text": "Hello"}}}, &it)
	mustCreate("/api/v1/layouts", map[string]any{"name": "Full", "zones": []map[string]any{{"id": "main", "w": 100, "h": 100}}}, &lay)
	mustCreate("/api/v1/schedules", map[string]any{"target": map[string]any{"cluster_ids": []string{cl.ID}}, "content": map[string]any{"playlist_id": pl.ID}}, &sc)
	schedule := `{"target":{"cluster_ids":["` + cl.ID + `"]},"content":{"playlist_id":"` + pl.ID + `"}}`
	return []struct{ method, path, body string }{
		{"POST", "/api/v1/auth/login", `{"username":"nobody","password":"x"}`},
		{"POST", "/api/v1/tokens", `{"name":"scripts","role":"viewer"}`},
		{"POST", "/api/v1/displays/claim", `{"code":"ZZZZZZ","name":"Wall","width":1920,"height":1080}`},
		{"PATCH", "/api/v1/displays/dsp_nope", `{"name":"Wall"}`},
		{"POST", "/api/v1/clusters", `{"name":"Square"}`},
		{"PUT", "/api/v1/clusters/" + cl.ID, `{"name":"Square"}`},
		{"POST", "/api/v1/playlists", `{"name":"Morning","items":[]}`},
		{"PUT", "/api/v1/playlists/" + pl.ID, `{"name":"Morning","items":[]}`},
		{"POST", "/api/v1/items", `{"kind":"text","variants":{"en":{"text":"Hi"}}}`},
		{"PUT", "/api/v1/items/" + it.ID, `{"kind":"text","variants":{"en":{"text":"Hi"}}}`},
		{"POST", "/api/v1/layouts", `{"name":"Full","zones":[{"id":"main","w":100,"h":100}]}`},
		{"PUT", "/api/v1/layouts/" + lay.ID, `{"name":"Full","zones":[{"id":"main","w":100,"h":100}]}`},
		{"POST", "/api/v1/schedules", schedule},
		{"PUT", "/api/v1/schedules/" + sc.ID, schedule},
	}
}

// TestJSONBodiesAreStrictAndTyped: every JSON endpoint wants
// Content-Type: application/json (415 otherwise, whatever the body says)
// and decodes strictly with one error code and a message that names the
// problem.
func TestJSONBodiesAreStrictAndTyped(t *testing.T) {
	s := servertest.Start(t, servertest.Options{})
	for _, ep := range jsonEndpoints(t, s) {
		types := []string{"", "text/plain", "application/x-www-form-urlencoded"}
		if ep.path == "/api/v1/auth/login" {
			types = types[:1] // ten tries a minute
		}
		for _, ct := range types {
			code, e, _ := raw(t, s, ep.method, ep.path, ct, ep.body)
			if code != 415 || e.Error.Code != "unsupported_media_type" || !strings.Contains(e.Error.Message, "application/json") {
				t.Errorf("%s %s with Content-Type %q: %d %v, want 415 unsupported_media_type", ep.method, ep.path, ct, code, e)
			}
		}
		// The same body with the right type is past the decoder (whatever
		// the handler then says about its content).
		if code, e, _ := raw(t, s, ep.method, ep.path, "application/json; charset=utf-8", ep.body); code == 415 || e.Error.Code == "bad_json" {
			t.Errorf("%s %s with a good body: %d %v", ep.method, ep.path, code, e)
		}
		bad := []struct{ body, mention string }{
			{ep.body[:len(ep.body)-1] + `,"colour":"red"}`, `"colour"`},
			{`{"` + firstKey(ep.body) + `": [true]}`, `"` + firstKey(ep.body) + `" must be`},
			{ep.body + ` {"name":"again"}`, "exactly one JSON value"},
			{ep.body[:len(ep.body)/2], "JSON"},
			{`{"name": "x",}`, "byte"},
			{``, "empty"},
			{`[1, 2]`, "must be"},
		}
		for _, b := range bad {
			code, e, _ := raw(t, s, ep.method, ep.path, "application/json", b.body)
			if code != 400 || e.Error.Code != "bad_json" || !strings.Contains(e.Error.Message, b.mention) {
				t.Errorf("%s %s with %q: %d %v, want 400 bad_json mentioning %s", ep.method, ep.path, b.body, code, e, b.mention)
			}
		}
	}
}

func firstKey(body string) string {
	return strings.SplitN(body, `"`, 3)[1]
}

// routeMatches reports whether a fiber route pattern matches a concrete path.
func routeMatches(pattern, path string) bool {
	ps, xs := strings.Split(pattern, "/"), strings.Split(path, "/")
	if len(ps) != len(xs) {
		return false
	}
	for i := range ps {
		if strings.HasPrefix(ps[i], ":") {
			if xs[i] == "" {
				return false
			}
		} else if ps[i] != xs[i] {
			return false
		}
	}
	return true
}

// TestWrongMethodIs405WithAllow walks the whole route table: every method a
// path does not have gets 405 with an Allow header listing exactly the
// methods it has; a path with no route at all stays 404.
func TestWrongMethodIs405WithAllow(t *testing.T) {
	s := servertest.Start(t, servertest.Options{})
	routes := s.App().GetRoutes(true)
	param := regexp.MustCompile(`:\w+`)
	seen := map[string]bool{}
	tested := 0
	for _, r := range routes {
		if r.Method == "USE" || !strings.HasPrefix(r.Path, "/") {
			continue
		}
		path := param.ReplaceAllString(r.Path, "zz0")
		if seen[path] {
			continue
		}
		seen[path] = true
		allowed := map[string]bool{}
		for _, o := range routes {
			if o.Method != "USE" && routeMatches(o.Path, path) {
				allowed[o.Method] = true
			}
		}
		var want []string
		for m := range allowed {
			want = append(want, m)
		}
		sort.Strings(want)
		for _, m := range []string{"GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"} {
			if allowed[m] {
				continue
			}
			tested++
			code, e, h := raw(t, s, m, path, "application/json", `{}`)
			var got []string
			for _, a := range strings.Split(h.Get("Allow"), ",") {
				if a = strings.TrimSpace(a); a != "" {
					got = append(got, a)
				}
			}
			sort.Strings(got)
			if code != 405 || e.Error.Code != "method_not_allowed" || strings.Join(got, ",") != strings.Join(want, ",") {
				t.Errorf("%s %s: %d %v Allow %q, want 405 Allow %v", m, path, code, e, h.Get("Allow"), want)
			}
		}
	}
	if tested < 100 {
		t.Fatalf("only %d wrong-method requests: the route table walk is broken", tested)
	}
	for _, p := range []string{"/api/v1/nope", "/nope", "/api/v1/displays/zz0/nope"} {
		if code, e, _ := raw(t, s, "GET", p, "", ""); code != 404 || e.Error.Code != "not_found" || !strings.Contains(e.Error.Message, "no route") {
			t.Errorf("GET %s: %d %v, want 404", p, code, e)
		}
	}
}

// TestNotFoundSaysWhatIsMissing: a missing object gets 404 not_found
// naming its kind and id, from the one error handler.
func TestNotFoundSaysWhatIsMissing(t *testing.T) {
	s := servertest.Start(t, servertest.Options{})
	cases := []struct{ method, path, body, noun string }{
		{"GET", "/api/v1/displays/dsp_x", "", "display"},
		{"PATCH", "/api/v1/displays/dsp_x", `{"name":"a"}`, "display"},
		{"DELETE", "/api/v1/displays/dsp_x", "", "display"},
		{"GET", "/api/v1/displays/dsp_x/timeline", "", "display"},
		{"GET", "/api/v1/displays/dsp_x/now", "", "display"},
		{"GET", "/api/v1/displays/dsp_x/smil", "", "display"},
		{"GET", "/api/v1/clusters/cls_x", "", "cluster"},
		{"PUT", "/api/v1/clusters/cls_x", `{"name":"a"}`, "cluster"},
		{"DELETE", "/api/v1/clusters/cls_x", "", "cluster"},
		{"GET", "/api/v1/media/med_x", "", "media item"},
		{"DELETE", "/api/v1/media/med_x", "", "media item"},
		{"GET", "/api/v1/media/med_x/original", "", "media item"},
		{"POST", "/api/v1/media/med_x/retry", "", "media item"},
		{"GET", "/api/v1/jobs/job_x", "", "job"},
		{"POST", "/api/v1/jobs/job_x/cancel", "", "job"},
		{"GET", "/api/v1/playlists/pls_x", "", "playlist"},
		{"PUT", "/api/v1/playlists/pls_x", `{"name":"a","items":[]}`, "playlist"},
		{"DELETE", "/api/v1/playlists/pls_x", "", "playlist"},
	}
	for _, r := range []string{"items", "layouts", "schedules"} {
		for _, m := range []string{"GET", "PUT", "DELETE"} {
			cases = append(cases, struct{ method, path, body, noun string }{m, "/api/v1/" + r + "/doc_x", `{}`, strings.TrimSuffix(r, "s")})
		}
	}
	for _, tc := range cases {
		ct := ""
		if tc.body != "" {
			ct = "application/json"
		}
		code, e, _ := raw(t, s, tc.method, tc.path, ct, tc.body)
		id := tc.path[strings.LastIndex(tc.path, "_")-3:]
		id = id[:strings.IndexAny(id+"/", "/")]
		want := "no such " + tc.noun + ": " + id
		if code != 404 || e.Error.Code != "not_found" || e.Error.Message != want {
			t.Errorf("%s %s: %d %v, want 404 %q", tc.method, tc.path, code, e, want)
		}
	}
}

// mediaFiles lists the files in the server's media store (not its temp
// directory).
func mediaFiles(t *testing.T, s *servertest.Server) []string {
	t.Helper()
	var out []string
	root := filepath.Join(s.DataDir, "media")
	_ = filepath.Walk(root, func(p string, info os.FileInfo, err error) error {
		if err == nil && !info.IsDir() && !strings.HasPrefix(p, filepath.Join(root, "tmp")+"/") {
			out = append(out, p)
		}
		return nil
	})
	return out
}

func rendition(m servertest.Media, profile string) (w, h int, sha string) {
	for _, r := range m.Renditions {
		if r.Profile == profile {
			return r.Width, r.Height, r.SHA256
		}
	}
	return 0, 0, ""
}

// TestVideoPosterHasItsSize: a 640×360 video's poster rendition reports
// 640×360 (it said 0×0); deleting the video removes the original and every
// file made from it.
func TestVideoPosterHasItsSize(t *testing.T) {
	s := servertest.Start(t, servertest.Options{MediaWorker: servertest.Worker()})
	var m servertest.Media
	if code := s.Upload("clip.mp4", makeClip(t, "clip.mp4", 1, "640x360"), &m); code != 201 {
		t.Fatalf("upload: %d", code)
	}
	servertest.Eventually(t, 90*time.Second, "poster made", func() bool {
		if js := jobsOf(s, m.ID); len(js) > 0 && js[0].Status == "failed" {
			t.Fatalf("job failed: %s", js[0].Error)
		}
		s.Do("GET", "/api/v1/media/"+m.ID, nil, &m)
		_, _, sha := rendition(m, "thumb")
		return m.Status == "ready" && sha != ""
	})
	if w, h, _ := rendition(m, "poster"); w != 640 || h != 360 {
		t.Fatalf("poster is %d×%d, want 640×360: %+v", w, h, m.Renditions)
	}
	if w, h, _ := rendition(m, "thumb"); w != 320 || h != 180 {
		t.Fatalf("thumbnail is %d×%d, want 320×180", w, h)
	}
	if m.Width != 640 || m.Height != 360 {
		t.Fatalf("video is %d×%d", m.Width, m.Height)
	}
	if code := s.Do("DELETE", "/api/v1/media/"+m.ID, nil, nil); code != 204 {
		t.Fatalf("delete video: %d", code)
	}
	if left := mediaFiles(t, s); len(left) != 0 {
		t.Fatalf("deleting the video left files: %v", left)
	}
}

// TestDeleteMediaAndDownloadOriginal: an item in use cannot be deleted
// (409 naming the user); a deleted item's files go only when no item of any
// organisation shares them; the original downloads with its name and with
// Range.
func TestDeleteMediaAndDownloadOriginal(t *testing.T) {
	s := servertest.Start(t, servertest.Options{})
	orgB, tokB := s.NewOrg("Other province")
	_ = orgB
	jpg := testJPEG(t, 400, 300, color.RGBA{200, 100, 30, 255})
	const name = "quảng trường.jpg"
	var a, b servertest.Media
	if code := s.Upload(name, jpg, &a); code != 201 {
		t.Fatalf("upload A: %d", code)
	}
	if code := s.UploadToken(tokB, "same.jpg", jpg, &b); code != 201 || b.SHA256 != a.SHA256 {
		t.Fatalf("upload B: %d", code)
	}
	ready := func(token, id string) servertest.Media {
		var m servertest.Media
		servertest.Eventually(t, 30*time.Second, "thumbnail of "+id, func() bool {
			s.DoToken(token, "GET", "/api/v1/media/"+id, nil, &m)
			_, _, sha := rendition(m, "thumb")
			return m.Status == "ready" && sha != ""
		})
		return m
	}
	a, b = ready(s.Token, a.ID), ready(tokB, b.ID)
	_, _, thumbA := rendition(a, "thumb")
	_, _, thumbB := rendition(b, "thumb")
	if thumbA != thumbB {
		t.Fatalf("equal originals made different thumbnails: the sharing case is not tested")
	}

	// The original, whole and in part.
	get := func(rng string) (*http.Response, []byte) {
		req, _ := http.NewRequest("GET", s.URL+"/api/v1/media/"+a.ID+"/original", nil)
		req.Header.Set("Authorization", "Bearer "+s.Token)
		if rng != "" {
			req.Header.Set("Range", rng)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp, body
	}
	resp, body := get("")
	_, params, _ := mime.ParseMediaType(resp.Header.Get("Content-Disposition"))
	if resp.StatusCode != 200 || !bytes.Equal(body, jpg) || resp.Header.Get("Content-Type") != "image/jpeg" || params["filename"] != name ||
		!strings.HasPrefix(resp.Header.Get("Content-Disposition"), "attachment") {
		t.Fatalf("original: %d %d bytes %q %q", resp.StatusCode, len(body), resp.Header.Get("Content-Type"), resp.Header.Get("Content-Disposition"))
	}
	resp, body = get("bytes=10-19")
	if resp.StatusCode != 206 || !bytes.Equal(body, jpg[10:20]) || resp.Header.Get("Content-Range") != fmt.Sprintf("bytes 10-19/%d", len(jpg)) {
		t.Fatalf("range: %d %q %q", resp.StatusCode, body, resp.Header.Get("Content-Range"))
	}
	if code := s.DoToken(tokB, "GET", "/api/v1/media/"+a.ID+"/original", nil, nil); code != 404 {
		t.Fatalf("another organisation downloads the original: %d", code)
	}

	// In use: refused, saying by what.
	var it, pl struct{ ID string }
	s.Do("POST", "/api/v1/items", map[string]any{"kind": "image", "name": "Square photo", "variants": map[string]any{"vi": map[string]any{"media_id": a.ID}}}, &it)
	var e servertest.APIError
	if code := s.Do("DELETE", "/api/v1/media/"+a.ID, nil, &e); code != 409 || e.Error.Code != "in_use" || !strings.Contains(e.Error.Message, it.ID) {
		t.Fatalf("delete media used by an item: %d %v", code, e)
	}
	s.Do("DELETE", "/api/v1/items/"+it.ID, nil, nil)
	s.Do("POST", "/api/v1/playlists", map[string]any{"name": "Loop", "items": []map[string]any{{"media_id": a.ID}}}, &pl)
	if code := s.Do("DELETE", "/api/v1/media/"+a.ID, nil, &e); code != 409 || e.Error.Code != "in_use" || !strings.Contains(e.Error.Message, pl.ID) {
		t.Fatalf("delete media used by a playlist: %d %v", code, e)
	}
	s.Do("DELETE", "/api/v1/playlists/"+pl.ID, nil, nil)

	// A viewer may download but not delete.
	var tok struct{ Token string }
	s.Do("POST", "/api/v1/tokens", map[string]string{"name": "wall", "role": "viewer"}, &tok)
	if code := s.DoToken(tok.Token, "DELETE", "/api/v1/media/"+a.ID, nil, &e); code != 403 {
		t.Fatalf("viewer deletes: %d", code)
	}
	if code := s.DoToken(tok.Token, "GET", "/api/v1/media/"+a.ID+"/original", nil, nil); code != 200 {
		t.Fatalf("viewer downloads: %d", code)
	}

	// A deletes: B's copy of the same bytes keeps working.
	files := len(mediaFiles(t, s))
	if code := s.Do("DELETE", "/api/v1/media/"+a.ID, nil, &e); code != 204 {
		t.Fatalf("delete A: %d %v", code, e)
	}
	if code := s.Do("GET", "/api/v1/media/"+a.ID, nil, &e); code != 404 {
		t.Fatalf("deleted media still there: %d", code)
	}
	if left := len(mediaFiles(t, s)); left != files {
		t.Fatalf("deleting A removed shared files: %d → %d", files, left)
	}
	for _, p := range []string{"/api/v1/media/" + b.ID + "/original", "/api/v1/files/" + thumbB} {
		if code := s.DoToken(tokB, "GET", p, nil, nil); code != 200 {
			t.Fatalf("B after A was deleted: GET %s: %d", p, code)
		}
	}
	// B deletes: nothing is left.
	if code := s.DoToken(tokB, "DELETE", "/api/v1/media/"+b.ID, nil, &e); code != 204 {
		t.Fatalf("delete B: %d %v", code, e)
	}
	if left := mediaFiles(t, s); len(left) != 0 {
		t.Fatalf("files left after both copies were deleted: %v", left)
	}
}

// TestDemoTickerStatesTheDemoHours: the demo's ticker tells passers-by the
// hours its cluster really runs, and the demo screen is on at every hour
// those hours cover.
func TestDemoTickerStatesTheDemoHours(t *testing.T) {
	dir := t.TempDir()
	srv, err := server.New(t.Context(), server.Config{DataDir: dir, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	res, err := srv.SeedDemo(t.Context(), filepath.Join(dir, "player"))
	srv.Close()
	if err != nil || !res.Seeded || res.DisplayID == "" {
		t.Fatalf("seed demo: %v %+v", err, res)
	}
	s := servertest.Start(t, servertest.Options{DataDir: dir})
	var cls struct {
		Clusters []struct {
			Timezone string
			Hours    []struct{ Start, End string }
		}
	}
	if code := s.Do("GET", "/api/v1/clusters", nil, &cls); code != 200 || len(cls.Clusters) != 1 {
		t.Fatalf("clusters: %d %+v", code, cls)
	}
	hours := cls.Clusters[0].Hours
	var items struct {
		Items []struct {
			Kind     string
			Variants map[string]struct{ Text string }
		}
	}
	s.Do("GET", "/api/v1/items", nil, &items)
	var en, vi string
	for _, it := range items.Items {
		if it.Kind == "text" {
			en, vi = it.Variants["en"].Text, it.Variants["vi"].Text
		}
	}
	if en == "" || vi == "" {
		t.Fatalf("no bilingual ticker in the demo: %+v", items)
	}
	allDay := len(hours) == 1 && hours[0].Start == hours[0].End
	if allDay {
		if !strings.Contains(en, "around the clock") || !strings.Contains(vi, "suốt ngày đêm") || regexp.MustCompile(`\d\d:\d\d`).MatchString(en+vi) {
			t.Fatalf("the cluster runs all day but the ticker says %q / %q", en, vi)
		}
	} else {
		for _, w := range hours {
			if !strings.Contains(en, "from "+w.Start+" to "+w.End) || !strings.Contains(vi, "từ "+w.Start+" đến "+w.End) {
				t.Fatalf("the cluster runs %v but the ticker says %q / %q", hours, en, vi)
			}
		}
	}
	loc, err := time.LoadLocation(cls.Clusters[0].Timezone)
	if err != nil {
		t.Fatal(err)
	}
	day := time.Date(2026, 9, 2, 0, 30, 0, 0, loc)
	for h := 0; h < 24; h++ {
		at := day.Add(time.Duration(h) * time.Hour)
		on := allDay
		for _, w := range hours {
			clock := at.Format("15:04")
			on = on || clock >= w.Start && clock < w.End
		}
		var now struct {
			Now struct {
				Off   bool
				Zones []struct{ Zone string }
			}
		}
		if code := s.Do("GET", "/api/v1/displays/"+res.DisplayID+"/now?at="+url.QueryEscape(at.Format(time.RFC3339)), nil, &now); code != 200 {
			t.Fatalf("now: %d", code)
		}
		if now.Now.Off == on || on && len(now.Now.Zones) == 0 {
			t.Fatalf("at %s the demo screen is off=%v with %d zones; its hours are %v", at.Format("15:04"), now.Now.Off, len(now.Now.Zones), hours)
		}
	}
}

// TestDeleteWhileTheSameBytesAreUploaded: one organisation deletes its item
// while another uploads the same bytes; whatever the order, every item that
// exists afterwards still has its original on disk.
func TestDeleteWhileTheSameBytesAreUploaded(t *testing.T) {
	s := servertest.Start(t, servertest.Options{})
	_, tokB := s.NewOrg("Other province")
	for i := 0; i < 40; i++ {
		jpg := testJPEG(t, 64, 48, color.RGBA{uint8(i), 80, 160, 255})
		var a servertest.Media
		if code := s.Upload("a.jpg", jpg, &a); code != 201 {
			t.Fatalf("upload A: %d", code)
		}
		done := make(chan int)
		go func() {
			req, _ := http.NewRequest("DELETE", s.URL+"/api/v1/media/"+a.ID, nil)
			req.Header.Set("Authorization", "Bearer "+s.Token)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				done <- 0
				return
			}
			resp.Body.Close()
			done <- resp.StatusCode
		}()
		codeB := s.UploadToken(tokB, "b.jpg", jpg, nil)
		var list struct{ Media []servertest.Media }
		s.DoToken(tokB, "GET", "/api/v1/media", nil, &list)
		if len(list.Media) > 1 || (codeB == 200 || codeB == 201) != (len(list.Media) == 1) {
			t.Fatalf("round %d: upload B %d, B holds %d items", i, codeB, len(list.Media))
		}
		if codeA := <-done; codeA != 204 {
			t.Fatalf("delete A: %d", codeA)
		}
		switch codeB {
		case 201, 200:
			b := list.Media[0]
			req, _ := http.NewRequest("GET", s.URL+"/api/v1/media/"+b.ID+"/original", nil)
			req.Header.Set("Authorization", "Bearer "+tokB)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 || !bytes.Equal(body, jpg) {
				t.Fatalf("round %d: B's item exists but its original is gone: %d %q", i, resp.StatusCode, body)
			}
		case 409: // told to upload again
		default:
			t.Fatalf("upload B: %d", codeB)
		}
		for _, b := range list.Media {
			s.DoToken(tokB, "DELETE", "/api/v1/media/"+b.ID, nil, nil)
		}
	}
}
