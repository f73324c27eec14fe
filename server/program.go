package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"time"

	"beacon/playlists"
	"beacon/protocol"
	"beacon/server/store"
)

// DefaultPrefetchDays is how far ahead a manifest lists the files a
// display needs.
const DefaultPrefetchDays = 7

// itemDoc is an item as the API and the store know it: variants name media
// items (or carry text and URLs); compiling a display's program resolves
// them to the rendition made for that display.
type itemDoc struct {
	ID          string                `json:"id"`
	Kind        playlists.Kind        `json:"kind"`
	Name        string                `json:"name,omitempty"`
	DurationS   float64               `json:"duration_s,omitempty"`
	ValidFrom   playlists.Date        `json:"valid_from,omitempty"`
	ValidUntil  playlists.Date        `json:"valid_until,omitempty"`
	Dayparts    []playlists.Window    `json:"dayparts,omitempty"`
	Variants    map[string]variantDoc `json:"variants"`
	DefaultLang string                `json:"default_lang"`
	RefreshS    float64               `json:"refresh_s,omitempty"`
	SameOrigin  bool                  `json:"same_origin,omitempty"`
	Text        *playlists.TextStyle  `json:"text,omitempty"`
	Clock       *playlists.ClockStyle `json:"clock,omitempty"`
}

type variantDoc struct {
	MediaID string `json:"media_id,omitempty"`
	Text    string `json:"text,omitempty"`
	URL     string `json:"url,omitempty"`
}

// playlistOptions are the playlist settings kept beside its entries.
type playlistOptions struct {
	Shuffle    bool                 `json:"shuffle,omitempty"`
	Transition playlists.Transition `json:"transition"`
}

// orgContent is everything of an organisation a program can refer to,
// loaded once per compilation pass.
type orgContent struct {
	clusters  map[string]store.Cluster
	items     map[string]itemDoc
	playlists map[string]store.Playlist
	layouts   map[string]playlists.Layout
	// layoutPlaylists: the playlist each zone of a layout plays when a
	// schedule names none for it (layout id → zone id → playlist id).
	layoutPlaylists map[string]map[string]string
	schedules       []playlists.Schedule
	media           map[string]store.Media
	renditions      map[string][]store.Rendition // by media id
}

func (s *Server) loadOrgContent(ctx context.Context, orgID string) (*orgContent, error) {
	oc := &orgContent{clusters: map[string]store.Cluster{}, items: map[string]itemDoc{}, playlists: map[string]store.Playlist{},
		layouts: map[string]playlists.Layout{}, layoutPlaylists: map[string]map[string]string{}, media: map[string]store.Media{}, renditions: map[string][]store.Rendition{}}
	cl, err := s.store.Clusters(ctx, orgID)
	if err != nil {
		return nil, err
	}
	for _, c := range cl {
		oc.clusters[c.ID] = c
	}
	docs, err := s.store.Docs(ctx, store.Items, orgID)
	if err != nil {
		return nil, err
	}
	for _, d := range docs {
		var it itemDoc
		if err := json.Unmarshal(d.Body, &it); err != nil {
			return nil, fmt.Errorf("item %s: %w", d.ID, err)
		}
		it.ID = d.ID
		oc.items[d.ID] = it
	}
	pls, err := s.store.PlaylistsFull(ctx, orgID)
	if err != nil {
		return nil, err
	}
	for _, p := range pls {
		oc.playlists[p.ID] = p
	}
	if docs, err = s.store.Docs(ctx, store.Layouts, orgID); err != nil {
		return nil, err
	}
	for _, d := range docs {
		var l playlists.Layout
		if err := json.Unmarshal(d.Body, &l); err != nil {
			return nil, fmt.Errorf("layout %s: %w", d.ID, err)
		}
		l.ID = d.ID
		oc.layouts[d.ID] = l
		var defaults struct {
			Playlists map[string]string `json:"playlists"`
		}
		if json.Unmarshal(d.Body, &defaults) == nil && len(defaults.Playlists) > 0 {
			oc.layoutPlaylists[d.ID] = defaults.Playlists
		}
	}
	if docs, err = s.store.Docs(ctx, store.Schedules, orgID); err != nil {
		return nil, err
	}
	for _, d := range docs {
		var sc playlists.Schedule
		if err := json.Unmarshal(d.Body, &sc); err != nil {
			return nil, fmt.Errorf("schedule %s: %w", d.ID, err)
		}
		sc.ID = d.ID
		oc.schedules = append(oc.schedules, sc)
	}
	ms, err := s.store.MediaList(ctx, orgID)
	if err != nil {
		return nil, err
	}
	for _, m := range ms {
		oc.media[m.ID] = m
	}
	// One statement for every rendition of the organisation (one per item
	// made compiling a library of 10,000 items cost 10,000 statements).
	if oc.renditions, err = s.store.OrgRenditions(ctx, orgID); err != nil {
		return nil, err
	}
	return oc, nil
}

