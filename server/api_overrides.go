package server

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"beacon/protocol"
	"beacon/server/cap"
	"beacon/server/store"
)

// Emergency overrides (docs/emergency.md). Triggering resolves the
// targets to display ids, signs the override once, stores it and hands it
// to the delivery service, which queues the same frame to every targeted
// session and then stores one delivery per display: nothing on this path
// waits on content compilation or takes the edit lock.

// Defaults of overrides.
const (
	DefaultOverrideExpiry    = time.Hour
	DefaultOverrideMaxExpiry = 24 * time.Hour
	maxIdempotencyKey        = 200
	maxOverrideTargets       = 10000
)

// DefaultLanguages is the order of an override's texts on a display
// without languages of its own, unless the server is given another
// (--languages): Vietnamese, then English, then Chinese.
var DefaultLanguages = []string{"vi", "en", "zh"}

type overrideRequest struct {
	Level        string            `json:"level"`
	Presentation string            `json:"presentation"`
	Position     string            `json:"position"`
	Text         map[string]string `json:"text"`
	Languages    []string          `json:"languages"`
	LangMode     string            `json:"lang_mode"`
	RotateS      float64           `json:"rotate_s"`
	Media        []string          `json:"media"`
	Tone         *protocol.Tone    `json:"tone"`
	Targets      *store.Targets    `json:"targets"`
	StartsAt     *time.Time        `json:"starts_at"`
	ExpiresInS   *float64          `json:"expires_in_s"`
	ExpiresAt    *time.Time        `json:"expires_at"`
	Wake         *bool             `json:"wake"`
}

type overrideView struct {
	ID           string            `json:"id"`
	Level        string            `json:"level"`
	Presentation string            `json:"presentation"`
	Position     string            `json:"position,omitempty"`
	Text         map[string]string `json:"text"`
	Languages    []string          `json:"languages"`
	LangMode     string            `json:"lang_mode,omitempty"`
	Media        []string          `json:"media"`
	Tone         *protocol.Tone    `json:"tone,omitempty"`
	Targets      store.Targets     `json:"targets"`
	DisplayIDs   []string          `json:"display_ids"`
	StartsAt     time.Time         `json:"starts_at"`
	ExpiresAt    time.Time         `json:"expires_at"`
	Wake         bool              `json:"wake"`
	Status       string            `json:"status"` // scheduled, active, cancelled or expired
	CreatedBy    string            `json:"created_by"`
	CreatedFrom  string            `json:"created_from"`
	CreatedAt    time.Time         `json:"created_at"`
	CancelledAt  *time.Time        `json:"cancelled_at"`
	CancelledBy  string            `json:"cancelled_by,omitempty"`
	Revision     int64             `json:"revision"`
	// Deliveries counts displays per delivery state (GET by id only).
	Deliveries map[string]int `json:"deliveries,omitempty"`
}

func overrideStatus(o store.Override, now time.Time) string {
	switch {
	case !o.CancelledAt.IsZero():
		return "cancelled"
	case !now.Before(o.ExpiresAt):
		return "expired"
	case now.Before(o.StartsAt):
		return "scheduled"
	}
	return "active"
}

func viewOverride(o store.Override, now time.Time) overrideView {
	v := overrideView{ID: o.ID, Level: o.Level, Presentation: o.Presentation, Position: o.Position, Text: o.Texts,
		Languages: nonNil(o.Languages), LangMode: o.LangMode, Media: nonNil(o.MediaIDs), Targets: o.Targets,
		DisplayIDs: nonNil(o.DisplayIDs), StartsAt: o.StartsAt, ExpiresAt: o.ExpiresAt, Wake: o.Wake,
		Status: overrideStatus(o, now), CreatedBy: o.CreatedBy, CreatedFrom: o.CreatedFrom, CreatedAt: o.CreatedAt,
		CancelledBy: o.CancelledBy, Revision: o.Revision}
	if o.ToneKind != "" {
		v.Tone = &protocol.Tone{Kind: o.ToneKind, Repeat: o.ToneRepeat}
	}
	if !o.CancelledAt.IsZero() {
		t := o.CancelledAt
		v.CancelledAt = &t
	}
	if v.Text == nil {
		v.Text = map[string]string{}
	}
	return v
}

