package store

import (
	"bytes"
	"context"
	"database/sql"
	_ "embed"
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// OverrideTemplates holds emergency override templates (documents in the
// same shape as items, layouts and schedules; the server validates them).
// Every organisation starts with the templates of templates_seed.json
// (flood, evacuation, border closure in Vietnamese and English): new
// organisations get them in CreateOrg, organisations that existed before
// the table get them in its migration.
const OverrideTemplates = "override_templates"

//go:embed templates_seed.json
var templatesSeed []byte

// SeedTemplates returns the bodies of the templates every organisation
// starts with.
func SeedTemplates() []json.RawMessage {
	var list []json.RawMessage
	if err := json.Unmarshal(templatesSeed, &list); err != nil {
		panic("store: templates_seed.json: " + err.Error())
	}
	for i, b := range list {
		var buf bytes.Buffer
		_ = json.Compact(&buf, b)
		list[i] = buf.Bytes()
	}
	return list
}

// templatesMigration makes the table and seeds it for every existing
// organisation.
func templatesMigration() string {
	var b strings.Builder
	b.WriteString(`CREATE TABLE override_templates (
	id TEXT PRIMARY KEY,
	org_id TEXT NOT NULL REFERENCES orgs(id),
	body TEXT NOT NULL,
	created_at TEXT NOT NULL,
	updated_at TEXT NOT NULL
);
CREATE INDEX override_templates_org ON override_templates(org_id, created_at);
`)
	for i, body := range SeedTemplates() {
		// created_at orders the seeds as in the file; ids are random.
		fmt.Fprintf(&b, `INSERT INTO override_templates (id, org_id, body, created_at, updated_at)
SELECT 'tpl_' || lower(hex(randomblob(10))), id, %s,
	strftime('%%Y-%%m-%%dT%%H:%%M:%%S', 'now') || '.00000000%dZ', strftime('%%Y-%%m-%%dT%%H:%%M:%%S', 'now') || '.000000000Z' FROM orgs;
`, sqlQuote(string(body)), i)
	}
	return b.String()
}

func sqlQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// seedTemplates inserts the seed templates of a new organisation.
func (s *Store) seedTemplates(ctx context.Context, tx *sql.Tx, orgID string) error {
	now := s.now()
	for i, body := range SeedTemplates() {
		at := ts(now.Add(time.Duration(i)))
		if _, err := tx.ExecContext(ctx, `INSERT INTO override_templates (id, org_id, body, created_at, updated_at) VALUES (?, ?, ?, ?, ?)`,
			NewDocID(OverrideTemplates), orgID, string(body), at, ts(now)); err != nil {
			return fmt.Errorf("store: seed override templates: %w", err)
		}
	}
	return nil
}

// AuditTemplateChange records a template created, updated or deleted.
const AuditTemplateChange = "override_template.change"
