package server_test

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"beacon/playlists"
	"beacon/server/servertest"
	"beacon/server/store"
)

type apiErr struct {
	Error struct{ Code, Message string }
}

// expectErr calls the API and wants status with a message containing each of want.
func expectErr(t *testing.T, s *servertest.Server, method, path string, body any, status int, want ...string) apiErr {
	t.Helper()
	var e apiErr
	if code := s.Do(method, path, body, &e); code != status {
		t.Fatalf("%s %s: %d (%s: %s), want %d", method, path, code, e.Error.Code, e.Error.Message, status)
	}
	for _, w := range want {
		if !strings.Contains(e.Error.Message, w) {
			t.Fatalf("%s %s: message %q does not say %q", method, path, e.Error.Message, w)
		}
	}
	return e
}

func textItem(t *testing.T, s *servertest.Server, text string, dur float64) string {
	t.Helper()
	var it struct{ ID string }
	body := map[string]any{"kind": "text", "duration_s": dur, "variants": map[string]any{"vi": map[string]string{"text": text}}}
	if code := s.Do("POST", "/api/v1/items", body, &it); code != 201 {
		t.Fatalf("item: %d", code)
	}
	return it.ID
}

func playlistOf(t *testing.T, s *servertest.Server, name string, entries ...map[string]any) string {
	t.Helper()
	var pl struct{ ID string }
	if code := s.Do("POST", "/api/v1/playlists", map[string]any{"name": name, "items": entries}, &pl); code != 201 {
		t.Fatalf("playlist %s: %d", name, code)
	}
	return pl.ID
}

func itemEntries(ids ...string) []map[string]any {
	out := []map[string]any{}
	for _, id := range ids {
		out = append(out, map[string]any{"item_id": id})
	}
	return out
}

// TestTextFieldLimits: every text field has a maximum length, and names
// keep no bidirectional or control characters; the refusal names the field.
func TestTextFieldLimits(t *testing.T) {
	s := servertest.Start(t, servertest.Options{})
	long := strings.Repeat("n", 201)
	expectErr(t, s, "POST", "/api/v1/playlists", map[string]any{"name": long}, 400, "name is 201 characters long; the limit is 200")
	expectErr(t, s, "POST", "/api/v1/clusters", map[string]any{"name": long}, 400, "name is 201 characters long")
	expectErr(t, s, "POST", "/api/v1/clusters", map[string]any{"name": "ok", "location": strings.Repeat("l", 501)}, 400, "location is 501 characters long; the limit is 500")
	// "Lobby" that reads as "ybboL"-something in a console: refused, not stored.
	for _, bidi := range []string{"\u202E", "\u2066", "\u200F", "\u061C"} {
		expectErr(t, s, "POST", "/api/v1/playlists", map[string]any{"name": "Lobby" + bidi + "gnp.exe"}, 400, "name must not contain bidirectional control characters")
	}
	expectErr(t, s, "POST", "/api/v1/playlists", map[string]any{"name": "a\x00b"}, 400, "control characters")
	expectErr(t, s, "POST", "/api/v1/items", map[string]any{"kind": "text", "name": "x\u202Ey", "variants": map[string]any{"vi": map[string]string{"text": "t"}}}, 400, "name must not contain bidirectional")
	expectErr(t, s, "POST", "/api/v1/items", map[string]any{"kind": "text", "variants": map[string]any{"vi": map[string]string{"text": strings.Repeat("é", 10001)}}}, 400,
		`variants["vi"].text is 10001 characters long; the limit is 10000`)
	expectErr(t, s, "POST", "/api/v1/items", map[string]any{"kind": "web", "variants": map[string]any{"vi": map[string]string{"url": "https://example.com/" + strings.Repeat("a", 2048)}}}, 400,
		`variants["vi"].url is 2068 characters long; the limit is 2048`)
	expectErr(t, s, "POST", "/api/v1/layouts", map[string]any{"name": "x", "zones": []map[string]any{{"id": strings.Repeat("z", 65), "x": 0, "y": 0, "w": 100, "h": 100}}}, 400, "zones[0].id is 65 characters long")
	expectErr(t, s, "POST", "/api/v1/schedules", map[string]any{"name": long, "target": map[string]any{"tags": []string{"a"}}, "playlist_id": "x"}, 400, "name is 201 characters long")
	// At the limit is fine, and what is stored is what was sent.
	var pl struct{ ID, Name string }
	name := strings.Repeat("ñ", 200)
	if code := s.Do("POST", "/api/v1/playlists", map[string]any{"name": name}, &pl); code != 201 || pl.Name != name {
		t.Fatalf("200-character name: %d %q", code, pl.Name)
	}
	textItem(t, s, strings.Repeat("é", 10000), 5)
}

