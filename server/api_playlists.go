package server

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"beacon/server/store"
)

// DefaultImageDuration is used when an item gives no duration.
const DefaultImageDuration = 10.0

type playlistItemJSON struct {
	MediaID   string  `json:"media_id"`
	DurationS float64 `json:"duration_s"`
}

type playlistRequest struct {
	Name  string             `json:"name"`
	Items []playlistItemJSON `json:"items"`
}

type playlistView struct {
	ID        string             `json:"id"`
	Name      string             `json:"name"`
	Items     []playlistItemJSON `json:"items"`
	UpdatedAt time.Time          `json:"updated_at"`
}

func viewPlaylist(p store.Playlist) playlistView {
	v := playlistView{ID: p.ID, Name: p.Name, UpdatedAt: p.UpdatedAt, Items: []playlistItemJSON{}}
	for _, it := range p.Items {
		v.Items = append(v.Items, playlistItemJSON(it))
	}
	return v
}

func (s *Server) checkPlaylist(c *fiber.Ctx, req *playlistRequest) ([]store.PlaylistItem, error) {
	req.Name = strings.TrimSpace(req.Name)
	if req.Name == "" {
		return nil, fail(fiber.StatusBadRequest, "invalid", "name is required")
	}
	if len(req.Items) > 10000 {
		return nil, fail(fiber.StatusBadRequest, "invalid", "a playlist holds at most 10000 items")
	}
	ctx, cancel := s.timeout()
	defer cancel()
	items := make([]store.PlaylistItem, 0, len(req.Items))
	for i, it := range req.Items {
		if it.DurationS < 0 || it.DurationS > 86400 {
			return nil, fail(fiber.StatusBadRequest, "invalid", fmt.Sprintf("items[%d].duration_s must be between 0 and 86400 seconds", i))
		}
		if it.DurationS == 0 {
			it.DurationS = DefaultImageDuration
		}
		if _, err := s.store.Media(ctx, who(c).OrgID, it.MediaID); err != nil {
			if errors.Is(err, store.ErrNotFound) {
				return nil, fail(fiber.StatusBadRequest, "invalid", fmt.Sprintf("items[%d].media_id: no such media item", i))
			}
			return nil, err
		}
		items = append(items, store.PlaylistItem(it))
	}
	return items, nil
}

func (s *Server) createPlaylist(c *fiber.Ctx) error {
	var req playlistRequest
	if err := decode(c, &req); err != nil {
		return err
	}
	items, err := s.checkPlaylist(c, &req)
	if err != nil {
		return err
	}
	ctx, cancel := s.timeout()
	defer cancel()
	p, err := s.store.CreatePlaylist(ctx, store.Playlist{OrgID: who(c).OrgID, Name: req.Name, Items: items})
	if err != nil {
		return err
	}
	return c.Status(fiber.StatusCreated).JSON(viewPlaylist(p))
}

func (s *Server) updatePlaylist(c *fiber.Ctx) error {
	var req playlistRequest
	if err := decode(c, &req); err != nil {
		return err
	}
	items, err := s.checkPlaylist(c, &req)
	if err != nil {
		return err
	}
	ctx, cancel := s.timeout()
	defer cancel()
	p, err := s.store.UpdatePlaylist(ctx, store.Playlist{ID: c.Params("id"), OrgID: who(c).OrgID, Name: req.Name, Items: items})
	if errors.Is(err, store.ErrNotFound) {
		return fail(fiber.StatusNotFound, "not_found", "no such playlist")
	}
	if err != nil {
		return err
	}
	if err := s.refreshOrg(p.OrgID); err != nil {
		s.log.Error("manifests after playlist change", "err", err)
	}
	return c.JSON(viewPlaylist(p))
}

func (s *Server) listPlaylists(c *fiber.Ctx) error {
	ctx, cancel := s.timeout()
	defer cancel()
	list, err := s.store.Playlists(ctx, who(c).OrgID)
	if err != nil {
		return err
	}
	out := make([]playlistView, 0, len(list))
	for _, p := range list {
		out = append(out, viewPlaylist(p))
	}
	return c.JSON(fiber.Map{"playlists": out})
}

func (s *Server) getPlaylist(c *fiber.Ctx) error {
	ctx, cancel := s.timeout()
	defer cancel()
	p, err := s.store.Playlist(ctx, who(c).OrgID, c.Params("id"))
	if errors.Is(err, store.ErrNotFound) {
		return fail(fiber.StatusNotFound, "not_found", "no such playlist")
	}
	if err != nil {
		return err
	}
	return c.JSON(viewPlaylist(p))
}

type scheduleRequest struct {
	DisplayID  string `json:"display_id"`
	PlaylistID string `json:"playlist_id"`
}

type scheduleView struct {
	ID         string    `json:"id"`
	DisplayID  string    `json:"display_id"`
	PlaylistID string    `json:"playlist_id"`
	CreatedAt  time.Time `json:"created_at"`
}

func (s *Server) createSchedule(c *fiber.Ctx) error {
	var req scheduleRequest
	if err := decode(c, &req); err != nil {
		return err
	}
	org := who(c).OrgID
	ctx, cancel := s.timeout()
	defer cancel()
	if _, err := s.store.Display(ctx, org, req.DisplayID); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return fail(fiber.StatusBadRequest, "invalid", "display_id: no such display")
		}
		return err
	}
	if _, err := s.store.Playlist(ctx, org, req.PlaylistID); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return fail(fiber.StatusBadRequest, "invalid", "playlist_id: no such playlist")
		}
		return err
	}
	sc, err := s.store.CreateSchedule(ctx, store.Schedule{OrgID: org, DisplayID: req.DisplayID, PlaylistID: req.PlaylistID})
	if err != nil {
		return err
	}
	if err := s.refreshDisplay(sc.DisplayID); err != nil {
		s.log.Error("manifest after schedule", "display", sc.DisplayID, "err", err)
	}
	return c.Status(fiber.StatusCreated).JSON(scheduleView{ID: sc.ID, DisplayID: sc.DisplayID, PlaylistID: sc.PlaylistID, CreatedAt: sc.CreatedAt})
}

func (s *Server) listSchedules(c *fiber.Ctx) error {
	ctx, cancel := s.timeout()
	defer cancel()
	list, err := s.store.Schedules(ctx, who(c).OrgID)
	if err != nil {
		return err
	}
	out := make([]scheduleView, 0, len(list))
	for _, sc := range list {
		out = append(out, scheduleView{ID: sc.ID, DisplayID: sc.DisplayID, PlaylistID: sc.PlaylistID, CreatedAt: sc.CreatedAt})
	}
	return c.JSON(fiber.Map{"schedules": out})
}
