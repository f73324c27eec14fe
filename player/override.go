package player

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"beacon/protocol"
)

// Emergency overrides (protocol.OverrideSpec) are kept apart from the
// manifest: they never change the manifest, the program or the files the
// program needs. The program goes on being evaluated underneath; the
// renderer shows the override in a layer above the zones (a banner over
// them; a fullscreen, blank or slate override hides them), and when the
// override ends the screen shows what the program says at that instant.
//
// Every override is verified with the pinned server key, checked to be
// addressed to this display (its organisation, and the display id unless
// it targets every display) and kept, signed as received, in
// overrides.json, which is re-verified at start: a player restarted
// offline goes on showing an unexpired override. Its media files are
// fetched into the cache (SHA-256 verified) and pinned there while the
// override is known. Expiry and start are judged on the player's clock
// (Config.Now).
//
// Of the overrides active at an instant the one shown is the first by
// protocol.OverrideSpec.Outranks (highest level, then the newest).
// Outside operating hours only overrides with Wake are eligible.
//
// Acknowledgements (override_ack): received as soon as one is verified and
// accepted (and again when the server re-sends it, with painted if it has
// been painted); painted with the instant the renderer reported it painted;
// ended when it is over on this player (cancelled or expired); refused,
// with the reason, otherwise.
//
// Proof of play: while a covering override (fullscreen, blank, slate) is
// painted, nothing of the program is on screen: the plays it hid end when
// it is painted and start again when the renderer reports the zones
// painted after it is taken down (see screen.cover).

// overrideFile holds the verified signed overrides the player knows, and
// the cancels it received.
const overrideFile = "overrides.json"

// cancelTombstone is how long a cancel of an override the player never
// held is remembered, so a late copy of it is not shown.
const cancelTombstone = 24 * time.Hour

// Renderer commands and reports of the override layer.
const (
	cmdOverride      = "override"       // show an override (replaces the one shown)
	cmdOverrideClear = "override_clear" // no override on screen
	msgOverrideShown = "override_shown" // the page painted an override command (echoes seq)
	msgOverrideTone  = "override_tone"  // the page's alert tone: playing or blocked
)

// ovrEntry is one override the player holds.
type ovrEntry struct {
	spec      protocol.OverrideSpec
	signed    protocol.SignedOverride
	paintedAt time.Time // when the renderer first reported this revision painted
	received  time.Time // when this revision's message was received (zero: loaded from disk)
}

// ovrTomb remembers a cancel.
type ovrTomb struct {
	At    time.Time `json:"cancelled_at"`
	Until time.Time `json:"until"` // forgotten after
}

// ovrStore is overrides.json.
type ovrStore struct {
	Overrides []protocol.SignedOverride `json:"overrides"`
	Cancelled map[string]ovrTomb        `json:"cancelled,omitempty"`
}

// OverrideStatus is the override on screen, in Status.
type OverrideStatus struct {
	ID           string    `json:"id"`
	Revision     int64     `json:"revision"`
	Level        string    `json:"level"`
	Presentation string    `json:"presentation"`
	ShownAt      time.Time `json:"shown_at"` // when the renderer reported it painted
	// ReceivedAt is when its message reached the player (absent for one
	// loaded from disk at start): shown_at − received_at is the time from
	// the player receiving the frame to the renderer's paint.
	ReceivedAt *time.Time `json:"received_at,omitempty"`
	// Tone: "playing", "blocked: …" (the browser refused to play sound;
	// the override is shown without it) or empty (no tone, or no report).
	Tone string `json:"tone,omitempty"`
}

// ovrScreen is what the override layer shows (guarded by Player.mu).
type ovrScreen struct {
	key      string // what was sent: id, revision, media ready, languages
	id       string
	revision int64
	seq      uint64
	covering bool
	shownAt  time.Time // zero until the renderer reports seq painted
	tone     string
}