// TestMinimumDurations: a 1 ms item (which once made a month's timeline
// map 406 GB) is refused where it is made, for items and entries alike.
func TestMinimumDurations(t *testing.T) {
	s := servertest.Start(t, servertest.Options{})
	expectErr(t, s, "POST", "/api/v1/items", map[string]any{"kind": "text", "duration_s": 0.001, "variants": map[string]any{"vi": map[string]string{"text": "t"}}}, 400,
		"duration_s must be 0 (the default) or between 1 and 86400 seconds")
	expectErr(t, s, "POST", "/api/v1/items", map[string]any{"kind": "web", "refresh_s": 0.2, "variants": map[string]any{"vi": map[string]string{"url": "https://example.com"}}}, 400, "refresh_s")
	it := textItem(t, s, "t", 1)
	expectErr(t, s, "POST", "/api/v1/playlists", map[string]any{"name": "p", "items": []map[string]any{{"item_id": it, "duration_s": 0.5}}}, 400, "items[0].duration_s must be 0")
}

// TestListsArePaginated: every list answers a page of at most limit
// items and a next_cursor; following the cursors gives each item once,
// even when items are added between pages.
func TestListsArePaginated(t *testing.T) {
	s := servertest.Start(t, servertest.Options{})
	for i := 0; i < 5; i++ {
		textItem(t, s, fmt.Sprint("t", i), 5)
		playlistOf(t, s, fmt.Sprint("pl", i))
		s.Do("POST", "/api/v1/clusters", map[string]any{"name": fmt.Sprint("cl", i)}, nil)
	}
	for _, c := range []struct{ path, field string }{{"/api/v1/items", "items"}, {"/api/v1/playlists", "playlists"}, {"/api/v1/clusters", "clusters"}} {
		seen := map[string]bool{}
		cursor, pages := "", 0
		for {
			var resp map[string]any
			if code := s.Do("GET", c.path+"?limit=2&cursor="+url.QueryEscape(cursor), nil, &resp); code != 200 {
				t.Fatalf("%s: %d", c.path, code)
			}
			list := resp[c.field].([]any)
			if len(list) > 2 {
				t.Fatalf("%s: page of %d with limit 2", c.path, len(list))
			}
			for _, x := range list {
				id := x.(map[string]any)["id"].(string)
				if seen[id] {
					t.Fatalf("%s: %s twice", c.path, id)
				}
				seen[id] = true
			}
			if pages++; pages == 1 && c.field == "items" {
				textItem(t, s, "added between pages", 5) // created last: on a later page
			}
			next, ok := resp["next_cursor"].(string)
			if !ok {
				t.Fatalf("%s: no next_cursor", c.path)
			}
			if next == "" {
				break
			}
			cursor = next
		}
		want := 5
		if c.field == "items" {
			want = 6
		}
		if len(seen) != want {
			t.Fatalf("%s: %d items over %d pages, want %d", c.path, len(seen), pages, want)
		}
	}
	for _, path := range []string{"/api/v1/displays", "/api/v1/media", "/api/v1/layouts", "/api/v1/schedules", "/api/v1/jobs", "/api/v1/incidents", "/api/v1/plays"} {
		var resp map[string]any
		if code := s.Do("GET", path, nil, &resp); code != 200 {
			t.Fatalf("%s: %d", path, code)
		}
		if _, ok := resp["next_cursor"].(string); !ok {
			t.Fatalf("%s: no next_cursor in %v", path, resp)
		}
		expectErr(t, s, "GET", path+"?limit=100001", nil, 400, "limit must be between 1 and")
		expectErr(t, s, "GET", path+"?cursor=%25%25", nil, 400, "cursor")
	}
	expectErr(t, s, "GET", "/api/v1/plays?from=2026-01-01T00:00:00Z&to=2026-03-01T00:00:00Z", nil, 400, "at most 31 days")
}

