package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// Playlist is an ordered loop of media items.
type Playlist struct {
	ID        string
	OrgID     string
	Name      string
	Items     []PlaylistItem
	UpdatedAt time.Time
}

// PlaylistItem is one entry of a playlist.
type PlaylistItem struct {
	MediaID   string
	DurationS float64
}

// Schedule puts a playlist on a display (always on, for now).
type Schedule struct {
	ID         string
	OrgID      string
	DisplayID  string
	PlaylistID string
	CreatedAt  time.Time
}

// CreatePlaylist stores a playlist and its items.
func (s *Store) CreatePlaylist(ctx context.Context, p Playlist) (Playlist, error) {
	p.ID = NewID("pls")
	p.UpdatedAt = s.now()
	err := s.tx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO playlists (id, org_id, name, created_at, updated_at) VALUES (?, ?, ?, ?, ?)`,
			p.ID, p.OrgID, p.Name, ts(p.UpdatedAt), ts(p.UpdatedAt)); err != nil {
			return fmt.Errorf("store: create playlist: %w", err)
		}
		return insertItems(ctx, tx, p)
	})
	return p, err
}

// UpdatePlaylist replaces a playlist's name and items.
func (s *Store) UpdatePlaylist(ctx context.Context, p Playlist) (Playlist, error) {
	p.UpdatedAt = s.now()
	err := s.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE playlists SET name = ?, updated_at = ? WHERE id = ? AND org_id = ?`, p.Name, ts(p.UpdatedAt), p.ID, p.OrgID)
		if err != nil {
			return fmt.Errorf("store: update playlist: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return ErrNotFound
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM playlist_items WHERE playlist_id = ?`, p.ID); err != nil {
			return err
		}
		return insertItems(ctx, tx, p)
	})
	return p, err
}

func insertItems(ctx context.Context, tx *sql.Tx, p Playlist) error {
	for i, it := range p.Items {
		if _, err := tx.ExecContext(ctx, `INSERT INTO playlist_items (playlist_id, position, media_id, duration_s) VALUES (?, ?, ?, ?)`,
			p.ID, i, it.MediaID, it.DurationS); err != nil {
			return fmt.Errorf("store: playlist item %d: %w", i, err)
		}
	}
	return nil
}

// Playlist returns one playlist of an organisation with its items.
func (s *Store) Playlist(ctx context.Context, orgID, id string) (Playlist, error) {
	var p Playlist
	var updated sql.NullString
	err := s.db.QueryRowContext(ctx, `SELECT id, org_id, name, updated_at FROM playlists WHERE org_id = ? AND id = ?`, orgID, id).
		Scan(&p.ID, &p.OrgID, &p.Name, &updated)
	if errors.Is(err, sql.ErrNoRows) {
		return Playlist{}, ErrNotFound
	}
	if err != nil {
		return Playlist{}, err
	}
	p.UpdatedAt = parseTS(updated)
	rows, err := s.db.QueryContext(ctx, `SELECT media_id, duration_s FROM playlist_items WHERE playlist_id = ? ORDER BY position`, id)
	if err != nil {
		return Playlist{}, err
	}
	defer rows.Close()
	for rows.Next() {
		var it PlaylistItem
		if err := rows.Scan(&it.MediaID, &it.DurationS); err != nil {
			return Playlist{}, err
		}
		p.Items = append(p.Items, it)
	}
	return p, rows.Err()
}

// Playlists lists an organisation's playlists (without items).
func (s *Store) Playlists(ctx context.Context, orgID string) ([]Playlist, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT id, org_id, name, updated_at FROM playlists WHERE org_id = ? ORDER BY name, id`, orgID)
	if err != nil {
		return nil, fmt.Errorf("store: list playlists: %w", err)
	}
	defer rows.Close()
	var out []Playlist
	for rows.Next() {
		var p Playlist
		var updated sql.NullString
		if err := rows.Scan(&p.ID, &p.OrgID, &p.Name, &updated); err != nil {
			return nil, err
		}
		p.UpdatedAt = parseTS(updated)
		out = append(out, p)
	}
	return out, rows.Err()
}

// CreateSchedule assigns a playlist to a display.
func (s *Store) CreateSchedule(ctx context.Context, sc Schedule) (Schedule, error) {
	sc.ID = NewID("sch")
	sc.CreatedAt = s.now()
	_, err := s.db.ExecContext(ctx, `INSERT INTO schedules (id, org_id, display_id, playlist_id, created_at) VALUES (?, ?, ?, ?, ?)`,
		sc.ID, sc.OrgID, sc.DisplayID, sc.PlaylistID, ts(sc.CreatedAt))
	if err != nil {
		return Schedule{}, fmt.Errorf("store: create schedule: %w", err)
	}
	return sc, nil
}

// Schedules lists an organisation's schedules, newest first.
func (s *Store) Schedules(ctx context.Context, orgID string) ([]Schedule, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT id, org_id, display_id, playlist_id, created_at FROM schedules WHERE org_id = ? ORDER BY created_at DESC, id DESC`, orgID)
	if err != nil {
		return nil, fmt.Errorf("store: list schedules: %w", err)
	}
	defer rows.Close()
	var out []Schedule
	for rows.Next() {
		var sc Schedule
		var created sql.NullString
		if err := rows.Scan(&sc.ID, &sc.OrgID, &sc.DisplayID, &sc.PlaylistID, &created); err != nil {
			return nil, err
		}
		sc.CreatedAt = parseTS(created)
		out = append(out, sc)
	}
	return out, rows.Err()
}

// CurrentSchedule returns the newest schedule of a display, ErrNotFound if none.
func (s *Store) CurrentSchedule(ctx context.Context, displayID string) (Schedule, error) {
	var sc Schedule
	var created sql.NullString
	err := s.db.QueryRowContext(ctx, `SELECT id, org_id, display_id, playlist_id, created_at FROM schedules WHERE display_id = ? ORDER BY created_at DESC, rowid DESC LIMIT 1`, displayID).
		Scan(&sc.ID, &sc.OrgID, &sc.DisplayID, &sc.PlaylistID, &created)
	if errors.Is(err, sql.ErrNoRows) {
		return Schedule{}, ErrNotFound
	}
	sc.CreatedAt = parseTS(created)
	return sc, err
}