// rendererOverride is the override command's body.
type rendererOverride struct {
	ID           string          `json:"id"`
	Revision     int64           `json:"revision"`
	Level        string          `json:"level"`
	Presentation string          `json:"presentation"`
	Position     string          `json:"position,omitempty"`
	Texts        []rendererText  `json:"texts,omitempty"` // in the order shown
	LangMode     string          `json:"lang_mode,omitempty"`
	RotateS      float64         `json:"rotate_s,omitempty"`
	Media        []rendererMedia `json:"media,omitempty"`
	Tone         *protocol.Tone  `json:"tone,omitempty"`
	Covering     bool            `json:"covering"`
}

type rendererText struct {
	Lang string `json:"lang"`
	Text string `json:"text"`
}

type rendererMedia struct {
	Kind   string `json:"kind"` // image, video, audio
	URL    string `json:"url"`
	SHA256 string `json:"sha256"`
}

func covering(presentation string) bool {
	return presentation != protocol.PresentBanner
}

// loadOverrides re-verifies overrides.json with the pinned key; what fails
// is dropped (a bad signature is reported as an incident), and so is what
// has expired.
func (p *Player) loadOverrides() {
	p.ovr = map[string]*ovrEntry{}
	p.ovrCancelled = map[string]ovrTomb{}
	raw, err := os.ReadFile(filepath.Join(p.cfg.DataDir, overrideFile))
	if errors.Is(err, fs.ErrNotExist) {
		return
	}
	var st ovrStore
	if err == nil {
		err = json.Unmarshal(raw, &st)
	}
	if err != nil {
		p.log.Error("stored overrides unreadable; dropped", "err", err)
		p.saveOverridesLocked()
		return
	}
	now := p.now()
	for id, t := range st.Cancelled {
		if now.Before(t.Until) {
			p.ovrCancelled[id] = t
		}
	}
	for _, so := range st.Overrides {
		if p.ident.DisplayID == "" {
			break
		}
		spec, err := protocol.VerifyOverride(p.ident.ServerKey, so)
		switch {
		case err != nil:
			p.log.Error("stored override failed verification; dropped", "err", err)
			p.report(protocol.Incident{Kind: protocol.IncidentBadSignature, Message: "stored override failed verification: " + err.Error()})
			continue
		case p.ident.OrgID != "" && !spec.For(p.ident.OrgID, p.ident.DisplayID):
			p.log.Warn("stored override is not addressed to this display; dropped", "id", spec.ID)
			continue
		case !now.Before(spec.ExpiresAt):
			p.log.Info("stored override expired while the player was stopped; dropped", "id", spec.ID, "expires_at", spec.ExpiresAt)
			continue
		}
		if old := p.ovr[spec.ID]; old != nil && old.spec.Revision >= spec.Revision {
			continue
		}
		p.ovr[spec.ID] = &ovrEntry{spec: spec, signed: so}
		p.log.Info("stored override verified", "id", spec.ID, "revision", spec.Revision, "expires_at", spec.ExpiresAt)
	}
	p.saveOverridesLocked()
}

// saveOverridesLocked writes overrides.json; call with p.mu held (or
// before Run).
func (p *Player) saveOverridesLocked() {
	st := ovrStore{Overrides: []protocol.SignedOverride{}, Cancelled: p.ovrCancelled}
	ids := make([]string, 0, len(p.ovr))
	for id := range p.ovr {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		st.Overrides = append(st.Overrides, p.ovr[id].signed)
	}
	raw, err := json.Marshal(st)
	if err == nil {
		err = writeFileAtomic(filepath.Join(p.cfg.DataDir, overrideFile), raw, 0o600)
	}
	if err != nil {
		p.log.Error("save overrides", "err", err)
	}
}

// overrideMedia returns the media files of the overrides held: they are
// fetched and kept in the cache (never evicted) while known.
func (p *Player) overrideMedia() []protocol.File {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []protocol.File
	seen := map[string]bool{}
	for _, e := range p.ovr {
		for _, f := range e.spec.Media {
			if !seen[f.SHA256] {
				seen[f.SHA256] = true
				out = append(out, f)
			}
		}
	}
	return out
}

