package server

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/gofiber/fiber/v2"

	"beacon/playlists"
	"beacon/server/store"
)

// docResource is a resource stored as a JSON document (items, layouts,
// schedules): the handlers read alike; check decodes, validates and
// normalises a request body into what is stored.
type docResource struct {
	table string
	noun  string // "item", "layout", "schedule"
	check func(s *Server, c *fiber.Ctx, id string, body []byte) ([]byte, error)
}

func (s *Server) docRoutes(api fiber.Router, path string, r docResource) {
	api.Get(path, s.listDocs(r))
	api.Post(path, need(store.RoleEditor), s.createDoc(r))
	api.Get(path+"/:id", s.getDoc(r))
	api.Put(path+"/:id", need(store.RoleEditor), s.updateDoc(r))
	api.Delete(path+"/:id", need(store.RoleEditor), s.deleteDoc(r))
}

// strict decodes JSON refusing unknown fields, so a misspelt rule is an
// error rather than silently ignored.
func strict(body []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return invalid("request body: " + err.Error())
	}
	return nil
}

func docView(d store.Doc) json.RawMessage {
	var m map[string]any
	_ = json.Unmarshal(d.Body, &m)
	if m == nil {
		m = map[string]any{}
	}
	m["id"], m["created_at"], m["updated_at"] = d.ID, d.CreatedAt, d.UpdatedAt
	b, _ := json.Marshal(m)
	return b
}

func (s *Server) listDocs(r docResource) fiber.Handler {
	return func(c *fiber.Ctx) error {
		ctx, cancel := s.timeout()
		defer cancel()
		docs, err := s.store.Docs(ctx, r.table, who(c).OrgID)
		if err != nil {
			return err
		}
		out := make([]json.RawMessage, 0, len(docs))
		for _, d := range docs {
			out = append(out, docView(d))
		}
		return c.JSON(fiber.Map{r.table: out})
	}
}

func (s *Server) getDoc(r docResource) fiber.Handler {
	return func(c *fiber.Ctx) error {
		ctx, cancel := s.timeout()
		defer cancel()
		d, err := s.store.Doc(ctx, r.table, who(c).OrgID, c.Params("id"))
		if errors.Is(err, store.ErrNotFound) {
			return fail(fiber.StatusNotFound, "not_found", "no such "+r.noun)
		}
		if err != nil {
			return err
		}
		return c.JSON(docView(d))
	}
}

func (s *Server) createDoc(r docResource) fiber.Handler {
	return func(c *fiber.Ctx) error {
		id := store.NewDocID(r.table)
		body, err := r.check(s, c, id, c.Body())
		if err != nil {
			return err
		}
		ctx, cancel := s.timeout()
		defer cancel()
		d, err := s.store.CreateDoc(ctx, r.table, store.Doc{ID: id, OrgID: who(c).OrgID, Body: body})
		if err != nil {
			return err
		}
		s.changed(d.OrgID)
		return c.Status(fiber.StatusCreated).JSON(docView(d))
	}
}

func (s *Server) updateDoc(r docResource) fiber.Handler {
	return func(c *fiber.Ctx) error {
		id := c.Params("id")
		ctx, cancel := s.timeout()
		defer cancel()
		if _, err := s.store.Doc(ctx, r.table, who(c).OrgID, id); errors.Is(err, store.ErrNotFound) {
			return fail(fiber.StatusNotFound, "not_found", "no such "+r.noun)
		}
		body, err := r.check(s, c, id, c.Body())
		if err != nil {
			return err
		}
		d, err := s.store.UpdateDoc(ctx, r.table, store.Doc{ID: id, OrgID: who(c).OrgID, Body: body})
		if err != nil {
			return err
		}
		s.changed(d.OrgID)
		return c.JSON(docView(d))
	}
}

func (s *Server) deleteDoc(r docResource) fiber.Handler {
	return func(c *fiber.Ctx) error {
		ctx, cancel := s.timeout()
		defer cancel()
		if err := s.notInUse(ctx, who(c).OrgID, c.Params("id")); err != nil {
			return err
		}
		err := s.store.DeleteDoc(ctx, r.table, who(c).OrgID, c.Params("id"))
		if errors.Is(err, store.ErrNotFound) {
			return fail(fiber.StatusNotFound, "not_found", "no such "+r.noun)
		}
		if err != nil {
			return err
		}
		s.changed(who(c).OrgID)
		return c.SendStatus(fiber.StatusNoContent)
	}
}

