package e2e_test

import (
	"encoding/json"
	"fmt"
	"net/url"
	"sort"
	"testing"
	"time"

	"beacon/player"
	"beacon/player/playertest"
	"beacon/server/servertest"
)

// weekPlay is one play as both the proof-of-play report and the timeline
// give it.
type weekPlay struct {
	Zone       string    `json:"zone"`
	ItemID     string    `json:"item_id"`
	SHA256     string    `json:"sha256"`
	ScheduleID string    `json:"schedule_id"`
	Start      time.Time `json:"start"`
	End        time.Time `json:"end"`
}

type weekKey struct {
	Zone, ItemID, SHA256, ScheduleID string
	Start, End                       time.Time
}

func (p weekPlay) key() weekKey {
	return weekKey{p.Zone, p.ItemID, p.SHA256, p.ScheduleID, p.Start.UTC(), p.End.UTC()}
}

func (k weekKey) String() string {
	return fmt.Sprintf("%s %s [%s] %s–%s", k.Zone, k.ItemID, k.ScheduleID,
		k.Start.In(saigon).Format("Mon 01-02 15:04:05.000"), k.End.In(saigon).Format("15:04:05.000"))
}

func sortWeekKeys(ks []weekKey) {
	sort.Slice(ks, func(i, j int) bool {
		if !ks[i].Start.Equal(ks[j].Start) {
			return ks[i].Start.Before(ks[j].Start)
		}
		return ks[i].Zone < ks[j].Zone
	})
}

var saigon = func() *time.Location {
	l, err := time.LoadLocation("Asia/Ho_Chi_Minh")
	if err != nil {
		panic(err)
	}
	return l
}()

// created posts a resource and returns its id.
func created(t *testing.T, srv *servertest.Server, path string, body any) string {
	t.Helper()
	var raw json.RawMessage
	code := srv.Do("POST", path, body, &raw)
	var out struct {
		ID string `json:"id"`
	}
	_ = json.Unmarshal(raw, &out)
	if code != 201 || out.ID == "" {
		t.Fatalf("POST %s: %d %s", path, code, raw)
	}
	return out.ID
}