// allDayCluster puts a display in a cluster open all day.
func allDayCluster(t *testing.T, s *servertest.Server, displayID string, p *rawPlayer) {
	t.Helper()
	var cl struct{ ID string }
	s.Do("POST", "/api/v1/clusters", map[string]any{"name": "All day", "hours": []map[string]string{{"start": "00:00", "end": "00:00"}}}, &cl)
	if code := s.Do("PATCH", "/api/v1/displays/"+displayID, map[string]any{"cluster_id": cl.ID}, nil); code != 200 {
		t.Fatalf("patch: %d", code)
	}
	p.nextProgram(s)
}

type timelineResp struct {
	Plays      []playlists.Play
	NextCursor string `json:"next_cursor"`
}

// TestTimelineIsPaged: a month of 1 s items is answered a page at a time;
// the pages, followed by their cursors, are exactly the one-page timeline.
func TestTimelineIsPaged(t *testing.T) {
	s := servertest.Start(t, servertest.Options{})
	p, displayID := pairRaw(t, s, "Wall")
	allDayCluster(t, s, displayID, p)
	var ids []string
	for i := 0; i < 7; i++ {
		ids = append(ids, textItem(t, s, fmt.Sprint("tick ", i), float64(1+i%3)))
	}
	ticker := playlistOf(t, s, "Ticker", itemEntries(ids...)...)
	main := playlistOf(t, s, "Main", itemEntries(ids[0], ids[3])...)
	var lay struct{ ID string }
	s.Do("POST", "/api/v1/layouts", map[string]any{"name": "Two", "zones": []map[string]any{
		{"id": "main", "x": 0, "y": 0, "w": 100, "h": 80}, {"id": "ticker", "x": 0, "y": 80, "w": 100, "h": 20}}}, &lay)
	if code := s.Do("POST", "/api/v1/schedules", map[string]any{"target": map[string]any{"display_ids": []string{displayID}},
		"content": map[string]any{"layout_id": lay.ID, "zones": map[string]string{"main": main, "ticker": ticker}}}, nil); code != 201 {
		t.Fatalf("schedule: %d", code)
	}
	path := "/api/v1/displays/" + displayID + "/timeline"

	// A month: one bounded page, quickly.
	q := url.Values{"from": {"2026-09-01T00:00:00+07:00"}, "to": {"2026-10-02T00:00:00+07:00"}}
	start := time.Now()
	var month timelineResp
	if code := s.Do("GET", path+"?"+q.Encode(), nil, &month); code != 200 {
		t.Fatalf("month: %d", code)
	}
	if len(month.Plays) != 1000 || month.NextCursor == "" {
		t.Fatalf("month: %d plays, cursor %q; want a page of 1000 and a cursor", len(month.Plays), month.NextCursor)
	}
	t.Logf("a month's first page in %v", time.Since(start))
	expectErr(t, s, "GET", path+"?from=2026-09-01T00:00:00Z&to=2026-10-03T00:00:00Z", nil, 400, "at most 31 days")
	expectErr(t, s, "GET", path+"?limit=10001", nil, 400, "limit must be between 1 and 10000")
	expectErr(t, s, "GET", path+"?cursor=bm9wZQ", nil, 400, "cursor")
	// A cursor made by hand asks no more than a query may.
	forged := base64.RawURLEncoding.EncodeToString([]byte(`{"f":0,"t":4102444800000,"s":0,"z":""}`))
	expectErr(t, s, "GET", path+"?cursor="+forged, nil, 400, "cursor")
	expectErr(t, s, "GET", "/api/v1/plays?cursor="+base64.RawURLEncoding.EncodeToString([]byte(`{"f":0,"t":4102444800000,"s":"2026-01-01T00:00:00Z"}`)), nil, 400, "cursor")

	// Pages of 7 over ten minutes equal the ten minutes in one page,
	// including resuming where two zones start at once and where a play
	// runs across the page boundary.
	q = url.Values{"from": {"2026-09-02T10:00:00.5+07:00"}, "to": {"2026-09-02T10:10:00+07:00"}}
	var whole timelineResp
	if code := s.Do("GET", path+"?limit=10000&"+q.Encode(), nil, &whole); code != 200 || whole.NextCursor != "" {
		t.Fatalf("whole: %d %q", code, whole.NextCursor)
	}
	var paged []playlists.Play
	q.Set("limit", "7")
	for pages := 0; ; pages++ {
		var r timelineResp
		if code := s.Do("GET", path+"?"+q.Encode(), nil, &r); code != 200 {
			t.Fatalf("page %d: %d", pages, code)
		}
		if len(r.Plays) > 7 || pages > 1000 {
			t.Fatalf("page %d: %d plays", pages, len(r.Plays))
		}
		paged = append(paged, r.Plays...)
		if r.NextCursor == "" {
			break
		}
		q = url.Values{"limit": {"7"}, "cursor": {r.NextCursor}}
	}
	if len(paged) != len(whole.Plays) {
		t.Fatalf("paged %d plays, whole %d", len(paged), len(whole.Plays))
	}
	for i := range paged {
		a, b := paged[i], whole.Plays[i]
		if a.Zone != b.Zone || a.ItemID != b.ItemID || !a.Start.Equal(b.Start) || !a.End.Equal(b.End) {
			t.Fatalf("play %d: paged %+v, whole %+v", i, a, b)
		}
	}
}

