package server_test

import (
	"encoding/json"
	"encoding/xml"
	"image/color"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"beacon/playlists"
	"beacon/protocol"
	"beacon/server/servertest"
)

// pairRaw pairs a hand-driven player as a new display and returns it with
// its display id, after reading its first manifest.
func pairRaw(t *testing.T, s *servertest.Server, name string) (*rawPlayer, string) {
	t.Helper()
	p := dialRaw(t, s, nil)
	env := p.handshake(0)
	var pairing protocol.Pairing
	if env.Type != protocol.TypePairing || env.DecodeBody(&pairing) != nil {
		t.Fatalf("expected pairing, got %s", env.Type)
	}
	var disp struct{ ID string }
	if code := s.Do("POST", "/api/v1/displays/claim", map[string]any{"code": pairing.Code, "name": name, "width": 640, "height": 360}, &disp); code != 201 {
		t.Fatalf("claim: %d", code)
	}
	p.expect(protocol.TypePaired, nil)
	p.nextProgram(s)
	return p, disp.ID
}

// nextProgram reads the next manifest and returns its verified program.
func (p *rawPlayer) nextProgram(s *servertest.Server) (protocol.Manifest, playlists.Program) {
	p.t.Helper()
	var sm protocol.SignedManifest
	p.expect(protocol.TypeManifest, &sm)
	m, err := protocol.VerifyManifest(s.PublicKey(), sm)
	if err != nil {
		p.t.Fatal(err)
	}
	var prog playlists.Program
	if err := json.Unmarshal(m.Program, &prog); err != nil {
		p.t.Fatalf("program: %v", err)
	}
	return m, prog
}

// quiet asserts no manifest arrives for a short while.
func (p *rawPlayer) quiet(within time.Duration) {
	p.t.Helper()
	deadline := time.Now().Add(within)
	for {
		frame, err := p.next(time.Until(deadline))
		if err != nil {
			return // nothing came
		}
		env, _ := protocol.Decode(frame)
		if env.Type == protocol.TypeManifest {
			p.t.Fatalf("unexpected manifest for an unaffected display")
		}
	}
}