// needAny admits callers whose role is one of roles.
func needAny(roles ...string) fiber.Handler {
	return func(c *fiber.Ctx) error {
		if !slices.Contains(roles, who(c).Role) {
			return fail(fiber.StatusForbidden, "forbidden", "this needs one of the roles: "+strings.Join(roles, ", "))
		}
		return c.Next()
	}
}

// actor names the caller in the audit log and on the override.
func actor(p principal) string {
	if p.Source != "" {
		return "cap-source:" + p.Source
	}
	if p.UserID != "" {
		return "user:" + p.UserID
	}
	return "token:" + p.Token
}

func checkPoint(lat, lon float64) bool {
	return !math.IsNaN(lat) && !math.IsNaN(lon) && lat >= -90 && lat <= 90 && lon >= -180 && lon <= 180
}

func checkTargets(t *store.Targets) error {
	if t == nil {
		return invalid(`targets is required: {"all":true}, clusters, displays, tags or area`)
	}
	if !t.All && len(t.Clusters)+len(t.Displays)+len(t.Tags)+len(t.Areas) == 0 && t.Area == nil {
		return invalid(`targets names nothing: give {"all":true}, clusters, displays, tags or an area`)
	}
	if len(t.Clusters)+len(t.Displays)+len(t.Tags) > maxOverrideTargets {
		return invalid(fmt.Sprintf("targets: at most %d clusters, displays and tags together", maxOverrideTargets))
	}
	if len(t.Areas) > 100 {
		return invalid("targets.areas: at most 100 areas")
	}
	if len(t.OnlyTags) > maxOverrideTargets {
		return invalid(fmt.Sprintf("targets.only_tags: at most %d tags", maxOverrideTargets))
	}
	if t.Area != nil {
		if err := checkArea("targets.area", t.Area); err != nil {
			return err
		}
	}
	for i := range t.Areas {
		if err := checkArea(fmt.Sprintf("targets.areas[%d]", i), &t.Areas[i]); err != nil {
			return err
		}
	}
	return nil
}

// checkArea validates one polygon or circle; field names it in errors.
func checkArea(field string, a *store.Area) error {
	switch {
	case (len(a.Polygon) > 0) == (a.Circle != nil):
		return invalid(field + ": give either polygon (a list of [lat, lon] points) or circle {lat, lon, radius_km}")
	case a.Circle != nil:
		if !checkPoint(a.Circle.Lat, a.Circle.Lon) {
			return invalid(field + ".circle: lat must be -90..90 and lon -180..180")
		}
		if !(a.Circle.RadiusKm >= 0 && a.Circle.RadiusKm <= 20000) {
			return invalid(field + ".circle.radius_km must be 0 to 20000")
		}
	default:
		if len(a.Polygon) < 3 || len(a.Polygon) > 10000 {
			return invalid(field + ".polygon needs 3 to 10000 [lat, lon] points")
		}
		for i, p := range a.Polygon {
			if !checkPoint(p[0], p[1]) {
				return invalid(fmt.Sprintf("%s.polygon[%d]: lat must be -90..90 and lon -180..180", field, i))
			}
		}
	}
	return nil
}

// inArea reports whether a display's location lies in the area (a
// display without a location is in no area).
func inArea(a *store.Area, d store.Display) bool {
	if a == nil || d.Latitude == nil || d.Longitude == nil {
		return false
	}
	p := cap.Point{Lat: *d.Latitude, Lon: *d.Longitude}
	if a.Circle != nil {
		return cap.Circle{Center: cap.Point{Lat: a.Circle.Lat, Lon: a.Circle.Lon}, RadiusKm: a.Circle.RadiusKm}.Contains(p)
	}
	poly := make(cap.Polygon, 0, len(a.Polygon)+1)
	for _, q := range a.Polygon {
		poly = append(poly, cap.Point{Lat: q[0], Lon: q[1]})
	}
	if poly[0] != poly[len(poly)-1] {
		poly = append(poly, poly[0])
	}
	return poly.Contains(p)
}