// TestPlaylistCycleRefused: a nested-playlist cycle is refused with its
// path; nothing is stored.
func TestPlaylistCycleRefused(t *testing.T) {
	s := servertest.Start(t, servertest.Options{})
	it := textItem(t, s, "x", 5)
	a := playlistOf(t, s, "Alpha", itemEntries(it)...)
	b := playlistOf(t, s, "Beta", map[string]any{"playlist_id": a})
	c := playlistOf(t, s, "Gamma", map[string]any{"playlist_id": b})
	e := expectErr(t, s, "PUT", "/api/v1/playlists/"+a, map[string]any{"name": "Alpha", "items": []map[string]any{{"item_id": it}, {"playlist_id": c}}}, 422,
		fmt.Sprintf("playlist cycle: %s (Alpha) → %s (Gamma) → %s (Beta) → %s (Alpha)", a, c, b, a))
	if e.Error.Code != "playlist_cycle" {
		t.Fatalf("code %q", e.Error.Code)
	}
	expectErr(t, s, "PUT", "/api/v1/playlists/"+a, map[string]any{"name": "Alpha", "items": []map[string]any{{"playlist_id": a}}}, 422,
		fmt.Sprintf("playlist cycle: %s (Alpha) → %s (Alpha)", a, a))
	var got struct{ Items []map[string]any }
	s.Do("GET", "/api/v1/playlists/"+a, nil, &got)
	if len(got.Items) != 1 || got.Items[0]["item_id"] != it {
		t.Fatalf("refused edit was stored: %v", got.Items)
	}
}

type displayJSON struct {
	ID              string
	ManifestVersion int64  `json:"manifest_version"`
	ManifestState   string `json:"manifest_state"`
	ManifestError   string `json:"manifest_error"`
}

func displayState(t *testing.T, s *servertest.Server, id string) displayJSON {
	t.Helper()
	var d displayJSON
	if code := s.Do("GET", "/api/v1/displays/"+id, nil, &d); code != 200 {
		t.Fatalf("display: %d", code)
	}
	return d
}

