package server

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
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
	// ManifestState is "ok", or "error" when the display's program cannot
	// be compiled or sent: it keeps playing its last manifest, and
	// ManifestError says why.
	ManifestState string `json:"manifest_state"`
	ManifestError string `json:"manifest_error,omitempty"`
	// Latitude and Longitude place the display for area targets (null
	// when unknown).
	Latitude  *float64 `json:"latitude"`
	Longitude *float64 `json:"longitude"`
}

func (s *Server) displayView(d store.Display) displayView {
	v := displayView{ID: d.ID, Name: d.Name, Width: d.Width, Height: d.Height, Fit: d.Fit, Background: d.Background,
		State: d.State, ManifestVersion: d.ManifestVersion, AckedVersion: d.AckedVersion, CreatedAt: d.CreatedAt,
		ClusterID: d.ClusterID, Tags: nonNil(d.Tags), Languages: nonNil(d.Languages), MaxFPS: d.MaxFPS, MaxBitrate: d.MaxBitrate,
		H264Profile: d.H264Profile, H264Level: d.H264Level, Latitude: d.Latitude, Longitude: d.Longitude}
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
	v.ManifestState, v.ManifestError = s.mstate.get(d.ID)
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
	return listPage(c, "displays", list, func(d store.Display) string { return sortKey(d.Name, d.ID) }, false, func(d store.Display) (any, error) {
		return s.displayView(d), nil
	})
}

func (s *Server) getDisplay(c *fiber.Ctx) error {
	ctx, cancel := s.timeout()
	defer cancel()
	d, err := s.store.Display(ctx, who(c).OrgID, c.Params("id"))
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
	// Latitude and Longitude (WGS 84 degrees), both or neither.
	Latitude  *float64 `json:"latitude"`
	Longitude *float64 `json:"longitude"`
}

// checkLocation validates a display location: both or neither, in range.
func checkLocation(lat, lon *float64) error {
	if (lat == nil) != (lon == nil) {
		return invalid("give latitude and longitude together")
	}
	if lat != nil && !checkPoint(*lat, *lon) {
		return invalid("latitude must be between -90 and 90 and longitude between -180 and 180")
	}
	return nil
}

// Panel sizes Beacon accepts: from a small LED module up to 16K.
const minSide, maxSide = 16, 16384

