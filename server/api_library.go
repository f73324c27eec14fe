package server

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"beacon/playlists"
	"beacon/server/store"
)

// The media library: GET /api/v1/media pages, filters and sorts in the
// store (a page costs four statements whatever the library's size), tags,
// bulk actions with a result per item, and where an item is used.

// mediaCursor is the opaque cursor of a media page: the order it belongs
// to and the last item's place in it.
type mediaCursor struct {
	Sort string `json:"s"`
	Desc bool   `json:"d,omitempty"`
	Text string `json:"t,omitempty"`
	Num  int64  `json:"n,omitempty"`
	ID   string `json:"i"`
}

var (
	mediaStatuses = map[string]bool{store.MediaProcessing: true, store.MediaReady: true, store.MediaFailed: true}
	mediaSorts    = map[string]bool{store.SortCreated: true, store.SortName: true, store.SortSize: true}
)

// mediaQuery reads a media list request: q (part of the file name),
// kind, status, tag, sort (created, name or size; "-" before it for
// descending; default -created), limit and cursor.
func mediaQuery(c *fiber.Ctx, org string) (store.MediaQuery, error) {
	q := store.MediaQuery{OrgID: org, Search: strings.TrimSpace(c.Query("q")), Kind: c.Query("kind"), Status: c.Query("status"), Tag: c.Query("tag")}
	if err := checkLen("q", q.Search, maxNameLen); err != nil {
		return q, err
	}
	if q.Kind != "" && !mediaKinds[playlists.Kind(q.Kind)] {
		return q, invalid("kind must be image, video or audio")
	}
	if q.Status != "" && !mediaStatuses[q.Status] {
		return q, invalid("status must be processing, ready or failed")
	}
	if q.Tag != "" {
		if err := checkShort("tag", q.Tag); err != nil {
			return q, err
		}
	}
	sort := c.Query("sort", "-"+store.SortCreated)
	q.Desc = strings.HasPrefix(sort, "-")
	q.Sort = strings.TrimPrefix(sort, "-")
	if !mediaSorts[q.Sort] {
		return q, invalid("sort must be created, name or size, with - before it for descending order (e.g. -created)")
	}
	q.Limit = c.QueryInt("limit", defaultPageSize)
	if q.Limit < 1 || q.Limit > maxPageSize {
		return q, invalid(fmt.Sprintf("limit must be between 1 and %d", maxPageSize))
	}
	if cur := c.Query("cursor"); cur != "" {
		var mc mediaCursor
		b, err := base64.RawURLEncoding.DecodeString(cur)
		if err != nil || json.Unmarshal(b, &mc) != nil || mc.ID == "" {
			return q, invalid("cursor is not one this server gave (use next_cursor as it came)")
		}
		if mc.Sort != q.Sort || mc.Desc != q.Desc {
			return q, invalid("cursor belongs to another sort order: start again without it")
		}
		q.After = &store.MediaKey{Text: mc.Text, Num: mc.Num, ID: mc.ID}
	}
	return q, nil
}

// listMedia answers one page of the library with the total matching the
// filters; each item carries its renditions and tags.
func (s *Server) listMedia(c *fiber.Ctx) error {
	q, err := mediaQuery(c, who(c).OrgID)
	if err != nil {
		return err
	}
	ctx, cancel := s.timeout()
	defer cancel()
	// One more than asked tells whether another page follows.
	want := q.Limit
	q.Limit++
	page, err := s.store.MediaPage(ctx, q)
	if err != nil {
		return err
	}
	next := ""
	if len(page.Items) > want {
		page.Items = page.Items[:want]
		k := store.KeyOf(page.Items[want-1], q.Sort)
		b, _ := json.Marshal(mediaCursor{Sort: q.Sort, Desc: q.Desc, Text: k.Text, Num: k.Num, ID: k.ID})
		next = base64.RawURLEncoding.EncodeToString(b)
	}
	out := make([]mediaView, len(page.Items))
	for i, m := range page.Items {
		out[i] = s.mediaView(m, page.Renditions[m.ID])
		out[i].Tags = nonNil(page.Tags[m.ID])
	}
	return c.JSON(fiber.Map{"media": out, "total": page.Total, "next_cursor": next})
}

