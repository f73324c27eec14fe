package player_test

import (
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"beacon/player"
	"beacon/player/internal/fakeserver"
	"beacon/player/playertest"
	"beacon/playlists"
	"beacon/protocol"
)

// wantPlays is the program's timeline over [from, end): the plays that
// started and ended inside it (those running at from start at from).
func wantPlays(prog *playlists.Program, from, end time.Time) []playKey {
	var want []playKey
	for _, pl := range timeline(prog, from, end.Add(time.Hour), playlists.Options{}) {
		if pl.End.After(end) || !pl.End.After(pl.Start) || !pl.End.After(from) {
			continue
		}
		start := pl.Start
		if start.Before(from) {
			start = from
		}
		want = append(want, playKey{pl.Zone, pl.ItemID, pl.SHA256, pl.ScheduleID, start.UTC(), pl.End.UTC()})
	}
	sortKeys(want)
	return want
}

func gotPlays(plays []protocol.PlayRecord) []playKey {
	got := make([]playKey, len(plays))
	for i, r := range plays {
		got[i] = playKey{r.Zone, r.ItemID, r.SHA256, r.ScheduleID, r.Start.UTC(), r.End.UTC()}
	}
	sortKeys(got)
	return got
}

func samePlays(t *testing.T, got, want []playKey) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("%d plays, want %d", len(got), len(want))
	}
	for i := 0; i < min(len(got), len(want)); i++ {
		if got[i] != want[i] {
			t.Fatalf("play %d:\n got %v\nwant %v", i, got[i], want[i])
		}
	}
}

// TestNoRendererNoPlays: a player whose renderer never connected journals
// nothing however long its program runs; once a renderer connects and
// reports what it painted, the plays start from that moment.
func TestNoRendererNoPlays(t *testing.T) {
	srv := fakeserver.New()
	defer srv.Close()
	f1 := srv.AddFile(testImage(t, 64, 32, 10), "image/png")
	f2 := srv.AddFile(testImage(t, 64, 32, 200), "image/png")
	prog := twoZoneProgram(f1.SHA256, f2.SHA256)
	from := time.Date(2026, 3, 2, 9, 0, 0, 0, hcm)
	clk := playertest.NewClock(from)
	p := startPlayerWith(t, srv.URL, t.TempDir(), clk.Tune)
	pair(t, srv, p)
	if _, err := srv.SendManifest(programManifest(t, 1, prog, f1, f2)); err != nil {
		t.Fatal(err)
	}
	waitStatus(t, p, "program playing", func(s player.Status) bool {
		return s.Cache.Missing == 0 && len(s.Zones) == 2 && s.State == protocol.StatePlaying
	})
	mid := from.Add(10 * time.Minute)
	clk.RunUntil(t, mid)
	// Heartbeats flow, so a play journalled would have been sent by now.
	hb := len(srv.Received(protocol.TypeHeartbeat))
	if _, err := srv.WaitFor(ctxT(t, 5*time.Second), protocol.TypeHeartbeat, func(protocol.Envelope) bool {
		return len(srv.Received(protocol.TypeHeartbeat)) > hb+2
	}); err != nil {
		t.Fatal(err)
	}
	st := p.Status()
	if st.PlaysPending != 0 || len(srv.Plays()) != 0 {
		t.Fatalf("no renderer, yet %d plays pending and %d sent: %+v", st.PlaysPending, len(srv.Plays()), srv.Plays())
	}
	for _, z := range st.Zones {
		if z.Shown {
			t.Errorf("zone %s reported shown with no renderer", z.Zone)
		}
	}

	// A renderer connects at mid: from then on the plays are the timeline's.
	dialRenderer(t, p.Addr())
	clk.Settle(playertest.AllShown(p.Player))
	waitStatus(t, p, "painted", func(s player.Status) bool { return len(s.Zones) == 2 && s.Zones[0].Shown && s.Zones[1].Shown })
	end := mid.Add(10 * time.Minute)
	clk.RunUntil(t, end)
	want := wantPlays(prog, mid, end)
	plays, err := srv.WaitPlays(ctxT(t, 15*time.Second), func(ps []protocol.PlayRecord) bool { return len(ps) >= len(want) })
	if err != nil {
		t.Fatalf("%v (%d of %d plays)", err, len(plays), len(want))
	}
	samePlays(t, gotPlays(plays), want)
}

