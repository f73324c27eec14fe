package player_test

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"beacon/player"
	"beacon/player/internal/fakeserver"
	"beacon/player/playertest"
	"beacon/playlists"
	"beacon/protocol"
)

func ovrSpec(id, level, pres string, now time.Time, d time.Duration) protocol.OverrideSpec {
	return protocol.OverrideSpec{
		ID: id, Revision: 1, Level: level, Presentation: pres,
		Texts:     map[string]string{"vi": "KHẨN CẤP: nước lũ đang dâng cao, hãy di chuyển lên chỗ cao", "en": "EMERGENCY: flood water rising, move to higher ground"},
		Languages: []string{"vi", "en"},
		Tone:      &protocol.Tone{Kind: "alert", Repeat: 2},
		StartsAt:  now, ExpiresAt: now.Add(d), IssuedAt: now,
		OrgID: fakeserver.DefaultOrg, AllDisplays: true,
	}
}

func waitAck(t *testing.T, srv *fakeserver.Server, id, state string) protocol.OverrideAck {
	t.Helper()
	a, err := srv.WaitOverrideAck(ctxT(t, 15*time.Second), id, state)
	if err != nil {
		t.Fatalf("override %s: no %s ack: %v (acks %+v)", id, state, err, srv.OverrideAcks(id))
	}
	return a
}

// overrideCmds returns the override layer commands the renderer got.
func overrideCmds(rc *rendererClient) []map[string]any {
	var out []map[string]any
	for _, c := range rc.Commands() {
		if ty, _ := c["type"].(string); strings.HasPrefix(ty, "override") {
			out = append(out, c)
		}
	}
	return out
}

func lastOverrideCmd(rc *rendererClient) map[string]any {
	cs := overrideCmds(rc)
	if len(cs) == 0 {
		return nil
	}
	return cs[len(cs)-1]
}

func storedOverrides(t *testing.T, dir string) []protocol.SignedOverride {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(dir, "overrides.json"))
	if err != nil {
		t.Fatal(err)
	}
	var st struct {
		Overrides []protocol.SignedOverride `json:"overrides"`
	}
	if err := json.Unmarshal(raw, &st); err != nil {
		t.Fatal(err)
	}
	return st.Overrides
}

