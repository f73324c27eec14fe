package server

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"beacon/playlists"
	"beacon/server/store"
)

// Schedule warnings (docs/scheduling.md, "Warnings on save"): when a
// schedule is created or changed, the answer carries what the engine
// finds worth a look on each display the schedule reaches over the next
// warnPeriod (from the schedule's first date when that is later): equal
// priorities that merge, a schedule that never occurs or only outside
// operating hours, one hidden the whole time by higher priorities, an
// interrupt whose share cannot fit, zones without playlists. Each
// warning carries the engine's "why" at its start: what the display shows
// then and why. The schedule is saved either way.

const (
	warnPeriod      = 31 * 24 * time.Hour
	maxWarnDisplays = 50  // displays checked per save (the first by id)
	maxWarnings     = 100 // warnings per answer
	// whyScan bounds the search for an instant at which a warning's
	// schedules play.
	whyScan = 7 * 24 * time.Hour
)

type scheduleWarning struct {
	DisplayID   string    `json:"display_id"`
	DisplayName string    `json:"display_name"`
	Timezone    string    `json:"timezone"`
	Kind        string    `json:"kind"`
	ScheduleIDs []string  `json:"schedule_ids"`
	From        time.Time `json:"from"`
	To          time.Time `json:"to"`
	Message     string    `json:"message"`
	// Why is the engine's account of the display at WhyAt (the first
	// instant in [From, To) at which one of the schedules plays, else
	// From): what each zone shows and which schedule put it there, or
	// that the screen is off.
	Why   string    `json:"why"`
	WhyAt time.Time `json:"why_at"`
}

// scheduleWarnings checks the saved schedule id on the displays it targets.
func (s *Server) scheduleWarnings(ctx context.Context, orgID string, d store.Doc) ([]scheduleWarning, error) {
	var sc playlists.Schedule
	if err := json.Unmarshal(d.Body, &sc); err != nil {
		return nil, err
	}
	sc.ID = d.ID
	ds, err := s.store.Displays(ctx, orgID)
	if err != nil {
		return nil, err
	}
	var targets []store.Display
	for _, disp := range ds {
		if slices.Contains(sc.Target.DisplayIDs, disp.ID) || (disp.ClusterID != "" && slices.Contains(sc.Target.ClusterIDs, disp.ClusterID)) ||
			slices.ContainsFunc(disp.Tags, func(t string) bool { return slices.Contains(sc.Target.Tags, t) }) {
			targets = append(targets, disp)
		}
	}
	slices.SortFunc(targets, func(a, b store.Display) int { return strings.Compare(a.ID, b.ID) })
	if len(targets) > maxWarnDisplays {
		targets = targets[:maxWarnDisplays]
	}
	out := []scheduleWarning{}
	if len(targets) == 0 {
		return out, nil
	}
	oc, err := s.loadOrgContent(ctx, orgID)
	if err != nil {
		return nil, err
	}
	now := time.Now()
	for _, disp := range targets {
		cp, _ := s.compileProgram(oc, disp, now)
		tz := cp.Program().Timezone
		loc, err := time.LoadLocation(tz)
		if err != nil {
			loc = time.UTC
		}
		from := now
		if sc.From != "" {
			if t, err := time.ParseInLocation("2006-01-02", string(sc.From), loc); err == nil && t.After(from) {
				from = t
			}
		}
		for _, c := range cp.Conflicts(from, from.Add(warnPeriod)) {
			if !slices.Contains(c.ScheduleIDs, sc.ID) {
				continue
			}
			if len(out) == maxWarnings {
				return out, nil
			}
			at := c.From
			end := c.To
			if end.Sub(c.From) > whyScan {
				end = c.From.Add(whyScan)
			}
			if c.Kind == playlists.ConflictNever || c.Kind == playlists.ConflictOutsideHours {
				end = c.From // nothing of theirs plays: the why at From says what does
			}
			cp.Plays(c.From, end, playlists.Options{}, func(p playlists.Play) bool {
				if slices.Contains(c.ScheduleIDs, p.ScheduleID) {
					at = p.Start
					return false
				}
				return true
			})
			out = append(out, scheduleWarning{DisplayID: disp.ID, DisplayName: disp.Name, Timezone: tz, Kind: c.Kind,
				ScheduleIDs: c.ScheduleIDs, From: c.From.In(loc), To: c.To.In(loc), Message: c.Message, Why: engineWhy(cp, at), WhyAt: at.In(loc)})
		}
	}
	return out, nil
}

// engineWhy says what a display shows at t and why, in the engine's words.
func engineWhy(cp *playlists.Compiled, t time.Time) string {
	n := cp.At(t, playlists.Options{})
	if n.Off {
		return "off: " + n.Why
	}
	parts := []string{n.Why}
	for _, z := range n.Zones {
		if z.Why != "" && z.Why != n.Why {
			parts = append(parts, z.Zone+": "+z.Why)
		}
	}
	return strings.Join(parts, "; ")
}

// maxCalendarSpan bounds one calendar request: a month view shows six
// weeks.
const maxCalendarSpan = 45 * 24 * time.Hour

// displayCalendar answers the schedules in force on a display over
// [from, to) (default: the next 7 days; at most 45), each stretch marked
// shown or hidden by the engine, with the schedules' names: what the
// console's week and month calendars draw.
func (s *Server) displayCalendar(c *fiber.Ctx) error {
	from, err := timeParam(c, "from", time.Now())
	if err != nil {
		return err
	}
	to, err := timeParam(c, "to", from.Add(7*24*time.Hour))
	if err != nil {
		return err
	}
	if !to.After(from) || to.Sub(from) > maxCalendarSpan {
		return invalid("to must be after from, at most 45 days later")
	}
	cp, d, err := s.displayProgram(c)
	if err != nil {
		return err
	}
	tz := cp.Program().Timezone
	loc, err := time.LoadLocation(tz)
	if err != nil {
		loc = time.UTC
	}
	occ := cp.Occurrences(from, to)
	for i := range occ {
		occ[i].From, occ[i].To = occ[i].From.In(loc), occ[i].To.In(loc)
	}
	names := map[string]string{}
	for _, sc := range cp.Program().Schedules {
		names[sc.ID] = sc.Name
	}
	return c.JSON(fiber.Map{"display_id": d.ID, "timezone": tz, "from": from.In(loc), "to": to.In(loc),
		"occurrences": occ, "schedules": names, "hours": cp.Program().Hours})
}