func (r *claimRequest) check() error {
	r.Code = strings.ToUpper(strings.TrimSpace(r.Code))
	if r.Code == "" {
		return fail(fiber.StatusBadRequest, "invalid", "code is required: the pairing code shown on the screen")
	}
	if len(r.Code) > 64 {
		return fail(fiber.StatusBadRequest, "invalid", "code is too long: pairing codes are 10 characters")
	}
	if err := checkName("name", &r.Name, true); err != nil {
		return err
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
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	if err := req.check(); err != nil {
		return err
	}
	if err := checkLocation(req.Latitude, req.Longitude); err != nil {
		return err
	}
	p := who(c)
	addr := s.clientAddr(c)
	// Guessing is bounded per token, per client address and per
	// organisation; a claim that pairs gives its attempts back.
	keys := []struct {
		lim *rateLimit
		key string
	}{{s.limits.claimToken, p.Token}, {s.limits.claimAddr, addr}, {s.limits.claimOrg, p.OrgID}}
	for i, k := range keys {
		if ok, wait := k.lim.take(k.key); !ok {
			for _, t := range keys[:i] {
				t.lim.give(t.key)
			}
			s.log.Warn("pairing claims rate limited", "token", p.Token, "remote", addr, "org", p.OrgID)
			return tooMany(c, wait, "too_many_claims", "too many failed pairing claims")
		}
	}
	ctx, cancel := s.timeout()
	defer cancel()
	d, err := s.hub.Claim(ctx, p.OrgID, req.Code, store.Display{Name: req.Name, Width: req.Width, Height: req.Height, Fit: req.Fit, Background: req.Background,
		Latitude: req.Latitude, Longitude: req.Longitude})
	rec := store.Claim{OrgID: p.OrgID, TokenID: p.Token, UserID: p.UserID, RemoteAddr: addr, Code: players.NormalizeCode(req.Code), DisplayID: d.ID}
	switch {
	case err == nil:
		rec.Outcome = store.ClaimPaired
		for _, k := range keys {
			k.lim.give(k.key)
		}
	case errors.Is(err, players.ErrNoSuchCode):
		rec.Outcome = store.ClaimUnknownCode
	default:
		rec.Outcome = store.ClaimFailed
	}
	if _, rerr := s.store.RecordClaim(ctx, rec); rerr != nil {
		s.log.Error("record pairing claim", "err", rerr)
	}
	s.log.Info("pairing claim", "outcome", rec.Outcome, "token", p.Token, "remote", addr, "display", d.ID)
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
	Latitude    *float64  `json:"latitude"`
	Longitude   *float64  `json:"longitude"`
}

// updateDisplay changes a display's settings. A new panel size or video
// profile makes the missing renditions; a new cluster, tags or languages
// change what it plays. Either way it gets a new manifest at once.
func (s *Server) updateDisplay(c *fiber.Ctx) error {
	var p displayPatch
	if err := decodeJSON(c, &p); err != nil {
		return err
	}
	org := who(c).OrgID
	ctx, cancel := s.timeout()
	defer cancel()
	d, err := s.store.Display(ctx, org, c.Params("id"))
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
		if err := checkList("tags", *p.Tags); err != nil {
			return err
		}
		d.Tags = cleanList(*p.Tags)
	}
	if p.Languages != nil {
		if err := checkList("languages", *p.Languages); err != nil {
			return err
		}
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
	if p.Latitude != nil || p.Longitude != nil {
		if err := checkLocation(p.Latitude, p.Longitude); err != nil {
			return err
		}
		d.Latitude, d.Longitude = p.Latitude, p.Longitude
	}
	if p.H264Level != nil {
		if !h264Levels[*p.H264Level] {
			return invalid("h264_level must be empty (automatic) or one of 3.0, 3.1, 3.2, 4.0, 4.1, 4.2, 5.0, 5.1, 5.2")
		}
		d.H264Level = *p.H264Level
	}
	release, err := s.preflight(ctx, org, func(oc *orgContent, ds []store.Display) ([]store.Display, error) {
		for i := range ds {
			if ds[i].ID == d.ID {
				ds[i] = d
			}
		}
		return ds, nil
	})
	if err != nil {
		return err
	}
	defer release()
	if d, err = s.store.UpdateDisplay(ctx, d); err != nil {
		return err
	}
	s.changed(org)
	s.work.kick(org) // renditions for a new profile, if it is new
	s.displayChanged(d.ID, org)
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
	if err != nil {
		return err
	}
	s.hub.Disconnect(c.Params("id"))
	s.mstate.set(c.Params("id"), "")
	s.events.publish(who(c).OrgID, Event{Type: "display", Data: fiber.Map{"id": c.Params("id"), "deleted": true}})
	return c.SendStatus(fiber.StatusNoContent)
}

// displayProgram compiles the program a display plays now.
func (s *Server) displayProgram(c *fiber.Ctx) (*playlists.Compiled, store.Display, error) {
	ctx, cancel := s.timeout()
	defer cancel()
	d, err := s.store.Display(ctx, who(c).OrgID, c.Params("id"))
	if err != nil {
		return nil, d, err
	}
	oc, err := s.loadOrgContent(ctx, d.OrgID)
	if err != nil {
		return nil, d, err
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

// maxConflicts bounds the conflicts a timeline page lists (the first, by
// time); more_conflicts counts the rest.
const maxConflicts = 1000

// maxTimelineSpan bounds one timeline or proof-of-play request.
const maxTimelineSpan = 31 * 24 * time.Hour

// rangeParams reads from and to (to after from, at most maxTimelineSpan
// later).
func rangeParams(c *fiber.Ctx, defFrom time.Time, defSpan time.Duration) (from, to time.Time, err error) {
	if from, err = timeParam(c, "from", defFrom); err != nil {
		return
	}
	if to, err = timeParam(c, "to", from.Add(defSpan)); err != nil {
		return
	}
	if !to.After(from) || to.Sub(from) > maxTimelineSpan {
		err = invalid("to must be after from, at most 31 days later")
	}
	return
}

// displayTimeline is one page of the plays of a display in [from, to):
// at most limit plays (default 1000, at most 10000), and next_cursor to
// ask for the next page ("" on the last). The cursor carries the range.
func (s *Server) displayTimeline(c *fiber.Ctx) error {
	limit := c.QueryInt("limit", defaultTimelinePage)
	if limit < 1 || limit > maxTimelinePage {
		return invalid(fmt.Sprintf("limit must be between 1 and %d", maxTimelinePage))
	}
	var cur *timelineCursor
	var from, to time.Time
	if v := c.Query("cursor"); v != "" {
		tc, err := decodeTimelineCursor(v)
		if err != nil {
			return err
		}
		cur = &tc
		from, to = time.UnixMilli(tc.From), time.UnixMilli(tc.To)
	} else {
		var err error
		if from, to, err = rangeParams(c, time.Now(), 24*time.Hour); err != nil {
			return err
		}
	}
	cp, d, err := s.displayProgram(c)
	if err != nil {
		return err
	}
	plays, next := timelinePage(cp, from, to, cur, limit)
	conflicts := cp.Conflicts(from, to)
	if conflicts == nil {
		conflicts = []playlists.Conflict{}
	}
	more := max(len(conflicts)-maxConflicts, 0)
	conflicts = conflicts[:len(conflicts)-more]
	loc := time.UTC
	if l, err := time.LoadLocation(cp.Program().Timezone); err == nil {
		loc = l
	}
	return c.JSON(fiber.Map{"display_id": d.ID, "timezone": cp.Program().Timezone, "from": from.In(loc), "to": to.In(loc),
		"plays": plays, "conflicts": conflicts, "more_conflicts": more, "next_cursor": next})
}

// timelinePage computes one page of a timeline, never more than limit
// plays, resuming after the cursor's play. The engine clips plays to the
// period asked, so resuming at the cursor's start returns, at that very
// instant, plays that began earlier (already given) as well as plays that
// begin there: the first are told apart by a play covering the
// millisecond before.
func timelinePage(cp *playlists.Compiled, from, to time.Time, cur *timelineCursor, limit int) ([]playlists.Play, string) {
	out := make([]playlists.Play, 0, min(limit, 1024))
	start := from
	given := map[string]bool{} // zones whose play at the resume instant was already given
	if cur != nil {
		start = time.UnixMilli(cur.Start)
		if start.After(from) {
			before := start.Add(-time.Millisecond)
			cp.Plays(before, start.Add(time.Millisecond), playlists.Options{}, func(p playlists.Play) bool {
				if p.Start.Equal(before) && p.End.After(start) {
					given[p.Zone] = true
				}
				return true
			})
		}
	}
	next := ""
	cp.Plays(start, to, playlists.Options{}, func(p playlists.Play) bool {
		if cur != nil && p.Start.Equal(start) && (p.Zone <= cur.Zone || given[p.Zone]) {
			return true
		}
		if len(out) == limit {
			last := out[len(out)-1]
			next = timelineCursor{From: from.UnixMilli(), To: to.UnixMilli(), Start: last.Start.UnixMilli(), Zone: last.Zone}.encode()
			return false
		}
		out = append(out, p)
		return true
	})
	return out, next
}

func (s *Server) displayNow(c *fiber.Ctx) error {
	cp, d, err := s.displayProgram(c)
	if err != nil {
		return err
	}
	at, err := timeParam(c, "at", time.Now())
	if err != nil {
		return err
	}
	now := cp.At(at, playlists.Options{})
	ovr, err := s.overrideShown(d, at, now.Off)
	if err != nil {
		return err
	}
	return c.JSON(fiber.Map{"display_id": d.ID, "timezone": cp.Program().Timezone, "now": now, "override": ovr})
}

// nowOverride is the override a display shows at an instant, in /now.
type nowOverride struct {
	ID           string `json:"id"`
	Level        string `json:"level"`
	Presentation string `json:"presentation"`
	Position     string `json:"position,omitempty"`
	// ProgramVisible is false when the override covers the program
	// (fullscreen, blank, slate) or the program is off.
	ProgramVisible bool      `json:"program_visible"`
	ExpiresAt      time.Time `json:"expires_at"`
}

// overrideShown is the override display d shows at instant at, by the
// rules of docs/evaluation.md §15 (protocol.Shown): of the overrides
// addressed to it that are in force at that instant and not cancelled by
// then (with wake when the program is off), the one that outranks the
// others; nil if none.
func (s *Server) overrideShown(d store.Display, at time.Time, off bool) (*nowOverride, error) {
	ctx, cancel := s.timeout()
	defer cancel()
	list, err := s.store.UnexpiredOverridesFor(ctx, d.ID, at)
	if err != nil {
		return nil, err
	}
	var held []protocol.OverrideSpec
	for _, o := range list {
		if !o.CancelledAt.IsZero() && !o.CancelledAt.After(at) {
			continue
		}
		var spec protocol.OverrideSpec
		if json.Unmarshal(o.Payload, &spec) != nil || !spec.For(d.OrgID, d.ID) {
			continue
		}
		held = append(held, spec)
	}
	o, ok := protocol.Shown(held, at, off)
	if !ok {
		return nil, nil
	}
	return &nowOverride{ID: o.ID, Level: o.Level, Presentation: o.Presentation, Position: o.Position,
		ProgramVisible: !off && !o.Covers(), ExpiresAt: o.ExpiresAt}, nil
}

func (s *Server) displaySMIL(c *fiber.Ctx) error {
	cp, _, err := s.displayProgram(c)
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
	b, err := cp.SMIL(from, days)
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

// Proof-of-play pages.
const (
	defaultPlaysPage = 10000
	maxPlaysPage     = 10000
)

type playsCursor struct {
	From      int64  `json:"f"` // unix ms
	To        int64  `json:"t"`
	Start     string `json:"s"` // RFC 3339 with nanoseconds
	Zone      string `json:"z"`
	DisplayID string `json:"d"`
	RecordID  string `json:"r"`
}

// listPlays is the proof-of-play report: one page of the plays that
// started in [from, to) (at most 31 days), oldest first.
func (s *Server) listPlays(c *fiber.Ctx) error {
	limit := c.QueryInt("limit", defaultPlaysPage)
	if limit < 1 || limit > maxPlaysPage {
		return invalid(fmt.Sprintf("limit must be between 1 and %d", maxPlaysPage))
	}
	var from, to time.Time
	var after *store.PlayKey
	if v := c.Query("cursor"); v != "" {
		var pc playsCursor
		b, err := base64.RawURLEncoding.DecodeString(v)
		var st time.Time
		if err == nil {
			err = json.Unmarshal(b, &pc)
		}
		if err == nil {
			st, err = time.Parse(time.RFC3339Nano, pc.Start)
		}
		if err != nil || pc.To <= pc.From || pc.To-pc.From > maxTimelineSpan.Milliseconds() { // not signed: no more than a query
			return invalid("cursor is not one this server gave (use next_cursor as it came)")
		}
		from, to = time.UnixMilli(pc.From), time.UnixMilli(pc.To)
		after = &store.PlayKey{Start: st, Zone: pc.Zone, DisplayID: pc.DisplayID, RecordID: pc.RecordID}
	} else {
		now := time.Now()
		var err error
		if from, err = timeParam(c, "from", now.Add(-24*time.Hour)); err != nil {
			return err
		}
		if to, err = timeParam(c, "to", now.Add(time.Minute)); err != nil {
			return err
		}
		if !to.After(from) || to.Sub(from) > maxTimelineSpan {
			return invalid("to must be after from, at most 31 days later")
		}
	}
	ctx, cancel := s.timeout()
	defer cancel()
	list, err := s.store.Plays(ctx, who(c).OrgID, c.Query("display_id"), from, to, after, limit+1)
	if err != nil {
		return err
	}
	next := ""
	if len(list) > limit {
		list = list[:limit]
		k := list[limit-1].Key()
		b, _ := json.Marshal(playsCursor{From: from.UnixMilli(), To: to.UnixMilli(), Start: k.Start.UTC().Format(time.RFC3339Nano), Zone: k.Zone, DisplayID: k.DisplayID, RecordID: k.RecordID})
		next = base64.RawURLEncoding.EncodeToString(b)
	}
	out := make([]playView, 0, len(list))
	for _, p := range list {
		out = append(out, playView{DisplayID: p.DisplayID, RecordID: p.RecordID, Zone: p.Zone, ItemID: p.ItemID, SHA256: p.SHA256, ScheduleID: p.ScheduleID, Start: p.Start, End: p.End})
	}
	return c.JSON(fiber.Map{"plays": out, "next_cursor": next})
}