// TestTooLargeManifestRefused: an edit whose manifest could not be sent
// in one frame is refused with the display and the size; the display
// keeps its version, and the player its program.
func TestTooLargeManifestRefused(t *testing.T) {
	s := servertest.Start(t, servertest.Options{})
	p, displayID := pairRaw(t, s, "Wall")
	it := textItem(t, s, "small", 5)
	pl := playlistOf(t, s, "Main", itemEntries(it)...)
	if code := s.Do("POST", "/api/v1/schedules", map[string]any{"display_id": displayID, "playlist_id": pl}, nil); code != 201 {
		t.Fatalf("schedule: %d", code)
	}
	p.nextProgram(s)
	before := displayState(t, s, displayID)

	// 100 items of 10,000 characters: each within its limit, together
	// over the 1 MiB a player accepts in one message.
	var big []string
	for i := 0; i < 100; i++ {
		big = append(big, textItem(t, s, fmt.Sprintf("%03d", i)+strings.Repeat("w", 9997), 5))
	}
	e := expectErr(t, s, "PUT", "/api/v1/playlists/"+pl, map[string]any{"name": "Main", "items": itemEntries(big...)}, 422,
		"display "+displayID+" (Wall)", "bytes, over the 1048576 bytes a player accepts")
	if e.Error.Code != "undeliverable" {
		t.Fatalf("code %q", e.Error.Code)
	}
	// A playlist no display plays may hold them; scheduling it may not.
	other := playlistOf(t, s, "Unused", itemEntries(big...)...)
	expectErr(t, s, "POST", "/api/v1/schedules", map[string]any{"display_id": displayID, "playlist_id": other, "priority": 5}, 422, "display "+displayID)

	after := displayState(t, s, displayID)
	if after.ManifestVersion != before.ManifestVersion || after.ManifestState != "ok" {
		t.Fatalf("display after refused edits: %+v (before %+v)", after, before)
	}
	p.quiet(300 * time.Millisecond)
	// The refused edits were not stored: a small edit still gets through.
	if code := s.Do("PUT", "/api/v1/playlists/"+pl, map[string]any{"name": "Main", "items": itemEntries(it, big[0])}, nil); code != 200 {
		t.Fatalf("small edit: %d", code)
	}
	if _, prog := p.nextProgram(s); len(prog.Items) != 2 {
		t.Fatalf("small edit: %d items", len(prog.Items))
	}
}

// TestBrokenProgramIsolated: a display whose program cannot be compiled
// (content stored before these checks: a cycle written to the store)
// keeps its manifest and shows why, while other displays go on getting
// theirs; mending it clears the state.
func TestBrokenProgramIsolated(t *testing.T) {
	s := servertest.Start(t, servertest.Options{})
	p1, d1 := pairRaw(t, s, "Broken")
	p2, d2 := pairRaw(t, s, "Healthy")
	it := textItem(t, s, "one", 5)
	it2 := textItem(t, s, "two", 5)
	a := playlistOf(t, s, "Alpha", itemEntries(it)...)
	b := playlistOf(t, s, "Beta", map[string]any{"playlist_id": a})
	pl2 := playlistOf(t, s, "Other", itemEntries(it2)...)
	s.Do("POST", "/api/v1/schedules", map[string]any{"display_id": d1, "playlist_id": b}, nil)
	p1.nextProgram(s)
	s.Do("POST", "/api/v1/schedules", map[string]any{"display_id": d2, "playlist_id": pl2}, nil)
	p2.nextProgram(s)
	v1 := displayState(t, s, d1).ManifestVersion

	// The cycle, as an older server let it in.
	ctx := t.Context()
	if _, err := s.Store().UpdatePlaylist(ctx, store.Playlist{ID: a, OrgID: s.OrgID, Name: "Alpha", Options: "{}",
		Items: []store.PlaylistItem{{ItemID: it}, {PlaylistID: b}}}); err != nil {
		t.Fatal(err)
	}
	// Unrelated edits reach the healthy display at once.
	for i := 0; i < 3; i++ {
		text := fmt.Sprint("two, version ", i)
		if code := s.Do("PUT", "/api/v1/items/"+it2, map[string]any{"kind": "text", "variants": map[string]any{"vi": map[string]string{"text": text}}}, nil); code != 200 {
			t.Fatalf("edit %d: %d", i, code)
		}
		if _, prog := p2.nextProgram(s); prog.Items[0].Variants["vi"].Text != text {
			t.Fatalf("healthy display got %q", prog.Items[0].Variants["vi"].Text)
		}
	}
	st := displayState(t, s, d1)
	if st.ManifestState != "error" || !strings.Contains(st.ManifestError, "cycle") || st.ManifestVersion != v1 {
		t.Fatalf("broken display: %+v", st)
	}
	var list struct{ Displays []displayJSON }
	s.Do("GET", "/api/v1/displays", nil, &list)
	for _, d := range list.Displays {
		if want := map[string]string{d1: "error", d2: "ok"}[d.ID]; d.ManifestState != want {
			t.Fatalf("list: %s is %q, want %q", d.ID, d.ManifestState, want)
		}
	}
	p1.quiet(200 * time.Millisecond)

	// Mending it through the API: accepted, delivered, state ok.
	if code := s.Do("PUT", "/api/v1/playlists/"+a, map[string]any{"name": "Alpha", "items": itemEntries(it, it2)}, nil); code != 200 {
		t.Fatalf("mend: %d", code)
	}
	if _, prog := p1.nextProgram(s); len(prog.Items) != 2 {
		t.Fatalf("mended program: %d items", len(prog.Items))
	}
	if st := displayState(t, s, d1); st.ManifestState != "ok" || st.ManifestError != "" || st.ManifestVersion != v1+1 {
		t.Fatalf("mended display: %+v", st)
	}
}

