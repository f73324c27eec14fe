package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// Cluster is a site (a square, a border gate) holding displays, with its
// time zone and operating hours.
type Cluster struct {
	ID        string
	OrgID     string
	Name      string
	Location  string
	Latitude  *float64
	Longitude *float64
	Timezone  string
	Hours     string // JSON []playlists.Window
	Holidays  string // JSON []playlists.Holiday
	CreatedAt time.Time
	UpdatedAt time.Time
}

const clusterCols = `id, org_id, name, location, latitude, longitude, timezone, hours, holidays, created_at, updated_at`

func scanCluster(sc scanner) (Cluster, error) {
	var c Cluster
	var lat, lon sql.NullFloat64
	var cr, up sql.NullString
	err := sc.Scan(&c.ID, &c.OrgID, &c.Name, &c.Location, &lat, &lon, &c.Timezone, &c.Hours, &c.Holidays, &cr, &up)
	if errors.Is(err, sql.ErrNoRows) {
		return Cluster{}, ErrNotFound
	}
	if err != nil {
		return Cluster{}, err
	}
	if lat.Valid {
		c.Latitude = &lat.Float64
	}
	if lon.Valid {
		c.Longitude = &lon.Float64
	}
	c.CreatedAt, c.UpdatedAt = parseTS(cr), parseTS(up)
	return c, nil
}

// CreateCluster adds a cluster.
func (s *Store) CreateCluster(ctx context.Context, c Cluster) (Cluster, error) {
	c.ID = NewID("cls")
	c.CreatedAt, c.UpdatedAt = s.now(), s.now()
	_, err := s.db.ExecContext(ctx, `INSERT INTO clusters (`+clusterCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		c.ID, c.OrgID, c.Name, c.Location, c.Latitude, c.Longitude, c.Timezone, c.Hours, c.Holidays, ts(c.CreatedAt), ts(c.UpdatedAt))
	if err != nil {
		return Cluster{}, fmt.Errorf("store: create cluster: %w", err)
	}
	return c, nil
}

// UpdateCluster replaces a cluster's fields.
func (s *Store) UpdateCluster(ctx context.Context, c Cluster) (Cluster, error) {
	res, err := s.db.ExecContext(ctx, `UPDATE clusters SET name = ?, location = ?, latitude = ?, longitude = ?, timezone = ?, hours = ?, holidays = ?, updated_at = ? WHERE id = ? AND org_id = ?`,
		c.Name, c.Location, c.Latitude, c.Longitude, c.Timezone, c.Hours, c.Holidays, ts(s.now()), c.ID, c.OrgID)
	if err != nil {
		return Cluster{}, fmt.Errorf("store: update cluster: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return Cluster{}, ErrNotFound
	}
	return s.Cluster(ctx, c.OrgID, c.ID)
}

// DeleteCluster removes a cluster; its displays leave it.
func (s *Store) DeleteCluster(ctx context.Context, orgID, id string) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `UPDATE displays SET cluster_id = NULL WHERE cluster_id = ? AND org_id = ?`, id, orgID); err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, `DELETE FROM clusters WHERE id = ? AND org_id = ?`, id, orgID)
		if err != nil {
			return fmt.Errorf("store: delete cluster: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return ErrNotFound
		}
		return nil
	})
}

// Cluster returns one cluster of an organisation.
func (s *Store) Cluster(ctx context.Context, orgID, id string) (Cluster, error) {
	return scanCluster(s.db.QueryRowContext(ctx, `SELECT `+clusterCols+` FROM clusters WHERE org_id = ? AND id = ?`, orgID, id))
}

// Clusters lists an organisation's clusters by name.
func (s *Store) Clusters(ctx context.Context, orgID string) ([]Cluster, error) {
	return queryAll(ctx, s.db, "clusters", scanCluster, `SELECT `+clusterCols+` FROM clusters WHERE org_id = ? ORDER BY name, id`, orgID)
}

// Play is one proof-of-play record.
type Play struct {
	DisplayID  string
	RecordID   string
	OrgID      string
	Zone       string
	ItemID     string
	SHA256     string
	ScheduleID string
	Start, End time.Time
}

// AddPlays stores proof-of-play records; records already stored (same
// display and record id) are ignored, so a resend never counts twice. It
// returns how many were new.
func (s *Store) AddPlays(ctx context.Context, plays []Play) (int, error) {
	added := 0
	err := s.tx(ctx, func(tx *sql.Tx) error {
		now := ts(s.now())
		for _, p := range plays {
			res, err := tx.ExecContext(ctx, `INSERT OR IGNORE INTO plays (display_id, record_id, org_id, zone, item_id, sha256, schedule_id, started_at, ended_at, received_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
				p.DisplayID, p.RecordID, p.OrgID, p.Zone, p.ItemID, p.SHA256, p.ScheduleID, ts(p.Start), ts(p.End), now)
			if err != nil {
				return fmt.Errorf("store: add play: %w", err)
			}
			n, _ := res.RowsAffected()
			added += int(n)
		}
		return nil
	})
	return added, err
}

// PlayKey is a play's place in the order Plays lists them.
type PlayKey struct {
	Start     time.Time
	Zone      string
	DisplayID string
	RecordID  string
}

// Key is the play's PlayKey.
func (p Play) Key() PlayKey {
	return PlayKey{Start: p.Start, Zone: p.Zone, DisplayID: p.DisplayID, RecordID: p.RecordID}
}

// Plays lists an organisation's plays in [from, to), optionally for one
// display, oldest first (by start, zone, display, record), at most limit
// of them, after the play after if it is not nil (the last of the
// previous page).
func (s *Store) Plays(ctx context.Context, orgID, displayID string, from, to time.Time, after *PlayKey, limit int) ([]Play, error) {
	q := `SELECT display_id, record_id, org_id, zone, item_id, sha256, schedule_id, started_at, ended_at FROM plays WHERE org_id = ? AND started_at >= ? AND started_at < ?`
	args := []any{orgID, ts(from), ts(to)}
	if displayID != "" {
		q += ` AND display_id = ?`
		args = append(args, displayID)
	}
	if after != nil {
		q += ` AND (started_at, zone, display_id, record_id) > (?, ?, ?, ?)`
		args = append(args, ts(after.Start), after.Zone, after.DisplayID, after.RecordID)
	}
	q += ` ORDER BY started_at, zone, display_id, record_id LIMIT ?`
	args = append(args, limit)
	rows, err := s.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("store: list plays: %w", err)
	}
	defer rows.Close()
	var out []Play
	for rows.Next() {
		var p Play
		var st, en sql.NullString
		if err := rows.Scan(&p.DisplayID, &p.RecordID, &p.OrgID, &p.Zone, &p.ItemID, &p.SHA256, &p.ScheduleID, &st, &en); err != nil {
			return nil, err
		}
		p.Start, p.End = parseTS(st), parseTS(en)
		out = append(out, p)
	}
	return out, rows.Err()
}