// rendition picks the file a display plays for a media item: the one made
// for its panel profile (images) or its video/audio profile.
func (s *Server) rendition(oc *orgContent, d store.Display, mediaID string) (store.Rendition, bool) {
	m, ok := oc.media[mediaID]
	if !ok || m.Status == store.MediaFailed {
		return store.Rendition{}, false
	}
	want := ""
	switch m.Kind {
	case "image":
		p, err := displayProfile(d)
		if err != nil {
			return store.Rendition{}, false
		}
		want = p.Name()
	case "video":
		want = videoProfileName(d)
	case "audio":
		want = audioProfileName
	}
	for _, r := range oc.renditions[mediaID] {
		if r.Profile == want && s.blobs.Has(r.SHA256) {
			return r, true
		}
	}
	return store.Rendition{}, false
}

// compileProgram builds a display's program: the schedules that apply to
// it and everything they refer to, with every media variant resolved to
// the file made for this display. Items with no file ready yet are left
// out (and put back by the next compilation once their rendition exists).
// The program comes compiled: callers evaluate it (files, timeline, now)
// without compiling it again.
func (s *Server) compileProgram(oc *orgContent, d store.Display, now time.Time) (*playlists.Compiled, []protocol.File) {
	prog := playlists.Program{
		Display:   playlists.Display{ID: d.ID, ClusterID: d.ClusterID, Tags: d.Tags, Width: d.Width, Height: d.Height, Languages: d.Languages},
		Timezone:  playlists.DefaultTimezone,
		Items:     []playlists.Item{},
		Playlists: []playlists.Playlist{},
		Layouts:   []playlists.Layout{},
		Schedules: []playlists.Schedule{},
	}
	if c, ok := oc.clusters[d.ClusterID]; ok {
		prog.Timezone = c.Timezone
		_ = json.Unmarshal([]byte(c.Hours), &prog.Hours)
		_ = json.Unmarshal([]byte(c.Holidays), &prog.Holidays)
	}
	files := map[string]store.Rendition{}
	needPlaylists := map[string]bool{}
	needLayouts := map[string]bool{}
	for _, sc := range oc.schedules {
		if !playlists.Applies(sc.Target, prog.Display) {
			continue
		}
		// Keep only this display in the target: other displays' ids are
		// none of its business.
		sc.Target = playlists.Target{DisplayIDs: []string{d.ID}}
		// Zones the schedule leaves open play the layout's own playlists.
		if defs := oc.layoutPlaylists[sc.Content.LayoutID]; len(defs) > 0 {
			zones := make(map[string]string, len(defs)+len(sc.Content.Zones))
			for z, p := range defs {
				zones[z] = p
			}
			for z, p := range sc.Content.Zones {
				zones[z] = p
			}
			sc.Content.Zones = zones
		}
		prog.Schedules = append(prog.Schedules, sc)
		if sc.Content.PlaylistID != "" {
			needPlaylists[sc.Content.PlaylistID] = true
		}
		if sc.Content.LayoutID != "" {
			needLayouts[sc.Content.LayoutID] = true
		}
		for _, p := range sc.Content.Zones {
			needPlaylists[p] = true
		}
	}
	for id := range needLayouts {
		if l, ok := oc.layouts[id]; ok {
			prog.Layouts = append(prog.Layouts, l)
		}
	}
	// Playlists and nested playlists, breadth first.
	items := map[string]playlists.Item{}
	queue := sortedKeys(needPlaylists)
	seen := map[string]bool{}
	for len(queue) > 0 {
		id := queue[0]
		queue = queue[1:]
		if seen[id] {
			continue
		}
		seen[id] = true
		sp, ok := oc.playlists[id]
		if !ok {
			continue
		}
		var opt playlistOptions
		_ = json.Unmarshal([]byte(sp.Options), &opt)
		if opt.Transition.Kind == "" {
			opt.Transition.Kind = "cut"
		}
		pl := playlists.Playlist{ID: sp.ID, Name: sp.Name, Shuffle: opt.Shuffle, Transition: opt.Transition, Entries: []playlists.Entry{}}
		for _, e := range sp.Items {
			switch {
			case e.PlaylistID != "":
				if _, ok := oc.playlists[e.PlaylistID]; ok {
					pl.Entries = append(pl.Entries, playlists.Entry{PlaylistID: e.PlaylistID})
					queue = append(queue, e.PlaylistID)
				}
			case e.MediaID != "":
				it, ok := s.mediaItem(oc, d, e.MediaID, files)
				if ok {
					items[it.ID] = it
					pl.Entries = append(pl.Entries, playlists.Entry{ItemID: it.ID, DurationS: storedDuration(e.DurationS)})
				}
			case e.ItemID != "":
				it, ok := s.resolveItem(oc, d, e.ItemID, files)
				if ok {
					items[it.ID] = it
					pl.Entries = append(pl.Entries, playlists.Entry{ItemID: it.ID, DurationS: storedDuration(e.DurationS)})
				}
			}
		}
		prog.Playlists = append(prog.Playlists, pl)
	}
	sort.Slice(prog.Playlists, func(i, j int) bool { return prog.Playlists[i].ID < prog.Playlists[j].ID })
	sort.Slice(prog.Layouts, func(i, j int) bool { return prog.Layouts[i].ID < prog.Layouts[j].ID })
	for _, id := range sortedKeys(items) {
		prog.Items = append(prog.Items, items[id])
	}

	// Files: everything the program can play over the prefetch window.
	cp := playlists.Compile(&prog)
	var out []protocol.File
	for _, sha := range cp.Files(now.Add(-time.Hour), now.Add(time.Duration(s.cfg.PrefetchDays)*24*time.Hour)) {
		r, ok := files[sha]
		if !ok {
			continue
		}
		out = append(out, protocol.File{SHA256: sha, Size: r.Size, URL: filesPath + sha, Profile: r.Profile, ContentType: r.ContentType})
	}
	if out == nil {
		out = []protocol.File{}
	}
	return cp, out
}

