package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Media statuses.
const (
	MediaProcessing = "processing"
	MediaReady      = "ready"
	MediaFailed     = "failed"
)

// Media is an uploaded original.
type Media struct {
	ID            string
	OrgID         string
	SHA256        string
	Filename      string
	ContentType   string
	Kind          string // image
	Size          int64
	Width, Height int
	Status        string
	Error         string
	CreatedAt     time.Time
	Probe         string  // JSON of the media probe (video and audio)
	DurationS     float64 // natural length of video and audio
}

// Rendition is a media item prepared for one panel profile.
type Rendition struct {
	MediaID       string
	Profile       string
	Width, Height int
	SHA256        string
	Size          int64
	ContentType   string
}

const mediaCols = `id, org_id, sha256, filename, content_type, kind, size, width, height, status, error, created_at, probe, duration_s`

func scanMedia(sc scanner) (Media, error) {
	var m Media
	var created sql.NullString
	err := sc.Scan(&m.ID, &m.OrgID, &m.SHA256, &m.Filename, &m.ContentType, &m.Kind, &m.Size, &m.Width, &m.Height, &m.Status, &m.Error, &created, &m.Probe, &m.DurationS)
	if errors.Is(err, sql.ErrNoRows) {
		return Media{}, ErrNotFound
	}
	m.CreatedAt = parseTS(created)
	return m, err
}

// CreateMedia adds a media item, or returns the organisation's existing item
// with the same bytes (created reports which).
func (s *Store) CreateMedia(ctx context.Context, m Media) (out Media, created bool, err error) {
	m.ID = NewID("med")
	m.CreatedAt = s.now()
	_, err = s.db.ExecContext(ctx, `INSERT INTO media (`+mediaCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		m.ID, m.OrgID, m.SHA256, m.Filename, m.ContentType, m.Kind, m.Size, m.Width, m.Height, m.Status, m.Error, ts(m.CreatedAt), m.Probe, m.DurationS)
	if isUnique(err) {
		existing, err := scanMedia(s.db.QueryRowContext(ctx, `SELECT `+mediaCols+` FROM media WHERE org_id = ? AND sha256 = ?`, m.OrgID, m.SHA256))
		return existing, false, err
	}
	if err != nil {
		return Media{}, false, fmt.Errorf("store: create media: %w", err)
	}
	return m, true, nil
}

// Media returns one item of an organisation.
func (s *Store) Media(ctx context.Context, orgID, id string) (Media, error) {
	return scanMedia(s.db.QueryRowContext(ctx, `SELECT `+mediaCols+` FROM media WHERE org_id = ? AND id = ?`, orgID, id))
}

// MediaList lists an organisation's items, newest first.
func (s *Store) MediaList(ctx context.Context, orgID string) ([]Media, error) {
	return queryAll(ctx, s.db, "media", scanMedia, `SELECT `+mediaCols+` FROM media WHERE org_id = ? ORDER BY created_at DESC, id`, orgID)
}

// SetMediaStatus records the outcome of processing.
func (s *Store) SetMediaStatus(ctx context.Context, id, status, msg string) error {
	_, err := s.db.ExecContext(ctx, `UPDATE media SET status = ?, error = ? WHERE id = ?`, status, msg, id)
	return err
}

// SetMediaSize records an item's intrinsic dimensions.
func (s *Store) SetMediaSize(ctx context.Context, id string, w, h int) error {
	_, err := s.db.ExecContext(ctx, `UPDATE media SET width = ?, height = ? WHERE id = ?`, w, h, id)
	return err
}

// PutRendition stores (or replaces) a rendition.
func (s *Store) PutRendition(ctx context.Context, r Rendition) error {
	_, err := s.db.ExecContext(ctx, `INSERT INTO renditions (media_id, profile, width, height, sha256, size, content_type, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (media_id, profile) DO UPDATE SET width = excluded.width, height = excluded.height, sha256 = excluded.sha256, size = excluded.size, content_type = excluded.content_type`,
		r.MediaID, r.Profile, r.Width, r.Height, r.SHA256, r.Size, r.ContentType, ts(s.now()))
	if err != nil {
		return fmt.Errorf("store: put rendition: %w", err)
	}
	return nil
}