// listMediaTags answers the tags of the library with how many items carry
// each (the library's tag filter).
func (s *Server) listMediaTags(c *fiber.Ctx) error {
	ctx, cancel := s.timeout()
	defer cancel()
	tags, err := s.store.MediaTags(ctx, who(c).OrgID)
	if err != nil {
		return err
	}
	type tagView struct {
		Tag   string `json:"tag"`
		Count int    `json:"count"`
	}
	out := make([]tagView, len(tags))
	for i, t := range tags {
		out[i] = tagView{t.Tag, t.Count}
	}
	return c.JSON(fiber.Map{"tags": out})
}

// usage is one place that refers to a media item.
type usage struct {
	Kind string `json:"kind"` // playlist, item, layout, schedule
	ID   string `json:"id"`
	Name string `json:"name"`
}

// usesOf lists what refers to id (a media item, item, playlist or layout)
// in an organisation's content.
func usesOf(oc *orgContent, id string) []usage {
	var out []usage
	for _, pid := range sortedKeys(oc.playlists) {
		p := oc.playlists[pid]
		for _, e := range p.Items {
			if e.ItemID == id || e.PlaylistID == id || e.MediaID == id {
				out = append(out, usage{"playlist", p.ID, p.Name})
				break
			}
		}
	}
	for _, itemID := range sortedKeys(oc.items) {
		it := oc.items[itemID]
		for _, lang := range sortedKeys(it.Variants) {
			if it.Variants[lang].MediaID == id {
				name := it.Name
				if name == "" {
					name = string(it.Kind)
				}
				out = append(out, usage{"item", itemID, name})
				break
			}
		}
	}
	for _, lid := range sortedKeys(oc.layoutPlaylists) {
		for _, pl := range oc.layoutPlaylists[lid] {
			if pl == id {
				out = append(out, usage{"layout", lid, oc.layouts[lid].Name})
				break
			}
		}
	}
	for _, sc := range oc.schedules {
		uses := sc.Content.PlaylistID == id || sc.Content.LayoutID == id
		for _, p := range sc.Content.Zones {
			uses = uses || p == id
		}
		if uses {
			out = append(out, usage{"schedule", sc.ID, sc.Name})
		}
	}
	return out
}

// mediaUsage answers where an item is used (playlists, items, schedules);
// an item used nowhere may be deleted.
func (s *Server) mediaUsage(c *fiber.Ctx) error {
	ctx, cancel := s.timeout()
	defer cancel()
	org := who(c).OrgID
	if _, err := s.store.Media(ctx, org, c.Params("id")); err != nil {
		return err
	}
	oc, err := s.loadOrgContent(ctx, org)
	if err != nil {
		return err
	}
	used := usesOf(oc, c.Params("id"))
	if used == nil {
		used = []usage{}
	}
	return c.JSON(fiber.Map{"used_by": used, "deletable": len(used) == 0})
}

// Bulk actions on a selection of the library.
const maxBulk = 1000

type bulkRequest struct {
	Action     string   `json:"action"` // tag, untag, delete, add_to_playlist
	IDs        []string `json:"ids"`
	Tags       []string `json:"tags"`
	PlaylistID string   `json:"playlist_id"`
	DurationS  float64  `json:"duration_s"`
}

type bulkResult struct {
	ID    string     `json:"id"`
	OK    bool       `json:"ok"`
	Error *errorJSON `json:"error,omitempty"`
}

type errorJSON struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

func resultOf(id string, err error) bulkResult {
	if err == nil {
		return bulkResult{ID: id, OK: true}
	}
	var ae *apiError
	switch {
	case errors.As(err, &ae):
		return bulkResult{ID: id, Error: &errorJSON{ae.Code, ae.Message}}
	case errors.Is(err, store.ErrNotFound):
		return bulkResult{ID: id, Error: &errorJSON{"not_found", "no such media item: " + id}}
	}
	return bulkResult{ID: id, Error: &errorJSON{"internal", "internal server error"}}
}

