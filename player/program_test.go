package player_test

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"beacon/player"
	"beacon/player/internal/fakeserver"
	"beacon/player/playertest"
	"beacon/playlists"
	"beacon/protocol"
)

var hcm = mustLoc("Asia/Ho_Chi_Minh")

func mustLoc(name string) *time.Location {
	l, err := time.LoadLocation(name)
	if err != nil {
		panic(err)
	}
	return l
}

// twoZoneProgram: a main zone looping two images and a ticker strip along
// the bottom looping two texts, every day inside operating hours.
func twoZoneProgram(sha1, sha2 string) *playlists.Program {
	return &playlists.Program{
		Display:  playlists.Display{ID: testDisplay, Width: 1152, Height: 576},
		Timezone: "Asia/Ho_Chi_Minh",
		Hours:    []playlists.Window{{Start: "07:00", End: "22:00"}},
		Items: []playlists.Item{
			{ID: "img-1", Kind: playlists.KindImage, DurationS: 7, DefaultLang: "vi", Variants: map[string]playlists.Variant{"vi": {SHA256: sha1, ContentType: "image/png"}}},
			{ID: "img-2", Kind: playlists.KindImage, DurationS: 11, DefaultLang: "vi", Variants: map[string]playlists.Variant{"vi": {SHA256: sha2, ContentType: "image/png"}}},
			{ID: "tick-1", Kind: playlists.KindText, DurationS: 13, DefaultLang: "vi", Text: &playlists.TextStyle{Scroll: true, SpeedPxS: 150},
				Variants: map[string]playlists.Variant{"vi": {Text: "Chào mừng quý khách — khuyến mãi cuối tuần"}}},
			{ID: "tick-2", Kind: playlists.KindText, DurationS: 17, DefaultLang: "vi",
				Variants: map[string]playlists.Variant{"vi": {Text: "Giờ mở cửa 07:00–22:00"}}},
		},
		Playlists: []playlists.Playlist{
			{ID: "pl-main", Entries: []playlists.Entry{{ItemID: "img-1"}, {ItemID: "img-2"}}, Transition: playlists.Transition{Kind: "fade", DurationMS: 300}},
			{ID: "pl-ticker", Entries: []playlists.Entry{{ItemID: "tick-1"}, {ItemID: "tick-2"}}, Transition: playlists.Transition{Kind: "cut"}},
		},
		Layouts: []playlists.Layout{{ID: "lay-split", Zones: []playlists.Zone{
			{ID: "main", X: 0, Y: 0, W: 100, H: 80, Unit: playlists.UnitPercent},
			{ID: "ticker", X: 0, Y: 80, W: 100, H: 20, Unit: playlists.UnitPercent, Z: 1},
		}}},
		Schedules: []playlists.Schedule{},
		Default:   &playlists.Content{LayoutID: "lay-split", Zones: map[string]string{"main": "pl-main", "ticker": "pl-ticker"}},
	}
}

func programManifest(t *testing.T, version int64, prog *playlists.Program, files ...protocol.File) protocol.Manifest {
	raw, err := json.Marshal(prog)
	if err != nil {
		t.Fatal(err)
	}
	return protocol.Manifest{
		DisplayID: testDisplay, Version: version, IssuedAt: time.Now().UTC(),
		Display:  protocol.DisplaySpec{Width: prog.Display.Width, Height: prog.Display.Height, Fit: "contain", Background: "#000000"},
		Timezone: prog.Timezone, Program: raw, PrefetchDays: 2, Files: files,
	}
}

type playKey struct {
	Zone, ItemID, SHA256, ScheduleID string
	Start, End                       time.Time
}

func (k playKey) String() string {
	return fmt.Sprintf("%s %s %s–%s", k.Zone, k.ItemID, k.Start.In(hcm).Format("15:04:05.000"), k.End.In(hcm).Format("15:04:05.000"))
}

func sortKeys(ks []playKey) {
	sort.Slice(ks, func(i, j int) bool {
		if !ks[i].Start.Equal(ks[j].Start) {
			return ks[i].Start.Before(ks[j].Start)
		}
		return ks[i].Zone < ks[j].Zone
	})
}