// resolveTargets turns targets into the ids of the organisation's
// displays they name (a display is targeted when any part names it).
func (s *Server) resolveTargets(ctx context.Context, orgID string, t store.Targets) ([]string, error) {
	if t.All && len(t.Displays) == 0 && len(t.Clusters) == 0 {
		// Every display: their ids only (nothing else to check), which at
		// 10,000 displays is a tenth of reading and decoding every row.
		return s.store.DisplayIDs(ctx, orgID)
	}
	ds, err := s.store.Displays(ctx, orgID)
	if err != nil {
		return nil, err
	}
	known := map[string]bool{}
	for _, d := range ds {
		known[d.ID] = true
	}
	for _, id := range t.Displays {
		if !known[id] {
			return nil, invalid("targets.displays: no such display: " + id)
		}
	}
	for _, id := range t.Clusters {
		if _, err := s.store.Cluster(ctx, orgID, id); err != nil {
			if errors.Is(err, store.ErrNotFound) {
				return nil, invalid("targets.clusters: no such cluster: " + id)
			}
			return nil, err
		}
	}
	var ids []string
	for _, d := range ds {
		if t.All || slices.Contains(t.Displays, d.ID) || (d.ClusterID != "" && slices.Contains(t.Clusters, d.ClusterID)) ||
			slices.ContainsFunc(d.Tags, func(tag string) bool { return slices.Contains(t.Tags, tag) }) || inArea(t.Area, d) ||
			slices.ContainsFunc(t.Areas, func(a store.Area) bool { return inArea(&a, d) }) {
			if len(t.OnlyTags) > 0 && !slices.ContainsFunc(d.Tags, func(tag string) bool { return slices.Contains(t.OnlyTags, tag) }) {
				continue
			}
			ids = append(ids, d.ID)
		}
	}
	sort.Strings(ids)
	return ids, nil
}

func (s *Server) createOverride(c *fiber.Ctx) error {
	p := who(c)
	addr := s.clientAddr(c)
	idem := strings.TrimSpace(c.Get("Idempotency-Key"))
	if len(idem) > maxIdempotencyKey {
		return invalid(fmt.Sprintf("Idempotency-Key is longer than %d characters", maxIdempotencyKey))
	}
	ctx, cancel := s.timeout()
	defer cancel()
	now := time.Now().UTC()
	if idem != "" {
		if prev, err := s.store.OverrideByIdemKey(ctx, p.OrgID, p.Token, idem); err == nil {
			s.delivery.Settled(ctx, prev.ID) // its deliveries are listed once this answers
			c.Set("Idempotent-Replayed", "true")
			return c.Status(fiber.StatusCreated).JSON(viewOverride(prev, now))
		} else if !errors.Is(err, store.ErrNotFound) {
			return err
		}
	}
	var req overrideRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	stored, replayed, err := s.triggerOverride(ctx, p, addr, req, idem, now)
	if err != nil {
		return err
	}
	if replayed {
		c.Set("Idempotent-Replayed", "true")
	}
	return c.Status(fiber.StatusCreated).JSON(viewOverride(stored, now))
}