// sendOverrideAck reports on an override to the server, if connected.
func (p *Player) sendOverrideAck(s *session, a protocol.OverrideAck) {
	if s == nil {
		p.mu.Lock()
		s = p.sess
		p.mu.Unlock()
	}
	if s == nil {
		return
	}
	a.At = p.now().UTC()
	if !a.PaintedAt.IsZero() {
		a.PaintedAt = a.PaintedAt.UTC()
	}
	s.send(protocol.TypeOverrideAck, a)
}

// onOverride verifies and applies an override message.
func (p *Player) onOverride(s *session, env protocol.Envelope) {
	received := p.now()
	var so protocol.SignedOverride
	refuse := func(id string, rev int64, msg string) {
		p.log.Error("override refused", "id", id, "revision", rev, "reason", msg)
		p.sendOverrideAck(s, protocol.OverrideAck{ID: id, Revision: rev, State: protocol.AckRefused, Error: msg})
	}
	if err := env.DecodeBody(&so); err != nil {
		refuse(env.ID, 0, "malformed override: "+err.Error())
		return
	}
	p.mu.Lock()
	key, org, displayID := p.ident.ServerKey, p.ident.OrgID, p.ident.DisplayID
	p.mu.Unlock()
	spec, err := protocol.VerifyOverride(key, so)
	if err != nil {
		// Name the override as it claims to be, so the server can match
		// the refusal; nothing else of the unverified payload is used.
		var claimed struct {
			ID       string `json:"id"`
			Revision int64  `json:"revision"`
		}
		_ = json.Unmarshal(so.Payload, &claimed)
		if claimed.ID == "" {
			claimed.ID = env.ID
		}
		if errors.Is(err, protocol.ErrBadSignature) {
			p.report(protocol.Incident{Kind: protocol.IncidentBadSignature, Message: "override " + claimed.ID + " refused: " + err.Error()})
		}
		refuse(claimed.ID, claimed.Revision, err.Error())
		return
	}
	if org == "" {
		refuse(spec.ID, spec.Revision, "this display does not know its organisation yet")
		return
	}
	if !spec.For(org, displayID) {
		refuse(spec.ID, spec.Revision, fmt.Sprintf("not addressed to this display (organisation %q, display %q)", org, displayID))
		return
	}
	now := p.now()
	if !now.Before(spec.ExpiresAt) {
		refuse(spec.ID, spec.Revision, "expired at "+spec.ExpiresAt.UTC().Format(time.RFC3339)+" by this player's clock "+now.UTC().Format(time.RFC3339))
		return
	}
	p.mu.Lock()
	if t, ok := p.ovrCancelled[spec.ID]; ok && !spec.IssuedAt.After(t.At) {
		p.mu.Unlock()
		refuse(spec.ID, spec.Revision, "cancelled at "+t.At.UTC().Format(time.RFC3339))
		return
	}
	old := p.ovr[spec.ID]
	switch {
	case old != nil && old.spec.Revision > spec.Revision:
		p.mu.Unlock()
		refuse(spec.ID, spec.Revision, fmt.Sprintf("revision %d is held", old.spec.Revision))
		return
	case old != nil && old.spec.Revision == spec.Revision:
		// Sent again (a reconnect): report where it stands.
		painted := old.paintedAt
		p.mu.Unlock()
		p.sendOverrideAck(s, protocol.OverrideAck{ID: spec.ID, Revision: spec.Revision, State: protocol.AckReceived})
		if !painted.IsZero() {
			p.sendOverrideAck(s, protocol.OverrideAck{ID: spec.ID, Revision: spec.Revision, State: protocol.AckPainted, PaintedAt: painted})
		}
		p.applyOverrides()
		return
	}
	p.ovr[spec.ID] = &ovrEntry{spec: spec, signed: so, received: received}
	p.mu.Unlock()
	// The screen first: writing overrides.json waits for the disk (fsync),
	// which on a screen computer's flash can take longer than a frame.
	if len(spec.Media) > 0 {
		p.refreshOverrideMedia() // shown now with the media already verified in the cache; the rest follows when fetched
	} else {
		p.applyOverrides()
	}
	p.sendOverrideAck(s, protocol.OverrideAck{ID: spec.ID, Revision: spec.Revision, State: protocol.AckReceived})
	p.mu.Lock()
	if p.ovr[spec.ID] != nil { // not cancelled meanwhile (a cancel saves itself)
		p.saveOverridesLocked()
	}
	p.mu.Unlock()
	p.log.Info("override accepted", "id", spec.ID, "revision", spec.Revision, "level", spec.Level,
		"presentation", spec.Presentation, "starts_at", spec.StartsAt, "expires_at", spec.ExpiresAt)
	if len(spec.Media) > 0 {
		p.kickDownloads()
	}
	p.wakePlayback() // the playback loop waits for the override's next change too
}