// TestProgramPlaysTimeline runs a two-zone program for a simulated hour
// and checks that the plays the server receives are exactly the program's
// timeline over that hour.
func TestProgramPlaysTimeline(t *testing.T) {
	srv := fakeserver.New()
	defer srv.Close()
	f1 := srv.AddFile(testImage(t, 64, 32, 10), "image/png")
	f2 := srv.AddFile(testImage(t, 64, 32, 200), "image/png")
	prog := twoZoneProgram(f1.SHA256, f2.SHA256)

	from := time.Date(2026, 3, 2, 9, 0, 7, 0, hcm)
	clk := playertest.NewClock(from)
	p := startPlayerWith(t, srv.URL, t.TempDir(), clk.Tune)
	pair(t, srv, p)
	dialRenderer(t, p.Addr())
	clk.Settle(playertest.AllShown(p.Player))
	if _, err := srv.SendManifest(programManifest(t, 1, prog, f1, f2)); err != nil {
		t.Fatal(err)
	}
	waitStatus(t, p, "program playing in both zones", func(s player.Status) bool {
		if s.ManifestVersion != 1 || s.Cache.Missing != 0 || len(s.Zones) != 2 || s.State != protocol.StatePlaying {
			return false
		}
		for _, z := range s.Zones {
			if z.Zone == "main" && z.SHA256 == "" || !z.Shown {
				return false
			}
		}
		return true
	})

	end := from.Add(time.Hour)
	steps := clk.RunUntil(t, end)
	t.Logf("%d clock steps", steps)

	want := []playKey{}
	// The timeline runs past the end so that plays still on screen at the
	// end (not journalled yet) are known by their real end.
	for _, pl := range timeline(prog, from, end.Add(time.Hour), playlists.Options{}) {
		if pl.End.After(end) || !pl.End.After(pl.Start) {
			continue
		}
		start := pl.Start
		if start.Before(from) {
			start = from
		}
		want = append(want, playKey{pl.Zone, pl.ItemID, pl.SHA256, pl.ScheduleID, start.UTC(), pl.End.UTC()})
	}
	if len(want) < 300 {
		t.Fatalf("timeline has only %d plays", len(want))
	}
	plays, err := srv.WaitPlays(ctxT(t, 20*time.Second), func(ps []protocol.PlayRecord) bool { return len(ps) >= len(want) })
	if err != nil {
		gs := map[playKey]bool{}
		for _, r := range plays {
			gs[playKey{r.Zone, r.ItemID, r.SHA256, r.ScheduleID, r.Start.UTC(), r.End.UTC()}] = true
		}
		for _, w := range want {
			if !gs[w] {
				t.Logf("missing %v", w)
			}
		}
		t.Fatalf("%v (%d of %d plays)", err, len(plays), len(want))
	}
	got := make([]playKey, len(plays))
	ids := map[string]bool{}
	for i, r := range plays {
		got[i] = playKey{r.Zone, r.ItemID, r.SHA256, r.ScheduleID, r.Start.UTC(), r.End.UTC()}
		if ids[r.ID] {
			t.Errorf("play id %s twice", r.ID)
		}
		ids[r.ID] = true
	}
	sortKeys(got)
	sortKeys(want)
	if len(got) != len(want) {
		t.Errorf("%d plays journalled, timeline has %d", len(got), len(want))
	}
	for i := 0; i < min(len(got), len(want)); i++ {
		if got[i] != want[i] {
			t.Fatalf("play %d:\n got %v\nwant %v", i, got[i], want[i])
		}
	}
	if srv.Resent() != 0 {
		t.Errorf("%d records sent twice although every batch was acknowledged", srv.Resent())
	}
	waitStatus(t, p, "journal drained", func(s player.Status) bool { return s.PlaysPending == 0 })
}

// rendererClient is a stand-in renderer that records commands and
// reports every show painted.
type rendererClient struct {
	*playertest.Renderer
}

