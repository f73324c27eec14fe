package server

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"beacon/playlists"
	"beacon/protocol"
	"beacon/server/store"
)

// An editor's mistake must never freeze a display. Every edit that changes
// what displays play is compiled for each display of the organisation
// before it is stored (preflight): an edit after which some display's
// program would not compile, or its manifest would not fit in one protocol
// frame, is refused with 422 naming the displays. Should a display's
// program still fail later (content stored before these checks, a
// rendition that grows its manifest), it keeps its last manifest, its
// state and the reason show in the displays API (manifest_state "error",
// manifest_error), and every other display is compiled and delivered as
// usual: each display is compiled on its own.

// Manifest states shown in the displays API.
const (
	manifestOK    = "ok"
	manifestError = "error"
)

// manifestStates remembers, per display, why its last compilation could
// not be delivered. It is rebuilt by every compilation pass (one runs for
// every organisation when the server starts).
type manifestStates struct {
	mu sync.Mutex
	m  map[string]string // display id → reason
	// changed, if set, is told when a display's state or reason changes.
	changed func(displayID string)
}

func (ms *manifestStates) set(displayID, reason string) {
	ms.mu.Lock()
	old, had := ms.m[displayID]
	if reason == "" {
		delete(ms.m, displayID)
	} else {
		if ms.m == nil {
			ms.m = map[string]string{}
		}
		ms.m[displayID] = reason
	}
	changed := ms.changed
	ms.mu.Unlock()
	if changed != nil && (had != (reason != "") || old != reason) {
		changed(displayID)
	}
}

func (ms *manifestStates) get(displayID string) (state, reason string) {
	ms.mu.Lock()
	defer ms.mu.Unlock()
	if r, ok := ms.m[displayID]; ok {
		return manifestError, r
	}
	return manifestOK, ""
}

// signManifest signs a manifest and measures the frame that carries it to
// the player. A frame over protocol.MaxFrameSize is an error naming the
// size: the player would refuse it.
func signManifest(key ed25519.PrivateKey, m protocol.Manifest) (protocol.SignedManifest, error) {
	signed, err := protocol.SignManifest(key, m)
	if err != nil {
		return signed, err
	}
	env, err := protocol.New(protocol.TypeManifest, protocol.SignedManifest{Payload: signed.Payload, Signature: signed.Signature,
		KeyID: protocol.KeyID(key.Public().(ed25519.PublicKey))})
	if err != nil {
		return signed, err
	}
	frame, err := json.Marshal(env)
	if err != nil {
		return signed, err
	}
	if len(frame) > protocol.MaxFrameSize {
		return signed, fmt.Errorf("its manifest would be %d bytes, over the %d bytes a player accepts in one message; use fewer or shorter items", len(frame), protocol.MaxFrameSize)
	}
	return signed, nil
}

// deliverable compiles and signs a display's manifest as publish would,
// and says why it could not be delivered ("" if it could).
func (s *Server) deliverable(oc *orgContent, d store.Display, now time.Time) (why string) {
	defer func() {
		if r := recover(); r != nil {
			why = fmt.Sprintf("internal error compiling its program: %v", r)
		}
	}()
	m, err := s.compile(oc, d, now)
	if err != nil {
		return err.Error()
	}
	m.Version = d.ManifestVersion + 1
	m.IssuedAt = now.UTC()
	if _, err := signManifest(s.key, m); err != nil {
		return err.Error()
	}
	return ""
}

// preflight compiles every display of an organisation as it would be
// after an edit, which edit applies to the loaded content in memory (and
// may return a changed list of displays). If a display that can be
// delivered today could not be afterwards, the edit is refused with 422
// naming the displays and why. Displays that cannot be delivered today
// already are not held against an unrelated edit (and an edit that mends
// them passes).
//
// Edits are checked and stored one at a time, so that two edits each fine
// alone (A into B, B into A) cannot both pass: preflight holds the edit
// lock until the caller calls release, once the edit is stored. On error
// the lock is already released.
func (s *Server) preflight(ctx context.Context, orgID string, edit func(oc *orgContent, ds []store.Display) ([]store.Display, error)) (release func(), err error) {
	s.editMu.Lock()
	var once sync.Once
	release = func() { once.Do(s.editMu.Unlock) }
	if err := s.check(ctx, orgID, edit); err != nil {
		release()
		return nil, err
	}
	return release, nil
}

