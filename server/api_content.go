package server

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"beacon/playlists"
	"beacon/server/store"
)

// ---- playlists ----

type entryJSON struct {
	MediaID    string  `json:"media_id,omitempty"`
	ItemID     string  `json:"item_id,omitempty"`
	PlaylistID string  `json:"playlist_id,omitempty"`
	DurationS  float64 `json:"duration_s,omitempty"`
}

type playlistRequest struct {
	Name       string               `json:"name"`
	Items      []entryJSON          `json:"items"`
	Shuffle    bool                 `json:"shuffle"`
	Transition playlists.Transition `json:"transition"`
}

type playlistView struct {
	ID         string               `json:"id"`
	Name       string               `json:"name"`
	Items      []entryJSON          `json:"items"`
	Shuffle    bool                 `json:"shuffle"`
	Transition playlists.Transition `json:"transition"`
	UpdatedAt  time.Time            `json:"updated_at"`
}

func viewPlaylist(p store.Playlist) playlistView {
	var opt playlistOptions
	_ = json.Unmarshal([]byte(p.Options), &opt)
	if opt.Transition.Kind == "" {
		opt.Transition.Kind = "cut"
	}
	v := playlistView{ID: p.ID, Name: p.Name, UpdatedAt: p.UpdatedAt, Items: []entryJSON{}, Shuffle: opt.Shuffle, Transition: opt.Transition}
	for _, it := range p.Items {
		v.Items = append(v.Items, entryJSON{MediaID: it.MediaID, ItemID: it.ItemID, PlaylistID: it.PlaylistID, DurationS: it.DurationS})
	}
	return v
}

func (s *Server) checkPlaylist(c *fiber.Ctx, selfID string, req *playlistRequest) (store.Playlist, error) {
	if err := checkName("name", &req.Name, true); err != nil {
		return store.Playlist{}, err
	}
	if len(req.Items) > 10000 {
		return store.Playlist{}, invalid("a playlist holds at most 10000 items")
	}
	switch req.Transition.Kind {
	case "":
		req.Transition.Kind = "cut"
	case "cut", "fade":
	default:
		return store.Playlist{}, invalid("transition.kind must be cut or fade")
	}
	if req.Transition.DurationMS < 0 || req.Transition.DurationMS > 10000 {
		return store.Playlist{}, invalid("transition.duration_ms must be between 0 and 10000")
	}
	ctx, cancel := s.timeout()
	defer cancel()
	org := who(c).OrgID
	out := store.Playlist{OrgID: org, Name: req.Name}
	for i, it := range req.Items {
		set := 0
		for _, v := range []string{it.MediaID, it.ItemID, it.PlaylistID} {
			if v != "" {
				set++
			}
		}
		if set != 1 {
			return store.Playlist{}, invalid(fmt.Sprintf("items[%d] needs exactly one of media_id, item_id or playlist_id", i))
		}
		if it.DurationS != 0 && (it.DurationS < playlists.MinDurationS || it.DurationS > playlists.MaxDurationS) {
			return store.Playlist{}, invalid(fmt.Sprintf("items[%d].duration_s must be 0 (the item's own) or between %d and %d seconds", i, playlists.MinDurationS, playlists.MaxDurationS))
		}
		var err error
		switch {
		case it.MediaID != "":
			var m store.Media
			if m, err = s.store.Media(ctx, org, it.MediaID); err == nil && m.Kind == "image" && it.DurationS == 0 {
				it.DurationS = playlists.DefaultDurationS
			} else if err == nil && it.DurationS == 0 && isAnimation(m) {
				it.DurationS = animationSlot(m.DurationS)
			}
		case it.ItemID != "":
			_, err = s.store.Doc(ctx, store.Items, org, it.ItemID)
		case it.PlaylistID != "":
			_, err = s.store.Playlist(ctx, org, it.PlaylistID)
		}
		if errors.Is(err, store.ErrNotFound) {
			return store.Playlist{}, invalid(fmt.Sprintf("items[%d]: no such media item, item or playlist", i))
		}
		if err != nil {
			return store.Playlist{}, err
		}
		out.Items = append(out.Items, store.PlaylistItem{MediaID: it.MediaID, ItemID: it.ItemID, PlaylistID: it.PlaylistID, DurationS: it.DurationS})
	}
	opt, _ := json.Marshal(playlistOptions{Shuffle: req.Shuffle, Transition: req.Transition})
	out.Options = string(opt)
	return out, nil
}