func dialRenderer(t *testing.T, addr string) *rendererClient {
	r, err := playertest.DialRenderer(ctxT(t, 5*time.Second), addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return &rendererClient{r}
}

func (rc *rendererClient) last() map[string]any {
	cmds := rc.Commands()
	if len(cmds) == 0 {
		return nil
	}
	return cmds[len(cmds)-1]
}

func (rc *rendererClient) waitFor(t *testing.T, what string, cond func(map[string]any) bool) map[string]any {
	t.Helper()
	ctx := ctxT(t, 10*time.Second)
	seen := 0
	for {
		cmds := rc.Commands()[seen:]
		seen += len(cmds)
		for _, c := range cmds {
			if cond(c) {
				return c
			}
		}
		select {
		case <-ctx.Done():
			t.Fatalf("renderer never got %s; last command %v", what, rc.last())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// TestProgramOffHours: outside operating hours the screen is off (and so
// is the reported state); at opening time playback resumes. An item whose
// file is not in the cache is never started, and is reported missing.
func TestProgramOffHours(t *testing.T) {
	srv := fakeserver.New()
	defer srv.Close()
	f1 := srv.AddFile(testImage(t, 64, 32, 10), "image/png")
	// f2 is listed but the server cannot deliver it.
	f2 := protocol.File{SHA256: sha([]byte("never served")), Size: 12, URL: "/player/v1/files/" + sha([]byte("never served")), ContentType: "image/png"}
	prog := twoZoneProgram(f1.SHA256, f2.SHA256)

	night := time.Date(2026, 3, 2, 22, 30, 0, 0, hcm)
	clk := playertest.NewClock(night)
	p := startPlayerWith(t, srv.URL, t.TempDir(), clk.Tune)
	pair(t, srv, p)
	rc := dialRenderer(t, p.Addr())
	clk.Settle(playertest.AllShown(p.Player))
	if _, err := srv.SendManifest(programManifest(t, 1, prog, f1, f2)); err != nil {
		t.Fatal(err)
	}
	st := waitStatus(t, p, "off", func(s player.Status) bool { return s.ManifestVersion == 1 && s.State == protocol.StateOff })
	if st.NowPlaying != nil || len(st.Zones) != 0 {
		t.Errorf("off but playing: %+v", st)
	}
	rc.waitFor(t, "off", func(c map[string]any) bool { return c["type"] == "off" })
	if _, err := srv.WaitFor(ctxT(t, 5*time.Second), protocol.TypeHeartbeat, func(e protocol.Envelope) bool {
		return decodeBody[protocol.Heartbeat](t, e).State == protocol.StateOff
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := srv.WaitFor(ctxT(t, 5*time.Second), protocol.TypeFileList, func(e protocol.Envelope) bool {
		fl := decodeBody[protocol.FileList](t, e)
		return len(fl.Missing) == 1 && fl.Missing[0] == f2.SHA256 && len(fl.Have) == 1
	}); err != nil {
		t.Fatal(err)
	}
	// The player sleeps until opening time.
	at, err := clk.WaitAlarm(ctxT(t, 5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	open := time.Date(2026, 3, 3, 7, 0, 0, 0, hcm)
	if at.After(open) {
		t.Fatalf("alarm at %v, after opening time %v", at.In(hcm), open)
	}
	clk.RunUntil(t, open.Add(2*time.Minute))
	st = waitStatus(t, p, "playing after opening", func(s player.Status) bool { return s.State == protocol.StatePlaying && len(s.Zones) == 2 })
	if st.Cache.Missing != 1 {
		t.Errorf("cache missing = %d, want 1", st.Cache.Missing)
	}
	rc.waitFor(t, "layout", func(c map[string]any) bool { return c["type"] == "layout" })
	plays, _ := srv.WaitPlays(ctxT(t, 10*time.Second), func(ps []protocol.PlayRecord) bool { return len(ps) >= 10 })
	for _, r := range plays {
		if r.SHA256 == f2.SHA256 || r.ItemID == "img-2" {
			t.Fatalf("an item whose file is missing was played: %+v", r)
		}
		if r.Start.Before(open) {
			t.Errorf("play before opening time: %+v", r)
		}
	}
	for _, c := range rc.Commands() {
		if c["type"] == "show" && c["sha256"] == f2.SHA256 {
			t.Errorf("renderer told to show a missing file: %v", c)
		}
	}

	// Closing time blanks the screen again. (The day's plays are not
	// checked: no need to wait for each to be painted.)
	clk.Settle(nil)
	clk.RunUntil(t, time.Date(2026, 3, 3, 22, 0, 1, 0, hcm))
	waitStatus(t, p, "off at closing", func(s player.Status) bool { return s.State == protocol.StateOff })
	rc.waitFor(t, "off at closing", func(c map[string]any) bool { return c["type"] == "off" })
}

// TestProofOfPlayResend: plays journalled while the server withholds its
// acks are sent again after a reconnect and after a restart, with the same
// IDs; once acknowledged they leave the journal; none is lost.
func TestProofOfPlayResend(t *testing.T) {
	srv := fakeserver.New()
	defer srv.Close()
	f1 := srv.AddFile(testImage(t, 64, 32, 10), "image/png")
	f2 := srv.AddFile(testImage(t, 64, 32, 20), "image/png")
	prog := twoZoneProgram(f1.SHA256, f2.SHA256)
	srv.HoldProofAcks(true)

	dir := t.TempDir()
	from := time.Date(2026, 3, 2, 9, 0, 0, 0, hcm)
	clk := playertest.NewClock(from)
	p := startPlayerWith(t, srv.URL, dir, clk.Tune)
	pair(t, srv, p)
	dialRenderer(t, p.Addr())
	clk.Settle(playertest.AllShown(p.Player))
	if _, err := srv.SendManifest(programManifest(t, 1, prog, f1, f2)); err != nil {
		t.Fatal(err)
	}
	waitStatus(t, p, "playing", func(s player.Status) bool {
		return len(s.Zones) == 2 && s.Cache.Missing == 0 && s.Zones[0].Shown && s.Zones[1].Shown
	})
	clk.RunUntil(t, from.Add(5*time.Minute))
	st := waitStatus(t, p, "plays pending", func(s player.Status) bool { return s.PlaysPending > 20 })
	first, err := srv.WaitPlays(ctxT(t, 10*time.Second), func(ps []protocol.PlayRecord) bool { return len(ps) > 0 })
	if err != nil {
		t.Fatal(err)
	}

	// A reconnect resends the unacknowledged batch with the same IDs.
	srv.DropConnections()
	if _, err := srv.WaitPlays(ctxT(t, 15*time.Second), func([]protocol.PlayRecord) bool { return srv.Resent() >= len(first) }); err != nil {
		t.Fatalf("no resend after reconnect: %v", err)
	}
	// A restart keeps them too.
	p.stop()
	pending := st.PlaysPending
	before := srv.Resent()
	p2 := startPlayerWith(t, srv.URL, dir, clk.Tune)
	st = waitStatus(t, p2, "restarted with pending plays", func(s player.Status) bool { return s.Connected && s.PlaysPending >= pending })
	if _, err := srv.WaitPlays(ctxT(t, 15*time.Second), func([]protocol.PlayRecord) bool { return srv.Resent() > before }); err != nil {
		t.Fatalf("no resend after restart: %v", err)
	}

	// Acks flow again: everything arrives once and the journal drains.
	srv.HoldProofAcks(false)
	srv.DropConnections()
	waitStatus(t, p2, "journal drained", func(s player.Status) bool { return s.PlaysPending == 0 })
	plays := srv.Plays()
	if len(plays) < st.PlaysPending {
		t.Errorf("server stored %d plays, player had %d pending", len(plays), st.PlaysPending)
	}
	// Every play of the first five minutes arrived, in one piece.
	var mainPlays []protocol.PlayRecord
	for _, r := range plays {
		if r.Zone == "main" {
			mainPlays = append(mainPlays, r)
		}
	}
	sort.Slice(mainPlays, func(i, j int) bool { return mainPlays[i].Start.Before(mainPlays[j].Start) })
	for i := 1; i < len(mainPlays); i++ {
		if !mainPlays[i].Start.Equal(mainPlays[i-1].End) {
			t.Errorf("gap or overlap in main zone plays: %v then %v", mainPlays[i-1].End.In(hcm), mainPlays[i].Start.In(hcm))
		}
	}
	if len(mainPlays) == 0 || !mainPlays[0].Start.Equal(from) {
		t.Errorf("first main play %+v", mainPlays)
	}
	for _, r := range plays {
		if !strings.Contains(r.ID, "-") {
			t.Errorf("play id %q", r.ID)
		}
	}
}

// TestProgramPrefetchEvicts: a program's files are fetched, and over the
// cache budget (here: nothing beyond the listed files) files no longer
// listed are evicted even while a listed one is still missing.
func TestProgramPrefetchEvicts(t *testing.T) {
	srv := fakeserver.New()
	defer srv.Close()
	f1 := srv.AddFile(testImage(t, 64, 32, 1), "image/png")
	f2 := srv.AddFile(testImage(t, 64, 32, 2), "image/png")
	clk := playertest.NewClock(time.Date(2026, 3, 2, 9, 0, 0, 0, hcm))
	p := startPlayerWith(t, srv.URL, t.TempDir(), func(c *player.Config) {
		clk.Tune(c)
		c.CacheBudget = 1
	})
	pair(t, srv, p)
	if _, err := srv.SendManifest(programManifest(t, 1, twoZoneProgram(f1.SHA256, f2.SHA256), f1, f2)); err != nil {
		t.Fatal(err)
	}
	waitStatus(t, p, "both files", func(s player.Status) bool {
		return s.ManifestVersion == 1 && s.Cache.Files == 2 && s.Cache.Missing == 0
	})

	gone := protocol.File{SHA256: sha([]byte("not on the server")), Size: 17, URL: "/player/v1/files/" + sha([]byte("not on the server"))}
	if _, err := srv.SendManifest(programManifest(t, 2, twoZoneProgram(f1.SHA256, gone.SHA256), f1, gone)); err != nil {
		t.Fatal(err)
	}
	st := waitStatus(t, p, "f2 evicted", func(s player.Status) bool {
		return s.ManifestVersion == 2 && s.Cache.Files == 1 && s.Cache.Missing == 1
	})
	for _, z := range st.Zones {
		if z.SHA256 == f2.SHA256 || z.SHA256 == gone.SHA256 {
			t.Errorf("zone %s shows %s", z.Zone, z.SHA256)
		}
	}
	if resp, _ := httpGet(t, "http://"+p.Addr()+"/content/"+f2.SHA256); resp.StatusCode != 404 {
		t.Errorf("evicted file still served: %s", resp.Status)
	}
}