// TestPlayGoesOnAcrossManifests: new manifests carrying the same program
// do not cut the item on screen into short plays; nothing shorter than a
// glimpse is ever journalled.
func TestPlayGoesOnAcrossManifests(t *testing.T) {
	srv := fakeserver.New()
	defer srv.Close()
	f1 := srv.AddFile(testImage(t, 64, 32, 10), "image/png")
	f2 := srv.AddFile(testImage(t, 64, 32, 200), "image/png")
	prog := twoZoneProgram(f1.SHA256, f2.SHA256)
	from := time.Date(2026, 3, 2, 9, 0, 0, 0, hcm)
	clk := playertest.NewClock(from)
	p := startPlayerWith(t, srv.URL, t.TempDir(), clk.Tune)
	pair(t, srv, p)
	dialRenderer(t, p.Addr())
	clk.Settle(playertest.AllShown(p.Player))
	if _, err := srv.SendManifest(programManifest(t, 1, prog, f1, f2)); err != nil {
		t.Fatal(err)
	}
	waitStatus(t, p, "painted", func(s player.Status) bool {
		return s.Cache.Missing == 0 && len(s.Zones) == 2 && s.Zones[0].Shown && s.Zones[1].Shown
	})
	// Three more versions of the same program arrive 3 ms apart (on the
	// player's clock), in the middle of the first items.
	for v := int64(2); v <= 4; v++ {
		clk.Set(from.Add(time.Duration(v) * 3 * time.Millisecond))
		if _, err := srv.SendManifest(programManifest(t, v, prog, f1, f2)); err != nil {
			t.Fatal(err)
		}
		waitStatus(t, p, "manifest applied", func(s player.Status) bool { return s.ManifestVersion == v })
	}
	end := from.Add(2 * time.Minute)
	clk.RunUntil(t, end)
	want := wantPlays(prog, from, end)
	plays, err := srv.WaitPlays(ctxT(t, 15*time.Second), func(ps []protocol.PlayRecord) bool { return len(ps) >= len(want) })
	if err != nil {
		t.Fatalf("%v (%d of %d plays)", err, len(plays), len(want))
	}
	for _, r := range plays {
		if d := r.End.Sub(r.Start); d < time.Second {
			t.Errorf("a %v play journalled: %+v", d, r)
		}
	}
	samePlays(t, gotPlays(plays), want)
}

// TestProofFromChromium: the real renderer page in headless Chromium
// reports what it painted; the plays journalled are the program's
// timeline from the moment the page was up, and stop when the page goes.
func TestProofFromChromium(t *testing.T) {
	if testing.Short() {
		t.Skip("short mode")
	}
	ctx := browser(t, 1152, 576)
	srv := fakeserver.New()
	defer srv.Close()
	f1 := srv.AddFile(testImage(t, 64, 32, 10), "image/png")
	f2 := srv.AddFile(testImage(t, 64, 32, 200), "image/png")
	prog := twoZoneProgram(f1.SHA256, f2.SHA256)
	from := time.Date(2026, 3, 2, 9, 0, 0, 0, hcm)
	clk := playertest.NewClock(from)
	p := startPlayerWith(t, srv.URL, t.TempDir(), clk.Tune)
	pair(t, srv, p)
	if _, err := srv.SendManifest(programManifest(t, 1, prog, f1, f2)); err != nil {
		t.Fatal(err)
	}
	waitStatus(t, p, "program playing", func(s player.Status) bool {
		return s.Cache.Missing == 0 && len(s.Zones) == 2 && s.State == protocol.StatePlaying
	})
	clk.RunUntil(t, from.Add(time.Minute)) // no page yet: nothing to record
	if n := p.Status().PlaysPending; n != 0 || len(srv.Plays()) != 0 {
		t.Fatalf("%d plays journalled before any renderer connected", n)
	}

	tab, closeTab := chromedp.NewContext(ctx) // a tab of its own, closed below
	defer closeTab()
	if err := chromedp.Do(tab, chromedp.EmulateViewport(1152, 576), chromedp.Navigate("http://"+p.Addr()+"/")); err != nil {
		t.Fatal(err)
	}
	up := clk.Now()
	waitStatus(t, p, "page painted both zones", func(s player.Status) bool {
		return s.RendererConnected && len(s.Zones) == 2 && s.Zones[0].Shown && s.Zones[1].Shown
	})
	clk.Settle(playertest.AllShown(p.Player))
	end := up.Add(90 * time.Second)
	clk.RunUntil(t, end)
	want := wantPlays(prog, up, end)
	if len(want) < 10 {
		t.Fatalf("timeline has only %d plays", len(want))
	}
	plays, err := srv.WaitPlays(ctxT(t, 15*time.Second), func(ps []protocol.PlayRecord) bool { return len(ps) >= len(want) })
	if err != nil {
		t.Fatalf("%v (%d of %d plays)", err, len(plays), len(want))
	}
	samePlays(t, gotPlays(plays), want)

	// The page goes away: what was on screen ends there, and nothing more
	// is journalled while no renderer is connected.
	gone := clk.Now()
	onScreen := 0
	for _, z := range p.Status().Zones {
		if z.StartedAt.Before(gone) {
			onScreen++
		}
	}
	closeTab()
	waitStatus(t, p, "renderer gone", func(s player.Status) bool { return !s.RendererConnected })
	clk.Settle(nil)
	clk.RunUntil(t, gone.Add(5*time.Minute))
	plays, err = srv.WaitPlays(ctxT(t, 15*time.Second), func(ps []protocol.PlayRecord) bool { return len(ps) >= len(want)+onScreen })
	if err != nil {
		t.Fatalf("the %d plays on screen when the page went were not journalled: %v", onScreen, err)
	}
	time.Sleep(300 * time.Millisecond) // a stray play would be sent within a heartbeat or two
	for _, r := range srv.Plays() {
		if r.End.After(gone) {
			t.Errorf("play journalled after the renderer went away: %+v", r)
		}
	}
}