// TestEveryKindOfChangeReachesThePlayer: items, playlists, layouts,
// schedules, displays and clusters each produce a new signed manifest for
// exactly the displays they affect, pushed at once.
func TestEveryKindOfChangeReachesThePlayer(t *testing.T) {
	s := servertest.Start(t, servertest.Options{})
	p, displayID := pairRaw(t, s, "Gate wall")
	other, otherID := pairRaw(t, s, "Museum kiosk")

	var cl, cl2 struct{ ID string }
	allDay := []map[string]string{{"start": "00:00", "end": "00:00"}}
	s.Do("POST", "/api/v1/clusters", map[string]any{"name": "Border gate", "hours": allDay}, &cl)
	s.Do("POST", "/api/v1/clusters", map[string]any{"name": "Museum", "hours": allDay}, &cl2)

	step := func(what string, change func(), check func(playlists.Program) bool) {
		t.Helper()
		change()
		for i := 0; ; i++ {
			_, prog := p.nextProgram(s)
			if check(prog) {
				break
			}
			if i > 5 {
				t.Fatalf("%s: the player never got a manifest showing the change", what)
			}
		}
		other.quiet(300 * time.Millisecond)
	}

	step("display joins a cluster", func() {
		if code := s.Do("PATCH", "/api/v1/displays/"+displayID, map[string]any{"cluster_id": cl.ID, "languages": []string{"vi", "en"}}, nil); code != 200 {
			t.Fatalf("patch: %d", code)
		}
	}, func(p playlists.Program) bool { return p.Display.ClusterID == cl.ID && len(p.Hours) == 1 })
	if code := s.Do("PATCH", "/api/v1/displays/"+otherID, map[string]any{"cluster_id": cl2.ID}, nil); code != 200 {
		t.Fatal(code)
	}
	other.nextProgram(s)

	var item struct{ ID string }
	var pl struct{ ID string }
	var sc struct{ ID string }
	step("schedule on the cluster", func() {
		s.Do("POST", "/api/v1/items", map[string]any{"kind": "text", "variants": map[string]any{"vi": map[string]string{"text": "Xin chào"}, "en": map[string]string{"text": "Welcome"}},
			"default_lang": "vi", "text": map[string]any{"scroll": true}}, &item)
		s.Do("POST", "/api/v1/playlists", map[string]any{"name": "Ticker", "items": []map[string]any{{"item_id": item.ID}}}, &pl)
		if code := s.Do("POST", "/api/v1/schedules", map[string]any{"target": map[string]any{"cluster_ids": []string{cl.ID}}, "content": map[string]any{"playlist_id": pl.ID}, "priority": 1}, &sc); code != 201 {
			t.Fatalf("schedule: %d", code)
		}
	}, func(p playlists.Program) bool { return len(p.Schedules) == 1 && len(p.Items) == 1 })

	step("item change", func() {
		if code := s.Do("PUT", "/api/v1/items/"+item.ID, map[string]any{"kind": "text", "variants": map[string]any{"vi": map[string]string{"text": "Chào mừng"}}, "default_lang": "vi"}, nil); code != 200 {
			t.Fatalf("put item: %d", code)
		}
	}, func(p playlists.Program) bool {
		return len(p.Items) == 1 && p.Items[0].Variants["vi"].Text == "Chào mừng"
	})

	var img servertest.Media
	s.Upload("poster.jpg", testJPEG(t, 640, 480, color.RGBA{200, 20, 20, 255}), &img)
	step("playlist change", func() {
		if code := s.Do("PUT", "/api/v1/playlists/"+pl.ID, map[string]any{"name": "Ticker", "items": []map[string]any{{"item_id": item.ID}, {"media_id": img.ID, "duration_s": 7}}}, nil); code != 200 {
			t.Fatalf("put playlist: %d", code)
		}
	}, func(p playlists.Program) bool { return len(p.Playlists) == 1 && len(p.Playlists[0].Entries) == 2 })

	var lay struct{ ID string }
	step("layout in a schedule", func() {
		s.Do("POST", "/api/v1/layouts", map[string]any{"name": "Main and ticker", "zones": []map[string]any{
			{"id": "main", "x": 0, "y": 0, "w": 100, "h": 85}, {"id": "ticker", "x": 0, "y": 85, "w": 100, "h": 15, "z": 1}}}, &lay)
		if code := s.Do("PUT", "/api/v1/schedules/"+sc.ID, map[string]any{"target": map[string]any{"cluster_ids": []string{cl.ID}},
			"content": map[string]any{"layout_id": lay.ID, "zones": map[string]string{"main": pl.ID, "ticker": pl.ID}}, "priority": 1}, nil); code != 200 {
			t.Fatalf("put schedule: %d", code)
		}
	}, func(p playlists.Program) bool {
		return len(p.Layouts) == 1 && p.Schedules[0].Content.LayoutID == lay.ID
	})

	step("layout change", func() {
		if code := s.Do("PUT", "/api/v1/layouts/"+lay.ID, map[string]any{"name": "Main and ticker", "zones": []map[string]any{
			{"id": "main", "x": 0, "y": 0, "w": 100, "h": 80}, {"id": "ticker", "x": 0, "y": 80, "w": 100, "h": 20, "z": 1}}}, nil); code != 200 {
			t.Fatalf("put layout: %d", code)
		}
	}, func(p playlists.Program) bool { return len(p.Layouts) == 1 && p.Layouts[0].Zones[0].H == 80 })

	step("schedule change", func() {
		if code := s.Do("PUT", "/api/v1/schedules/"+sc.ID, map[string]any{"target": map[string]any{"cluster_ids": []string{cl.ID}},
			"content": map[string]any{"layout_id": lay.ID, "zones": map[string]string{"main": pl.ID, "ticker": pl.ID}}, "priority": 1,
			"windows": []map[string]string{{"start": "07:00", "end": "11:00"}}, "days": []int{1, 2, 3, 4, 5}}, nil); code != 200 {
			t.Fatalf("put schedule: %d", code)
		}
	}, func(p playlists.Program) bool { return len(p.Schedules) == 1 && len(p.Schedules[0].Windows) == 1 })

	step("display change", func() {
		s.Do("PATCH", "/api/v1/displays/"+displayID, map[string]any{"tags": []string{"outdoor", "led"}}, nil)
	}, func(p playlists.Program) bool { return len(p.Display.Tags) == 2 })

	step("cluster change", func() {
		if code := s.Do("PUT", "/api/v1/clusters/"+cl.ID, map[string]any{"name": "Border gate", "timezone": "Asia/Ho_Chi_Minh",
			"hours": []map[string]string{{"start": "06:00", "end": "23:00"}}}, nil); code != 200 {
			t.Fatalf("put cluster: %d", code)
		}
	}, func(p playlists.Program) bool { return len(p.Hours) == 1 && p.Hours[0].Start == "06:00" })

	// The timeline, now and SMIL views of the same program.
	var tl struct {
		Plays []playlists.Play `json:"plays"`
	}
	from := "2026-06-01T07:00:00%2B07:00" // a Monday
	if code := s.Do("GET", "/api/v1/displays/"+displayID+"/timeline?from="+from+"&to=2026-06-01T08:00:00%2B07:00", nil, &tl); code != 200 || len(tl.Plays) == 0 {
		t.Fatalf("timeline: %d, %d plays", code, len(tl.Plays))
	}
	zones := map[string]bool{}
	for _, pl := range tl.Plays {
		zones[pl.Zone] = true
	}
	if !zones["main"] || !zones["ticker"] {
		t.Fatalf("timeline zones: %v", zones)
	}
	var now struct {
		Now playlists.Now `json:"now"`
	}
	if code := s.Do("GET", "/api/v1/displays/"+displayID+"/now?at=2026-06-01T12:00:00%2B07:00", nil, &now); code != 200 {
		t.Fatalf("now: %d", code)
	}
	req, _ := http.NewRequest("GET", s.URL+"/api/v1/displays/"+displayID+"/smil?from="+from+"&days=1", nil)
	req.Header.Set("Authorization", "Bearer "+s.Token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var smil struct {
		XMLName xml.Name
	}
	if resp.StatusCode != 200 || xml.Unmarshal(b, &smil) != nil || smil.XMLName.Local != "smil" || !strings.Contains(resp.Header.Get("Content-Type"), "smil") {
		t.Fatalf("smil: %d %s", resp.StatusCode, b)
	}

	// Bad rules are refused with a clear message, and nothing changes.
	var e servertest.APIError
	if code := s.Do("POST", "/api/v1/schedules", map[string]any{"target": map[string]any{"cluster_ids": []string{cl.ID}}, "content": map[string]any{"playlist_id": pl.ID},
		"windows": []map[string]string{{"start": "25:00", "end": "26:00"}}}, &e); code != 400 {
		t.Fatalf("bad window accepted: %d", code)
	}
	if code := s.Do("POST", "/api/v1/schedules", map[string]any{"target": map[string]any{}, "content": map[string]any{"playlist_id": pl.ID}}, &e); code != 400 || !strings.Contains(e.Error.Message, "target") {
		t.Fatalf("empty target: %d %v", code, e)
	}
	if code := s.Do("POST", "/api/v1/schedules", map[string]any{"target": map[string]any{"cluster_ids": []string{cl.ID}}, "content": map[string]any{"playlist_id": pl.ID}, "prioritty": 3}, &e); code != 400 {
		t.Fatalf("misspelt field accepted: %d", code)
	}
	p.quiet(300 * time.Millisecond)
}

// TestPrefetchWindow: the manifest lists the files the next seven days
// need, not those of a campaign that starts later.
func TestPrefetchWindow(t *testing.T) {
	s := servertest.Start(t, servertest.Options{})
	p, displayID := pairRaw(t, s, "Square")
	var a, b servertest.Media
	s.Upload("now.jpg", testJPEG(t, 320, 240, color.RGBA{10, 10, 200, 255}), &a)
	s.Upload("later.jpg", testJPEG(t, 320, 240, color.RGBA{200, 10, 10, 255}), &b)
	var now, later struct{ ID string }
	s.Do("POST", "/api/v1/playlists", map[string]any{"name": "Now", "items": []map[string]any{{"media_id": a.ID}}}, &now)
	s.Do("POST", "/api/v1/playlists", map[string]any{"name": "Later", "items": []map[string]any{{"media_id": b.ID}}}, &later)
	day := func(d int) string { return time.Now().AddDate(0, 0, d).Format("2006-01-02") }
	s.Do("POST", "/api/v1/schedules", map[string]any{"target": map[string]any{"display_ids": []string{displayID}}, "content": map[string]any{"playlist_id": now.ID}}, nil)
	var sc struct{ ID string }
	if code := s.Do("POST", "/api/v1/schedules", map[string]any{"target": map[string]any{"display_ids": []string{displayID}}, "content": map[string]any{"playlist_id": later.ID},
		"from": day(20), "until": day(30), "priority": 5}, &sc); code != 201 {
		t.Fatalf("schedule: %d", code)
	}
	files := func() map[string]bool {
		m, _ := p.nextProgram(s)
		out := map[string]bool{}
		for _, f := range m.Files {
			out[f.SHA256] = true
		}
		return out
	}
	var laterSHA string
	servertest.Eventually(t, 10*time.Second, "renditions", func() bool {
		var m servertest.Media
		s.Do("GET", "/api/v1/media/"+b.ID, nil, &m)
		if len(m.Renditions) > 0 {
			laterSHA = m.Renditions[0].SHA256
		}
		return laterSHA != ""
	})
	var f map[string]bool
	servertest.Eventually(t, 10*time.Second, "first campaign's file listed", func() bool { f = files(); return len(f) > 0 })
	for {
		if f[laterSHA] {
			t.Fatal("a campaign 20 days ahead is prefetched")
		}
		if len(f) == 1 {
			break
		}
		f = files()
	}
	s.Do("PUT", "/api/v1/schedules/"+sc.ID, map[string]any{"target": map[string]any{"display_ids": []string{displayID}}, "content": map[string]any{"playlist_id": later.ID},
		"from": day(3), "until": day(30), "priority": 5}, nil)
	for i := 0; ; i++ {
		if f = files(); f[laterSHA] {
			break
		}
		if i > 5 {
			t.Fatalf("a campaign 3 days ahead is not prefetched: %v", f)
		}
	}
}

func TestInUseCannotBeDeletedAndClockNeedsNoVariant(t *testing.T) {
	s := servertest.Start(t, servertest.Options{})
	_, displayID := pairRaw(t, s, "Kiosk")
	var clock, pl, lay, sc struct{ ID string }
	if code := s.Do("POST", "/api/v1/items", map[string]any{"kind": "clock", "clock": map[string]string{"format": "15:04"}}, &clock); code != 201 {
		t.Fatalf("clock item without variants: %d", code)
	}
	s.Do("POST", "/api/v1/playlists", map[string]any{"name": "Clock", "items": []map[string]any{{"item_id": clock.ID}}}, &pl)
	s.Do("POST", "/api/v1/layouts", map[string]any{"zones": []map[string]any{{"id": "main", "w": 100, "h": 100}}}, &lay)
	if code := s.Do("POST", "/api/v1/schedules", map[string]any{"display_id": displayID, "content": map[string]any{"layout_id": lay.ID, "zones": map[string]string{"main": pl.ID}}}, &sc); code != 201 {
		t.Fatalf("schedule: %d", code)
	}
	var e servertest.APIError
	for _, path := range []string{"/api/v1/items/" + clock.ID, "/api/v1/playlists/" + pl.ID, "/api/v1/layouts/" + lay.ID} {
		if code := s.Do("DELETE", path, nil, &e); code != 409 || e.Error.Code != "in_use" {
			t.Fatalf("DELETE %s: %d %v", path, code, e)
		}
	}
	var now struct {
		Now playlists.Now `json:"now"`
	}
	s.Do("GET", "/api/v1/displays/"+displayID+"/now?at=2026-06-01T12:00:00%2B07:00", nil, &now)
	if len(now.Now.Zones) != 1 || now.Now.Zones[0].Item == nil || now.Now.Zones[0].Item.Kind != playlists.KindClock {
		t.Fatalf("clock not on screen: %+v", now.Now)
	}
	if code := s.Do("DELETE", "/api/v1/schedules/"+sc.ID, nil, nil); code != 204 {
		t.Fatalf("delete schedule: %d", code)
	}
	for _, path := range []string{"/api/v1/layouts/" + lay.ID, "/api/v1/playlists/" + pl.ID, "/api/v1/items/" + clock.ID} {
		if code := s.Do("DELETE", path, nil, &e); code != 204 {
			t.Fatalf("DELETE %s once unused: %d %v", path, code, e)
		}
	}
}