func (s *Server) check(ctx context.Context, orgID string, edit func(oc *orgContent, ds []store.Display) ([]store.Display, error)) error {
	oc, err := s.loadOrgContent(ctx, orgID)
	if err != nil {
		return err
	}
	ds, err := s.store.Displays(ctx, orgID)
	if err != nil {
		return err
	}
	if ds, err = edit(oc, ds); err != nil {
		return err
	}
	now := time.Now()
	var failing []store.Display
	why := map[string]string{}
	for _, d := range ds {
		if w := s.deliverable(oc, d, now); w != "" {
			failing = append(failing, d)
			why[d.ID] = w
		}
	}
	if len(failing) == 0 {
		return nil
	}
	// Those that fail today already are not this edit's doing.
	before, err := s.loadOrgContent(ctx, orgID)
	if err != nil {
		return err
	}
	old, err := s.store.Displays(ctx, orgID)
	if err != nil {
		return err
	}
	var bad []string
	for _, d := range failing {
		i := slices.IndexFunc(old, func(x store.Display) bool { return x.ID == d.ID })
		if i >= 0 && s.deliverable(before, old[i], now) != "" {
			continue
		}
		bad = append(bad, fmt.Sprintf("display %s (%s): %s", d.ID, d.Name, why[d.ID]))
	}
	if len(bad) == 0 {
		return nil
	}
	sort.Strings(bad)
	const show = 5
	msg := "this change would leave displays unable to receive their program, so it was not saved: " + strings.Join(bad[:min(len(bad), show)], "; ")
	if len(bad) > show {
		msg += fmt.Sprintf("; and %d more displays", len(bad)-show)
	}
	return unprocessable("undeliverable", msg)
}

// playlistCycle reports the cycle the playlist id would close with the
// given entries (nil if none), as the path of playlists from id back to
// id. The other playlists' entries come from oc.
func playlistCycle(oc *orgContent, id string, children []string) []string {
	next := func(p string) []string {
		if p == id {
			return children
		}
		var out []string
		for _, e := range oc.playlists[p].Items {
			if e.PlaylistID != "" {
				out = append(out, e.PlaylistID)
			}
		}
		return out
	}
	// depth-first from id; the first path that comes back to id
	seen := map[string]bool{}
	var path []string
	var walk func(p string) bool
	walk = func(p string) bool {
		path = append(path, p)
		for _, c := range next(p) {
			if c == id {
				path = append(path, c)
				return true
			}
			if !seen[c] {
				seen[c] = true
				if walk(c) {
					return true
				}
			}
		}
		path = path[:len(path)-1]
		return false
	}
	if walk(id) {
		return path
	}
	return nil
}

// cyclePath names the playlists of a cycle: "A (Lobby) → B (Ads) → A (Lobby)".
func cyclePath(oc *orgContent, path []string, id, name string) string {
	parts := make([]string, len(path))
	for i, p := range path {
		n := oc.playlists[p].Name
		if p == id {
			n = name
		}
		parts[i] = fmt.Sprintf("%s (%s)", p, n)
	}
	return strings.Join(parts, " → ")
}

// preflightDoc is preflight for a new or changed item, layout or schedule
// (body as it will be stored). A new item or layout is used by nothing
// yet, so it cannot change what a display plays.
func (s *Server) preflightDoc(ctx context.Context, table, orgID, id string, body []byte, created bool) (release func(), err error) {
	if created && table != store.Schedules {
		return func() {}, nil
	}
	return s.preflight(ctx, orgID, func(oc *orgContent, ds []store.Display) ([]store.Display, error) {
		switch table {
		case store.Items:
			var it itemDoc
			if err := json.Unmarshal(body, &it); err != nil {
				return nil, err
			}
			it.ID = id
			oc.items[id] = it
		case store.Layouts:
			var l playlists.Layout
			if err := json.Unmarshal(body, &l); err != nil {
				return nil, err
			}
			l.ID = id
			oc.layouts[id] = l
		case store.Schedules:
			var sc playlists.Schedule
			if err := json.Unmarshal(body, &sc); err != nil {
				return nil, err
			}
			sc.ID = id
			i := slices.IndexFunc(oc.schedules, func(x playlists.Schedule) bool { return x.ID == id })
			if i < 0 {
				oc.schedules = append(oc.schedules, sc)
			} else {
				oc.schedules[i] = sc
			}
		}
		return ds, nil
	})
}
