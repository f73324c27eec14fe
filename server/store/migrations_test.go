package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"path/filepath"
	"testing"
)

// A store made by the first schema keeps its data through every later
// migration: schedules become documents, playlist entries keep their media.
func TestMigrationsKeepData(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	db, err := sql.Open("sqlite", "file:"+filepath.Join(dir, "beacon.db")+"?_pragma=foreign_keys(1)")
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{
		`CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL)`,
		migrations[0],
		`INSERT INTO schema_migrations VALUES (1, '2026-01-01T00:00:00Z')`,
		`INSERT INTO orgs VALUES ('org_a', 'A', '2026-01-01T00:00:00Z')`,
		`INSERT INTO displays (id, org_id, name, public_key, width, height, created_at) VALUES ('dsp_a', 'org_a', 'Wall', x'00', 1920, 1080, '2026-01-01T00:00:00Z')`,
		`INSERT INTO media (id, org_id, sha256, filename, content_type, kind, size, status, created_at) VALUES ('med_a', 'org_a', 'ab', 'a.jpg', 'image/jpeg', 'image', 1, 'ready', '2026-01-01T00:00:00Z')`,
		`INSERT INTO playlists VALUES ('pls_a', 'org_a', 'Loop', '2026-01-01T00:00:00Z', '2026-01-01T00:00:00Z')`,
		`INSERT INTO playlist_items VALUES ('pls_a', 0, 'med_a', 8)`,
		`INSERT INTO schedules VALUES ('sch_a', 'org_a', 'dsp_a', 'pls_a', '2026-01-01T00:00:00Z')`,
	} {
		if _, err := db.ExecContext(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	db.Close()

	s, err := Open(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if v, _ := s.SchemaVersion(ctx); v != len(migrations) {
		t.Fatalf("schema version %d, want %d", v, len(migrations))
	}
	docs, err := s.Docs(ctx, Schedules, "org_a")
	if err != nil || len(docs) != 1 {
		t.Fatalf("schedules: %v %d", err, len(docs))
	}
	var sc struct {
		Target struct {
			DisplayIDs []string `json:"display_ids"`
		} `json:"target"`
		Content struct {
			PlaylistID string `json:"playlist_id"`
		} `json:"content"`
	}
	if err := json.Unmarshal(docs[0].Body, &sc); err != nil || sc.Target.DisplayIDs[0] != "dsp_a" || sc.Content.PlaylistID != "pls_a" {
		t.Fatalf("migrated schedule %s: %v", docs[0].Body, err)
	}
	p, err := s.Playlist(ctx, "org_a", "pls_a")
	if err != nil || len(p.Items) != 1 || p.Items[0].MediaID != "med_a" || p.Items[0].DurationS != 8 {
		t.Fatalf("migrated playlist %+v %v", p, err)
	}
	d, err := s.Display(ctx, "org_a", "dsp_a")
	if err != nil || d.MaxFPS != 30 || d.H264Profile != "high" || d.Tags != nil && len(d.Tags) != 0 {
		t.Fatalf("migrated display %+v %v", d, err)
	}
	// Opening again applies nothing twice.
	s.Close()
	if s, err = Open(ctx, dir); err != nil {
		t.Fatal(err)
	}
}