// TestOldShortDurationsStillPlay: an item stored with a duration the API
// now refuses (by an older server) is brought to the minimum when its
// program is compiled, so the display keeps getting manifests.
func TestOldShortDurationsStillPlay(t *testing.T) {
	s := servertest.Start(t, servertest.Options{})
	p, displayID := pairRaw(t, s, "Wall")
	id := store.NewDocID(store.Items)
	if _, err := s.Store().CreateDoc(t.Context(), store.Items, store.Doc{ID: id, OrgID: s.OrgID,
		Body: []byte(`{"id":"` + id + `","kind":"text","duration_s":0.001,"variants":{"vi":{"text":"old"}},"default_lang":"vi"}`)}); err != nil {
		t.Fatal(err)
	}
	pl := playlistOf(t, s, "Old", itemEntries(id)...)
	if code := s.Do("POST", "/api/v1/schedules", map[string]any{"display_id": displayID, "playlist_id": pl}, nil); code != 201 {
		t.Fatalf("schedule: %d", code)
	}
	_, prog := p.nextProgram(s)
	if len(prog.Items) != 1 || prog.Items[0].DurationS != playlists.MinDurationS {
		t.Fatalf("program items: %+v", prog.Items)
	}
	if st := displayState(t, s, displayID); st.ManifestState != "ok" {
		t.Fatalf("display: %+v", st)
	}
}

// TestConcurrentEditsCannotCloseACycle: A into B and B into A, each fine
// alone, sent at once: never both stored.
func TestConcurrentEditsCannotCloseACycle(t *testing.T) {
	s := servertest.Start(t, servertest.Options{})
	it := textItem(t, s, "x", 5)
	a := playlistOf(t, s, "A", itemEntries(it)...)
	b := playlistOf(t, s, "B", itemEntries(it)...)
	for round := 0; round < 100; round++ {
		for _, id := range []string{a, b} {
			if code := s.Do("PUT", "/api/v1/playlists/"+id, map[string]any{"name": "P", "items": itemEntries(it)}, nil); code != 200 {
				t.Fatalf("reset: %d", code)
			}
		}
		codes := make(chan int, 2)
		for _, e := range [][2]string{{a, b}, {b, a}} {
			go func(outer, inner string) {
				var out apiErr
				codes <- s.Do("PUT", "/api/v1/playlists/"+outer, map[string]any{"name": "P", "items": []map[string]any{{"playlist_id": inner}}}, &out)
			}(e[0], e[1])
		}
		c1, c2 := <-codes, <-codes
		if c1+c2 != 200+422 {
			t.Fatalf("round %d: %d and %d, want one 200 and one 422", round, c1, c2)
		}
	}
}

