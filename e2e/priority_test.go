package e2e_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"beacon/player"
	"beacon/player/playertest"
	"beacon/protocol"
	"beacon/server/servertest"
)

// TestHighPriorityThenOffline: a high-priority schedule takes a display
// over for longer than its prefetch horizon, so the manifest no longer
// lists the regular content. The player keeps the regular files (within
// its cache budget); with the server gone, it returns to them when the
// high-priority schedule ends.
func TestHighPriorityThenOffline(t *testing.T) {
	srv := servertest.Start(t, servertest.Options{})
	now := time.Now().In(saigon)
	clk := playertest.NewClock(now)
	dir := t.TempDir()
	p := startPlayer(t, dir, srv.URL, clk.Tune)
	st := p.wait(t, "pairing code", func(s player.Status) bool { return s.PairingCode != "" })
	var disp struct{ ID string }
	if code := srv.Do("POST", "/api/v1/displays/claim", map[string]any{"code": st.PairingCode, "name": "Lobby", "width": panelW, "height": panelH}, &disp); code != 201 {
		t.Fatalf("claim: %d", code)
	}
	p.wait(t, "paired", func(s player.Status) bool { return s.Paired })
	allDay(t, srv, disp.ID)

	media := uploadPhotos(t, srv, [2]int{800, 600}, [2]int{960, 540})
	plRegular := created(t, srv, "/api/v1/playlists", map[string]any{"name": "Regular", "items": []map[string]any{{"media_id": media[0], "duration_s": 30}}})
	created(t, srv, "/api/v1/schedules", map[string]any{"name": "Regular", "priority": 1,
		"target": map[string]any{"display_ids": []string{disp.ID}}, "content": map[string]any{"playlist_id": plRegular}})
	st = p.wait(t, "regular content playing", func(s player.Status) bool {
		return s.NowPlaying != nil && s.Cache.Missing == 0 && s.Cache.Files == 1
	})
	regular := st.NowPlaying.SHA256
	version := st.ManifestVersion

	// Urgent content for the next ten days: longer than the prefetch horizon.
	until := now.AddDate(0, 0, 10)
	plUrgent := created(t, srv, "/api/v1/playlists", map[string]any{"name": "Urgent", "items": []map[string]any{{"media_id": media[1], "duration_s": 30}}})
	created(t, srv, "/api/v1/schedules", map[string]any{"name": "Urgent", "priority": 100,
		"target":  map[string]any{"display_ids": []string{disp.ID}},
		"content": map[string]any{"playlist_id": plUrgent},
		// From yesterday: the manifest lists the files of the hour before
		// now too, which in the first hour of the day is yesterday's.
		"from": now.AddDate(0, 0, -1).Format("2006-01-02"), "until": until.Format("2006-01-02")})
	st = p.wait(t, "urgent content playing", func(s player.Status) bool {
		return s.ManifestVersion > version && s.NowPlaying != nil && s.NowPlaying.SHA256 != regular && s.Cache.Missing == 0
	})
	// The premise: the manifest no longer lists the regular file.
	raw, err := os.ReadFile(filepath.Join(dir, "manifest.json"))
	if err != nil {
		t.Fatal(err)
	}
	var sm protocol.SignedManifest
	var m protocol.Manifest
	if err := json.Unmarshal(raw, &sm); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(sm.Payload, &m); err != nil || m.Version != st.ManifestVersion {
		t.Fatalf("stored manifest: %v (version %d)", err, m.Version)
	}
	for _, f := range m.Files {
		if f.SHA256 == regular {
			t.Fatalf("the manifest still lists the regular file; the test needs a schedule past the prefetch horizon")
		}
	}

	// The server goes away; the urgent schedule ends; the regular content
	// comes back from the cache.
	srv.Stop()
	p.wait(t, "disconnected", func(s player.Status) bool { return !s.Connected })
	clk.Set(time.Date(until.Year(), until.Month(), until.Day()+1, 10, 0, 0, 0, saigon))
	p.wait(t, "regular content after the urgent schedule, offline", func(s player.Status) bool {
		return s.NowPlaying != nil && s.NowPlaying.SHA256 == regular
	})
}