// mediaItem is the implicit item of a media file placed straight in a playlist.
func (s *Server) mediaItem(oc *orgContent, d store.Display, mediaID string, files map[string]store.Rendition) (playlists.Item, bool) {
	r, ok := s.rendition(oc, d, mediaID)
	if !ok {
		return playlists.Item{}, false
	}
	m := oc.media[mediaID]
	files[r.SHA256] = r
	return playlists.Item{ID: m.ID, Kind: playlists.Kind(m.Kind), Name: m.Filename, NaturalS: m.DurationS,
		Variants: map[string]playlists.Variant{"": {SHA256: r.SHA256, ContentType: r.ContentType}}}, true
}

// resolveItem turns an item document into the display's item: media
// variants become the display's renditions; variants without a file yet
// are dropped, and an item left with none is left out.
func (s *Server) resolveItem(oc *orgContent, d store.Display, id string, files map[string]store.Rendition) (playlists.Item, bool) {
	doc, ok := oc.items[id]
	if !ok {
		return playlists.Item{}, false
	}
	it := playlists.Item{ID: doc.ID, Kind: doc.Kind, Name: doc.Name, DurationS: storedDuration(doc.DurationS), ValidFrom: doc.ValidFrom, ValidUntil: doc.ValidUntil,
		Dayparts: doc.Dayparts, DefaultLang: doc.DefaultLang, RefreshS: storedDuration(doc.RefreshS), SameOrigin: doc.SameOrigin, Text: doc.Text, Clock: doc.Clock, Variants: map[string]playlists.Variant{}}
	for lang, v := range doc.Variants {
		if v.MediaID == "" {
			it.Variants[lang] = playlists.Variant{Text: v.Text, URL: v.URL}
			continue
		}
		r, ok := s.rendition(oc, d, v.MediaID)
		if !ok {
			continue
		}
		files[r.SHA256] = r
		it.Variants[lang] = playlists.Variant{SHA256: r.SHA256, ContentType: r.ContentType}
		if it.NaturalS == 0 {
			it.NaturalS = oc.media[v.MediaID].DurationS
		}
	}
	if len(it.Variants) == 0 && it.Kind == playlists.KindClock {
		it.Variants[""] = playlists.Variant{}
	}
	if len(it.Variants) == 0 {
		return playlists.Item{}, false
	}
	if _, ok := it.Variants[it.DefaultLang]; !ok && len(it.Variants) > 0 {
		it.DefaultLang = sortedKeys(it.Variants)[0]
	}
	return it, true
}

// storedDuration brings a duration stored before the engine's bounds
// into them (0 stays 0), so that old content still compiles and plays.
func storedDuration(s float64) float64 {
	if s <= 0 {
		return 0
	}
	return min(max(s, playlists.MinDurationS), playlists.MaxDurationS)
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// Audio renditions are the same for every display.
const audioProfileName = "audio-aac"

// videoProfileName names the video rendition a display plays; displays
// with equal settings share it.
func videoProfileName(d store.Display) string {
	p, err := displayProfile(d)
	if err != nil {
		return ""
	}
	fps := d.MaxFPS
	if fps <= 0 {
		fps = 30
	}
	return fmt.Sprintf("%s-%gfps-%s%s-%dk", p.Name(), fps, d.H264Profile, d.H264Level, d.MaxBitrate/1000)
}

// offHours says which of an organisation's displays are outside their
// operating hours at an instant, by their programs as compiled for their
// players (the delivery watch spares them the unacknowledged alarm for an
// override that does not wake screens).
func (s *Server) offHours(ctx context.Context, orgID string, displayIDs []string, at time.Time) (map[string]bool, error) {
	oc, err := s.loadOrgContent(ctx, orgID)
	if err != nil {
		return nil, err
	}
	off := map[string]bool{}
	for _, id := range displayIDs {
		d, err := s.store.Display(ctx, orgID, id)
		if errors.Is(err, store.ErrNotFound) {
			continue // deleted since
		}
		if err != nil {
			return nil, err
		}
		cp, _ := s.compileProgram(oc, d, at)
		if cp.At(at, playlists.Options{}).Off {
			off[id] = true
		}
	}
	return off, nil
}
