package e2e_test

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"beacon/player"
	"beacon/server/servertest"
)

// TestDeletedDisplayUnpairsThePlayer: deleting a display in the API
// returns its real player to pairing through the real server's signed
// unpair, whether the player is online or comes back later; the player
// keeps its key, reports no tampering, and pairs again with a new claim.
func TestDeletedDisplayUnpairsThePlayer(t *testing.T) {
	srv := servertest.Start(t, servertest.Options{})
	dir := t.TempDir()
	claim := func(p *runningPlayer, name string) string {
		t.Helper()
		st := p.wait(t, "pairing code", func(s player.Status) bool { return !s.Paired && s.PairingCode != "" })
		var disp struct{ ID string }
		if code := srv.Do("POST", "/api/v1/displays/claim", map[string]any{"code": st.PairingCode, "name": name, "width": 320, "height": 180}, &disp); code != 201 {
			t.Fatalf("claim: %d", code)
		}
		p.wait(t, "paired", func(s player.Status) bool { return s.Paired && s.DisplayID == disp.ID && s.Connected })
		return disp.ID
	}
	unpaired := func(p *runningPlayer, what string) {
		t.Helper()
		p.wait(t, what, func(s player.Status) bool { return !s.Paired && s.DisplayID == "" && s.PairingCode != "" })
		for _, name := range []string{"state.json", "manifest.json"} {
			if _, err := os.Stat(filepath.Join(dir, name)); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("%s: %s kept after the unpair: %v", what, name, err)
			}
		}
		if _, err := os.Stat(filepath.Join(dir, "player.key")); err != nil {
			t.Errorf("%s: player.key: %v", what, err)
		}
		if st := p.Status(); st.LastRefusal != "" || len(p.PendingIncidents()) != 0 {
			t.Errorf("%s: the genuine unpair was taken for an attack: %q %+v", what, st.LastRefusal, p.PendingIncidents())
		}
	}

	// Online: the unpair arrives on the live session.
	p := startPlayer(t, dir, srv.URL)
	first := claim(p, "Hall")
	if code := srv.Do("DELETE", "/api/v1/displays/"+first, nil, nil); code != 204 {
		t.Fatalf("delete: %d", code)
	}
	unpaired(p, "deleted while online")

	// Offline: the unpair waits for the player's next connection.
	second := claim(p, "Hall again")
	if second == first {
		t.Fatalf("a new claim kept the deleted display's id %s", first)
	}
	p.stop()
	if code := srv.Do("DELETE", "/api/v1/displays/"+second, nil, nil); code != 204 {
		t.Fatalf("delete: %d", code)
	}
	p = startPlayer(t, dir, srv.URL)
	unpaired(p, "deleted while offline")
	third := claim(p, "Hall, third")

	var list struct{ Displays []struct{ ID string } }
	srv.Do("GET", "/api/v1/displays", nil, &list)
	if len(list.Displays) != 1 || list.Displays[0].ID != third {
		t.Fatalf("displays after two deletions: %+v, want only %s", list.Displays, third)
	}
	var inc struct{ Incidents []struct{ Kind string } }
	srv.Do("GET", "/api/v1/incidents", nil, &inc)
	if len(inc.Incidents) != 0 {
		t.Fatalf("incidents: %+v", inc.Incidents)
	}
}