// triggerOverride is the one path that makes an override: validate and
// resolve the request, sign, store, announce to the delivery service
// (which sends it, then stores its deliveries), and record it (or the refusal) in the audit log. The
// override API and the CAP intake both use it. replayed is true when the
// idempotency key named an override made before.
func (s *Server) triggerOverride(ctx context.Context, p principal, addr string, req overrideRequest, idem string, now time.Time) (store.Override, bool, error) {
	o, spec, err := s.buildOverride(ctx, p, req, now)
	if err != nil {
		s.auditRefused(ctx, p, addr, err)
		return store.Override{}, false, err
	}
	signed, err := protocol.SignOverride(s.key, spec)
	if err != nil {
		return store.Override{}, false, unprocessable("invalid_override", err.Error())
	}
	if frame, err := protocol.Encode(protocol.TypeOverride, signed); err != nil {
		return store.Override{}, false, unprocessable("too_large", "the override would not fit in one protocol message ("+err.Error()+"); shorten its texts or target fewer displays by id")
	} else if len(frame) > protocol.MaxFrameSize {
		return store.Override{}, false, unprocessable("too_large", "the override would not fit in one protocol message")
	}
	o.Payload, o.Signature = signed.Payload, signed.Signature
	o.CreatedBy, o.CreatedFrom, o.CreatedAt = actor(p), addr, now
	o.IdemToken, o.IdemKey = p.Token, idem
	// The override alone is stored first (a reconnecting player, another
	// server or an ack finds it there), then Announce queues the frame to
	// the sessions and only then writes the deliveries, each in its final
	// state: the screens do not wait for 10,000 rows.
	stored, err := s.store.InsertOverride(ctx, o)
	if errors.Is(err, store.ErrConflict) { // the same key, a concurrent retry
		s.delivery.Settled(ctx, stored.ID)
		return stored, true, nil
	}
	if err != nil {
		return store.Override{}, false, err
	}
	s.delivery.Announce(stored)
	s.log.Warn("OVERRIDE triggered", "override", stored.ID, "level", stored.Level, "presentation", stored.Presentation,
		"displays", len(stored.DisplayIDs), "by", stored.CreatedBy, "from", addr)
	details := fmt.Sprintf("level=%s presentation=%s displays=%d expires_at=%s", o.Level, o.Presentation, len(o.DisplayIDs), o.ExpiresAt.Format(time.RFC3339))
	s.audit(ctx, p, addr, store.AuditOverrideTrigger, stored.ID, details)
	if o.Presentation == protocol.PresentBlank || o.Presentation == protocol.PresentSlate {
		s.audit(ctx, p, addr, store.AuditKillSwitch, stored.ID, details)
		msg := fmt.Sprintf("kill switch: %s override %s on %d displays by %s from %s", o.Presentation, stored.ID, len(o.DisplayIDs), stored.CreatedBy, addr)
		if _, _, err := s.store.CreateIncident(ctx, store.Incident{OrgID: p.OrgID, Kind: "kill_switch", Message: msg}); err != nil {
			s.log.Error("record kill switch incident", "err", err)
		}
	}
	return stored, false, nil
}

