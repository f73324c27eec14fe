package server

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"beacon/protocol"
	"beacon/server/cap"
	"beacon/server/store"
)

// The CAP intake (docs/cap.md, "Intake"): a CAP message, pushed to
// POST /api/v1/cap or read from a polled feed, is parsed and verified
// under its source's policy and becomes overrides through the same
// triggerOverride and endOverride the override API uses. Every message is
// recorded in the audit log, accepted or refused, with the reason.

// CAP outcomes.
const (
	capTriggered  = "triggered"   // overrides were made
	capCancelled  = "cancelled"   // a Cancel ended the overrides of its references
	capNoScreens  = "no_screens"  // status or scope not for public screens: recorded, nothing shown
	capNoDisplays = "no_displays" // its areas (or the test tag) match no display
	capExpired    = "expired"     // its expiry has passed
	capDuplicate  = "duplicate"   // the same key was accepted before
	capDryRun     = "dry_run"
)

// GeocodeTagPrefix: a CAP geocode VALUE targets displays tagged
// "geocode:VALUE".
const GeocodeTagPrefix = "geocode:"

type capAnswer struct {
	Outcome        string         `json:"outcome"`
	Reason         string         `json:"reason,omitempty"`
	Source         string         `json:"source"`
	Key            cap.Key        `json:"key"`
	Status         string         `json:"status"`
	MsgType        string         `json:"msg_type"`
	Level          string         `json:"level"`
	Audience       string         `json:"audience"`
	AudienceReason string         `json:"audience_reason"`
	Signature      cap.Verdict    `json:"signature"`
	Overrides      []overrideView `json:"overrides"`
	Cancelled      []string       `json:"cancelled"`
	DisplayIDs     []string       `json:"display_ids"`
	Duplicate      bool           `json:"duplicate,omitempty"`
	// Resources: what became of the alert's resource files (docs/cap.md).
	Resources []capResource `json:"resources"`
}

// capOrigin is who sent a message and how.
type capOrigin struct {
	p      principal
	addr   string     // client address, or the feed URL
	source *CAPSource // a feed's own source; nil chooses by sender
	dryRun bool
}

func (s *Server) capSourceFor(sender string) (CAPSource, bool) {
	for _, src := range s.capSources {
		if src.matches(sender) {
			return src, true
		}
	}
	return CAPSource{}, false
}

func (s *Server) postCAP(c *fiber.Ctx) error {
	ct := c.Get(fiber.HeaderContentType)
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil || (mt != "application/cap+xml" && mt != "application/xml" && mt != "text/xml") {
		return fail(fiber.StatusUnsupportedMediaType, "unsupported_media_type", "send the CAP document with Content-Type: application/cap+xml or application/xml (got "+ct+")")
	}
	o := capOrigin{p: who(c), addr: s.clientAddr(c), dryRun: c.QueryBool("dry_run")}
	ctx, cancel := s.timeout()
	defer cancel()
	ans, status, err := s.intakeCAP(ctx, o, bytes.Clone(c.Body()))
	if err != nil {
		return err
	}
	return c.Status(status).JSON(ans)
}

// refuseCAP records a refused message and returns the 422 error.
func (s *Server) refuseCAP(ctx context.Context, o capOrigin, a *cap.Alert, source, code, reason string) error {
	if !o.dryRun {
		subject, details := "", "source="+source+" "+code+": "+reason
		if a != nil {
			subject = a.Key().String()
		}
		s.audit(ctx, o.p, o.addr, store.AuditCAPRefused, subject, details)
		s.log.Warn("CAP refused", "source", source, "key", subject, "code", code, "reason", reason, "from", o.addr)
	}
	return unprocessable(code, reason)
}