// onOverrideCancel verifies a cancel and ends the override.
func (p *Player) onOverrideCancel(s *session, env protocol.Envelope) {
	var c protocol.OverrideCancel
	if err := env.DecodeBody(&c); err != nil {
		p.sendOverrideAck(s, protocol.OverrideAck{ID: env.ID, State: protocol.AckRefused, Error: "malformed override_cancel: " + err.Error()})
		return
	}
	p.mu.Lock()
	key, org := p.ident.ServerKey, p.ident.OrgID
	p.mu.Unlock()
	id := c.ID
	if id == "" {
		id = env.ID
	}
	if org == "" {
		p.sendOverrideAck(s, protocol.OverrideAck{ID: id, State: protocol.AckRefused, Error: "this display does not know its organisation yet"})
		return
	}
	if err := protocol.VerifyCancel(key, org, c); err != nil {
		p.log.Error("override cancel refused", "id", id, "err", err)
		p.report(protocol.Incident{Kind: protocol.IncidentBadSignature, Message: "override_cancel " + id + " refused: " + err.Error()})
		p.sendOverrideAck(s, protocol.OverrideAck{ID: id, State: protocol.AckRefused, Error: err.Error()})
		return
	}
	p.mu.Lock()
	until := c.CancelledAt.Add(cancelTombstone)
	var rev int64
	if e := p.ovr[c.ID]; e != nil {
		rev = e.spec.Revision
		if e.spec.ExpiresAt.After(until) {
			until = e.spec.ExpiresAt
		}
		delete(p.ovr, c.ID)
	}
	if t, ok := p.ovrCancelled[c.ID]; !ok || c.CancelledAt.After(t.At) {
		p.ovrCancelled[c.ID] = ovrTomb{At: c.CancelledAt, Until: until}
	}
	p.saveOverridesLocked()
	p.mu.Unlock()
	p.log.Info("override cancelled", "id", c.ID, "cancelled_at", c.CancelledAt)
	p.applyOverrides()
	p.sendOverrideAck(s, protocol.OverrideAck{ID: c.ID, Revision: rev, State: protocol.AckEnded})
	p.wakePlayback()
}

