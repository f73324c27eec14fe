package server

import (
	"encoding/json"
	"errors"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"beacon/media"
	"beacon/protocol"
	"beacon/server/players"
	"beacon/server/store"
)

type displayView struct {
	ID              string               `json:"id"`
	Name            string               `json:"name"`
	Width           int                  `json:"width"`
	Height          int                  `json:"height"`
	Fit             string               `json:"fit"`
	Background      string               `json:"background"`
	Online          bool                 `json:"online"`
	State           string               `json:"state"`
	LastSeenAt      *time.Time           `json:"last_seen_at"`
	ManifestVersion int64                `json:"manifest_version"`
	AckedVersion    int64                `json:"acked_manifest_version"`
	NowPlaying      *protocol.NowPlaying `json:"now_playing"`
	MissingFiles    int                  `json:"missing_files"`
	CreatedAt       time.Time            `json:"created_at"`
}

func (s *Server) displayView(d store.Display) displayView {
	v := displayView{ID: d.ID, Name: d.Name, Width: d.Width, Height: d.Height, Fit: d.Fit, Background: d.Background,
		State: d.State, ManifestVersion: d.ManifestVersion, AckedVersion: d.AckedVersion, CreatedAt: d.CreatedAt}
	if !d.LastSeenAt.IsZero() {
		t := d.LastSeenAt
		v.LastSeenAt = &t
	}
	if d.NowPlaying != "" {
		var np protocol.NowPlaying
		if json.Unmarshal([]byte(d.NowPlaying), &np) == nil {
			v.NowPlaying = &np
		}
	}
	in := s.hub.Info(d.ID)
	v.Online = in.Online
	if in.Online {
		if in.State != "" {
			v.State = in.State
		}
		if in.NowPlaying != nil {
			v.NowPlaying = in.NowPlaying
		}
		v.MissingFiles = in.Missing
		if !in.LastSeen.IsZero() {
			t := in.LastSeen
			v.LastSeenAt = &t
		}
	} else {
		v.State = "offline"
	}
	return v
}

func (s *Server) listDisplays(c *fiber.Ctx) error {
	ctx, cancel := s.timeout()
	defer cancel()
	list, err := s.store.Displays(ctx, who(c).OrgID)
	if err != nil {
		return err
	}
	out := make([]displayView, 0, len(list))
	for _, d := range list {
		out = append(out, s.displayView(d))
	}
	return c.JSON(fiber.Map{"displays": out})
}

func (s *Server) getDisplay(c *fiber.Ctx) error {
	ctx, cancel := s.timeout()
	defer cancel()
	d, err := s.store.Display(ctx, who(c).OrgID, c.Params("id"))
	if errors.Is(err, store.ErrNotFound) {
		return fail(fiber.StatusNotFound, "not_found", "no such display")
	}
	if err != nil {
		return err
	}
	return c.JSON(s.displayView(d))
}

type claimRequest struct {
	Code       string `json:"code"`
	Name       string `json:"name"`
	Width      int    `json:"width"`
	Height     int    `json:"height"`
	Fit        string `json:"fit"`
	Background string `json:"background"`
}

// Panel sizes Beacon accepts: from a small LED module up to 16K.
const minSide, maxSide = 16, 16384

func (r *claimRequest) check() error {
	r.Code = strings.ToUpper(strings.TrimSpace(r.Code))
	r.Name = strings.TrimSpace(r.Name)
	if r.Code == "" {
		return fail(fiber.StatusBadRequest, "invalid", "code is required: the pairing code shown on the screen")
	}
	if r.Name == "" {
		return fail(fiber.StatusBadRequest, "invalid", "name is required")
	}
	if r.Width < minSide || r.Width > maxSide || r.Height < minSide || r.Height > maxSide {
		return fail(fiber.StatusBadRequest, "invalid", "width and height must be between 16 and 16384 pixels")
	}
	fit, err := media.ParseFit(r.Fit)
	if err != nil {
		return fail(fiber.StatusBadRequest, "invalid", "fit must be contain, cover or stretch")
	}
	r.Fit = string(fit)
	if r.Background == "" {
		r.Background = "#000000"
	}
	if _, err := media.ParseColor(r.Background); err != nil {
		return fail(fiber.StatusBadRequest, "invalid", "background must be a colour like #000000")
	}
	if !strings.HasPrefix(r.Background, "#") {
		r.Background = "#" + r.Background
	}
	r.Background = strings.ToLower(r.Background)
	return nil
}

func (s *Server) claimDisplay(c *fiber.Ctx) error {
	var req claimRequest
	if err := decode(c, &req); err != nil {
		return err
	}
	if err := req.check(); err != nil {
		return err
	}
	ctx, cancel := s.timeout()
	defer cancel()
	d, err := s.hub.Claim(ctx, who(c).OrgID, req.Code, store.Display{Name: req.Name, Width: req.Width, Height: req.Height, Fit: req.Fit, Background: req.Background})
	switch {
	case errors.Is(err, players.ErrNoSuchCode):
		return fail(fiber.StatusNotFound, "unknown_code", err.Error())
	case errors.Is(err, store.ErrConflict):
		return fail(fiber.StatusConflict, "already_paired", "this player is already paired")
	case err != nil:
		return err
	}
	if err := s.refreshDisplay(d.ID); err != nil {
		s.log.Error("first manifest", "display", d.ID, "err", err)
	}
	s.work.kick(d.OrgID) // renditions for the new panel size, if it is new
	d, _ = s.store.Display(ctx, d.OrgID, d.ID)
	return c.Status(fiber.StatusCreated).JSON(s.displayView(d))
}
