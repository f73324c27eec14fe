package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Display is a paired screen.
type Display struct {
	ID              string
	OrgID           string
	Name            string
	PublicKey       []byte
	Width, Height   int
	Fit             string
	Background      string
	ManifestVersion int64
	ManifestHash    string
	AckedVersion    int64
	State           string
	NowPlaying      string // JSON of protocol.NowPlaying, "" if nothing
	LastSeenAt      time.Time
	CreatedAt       time.Time
	ClusterID       string
	Tags            []string
	Languages       []string
	MaxFPS          float64
	MaxBitrate      int
	H264Profile     string
	H264Level       string
	// Latitude and Longitude place the display (WGS 84 degrees) for
	// overrides that target an area; nil when unknown.
	Latitude, Longitude *float64
}

const displayCols = `id, org_id, name, public_key, width, height, fit, background, manifest_version, manifest_hash, acked_version, state, now_playing, last_seen_at, created_at, cluster_id, tags, languages, max_fps, max_bitrate, h264_profile, h264_level, latitude, longitude`

func scanDisplay(sc scanner) (Display, error) {
	var d Display
	var seen, created, cluster sql.NullString
	var tags, langs string
	var lat, lon sql.NullFloat64
	err := sc.Scan(&d.ID, &d.OrgID, &d.Name, &d.PublicKey, &d.Width, &d.Height, &d.Fit, &d.Background,
		&d.ManifestVersion, &d.ManifestHash, &d.AckedVersion, &d.State, &d.NowPlaying, &seen, &created,
		&cluster, &tags, &langs, &d.MaxFPS, &d.MaxBitrate, &d.H264Profile, &d.H264Level, &lat, &lon)
	if errors.Is(err, sql.ErrNoRows) {
		return Display{}, ErrNotFound
	}
	if err != nil {
		return Display{}, err
	}
	d.LastSeenAt, d.CreatedAt = parseTS(seen), parseTS(created)
	d.ClusterID = cluster.String
	if lat.Valid && lon.Valid {
		d.Latitude, d.Longitude = &lat.Float64, &lon.Float64
	}
	_ = json.Unmarshal([]byte(tags), &d.Tags)
	_ = json.Unmarshal([]byte(langs), &d.Languages)
	return d, nil
}

func jsonList(v []string) string {
	if v == nil {
		v = []string{}
	}
	b, _ := json.Marshal(v)
	return string(b)
}

func nullFloat(f *float64) any {
	if f == nil {
		return nil
	}
	return *f
}

