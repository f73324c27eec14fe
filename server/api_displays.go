package server

import (
	"encoding/json"
	"errors"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"beacon/media"
	"beacon/playlists"
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
	ClusterID       string               `json:"cluster_id"`
	Tags            []string             `json:"tags"`
	Languages       []string             `json:"languages"`
	MaxFPS          float64              `json:"max_fps"`
	MaxBitrate      int                  `json:"max_bitrate"`
	H264Profile     string               `json:"h264_profile"`
	H264Level       string               `json:"h264_level"`
}

func (s *Server) displayView(d store.Display) displayView {
	v := displayView{ID: d.ID, Name: d.Name, Width: d.Width, Height: d.Height, Fit: d.Fit, Background: d.Background,
		State: d.State, ManifestVersion: d.ManifestVersion, AckedVersion: d.AckedVersion, CreatedAt: d.CreatedAt,
		ClusterID: d.ClusterID, Tags: nonNil(d.Tags), Languages: nonNil(d.Languages), MaxFPS: d.MaxFPS, MaxBitrate: d.MaxBitrate,
		H264Profile: d.H264Profile, H264Level: d.H264Level}
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

func nonNil(v []string) []string {
	if v == nil {
		return []string{}
	}
	return v
}

type displayPatch struct {
	Name        *string   `json:"name"`
	Width       *int      `json:"width"`
	Height      *int      `json:"height"`
	Fit         *string   `json:"fit"`
	Background  *string   `json:"background"`
	ClusterID   *string   `json:"cluster_id"`
	Tags        *[]string `json:"tags"`
	Languages   *[]string `json:"languages"`
	MaxFPS      *float64  `json:"max_fps"`
	MaxBitrate  *int      `json:"max_bitrate"`
	H264Profile *string   `json:"h264_profile"`
	H264Level   *string   `json:"h264_level"`
}

// updateDisplay changes a display's settings. A new panel size or video
// profile makes the missing renditions; a new cluster, tags or languages
// change what it plays. Either way it gets a new manifest at once.
func (s *Server) updateDisplay(c *fiber.Ctx) error {
	var p displayPatch
	if err := strict(c.Body(), &p); err != nil {
		return err
	}
	org := who(c).OrgID
	ctx, cancel := s.timeout()
	defer cancel()
	d, err := s.store.Display(ctx, org, c.Params("id"))
	if errors.Is(err, store.ErrNotFound) {
		return fail(fiber.StatusNotFound, "not_found", "no such display")
	}
	if err != nil {
		return err
	}
	if p.Name != nil {
		d.Name = *p.Name
	}
	if p.Width != nil {
		d.Width = *p.Width
	}
	if p.Height != nil {
		d.Height = *p.Height
	}
	if p.Fit != nil {
		d.Fit = *p.Fit
	}
	if p.Background != nil {
		d.Background = *p.Background
	}
	req := claimRequest{Code: "-", Name: d.Name, Width: d.Width, Height: d.Height, Fit: d.Fit, Background: d.Background}
	if err := req.check(); err != nil {
		return err
	}
	d.Name, d.Fit, d.Background = req.Name, req.Fit, req.Background
	if p.ClusterID != nil {
		if *p.ClusterID != "" {
			if _, err := s.store.Cluster(ctx, org, *p.ClusterID); err != nil {
				return invalid("cluster_id: no such cluster")
			}
		}
		d.ClusterID = *p.ClusterID
	}
	if p.Tags != nil {
		d.Tags = cleanList(*p.Tags)
	}
	if p.Languages != nil {
		d.Languages = cleanList(*p.Languages)
	}
	if p.MaxFPS != nil {
		if *p.MaxFPS < 1 || *p.MaxFPS > 120 {
			return invalid("max_fps must be between 1 and 120")
		}
		d.MaxFPS = *p.MaxFPS
	}
	if p.MaxBitrate != nil {
		if *p.MaxBitrate < 0 || *p.MaxBitrate > 200_000_000 {
			return invalid("max_bitrate must be between 0 (automatic) and 200000000 bits per second")
		}
		d.MaxBitrate = *p.MaxBitrate
	}
	if p.H264Profile != nil {
		switch *p.H264Profile {
		case "baseline", "main", "high":
		default:
			return invalid("h264_profile must be baseline, main or high")
		}
		d.H264Profile = *p.H264Profile
	}
	if p.H264Level != nil {
		if !h264Levels[*p.H264Level] {
			return invalid("h264_level must be empty (automatic) or one of 3.0, 3.1, 3.2, 4.0, 4.1, 4.2, 5.0, 5.1, 5.2")
		}
		d.H264Level = *p.H264Level
	}
	if d, err = s.store.UpdateDisplay(ctx, d); err != nil {
		return err
	}
	s.changed(org)
	s.work.kick(org) // renditions for a new profile, if it is new
	return c.JSON(s.displayView(d))
}

var h264Levels = map[string]bool{"": true, "3.0": true, "3.1": true, "3.2": true, "4.0": true, "4.1": true, "4.2": true, "5.0": true, "5.1": true, "5.2": true}

func cleanList(v []string) []string {
	out := []string{}
	seen := map[string]bool{}
	for _, s := range v {
		s = strings.TrimSpace(s)
		if s != "" && !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}

func (s *Server) deleteDisplay(c *fiber.Ctx) error {
	ctx, cancel := s.timeout()
	defer cancel()
	err := s.store.DeleteDisplay(ctx, who(c).OrgID, c.Params("id"))
	if errors.Is(err, store.ErrNotFound) {
		return fail(fiber.StatusNotFound, "not_found", "no such display")
	}
	if err != nil {
		return err
	}
	s.hub.Disconnect(c.Params("id"))
	return c.SendStatus(fiber.StatusNoContent)
}

// displayProgram compiles the program a display plays now.
func (s *Server) displayProgram(c *fiber.Ctx) (playlists.Program, store.Display, error) {
	ctx, cancel := s.timeout()
	defer cancel()
	d, err := s.store.Display(ctx, who(c).OrgID, c.Params("id"))
	if errors.Is(err, store.ErrNotFound) {
		return playlists.Program{}, d, fail(fiber.StatusNotFound, "not_found", "no such display")
	}
	if err != nil {
		return playlists.Program{}, d, err
	}
	oc, err := s.loadOrgContent(ctx, d.OrgID)
	if err != nil {
		return playlists.Program{}, d, err
	}
	prog, _ := s.compileProgram(oc, d, time.Now())
	return prog, d, nil
}

func timeParam(c *fiber.Ctx, name string, def time.Time) (time.Time, error) {
	v := c.Query(name)
	if v == "" {
		return def, nil
	}
	t, err := time.Parse(time.RFC3339, v)
	if err != nil {
		return t, invalid(name + " must be an RFC 3339 time such as 2026-09-01T07:00:00+07:00")
	}
	return t, nil
}

// maxTimelineSpan bounds one timeline request.
const maxTimelineSpan = 31 * 24 * time.Hour

func (s *Server) displayTimeline(c *fiber.Ctx) error {
	prog, d, err := s.displayProgram(c)
	if err != nil {
		return err
	}
	now := time.Now()
	from, err := timeParam(c, "from", now)
	if err != nil {
		return err
	}
	to, err := timeParam(c, "to", from.Add(24*time.Hour))
	if err != nil {
		return err
	}
	if !to.After(from) || to.Sub(from) > maxTimelineSpan {
		return invalid("to must be after from, at most 31 days later")
	}
	plays := playlists.Timeline(&prog, from, to, playlists.Options{})
	if plays == nil {
		plays = []playlists.Play{}
	}
	conflicts := playlists.Conflicts(&prog, from, to)
	if conflicts == nil {
		conflicts = []playlists.Conflict{}
	}
	return c.JSON(fiber.Map{"display_id": d.ID, "timezone": prog.Timezone, "from": from, "to": to, "plays": plays, "conflicts": conflicts})
}

func (s *Server) displayNow(c *fiber.Ctx) error {
	prog, d, err := s.displayProgram(c)
	if err != nil {
		return err
	}
	at, err := timeParam(c, "at", time.Now())
	if err != nil {
		return err
	}
	now := playlists.At(&prog, at, playlists.Options{})
	return c.JSON(fiber.Map{"display_id": d.ID, "timezone": prog.Timezone, "now": now})
}

func (s *Server) displaySMIL(c *fiber.Ctx) error {
	prog, _, err := s.displayProgram(c)
	if err != nil {
		return err
	}
	from, err := timeParam(c, "from", time.Now())
	if err != nil {
		return err
	}
	days := c.QueryInt("days", s.cfg.PrefetchDays)
	if days < 1 || days > 31 {
		return invalid("days must be between 1 and 31")
	}
	b, err := playlists.SMIL(&prog, from, days)
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderContentType, "application/smil+xml; charset=utf-8")
	return c.Send(b)
}

type playView struct {
	DisplayID  string    `json:"display_id"`
	RecordID   string    `json:"record_id"`
	Zone       string    `json:"zone"`
	ItemID     string    `json:"item_id"`
	SHA256     string    `json:"sha256,omitempty"`
	ScheduleID string    `json:"schedule_id,omitempty"`
	Start      time.Time `json:"start"`
	End        time.Time `json:"end"`
}

// listPlays is the proof-of-play report.
func (s *Server) listPlays(c *fiber.Ctx) error {
	now := time.Now()
	from, err := timeParam(c, "from", now.Add(-24*time.Hour))
	if err != nil {
		return err
	}
	to, err := timeParam(c, "to", now.Add(time.Minute))
	if err != nil {
		return err
	}
	limit := c.QueryInt("limit", 10000)
	if limit < 1 || limit > 100000 {
		return invalid("limit must be between 1 and 100000")
	}
	ctx, cancel := s.timeout()
	defer cancel()
	list, err := s.store.Plays(ctx, who(c).OrgID, c.Query("display_id"), from, to, limit)
	if err != nil {
		return err
	}
	out := make([]playView, 0, len(list))
	for _, p := range list {
		out = append(out, playView{DisplayID: p.DisplayID, RecordID: p.RecordID, Zone: p.Zone, ItemID: p.ItemID, SHA256: p.SHA256, ScheduleID: p.ScheduleID, Start: p.Start, End: p.End})
	}
	return c.JSON(fiber.Map{"plays": out})
}
