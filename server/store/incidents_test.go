package store

import (
	"context"
	"testing"
	"time"
)

// TestIncidentDeduplication: the same incident from the same display
// within IncidentDedupWindow is stored once (a player's re-send); another
// display, another content, or the same content after the window is a new
// incident.
func TestIncidentDeduplication(t *testing.T) {
	ctx := context.Background()
	s, err := Open(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	org, _ := s.CreateOrg(ctx, "A")
	now := time.Date(2026, 3, 2, 8, 0, 0, 0, time.UTC)
	s.now = func() time.Time { return now }
	in := Incident{OrgID: org.ID, DisplayID: "d1", Kind: "hash_mismatch", Message: "differs", SHA256: "ab", ManifestVersion: 3}
	first, created, err := s.CreateIncident(ctx, in)
	if err != nil || !created {
		t.Fatalf("first: created=%v err=%v", created, err)
	}
	now = now.Add(time.Hour)
	again, created, err := s.CreateIncident(ctx, in)
	if err != nil || created || again.ID != first.ID {
		t.Fatalf("re-send: created=%v id=%s (first %s) err=%v", created, again.ID, first.ID, err)
	}
	other := in
	other.DisplayID = "d2"
	if _, created, _ := s.CreateIncident(ctx, other); !created {
		t.Fatal("another display's incident was taken for a re-send")
	}
	other = in
	other.ManifestVersion = 4
	if _, created, _ := s.CreateIncident(ctx, other); !created {
		t.Fatal("an incident of another manifest was taken for a re-send")
	}
	now = now.Add(IncidentDedupWindow)
	if _, created, _ := s.CreateIncident(ctx, in); !created {
		t.Fatal("the same incident a day later was taken for a re-send")
	}
	list, err := s.Incidents(ctx, org.ID, 100)
	if err != nil || len(list) != 4 {
		t.Fatalf("%d incidents stored, want 4 (err %v)", len(list), err)
	}
}
