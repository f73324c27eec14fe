package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"path/filepath"
	"testing"
)

// Organisations made before the templates table get the seed templates
// from its migration; new ones from CreateOrg. Each has its own rows.
func TestTemplatesSeeded(t *testing.T) {
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
		`INSERT INTO orgs VALUES ('org_b', 'B', '2026-01-01T00:00:00Z')`,
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
	newOrg, err := s.CreateOrg(ctx, "C")
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, org := range []string{"org_a", "org_b", newOrg.ID} {
		docs, err := s.Docs(ctx, OverrideTemplates, org)
		if err != nil {
			t.Fatal(err)
		}
		var topics []string
		for _, d := range docs {
			if seen[d.ID] {
				t.Fatalf("template %s shared between organisations", d.ID)
			}
			seen[d.ID] = true
			var body struct {
				Topic string
				Name  map[string]string
			}
			if err := json.Unmarshal(d.Body, &body); err != nil || body.Name["vi"] == "" || body.Name["en"] == "" {
				t.Fatalf("%s: template %s: %v %s", org, d.ID, err, d.Body)
			}
			topics = append(topics, body.Topic)
		}
		if got := filepath.Join(topics...); got != "flood/evacuation/border_closure" {
			t.Fatalf("%s: templates %v", org, topics)
		}
	}
}