func invalid(msg string) error { return fail(fiber.StatusBadRequest, "invalid", msg) }

func (s *Server) createPlaylist(c *fiber.Ctx) error {
	var req playlistRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	p, err := s.checkPlaylist(c, "", &req)
	if err != nil {
		return err
	}
	ctx, cancel := s.timeout()
	defer cancel()
	if p, err = s.store.CreatePlaylist(ctx, p); err != nil {
		return err
	}
	s.changed(p.OrgID)
	return c.Status(fiber.StatusCreated).JSON(viewPlaylist(p))
}

func (s *Server) updatePlaylist(c *fiber.Ctx) error {
	var req playlistRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	p, err := s.checkPlaylist(c, c.Params("id"), &req)
	if err != nil {
		return err
	}
	p.ID = c.Params("id")
	ctx, cancel := s.timeout()
	defer cancel()
	release, err := s.preflight(ctx, p.OrgID, func(oc *orgContent, ds []store.Display) ([]store.Display, error) {
		var children []string
		for _, e := range p.Items {
			if e.PlaylistID != "" {
				children = append(children, e.PlaylistID)
			}
		}
		if path := playlistCycle(oc, p.ID, children); path != nil {
			return nil, unprocessable("playlist_cycle", "playlist cycle: "+cyclePath(oc, path, p.ID, p.Name)+"; a playlist cannot contain itself, directly or through others")
		}
		oc.playlists[p.ID] = p
		return ds, nil
	})
	if err != nil {
		return err
	}
	defer release()
	p, err = s.store.UpdatePlaylist(ctx, p)
	if err != nil {
		return err
	}
	s.changed(p.OrgID)
	return c.JSON(viewPlaylist(p))
}

func (s *Server) deletePlaylist(c *fiber.Ctx) error {
	ctx, cancel := s.timeout()
	defer cancel()
	if err := s.notInUse(ctx, who(c).OrgID, c.Params("id")); err != nil {
		return err
	}
	err := s.store.DeletePlaylist(ctx, who(c).OrgID, c.Params("id"))
	if err != nil {
		return err
	}
	s.changed(who(c).OrgID)
	return c.SendStatus(fiber.StatusNoContent)
}

func (s *Server) listPlaylists(c *fiber.Ctx) error {
	ctx, cancel := s.timeout()
	defer cancel()
	list, err := s.store.Playlists(ctx, who(c).OrgID) // without entries: only the page's are read
	if err != nil {
		return err
	}
	return listPage(c, "playlists", list, func(p store.Playlist) string { return sortKey(p.Name, p.ID) }, false, func(p store.Playlist) (any, error) {
		full, err := s.store.Playlist(ctx, p.OrgID, p.ID)
		if errors.Is(err, store.ErrNotFound) {
			return nil, nil // deleted meanwhile
		}
		if err != nil {
			return nil, err
		}
		return viewPlaylist(full), nil
	})
}

func (s *Server) getPlaylist(c *fiber.Ctx) error {
	ctx, cancel := s.timeout()
	defer cancel()
	p, err := s.store.Playlist(ctx, who(c).OrgID, c.Params("id"))
	if err != nil {
		return err
	}
	return c.JSON(viewPlaylist(p))
}

// changed recompiles an organisation's manifests after an edit: every
// display whose manifest changes gets the new version pushed at once.
func (s *Server) changed(orgID string) {
	if err := s.refreshOrg(orgID); err != nil {
		s.log.Error("manifests after a change", "org", orgID, "err", err)
	}
}

// isAnimation reports whether a video item is an animated picture (GIF,
// APNG, WebP): it loops on screen like a picture stays.
func isAnimation(m store.Media) bool {
	return m.Kind == "video" && strings.HasPrefix(m.ContentType, "image/")
}

// animationSlot is how long an animated picture plays when its playlist
// entry does not say: whole plays of it, at least as long as a picture
// shows.
func animationSlot(playS float64) float64 {
	if playS <= 0 {
		return playlists.DefaultDurationS
	}
	loops := math.Ceil(playlists.DefaultDurationS / playS)
	return math.Min(math.Max(loops*playS, playS), playlists.MaxDurationS)
}
