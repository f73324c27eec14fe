package store

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
)

// Media library queries: one page of an organisation's media costs a
// fixed number of statements whatever the library's size (the page, its
// total, the page's renditions, the page's tags).

// Sort orders of a media page.
const (
	SortCreated = "created"
	SortName    = "name"
	SortSize    = "size"
)

// MediaQuery selects one page of an organisation's media.
type MediaQuery struct {
	OrgID  string
	Search string // part of the file name (ASCII letters match either case)
	Kind   string // image, video, audio ("": any)
	Status string // processing, ready, failed ("": any)
	Tag    string // carries this tag ("": any)
	Sort   string // SortCreated (default), SortName, SortSize
	Desc   bool
	// After is the place of the previous page's last item (nil: first page).
	After *MediaKey
	Limit int
}

// MediaKey is an item's place in a page order: the sort column's value and
// its id (which breaks ties).
type MediaKey struct {
	Text string // created_at or filename
	Num  int64  // size
	ID   string
}

// KeyOf returns m's place in the order of sort.
func KeyOf(m Media, sort string) MediaKey {
	switch sort {
	case SortName:
		return MediaKey{Text: m.Filename, ID: m.ID}
	case SortSize:
		return MediaKey{Num: m.Size, ID: m.ID}
	}
	return MediaKey{Text: ts(m.CreatedAt), ID: m.ID}
}

// MediaPage is one page with what the list shows of each item.
type MediaPage struct {
	Items      []Media
	Total      int // items matching the filters, on every page
	Renditions map[string][]Rendition
	Tags       map[string][]string
}

func likeEscape(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)
	return "%" + r.Replace(s) + "%"
}