var itemsResource = docResource{table: store.Items, noun: "item", check: (*Server).checkItem}
var layoutsResource = docResource{table: store.Layouts, noun: "layout", check: (*Server).checkLayout}
var schedulesResource = docResource{table: store.Schedules, noun: "schedule", check: (*Server).checkSchedule}

var mediaKinds = map[playlists.Kind]bool{playlists.KindImage: true, playlists.KindVideo: true, playlists.KindAudio: true}

func (s *Server) checkItem(c *fiber.Ctx, id string, body []byte) ([]byte, error) {
	var it itemDoc
	if err := strict(body, &it); err != nil {
		return nil, err
	}
	it.ID = id
	switch it.Kind {
	case playlists.KindImage, playlists.KindVideo, playlists.KindAudio, playlists.KindWeb, playlists.KindText, playlists.KindClock:
	default:
		return nil, invalid("kind must be image, video, audio, web, text or clock")
	}
	if it.DurationS < 0 || it.DurationS > 86400 {
		return nil, invalid("duration_s must be between 0 and 86400 seconds")
	}
	if len(it.Variants) == 0 && it.Kind != playlists.KindClock {
		return nil, invalid("variants: give at least one language variant, e.g. {\"vi\": {...}}")
	}
	if len(it.Variants) == 0 { // a clock shows the time: one variant with no content
		it.Variants = map[string]variantDoc{"": {}}
	}
	ctx, cancel := s.timeout()
	defer cancel()
	trial := playlists.Item{ID: id, Kind: it.Kind, DurationS: it.DurationS, ValidFrom: it.ValidFrom, ValidUntil: it.ValidUntil,
		Dayparts: it.Dayparts, DefaultLang: it.DefaultLang, RefreshS: it.RefreshS, Text: it.Text, Clock: it.Clock, Variants: map[string]playlists.Variant{}}
	for lang, v := range it.Variants {
		where := fmt.Sprintf("variants[%q]", lang)
		switch {
		case mediaKinds[it.Kind]:
			if v.MediaID == "" {
				return nil, invalid(where + ".media_id is required for " + string(it.Kind) + " items")
			}
			m, err := s.store.Media(ctx, who(c).OrgID, v.MediaID)
			if errors.Is(err, store.ErrNotFound) {
				return nil, invalid(where + ".media_id: no such media item")
			}
			if err != nil {
				return nil, err
			}
			if playlists.Kind(m.Kind) != it.Kind {
				return nil, invalid(fmt.Sprintf("%s.media_id is %s, not %s", where, m.Kind, it.Kind))
			}
			trial.Variants[lang] = playlists.Variant{SHA256: m.SHA256}
		case it.Kind == playlists.KindWeb:
			u, err := url.Parse(v.URL)
			if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
				return nil, invalid(where + ".url must be an http or https URL")
			}
			trial.Variants[lang] = playlists.Variant{URL: v.URL}
		case it.Kind == playlists.KindText:
			if strings.TrimSpace(v.Text) == "" {
				return nil, invalid(where + ".text is required")
			}
			trial.Variants[lang] = playlists.Variant{Text: v.Text}
		default:
			trial.Variants[lang] = playlists.Variant{Text: v.Text}
		}
	}
	if it.DefaultLang == "" && len(it.Variants) > 0 {
		it.DefaultLang = sortedKeys(it.Variants)[0]
		trial.DefaultLang = it.DefaultLang
	}
	if _, ok := it.Variants[it.DefaultLang]; !ok && len(it.Variants) > 0 {
		return nil, invalid("default_lang must name one of the variants")
	}
	if err := trialProgram(playlists.Program{Items: []playlists.Item{trial}}); err != nil {
		return nil, err
	}
	return json.Marshal(it)
}

func (s *Server) checkLayout(c *fiber.Ctx, id string, body []byte) ([]byte, error) {
	var l playlists.Layout
	if err := strict(body, &l); err != nil {
		return nil, err
	}
	l.ID = id
	if len(l.Zones) == 0 {
		return nil, invalid("zones: a layout needs at least one zone")
	}
	for i := range l.Zones {
		if l.Zones[i].Unit == "" {
			l.Zones[i].Unit = playlists.UnitPercent
		}
	}
	if err := trialProgram(playlists.Program{Layouts: []playlists.Layout{l}}); err != nil {
		return nil, err
	}
	return json.Marshal(l)
}

// scheduleRequest is a schedule, or the short form {display_id, playlist_id}
// for an always-on playlist on one display.
type scheduleRequest struct {
	playlists.Schedule
	DisplayID  string `json:"display_id,omitempty"`
	PlaylistID string `json:"playlist_id,omitempty"`
}