func nullable(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// UpdateDisplay replaces a display's settings (name, panel, cluster, tags,
// languages, video profile).
func (s *Store) UpdateDisplay(ctx context.Context, d Display) (Display, error) {
	res, err := s.db.ExecContext(ctx, `UPDATE displays SET name = ?, width = ?, height = ?, fit = ?, background = ?, cluster_id = ?, tags = ?, languages = ?,
		max_fps = ?, max_bitrate = ?, h264_profile = ?, h264_level = ?, latitude = ?, longitude = ? WHERE id = ? AND org_id = ?`,
		d.Name, d.Width, d.Height, d.Fit, d.Background, nullable(d.ClusterID), jsonList(d.Tags), jsonList(d.Languages),
		d.MaxFPS, d.MaxBitrate, d.H264Profile, d.H264Level, nullFloat(d.Latitude), nullFloat(d.Longitude), d.ID, d.OrgID)
	if err != nil {
		return Display{}, fmt.Errorf("store: update display: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return Display{}, ErrNotFound
	}
	return s.Display(ctx, d.OrgID, d.ID)
}

// DeleteDisplay removes a display; its player must pair again.
func (s *Store) DeleteDisplay(ctx context.Context, orgID, id string) error {
	res, err := s.db.ExecContext(ctx, `DELETE FROM displays WHERE id = ? AND org_id = ?`, id, orgID)
	if err != nil {
		return fmt.Errorf("store: delete display: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return ErrNotFound
	}
	return nil
}

// CreateDisplay registers a paired display.
func (s *Store) CreateDisplay(ctx context.Context, d Display) (Display, error) {
	d.ID = NewID("dsp")
	d.CreatedAt = s.now()
	if d.MaxFPS == 0 {
		d.MaxFPS = 30
	}
	if d.H264Profile == "" {
		d.H264Profile = "high"
	}
	_, err := s.db.ExecContext(ctx, `INSERT INTO displays (id, org_id, name, public_key, width, height, fit, background, created_at, cluster_id, tags, languages, max_fps, max_bitrate, h264_profile, h264_level, latitude, longitude)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		d.ID, d.OrgID, d.Name, d.PublicKey, d.Width, d.Height, d.Fit, d.Background, ts(d.CreatedAt),
		nullable(d.ClusterID), jsonList(d.Tags), jsonList(d.Languages), d.MaxFPS, d.MaxBitrate, d.H264Profile, d.H264Level,
		nullFloat(d.Latitude), nullFloat(d.Longitude))
	if isUnique(err) {
		return Display{}, fmt.Errorf("a display with this player key: %w", ErrConflict)
	}
	if err != nil {
		return Display{}, fmt.Errorf("store: create display: %w", err)
	}
	return d, nil
}

// Display returns one display of an organisation.
func (s *Store) Display(ctx context.Context, orgID, id string) (Display, error) {
	return scanDisplay(s.db.QueryRowContext(ctx, `SELECT `+displayCols+` FROM displays WHERE org_id = ? AND id = ?`, orgID, id))
}

// DisplayByID returns a display whatever its organisation (player sessions).
func (s *Store) DisplayByID(ctx context.Context, id string) (Display, error) {
	return scanDisplay(s.db.QueryRowContext(ctx, `SELECT `+displayCols+` FROM displays WHERE id = ?`, id))
}

// DisplayByKey finds the display a player key belongs to.
func (s *Store) DisplayByKey(ctx context.Context, pub []byte) (Display, error) {
	return scanDisplay(s.db.QueryRowContext(ctx, `SELECT `+displayCols+` FROM displays WHERE public_key = ?`, pub))
}

// Displays lists an organisation's displays by name.
func (s *Store) Displays(ctx context.Context, orgID string) ([]Display, error) {
	return queryAll(ctx, s.db, "displays", scanDisplay, `SELECT `+displayCols+` FROM displays WHERE org_id = ? ORDER BY name, id`, orgID)
}

// DisplayIDs lists the ids of an organisation's displays, sorted (every
// display of it, without reading whole rows).
func (s *Store) DisplayIDs(ctx context.Context, orgID string) ([]string, error) {
	return queryAll(ctx, s.db, "display ids", func(sc scanner) (string, error) {
		var id string
		return id, sc.Scan(&id)
	}, `SELECT id FROM displays WHERE org_id = ? ORDER BY id`, orgID)
}

// SignedManifest is the last manifest compiled for a display.
type SignedManifest struct {
	Version   int64
	Hash      string
	Payload   []byte
	Signature []byte
}

// DisplayManifest returns the display's stored manifest (Version 0 if none).
func (s *Store) DisplayManifest(ctx context.Context, id string) (SignedManifest, error) {
	var m SignedManifest
	err := s.db.QueryRowContext(ctx, `SELECT manifest_version, manifest_hash, manifest_payload, manifest_signature FROM displays WHERE id = ?`, id).
		Scan(&m.Version, &m.Hash, &m.Payload, &m.Signature)
	if errors.Is(err, sql.ErrNoRows) {
		return m, ErrNotFound
	}
	return m, err
}

// SaveManifest stores a newly compiled manifest if its version is the next
// one; it reports false if another writer got there first.
func (s *Store) SaveManifest(ctx context.Context, id string, m SignedManifest) (bool, error) {
	res, err := s.db.ExecContext(ctx, `UPDATE displays SET manifest_version = ?, manifest_hash = ?, manifest_payload = ?, manifest_signature = ? WHERE id = ? AND manifest_version = ?`,
		m.Version, m.Hash, m.Payload, m.Signature, id, m.Version-1)
	if err != nil {
		return false, fmt.Errorf("store: save manifest: %w", err)
	}
	n, _ := res.RowsAffected()
	return n == 1, nil
}

// DisplayStatus is what a player reports about itself.
type DisplayStatus struct {
	State        string
	NowPlaying   string
	AckedVersion int64 // 0 leaves it unchanged
	SeenAt       time.Time
}

// UpdateDisplayStatus records a heartbeat or an ack.
func (s *Store) UpdateDisplayStatus(ctx context.Context, id string, st DisplayStatus) error {
	_, err := s.db.ExecContext(ctx, `UPDATE displays SET
		state = CASE WHEN ? = '' THEN state ELSE ? END,
		now_playing = CASE WHEN ? = '' THEN now_playing ELSE ? END,
		acked_version = MAX(acked_version, ?),
		last_seen_at = ?
		WHERE id = ?`, st.State, st.State, st.NowPlaying, st.NowPlaying, st.AckedVersion, ts(st.SeenAt), id)
	if err != nil {
		return fmt.Errorf("store: update display status: %w", err)
	}
	return nil
}

// UpdateDisplayStatuses records many heartbeats in one transaction (the
// hub flushes them in batches, not one write per beat).
func (s *Store) UpdateDisplayStatuses(ctx context.Context, sts map[string]DisplayStatus) error {
	if len(sts) == 0 {
		return nil
	}
	return s.tx(ctx, func(tx *sql.Tx) error {
		stmt, err := tx.PrepareContext(ctx, `UPDATE displays SET
		state = CASE WHEN ? = '' THEN state ELSE ? END,
		now_playing = CASE WHEN ? = '' THEN now_playing ELSE ? END,
		acked_version = MAX(acked_version, ?),
		last_seen_at = ?
		WHERE id = ?`)
		if err != nil {
			return fmt.Errorf("store: update display statuses: %w", err)
		}
		defer stmt.Close()
		for id, st := range sts {
			if _, err := stmt.ExecContext(ctx, st.State, st.State, st.NowPlaying, st.NowPlaying, st.AckedVersion, ts(st.SeenAt), id); err != nil {
				return fmt.Errorf("store: update display statuses: %w", err)
			}
		}
		return nil
	})
}

// CreateDisplayToken stores the hash of a player session token.
func (s *Store) CreateDisplayToken(ctx context.Context, displayID, hash string) error {
	_, err := s.db.ExecContext(ctx, `INSERT INTO display_tokens (hash, display_id, created_at) VALUES (?, ?, ?)`, hash, displayID, ts(s.now()))
	if err != nil {
		return fmt.Errorf("store: create display token: %w", err)
	}
	return nil
}

// DisplayByToken finds the display a player session token belongs to.
func (s *Store) DisplayByToken(ctx context.Context, hash string) (Display, error) {
	return scanDisplay(s.db.QueryRowContext(ctx, `SELECT `+"d."+strings.ReplaceAll(displayCols, ", ", ", d.")+` FROM displays d JOIN display_tokens t ON t.display_id = d.id WHERE t.hash = ?`, hash))
}

// DeleteDisplayToken revokes a player session token.
func (s *Store) DeleteDisplayToken(ctx context.Context, hash string) error {
	_, err := s.db.ExecContext(ctx, `DELETE FROM display_tokens WHERE hash = ?`, hash)
	return err
}

// Incident is a security incident reported by a player.
type Incident struct {
	ID              string
	OrgID           string
	DisplayID       string
	Kind            string
	Message         string
	SHA256          string
	ManifestVersion int64
	CreatedAt       time.Time
}

// IncidentDedupWindow is how long an incident is remembered for
// deduplication: a player re-sends an incident whose ack it did not get
// (with a new envelope id, after reconnecting), so the same report from
// the same display within this window is stored once.
const IncidentDedupWindow = 24 * time.Hour

// CreateIncident records an incident. An incident with the same content
// key (display, kind, message, sha256, manifest version) as one stored
// within IncidentDedupWindow is a re-send: nothing is stored, and the
// result has created false and the stored incident's id.
func (s *Store) CreateIncident(ctx context.Context, in Incident) (stored Incident, created bool, err error) {
	in.ID = NewID("inc")
	in.CreatedAt = s.now()
	res, err := s.db.ExecContext(ctx, `INSERT INTO incidents (id, org_id, display_id, kind, message, sha256, manifest_version, created_at)
SELECT ?, ?, ?, ?, ?, ?, ?, ? WHERE NOT EXISTS (SELECT 1 FROM incidents WHERE display_id = ? AND kind = ? AND message = ? AND sha256 = ? AND manifest_version = ? AND created_at >= ?)`,
		in.ID, in.OrgID, in.DisplayID, in.Kind, in.Message, in.SHA256, in.ManifestVersion, ts(in.CreatedAt),
		in.DisplayID, in.Kind, in.Message, in.SHA256, in.ManifestVersion, ts(in.CreatedAt.Add(-IncidentDedupWindow)))
	if err != nil {
		return Incident{}, false, fmt.Errorf("store: create incident: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 1 {
		return in, true, nil
	}
	var at sql.NullString
	err = s.db.QueryRowContext(ctx, `SELECT id, created_at FROM incidents WHERE display_id = ? AND kind = ? AND message = ? AND sha256 = ? AND manifest_version = ? ORDER BY created_at DESC LIMIT 1`,
		in.DisplayID, in.Kind, in.Message, in.SHA256, in.ManifestVersion).Scan(&in.ID, &at)
	if err != nil {
		return Incident{}, false, fmt.Errorf("store: find incident: %w", err)
	}
	in.CreatedAt = parseTS(at)
	return in, false, nil
}

// Incidents lists an organisation's incidents, newest first.
func (s *Store) Incidents(ctx context.Context, orgID string, limit int) ([]Incident, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT id, org_id, display_id, kind, message, sha256, manifest_version, created_at FROM incidents WHERE org_id = ? ORDER BY created_at DESC LIMIT ?`, orgID, limit)
	if err != nil {
		return nil, fmt.Errorf("store: list incidents: %w", err)
	}
	defer rows.Close()
	var out []Incident
	for rows.Next() {
		var in Incident
		var created sql.NullString
		if err := rows.Scan(&in.ID, &in.OrgID, &in.DisplayID, &in.Kind, &in.Message, &in.SHA256, &in.ManifestVersion, &created); err != nil {
			return nil, err
		}
		in.CreatedAt = parseTS(created)
		out = append(out, in)
	}
	return out, rows.Err()
}

// RevokeAllDisplayTokens removes every player session token. A starting
// server calls it: no session of a previous run (ended cleanly or killed)
// is still open, so none of their tokens may still download.
func (s *Store) RevokeAllDisplayTokens(ctx context.Context) (int64, error) {
	res, err := s.db.ExecContext(ctx, `DELETE FROM display_tokens`)
	if err != nil {
		return 0, fmt.Errorf("store: revoke display tokens: %w", err)
	}
	return res.RowsAffected()
}
