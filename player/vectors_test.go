package player_test

import (
	"bytes"
	"crypto/ed25519"
	"encoding/json"
	"os"
	"path/filepath"
	"sort"
	"testing"
	"time"

	"beacon/player"
	"beacon/player/internal/fakeserver"
	"beacon/player/playertest"
	"beacon/protocol"
)

// negVector is a file of protocol/testdata/negative.
type negVector struct {
	Context struct {
		Receiver        string `json:"receiver"`
		PinnedServerKey []byte `json:"pinned_server_key"`
		DisplayID       string `json:"display_id"`
		HeldManifest    int64  `json:"held_manifest_version"`
	} `json:"context"`
	Frame  json.RawMessage `json:"frame"`
	Expect struct {
		Error struct {
			Code string `json:"code"`
			Ref  string `json:"ref"`
		} `json:"error"`
		Incident string `json:"incident"`
		Close    int    `json:"close"`
	} `json:"expect"`
}

// The real player, paired with a server that holds the golden server key
// (seed 32 × 0x02) as display d-7f3a9c, is sent every negative vector
// whose receiver is the player, in the state the vector names (the held
// manifest version). It must answer each with exactly the error code of
// the vector, report an incident exactly when the vector names one, and
// keep its manifest. (The vectors whose receiver is the server are sent
// to the real server by TestServerNegativeVectors in package e2e.)
func TestPlayerNegativeVectors(t *testing.T) {
	dir := filepath.Join("..", "protocol", "testdata")
	paths, _ := filepath.Glob(filepath.Join(dir, "negative", "*.json"))
	type named struct {
		name string
		v    negVector
	}
	var vs []named
	for _, f := range paths {
		if filepath.Base(f) == "small_order_keys.json" {
			continue
		}
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var v negVector
		if err := json.Unmarshal(raw, &v); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		if v.Context.Receiver == "player" {
			vs = append(vs, named{filepath.Base(f), v})
		}
	}
	if len(vs) < 6 {
		t.Fatalf("only %d negative vectors for the player", len(vs))
	}
	sort.SliceStable(vs, func(i, j int) bool { return vs[i].v.Context.HeldManifest < vs[j].v.Context.HeldManifest })

	golden := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{0x02}, ed25519.SeedSize))
	for _, v := range vs {
		if !bytes.Equal(v.v.Context.PinnedServerKey, golden.Public().(ed25519.PublicKey)) {
			t.Fatalf("%s: pinned key is not the golden server key", v.name)
		}
	}
	displayID := vs[0].v.Context.DisplayID
	srv := fakeserver.NewWithKey(golden)
	defer srv.Close()
	srv.AddFile([]byte("beacon golden file A\n"), "image/png")
	srv.AddFile([]byte("beacon golden file B\n"), "image/png")
	p := startPlayer(t, srv.URL, t.TempDir())
	code, err := srv.PairingCode(ctxT(t, 15*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Claim(code, displayID, "Lobby east wall"); err != nil {
		t.Fatal(err)
	}
	waitStatus(t, p, "paired", func(s player.Status) bool { return s.Paired && s.DisplayID == displayID })

	// The golden manifest (version 42) and the same payload at other
	// versions bring the player to the state each vector names.
	var goldenFrame struct {
		ID   string                  `json:"id"`
		Body protocol.SignedManifest `json:"body"`
	}
	raw, err := os.ReadFile(filepath.Join(dir, "manifest.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(raw, &goldenFrame); err != nil {
		t.Fatal(err)
	}
	base, err := protocol.VerifyManifest(golden.Public().(ed25519.PublicKey), goldenFrame.Body)
	if err != nil {
		t.Fatalf("golden manifest: %v", err)
	}
	ctx := ctxT(t, 60*time.Second)
	holdVersion := func(v int64) {
		t.Helper()
		if p.Status().ManifestVersion == v {
			return
		}
		var ref string
		if v == base.Version {
			// The golden frame itself: the positive control.
			if err := srv.SendRaw(displayID, raw); err != nil {
				t.Fatal(err)
			}
			ref = goldenFrame.ID
		} else {
			m := base
			m.Version = v
			if ref, err = srv.SendManifest(m); err != nil {
				t.Fatal(err)
			}
		}
		e, err := srv.WaitFor(ctx, "", func(e protocol.Envelope) bool {
			if e.Type != protocol.TypeAck && e.Type != protocol.TypeError {
				return false
			}
			var r struct {
				Ref string `json:"ref"`
			}
			_ = e.DecodeBody(&r)
			return r.Ref == ref
		})
		if err != nil {
			t.Fatalf("manifest %d: %v", v, err)
		}
		if e.Type != protocol.TypeAck {
			t.Fatalf("manifest %d refused: %s", v, e.Body)
		}
		waitStatus(t, p, "manifest applied", func(s player.Status) bool { return s.ManifestVersion == v })
	}
	incidents := func() int { return len(srv.Received(protocol.TypeIncident)) }

	for _, v := range vs {
		holdVersion(v.v.Context.HeldManifest)
		var env struct {
			ID string `json:"id"`
		}
		_ = json.Unmarshal(v.v.Frame, &env)
		before := incidents()
		if err := srv.SendRaw(displayID, v.v.Frame); err != nil {
			t.Fatal(err)
		}
		e, err := srv.WaitFor(ctx, "", func(e protocol.Envelope) bool {
			if e.Type != protocol.TypeAck && e.Type != protocol.TypeError {
				return false
			}
			var r struct {
				Ref string `json:"ref"`
			}
			_ = e.DecodeBody(&r)
			return r.Ref == env.ID
		})
		if err != nil {
			t.Fatalf("%s: no answer: %v", v.name, err)
		}
		if e.Type != protocol.TypeError {
			t.Errorf("%s: the player answered %s, want error %s", v.name, e.Type, v.v.Expect.Error.Code)
			continue
		}
		var eb protocol.ErrorBody
		_ = e.DecodeBody(&eb)
		if eb.Code != v.v.Expect.Error.Code || eb.Ref != v.v.Expect.Error.Ref {
			t.Errorf("%s: the player answered error %s (ref %s: %s), the vector expects %s (ref %s)", v.name, eb.Code, eb.Ref, eb.Message, v.v.Expect.Error.Code, v.v.Expect.Error.Ref)
		}
		if v.v.Expect.Incident != "" {
			in, err := srv.WaitFor(ctx, protocol.TypeIncident, func(protocol.Envelope) bool { return incidents() > before })
			if err != nil {
				t.Fatalf("%s: no incident %s: %v", v.name, v.v.Expect.Incident, err)
			}
			var got protocol.Incident
			_ = srv.Received(protocol.TypeIncident)[before].DecodeBody(&got)
			_ = in
			if got.Kind != v.v.Expect.Incident {
				t.Errorf("%s: incident %s, want %s", v.name, got.Kind, v.v.Expect.Incident)
			}
		} else {
			// Whatever the player sends about this frame is sent before its
			// answer or with it: two heartbeats later, nothing may have come.
			hb := len(srv.Received(protocol.TypeHeartbeat))
			if _, err := srv.WaitFor(ctx, protocol.TypeHeartbeat, func(protocol.Envelope) bool {
				return len(srv.Received(protocol.TypeHeartbeat)) >= hb+2
			}); err != nil {
				t.Fatal(err)
			}
			if n := incidents(); n != before {
				var got protocol.Incident
				_ = srv.Received(protocol.TypeIncident)[before].DecodeBody(&got)
				t.Errorf("%s: the player reported an incident %s (%s); the vector expects none", v.name, got.Kind, got.Message)
			}
		}
		if st := p.Status(); st.ManifestVersion != v.v.Context.HeldManifest || !st.Paired || st.DisplayID != displayID {
			t.Errorf("%s: the player changed state: manifest %d, paired %v, display %q", v.name, st.ManifestVersion, st.Paired, st.DisplayID)
		}
	}
}

// ovrVectorFile is a file of protocol/testdata/overrides.
type ovrVectorFile struct {
	OrgID     string                  `json:"org_id"`
	Program   json.RawMessage         `json:"program"`
	Overrides []protocol.OverrideSpec `json:"overrides"`
	At        []struct {
		T        time.Time `json:"t"`
		Override *struct {
			ID           string `json:"id"`
			Presentation string `json:"presentation"`
		} `json:"override"`
		Program struct {
			Off bool `json:"off"`
		} `json:"program"`
	} `json:"at"`
}

// The real player, on a simulated clock, holds each override vector's
// program and overrides (signed by its server; those for another display
// or organisation it refuses) and, at every instant of the vector, shows
// the override the vector names (as its status reports what the renderer
// painted), or none, and is off exactly when the program is.
func TestPlayerOverrideVectors(t *testing.T) {
	paths, _ := filepath.Glob(filepath.Join("..", "protocol", "testdata", "overrides", "*.json"))
	if len(paths) < 3 {
		t.Fatalf("%d override vectors", len(paths))
	}
	for _, path := range paths {
		t.Run(filepath.Base(path), func(t *testing.T) {
			raw, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			var v ovrVectorFile
			if err := json.Unmarshal(raw, &v); err != nil {
				t.Fatal(err)
			}
			var prog struct {
				Display struct {
					ID            string `json:"id"`
					Width, Height int
				} `json:"display"`
				Timezone string `json:"timezone"`
			}
			_ = json.Unmarshal(v.Program, &prog)
			srv := fakeserver.New()
			defer srv.Close()
			srv.OrgID = v.OrgID
			clk := playertest.NewClock(v.At[0].T)
			p := startPlayerWith(t, srv.URL, t.TempDir(), clk.Tune)
			code, err := srv.PairingCode(ctxT(t, 15*time.Second))
			if err != nil {
				t.Fatal(err)
			}
			if err := srv.Claim(code, prog.Display.ID, "Vector"); err != nil {
				t.Fatal(err)
			}
			waitStatus(t, p, "paired", func(s player.Status) bool { return s.Paired })
			dialRenderer(t, p.Addr()) // a renderer that paints at once
			m := protocol.Manifest{DisplayID: prog.Display.ID, Version: 1, IssuedAt: v.At[0].T,
				Display:  protocol.DisplaySpec{Width: prog.Display.Width, Height: prog.Display.Height, Fit: "contain", Background: "#000000"},
				Timezone: prog.Timezone, Playlist: protocol.Playlist{Items: []protocol.Item{}}, Program: v.Program}
			if _, err := srv.SendManifest(m); err != nil {
				t.Fatal(err)
			}
			waitStatus(t, p, "manifest applied", func(s player.Status) bool { return s.ManifestVersion == 1 })
			for _, o := range v.Overrides {
				if _, err := srv.SendOverride(prog.Display.ID, o); err != nil {
					t.Fatal(err)
				}
				want := protocol.AckReceived
				if !o.For(v.OrgID, prog.Display.ID) {
					want = protocol.AckRefused
				}
				waitAck(t, srv, o.ID, want)
			}
			for _, a := range v.At {
				ctx := ctxT(t, 15*time.Second)
				if _, err := clk.WaitAlarm(ctx); err != nil {
					t.Fatalf("at %s: %v", a.T.Format(time.RFC3339), err)
				}
				clk.Set(a.T)
				what := "no override"
				if a.Override != nil {
					what = "override " + a.Override.ID
				}
				st, err := player.WaitStatus(ctxT(t, 15*time.Second), p.Addr(), func(s player.Status) bool {
					if (s.State == protocol.StateOff) != a.Program.Off {
						return false
					}
					if a.Override == nil {
						return s.Override == nil
					}
					return s.Override != nil && s.Override.ID == a.Override.ID && s.Override.Presentation == a.Override.Presentation
				})
				if err != nil {
					b, _ := json.Marshal(st.Override)
					t.Fatalf("at %s the vector says %s (program off %v); the player shows override %s, state %s", a.T.Format(time.RFC3339), what, a.Program.Off, b, st.State)
				}
			}
		})
	}
}