// TestWeekProofOfPlayEqualsTimeline runs a real player against a real
// server for a simulated week of a program with dayparts, priorities, a
// two-zone layout and a share-of-voice interrupt, and checks that the
// proof of play the server stored is exactly the server's own timeline
// for that week.
func TestWeekProofOfPlayEqualsTimeline(t *testing.T) {
	if testing.Short() {
		t.Skip("simulates a week of playback")
	}
	began := time.Now()
	srv := servertest.Start(t, servertest.Options{})

	// Monday 06:55 in Saigon, before opening time.
	from := time.Date(2026, 3, 2, 6, 55, 0, 0, saigon)
	if from.Weekday() != time.Monday {
		t.Fatalf("%v is not a Monday", from)
	}
	end := from.AddDate(0, 0, 7)
	clk := playertest.NewClock(from)
	p := startPlayer(t, t.TempDir(), srv.URL, clk.Tune)

	// Pairing and the display's cluster (default operating hours).
	st := p.wait(t, "pairing code", func(s player.Status) bool { return s.PairingCode != "" })
	var disp struct{ ID string }
	if code := srv.Do("POST", "/api/v1/displays/claim", map[string]any{"code": st.PairingCode, "name": "Lobby", "width": panelW, "height": panelH}, &disp); code != 201 {
		t.Fatalf("claim: %d", code)
	}
	p.wait(t, "paired", func(s player.Status) bool { return s.Paired && s.DisplayID == disp.ID })
	var cl struct {
		ID       string `json:"id"`
		Timezone string `json:"timezone"`
		Hours    []struct{ Start, End string }
	}
	if code := srv.Do("POST", "/api/v1/clusters", map[string]any{"name": "Saigon stores", "timezone": "Asia/Ho_Chi_Minh"}, &cl); code != 201 {
		t.Fatalf("create cluster: %d", code)
	}
	if cl.Timezone != "Asia/Ho_Chi_Minh" || len(cl.Hours) != 1 || cl.Hours[0].Start != "07:00" || cl.Hours[0].End != "22:00" {
		t.Fatalf("cluster %+v: want Asia/Ho_Chi_Minh, 07:00–22:00", cl)
	}
	if code := srv.Do("PATCH", "/api/v1/displays/"+disp.ID, map[string]any{"cluster_id": cl.ID}, nil); code != 200 {
		t.Fatalf("put display in cluster: %d", code)
	}

	// Three pictures, with their renditions for this panel.
	media := uploadPhotos(t, srv, [2]int{800, 600}, [2]int{600, 800}, [2]int{960, 540})

	// Content: two ticker texts, a one-minute spot, a split layout.
	welcome := created(t, srv, "/api/v1/items", map[string]any{"kind": "text", "name": "Welcome", "duration_s": 600,
		"variants": map[string]any{"vi": map[string]any{"text": "Chào mừng quý khách"}}, "text": map[string]any{"scroll": true, "speed_px_s": 80}})
	hours := created(t, srv, "/api/v1/items", map[string]any{"kind": "text", "name": "Hours", "duration_s": 300,
		"variants": map[string]any{"vi": map[string]any{"text": "Giờ mở cửa 07:00–22:00"}}})
	spot := created(t, srv, "/api/v1/items", map[string]any{"kind": "image", "name": "Spot", "duration_s": 60,
		"variants": map[string]any{"vi": map[string]any{"media_id": media[2]}}})
	layout := created(t, srv, "/api/v1/layouts", map[string]any{"name": "Split", "zones": []map[string]any{
		{"id": "main", "x": 0, "y": 0, "w": 100, "h": 80},
		{"id": "ticker", "x": 0, "y": 80, "w": 100, "h": 20, "z": 1}}})
	plAllDay := created(t, srv, "/api/v1/playlists", map[string]any{"name": "All day", "items": []map[string]any{
		{"media_id": media[0], "duration_s": 900}, {"media_id": media[1], "duration_s": 1200}}})
	plMorning := created(t, srv, "/api/v1/playlists", map[string]any{"name": "Mornings", "items": []map[string]any{
		{"media_id": media[1], "duration_s": 720}, {"media_id": media[2], "duration_s": 600}}})
	plTicker := created(t, srv, "/api/v1/playlists", map[string]any{"name": "Ticker", "items": []map[string]any{
		{"item_id": welcome}, {"item_id": hours}}})
	plSpot := created(t, srv, "/api/v1/playlists", map[string]any{"name": "Spot", "items": []map[string]any{{"item_id": spot}}})

	// Schedules: all day at low priority, weekday mornings above it, and
	// the spot twice an hour over both.
	schedAllDay := created(t, srv, "/api/v1/schedules", map[string]any{"name": "All day", "priority": 1,
		"target":  map[string]any{"cluster_ids": []string{cl.ID}},
		"content": map[string]any{"layout_id": layout, "zones": map[string]string{"main": plAllDay, "ticker": plTicker}}})
	schedMorning := created(t, srv, "/api/v1/schedules", map[string]any{"name": "Weekday mornings", "priority": 10,
		"target":  map[string]any{"display_ids": []string{disp.ID}},
		"content": map[string]any{"layout_id": layout, "zones": map[string]string{"main": plMorning, "ticker": plTicker}},
		"days":    []int{1, 2, 3, 4, 5}, "windows": []map[string]string{{"start": "07:00", "end": "11:00"}}})
	schedSpot := created(t, srv, "/api/v1/schedules", map[string]any{"name": "Spot", "priority": 0,
		"target":    map[string]any{"display_ids": []string{disp.ID}},
		"content":   map[string]any{"playlist_id": plSpot},
		"interrupt": map[string]any{"seconds_per_hour": 120}})

	// The server's timeline of the week (an hour more, so a play running
	// past the end is known by its real end).
	// It comes a page at a time.
	var tl struct {
		Timezone   string     `json:"timezone"`
		Plays      []weekPlay `json:"plays"`
		Conflicts  []any      `json:"conflicts"`
		NextCursor string     `json:"next_cursor"`
	}
	q := url.Values{"from": {from.Format(time.RFC3339)}, "to": {end.Add(time.Hour).Format(time.RFC3339)}, "limit": {"10000"}}
	var all []weekPlay
	for {
		tl.Plays, tl.NextCursor = nil, ""
		if code := srv.Do("GET", "/api/v1/displays/"+disp.ID+"/timeline?"+q.Encode(), nil, &tl); code != 200 {
			t.Fatalf("timeline: %d", code)
		}
		all = append(all, tl.Plays...)
		if tl.NextCursor == "" {
			break
		}
		q = url.Values{"cursor": {tl.NextCursor}, "limit": {"10000"}}
	}
	tl.Plays = all
	if tl.Timezone != "Asia/Ho_Chi_Minh" || len(tl.Conflicts) != 0 {
		t.Fatalf("timeline: timezone %q, conflicts %v", tl.Timezone, tl.Conflicts)
	}
	items := map[string]bool{}
	for _, pl := range tl.Plays {
		items[pl.ItemID] = true
	}
	for _, id := range []string{media[0], media[1], media[2], welcome, hours, spot} {
		if !items[id] {
			t.Fatalf("item %s never in the timeline (items %v)", id, items)
		}
	}

	// The player holds the server's latest manifest and every file.
	servertest.Eventually(t, 30*time.Second, "player holds the manifest and all files", func() bool {
		var d struct {
			ManifestVersion int64 `json:"manifest_version"`
		}
		srv.Do("GET", "/api/v1/displays/"+disp.ID, nil, &d)
		s := p.Status()
		return d.ManifestVersion > 0 && s.ManifestVersion == d.ManifestVersion && s.Cache.Files == 3 && s.Cache.Missing == 0
	})

	// A stand-in renderer reports each item painted: proof of play counts
	// only what a renderer showed. The clock waits for its reports.
	rend, err := playertest.DialRenderer(t.Context(), p.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer rend.Close()
	clk.Settle(playertest.AllShown(p.Player))

	// The week.
	run := time.Now()
	steps := clk.RunUntil(t, end)
	t.Logf("simulated week: %d clock steps in %v", steps, time.Since(run).Round(time.Millisecond))

	want := []weekKey{}
	for _, pl := range tl.Plays {
		if pl.End.After(end) || !pl.End.After(pl.Start) {
			continue // still on screen at the end: not journalled yet
		}
		if pl.Start.Before(from) {
			pl.Start = from
		}
		want = append(want, pl.key())
	}
	if len(want) < 1000 {
		t.Fatalf("timeline has only %d plays", len(want))
	}

	// Proof of play as the server stored it.
	var got []weekPlay
	var records []string
	deadline := time.Now().Add(30 * time.Second)
	for {
		got, records = got[:0], records[:0]
		q = url.Values{"display_id": {disp.ID}, "from": {from.Format(time.RFC3339)}, "to": {end.Add(time.Hour).Format(time.RFC3339)}, "limit": {"10000"}}
		for {
			var resp struct {
				Plays []struct {
					weekPlay
					RecordID string `json:"record_id"`
				} `json:"plays"`
				NextCursor string `json:"next_cursor"`
			}
			if code := srv.Do("GET", "/api/v1/plays?"+q.Encode(), nil, &resp); code != 200 {
				t.Fatalf("plays: %d", code)
			}
			for _, r := range resp.Plays {
				got = append(got, r.weekPlay)
				records = append(records, r.RecordID)
			}
			if resp.NextCursor == "" {
				break
			}
			q = url.Values{"display_id": {disp.ID}, "cursor": {resp.NextCursor}, "limit": {"10000"}}
		}
		if len(got) >= len(want) && p.Status().PlaysPending == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Logf("gave up waiting: %d plays stored, %d in the timeline, %d pending on the player", len(got), len(want), p.Status().PlaysPending)
			break
		}
		time.Sleep(100 * time.Millisecond)
	}

	// Nothing counted twice.
	seen := map[string]bool{}
	for _, id := range records {
		if id == "" || seen[id] {
			t.Errorf("record id %q empty or stored twice", id)
		}
		seen[id] = true
	}

	// The proof of play is the timeline.
	gotKeys := make([]weekKey, len(got))
	for i, g := range got {
		gotKeys[i] = g.key()
	}
	sortWeekKeys(gotKeys)
	sortWeekKeys(want)
	if len(gotKeys) != len(want) {
		t.Errorf("%d plays stored, the timeline has %d", len(gotKeys), len(want))
		inGot := map[weekKey]bool{}
		for _, k := range gotKeys {
			inGot[k] = true
		}
		inWant := map[weekKey]bool{}
		shown := 0
		for _, k := range want {
			inWant[k] = true
			if !inGot[k] && shown < 10 {
				t.Logf("missing %v", k)
				shown++
			}
		}
		shown = 0
		for _, k := range gotKeys {
			if !inWant[k] && shown < 10 {
				t.Logf("extra   %v", k)
				shown++
			}
		}
	}
	for i := 0; i < min(len(gotKeys), len(want)); i++ {
		if gotKeys[i] != want[i] {
			t.Fatalf("play %d:\n got %v\nwant %v", i, gotKeys[i], want[i])
		}
	}

	// Nothing at night; weekday mornings only on weekday mornings; the
	// spot at :00 and :30 of every open hour.
	morningDays := map[string]bool{}
	spots := 0
	for _, g := range got {
		s, e := g.Start.In(saigon), g.End.In(saigon)
		open := time.Date(s.Year(), s.Month(), s.Day(), 7, 0, 0, 0, saigon)
		closing := time.Date(s.Year(), s.Month(), s.Day(), 22, 0, 0, 0, saigon)
		if s.Before(open) || e.After(closing) {
			t.Errorf("play outside operating hours: %v", g.key())
		}
		switch g.ScheduleID {
		case schedMorning:
			noon := time.Date(s.Year(), s.Month(), s.Day(), 11, 0, 0, 0, saigon)
			if s.Weekday() == time.Saturday || s.Weekday() == time.Sunday || e.After(noon) {
				t.Errorf("weekday-morning play outside weekday mornings: %v", g.key())
			}
			morningDays[s.Format("2006-01-02")] = true
		case schedSpot:
			spots++
			if g.Zone != "main" || s.Second() != 0 || s.Minute()%30 != 0 || e.Sub(s) != time.Minute {
				t.Errorf("spot play not a minute at :00 or :30: %v", g.key())
			}
		case schedAllDay:
		default:
			t.Errorf("play of an unknown schedule: %v", g.key())
		}
	}
	if len(morningDays) != 5 {
		t.Errorf("weekday-morning schedule played on %d days (%v), want 5", len(morningDays), morningDays)
	}
	if spots != 2*15*7 {
		t.Errorf("%d spot plays, want %d (twice an hour, 15 hours a day, 7 days)", spots, 2*15*7)
	}
	t.Logf("%d plays over the week (%d spots), %v in all", len(got), spots, time.Since(began).Round(time.Millisecond))
}

// uploadPhotos uploads one JPEG per size and waits for each one's
// rendition at the panel's size.
func uploadPhotos(t *testing.T, srv *servertest.Server, sizes ...[2]int) []string {
	t.Helper()
	media := make([]string, len(sizes))
	for i, size := range sizes {
		var m servertest.Media
		if code := srv.Upload(fmt.Sprintf("pic%d.jpg", i), photo(t, size[0], size[1]), &m); code != 201 {
			t.Fatalf("upload %d: %d", i, code)
		}
		media[i] = m.ID
	}
	servertest.Eventually(t, 30*time.Second, "renditions for the panel", func() bool {
		for _, id := range media {
			var m servertest.Media
			srv.Do("GET", "/api/v1/media/"+id, nil, &m)
			ok := false
			for _, r := range m.Renditions {
				ok = ok || r.Width == panelW && r.Height == panelH
			}
			if !ok {
				return false
			}
		}
		return true
	})
	return media
}