// bulkMedia applies one action to a selection and answers 200 with a
// result per item (ok, or the error that item met); the request as a
// whole fails only when it is malformed.
func (s *Server) bulkMedia(c *fiber.Ctx) error {
	var req bulkRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	if len(req.IDs) == 0 {
		return invalid("ids must name at least one media item")
	}
	if err := checkCount("ids", len(req.IDs), maxBulk); err != nil {
		return err
	}
	seen := map[string]bool{}
	ids := req.IDs[:0:0]
	for _, id := range req.IDs {
		if !seen[id] {
			seen[id] = true
			ids = append(ids, id)
		}
	}
	org := who(c).OrgID
	ctx, cancel := context.WithTimeout(s.bg, 2*time.Minute)
	defer cancel()
	found, err := s.store.MediaOf(ctx, org, ids)
	if err != nil {
		return err
	}
	results := make([]bulkResult, 0, len(ids))
	var ok []string
	for _, id := range ids {
		if _, has := found[id]; !has {
			results = append(results, resultOf(id, store.ErrNotFound))
		} else {
			ok = append(ok, id)
		}
	}
	switch req.Action {
	case "tag", "untag":
		if len(req.Tags) == 0 {
			return invalid("tags must name at least one tag")
		}
		if err := checkList("tags", req.Tags); err != nil {
			return err
		}
		if err := s.store.TagMedia(ctx, org, ok, req.Tags, req.Action == "untag"); err != nil {
			return err
		}
		for _, id := range ok {
			results = append(results, resultOf(id, nil))
		}
	case "delete":
		oc, err := s.loadOrgContent(ctx, org)
		if err != nil {
			return err
		}
		for _, id := range ok {
			if used := usesOf(oc, id); len(used) > 0 {
				results = append(results, resultOf(id, fail(fiber.StatusConflict, "in_use", "still used by "+used[0].Kind+" "+used[0].ID+" ("+used[0].Name+"); remove it there first")))
				continue
			}
			results = append(results, resultOf(id, s.removeMedia(ctx, org, id)))
		}
	case "add_to_playlist":
		if req.DurationS != 0 && (req.DurationS < playlists.MinDurationS || req.DurationS > playlists.MaxDurationS) {
			return invalid(fmt.Sprintf("duration_s must be 0 (each item's own) or between %d and %d seconds", playlists.MinDurationS, playlists.MaxDurationS))
		}
		if err := s.appendToPlaylist(ctx, org, req.PlaylistID, ok, found, req.DurationS); err != nil {
			return err
		}
		for _, id := range ok {
			results = append(results, resultOf(id, nil))
		}
	default:
		return invalid("action must be tag, untag, delete or add_to_playlist")
	}
	// Results in the order the ids were given.
	byID := make(map[string]bulkResult, len(results))
	for _, r := range results {
		byID[r.ID] = r
	}
	out := make([]bulkResult, len(ids))
	failed := 0
	for i, id := range ids {
		out[i] = byID[id]
		if !out[i].OK {
			failed++
		}
	}
	if req.Action != "delete" && len(ok) > 0 {
		s.events.publish(org, Event{Type: "media", Data: map[string]any{"ids": ok, "status": "changed"}})
	}
	return c.JSON(fiber.Map{"results": out, "succeeded": len(ids) - failed, "failed": failed})
}

// appendToPlaylist adds media items at the end of a playlist in one edit
// (checked like any playlist edit).
func (s *Server) appendToPlaylist(ctx context.Context, org, playlistID string, ids []string, media map[string]store.Media, durationS float64) error {
	if playlistID == "" {
		return invalid("playlist_id is required for add_to_playlist")
	}
	p, err := s.store.Playlist(ctx, org, playlistID)
	if errors.Is(err, store.ErrNotFound) {
		return invalid("playlist_id: no such playlist: " + playlistID)
	}
	if err != nil {
		return err
	}
	if len(p.Items)+len(ids) > 10000 {
		return invalid("a playlist holds at most 10000 items")
	}
	for _, id := range ids {
		d := durationS
		if d == 0 && media[id].Kind == "image" {
			d = playlists.DefaultDurationS
		}
		p.Items = append(p.Items, store.PlaylistItem{MediaID: id, DurationS: d})
	}
	release, err := s.preflight(ctx, org, func(oc *orgContent, ds []store.Display) ([]store.Display, error) {
		oc.playlists[p.ID] = p
		return ds, nil
	})
	if err != nil {
		return err
	}
	defer release()
	if _, err := s.store.UpdatePlaylist(ctx, p); err != nil {
		return err
	}
	s.changed(org)
	return nil
}
