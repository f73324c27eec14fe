package server_test

import (
	"database/sql"
	"fmt"
	"image/color"
	"path/filepath"
	"testing"
	"time"

	"beacon/server/servertest"
	"beacon/server/store"
)

// seedLibrary adds n media items to org, each with a thumbnail and a panel
// rendition, straight into the database in one transaction (uploading
// 10,000 files would measure the upload path, not the list).
func seedLibrary(t testing.TB, s *servertest.Server, org string, n int) {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+filepath.Join(s.DataDir, "beacon.db")+"?_pragma=busy_timeout(10000)&_pragma=foreign_keys(1)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	tx, err := db.Begin()
	if err != nil {
		t.Fatal(err)
	}
	ins, err := tx.Prepare(`INSERT INTO media (id, org_id, sha256, filename, content_type, kind, size, width, height, status, error, created_at, probe, duration_s)
		VALUES (?, ?, ?, ?, ?, ?, ?, 1920, 1080, ?, '', ?, '', ?)`)
	if err != nil {
		t.Fatal(err)
	}
	rend, err := tx.Prepare(`INSERT INTO renditions (media_id, profile, width, height, sha256, size, content_type, created_at) VALUES (?, ?, ?, ?, ?, ?, 'image/jpeg', ?)`)
	if err != nil {
		t.Fatal(err)
	}
	tag, err := tx.Prepare(`INSERT INTO media_tags (media_id, tag) VALUES (?, ?)`)
	if err != nil {
		t.Fatal(err)
	}
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	kinds := []string{"image", "video", "audio"}
	states := []string{store.MediaReady, store.MediaReady, store.MediaProcessing, store.MediaFailed}
	for i := range n {
		id := fmt.Sprintf("med_seed%06d%s", i, org[len(org)-4:])
		sha := fmt.Sprintf("%064x", uint64(i)<<20|uint64(len(org)))
		created := base.Add(time.Duration(i) * time.Second).Format("2006-01-02T15:04:05.000000000Z")
		kind := kinds[i%3]
		if _, err := ins.Exec(id, org, sha+org[:0], fmt.Sprintf("seed %05d.%s", i, map[string]string{"image": "jpg", "video": "mp4", "audio": "mp3"}[kind]),
			"image/jpeg", kind, int64(1000+i*7%5000), states[i%4], created, float64(i%60)); err != nil {
			t.Fatal(err)
		}
		for _, p := range []string{"thumb", "fhd-landscape"} {
			if _, err := rend.Exec(id, p, 320, 180, fmt.Sprintf("%064x", uint64(i)<<8|uint64(len(p))), 1000, created); err != nil {
				t.Fatal(err)
			}
		}
		if i%10 == 0 {
			if _, err := tag.Exec(id, "tenth"); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
}

type mediaPageJSON struct {
	Media []struct {
		ID         string   `json:"id"`
		Filename   string   `json:"filename"`
		Kind       string   `json:"kind"`
		Status     string   `json:"status"`
		Size       int64    `json:"size"`
		Tags       []string `json:"tags"`
		Thumbnail  string   `json:"thumbnail_url"`
		Renditions []struct {
			Profile string `json:"profile"`
		} `json:"renditions"`
	} `json:"media"`
	Total      int    `json:"total"`
	NextCursor string `json:"next_cursor"`
}

// listAll pages through GET /api/v1/media with query q and returns the
// items' ids in order and the statements the store ran.
func listAll(t testing.TB, s *servertest.Server, q string) (ids []string, stmts int64, pages int) {
	t.Helper()
	before := s.Store().Statements()
	cursor := ""
	for {
		var page mediaPageJSON
		path := "/api/v1/media?" + q
		if cursor != "" {
			path += "&cursor=" + cursor
		}
		if code := s.Do("GET", path, nil, &page); code != 200 {
			t.Fatalf("GET %s: %d", path, code)
		}
		pages++
		for _, m := range page.Media {
			ids = append(ids, m.ID)
		}
		if page.NextCursor == "" {
			break
		}
		cursor = page.NextCursor
	}
	return ids, s.Store().Statements() - before, pages
}

// TestMediaListStatementsConstant: listing the library costs the same
// number of statements per page whether it holds 100 or 3,000 items (it
// was one renditions query per item).
func TestMediaListStatementsConstant(t *testing.T) {
	s := servertest.Start(t, servertest.Options{})
	small, _ := s.NewOrg("small")
	seedLibrary(t, s, s.OrgID, 3000)
	_ = small
	perPage := func(n int) float64 {
		ids, stmts, pages := listAll(t, s, fmt.Sprintf("limit=%d", n))
		if len(ids) != 3000 {
			t.Fatalf("listed %d items, want 3000", len(ids))
		}
		return float64(stmts) / float64(pages)
	}
	p100, p1000 := perPage(100), perPage(1000)
	t.Logf("statements per page: %.1f (limit 100), %.1f (limit 1000)", p100, p1000)
	// Four statements a page (page, total, renditions, tags) and the
	// token check; the old list ran one renditions query per item.
	if p100 > 7 || p1000 > 7 {
		t.Fatalf("statements per page grow with the page: %.1f at 100 items, %.1f at 1000", p100, p1000)
	}
}

func TestMediaListFiltersSortsAndPages(t *testing.T) {
	s := servertest.Start(t, servertest.Options{})
	seedLibrary(t, s, s.OrgID, 300)
	other, otherTok := s.NewOrg("other")
	seedLibrary(t, s, other, 50)

	// Every item once, newest first, across pages.
	ids, _, pages := listAll(t, s, "limit=64")
	if len(ids) != 300 || pages != 5 {
		t.Fatalf("listed %d items in %d pages, want 300 in 5", len(ids), pages)
	}
	seen := map[string]bool{}
	for _, id := range ids {
		if seen[id] {
			t.Fatalf("%s listed twice", id)
		}
		seen[id] = true
	}
	if ids[0] != "med_seed000299"+s.OrgID[len(s.OrgID)-4:] {
		t.Fatalf("first item %s, want the newest", ids[0])
	}
	// The other organisation sees only its own.
	var op mediaPageJSON
	if code := s.DoToken(otherTok, "GET", "/api/v1/media?limit=1000", nil, &op); code != 200 || op.Total != 50 || len(op.Media) != 50 {
		t.Fatalf("other org: %d, total %d, %d items", code, op.Total, len(op.Media))
	}

	check := func(q string, want int, each func(i int, m struct {
		ID, Filename, Kind, Status string
		Size                       int64
		Tags                       []string
	}) bool) {
		t.Helper()
		var page mediaPageJSON
		if code := s.Do("GET", "/api/v1/media?limit=1000&"+q, nil, &page); code != 200 {
			t.Fatalf("%s: %d", q, code)
		}
		if page.Total != want || len(page.Media) != want {
			t.Fatalf("%s: total %d, %d items; want %d", q, page.Total, len(page.Media), want)
		}
		for i, m := range page.Media {
			if !each(i, struct {
				ID, Filename, Kind, Status string
				Size                       int64
				Tags                       []string
			}{m.ID, m.Filename, m.Kind, m.Status, m.Size, m.Tags}) {
				t.Fatalf("%s: item %d (%+v) does not match", q, i, m)
			}
		}
	}
	type item = struct {
		ID, Filename, Kind, Status string
		Size                       int64
		Tags                       []string
	}
	check("kind=video", 100, func(_ int, m item) bool { return m.Kind == "video" })
	check("status=failed", 75, func(_ int, m item) bool { return m.Status == "failed" })
	check("kind=image&status=ready", 50, func(_ int, m item) bool { return m.Kind == "image" && m.Status == "ready" })
	check("tag=tenth", 30, func(_ int, m item) bool { return len(m.Tags) == 1 && m.Tags[0] == "tenth" })
	check("q=SEED%20001", 100, func(_ int, m item) bool { return m.Filename[:8] == "seed 001" })
	check("q=%25", 0, nil) // a LIKE wildcard is a plain character
	var last item
	check("sort=name", 300, func(i int, m item) bool { ok := i == 0 || last.Filename <= m.Filename; last = m; return ok })
	check("sort=-size", 300, func(i int, m item) bool { ok := i == 0 || last.Size >= m.Size; last = m; return ok })

	// Sorted by size, ties broken by id, pages neither repeat nor skip.
	bySize, _, _ := listAll(t, s, "limit=7&sort=size")
	if len(bySize) != 300 {
		t.Fatalf("by size: %d items", len(bySize))
	}

	for _, bad := range []string{"kind=pdf", "status=odd", "sort=colour", "limit=0", "limit=1001", "cursor=xyz"} {
		var e servertest.APIError
		if code := s.Do("GET", "/api/v1/media?"+bad, nil, &e); code != 400 || e.Error.Code != "invalid" {
			t.Errorf("%s: %d %v", bad, code, e)
		}
	}
	// A cursor of one order is refused in another.
	var p1 mediaPageJSON
	s.Do("GET", "/api/v1/media?limit=2&sort=name", nil, &p1)
	var e servertest.APIError
	if code := s.Do("GET", "/api/v1/media?sort=size&cursor="+p1.NextCursor, nil, &e); code != 400 {
		t.Fatalf("cursor of another order: %d %v", code, e)
	}
}

type bulkJSON struct {
	Results []struct {
		ID    string `json:"id"`
		OK    bool   `json:"ok"`
		Error *struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	} `json:"results"`
	Succeeded int `json:"succeeded"`
	Failed    int `json:"failed"`
}

func TestMediaBulkActions(t *testing.T) {
	s := servertest.Start(t, servertest.Options{})
	var a, b, c servertest.Media
	for i, out := range []*servertest.Media{&a, &b, &c} {
		if code := s.Upload(fmt.Sprintf("p%d.png", i), testJPEG(t, 64+i, 48, color.RGBA{uint8(40 * i), 90, 160, 255}), out); code != 201 {
			t.Fatalf("upload %d: %d", i, code)
		}
	}
	other, otherTok := s.NewOrg("other")
	_ = other
	var foreign servertest.Media
	if code := s.UploadToken(otherTok, "f.png", testJPEG(t, 30, 30, color.RGBA{200, 10, 10, 255}), &foreign); code != 201 {
		t.Fatal(code)
	}

	// Tag: items of another organisation and unknown ids fail alone.
	var res bulkJSON
	if code := s.Do("POST", "/api/v1/media/bulk", map[string]any{"action": "tag", "ids": []string{a.ID, b.ID, foreign.ID, "med_nope"}, "tags": []string{"lobby", "spring"}}, &res); code != 200 {
		t.Fatalf("bulk tag: %d", code)
	}
	if res.Succeeded != 2 || res.Failed != 2 || !res.Results[0].OK || !res.Results[1].OK || res.Results[2].OK || res.Results[2].Error.Code != "not_found" || res.Results[3].OK {
		t.Fatalf("bulk tag results: %+v", res)
	}
	var page mediaPageJSON
	s.Do("GET", "/api/v1/media?tag=lobby", nil, &page)
	if page.Total != 2 {
		t.Fatalf("tag=lobby: %d items", page.Total)
	}
	var ft mediaPageJSON
	s.DoToken(otherTok, "GET", "/api/v1/media", nil, &ft)
	if len(ft.Media) != 1 || len(ft.Media[0].Tags) != 0 {
		t.Fatalf("the other organisation's item was tagged: %+v", ft.Media)
	}
	var tags struct {
		Tags []struct {
			Tag   string `json:"tag"`
			Count int    `json:"count"`
		} `json:"tags"`
	}
	s.Do("GET", "/api/v1/media/tags", nil, &tags)
	if len(tags.Tags) != 2 || tags.Tags[0].Tag != "lobby" || tags.Tags[0].Count != 2 {
		t.Fatalf("tags: %+v", tags)
	}
	s.Do("POST", "/api/v1/media/bulk", map[string]any{"action": "untag", "ids": []string{a.ID}, "tags": []string{"spring"}}, &res)
	s.Do("GET", "/api/v1/media?tag=spring", nil, &page)
	if page.Total != 1 || page.Media[0].ID != b.ID {
		t.Fatalf("after untag: %+v", page)
	}

	// Add to a playlist: one edit, images get the default duration.
	var pl struct {
		ID    string `json:"id"`
		Items []struct {
			MediaID   string  `json:"media_id"`
			DurationS float64 `json:"duration_s"`
		} `json:"items"`
	}
	if code := s.Do("POST", "/api/v1/playlists", map[string]any{"name": "Lobby", "items": []any{}}, &pl); code != 201 {
		t.Fatalf("create playlist: %d", code)
	}
	if code := s.Do("POST", "/api/v1/media/bulk", map[string]any{"action": "add_to_playlist", "ids": []string{a.ID, b.ID, foreign.ID}, "playlist_id": pl.ID}, &res); code != 200 || res.Succeeded != 2 {
		t.Fatalf("add to playlist: %d %+v", code, res)
	}
	s.Do("GET", "/api/v1/playlists/"+pl.ID, nil, &pl)
	if len(pl.Items) != 2 || pl.Items[0].MediaID != a.ID || pl.Items[1].MediaID != b.ID || pl.Items[0].DurationS <= 0 {
		t.Fatalf("playlist after add: %+v", pl)
	}
	var usage struct {
		UsedBy []struct {
			Kind, ID, Name string
		} `json:"used_by"`
		Deletable bool `json:"deletable"`
	}
	s.Do("GET", "/api/v1/media/"+a.ID+"/usage", nil, &usage)
	if usage.Deletable || len(usage.UsedBy) != 1 || usage.UsedBy[0].ID != pl.ID || usage.UsedBy[0].Kind != "playlist" {
		t.Fatalf("usage of a: %+v", usage)
	}
	s.Do("GET", "/api/v1/media/"+c.ID+"/usage", nil, &usage)
	if !usage.Deletable || len(usage.UsedBy) != 0 {
		t.Fatalf("usage of c: %+v", usage)
	}
	if code := s.DoToken(otherTok, "GET", "/api/v1/media/"+a.ID+"/usage", nil, nil); code != 404 {
		t.Fatalf("usage from another organisation: %d", code)
	}

	// Delete: the used one is refused, the unused one goes, the
	// foreign one is not found.
	if code := s.Do("POST", "/api/v1/media/bulk", map[string]any{"action": "delete", "ids": []string{a.ID, c.ID, foreign.ID}}, &res); code != 200 {
		t.Fatalf("bulk delete: %d", code)
	}
	if res.Results[0].OK || res.Results[0].Error.Code != "in_use" || !res.Results[1].OK || res.Results[2].OK {
		t.Fatalf("bulk delete results: %+v", res)
	}
	if code := s.Do("GET", "/api/v1/media/"+c.ID, nil, nil); code != 404 {
		t.Fatalf("deleted item: %d", code)
	}
	if code := s.DoToken(otherTok, "GET", "/api/v1/media/"+foreign.ID, nil, nil); code != 200 {
		t.Fatalf("foreign item after another org's bulk delete: %d", code)
	}

	// Malformed requests fail whole; a viewer may not.
	for _, body := range []map[string]any{
		{"action": "paint", "ids": []string{a.ID}},
		{"action": "tag", "ids": []string{}},
		{"action": "tag", "ids": []string{a.ID}},
		{"action": "add_to_playlist", "ids": []string{a.ID}, "playlist_id": "pls_nope"},
	} {
		var e servertest.APIError
		if code := s.Do("POST", "/api/v1/media/bulk", body, &e); code != 400 {
			t.Errorf("%v: %d %v", body, code, e)
		}
	}
	var tok struct{ Token string }
	if code := s.Do("POST", "/api/v1/tokens", map[string]string{"name": "wall", "role": "viewer"}, &tok); code != 201 {
		t.Fatalf("viewer token: %d", code)
	}
	viewer := tok.Token
	if code := s.DoToken(viewer, "POST", "/api/v1/media/bulk", map[string]any{"action": "delete", "ids": []string{b.ID}}, nil); code != 403 {
		t.Fatalf("viewer bulk delete: %d", code)
	}
}

// BenchmarkMediaList pages through a library of 10,000 items (a page of
// 100, as the console asks) and reports the first page's time against the
// same page of a library of 100 items measured in the same run, and the
// statements a page costs.
//
//	go test -run '^$' -bench MediaList -benchtime 200x ./server/
func BenchmarkMediaList(b *testing.B) {
	s := servertest.Start(b, servertest.Options{})
	smallOrg, smallTok := s.NewOrg("small")
	seedLibrary(b, s, smallOrg, 100)
	seedLibrary(b, s, s.OrgID, 10000)
	page := func(tok string) {
		var p mediaPageJSON
		if code := s.DoToken(tok, "GET", "/api/v1/media?limit=100&sort=-created", nil, &p); code != 200 || len(p.Media) != 100 {
			b.Fatalf("page: %d, %d items", code, len(p.Media))
		}
	}
	timeOf := func(tok string) time.Duration {
		start := time.Now()
		for range b.N {
			page(tok)
		}
		return time.Since(start) / time.Duration(b.N)
	}
	page(smallTok)
	page(s.Token)
	b.ResetTimer()
	small := timeOf(smallTok)
	before := s.Store().Statements()
	big := timeOf(s.Token)
	stmts := float64(s.Store().Statements()-before) / float64(b.N)
	b.StopTimer()
	_, all, pages := listAll(b, s, "limit=1000")
	b.ReportMetric(float64(big.Microseconds())/1000, "ms/page-10k")
	b.ReportMetric(float64(small.Microseconds())/1000, "ms/page-100")
	b.ReportMetric(float64(big)/float64(small), "ratio-10k/100")
	b.ReportMetric(stmts, "stmts/page")
	b.ReportMetric(float64(all), "stmts-all-10k")
	_ = pages
}
