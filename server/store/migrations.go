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
	// 3: token kinds (API token or login session), expiry and revocation;
	// disabled accounts; the record of every pairing claim.
	`
ALTER TABLE api_tokens ADD COLUMN kind TEXT NOT NULL DEFAULT 'api';
ALTER TABLE api_tokens ADD COLUMN expires_at TEXT;
ALTER TABLE api_tokens ADD COLUMN revoked_at TEXT;
CREATE INDEX api_tokens_org ON api_tokens(org_id, created_at);
ALTER TABLE users ADD COLUMN disabled_at TEXT;
CREATE TABLE pairing_claims (
	id TEXT PRIMARY KEY,
	org_id TEXT NOT NULL REFERENCES orgs(id),
	token_id TEXT NOT NULL,
	user_id TEXT NOT NULL DEFAULT '',
	remote_addr TEXT NOT NULL,
	code TEXT NOT NULL,
	outcome TEXT NOT NULL,
	display_id TEXT NOT NULL DEFAULT '',
	created_at TEXT NOT NULL
);
CREATE INDEX pairing_claims_org_time ON pairing_claims(org_id, created_at);
`,
	// 4: display locations; emergency overrides, their deliveries per
	// display, and the audit log of who triggered or cancelled what.
	`
ALTER TABLE displays ADD COLUMN latitude REAL;
ALTER TABLE displays ADD COLUMN longitude REAL;
CREATE TABLE overrides (
	id TEXT PRIMARY KEY,
	org_id TEXT NOT NULL REFERENCES orgs(id),
	level TEXT NOT NULL,
	presentation TEXT NOT NULL,
	position TEXT NOT NULL DEFAULT '',
	texts TEXT NOT NULL DEFAULT '{}',
	languages TEXT NOT NULL DEFAULT '[]',
	lang_mode TEXT NOT NULL DEFAULT '',
	media_ids TEXT NOT NULL DEFAULT '[]',
	tone_kind TEXT NOT NULL DEFAULT '',
	tone_repeat INTEGER NOT NULL DEFAULT 0,
	targets TEXT NOT NULL,
	all_displays INTEGER NOT NULL DEFAULT 0,
	display_ids TEXT NOT NULL DEFAULT '[]',
	starts_at TEXT NOT NULL,
	expires_at TEXT NOT NULL,
	wake INTEGER NOT NULL DEFAULT 0,
	created_by TEXT NOT NULL,
	created_from TEXT NOT NULL DEFAULT '',
	created_at TEXT NOT NULL,
	cancelled_at TEXT,
	cancelled_by TEXT NOT NULL DEFAULT '',
	cancel_signature BLOB,
	revision INTEGER NOT NULL DEFAULT 1,
	payload BLOB NOT NULL,
	signature BLOB NOT NULL,
	idem_token TEXT NOT NULL DEFAULT '',
	idem_key TEXT NOT NULL DEFAULT ''
);
CREATE INDEX overrides_org ON overrides(org_id, created_at);
CREATE INDEX overrides_expiry ON overrides(expires_at);
CREATE UNIQUE INDEX overrides_idem ON overrides(org_id, idem_token, idem_key) WHERE idem_key != '';
CREATE TABLE override_deliveries (
	override_id TEXT NOT NULL REFERENCES overrides(id) ON DELETE CASCADE,
	display_id TEXT NOT NULL,
	state TEXT NOT NULL,
	sent_at TEXT,
	received_at TEXT,
	painted_at TEXT,
	ended_at TEXT,
	latency_ms INTEGER,
	error TEXT NOT NULL DEFAULT '',
	updated_at TEXT NOT NULL,
	PRIMARY KEY (override_id, display_id)
);
CREATE INDEX override_deliveries_display ON override_deliveries(display_id);
CREATE TABLE audit_log (
	id TEXT PRIMARY KEY,
	org_id TEXT NOT NULL REFERENCES orgs(id),
	actor TEXT NOT NULL,
	token_id TEXT NOT NULL DEFAULT '',
	remote_addr TEXT NOT NULL DEFAULT '',
	action TEXT NOT NULL,
	subject TEXT NOT NULL DEFAULT '',
	details TEXT NOT NULL DEFAULT '',
	created_at TEXT NOT NULL
);
CREATE INDEX audit_log_org_time ON audit_log(org_id, created_at);
`,
	// 5: CAP messages accepted by the intake: the duplicate key and the
	// overrides each one made, so that Update and Cancel find them.
	`CREATE TABLE cap_messages (
	id TEXT PRIMARY KEY,
	org_id TEXT NOT NULL REFERENCES orgs(id),
	source TEXT NOT NULL,
	msg_key TEXT NOT NULL,
	status TEXT NOT NULL,
	msg_type TEXT NOT NULL,
	outcome TEXT NOT NULL,
	override_ids TEXT NOT NULL DEFAULT '[]',
	result TEXT NOT NULL DEFAULT '{}',
	received_by TEXT NOT NULL,
	received_from TEXT NOT NULL,
	created_at TEXT NOT NULL,
	UNIQUE (org_id, msg_key)
);`,
	// media library: tags on media items, and the indexes behind the
	// library's keyset pages (newest, name, size) and its kind and state
	// filters.
	`CREATE TABLE media_tags (
	media_id TEXT NOT NULL REFERENCES media(id) ON DELETE CASCADE,
	tag TEXT NOT NULL,
	PRIMARY KEY (media_id, tag)
);
CREATE INDEX media_tags_tag ON media_tags(tag, media_id);
CREATE INDEX media_org_created ON media(org_id, created_at, id);
CREATE INDEX media_org_name ON media(org_id, filename, id);
CREATE INDEX media_org_size ON media(org_id, size, id);`,
	// console-C: emergency override templates, seeded per organisation.
	templatesMigration(),
	// overrides: an organisation's display ids, in order, from the index
	// alone (a trigger to every display reads them: half the time at
	// 10,000 displays); it serves the org_id look-ups of the one it replaces.
	`DROP INDEX displays_org;
CREATE INDEX displays_org ON displays(org_id, id);`,
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