// buildOverride validates a request and builds the stored override and
// the spec to sign.
func (s *Server) buildOverride(ctx context.Context, p principal, req overrideRequest, now time.Time) (store.Override, protocol.OverrideSpec, error) {
	var o store.Override
	if protocol.LevelRank(req.Level) == 0 {
		return o, protocol.OverrideSpec{}, invalid("level must be info, warning or critical")
	}
	switch req.Presentation {
	case protocol.PresentFullscreen, protocol.PresentBanner, protocol.PresentBlank, protocol.PresentSlate:
	case "":
		return o, protocol.OverrideSpec{}, invalid("presentation is required: fullscreen, banner, blank or slate")
	default:
		return o, protocol.OverrideSpec{}, invalid("presentation must be fullscreen, banner, blank or slate")
	}
	if req.Position != "" && req.Presentation != protocol.PresentBanner {
		return o, protocol.OverrideSpec{}, invalid("position applies to banners only")
	}
	for lang, t := range req.Text {
		if lang == "" || len(lang) > 16 || strings.ContainsAny(lang, " \t\n") {
			return o, protocol.OverrideSpec{}, invalid(fmt.Sprintf("text: %q is not a language code (vi, en, zh…)", lang))
		}
		if strings.TrimSpace(t) == "" {
			return o, protocol.OverrideSpec{}, invalid("text." + lang + " is empty")
		}
	}
	if len(req.Languages) > 32 {
		return o, protocol.OverrideSpec{}, invalid("languages: at most 32")
	}
	if req.RotateS < 0 || req.RotateS > 600 {
		return o, protocol.OverrideSpec{}, invalid("rotate_s must be between 0 (default) and 600 seconds")
	}
	if len(req.Media) > 16 {
		return o, protocol.OverrideSpec{}, invalid("media: at most 16 items")
	}
	if err := checkTargets(req.Targets); err != nil {
		return o, protocol.OverrideSpec{}, err
	}
	starts := now
	if req.StartsAt != nil && req.StartsAt.After(now) {
		starts = req.StartsAt.UTC()
	}
	if starts.Sub(now) > 30*24*time.Hour {
		return o, protocol.OverrideSpec{}, invalid("starts_at is more than 30 days away")
	}
	maxExp := s.cfg.OverrideMaxExpiry
	var expires time.Time
	switch {
	case req.ExpiresAt != nil && req.ExpiresInS != nil:
		return o, protocol.OverrideSpec{}, invalid("give expires_at or expires_in_s, not both")
	case req.ExpiresAt != nil:
		expires = req.ExpiresAt.UTC()
	case req.ExpiresInS != nil:
		if !(*req.ExpiresInS > 0) || math.IsInf(*req.ExpiresInS, 0) {
			return o, protocol.OverrideSpec{}, invalid("expires_in_s must be more than 0")
		}
		if *req.ExpiresInS > maxExp.Seconds() {
			return o, protocol.OverrideSpec{}, invalid(fmt.Sprintf("expires_in_s is over the maximum of %.0f seconds (--override-max-expiry)", maxExp.Seconds()))
		}
		expires = starts.Add(time.Duration(*req.ExpiresInS * float64(time.Second)))
	default:
		expires = starts.Add(DefaultOverrideExpiry)
	}
	if !expires.After(starts) {
		return o, protocol.OverrideSpec{}, invalid("expires_at must be after starts_at (and in the future)")
	}
	if expires.Sub(starts) > maxExp {
		return o, protocol.OverrideSpec{}, invalid(fmt.Sprintf("an override lasts at most %s (--override-max-expiry)", maxExp))
	}
	wake := req.Level == protocol.LevelCritical
	if req.Wake != nil {
		wake = *req.Wake
	}
	tone := req.Tone
	if tone == nil && req.Presentation != protocol.PresentBlank && req.Presentation != protocol.PresentSlate {
		switch req.Level {
		case protocol.LevelCritical:
			tone = &protocol.Tone{Kind: "alert", Repeat: 3}
		case protocol.LevelWarning:
			tone = &protocol.Tone{Kind: "alert", Repeat: 1}
		}
	}
	if tone != nil && tone.Kind != "alert" && tone.Kind != "none" {
		return o, protocol.OverrideSpec{}, invalid("tone.kind must be alert or none")
	}
	var files []protocol.File
	for _, id := range req.Media {
		m, err := s.store.Media(ctx, p.OrgID, id)
		if errors.Is(err, store.ErrNotFound) {
			return o, protocol.OverrideSpec{}, invalid("media: no such media item: " + id)
		}
		if err != nil {
			return o, protocol.OverrideSpec{}, err
		}
		if m.Status != store.MediaReady {
			return o, protocol.OverrideSpec{}, invalid("media: item " + id + " is not ready (" + m.Status + ")")
		}
		// Players get renditions, never originals: one payload goes to every
		// display, so it names the largest rendition (players scale it).
		rs, err := s.store.Renditions(ctx, m.ID)
		if err != nil {
			return o, protocol.OverrideSpec{}, err
		}
		best := -1
		for i, r := range rs {
			if r.Profile == svgProfile {
				continue // an SVG's sanitised document: screens get its rasterised renditions
			}
			if best < 0 || r.Width*r.Height > rs[best].Width*rs[best].Height || (r.Width*r.Height == rs[best].Width*rs[best].Height && r.Size > rs[best].Size) {
				best = i
			}
		}
		if best < 0 {
			return o, protocol.OverrideSpec{}, invalid("media: item " + id + " has no rendition for displays yet (it is made for the panels of paired displays)")
		}
		r := rs[best]
		files = append(files, protocol.File{SHA256: r.SHA256, Size: r.Size, URL: filesPath + r.SHA256, Profile: r.Profile, ContentType: r.ContentType})
	}
	ids, err := s.resolveTargets(ctx, p.OrgID, *req.Targets)
	if err != nil {
		return o, protocol.OverrideSpec{}, err
	}
	if len(ids) == 0 {
		return o, protocol.OverrideSpec{}, unprocessable("no_displays", "the targets match no display of the organisation (an area matches displays with a latitude and longitude)")
	}
	o = store.Override{ID: store.NewID("ovr"), OrgID: p.OrgID, Level: req.Level, Presentation: req.Presentation, Position: req.Position,
		Texts: req.Text, Languages: req.Languages, LangMode: req.LangMode, MediaIDs: req.Media, Targets: *req.Targets,
		AllDisplays: req.Targets.All, DisplayIDs: ids, StartsAt: starts, ExpiresAt: expires, Wake: wake, Revision: 1}
	if tone != nil {
		o.ToneKind, o.ToneRepeat = tone.Kind, tone.Repeat
	}
	spec := protocol.OverrideSpec{ID: o.ID, Revision: 1, Level: o.Level, Presentation: o.Presentation, Position: o.Position,
		Texts: o.Texts, Languages: o.Languages, LangMode: o.LangMode, RotateS: req.RotateS, Media: files, Tone: tone,
		StartsAt: starts, ExpiresAt: expires, Wake: wake, IssuedAt: now, OrgID: p.OrgID, AllDisplays: req.Targets.All}
	if len(o.Languages) == 0 {
		spec.DefaultLanguages = s.cfg.Languages
	}
	if !spec.AllDisplays {
		spec.DisplayIDs = ids
	}
	if err := spec.Check(); err != nil {
		return o, protocol.OverrideSpec{}, invalid(err.Error())
	}
	return o, spec, nil
}

