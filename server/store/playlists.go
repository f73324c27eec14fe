package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// Playlist is an ordered loop of entries.
type Playlist struct {
	ID        string
	OrgID     string
	Name      string
	Options   string // JSON: shuffle, transition
	Items     []PlaylistItem
	UpdatedAt time.Time
}

// PlaylistItem is one entry of a playlist: a media file, an item, or a
// nested playlist.
type PlaylistItem struct {
	MediaID    string
	ItemID     string
	PlaylistID string
	DurationS  float64
}

// CreatePlaylist stores a playlist and its items.
func (s *Store) CreatePlaylist(ctx context.Context, p Playlist) (Playlist, error) {
	p.ID = NewID("pls")
	p.UpdatedAt = s.now()
	err := s.tx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO playlists (id, org_id, name, options, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?)`,
			p.ID, p.OrgID, p.Name, opts(p.Options), ts(p.UpdatedAt), ts(p.UpdatedAt)); err != nil {
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
		res, err := tx.ExecContext(ctx, `UPDATE playlists SET name = ?, options = ?, updated_at = ? WHERE id = ? AND org_id = ?`, p.Name, opts(p.Options), ts(p.UpdatedAt), p.ID, p.OrgID)
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
		if _, err := tx.ExecContext(ctx, `INSERT INTO playlist_items (playlist_id, position, media_id, item_id, child_playlist_id, duration_s) VALUES (?, ?, ?, ?, ?, ?)`,
			p.ID, i, nullable(it.MediaID), it.ItemID, it.PlaylistID, it.DurationS); err != nil {
			return fmt.Errorf("store: playlist item %d: %w", i, err)
		}
	}
	return nil
}

// Playlist returns one playlist of an organisation with its items.
func (s *Store) Playlist(ctx context.Context, orgID, id string) (Playlist, error) {
	var p Playlist
	var updated sql.NullString
	err := s.db.QueryRowContext(ctx, `SELECT id, org_id, name, options, updated_at FROM playlists WHERE org_id = ? AND id = ?`, orgID, id).
		Scan(&p.ID, &p.OrgID, &p.Name, &p.Options, &updated)
	if errors.Is(err, sql.ErrNoRows) {
		return Playlist{}, ErrNotFound
	}
	if err != nil {
		return Playlist{}, err
	}
	p.UpdatedAt = parseTS(updated)
	rows, err := s.db.QueryContext(ctx, `SELECT COALESCE(media_id, ''), item_id, child_playlist_id, duration_s FROM playlist_items WHERE playlist_id = ? ORDER BY position`, id)
	if err != nil {
		return Playlist{}, err
	}
	defer rows.Close()
	for rows.Next() {
		var it PlaylistItem
		if err := rows.Scan(&it.MediaID, &it.ItemID, &it.PlaylistID, &it.DurationS); err != nil {
			return Playlist{}, err
		}
		p.Items = append(p.Items, it)
	}
	return p, rows.Err()
}

// Playlists lists an organisation's playlists (without items).
func (s *Store) Playlists(ctx context.Context, orgID string) ([]Playlist, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT id, org_id, name, options, updated_at FROM playlists WHERE org_id = ? ORDER BY name, id`, orgID)
	if err != nil {
		return nil, fmt.Errorf("store: list playlists: %w", err)
	}
	defer rows.Close()
	var out []Playlist
	for rows.Next() {
		var p Playlist
		var updated sql.NullString
		if err := rows.Scan(&p.ID, &p.OrgID, &p.Name, &p.Options, &updated); err != nil {
			return nil, err
		}
		p.UpdatedAt = parseTS(updated)
		out = append(out, p)
	}
	return out, rows.Err()
}

func opts(s string) string {
	if s == "" {
		return "{}"
	}
	return s
}

// DeletePlaylist removes a playlist.
func (s *Store) DeletePlaylist(ctx context.Context, orgID, id string) error {
	res, err := s.db.ExecContext(ctx, `DELETE FROM playlists WHERE id = ? AND org_id = ?`, id, orgID)
	if err != nil {
		return fmt.Errorf("store: delete playlist: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return ErrNotFound
	}
	return nil
}

// PlaylistsFull lists an organisation's playlists with their entries.
func (s *Store) PlaylistsFull(ctx context.Context, orgID string) ([]Playlist, error) {
	list, err := s.Playlists(ctx, orgID)
	if err != nil {
		return nil, err
	}
	for i := range list {
		p, err := s.Playlist(ctx, orgID, list[i].ID)
		if err != nil {
			return nil, err
		}
		list[i] = p
	}
	return list, nil
}
