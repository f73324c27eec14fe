package player_test

import (
	"testing"
	"time"

	"beacon/player"
	"beacon/player/internal/fakeserver"
	"beacon/player/playertest"
	"beacon/playlists"
	"beacon/protocol"
)

// TestHighPriorityKeepsRegularContent: a high-priority schedule takes the
// screen and the manifest lists only its file; the regular content stays in
// the cache (within the budget), so with the network gone the player
// returns to it when the high-priority window ends.
func TestHighPriorityKeepsRegularContent(t *testing.T) {
	srv := fakeserver.New()
	f1 := srv.AddFile(testImage(t, 64, 32, 1), "image/png")
	f2 := srv.AddFile(testImage(t, 64, 32, 2), "image/png")
	f3 := srv.AddFile(testImage(t, 64, 32, 3), "image/png")
	from := time.Date(2026, 3, 2, 9, 0, 0, 0, hcm)
	clk := playertest.NewClock(from)
	p := startPlayerWith(t, srv.URL, t.TempDir(), clk.Tune)
	pair(t, srv, p)

	regular := twoZoneProgram(f1.SHA256, f2.SHA256)
	if _, err := srv.SendManifest(programManifest(t, 1, regular, f1, f2)); err != nil {
		t.Fatal(err)
	}
	waitStatus(t, p, "regular content cached", func(s player.Status) bool {
		return s.ManifestVersion == 1 && s.Cache.Files == 2 && s.Cache.Missing == 0
	})

	// An urgent notice over the whole display from 09:00 to 10:00 today.
	urgent := twoZoneProgram(f1.SHA256, f2.SHA256)
	urgent.Items = append(urgent.Items, playlists.Item{ID: "notice", Kind: playlists.KindImage, DurationS: 30, DefaultLang: "vi",
		Variants: map[string]playlists.Variant{"vi": {SHA256: f3.SHA256, ContentType: "image/png"}}})
	urgent.Playlists = append(urgent.Playlists, playlists.Playlist{ID: "pl-notice", Entries: []playlists.Entry{{ItemID: "notice"}}})
	urgent.Schedules = append(urgent.Schedules, playlists.Schedule{
		ID: "urgent", Target: playlists.Target{DisplayIDs: []string{testDisplay}}, Priority: 100,
		Content: playlists.Content{PlaylistID: "pl-notice"},
		From:    "2026-03-02", Until: "2026-03-02", Windows: []playlists.Window{{Start: "09:00", End: "10:00"}},
	})
	if _, err := srv.SendManifest(programManifest(t, 2, urgent, f3)); err != nil {
		t.Fatal(err)
	}
	waitStatus(t, p, "urgent notice on screen", func(s player.Status) bool {
		return s.ManifestVersion == 2 && s.Cache.Missing == 0 && s.NowPlaying != nil && s.NowPlaying.SHA256 == f3.SHA256
	})
	// The round that fetched f3 has reported its file list (and trimmed).
	if _, err := srv.WaitFor(ctxT(t, 10*time.Second), protocol.TypeFileList, func(e protocol.Envelope) bool {
		fl := decodeBody[protocol.FileList](t, e)
		return fl.ManifestVersion == 2 && len(fl.Missing) == 0
	}); err != nil {
		t.Fatal(err)
	}
	if st := p.Status(); st.Cache.Files != 3 {
		t.Fatalf("cache holds %d files after the urgent manifest, want 3 (regular content kept)", st.Cache.Files)
	}

	// The network goes; the window ends; the regular content comes back.
	srv.Close()
	waitStatus(t, p, "offline", func(s player.Status) bool { return !s.Connected })
	clk.RunUntil(t, time.Date(2026, 3, 2, 10, 0, 30, 0, hcm))
	st := waitStatus(t, p, "regular content after the window", func(s player.Status) bool {
		return len(s.Zones) == 2 && s.NowPlaying != nil && (s.NowPlaying.SHA256 == f1.SHA256 || s.NowPlaying.SHA256 == f2.SHA256)
	})
	if resp, b := httpGet(t, "http://"+p.Addr()+"/content/"+st.NowPlaying.SHA256); resp.StatusCode != 200 || sha(b) != st.NowPlaying.SHA256 {
		t.Errorf("regular file not served offline: %s", resp.Status)
	}
}

// TestCacheBudgetEvictsLeastRecentlyNeeded: past its budget the cache
// drops the files needed longest ago, never one the manifest lists.
func TestCacheBudgetEvictsLeastRecentlyNeeded(t *testing.T) {
	srv := fakeserver.New()
	defer srv.Close()
	var files []protocol.File
	for i := 0; i < 4; i++ {
		files = append(files, srv.AddFile(testImage(t, 64, 32, byte(10+i)), "image/png"))
	}
	size := files[0].Size
	for _, f := range files {
		size = max(size, f.Size)
	}
	clk := playertest.NewClock(time.Date(2026, 3, 2, 9, 0, 0, 0, hcm))
	// Room for two files and a bit.
	p := startPlayerWith(t, srv.URL, t.TempDir(), func(c *player.Config) {
		clk.Tune(c)
		c.CacheBudget = 2*size + size/2
	})
	pair(t, srv, p)
	has := func(st player.Status, f protocol.File) bool {
		resp, _ := httpGet(t, "http://"+p.Addr()+"/content/"+f.SHA256)
		return resp.StatusCode == 200
	}
	// Manifests needing file 0, then 1, then 2, then 3, a minute apart.
	for i, f := range files {
		clk.Set(clk.Now().Add(time.Minute))
		prog := twoZoneProgram(f.SHA256, f.SHA256)
		if _, err := srv.SendManifest(programManifest(t, int64(i+1), prog, f)); err != nil {
			t.Fatal(err)
		}
		v := int64(i + 1)
		if _, err := srv.WaitFor(ctxT(t, 10*time.Second), protocol.TypeFileList, func(e protocol.Envelope) bool {
			fl := decodeBody[protocol.FileList](t, e)
			return fl.ManifestVersion == v && len(fl.Missing) == 0
		}); err != nil {
			t.Fatal(err)
		}
		st := waitStatus(t, p, "trimmed", func(s player.Status) bool { return s.ManifestVersion == v && s.Cache.Files <= 2 })
		// The listed file and the one needed just before it are kept.
		if !has(st, f) {
			t.Errorf("manifest %d: its own file is gone", v)
		}
		if i > 0 && !has(st, files[i-1]) {
			t.Errorf("manifest %d: the file needed just before was evicted", v)
		}
		for j := 0; j < i-1; j++ {
			if has(st, files[j]) {
				t.Errorf("manifest %d: file %d (needed longest ago) kept over budget", v, j)
			}
		}
	}
}