// Renditions lists an item's renditions by profile.
func (s *Store) Renditions(ctx context.Context, mediaID string) ([]Rendition, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT media_id, profile, width, height, sha256, size, content_type FROM renditions WHERE media_id = ? ORDER BY profile`, mediaID)
	if err != nil {
		return nil, fmt.Errorf("store: list renditions: %w", err)
	}
	defer rows.Close()
	var out []Rendition
	for rows.Next() {
		var r Rendition
		if err := rows.Scan(&r.MediaID, &r.Profile, &r.Width, &r.Height, &r.SHA256, &r.Size, &r.ContentType); err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// OrgHasFile reports whether sha is an original or rendition of the
// organisation's media (the check behind serving a file to a player).
func (s *Store) OrgHasFile(ctx context.Context, orgID, sha string) (contentType string, ok bool, err error) {
	err = s.db.QueryRowContext(ctx, `SELECT r.content_type FROM renditions r JOIN media m ON m.id = r.media_id WHERE m.org_id = ? AND r.sha256 = ? LIMIT 1`, orgID, sha).Scan(&contentType)
	if errors.Is(err, sql.ErrNoRows) {
		return "", false, nil
	}
	if err != nil {
		return "", false, err
	}
	return contentType, true, nil
}

// MediaBySHA returns an organisation's item with these bytes.
func (s *Store) MediaBySHA(ctx context.Context, orgID, sha string) (Media, error) {
	return scanMedia(s.db.QueryRowContext(ctx, `SELECT `+mediaCols+` FROM media WHERE org_id = ? AND sha256 = ?`, orgID, sha))
}

// AnyMediaWithSHA reports whether any organisation holds these bytes.
func (s *Store) AnyMediaWithSHA(ctx context.Context, sha string) (bool, error) {
	var n int
	err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM media WHERE sha256 = ?`, sha).Scan(&n)
	return n > 0, err
}

// DeleteMedia removes an item with its renditions and jobs (ErrConflict
// while a playlist entry refers to it), and returns
// the files it held (its original and every rendition), read in the same
// transaction, so the caller can drop those nothing else holds.
func (s *Store) DeleteMedia(ctx context.Context, orgID, id string) (shas []string, err error) {
	err = s.tx(ctx, func(tx *sql.Tx) error {
		var orig string
		err := tx.QueryRowContext(ctx, `SELECT sha256 FROM media WHERE id = ? AND org_id = ?`, id, orgID).Scan(&orig)
		if errors.Is(err, sql.ErrNoRows) {
			return ErrNotFound
		}
		if err != nil {
			return err
		}
		shas = append(shas[:0], orig)
		rows, err := tx.QueryContext(ctx, `SELECT sha256 FROM renditions WHERE media_id = ?`, id)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var sha string
			if err := rows.Scan(&sha); err != nil {
				return err
			}
			shas = append(shas, sha)
		}
		if err := rows.Err(); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `DELETE FROM media WHERE id = ? AND org_id = ?`, id, orgID)
		if err != nil && strings.Contains(err.Error(), "FOREIGN KEY constraint failed") {
			return ErrConflict // a playlist entry refers to it
		}
		return err
	})
	if err != nil && !errors.Is(err, ErrNotFound) && !errors.Is(err, ErrConflict) {
		err = fmt.Errorf("store: delete media: %w", err)
	}
	return shas, err
}

// FileInUse reports whether any item of any organisation holds these bytes,
// as its original or as a rendition (files are shared by content).
func (s *Store) FileInUse(ctx context.Context, sha string) (bool, error) {
	var n int
	err := s.db.QueryRowContext(ctx, `SELECT (SELECT COUNT(*) FROM media WHERE sha256 = ?) + (SELECT COUNT(*) FROM renditions WHERE sha256 = ?)`, sha, sha).Scan(&n)
	return n > 0, err
}
