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
	// 2: clusters, display settings, items, layouts, rich playlists and
	// schedules, proof of play, media jobs.
	`
CREATE TABLE clusters (
	id TEXT PRIMARY KEY,
	org_id TEXT NOT NULL REFERENCES orgs(id),
	name TEXT NOT NULL,
	location TEXT NOT NULL DEFAULT '',
	latitude REAL,
	longitude REAL,
	timezone TEXT NOT NULL,
	hours TEXT NOT NULL DEFAULT '[]',
	holidays TEXT NOT NULL DEFAULT '[]',
	created_at TEXT NOT NULL,
	updated_at TEXT NOT NULL
);
CREATE INDEX clusters_org ON clusters(org_id);
ALTER TABLE displays ADD COLUMN cluster_id TEXT REFERENCES clusters(id) ON DELETE SET NULL;
ALTER TABLE displays ADD COLUMN tags TEXT NOT NULL DEFAULT '[]';
ALTER TABLE displays ADD COLUMN languages TEXT NOT NULL DEFAULT '[]';
ALTER TABLE displays ADD COLUMN max_fps REAL NOT NULL DEFAULT 30;
ALTER TABLE displays ADD COLUMN max_bitrate INTEGER NOT NULL DEFAULT 0;
ALTER TABLE displays ADD COLUMN h264_profile TEXT NOT NULL DEFAULT 'high';
ALTER TABLE displays ADD COLUMN h264_level TEXT NOT NULL DEFAULT '';
ALTER TABLE media ADD COLUMN probe TEXT NOT NULL DEFAULT '';
ALTER TABLE media ADD COLUMN duration_s REAL NOT NULL DEFAULT 0;
CREATE TABLE items (
	id TEXT PRIMARY KEY,
	org_id TEXT NOT NULL REFERENCES orgs(id),
	body TEXT NOT NULL,
	created_at TEXT NOT NULL,
	updated_at TEXT NOT NULL
);
CREATE INDEX items_org ON items(org_id);
CREATE TABLE layouts (
	id TEXT PRIMARY KEY,
	org_id TEXT NOT NULL REFERENCES orgs(id),
	body TEXT NOT NULL,
	created_at TEXT NOT NULL,
	updated_at TEXT NOT NULL
);
ALTER TABLE playlists ADD COLUMN options TEXT NOT NULL DEFAULT '{}';
CREATE TABLE playlist_items_v2 (
	playlist_id TEXT NOT NULL REFERENCES playlists(id) ON DELETE CASCADE,
	position INTEGER NOT NULL,
	media_id TEXT REFERENCES media(id),
	item_id TEXT NOT NULL DEFAULT '',
	child_playlist_id TEXT NOT NULL DEFAULT '',
	duration_s REAL NOT NULL,
	PRIMARY KEY (playlist_id, position)
);
INSERT INTO playlist_items_v2 (playlist_id, position, media_id, duration_s)
	SELECT playlist_id, position, media_id, duration_s FROM playlist_items;
DROP TABLE playlist_items;
ALTER TABLE playlist_items_v2 RENAME TO playlist_items;
CREATE TABLE schedules_v2 (
	id TEXT PRIMARY KEY,
	org_id TEXT NOT NULL REFERENCES orgs(id),
	body TEXT NOT NULL,
	created_at TEXT NOT NULL,
	updated_at TEXT NOT NULL
);
INSERT INTO schedules_v2 (id, org_id, body, created_at, updated_at)
	SELECT id, org_id,
		json_object('id', id, 'target', json_object('display_ids', json_array(display_id)), 'content', json_object('playlist_id', playlist_id), 'priority', 0),
		created_at, created_at
	FROM schedules;
DROP TABLE schedules;
ALTER TABLE schedules_v2 RENAME TO schedules;
CREATE INDEX schedules_org ON schedules(org_id);
CREATE TABLE plays (
	display_id TEXT NOT NULL,
	record_id TEXT NOT NULL,
	org_id TEXT NOT NULL,
	zone TEXT NOT NULL,
	item_id TEXT NOT NULL,
	sha256 TEXT NOT NULL DEFAULT '',
	schedule_id TEXT NOT NULL DEFAULT '',
	started_at TEXT NOT NULL,
	ended_at TEXT NOT NULL,
	received_at TEXT NOT NULL,
	PRIMARY KEY (display_id, record_id)
);
CREATE INDEX plays_org_time ON plays(org_id, started_at);
CREATE TABLE jobs (
	id TEXT PRIMARY KEY,
	org_id TEXT NOT NULL REFERENCES orgs(id),
	media_id TEXT NOT NULL REFERENCES media(id) ON DELETE CASCADE,
	kind TEXT NOT NULL,
	spec TEXT NOT NULL,
	status TEXT NOT NULL,
	progress REAL NOT NULL DEFAULT 0,
	eta_s REAL NOT NULL DEFAULT 0,
	error TEXT NOT NULL DEFAULT '',
	attempts INTEGER NOT NULL DEFAULT 0,
	created_at TEXT NOT NULL,
	started_at TEXT,
	finished_at TEXT
);
CREATE INDEX jobs_status ON jobs(status, created_at);
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
