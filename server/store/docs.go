package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// Doc is a row whose content is a JSON document validated by the server:
// items, layouts and schedules.
type Doc struct {
	ID        string
	OrgID     string
	Body      []byte
	CreatedAt time.Time
	UpdatedAt time.Time
}

// Document tables.
const (
	Items     = "items"
	Layouts   = "layouts"
	Schedules = "schedules"
)

var docPrefix = map[string]string{Items: "itm", Layouts: "lay", Schedules: "sch", OverrideTemplates: "tpl"}

func checkTable(table string) error {
	if _, ok := docPrefix[table]; !ok {
		return fmt.Errorf("store: no document table %q", table)
	}
	return nil
}

// NewDocID returns a fresh id for a document of table.
func NewDocID(table string) string { return NewID(docPrefix[table]) }

// CreateDoc stores a new document (d.ID must be set, see NewDocID).
func (s *Store) CreateDoc(ctx context.Context, table string, d Doc) (Doc, error) {
	if err := checkTable(table); err != nil {
		return Doc{}, err
	}
	d.CreatedAt, d.UpdatedAt = s.now(), s.now()
	_, err := s.db.ExecContext(ctx, `INSERT INTO `+table+` (id, org_id, body, created_at, updated_at) VALUES (?, ?, ?, ?, ?)`,
		d.ID, d.OrgID, string(d.Body), ts(d.CreatedAt), ts(d.UpdatedAt))
	if err != nil {
		return Doc{}, fmt.Errorf("store: create %s: %w", table, err)
	}
	return d, nil
}

// UpdateDoc replaces a document's body.
func (s *Store) UpdateDoc(ctx context.Context, table string, d Doc) (Doc, error) {
	if err := checkTable(table); err != nil {
		return Doc{}, err
	}
	d.UpdatedAt = s.now()
	res, err := s.db.ExecContext(ctx, `UPDATE `+table+` SET body = ?, updated_at = ? WHERE id = ? AND org_id = ?`, string(d.Body), ts(d.UpdatedAt), d.ID, d.OrgID)
	if err != nil {
		return Doc{}, fmt.Errorf("store: update %s: %w", table, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return Doc{}, ErrNotFound
	}
	return s.Doc(ctx, table, d.OrgID, d.ID)
}

// DeleteDoc removes a document.
func (s *Store) DeleteDoc(ctx context.Context, table, orgID, id string) error {
	if err := checkTable(table); err != nil {
		return err
	}
	res, err := s.db.ExecContext(ctx, `DELETE FROM `+table+` WHERE id = ? AND org_id = ?`, id, orgID)
	if err != nil {
		return fmt.Errorf("store: delete %s: %w", table, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return ErrNotFound
	}
	return nil
}

// Doc returns one document of an organisation.
func (s *Store) Doc(ctx context.Context, table, orgID, id string) (Doc, error) {
	if err := checkTable(table); err != nil {
		return Doc{}, err
	}
	var d Doc
	var body string
	var c, u sql.NullString
	err := s.db.QueryRowContext(ctx, `SELECT id, org_id, body, created_at, updated_at FROM `+table+` WHERE org_id = ? AND id = ?`, orgID, id).
		Scan(&d.ID, &d.OrgID, &body, &c, &u)
	if errors.Is(err, sql.ErrNoRows) {
		return Doc{}, ErrNotFound
	}
	if err != nil {
		return Doc{}, err
	}
	d.Body, d.CreatedAt, d.UpdatedAt = []byte(body), parseTS(c), parseTS(u)
	return d, nil
}

// Docs lists an organisation's documents of a table, oldest first (the
// order schedules of equal priority merge in).
func (s *Store) Docs(ctx context.Context, table, orgID string) ([]Doc, error) {
	if err := checkTable(table); err != nil {
		return nil, err
	}
	return s.docs(ctx, table, `SELECT id, org_id, body, created_at, updated_at FROM `+table+` WHERE org_id = ? ORDER BY created_at, rowid`, orgID)
}

// DocsPage lists at most limit documents of a table by (created_at, id),
// after the document created at afterCreated with id afterID (from the
// start if afterID is empty): one page of a list, read without the rest.
func (s *Store) DocsPage(ctx context.Context, table, orgID string, afterCreated time.Time, afterID string, limit int) ([]Doc, error) {
	if err := checkTable(table); err != nil {
		return nil, err
	}
	if afterID == "" {
		return s.docs(ctx, table, `SELECT id, org_id, body, created_at, updated_at FROM `+table+` WHERE org_id = ? ORDER BY created_at, id LIMIT ?`, orgID, limit)
	}
	return s.docs(ctx, table, `SELECT id, org_id, body, created_at, updated_at FROM `+table+` WHERE org_id = ? AND (created_at, id) > (?, ?) ORDER BY created_at, id LIMIT ?`,
		orgID, ts(afterCreated), afterID, limit)
}

func (s *Store) docs(ctx context.Context, table, q string, args ...any) ([]Doc, error) {
	rows, err := s.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("store: list %s: %w", table, err)
	}
	defer rows.Close()
	var out []Doc
	for rows.Next() {
		var d Doc
		var body string
		var c, u sql.NullString
		if err := rows.Scan(&d.ID, &d.OrgID, &body, &c, &u); err != nil {
			return nil, err
		}
		d.Body, d.CreatedAt, d.UpdatedAt = []byte(body), parseTS(c), parseTS(u)
		out = append(out, d)
	}
	return out, rows.Err()
}