// applyOverrides drops expired overrides (acking them ended), puts the
// override that outranks the others (among those in force, and with Wake
// outside operating hours) on the renderer's override layer, or clears
// the layer, and returns the next instant on the player's clock at which
// this changes (zero: none).
func (p *Player) applyOverrides() time.Time {
	p.ovrMu.Lock()
	defer p.ovrMu.Unlock()
	now := p.now()
	var ended []protocol.OverrideAck
	var next time.Time
	later := func(t time.Time) {
		if next.IsZero() || t.Before(next) {
			next = t
		}
	}
	p.mu.Lock()
	changed := false
	for id, e := range p.ovr {
		if !now.Before(e.spec.ExpiresAt) {
			delete(p.ovr, id)
			changed = true
			ended = append(ended, protocol.OverrideAck{ID: id, Revision: e.spec.Revision, State: protocol.AckEnded})
			p.log.Info("override expired", "id", id, "expires_at", e.spec.ExpiresAt)
		}
	}
	for id, t := range p.ovrCancelled {
		if !now.Before(t.Until) {
			delete(p.ovrCancelled, id)
			changed = true
		}
	}
	if changed {
		p.saveOverridesLocked()
	}
	var top *ovrEntry
	eligible := p.ident.DisplayID != "" && p.pairingCode == ""
	var held []protocol.OverrideSpec
	for _, e := range p.ovr {
		if now.Before(e.spec.StartsAt) {
			later(e.spec.StartsAt)
		} else {
			later(e.spec.ExpiresAt)
		}
		if eligible && e.spec.For(p.ident.OrgID, p.ident.DisplayID) {
			held = append(held, e.spec)
		}
	}
	if o, ok := protocol.Shown(held, now, p.off); ok {
		top = p.ovr[o.ID]
	}
	var cmd *rendererOverride
	key := ""
	if top != nil {
		cmd = p.overrideCommandLocked(top.spec)
		b, _ := json.Marshal(cmd)
		key = string(b)
	}
	cur := p.ovrOn
	var send []byte
	uncover := false
	if key != cur.key {
		if cur.covering && (cmd == nil || !cmd.Covering) {
			uncover = true
		}
		if cmd == nil {
			p.ovrOn = ovrScreen{}
			send, _ = json.Marshal(rendererCmd{Type: cmdOverrideClear})
		} else {
			p.ovrSeq++
			next := ovrScreen{key: key, id: top.spec.ID, revision: top.spec.Revision, seq: p.ovrSeq, covering: cmd.Covering}
			if cur.id == next.id && cur.revision == next.revision {
				// The same revision again (its media arrived): it stays on
				// screen meanwhile, and its tone goes on.
				next.shownAt, next.tone = cur.shownAt, cur.tone
			}
			p.ovrOn = next
			send, _ = json.Marshal(struct {
				Type string `json:"type"`
				Seq  uint64 `json:"seq"`
				*rendererOverride
			}{cmdOverride, p.ovrSeq, cmd})
		}
	}
	p.mu.Unlock()
	if uncover {
		p.screen.uncover()
	}
	if send != nil {
		p.hub.setOverlay(send)
	}
	for _, a := range ended {
		p.sendOverrideAck(nil, a)
	}
	return next
}

// overrideCommandLocked builds the renderer command for spec: texts in
// display order, media whose files verify in the cache.
func (p *Player) overrideCommandLocked(spec protocol.OverrideSpec) *rendererOverride {
	cmd := &rendererOverride{
		ID: spec.ID, Revision: spec.Revision, Level: spec.Level, Presentation: spec.Presentation,
		Position: spec.Position, LangMode: spec.LangMode, RotateS: spec.RotateS, Tone: spec.Tone,
		Covering: covering(spec.Presentation),
	}
	if cmd.Presentation == protocol.PresentBanner && cmd.Position == "" {
		cmd.Position = protocol.BannerBottom
	}
	if cmd.LangMode == "" {
		cmd.LangMode = protocol.LangsTogether
	}
	if cmd.LangMode == protocol.LangsRotate && cmd.RotateS <= 0 {
		cmd.RotateS = 8
	}
	switch spec.Presentation {
	case protocol.PresentBlank, protocol.PresentSlate:
		cmd.Tone = nil // the kill switch is silent
		return cmd
	}
	for _, l := range overrideLanguages(spec, p.displayLangs) {
		cmd.Texts = append(cmd.Texts, rendererText{Lang: l, Text: spec.Texts[l]})
	}
	for _, f := range spec.Media {
		// Only media verified in the cache (ovrMediaReady, refreshed by
		// refreshOverrideMedia outside p.mu) are sent.
		cmd.Media = append(cmd.Media, rendererMedia{Kind: mediaKind(f), URL: "/content/" + f.SHA256, SHA256: f.SHA256})
	}
	if len(cmd.Media) > 0 {
		ready := p.ovrMediaReady
		cmd.Media = slices.DeleteFunc(cmd.Media, func(m rendererMedia) bool { return !ready[m.SHA256] })
	}
	return cmd
}

// refreshOverrideMedia re-verifies the override media in the cache (for
// the renderer command) and reapplies the overrides.
func (p *Player) refreshOverrideMedia() {
	ready := map[string]bool{}
	for _, f := range p.overrideMedia() {
		if p.fileReady(f.SHA256) {
			ready[f.SHA256] = true
		}
	}
	p.mu.Lock()
	p.ovrMediaReady = ready
	p.mu.Unlock()
	p.applyOverrides()
}