func (s *Server) checkSchedule(c *fiber.Ctx, id string, body []byte) ([]byte, error) {
	var req scheduleRequest
	if err := strict(body, &req); err != nil {
		return nil, err
	}
	sc := req.Schedule
	sc.ID = id
	if req.DisplayID != "" {
		sc.Target.DisplayIDs = append(sc.Target.DisplayIDs, req.DisplayID)
	}
	if req.PlaylistID != "" {
		if sc.Content.PlaylistID != "" || sc.Content.LayoutID != "" {
			return nil, invalid("give playlist_id or content, not both")
		}
		sc.Content.PlaylistID = req.PlaylistID
	}
	if len(sc.Target.DisplayIDs)+len(sc.Target.ClusterIDs)+len(sc.Target.Tags) == 0 {
		return nil, invalid("target must name at least one display, cluster or tag")
	}
	if sc.Content.PlaylistID == "" && sc.Content.LayoutID == "" {
		return nil, invalid("content needs a playlist_id, or a layout_id with a playlist per zone")
	}
	org := who(c).OrgID
	ctx, cancel := s.timeout()
	defer cancel()
	for _, d := range sc.Target.DisplayIDs {
		if _, err := s.store.Display(ctx, org, d); err != nil {
			return nil, invalid("target.display_ids: no such display " + d)
		}
	}
	for _, cl := range sc.Target.ClusterIDs {
		if _, err := s.store.Cluster(ctx, org, cl); err != nil {
			return nil, invalid("target.cluster_ids: no such cluster " + cl)
		}
	}
	trial := playlists.Program{Schedules: []playlists.Schedule{sc}}
	pls := map[string]bool{}
	if sc.Content.PlaylistID != "" {
		pls[sc.Content.PlaylistID] = true
	}
	for _, p := range sc.Content.Zones {
		pls[p] = true
	}
	for _, p := range sortedKeys(pls) {
		if _, err := s.store.Playlist(ctx, org, p); err != nil {
			return nil, invalid("content: no such playlist " + p)
		}
		trial.Playlists = append(trial.Playlists, playlists.Playlist{ID: p, Entries: []playlists.Entry{}, Transition: playlists.Transition{Kind: "cut"}})
	}
	if sc.Content.LayoutID != "" {
		d, err := s.store.Doc(ctx, store.Layouts, org, sc.Content.LayoutID)
		if err != nil {
			return nil, invalid("content.layout_id: no such layout")
		}
		var l playlists.Layout
		_ = json.Unmarshal(d.Body, &l)
		l.ID = d.ID
		trial.Layouts = append(trial.Layouts, l)
	}
	if err := trialProgram(trial); err != nil {
		return nil, err
	}
	return json.Marshal(sc)
}

// trialProgram validates one object by the engine's own rules.
func trialProgram(p playlists.Program) error {
	p.Display = playlists.Display{ID: "trial", Width: 1920, Height: 1080}
	p.Timezone = playlists.DefaultTimezone
	if p.Items == nil {
		p.Items = []playlists.Item{}
	}
	if p.Playlists == nil {
		p.Playlists = []playlists.Playlist{}
	}
	if p.Layouts == nil {
		p.Layouts = []playlists.Layout{}
	}
	if p.Schedules == nil {
		p.Schedules = []playlists.Schedule{}
	}
	if err := p.Validate(); err != nil {
		return invalid(err.Error())
	}
	return nil
}

// notInUse refuses to delete an item, playlist or layout that a playlist
// or schedule still refers to: the displays playing it would be left with
// a program that cannot be compiled.
func (s *Server) notInUse(ctx context.Context, orgID, id string) error {
	oc, err := s.loadOrgContent(ctx, orgID)
	if err != nil {
		return err
	}
	for _, p := range oc.playlists {
		for _, e := range p.Items {
			if e.ItemID == id || e.PlaylistID == id || e.MediaID == id {
				return fail(fiber.StatusConflict, "in_use", "still used by playlist "+p.ID+" ("+p.Name+"); remove it there first")
			}
		}
	}
	for _, sc := range oc.schedules {
		uses := sc.Content.PlaylistID == id || sc.Content.LayoutID == id
		for _, p := range sc.Content.Zones {
			uses = uses || p == id
		}
		if uses {
			return fail(fiber.StatusConflict, "in_use", "still used by schedule "+sc.ID+"; change or remove that schedule first")
		}
	}
	return nil
}