func (s *Server) audit(ctx context.Context, p principal, addr, action, subject, details string) {
	if _, err := s.store.Audit(ctx, store.AuditEntry{OrgID: p.OrgID, Actor: actor(p), TokenID: p.Token, RemoteAddr: addr,
		Action: action, Subject: subject, Details: details}); err != nil {
		s.log.Error("audit log", "action", action, "err", err)
	}
}

// auditRefused records a refused trigger with the reason.
func (s *Server) auditRefused(ctx context.Context, p principal, addr string, err error) {
	var ae *apiError
	if errors.As(err, &ae) {
		s.audit(ctx, p, addr, store.AuditOverrideRefused, "", ae.Code+": "+ae.Message)
	}
}

func (s *Server) listOverrides(c *fiber.Ctx) error {
	ctx, cancel := s.timeout()
	defer cancel()
	now := time.Now().UTC()
	list, err := s.store.Overrides(ctx, who(c).OrgID, c.QueryBool("active"), now, maxListed)
	if err != nil {
		return err
	}
	return listPage(c, "overrides", list, func(o store.Override) string { return sortKey(timeKey(o.CreatedAt), o.ID) }, true, func(o store.Override) (any, error) {
		return viewOverride(o, now), nil
	})
}

func (s *Server) getOverride(c *fiber.Ctx) error {
	ctx, cancel := s.timeout()
	defer cancel()
	o, err := s.store.Override(ctx, who(c).OrgID, c.Params("id"))
	if err != nil {
		return err
	}
	ds, err := s.store.Deliveries(ctx, o.ID)
	if err != nil {
		return err
	}
	v := viewOverride(o, time.Now())
	v.Deliveries = map[string]int{}
	for _, d := range ds {
		v.Deliveries[d.State]++
	}
	return c.JSON(v)
}