// TestOverrideShownAckedCancelled: the player announces the override
// capability and keeps its organisation; a signed override is acked
// received, put on the renderer's override layer in the languages' order,
// acked painted with the instant the renderer reported it (after the
// send), shown in /status; sent again it is acked again with the same
// painted_at; a cancel takes it down (ended) and a late copy is refused.
func TestOverrideShownAckedCancelled(t *testing.T) {
	srv := fakeserver.New()
	defer srv.Close()
	dir := t.TempDir()
	p := startPlayer(t, srv.URL, dir)
	pair(t, srv, p)
	hello := decodeBody[protocol.Hello](t, srv.Received(protocol.TypeHello)[0])
	if !slices.Contains(hello.Capabilities, protocol.CapOverride) {
		t.Errorf("hello capabilities %v, want %q", hello.Capabilities, protocol.CapOverride)
	}
	raw, _ := os.ReadFile(filepath.Join(dir, "state.json"))
	if !strings.Contains(string(raw), `"org_id": "`+fakeserver.DefaultOrg+`"`) {
		t.Errorf("state.json does not keep the organisation: %s", raw)
	}
	rc := dialRenderer(t, p.Addr())
	if st := p.Status(); st.Override != nil {
		t.Fatalf("override %+v before any", st.Override)
	}

	spec := ovrSpec("ovr-1", protocol.LevelCritical, protocol.PresentFullscreen, time.Now(), 15*time.Minute)
	sent := time.Now()
	if _, err := srv.SendOverride(testDisplay, spec); err != nil {
		t.Fatal(err)
	}
	recv := waitAck(t, srv, "ovr-1", protocol.AckReceived)
	painted := waitAck(t, srv, "ovr-1", protocol.AckPainted)
	if painted.PaintedAt.Before(sent) || painted.PaintedAt.Before(recv.At) || painted.Revision != 1 {
		t.Errorf("painted_at %v: want after the send %v and the received ack %v", painted.PaintedAt, sent, recv.At)
	}
	st := waitStatus(t, p, "override in status", func(s player.Status) bool { return s.Override != nil })
	if o := st.Override; o.ID != "ovr-1" || o.Level != "critical" || o.Presentation != "fullscreen" || !o.ShownAt.Equal(painted.PaintedAt) {
		t.Errorf("status override %+v, painted at %v", o, painted.PaintedAt)
	}
	cmd := lastOverrideCmd(rc)
	if cmd["type"] != "override" || cmd["id"] != "ovr-1" || cmd["covering"] != true {
		t.Fatalf("renderer override command %v", cmd)
	}
	texts, _ := cmd["texts"].([]any)
	if len(texts) != 2 || texts[0].(map[string]any)["lang"] != "vi" || texts[1].(map[string]any)["lang"] != "en" {
		t.Errorf("texts %v, want vi then en", texts)
	}
	if got := storedOverrides(t, dir); len(got) != 1 {
		t.Errorf("overrides.json holds %d overrides, want 1", len(got))
	}

	// Sent again (as on a reconnect): the same painted_at.
	n := len(srv.OverrideAcks("ovr-1"))
	if _, err := srv.SendOverride(testDisplay, spec); err != nil {
		t.Fatal(err)
	}
	if _, err := srv.WaitFor(ctxT(t, 10*time.Second), protocol.TypeOverrideAck, func(protocol.Envelope) bool {
		return len(srv.OverrideAcks("ovr-1")) >= n+2
	}); err != nil {
		t.Fatal(err)
	}
	again := srv.OverrideAcks("ovr-1")[n+1]
	if again.State != protocol.AckPainted || !again.PaintedAt.Equal(painted.PaintedAt) {
		t.Errorf("re-sent override acked %+v, want painted at %v", again, painted.PaintedAt)
	}

	if _, err := srv.SendCancel(testDisplay, srv.Key, "ovr-1", fakeserver.DefaultOrg, time.Now()); err != nil {
		t.Fatal(err)
	}
	waitAck(t, srv, "ovr-1", protocol.AckEnded)
	waitStatus(t, p, "override gone", func(s player.Status) bool { return s.Override == nil })
	rc.waitFor(t, "override_clear", func(c map[string]any) bool { return c["type"] == "override_clear" })
	if _, err := srv.SendOverride(testDisplay, spec); err != nil {
		t.Fatal(err)
	}
	if a := waitAck(t, srv, "ovr-1", protocol.AckRefused); !strings.Contains(a.Error, "cancelled") {
		t.Errorf("late copy refused with %q", a.Error)
	}
	if got := storedOverrides(t, dir); len(got) != 0 {
		t.Errorf("overrides.json holds %d overrides after the cancel", len(got))
	}
}