// intakeCAP is the one path of every CAP message, pushed or polled.
func (s *Server) intakeCAP(ctx context.Context, o capOrigin, data []byte) (capAnswer, int, error) {
	var src CAPSource
	if o.source != nil {
		src = *o.source
	} else {
		pre, err := cap.Parse(data, cap.Options{MaxBytes: s.cfg.MaxJSONBody})
		if err != nil {
			r, _ := cap.Refusal(err)
			if r == nil {
				r = &cap.RefusedError{Code: cap.CodeInvalid, Reason: err.Error()}
			}
			return capAnswer{}, 0, s.refuseCAP(ctx, o, nil, "", r.Code, r.Reason)
		}
		var ok bool
		if src, ok = s.capSourceFor(pre.Sender); !ok {
			return capAnswer{}, 0, s.refuseCAP(ctx, o, pre, "", "unknown_sender", "no configured CAP source covers sender "+pre.Sender)
		}
	}
	chk := src.check()
	if o.source == nil {
		chk.Options.MaxBytes = s.cfg.MaxJSONBody
	}
	a, verdict, err := chk.Check(data, time.Time{})
	if err != nil {
		r, _ := cap.Refusal(err)
		if r == nil {
			r = &cap.RefusedError{Code: cap.CodeInvalid, Reason: err.Error()}
		}
		return capAnswer{}, 0, s.refuseCAP(ctx, o, a, src.ID, r.Code, r.Reason)
	}
	au, why := a.Audience()
	ans := capAnswer{Source: src.ID, Key: a.Key(), Status: a.Status, MsgType: a.MsgType, Level: string(a.Level()),
		Audience: string(au), AudienceReason: why, Signature: verdict, Overrides: []overrideView{}, Cancelled: []string{}, DisplayIDs: []string{}, Resources: []capResource{}}
	key := a.Key().String()

	s.capMu.Lock() // one message at a time: duplicates and references see each other
	defer s.capMu.Unlock()
	if prev, err := s.store.CAPMessageByKey(ctx, o.p.OrgID, key); err == nil {
		var old capAnswer
		if err := json.Unmarshal(prev.Result, &old); err != nil || old.Outcome == "" {
			old = ans
			old.Outcome = prev.Outcome
		}
		old.Duplicate = true
		if !o.dryRun && o.source == nil { // a feed repeats its messages: not recorded each poll
			s.audit(ctx, o.p, o.addr, store.AuditCAPDuplicate, key, "source="+src.ID+" first received "+prev.CreatedAt.Format(time.RFC3339))
		}
		return old, fiber.StatusOK, nil
	} else if !errors.Is(err, store.ErrNotFound) {
		return capAnswer{}, 0, err
	}

	now := time.Now().UTC()
	// The overrides of the messages this one updates or cancels.
	var superseded []store.Override
	if au != cap.AudienceNone {
		for _, ref := range a.Supersedes() {
			m, err := s.store.CAPMessageByKey(ctx, o.p.OrgID, ref.String())
			if errors.Is(err, store.ErrNotFound) {
				continue
			}
			if err != nil {
				return capAnswer{}, 0, err
			}
			// Only a message of the same source and status ends another:
			// a Test never ends an Actual alert, one authority never
			// another's.
			if m.Source != src.ID || m.Status != a.Status {
				continue
			}
			for _, id := range m.OverrideIDs {
				ov, err := s.store.Override(ctx, o.p.OrgID, id)
				if err == nil && ov.Live(now) {
					superseded = append(superseded, ov)
				}
			}
		}
	}

	status := fiber.StatusOK
	var made []store.Override
	switch {
	case au == cap.AudienceNone:
		ans.Outcome, ans.Reason = capNoScreens, why
	case a.MsgType == cap.MsgCancel:
		ans.Outcome = capCancelled
	default:
		req, expired := s.capRequest(a, au, now)
		if expired {
			ans.Outcome, ans.Reason = capExpired, "its expiry has passed"
			if !o.dryRun {
				break
			}
		}
		if o.dryRun { // the displays it would reach, even when expired
			ans.Resources = planResources(src, a)
			ov, _, err := s.buildOverride(ctx, o.p, req, now)
			if err != nil && !isNoDisplays(err) {
				return capAnswer{}, 0, s.refuseCAP(ctx, o, a, src.ID, apiCode(err), err.Error())
			}
			ans.DisplayIDs = nonNil(ov.DisplayIDs)
			break
		}
		// Its resources, fetched and made ready (bounded by the source's
		// resource_timeout); what cannot be had leaves the text alone.
		req.Media, ans.Resources = s.capResources(ctx, o.p.OrgID, src, a)
		now = time.Now().UTC()
		ov, _, err := s.triggerOverride(ctx, o.p, o.addr, req, "", now)
		switch {
		case isNoDisplays(err):
			ans.Outcome, ans.Reason = capNoDisplays, err.Error()
		case err != nil:
			return capAnswer{}, 0, s.refuseCAP(ctx, o, a, src.ID, apiCode(err), err.Error())
		default:
			made = append(made, ov)
			ans.Outcome = capTriggered
			ans.DisplayIDs = nonNil(ov.DisplayIDs)
			status = fiber.StatusCreated
		}
	}
	if o.dryRun {
		ans.Outcome = capDryRun
		for _, ov := range superseded {
			ans.Cancelled = append(ans.Cancelled, ov.ID)
		}
		return ans, fiber.StatusOK, nil
	}
	// An Update replaces (the new override is on screen first), a Cancel ends.
	for _, ov := range superseded {
		if _, err := s.endOverride(ctx, o.p, o.addr, ov, now); err == nil {
			ans.Cancelled = append(ans.Cancelled, ov.ID)
		} else if !errors.Is(err, store.ErrConflict) {
			s.log.Error("CAP: end superseded override", "override", ov.ID, "err", err)
		}
	}
	var ids []string
	for _, ov := range made {
		ans.Overrides = append(ans.Overrides, viewOverride(ov, now))
		ids = append(ids, ov.ID)
	}
	result, _ := json.Marshal(ans)
	if _, err := s.store.RecordCAPMessage(ctx, store.CAPMessage{OrgID: o.p.OrgID, Source: src.ID, Key: key, Status: a.Status, MsgType: a.MsgType,
		Outcome: ans.Outcome, OverrideIDs: ids, Result: result, ReceivedBy: actor(o.p), ReceivedFrom: o.addr, CreatedAt: now}); err != nil {
		s.log.Error("CAP: record message", "key", key, "err", err)
	}
	details := fmt.Sprintf("source=%s status=%s msg_type=%s level=%s signature=%s outcome=%s overrides=%s cancelled=%s",
		src.ID, a.Status, a.MsgType, ans.Level, verdict.Kind, ans.Outcome, strings.Join(ids, ","), strings.Join(ans.Cancelled, ","))
	if ans.Reason != "" {
		details += " reason=" + ans.Reason
	}
	for i, r := range ans.Resources {
		if r.Error != "" {
			details += fmt.Sprintf(" resource%d=not shown: %s", i+1, r.Error)
		} else {
			details += fmt.Sprintf(" resource%d=media %s (%s)", i+1, r.MediaID, r.Kind)
		}
	}
	s.audit(ctx, o.p, o.addr, store.AuditCAPAccepted, key, details)
	s.log.Warn("CAP accepted", "source", src.ID, "key", key, "outcome", ans.Outcome, "overrides", ids, "cancelled", ans.Cancelled)
	return ans, status, nil
}