// MediaPage returns one page of q's items in its order, with the number
// of items that match, and the page's renditions and tags: four
// statements, however many items the organisation holds.
func (s *Store) MediaPage(ctx context.Context, q MediaQuery) (MediaPage, error) {
	where := []string{"m.org_id = ?"}
	args := []any{q.OrgID}
	if q.Kind != "" {
		where, args = append(where, "m.kind = ?"), append(args, q.Kind)
	}
	if q.Status != "" {
		where, args = append(where, "m.status = ?"), append(args, q.Status)
	}
	if q.Search != "" {
		where, args = append(where, `m.filename LIKE ? ESCAPE '\'`), append(args, likeEscape(q.Search))
	}
	if q.Tag != "" {
		where, args = append(where, "EXISTS (SELECT 1 FROM media_tags t WHERE t.media_id = m.id AND t.tag = ?)"), append(args, q.Tag)
	}
	filter := strings.Join(where, " AND ")
	var page MediaPage
	if err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM media m WHERE `+filter, args...).Scan(&page.Total); err != nil {
		return page, fmt.Errorf("store: count media: %w", err)
	}
	col := "m.created_at"
	switch q.Sort {
	case SortName:
		col = "m.filename"
	case SortSize:
		col = "m.size"
	}
	dir, cmp := "ASC", ">"
	if q.Desc {
		dir, cmp = "DESC", "<"
	}
	if q.After != nil {
		var v any = q.After.Text
		if q.Sort == SortSize {
			v = q.After.Num
		}
		filter += " AND (" + col + ", m.id) " + cmp + " (?, ?)"
		args = append(args, v, q.After.ID)
	}
	limit := q.Limit
	if limit <= 0 {
		limit = 100
	}
	args = append(args, limit)
	items, err := queryAll(ctx, s.db, "media", scanMedia, `SELECT `+prefixed("m.", mediaCols)+` FROM media m WHERE `+filter+
		` ORDER BY `+col+` `+dir+`, m.id `+dir+` LIMIT ?`, args...)
	if err != nil {
		return page, err
	}
	page.Items = items
	ids := make([]string, len(items))
	for i, m := range items {
		ids[i] = m.ID
	}
	if page.Renditions, err = s.RenditionsOf(ctx, ids); err != nil {
		return page, err
	}
	if page.Tags, err = s.TagsOf(ctx, ids); err != nil {
		return page, err
	}
	return page, nil
}

func prefixed(p, cols string) string {
	parts := strings.Split(cols, ", ")
	for i := range parts {
		parts[i] = p + parts[i]
	}
	return strings.Join(parts, ", ")
}

// inList is "?, ?, …" for n values, with the values as arguments.
func inList(ids []string) (string, []any) {
	args := make([]any, len(ids))
	for i, id := range ids {
		args[i] = id
	}
	return strings.TrimSuffix(strings.Repeat("?, ", len(ids)), ", "), args
}

// RenditionsOf returns the renditions of the given items by item id, in
// one statement.
func (s *Store) RenditionsOf(ctx context.Context, ids []string) (map[string][]Rendition, error) {
	out := make(map[string][]Rendition, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	ph, args := inList(ids)
	return out, s.scanRenditions(ctx, out, `SELECT media_id, profile, width, height, sha256, size, content_type FROM renditions WHERE media_id IN (`+ph+`) ORDER BY media_id, profile`, args...)
}

// OrgRenditions returns every rendition of an organisation's media by item
// id, in one statement.
func (s *Store) OrgRenditions(ctx context.Context, orgID string) (map[string][]Rendition, error) {
	out := map[string][]Rendition{}
	return out, s.scanRenditions(ctx, out, `SELECT r.media_id, r.profile, r.width, r.height, r.sha256, r.size, r.content_type FROM renditions r
		JOIN media m ON m.id = r.media_id WHERE m.org_id = ? ORDER BY r.media_id, r.profile`, orgID)
}

func (s *Store) scanRenditions(ctx context.Context, out map[string][]Rendition, q string, args ...any) error {
	rows, err := s.db.QueryContext(ctx, q, args...)
	if err != nil {
		return fmt.Errorf("store: list renditions: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var r Rendition
		if err := rows.Scan(&r.MediaID, &r.Profile, &r.Width, &r.Height, &r.SHA256, &r.Size, &r.ContentType); err != nil {
			return err
		}
		out[r.MediaID] = append(out[r.MediaID], r)
	}
	return rows.Err()
}

// TagsOf returns the tags of the given items by item id, sorted, in one
// statement.
func (s *Store) TagsOf(ctx context.Context, ids []string) (map[string][]string, error) {
	out := make(map[string][]string, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	ph, args := inList(ids)
	rows, err := s.db.QueryContext(ctx, `SELECT media_id, tag FROM media_tags WHERE media_id IN (`+ph+`) ORDER BY media_id, tag`, args...)
	if err != nil {
		return nil, fmt.Errorf("store: list media tags: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id, tag string
		if err := rows.Scan(&id, &tag); err != nil {
			return nil, err
		}
		out[id] = append(out[id], tag)
	}
	return out, rows.Err()
}

// TagCount is a tag and how many of an organisation's items carry it.
type TagCount struct {
	Tag   string
	Count int
}

// MediaTags lists the tags used in an organisation's library with their
// counts, by tag.
func (s *Store) MediaTags(ctx context.Context, orgID string) ([]TagCount, error) {
	return queryAll(ctx, s.db, "media tags", func(sc scanner) (TagCount, error) {
		var tc TagCount
		return tc, sc.Scan(&tc.Tag, &tc.Count)
	}, `SELECT t.tag, COUNT(*) FROM media_tags t JOIN media m ON m.id = t.media_id WHERE m.org_id = ? GROUP BY t.tag ORDER BY t.tag`, orgID)
}

// MediaOf returns those of ids that are the organisation's items, by id.
func (s *Store) MediaOf(ctx context.Context, orgID string, ids []string) (map[string]Media, error) {
	out := make(map[string]Media, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	ph, args := inList(ids)
	list, err := queryAll(ctx, s.db, "media", scanMedia, `SELECT `+mediaCols+` FROM media WHERE org_id = ? AND id IN (`+ph+`)`, append([]any{orgID}, args...)...)
	for _, m := range list {
		out[m.ID] = m
	}
	return out, err
}

// TagMedia adds tags to (or, with remove, takes them from) the
// organisation's items ids, in one transaction; ids of other organisations
// are left alone.
func (s *Store) TagMedia(ctx context.Context, orgID string, ids, tags []string, remove bool) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		q := `INSERT OR IGNORE INTO media_tags (media_id, tag) SELECT id, ? FROM media WHERE org_id = ? AND id = ?`
		if remove {
			q = `DELETE FROM media_tags WHERE tag = ? AND media_id = (SELECT id FROM media WHERE org_id = ? AND id = ?)`
		}
		st, err := tx.PrepareContext(ctx, q)
		if err != nil {
			return fmt.Errorf("store: tag media: %w", err)
		}
		defer st.Close()
		for _, id := range ids {
			for _, tag := range tags {
				if _, err := st.ExecContext(ctx, tag, orgID, id); err != nil {
					return fmt.Errorf("store: tag media: %w", err)
				}
			}
		}
		return nil
	})
}