// TestListPagesAreBoundedInBytes: a page stops before it passes 4 MiB,
// however large its entries, and the cursor goes on from there.
func TestListPagesAreBoundedInBytes(t *testing.T) {
	s := servertest.Start(t, servertest.Options{})
	it := textItem(t, s, "x", 5)
	entries := make([]store.PlaylistItem, 10000)
	for i := range entries {
		entries[i] = store.PlaylistItem{ItemID: it, DurationS: 1}
	}
	for i := 0; i < 12; i++ {
		if _, err := s.Store().CreatePlaylist(t.Context(), store.Playlist{OrgID: s.OrgID, Name: fmt.Sprint("big ", i), Options: "{}", Items: entries}); err != nil {
			t.Fatal(err)
		}
	}
	seen, pages, cursor := 0, 0, ""
	for {
		resp, err := http.NewRequest("GET", s.URL+"/api/v1/playlists?cursor="+url.QueryEscape(cursor), nil)
		if err != nil {
			t.Fatal(err)
		}
		resp.Header.Set("Authorization", "Bearer "+s.Token)
		r, err := http.DefaultClient.Do(resp)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(r.Body)
		r.Body.Close()
		if r.StatusCode != 200 || len(body) > 4<<20+1024 {
			t.Fatalf("page %d: %d, %d bytes", pages, r.StatusCode, len(body))
		}
		var pg struct {
			Playlists  []struct{ Items []any }
			NextCursor string `json:"next_cursor"`
		}
		if err := json.Unmarshal(body, &pg); err != nil {
			t.Fatal(err)
		}
		for _, p := range pg.Playlists {
			if len(p.Items) != 10000 {
				t.Fatalf("a playlist of %d entries", len(p.Items))
			}
		}
		seen += len(pg.Playlists)
		pages++
		if pg.NextCursor == "" {
			break
		}
		cursor = pg.NextCursor
	}
	if seen != 12 || pages < 2 {
		t.Fatalf("%d playlists over %d pages", seen, pages)
	}
}

// TestTooLargeManifestKeepsTheLastOne: content grown past one frame
// without the API's check (written by an older server) leaves that display
// on its last manifest, with the size in its state, and the others are
// served.
func TestTooLargeManifestKeepsTheLastOne(t *testing.T) {
	s := servertest.Start(t, servertest.Options{})
	p1, d1 := pairRaw(t, s, "Big")
	p2, d2 := pairRaw(t, s, "Small")
	it := textItem(t, s, "small", 5)
	pl1 := playlistOf(t, s, "One", itemEntries(it)...)
	pl2 := playlistOf(t, s, "Two", itemEntries(it)...)
	s.Do("POST", "/api/v1/schedules", map[string]any{"display_id": d1, "playlist_id": pl1}, nil)
	p1.nextProgram(s)
	s.Do("POST", "/api/v1/schedules", map[string]any{"display_id": d2, "playlist_id": pl2}, nil)
	p2.nextProgram(s)
	v1 := displayState(t, s, d1).ManifestVersion

	var big []store.PlaylistItem
	for i := 0; i < 100; i++ {
		big = append(big, store.PlaylistItem{ItemID: textItem(t, s, fmt.Sprintf("%03d", i)+strings.Repeat("w", 9997), 5)})
	}
	if _, err := s.Store().UpdatePlaylist(t.Context(), store.Playlist{ID: pl1, OrgID: s.OrgID, Name: "One", Options: "{}", Items: big}); err != nil {
		t.Fatal(err)
	}
	if code := s.Do("PUT", "/api/v1/playlists/"+pl2, map[string]any{"name": "Two", "items": itemEntries(it, it)}, nil); code != 200 {
		t.Fatalf("unrelated edit: %d", code)
	}
	if _, prog := p2.nextProgram(s); len(prog.Playlists[0].Entries) != 2 {
		t.Fatalf("small display: %+v", prog.Playlists)
	}
	st := displayState(t, s, d1)
	if st.ManifestState != "error" || !strings.Contains(st.ManifestError, "bytes, over the 1048576 bytes a player accepts") || st.ManifestVersion != v1 {
		t.Fatalf("big display: %+v", st)
	}
	p1.quiet(200 * time.Millisecond)
}