func isNoDisplays(err error) bool {
	var ae *apiError
	return errors.As(err, &ae) && ae.Code == "no_displays"
}

func apiCode(err error) string {
	var ae *apiError
	if errors.As(err, &ae) {
		return ae.Code
	}
	return "invalid"
}

// capRequest maps an accepted alert to an override request: level from
// the alert, fullscreen for critical and a bottom banner otherwise, one
// text per base language, the areas (polygons, circles; geocodes as
// "geocode:VALUE" tags) or every display when it has none that a
// display can match (no area, or only an areaDesc), Test to
// displays tagged "test" only, and its expiry (the default when it has
// none, cut to the configured maximum). expired is true when its expiry
// has passed.
func (s *Server) capRequest(a *cap.Alert, au cap.Audience, now time.Time) (req overrideRequest, expired bool) {
	req.Level = string(a.Level())
	req.Presentation = protocol.PresentFullscreen
	if req.Level != protocol.LevelCritical {
		req.Presentation, req.Position = protocol.PresentBanner, "bottom"
	}
	req.Text = map[string]string{}
	for lang, t := range a.Texts() {
		req.Text[lang] = t.Body()
	}
	t := store.Targets{}
	for _, ar := range a.Areas() {
		for _, p := range ar.Polygons {
			var pts [][2]float64
			for _, q := range p {
				pts = append(pts, [2]float64{q.Lat, q.Lon})
			}
			t.Areas = append(t.Areas, store.Area{Polygon: pts})
		}
		for _, c := range ar.Circles {
			t.Areas = append(t.Areas, store.Area{Circle: &store.Circle{Lat: c.Center.Lat, Lon: c.Center.Lon, RadiusKm: c.RadiusKm}})
		}
		for _, g := range ar.Geocodes {
			if g.Value != "" && !slices.Contains(t.Tags, GeocodeTagPrefix+g.Value) {
				t.Tags = append(t.Tags, GeocodeTagPrefix+g.Value)
			}
		}
	}
	sort.Strings(t.Tags)
	if len(t.Areas)+len(t.Tags) == 0 { // no area, or areas described in words only
		t.All = true
	}
	if au == cap.AudienceTest {
		t.OnlyTags = []string{cap.TestTag}
	}
	req.Targets = &t
	// effective (or onset) in the future: the override starts then.
	if st := a.Start(); st.After(now) {
		st = st.UTC()
		req.StartsAt = &st
	}
	if exp, ok := a.Expires(); ok {
		if !exp.After(now) {
			return req, true
		}
		if max := now.Add(s.cfg.OverrideMaxExpiry); exp.After(max) {
			exp = max
		}
		e := exp.UTC()
		req.ExpiresAt = &e
	}
	return req, false
}