// TestOverrideRefused: an override for another organisation or another
// display, signed by another key, or tampered, is refused with a reason
// (the last two reported as bad_signature incidents), a cancel signed by
// another key or for another organisation is refused, and nothing shows.
// The control (addressed to this display by id) is shown.
func TestOverrideRefused(t *testing.T) {
	srv := fakeserver.New()
	defer srv.Close()
	dir := t.TempDir()
	p := startPlayer(t, srv.URL, dir)
	pair(t, srv, p)
	rc := dialRenderer(t, p.Addr())
	_, other, _ := ed25519.GenerateKey(rand.Reader)
	now := time.Now()

	wrongOrg := ovrSpec("wrong-org", "critical", "fullscreen", now, time.Hour)
	wrongOrg.OrgID = "org-2"
	wrongDisplay := ovrSpec("wrong-display", "critical", "fullscreen", now, time.Hour)
	wrongDisplay.AllDisplays, wrongDisplay.DisplayIDs = false, []string{"disp-2"}
	cases := []struct {
		id       string
		so       protocol.SignedOverride
		incident bool
	}{
		{"wrong-org", fakeserver.SignOverride(srv.Key, wrongOrg), false},
		{"wrong-display", fakeserver.SignOverride(srv.Key, wrongDisplay), false},
		{"wrong-key", fakeserver.SignOverride(other, ovrSpec("wrong-key", "critical", "fullscreen", now, time.Hour)), true},
		{"tampered", fakeserver.TamperOverride(fakeserver.SignOverride(srv.Key, ovrSpec("tampered", "critical", "fullscreen", now, time.Hour))), true},
	}
	for _, c := range cases {
		if _, err := srv.SendSignedOverride(testDisplay, c.so); err != nil {
			t.Fatal(err)
		}
		a := waitAck(t, srv, c.id, protocol.AckRefused)
		if a.Error == "" {
			t.Errorf("%s: refused without a reason", c.id)
		}
		t.Logf("%s refused: %s", c.id, a.Error)
		if c.incident {
			if _, err := srv.WaitFor(ctxT(t, 10*time.Second), protocol.TypeIncident, func(e protocol.Envelope) bool {
				var inc protocol.Incident
				return json.Unmarshal(e.Body, &inc) == nil && inc.Kind == protocol.IncidentBadSignature && strings.Contains(inc.Message, c.id)
			}); err != nil {
				t.Errorf("%s: no bad_signature incident: %v", c.id, err)
			}
		}
	}
	// A control addressed by display id shows; then forged cancels of it
	// are refused and it stays.
	ok := ovrSpec("by-id", "info", "banner", now, time.Hour)
	ok.AllDisplays, ok.DisplayIDs = false, []string{"disp-9", testDisplay}
	if _, err := srv.SendOverride(testDisplay, ok); err != nil {
		t.Fatal(err)
	}
	waitAck(t, srv, "by-id", protocol.AckPainted)
	if _, err := srv.SendCancel(testDisplay, other, "by-id", fakeserver.DefaultOrg, time.Now()); err != nil {
		t.Fatal(err)
	}
	waitAck(t, srv, "by-id", protocol.AckRefused)
	if _, err := srv.SendCancel(testDisplay, srv.Key, "by-id", "org-2", time.Now()); err != nil {
		t.Fatal(err)
	}
	if _, err := srv.WaitFor(ctxT(t, 10*time.Second), protocol.TypeOverrideAck, func(protocol.Envelope) bool {
		n := 0
		for _, a := range srv.OverrideAcks("by-id") {
			if a.State == protocol.AckRefused {
				n++
			}
		}
		return n == 2
	}); err != nil {
		t.Fatal(err)
	}
	for _, c := range overrideCmds(rc) {
		if c["type"] == "override" && c["id"] != "by-id" {
			t.Errorf("a refused override reached the renderer: %v", c)
		}
	}
	st := waitStatus(t, p, "control shown", func(s player.Status) bool { return s.Override != nil })
	if st.Override.ID != "by-id" {
		t.Errorf("status override %+v", st.Override)
	}
	if got := storedOverrides(t, dir); len(got) != 1 {
		t.Errorf("overrides.json holds %d overrides, want the control only", len(got))
	}
}

// TestOverrideOrdering: of the active overrides the highest level shows,
// then the newest; cancelling the one shown shows the next.
func TestOverrideOrdering(t *testing.T) {
	srv := fakeserver.New()
	defer srv.Close()
	p := startPlayer(t, srv.URL, t.TempDir())
	pair(t, srv, p)
	rc := dialRenderer(t, p.Addr())
	t0 := time.Now()
	send := func(id, level string, issued time.Time) {
		t.Helper()
		o := ovrSpec(id, level, "banner", t0, time.Hour)
		o.IssuedAt = issued
		if _, err := srv.SendOverride(testDisplay, o); err != nil {
			t.Fatal(err)
		}
		waitAck(t, srv, id, protocol.AckReceived)
	}
	shows := func(id string) {
		t.Helper()
		waitStatus(t, p, id+" on screen", func(s player.Status) bool { return s.Override != nil && s.Override.ID == id })
		if c := lastOverrideCmd(rc); c["id"] != id {
			t.Errorf("renderer shows %v, want %s", c["id"], id)
		}
	}
	cancel := func(id string) {
		t.Helper()
		if _, err := srv.SendCancel(testDisplay, srv.Key, id, fakeserver.DefaultOrg, time.Now()); err != nil {
			t.Fatal(err)
		}
		waitAck(t, srv, id, protocol.AckEnded)
	}
	send("w-old", "warning", t0)
	shows("w-old")
	send("crit", "critical", t0.Add(-time.Minute)) // older, but higher
	shows("crit")
	send("w-new", "warning", t0.Add(time.Second))
	send("info", "info", t0.Add(2*time.Second))
	shows("crit")
	cancel("crit")
	shows("w-new")
	cancel("w-new")
	shows("w-old")
	cancel("w-old")
	shows("info")
	for _, a := range srv.OverrideAcks("info") {
		if a.State == protocol.AckPainted && a.PaintedAt.IsZero() {
			t.Errorf("painted without painted_at")
		}
	}
}