func (s *Server) cancelOverride(c *fiber.Ctx) error {
	p := who(c)
	addr := s.clientAddr(c)
	ctx, cancel := s.timeout()
	defer cancel()
	o, err := s.store.Override(ctx, p.OrgID, c.Params("id"))
	if err != nil {
		return err
	}
	now := time.Now().UTC()
	o, err = s.endOverride(ctx, p, addr, o, now)
	if errors.Is(err, store.ErrConflict) {
		return fail(fiber.StatusConflict, "not_active", "override "+o.ID+" is already "+overrideStatus(o, now))
	}
	if err != nil {
		return err
	}
	return c.JSON(viewOverride(o, now))
}

// endOverride cancels an override: sign the cancel, store it, announce
// it and record it. ErrConflict when it was no longer live. The cancel
// API and the CAP intake (Update, Cancel) both use it.
func (s *Server) endOverride(ctx context.Context, p principal, addr string, o store.Override, now time.Time) (store.Override, error) {
	sig := protocol.SignCancel(s.key, o.ID, o.OrgID, now).Signature
	o, err := s.store.CancelOverride(ctx, p.OrgID, o.ID, actor(p), now, sig)
	if err != nil {
		return o, err
	}
	s.delivery.AnnounceCancel(o)
	s.log.Warn("OVERRIDE cancelled", "override", o.ID, "by", o.CancelledBy, "from", addr)
	s.audit(ctx, p, addr, store.AuditOverrideCancel, o.ID, "")
	return o, nil
}

type deliveryView struct {
	DisplayID  string     `json:"display_id"`
	State      string     `json:"state"`
	SentAt     *time.Time `json:"sent_at"`
	ReceivedAt *time.Time `json:"received_at"`
	PaintedAt  *time.Time `json:"painted_at"`
	EndedAt    *time.Time `json:"ended_at"`
	LatencyMS  *int64     `json:"latency_ms"`
	Error      string     `json:"error,omitempty"`
	UpdatedAt  time.Time  `json:"updated_at"`
}

func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

func (s *Server) listDeliveries(c *fiber.Ctx) error {
	ctx, cancel := s.timeout()
	defer cancel()
	id := c.Params("id")
	if err := s.store.OverrideInOrg(ctx, who(c).OrgID, id); err != nil {
		return err
	}
	limit, after, err := pageParams(c, defaultPageSize, maxPageSize)
	if err != nil {
		return err
	}
	// The page and one more (so that listPage knows whether one follows).
	ds, err := s.store.DeliveriesAfter(ctx, id, after, limit+1)
	if err != nil {
		return err
	}
	return listPage(c, "deliveries", ds, func(d store.Delivery) string { return d.DisplayID }, false, func(d store.Delivery) (any, error) {
		v := deliveryView{DisplayID: d.DisplayID, State: d.State, SentAt: timePtr(d.SentAt), ReceivedAt: timePtr(d.ReceivedAt),
			PaintedAt: timePtr(d.PaintedAt), EndedAt: timePtr(d.EndedAt), Error: d.Error, UpdatedAt: d.UpdatedAt}
		if d.LatencyMS >= 0 {
			l := d.LatencyMS
			v.LatencyMS = &l
		}
		return v, nil
	})
}

func (s *Server) listAudit(c *fiber.Ctx) error {
	ctx, cancel := s.timeout()
	defer cancel()
	list, err := s.store.AuditLog(ctx, who(c).OrgID, maxListed)
	if err != nil {
		return err
	}
	return listPage(c, "entries", list, func(e store.AuditEntry) string { return sortKey(timeKey(e.CreatedAt), e.ID) }, true, func(e store.AuditEntry) (any, error) {
		return fiber.Map{"id": e.ID, "actor": e.Actor, "token_id": e.TokenID, "remote_addr": e.RemoteAddr, "action": e.Action,
			"subject": e.Subject, "details": e.Details, "created_at": e.CreatedAt}, nil
	})
}
