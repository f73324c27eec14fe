package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"beacon/playlists"
	"beacon/server/store"
)

// docResource is a resource stored as a JSON document (items, layouts,
// schedules): the handlers read alike; check decodes, validates and
// normalises a request body into what is stored.
type docResource struct {
	table string
	check func(s *Server, c *fiber.Ctx, id string) ([]byte, error)
	// warn, when set, adds "warnings" to the answer of a save.
	warn func(s *Server, ctx context.Context, orgID string, d store.Doc) ([]scheduleWarning, error)
}

// savedView is a saved document's view, with the resource's warnings.
func (s *Server) savedView(ctx context.Context, r docResource, d store.Doc) (json.RawMessage, error) {
	v := docView(d)
	if r.warn == nil {
		return v, nil
	}
	ws, err := r.warn(s, ctx, d.OrgID, d)
	if err != nil {
		return nil, err
	}
	var m map[string]any
	_ = json.Unmarshal(v, &m)
	m["warnings"] = ws
	return json.Marshal(m)
}

func (s *Server) docRoutes(api fiber.Router, path string, r docResource) {
	api.Get(path, s.listDocs(r))
	api.Post(path, need(store.RoleEditor), s.createDoc(r))
	api.Get(path+"/:id", s.getDoc(r))
	api.Put(path+"/:id", need(store.RoleEditor), s.updateDoc(r))
	api.Delete(path+"/:id", need(store.RoleEditor), s.deleteDoc(r))
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

// docCursor reads a documents page's cursor (creation time and id, as
// listPage made it); "" is the first page.
func docCursor(after string) (time.Time, string, error) {
	if after == "" {
		return time.Time{}, "", nil
	}
	created, id, ok := strings.Cut(after, "\x00")
	at, err := time.Parse(timeKeyLayout, created)
	if !ok || err != nil || id == "" {
		return time.Time{}, "", invalid("cursor is not one this server gave (use next_cursor as it came)")
	}
	return at, id, nil
}

func (s *Server) listDocs(r docResource) fiber.Handler { return s.listDocsAs(r.table, r.table) }

// listDocsAs lists a page of the documents of table under key.
func (s *Server) listDocsAs(key, table string) fiber.Handler {
	return func(c *fiber.Ctx) error {
		ctx, cancel := s.timeout()
		defer cancel()
		// Only the page is read: documents can be large.
		limit, after, err := pageParams(c, defaultPageSize, maxPageSize)
		if err != nil {
			return err
		}
		afterCreated, afterID, err := docCursor(after)
		if err != nil {
			return err
		}
		docs, err := s.store.DocsPage(ctx, table, who(c).OrgID, afterCreated, afterID, limit+1)
		if err != nil {
			return err
		}
		return listPage(c, key, docs, func(d store.Doc) string { return sortKey(timeKey(d.CreatedAt), d.ID) }, false, func(d store.Doc) (any, error) {
			return docView(d), nil
		})
	}
}

func (s *Server) getDoc(r docResource) fiber.Handler {
	return func(c *fiber.Ctx) error {
		ctx, cancel := s.timeout()
		defer cancel()
		d, err := s.store.Doc(ctx, r.table, who(c).OrgID, c.Params("id"))
		if err != nil {
			return err
		}
		return c.JSON(docView(d))
	}
}

func (s *Server) createDoc(r docResource) fiber.Handler {
	return func(c *fiber.Ctx) error {
		id := store.NewDocID(r.table)
		body, err := r.check(s, c, id)
		if err != nil {
			return err
		}
		ctx, cancel := s.timeout()
		defer cancel()
		release, err := s.preflightDoc(ctx, r.table, who(c).OrgID, id, body, true)
		if err != nil {
			return err
		}
		defer release()
		d, err := s.store.CreateDoc(ctx, r.table, store.Doc{ID: id, OrgID: who(c).OrgID, Body: body})
		if err != nil {
			return err
		}
		s.changed(d.OrgID)
		release() // the warnings below read only
		v, err := s.savedView(ctx, r, d)
		if err != nil {
			return err
		}
		return c.Status(fiber.StatusCreated).JSON(v)
	}
}

func (s *Server) updateDoc(r docResource) fiber.Handler {
	return func(c *fiber.Ctx) error {
		id := c.Params("id")
		ctx, cancel := s.timeout()
		defer cancel()
		if _, err := s.store.Doc(ctx, r.table, who(c).OrgID, id); err != nil {
			return err
		}
		body, err := r.check(s, c, id)
		if err != nil {
			return err
		}
		release, err := s.preflightDoc(ctx, r.table, who(c).OrgID, id, body, false)
		if err != nil {
			return err
		}
		defer release()
		d, err := s.store.UpdateDoc(ctx, r.table, store.Doc{ID: id, OrgID: who(c).OrgID, Body: body})
		if err != nil {
			return err
		}
		s.changed(d.OrgID)
		release() // the warnings below read only
		v, err := s.savedView(ctx, r, d)
		if err != nil {
			return err
		}
		return c.JSON(v)
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
		if err != nil {
			return err
		}
		s.changed(who(c).OrgID)
		return c.SendStatus(fiber.StatusNoContent)
	}
}

var itemsResource = docResource{table: store.Items, check: (*Server).checkItem}
var layoutsResource = docResource{table: store.Layouts, check: (*Server).checkLayout}
var schedulesResource = docResource{table: store.Schedules, check: (*Server).checkSchedule, warn: (*Server).scheduleWarnings}

var mediaKinds = map[playlists.Kind]bool{playlists.KindImage: true, playlists.KindVideo: true, playlists.KindAudio: true}

func (s *Server) checkItem(c *fiber.Ctx, id string) ([]byte, error) {
	var it itemDoc
	if err := decodeJSON(c, &it); err != nil {
		return nil, err
	}
	it.ID = id
	if err := checkName("name", &it.Name, false); err != nil {
		return nil, err
	}
	if err := checkCount("variants", len(it.Variants), maxVariants); err != nil {
		return nil, err
	}
	if err := checkCount("dayparts", len(it.Dayparts), maxListLen); err != nil {
		return nil, err
	}
	if err := checkTextStyle("text", it.Text); err != nil {
		return nil, err
	}
	if err := checkClockStyle("clock", it.Clock); err != nil {
		return nil, err
	}
	switch it.Kind {
	case playlists.KindImage, playlists.KindVideo, playlists.KindAudio, playlists.KindWeb, playlists.KindText, playlists.KindClock:
	default:
		return nil, invalid("kind must be image, video, audio, web, text or clock")
	}
	if it.DurationS != 0 && (it.DurationS < playlists.MinDurationS || it.DurationS > playlists.MaxDurationS) {
		return nil, invalid(fmt.Sprintf("duration_s must be 0 (the default) or between %d and %d seconds", playlists.MinDurationS, playlists.MaxDurationS))
	}
	if it.RefreshS != 0 && (it.RefreshS < playlists.MinDurationS || it.RefreshS > playlists.MaxDurationS) {
		return nil, invalid(fmt.Sprintf("refresh_s must be 0 (never) or between %d and %d seconds", playlists.MinDurationS, playlists.MaxDurationS))
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
		Dayparts: it.Dayparts, DefaultLang: it.DefaultLang, RefreshS: it.RefreshS, SameOrigin: it.SameOrigin, Text: it.Text, Clock: it.Clock, Variants: map[string]playlists.Variant{}}
	for lang, v := range it.Variants {
		where := fmt.Sprintf("variants[%q]", lang)
		if err := checkShort("variants: language "+fmt.Sprintf("%q", lang), lang); err != nil {
			return nil, err
		}
		if err := checkLen(where+".text", v.Text, maxTextLen); err != nil {
			return nil, err
		}
		if err := checkLen(where+".url", v.URL, maxURLLen); err != nil {
			return nil, err
		}
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

// layoutDoc is a layout as the API keeps it: the zones, and the playlist
// each zone plays by default (a schedule of the layout that names no
// playlist for a zone plays this one).
type layoutDoc struct {
	playlists.Layout
	Playlists map[string]string `json:"playlists,omitempty"` // zone id → playlist id
}

func (s *Server) checkLayout(c *fiber.Ctx, id string) ([]byte, error) {
	var doc layoutDoc
	if err := decodeJSON(c, &doc); err != nil {
		return nil, err
	}
	l := doc.Layout
	l.ID = id
	if err := checkName("name", &l.Name, false); err != nil {
		return nil, err
	}
	if len(l.Zones) == 0 {
		return nil, invalid("zones: a layout needs at least one zone")
	}
	if err := checkCount("zones", len(l.Zones), maxZones); err != nil {
		return nil, err
	}
	for i, z := range l.Zones {
		if err := checkShort(fmt.Sprintf("zones[%d].id", i), z.ID); err != nil {
			return nil, err
		}
	}
	for i := range l.Zones {
		if l.Zones[i].Unit == "" {
			l.Zones[i].Unit = playlists.UnitPercent
		}
	}
	if err := trialProgram(playlists.Program{Layouts: []playlists.Layout{l}}); err != nil {
		return nil, err
	}
	if len(doc.Playlists) > 0 {
		zones := map[string]bool{}
		for _, z := range l.Zones {
			zones[z.ID] = true
		}
		ctx, cancel := s.timeout()
		defer cancel()
		for _, zone := range sortedKeys(doc.Playlists) {
			pl := doc.Playlists[zone]
			if !zones[zone] {
				return nil, invalid("playlists: the layout has no zone " + zone)
			}
			if pl == "" {
				delete(doc.Playlists, zone)
				continue
			}
			if _, err := s.store.Playlist(ctx, who(c).OrgID, pl); errors.Is(err, store.ErrNotFound) {
				return nil, invalid("playlists." + zone + ": no such playlist: " + pl)
			} else if err != nil {
				return nil, err
			}
		}
	}
	return json.Marshal(layoutDoc{Layout: l, Playlists: doc.Playlists})
}

// scheduleRequest is a schedule, or the short form {display_id, playlist_id}
// for an always-on playlist on one display.
type scheduleRequest struct {
	playlists.Schedule
	DisplayID  string `json:"display_id,omitempty"`
	PlaylistID string `json:"playlist_id,omitempty"`
}

func (s *Server) checkSchedule(c *fiber.Ctx, id string) ([]byte, error) {
	var req scheduleRequest
	if err := decodeJSON(c, &req); err != nil {
		return nil, err
	}
	sc := req.Schedule
	sc.ID = id
	if err := checkName("name", &sc.Name, false); err != nil {
		return nil, err
	}
	for _, l := range []struct {
		field string
		n     int
	}{{"target.display_ids", len(sc.Target.DisplayIDs)}, {"target.cluster_ids", len(sc.Target.ClusterIDs)}, {"target.tags", len(sc.Target.Tags)},
		{"windows", len(sc.Windows)}, {"except", len(sc.Except)}, {"days", len(sc.Days)}, {"content.zones", len(sc.Content.Zones)}} {
		if err := checkCount(l.field, l.n, maxListLen); err != nil {
			return nil, err
		}
	}
	for i, tag := range sc.Target.Tags {
		if err := checkShort(fmt.Sprintf("target.tags[%d]", i), tag); err != nil {
			return nil, err
		}
	}
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

// notInUse refuses to delete a media item, item, playlist or layout that an
// item, playlist or schedule still refers to: the displays playing it would
// be left with a program that cannot be compiled.
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
	for _, itemID := range sortedKeys(oc.items) {
		it := oc.items[itemID]
		for _, lang := range sortedKeys(it.Variants) {
			if it.Variants[lang].MediaID == id {
				name := it.Name
				if name == "" {
					name = string(it.Kind)
				}
				return fail(fiber.StatusConflict, "in_use", "still used by item "+itemID+" ("+name+"); remove it there first")
			}
		}
	}
	for _, lid := range sortedKeys(oc.layoutPlaylists) {
		for _, pl := range oc.layoutPlaylists[lid] {
			if pl == id {
				return fail(fiber.StatusConflict, "in_use", "still played by default in a zone of layout "+lid+" ("+oc.layouts[lid].Name+"); change that layout first")
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
