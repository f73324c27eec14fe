package e2e_test

import (
	"database/sql"
	"path/filepath"
	"testing"
	"time"

	"beacon/player"
	"beacon/server/servertest"

	_ "modernc.org/sqlite"
)

// A real player shows the fresh code the server sends when its code
// expires unclaimed (error pairing_expired, then pairing), and pairs with
// it; before, the server never renewed a code and the screen showed a dead
// one until the player happened to reconnect.
func TestPlayerShowsRenewedPairingCode(t *testing.T) {
	srv := servertest.Start(t, servertest.Options{PairingLifetime: 3 * time.Second})
	p := startPlayer(t, t.TempDir(), srv.URL)
	first := p.wait(t, "a pairing code", func(s player.Status) bool { return s.PairingCode != "" }).PairingCode
	p.wait(t, "a renewed pairing code", func(s player.Status) bool {
		return s.PairingCode != "" && s.PairingCode != first && s.Connected && !s.Paired
	})
	if code := srv.Do("POST", "/api/v1/displays/claim", map[string]any{"code": first, "name": "x", "width": panelW, "height": panelH}, nil); code != 404 {
		t.Fatalf("expired code claimed: %d", code)
	}
	// Claim what the screen shows now (retrying if it was renewed again
	// while this machine was slow).
	var disp struct{ ID string }
	servertest.Eventually(t, 60*time.Second, "a claim of the code on screen", func() bool {
		return srv.Do("POST", "/api/v1/displays/claim", map[string]any{"code": p.Status().PairingCode, "name": "Renewed", "width": panelW, "height": panelH}, &disp) == 201
	})
	p.wait(t, "paired", func(s player.Status) bool { return s.Paired && s.DisplayID == disp.ID })
}

// displayTokenHashes reads the player session tokens a data directory's
// store holds (the server may be running).
func displayTokenHashes(t *testing.T, dataDir string) map[string]bool {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+filepath.Join(dataDir, "beacon.db")+"?_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rows, err := db.Query(`SELECT hash FROM display_tokens`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[string]bool{}
	for rows.Next() {
		var h string
		if err := rows.Scan(&h); err != nil {
			t.Fatal(err)
		}
		out[h] = true
	}
	return out
}

// checkNoneSurvive fails if a display token left by a killed server is
// still in the store after the restart.
func checkNoneSurvive(t *testing.T, leftover, now map[string]bool) {
	t.Helper()
	if len(leftover) == 0 {
		t.Fatal("the killed server left no display token: nothing was checked")
	}
	for h := range leftover {
		if now[h] {
			t.Fatal("a display token of the killed server's sessions still works after the restart")
		}
	}
}