// settledUnder is a Clock.Settle condition: every zone shown, or a
// covering override painted over them.
func settledUnder(p *player.Player) func() bool {
	all := playertest.AllShown(p)
	return func() bool {
		if o := p.Status().Override; o != nil && o.Presentation != protocol.PresentBanner {
			return true
		}
		return all()
	}
}

// scheduled returns zone → item the program shows at t.
func scheduled(prog *playlists.Program, t time.Time) map[string]string {
	out := map[string]string{}
	for _, z := range playlists.Compile(prog).At(t, playlists.Options{}).Zones {
		if z.Item != nil {
			out[z.Zone] = z.Item.ID
		}
	}
	return out
}

func zonesShown(s player.Status) map[string]string {
	out := map[string]string{}
	for _, z := range s.Zones {
		if z.Shown {
			out[z.Zone] = z.ItemID
		}
	}
	return out
}

// TestOverrideOverProgram: a fullscreen override hides a running program
// without changing it: cancelled, and later another expiring on the
// player's clock, the screen shows what the schedule says at that instant;
// no play is journalled while a fullscreen override hides it; the manifest
// and every regular file stay.
func TestOverrideOverProgram(t *testing.T) {
	srv := fakeserver.New()
	defer srv.Close()
	f1 := srv.AddFile(testImage(t, 64, 32, 10), "image/png")
	f2 := srv.AddFile(testImage(t, 64, 32, 200), "image/png")
	prog := twoZoneProgram(f1.SHA256, f2.SHA256)
	from := time.Date(2026, 3, 2, 9, 0, 7, 0, hcm)
	clk := playertest.NewClock(from)
	dir := t.TempDir()
	p := startPlayerWith(t, srv.URL, dir, clk.Tune)
	pair(t, srv, p)
	dialRenderer(t, p.Addr())
	clk.Settle(settledUnder(p.Player))
	if _, err := srv.SendManifest(programManifest(t, 1, prog, f1, f2)); err != nil {
		t.Fatal(err)
	}
	waitStatus(t, p, "program playing", func(s player.Status) bool {
		return s.ManifestVersion == 1 && s.Cache.Missing == 0 && len(zonesShown(s)) == 2
	})
	clk.RunUntil(t, from.Add(40*time.Second))

	type span struct{ from, to time.Time }
	var hidden []span
	// 1: cancelled.
	o1 := ovrSpec("o1", "critical", "fullscreen", clk.Now(), time.Hour)
	if _, err := srv.SendOverride(testDisplay, o1); err != nil {
		t.Fatal(err)
	}
	painted := waitAck(t, srv, "o1", protocol.AckPainted)
	if !painted.PaintedAt.Equal(clk.Now()) {
		t.Errorf("painted_at %v, want the player's clock %v", painted.PaintedAt, clk.Now())
	}
	clk.RunUntil(t, from.Add(5*time.Minute+3*time.Second))
	if st := p.Status(); st.ManifestVersion != 1 || len(st.Zones) != 2 {
		t.Errorf("under the override the program stopped: %+v", st.Zones)
	}
	if _, err := srv.SendCancel(testDisplay, srv.Key, "o1", fakeserver.DefaultOrg, clk.Now()); err != nil {
		t.Fatal(err)
	}
	waitAck(t, srv, "o1", protocol.AckEnded)
	hidden = append(hidden, span{painted.PaintedAt, clk.Now()})
	want := scheduled(prog, clk.Now())
	waitStatus(t, p, "program back after the cancel", func(s player.Status) bool {
		return s.Override == nil && len(want) == 2 && maps(zonesShown(s), want)
	})

	// 2: expires on the player's clock.
	clk.RunUntil(t, clk.Now().Add(20*time.Second))
	o2 := ovrSpec("o2", "warning", "blank", clk.Now(), 2*time.Minute+500*time.Millisecond)
	if _, err := srv.SendOverride(testDisplay, o2); err != nil {
		t.Fatal(err)
	}
	p2 := waitAck(t, srv, "o2", protocol.AckPainted)
	clk.RunUntil(t, o2.ExpiresAt.Add(time.Second))
	waitAck(t, srv, "o2", protocol.AckEnded)
	hidden = append(hidden, span{p2.PaintedAt, o2.ExpiresAt})
	at := clk.Now()
	want = scheduled(prog, at)
	st := waitStatus(t, p, "program back after the expiry", func(s player.Status) bool {
		return s.Override == nil && maps(zonesShown(s), want)
	})
	for _, z := range st.Zones {
		if z.StartedAt.After(at) {
			t.Errorf("zone %s started at %v, after the expiry instant %v", z.Zone, z.StartedAt, at)
		}
	}
	end := clk.Now().Add(2 * time.Minute)
	clk.RunUntil(t, end)

	// Proof of play: nothing while hidden; plays again after each.
	plays, err := srv.WaitPlays(ctxT(t, 15*time.Second), func(ps []protocol.PlayRecord) bool {
		for _, r := range ps {
			if !r.Start.Before(o2.ExpiresAt) {
				return true
			}
		}
		return false
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range plays {
		for _, h := range hidden {
			if r.End.After(h.from) && r.Start.Before(h.to) {
				t.Errorf("play %s %s %v–%v overlaps the override %v–%v", r.Zone, r.ItemID, r.Start, r.End, h.from, h.to)
			}
		}
	}
	// The regular content is untouched.
	st = p.Status()
	if st.ManifestVersion != 1 || st.Cache.Missing != 0 {
		t.Errorf("manifest %d, %d files missing after the overrides", st.ManifestVersion, st.Cache.Missing)
	}
	for _, f := range []protocol.File{f1, f2} {
		if _, err := os.Stat(filepath.Join(dir, "cache", f.SHA256[:2], f.SHA256)); err != nil {
			if _, err2 := os.Stat(filepath.Join(dir, "cache", f.SHA256)); err2 != nil {
				t.Errorf("regular file %s gone from the cache: %v", f.SHA256[:12], err)
			}
		}
	}
}

func maps(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// TestOverrideWake: outside operating hours an override with wake shows
// (even over one that outranks it but does not wake); one without wake
// stays dark until the hours begin.
func TestOverrideWake(t *testing.T) {
	srv := fakeserver.New()
	defer srv.Close()
	f1 := srv.AddFile(testImage(t, 64, 32, 10), "image/png")
	f2 := srv.AddFile(testImage(t, 64, 32, 200), "image/png")
	prog := twoZoneProgram(f1.SHA256, f2.SHA256) // 07:00–22:00
	from := time.Date(2026, 3, 2, 23, 0, 0, 0, hcm)
	clk := playertest.NewClock(from)
	p := startPlayerWith(t, srv.URL, t.TempDir(), clk.Tune)
	pair(t, srv, p)
	rc := dialRenderer(t, p.Addr())
	if _, err := srv.SendManifest(programManifest(t, 1, prog, f1, f2)); err != nil {
		t.Fatal(err)
	}
	waitStatus(t, p, "screen off", func(s player.Status) bool { return s.ManifestVersion == 1 && s.State == protocol.StateOff })

	dark := ovrSpec("dark", "critical", "fullscreen", from, 12*time.Hour)
	dark.Wake = false
	if _, err := srv.SendOverride(testDisplay, dark); err != nil {
		t.Fatal(err)
	}
	waitAck(t, srv, "dark", protocol.AckReceived)
	wake := ovrSpec("wake", "info", "fullscreen", from, time.Hour)
	wake.Wake = true
	if _, err := srv.SendOverride(testDisplay, wake); err != nil {
		t.Fatal(err)
	}
	waitAck(t, srv, "wake", protocol.AckPainted)
	st := waitStatus(t, p, "wake override on screen", func(s player.Status) bool { return s.Override != nil })
	if st.Override.ID != "wake" || st.State != protocol.StateOff {
		t.Errorf("status %s override %+v, want off with wake shown", st.State, st.Override)
	}
	if _, err := srv.SendCancel(testDisplay, srv.Key, "wake", fakeserver.DefaultOrg, clk.Now()); err != nil {
		t.Fatal(err)
	}
	waitAck(t, srv, "wake", protocol.AckEnded)
	waitStatus(t, p, "dark again", func(s player.Status) bool { return s.Override == nil })
	for _, c := range overrideCmds(rc) {
		if c["id"] == "dark" {
			t.Fatalf("an override without wake was shown outside operating hours: %v", c)
		}
	}
	for _, a := range srv.OverrideAcks("dark") {
		if a.State == protocol.AckPainted {
			t.Fatalf("an override without wake was acked painted outside operating hours")
		}
	}
	// The hours begin: it shows.
	clk.RunUntil(t, time.Date(2026, 3, 3, 7, 0, 1, 0, hcm))
	a := waitAck(t, srv, "dark", protocol.AckPainted)
	if a.PaintedAt.Before(time.Date(2026, 3, 3, 7, 0, 0, 0, hcm)) {
		t.Errorf("painted at %v, before the hours began", a.PaintedAt)
	}
}

// TestOverrideRestartOffline: a player restarted without its server keeps
// showing an unexpired override it had verified (with its media, fetched
// and pinned in the cache against eviction) and drops an expired one.
func TestOverrideRestartOffline(t *testing.T) {
	srv := fakeserver.New()
	f1 := srv.AddFile(testImage(t, 64, 32, 10), "image/png")
	f2 := srv.AddFile(testImage(t, 64, 32, 200), "image/png")
	media := srv.AddFile(testImage(t, 80, 40, 77), "image/png")
	from := time.Date(2026, 3, 2, 9, 0, 0, 0, hcm)
	clk := playertest.NewClock(from)
	dir := t.TempDir()
	tune := func(c *player.Config) { clk.Tune(c); c.CacheBudget = 1 } // evict whatever may go
	p := startPlayerWith(t, srv.URL, dir, tune)
	pair(t, srv, p)
	prog := twoZoneProgram(f1.SHA256, f1.SHA256)
	if _, err := srv.SendManifest(programManifest(t, 1, prog, f1)); err != nil {
		t.Fatal(err)
	}
	waitStatus(t, p, "manifest 1", func(s player.Status) bool { return s.ManifestVersion == 1 && s.Cache.Missing == 0 })
	o := ovrSpec("kept", "critical", "fullscreen", from, time.Hour)
	o.Media = []protocol.File{media}
	if _, err := srv.SendOverride(testDisplay, o); err != nil {
		t.Fatal(err)
	}
	waitAck(t, srv, "kept", protocol.AckReceived)
	cached := func(sha string) bool {
		resp, _ := httpGet(t, "http://"+p.Addr()+"/content/"+sha)
		return resp.StatusCode == 200
	}
	deadline := time.Now().Add(15 * time.Second)
	for !cached(media.SHA256) {
		if time.Now().After(deadline) {
			t.Fatal("override media never fetched")
		}
		time.Sleep(20 * time.Millisecond)
	}
	// A manifest that drops f1: the round after it evicts f1 (budget 1
	// byte) but keeps the pinned override media.
	prog2 := twoZoneProgram(f2.SHA256, f2.SHA256)
	if _, err := srv.SendManifest(programManifest(t, 2, prog2, f2)); err != nil {
		t.Fatal(err)
	}
	deadline = time.Now().Add(15 * time.Second)
	for cached(f1.SHA256) {
		if time.Now().After(deadline) {
			t.Fatal("the unneeded file was never evicted (the test cannot tell pinning)")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if !cached(media.SHA256) {
		t.Fatal("eviction removed the media of an override still known")
	}
	p.stop()
	srv.Close()

	// Restarted offline, within the expiry.
	clk.Set(from.Add(30 * time.Minute))
	p = startPlayerWith(t, srv.URL, dir, tune)
	rc := dialRenderer(t, p.Addr())
	st := waitStatus(t, p, "override shown offline", func(s player.Status) bool { return s.Override != nil })
	if st.Override.ID != "kept" || st.Connected {
		t.Errorf("status %+v", st)
	}
	cmd := rc.waitFor(t, "override with its media", func(c map[string]any) bool {
		ms, _ := c["media"].([]any)
		return c["type"] == "override" && len(ms) == 1 && ms[0].(map[string]any)["url"] == "/content/"+media.SHA256
	})
	_ = cmd
	p.stop()

	// Restarted offline after the expiry: dropped.
	clk.Set(o.ExpiresAt.Add(time.Second))
	p = startPlayerWith(t, srv.URL, dir, tune)
	if got := storedOverrides(t, dir); len(got) != 0 {
		t.Errorf("an expired override was kept: %d", len(got))
	}
	rc = dialRenderer(t, p.Addr())
	waitStatus(t, p, "renderer connected", func(s player.Status) bool { return s.RendererConnected && len(s.Zones) > 0 })
	if st := p.Status(); st.Override != nil {
		t.Errorf("expired override on screen: %+v", st.Override)
	}
	for _, c := range overrideCmds(rc) {
		if c["type"] == "override" {
			t.Errorf("expired override sent to the renderer: %v", c)
		}
	}
}

// TestOverrideOrgLearnt: a state.json written before org_id existed learns
// the organisation at the next auth_ok.
func TestOverrideOrgLearnt(t *testing.T) {
	srv := fakeserver.New()
	defer srv.Close()
	dir := t.TempDir()
	p := startPlayer(t, srv.URL, dir)
	pair(t, srv, p)
	p.stop()
	path := filepath.Join(dir, "state.json")
	raw, _ := os.ReadFile(path)
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	delete(m, "org_id")
	raw, _ = json.Marshal(m)
	if err := os.WriteFile(path, raw, 0o600); err != nil {
		t.Fatal(err)
	}
	p = startPlayer(t, srv.URL, dir)
	// Sent until the new session acknowledges it: until the fake server
	// notices, the first player's closed session is still listed, and a
	// send that reaches only that one is lost.
	spec := ovrSpec("o", "info", "banner", time.Now(), time.Hour)
	deadline := time.Now().Add(15 * time.Second)
	for {
		_, err := srv.SendOverride(testDisplay, spec)
		if err == nil {
			if _, err = srv.WaitOverrideAck(ctxT(t, time.Second), "o", protocol.AckReceived); err == nil {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("override o: no received ack: %v (acks %+v)", err, srv.OverrideAcks("o"))
		}
		time.Sleep(20 * time.Millisecond)
	}
	raw, _ = os.ReadFile(path)
	if !strings.Contains(string(raw), fakeserver.DefaultOrg) {
		t.Errorf("state.json did not learn the organisation: %s", raw)
	}
}

// TestOverrideRevision: a newer revision of the same id replaces it on
// screen (and is acked painted in its turn); an older one is refused.
func TestOverrideRevision(t *testing.T) {
	srv := fakeserver.New()
	defer srv.Close()
	p := startPlayer(t, srv.URL, t.TempDir())
	pair(t, srv, p)
	rc := dialRenderer(t, p.Addr())
	now := time.Now()
	r1 := ovrSpec("rev", "warning", "banner", now, time.Hour)
	r1.Revision = 1
	if _, err := srv.SendOverride(testDisplay, r1); err != nil {
		t.Fatal(err)
	}
	waitAck(t, srv, "rev", protocol.AckPainted)
	r2 := r1
	r2.Revision, r2.Level, r2.Presentation, r2.IssuedAt = 2, "critical", "fullscreen", now.Add(time.Second)
	if _, err := srv.SendOverride(testDisplay, r2); err != nil {
		t.Fatal(err)
	}
	st := waitStatus(t, p, "revision 2 on screen", func(s player.Status) bool { return s.Override != nil && s.Override.Revision == 2 })
	if st.Override.Level != "critical" || st.Override.Presentation != "fullscreen" {
		t.Errorf("status override %+v", st.Override)
	}
	if c := lastOverrideCmd(rc); c["revision"] != float64(2) || c["presentation"] != "fullscreen" {
		t.Errorf("renderer shows %v", c)
	}
	if _, err := srv.WaitFor(ctxT(t, 10*time.Second), protocol.TypeOverrideAck, func(e protocol.Envelope) bool {
		var a protocol.OverrideAck
		return json.Unmarshal(e.Body, &a) == nil && a.ID == "rev" && a.Revision == 2 && a.State == protocol.AckPainted
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := srv.SendOverride(testDisplay, r1); err != nil {
		t.Fatal(err)
	}
	if a := waitAck(t, srv, "rev", protocol.AckRefused); a.Revision != 1 || !strings.Contains(a.Error, "revision 2") {
		t.Errorf("old revision: %+v", a)
	}
	if st := p.Status(); st.Override == nil || st.Override.Revision != 2 {
		t.Errorf("after the old revision: %+v", st.Override)
	}
}

// TestOverrideStoredTamperedAndBadMedia: overrides.json is re-verified at
// start (a changed byte drops the override and reports bad_signature), and
// override media that do not match their hash are never shown and are
// reported as hash_mismatch.
func TestOverrideStoredTamperedAndBadMedia(t *testing.T) {
	srv := fakeserver.New()
	defer srv.Close()
	dir := t.TempDir()
	p := startPlayer(t, srv.URL, dir)
	pair(t, srv, p)
	rc := dialRenderer(t, p.Addr())
	media := srv.AddFile(testImage(t, 40, 20, 9), "image/png")
	srv.ServeWrongBytes(media.SHA256, testImage(t, 40, 20, 10))
	o := ovrSpec("stored", "critical", "fullscreen", time.Now(), time.Hour)
	o.Media = []protocol.File{media}
	if _, err := srv.SendOverride(testDisplay, o); err != nil {
		t.Fatal(err)
	}
	waitAck(t, srv, "stored", protocol.AckPainted)
	if _, err := srv.WaitFor(ctxT(t, 15*time.Second), protocol.TypeIncident, func(e protocol.Envelope) bool {
		var inc protocol.Incident
		return json.Unmarshal(e.Body, &inc) == nil && inc.Kind == protocol.IncidentHashMismatch && inc.SHA256 == media.SHA256
	}); err != nil {
		t.Fatalf("no hash_mismatch incident for the override's media: %v", err)
	}
	for _, c := range overrideCmds(rc) {
		if ms, _ := c["media"].([]any); len(ms) > 0 {
			t.Errorf("media that failed verification reached the renderer: %v", c)
		}
	}
	p.stop()

	path := filepath.Join(dir, "overrides.json")
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var st map[string]json.RawMessage
	if err := json.Unmarshal(raw, &st); err != nil {
		t.Fatal(err)
	}
	var sos []protocol.SignedOverride
	if err := json.Unmarshal(st["overrides"], &sos); err != nil || len(sos) != 1 {
		t.Fatalf("overrides.json: %v, %d overrides", err, len(sos))
	}
	sos[0] = fakeserver.TamperOverride(sos[0])
	st["overrides"], _ = json.Marshal(sos)
	raw, _ = json.Marshal(st)
	if err := os.WriteFile(path, raw, 0o600); err != nil {
		t.Fatal(err)
	}
	p = startPlayer(t, srv.URL, dir)
	if got := storedOverrides(t, dir); len(got) != 0 {
		t.Errorf("a tampered stored override was kept")
	}
	if _, err := srv.WaitFor(ctxT(t, 15*time.Second), protocol.TypeIncident, func(e protocol.Envelope) bool {
		var inc protocol.Incident
		return json.Unmarshal(e.Body, &inc) == nil && inc.Kind == protocol.IncidentBadSignature && strings.Contains(inc.Message, "stored override")
	}); err != nil {
		t.Fatalf("no bad_signature incident for the tampered stored override: %v", err)
	}
	rc = dialRenderer(t, p.Addr())
	waitStatus(t, p, "renderer connected", func(s player.Status) bool { return s.RendererConnected && s.Connected })
	if st := p.Status(); st.Override != nil {
		t.Errorf("tampered override on screen: %+v", st.Override)
	}
	for _, c := range overrideCmds(rc) {
		if c["type"] == "override" {
			t.Errorf("tampered override sent to the renderer: %v", c)
		}
	}
}