// mediaKind is image, video or audio, from a file's content type or profile.
func mediaKind(f protocol.File) string {
	for _, k := range []string{"video", "audio", "image"} {
		if strings.HasPrefix(f.ContentType, k+"/") || strings.HasPrefix(f.Profile, k) {
			return k
		}
	}
	return "image"
}

// overrideLanguages orders an override's languages: its own order, else
// the display's preferred languages, else the default order it carries
// (the deployment's, Vietnamese first), then the rest alphabetically.
// Only languages with a text are listed.
func overrideLanguages(spec protocol.OverrideSpec, display []string) []string {
	var out []string
	seen := map[string]bool{}
	add := func(l string) {
		if _, ok := spec.Texts[l]; ok && !seen[l] && strings.TrimSpace(spec.Texts[l]) != "" {
			seen[l] = true
			out = append(out, l)
		}
	}
	for _, l := range spec.Languages {
		add(l)
	}
	if len(spec.Languages) == 0 {
		for _, l := range display {
			add(l)
		}
		if len(display) == 0 {
			for _, l := range spec.DefaultLanguages {
				add(l)
			}
		}
	}
	rest := make([]string, 0, len(spec.Texts))
	for l := range spec.Texts {
		rest = append(rest, l)
	}
	sort.Strings(rest)
	for _, l := range rest {
		add(l)
	}
	return out
}

// rendererOverridePainted handles the page's report that override command
// seq is on screen: the first report of a revision is acknowledged as
// painted at this instant. A covering override ends the plays it hides.
func (p *Player) rendererOverridePainted(id string, seq uint64) {
	now := p.now()
	p.mu.Lock()
	if p.ovrOn.seq != seq || p.ovrOn.id != id || seq == 0 {
		p.mu.Unlock()
		return
	}
	p.ovrOn.shownAt = now
	cov := p.ovrOn.covering
	var ack *protocol.OverrideAck
	var received time.Time
	if e := p.ovr[id]; e != nil && e.spec.Revision == p.ovrOn.revision && e.paintedAt.IsZero() {
		received = e.received
		e.paintedAt = now
		ack = &protocol.OverrideAck{ID: id, Revision: e.spec.Revision, State: protocol.AckPainted, PaintedAt: now}
	}
	p.mu.Unlock()
	if cov {
		p.journalPlays(now, p.screen.cover()...)
	}
	if ack != nil {
		if received.IsZero() {
			p.log.Info("override painted", "id", id, "revision", ack.Revision, "painted_at", now)
		} else {
			p.log.Info("override painted", "id", id, "revision", ack.Revision, "painted_at", now, "after_receipt", now.Sub(received))
		}
		p.sendOverrideAck(nil, *ack)
	}
}

// rendererOverrideTone records what became of the alert tone.
func (p *Player) rendererOverrideTone(id string, seq uint64, state, msg string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ovrOn.id != id || seq > p.ovrOn.seq {
		return // another override (a report of an earlier command of this one counts)
	}
	p.ovrOn.tone = state
	if state == "blocked" {
		p.ovrOn.tone = "blocked: " + msg
		p.log.Warn("override tone blocked by the browser; shown without sound", "id", id, "reason", msg)
	}
}

// overrideStatusLocked is the override on screen, or nil.
func (p *Player) overrideStatusLocked() *OverrideStatus {
	o := p.ovrOn
	if o.id == "" || o.shownAt.IsZero() {
		return nil
	}
	st := &OverrideStatus{ID: o.id, Revision: o.revision, ShownAt: o.shownAt.UTC(), Tone: o.tone}
	if e := p.ovr[o.id]; e != nil {
		st.Level, st.Presentation = e.spec.Level, e.spec.Presentation
		if !e.received.IsZero() {
			r := e.received.UTC()
			st.ReceivedAt = &r
		}
	}
	return st
}

// overrideLost handles the last renderer going away: nothing is on screen.
func (p *Player) overrideLost() {
	p.mu.Lock()
	p.ovrOn.shownAt = time.Time{}
	p.mu.Unlock()
}
