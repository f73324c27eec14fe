package server_test

import (
	"fmt"
	"net/url"
	"testing"
	"time"

	"beacon/playlists"
	"beacon/server/servertest"
)

// GET /displays/{id}/now reports, besides what the program shows, the
// override the display shows at that instant by docs/evaluation.md §15:
// the highest level, then the newest; none after expiry or a cancel;
// outside operating hours only one that wakes the screen.
func TestNowReportsTheOverrideShown(t *testing.T) {
	s := servertest.Start(t, servertest.Options{})
	_, display := pairWith(t, s, s.Token, withOverride, nil)
	type now struct {
		Now struct {
			Off bool `json:"off"`
		} `json:"now"`
		Override *struct {
			ID             string    `json:"id"`
			Level          string    `json:"level"`
			Presentation   string    `json:"presentation"`
			Position       string    `json:"position"`
			ProgramVisible bool      `json:"program_visible"`
			ExpiresAt      time.Time `json:"expires_at"`
		} `json:"override"`
	}
	at := func(t0 time.Time) now {
		t.Helper()
		var n now
		q := ""
		if !t0.IsZero() {
			q = "?at=" + url.QueryEscape(t0.Format(time.RFC3339))
		}
		if code := s.Do("GET", "/api/v1/displays/"+display+"/now"+q, nil, &n); code != 200 {
			t.Fatalf("now: %d", code)
		}
		return n
	}
	if n := at(time.Time{}); n.Override != nil {
		t.Fatalf("an override before any was triggered: %+v", n.Override)
	}
	banner := trigger(t, s, s.Token, map[string]any{"level": "info", "presentation": "banner", "position": "top",
		"text": map[string]string{"en": "Road works"}, "targets": map[string]any{"all": true}, "expires_in_s": 3600, "wake": true})
	n := at(time.Time{})
	if n.Override == nil || n.Override.ID != banner.ID || n.Override.Presentation != "banner" || n.Override.Position != "top" || n.Override.ProgramVisible == n.Now.Off {
		t.Fatalf("banner: %+v (program off %v)", n.Override, n.Now.Off)
	}
	full := trigger(t, s, s.Token, smallest) // critical fullscreen, 900 s, wakes
	n = at(time.Time{})
	if n.Override == nil || n.Override.ID != full.ID || n.Override.ProgramVisible {
		t.Fatalf("critical fullscreen over the banner: %+v", n.Override)
	}
	// After the critical one expires the banner shows again; after the
	// banner expires, nothing.
	if n := at(full.ExpiresAt.Add(time.Second)); n.Override == nil || n.Override.ID != banner.ID {
		t.Fatalf("after the critical expired: %+v", n.Override)
	}
	if n := at(banner.ExpiresAt.Add(time.Second)); n.Override != nil {
		t.Fatalf("after both expired: %+v", n.Override)
	}
	// A cancel ends it from the instant of the cancel.
	if code := s.Do("POST", "/api/v1/overrides/"+full.ID+"/cancel", nil, nil); code != 200 {
		t.Fatalf("cancel: %d", code)
	}
	if n := at(time.Time{}); n.Override == nil || n.Override.ID != banner.ID {
		t.Fatalf("after the cancel: %+v", n.Override)
	}
	// Outside operating hours (the default 07:00–22:00 Hanoi time) only an
	// override that wakes the screen shows; inside them the higher level.
	day := trigger(t, s, s.Token, map[string]any{"level": "critical", "presentation": "fullscreen", "text": map[string]string{"en": "Day"},
		"targets": map[string]any{"all": true}, "expires_in_s": 86400, "wake": false})
	night := trigger(t, s, s.Token, map[string]any{"level": "warning", "presentation": "blank",
		"targets": map[string]any{"all": true}, "expires_in_s": 86400, "wake": true})
	loc, _ := time.LoadLocation("Asia/Ho_Chi_Minh")
	var off, on time.Time
	for h := time.Now().Truncate(time.Hour).Add(2 * time.Hour); off.IsZero() || on.IsZero(); h = h.Add(time.Hour) {
		switch hr := h.In(loc).Hour(); {
		case (hr >= 23 || hr < 6) && off.IsZero():
			off = h
		case hr >= 9 && hr < 20 && on.IsZero():
			on = h
		}
	}
	if n := at(off); !n.Now.Off || n.Override == nil || n.Override.ID != night.ID || n.Override.ProgramVisible {
		t.Fatalf("at %s (off %v): %+v, want the waking %s", off.In(loc).Format("15:04"), n.Now.Off, n.Override, night.ID)
	}
	if n := at(on); n.Now.Off || n.Override == nil || n.Override.ID != day.ID {
		t.Fatalf("at %s (off %v): %+v, want the critical %s", on.In(loc).Format("15:04"), n.Now.Off, n.Override, day.ID)
	}
}

