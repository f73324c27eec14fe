package store

import (
	"context"
	"database/sql"
	"fmt"
)

// migrations are applied in order, each once, inside a transaction. Never
// edit a migration that has shipped: append a new one.
var migrations = []string{
	// 1: organisations, accounts, tokens, displays, media, playlists, schedules.
	`
CREATE TABLE orgs (
	id TEXT PRIMARY KEY,
	name TEXT NOT NULL,
	created_at TEXT NOT NULL
);
CREATE TABLE users (
	id TEXT PRIMARY KEY,
	org_id TEXT NOT NULL REFERENCES orgs(id),
	username TEXT NOT NULL UNIQUE,
	password_hash TEXT NOT NULL,
	role TEXT NOT NULL,
	created_at TEXT NOT NULL
);
CREATE TABLE api_tokens (
	id TEXT PRIMARY KEY,
	org_id TEXT NOT NULL REFERENCES orgs(id),
	user_id TEXT REFERENCES users(id),
	name TEXT NOT NULL,
	role TEXT NOT NULL,
	hash TEXT NOT NULL UNIQUE,
	created_at TEXT NOT NULL,
	last_used_at TEXT
);
CREATE TABLE displays (
	id TEXT PRIMARY KEY,
	org_id TEXT NOT NULL REFERENCES orgs(id),
	name TEXT NOT NULL,
	public_key BLOB NOT NULL UNIQUE,
	width INTEGER NOT NULL,
	height INTEGER NOT NULL,
	fit TEXT NOT NULL DEFAULT 'contain',
	background TEXT NOT NULL DEFAULT '#000000',
	manifest_version INTEGER NOT NULL DEFAULT 0,
	manifest_hash TEXT NOT NULL DEFAULT '',
	manifest_payload BLOB,
	manifest_signature BLOB,
	acked_version INTEGER NOT NULL DEFAULT 0,
	state TEXT NOT NULL DEFAULT '',
	now_playing TEXT NOT NULL DEFAULT '',
	last_seen_at TEXT,
	created_at TEXT NOT NULL
);
CREATE INDEX displays_org ON displays(org_id);
CREATE TABLE display_tokens (
	hash TEXT PRIMARY KEY,
	display_id TEXT NOT NULL REFERENCES displays(id) ON DELETE CASCADE,
	created_at TEXT NOT NULL
);
CREATE TABLE media (
	id TEXT PRIMARY KEY,
	org_id TEXT NOT NULL REFERENCES orgs(id),
	sha256 TEXT NOT NULL,
	filename TEXT NOT NULL,
	content_type TEXT NOT NULL,
	kind TEXT NOT NULL,
	size INTEGER NOT NULL,
	width INTEGER NOT NULL DEFAULT 0,
	height INTEGER NOT NULL DEFAULT 0,
	status TEXT NOT NULL,
	error TEXT NOT NULL DEFAULT '',
	created_at TEXT NOT NULL,
	UNIQUE (org_id, sha256)
);
CREATE TABLE renditions (
	media_id TEXT NOT NULL REFERENCES media(id) ON DELETE CASCADE,
	profile TEXT NOT NULL,
	width INTEGER NOT NULL,
	height INTEGER NOT NULL,
	sha256 TEXT NOT NULL,
	size INTEGER NOT NULL,
	content_type TEXT NOT NULL,
	created_at TEXT NOT NULL,
	PRIMARY KEY (media_id, profile)
);
CREATE INDEX renditions_sha ON renditions(sha256);
CREATE TABLE playlists (
	id TEXT PRIMARY KEY,
	org_id TEXT NOT NULL REFERENCES orgs(id),
	name TEXT NOT NULL,
	created_at TEXT NOT NULL,
	updated_at TEXT NOT NULL
);
CREATE TABLE playlist_items (
	playlist_id TEXT NOT NULL REFERENCES playlists(id) ON DELETE CASCADE,
	position INTEGER NOT NULL,
	media_id TEXT NOT NULL REFERENCES media(id),
	duration_s REAL NOT NULL,
	PRIMARY KEY (playlist_id, position)
);
CREATE TABLE schedules (
	id TEXT PRIMARY KEY,
	org_id TEXT NOT NULL REFERENCES orgs(id),
	display_id TEXT NOT NULL REFERENCES displays(id) ON DELETE CASCADE,
	playlist_id TEXT NOT NULL REFERENCES playlists(id) ON DELETE CASCADE,
	created_at TEXT NOT NULL
);
CREATE INDEX schedules_display ON schedules(display_id);
CREATE TABLE incidents (
	id TEXT PRIMARY KEY,
	org_id TEXT NOT NULL REFERENCES orgs(id),
	display_id TEXT NOT NULL,
	kind TEXT NOT NULL,
	message TEXT NOT NULL,
	sha256 TEXT NOT NULL DEFAULT '',
	manifest_version INTEGER NOT NULL DEFAULT 0,
	created_at TEXT NOT NULL
);
`,
}

func (s *Store) migrate(ctx context.Context) error {
	if _, err := s.db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL)`); err != nil {
		return fmt.Errorf("store: migrations table: %w", err)
	}
	var have int
	if err := s.db.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&have); err != nil {
		return fmt.Errorf("store: read schema version: %w", err)
	}
	if have > len(migrations) {
		return fmt.Errorf("store: database schema version %d is newer than this build (%d); upgrade beacon", have, len(migrations))
	}
	for v := have + 1; v <= len(migrations); v++ {
		err := s.tx(ctx, func(tx *sql.Tx) error {
			if _, err := tx.ExecContext(ctx, migrations[v-1]); err != nil {
				return fmt.Errorf("store: migration %d: %w", v, err)
			}
			_, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)`, v, ts(s.now()))
			return err
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// SchemaVersion returns the applied migration version.
func (s *Store) SchemaVersion(ctx context.Context) (int, error) {
	var v int
	err := s.db.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&v)
	return v, err
}