// A player that evaluates the program of its manifest by the documents
// (docs/evaluation.md, here with the reference evaluator playlists.At)
// agrees with the server's /now at every instant: same screen state,
// layout, next change, and per zone the same item, variant, play start and
// end, schedule and playlist.
func TestNowAgreesWithTheManifestProgram(t *testing.T) {
	s := servertest.Start(t, servertest.Options{})
	p, displayID := pairRaw(t, s, "Gate wall")
	var cl, item, ticker, pl, tp, lay struct{ ID string }
	s.Do("POST", "/api/v1/clusters", map[string]any{"name": "Gate", "timezone": "Asia/Ho_Chi_Minh",
		"hours": []map[string]string{{"start": "06:00", "end": "23:00"}}}, &cl)
	s.Do("POST", "/api/v1/items", map[string]any{"kind": "text", "duration_s": 12, "default_lang": "vi",
		"variants": map[string]any{"vi": map[string]string{"text": "Xin chào"}, "en": map[string]string{"text": "Welcome"}}}, &item)
	s.Do("POST", "/api/v1/items", map[string]any{"kind": "text", "duration_s": 30, "default_lang": "en",
		"variants": map[string]any{"en": map[string]string{"text": "News"}}, "text": map[string]any{"scroll": true}}, &ticker)
	s.Do("POST", "/api/v1/playlists", map[string]any{"name": "Main", "items": []map[string]any{{"item_id": item.ID}, {"item_id": ticker.ID, "duration_s": 7}}}, &pl)
	s.Do("POST", "/api/v1/playlists", map[string]any{"name": "Ticker", "items": []map[string]any{{"item_id": ticker.ID}}}, &tp)
	s.Do("POST", "/api/v1/layouts", map[string]any{"name": "Main and ticker", "zones": []map[string]any{
		{"id": "main", "x": 0, "y": 0, "w": 100, "h": 85}, {"id": "ticker", "x": 0, "y": 85, "w": 100, "h": 15, "z": 1}}}, &lay)
	if code := s.Do("PATCH", "/api/v1/displays/"+displayID, map[string]any{"cluster_id": cl.ID, "languages": []string{"en", "vi"}}, nil); code != 200 {
		t.Fatalf("patch: %d", code)
	}
	for _, sc := range []map[string]any{
		{"target": map[string]any{"cluster_ids": []string{cl.ID}}, "content": map[string]any{"layout_id": lay.ID, "zones": map[string]string{"main": pl.ID, "ticker": tp.ID}}, "priority": 1},
		{"target": map[string]any{"display_ids": []string{displayID}}, "content": map[string]any{"playlist_id": tp.ID}, "priority": 5,
			"windows": []map[string]string{{"start": "11:00", "end": "13:30"}}, "days": []int{1, 3, 5}},
	} {
		if code := s.Do("POST", "/api/v1/schedules", sc, nil); code != 201 {
			t.Fatalf("schedule: %d", code)
		}
	}
	var prog playlists.Program
	for i := 0; ; i++ {
		_, prog = p.nextProgram(s)
		if len(prog.Schedules) == 2 && len(prog.Layouts) == 1 && prog.Display.ClusterID == cl.ID && len(prog.Display.Languages) == 2 {
			break
		}
		if i > 10 {
			t.Fatal("no manifest with both schedules")
		}
	}
	loc, _ := time.LoadLocation("Asia/Ho_Chi_Minh")
	start := time.Date(2026, 9, 2, 0, 0, 0, 0, loc) // a Wednesday
	n := 0
	for at := start; at.Before(start.Add(48 * time.Hour)); at = at.Add(47*time.Minute + 13*time.Second) {
		var got struct {
			Now playlists.Now `json:"now"`
		}
		if code := s.Do("GET", "/api/v1/displays/"+displayID+"/now?at="+url.QueryEscape(at.Format(time.RFC3339)), nil, &got); code != 200 {
			t.Fatalf("now: %d", code)
		}
		want := playlists.At(&prog, at, playlists.Options{})
		if err := sameNow(got.Now, want); err != nil {
			t.Fatalf("at %s: %v", at.Format(time.RFC3339), err)
		}
		if !want.Off {
			n++
		}
	}
	if n < 30 {
		t.Fatalf("only %d instants with the screen on", n)
	}
}

func sameNow(got, want playlists.Now) error {
	if got.Off != want.Off || got.LayoutID != want.LayoutID || !got.Next.Equal(want.Next) || len(got.Zones) != len(want.Zones) {
		return fmt.Errorf("/now says off=%v layout %q next %s, %d zones; the manifest's program off=%v layout %q next %s, %d zones",
			got.Off, got.LayoutID, got.Next, len(got.Zones), want.Off, want.LayoutID, want.Next, len(want.Zones))
	}
	for i, g := range got.Zones {
		w := want.Zones[i]
		gi, wi := "", ""
		if g.Item != nil {
			gi = g.Item.ID
		}
		if w.Item != nil {
			wi = w.Item.ID
		}
		if g.Zone != w.Zone || g.Rect != w.Rect || g.Z != w.Z || gi != wi || g.Lang != w.Lang || g.Variant != w.Variant ||
			!g.Start.Equal(w.Start) || !g.End.Equal(w.End) || g.ScheduleID != w.ScheduleID || g.PlaylistID != w.PlaylistID || g.Interrupt != w.Interrupt {
			return fmt.Errorf("zone %s: /now shows %s (%s) %s–%s by %s/%s; the manifest's program %s (%s) %s–%s by %s/%s",
				g.Zone, gi, g.Lang, g.Start, g.End, g.ScheduleID, g.PlaylistID, wi, w.Lang, w.Start, w.End, w.ScheduleID, w.PlaylistID)
		}
	}
	return nil
}
