package server

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"

	"beacon/media"
	"beacon/protocol"
	"beacon/server/store"
)

// workQueue coalesces "this organisation needs renditions and manifests
// looked at" requests: many kicks while busy become one pass.
type workQueue struct {
	mu      sync.Mutex
	pending map[string]bool
	wake    chan struct{}
	done    chan struct{}
	once    sync.Once
}

func newWorkQueue() *workQueue {
	return &workQueue{pending: map[string]bool{}, wake: make(chan struct{}, 1), done: make(chan struct{})}
}

func (q *workQueue) kick(orgID string) {
	q.mu.Lock()
	q.pending[orgID] = true
	q.mu.Unlock()
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

func (q *workQueue) take() (string, bool) {
	for {
		q.mu.Lock()
		for id := range q.pending {
			delete(q.pending, id)
			q.mu.Unlock()
			return id, true
		}
		q.mu.Unlock()
		select {
		case <-q.wake:
		case <-q.done:
			return "", false
		}
	}
}

func (q *workQueue) close() { q.once.Do(func() { close(q.done) }) }

// renditionWorker makes every missing rendition of an organisation, then
// recompiles its manifests.
func (s *Server) renditionWorker() {
	for {
		orgID, ok := s.work.take()
		if !ok {
			return
		}
		if err := s.renderOrg(orgID); err != nil && !errors.Is(err, context.Canceled) {
			s.log.Error("renditions", "org", orgID, "err", err)
		}
		if err := s.queueMissing(s.bg, orgID); err != nil && !errors.Is(err, context.Canceled) {
			s.log.Error("media jobs", "org", orgID, "err", err)
		}
		if err := s.refreshOrg(orgID); err != nil && !errors.Is(err, context.Canceled) {
			s.log.Error("manifests", "org", orgID, "err", err)
		}
	}
}

func displayProfile(d store.Display) (media.Profile, error) {
	fit, err := media.ParseFit(d.Fit)
	if err != nil {
		return media.Profile{}, err
	}
	bg, err := media.ParseColor(d.Background)
	if err != nil {
		return media.Profile{}, err
	}
	return media.Profile{Width: d.Width, Height: d.Height, Fit: fit, Background: bg}, nil
}

func (s *Server) renderOrg(orgID string) error {
	ctx := s.bg
	displays, err := s.store.Displays(ctx, orgID)
	if err != nil {
		return err
	}
	profiles := map[string]media.Profile{}
	for _, d := range displays {
		p, err := displayProfile(d)
		if err != nil {
			s.log.Warn("display has an invalid profile", "display", d.ID, "err", err)
			continue
		}
		profiles[p.Name()] = p
	}
	profiles[thumbProfile] = thumbSize
	items, err := s.store.MediaList(ctx, orgID)
	if err != nil {
		return err
	}
	for _, m := range items {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if m.Kind != "image" || m.Status == store.MediaFailed {
			continue
		}
		have, err := s.store.Renditions(ctx, m.ID)
		if err != nil {
			return err
		}
		done := map[string]bool{}
		for _, r := range have {
			if s.blobs.Has(r.SHA256) {
				done[r.Profile] = true
			}
		}
		var names []string
		for name := range profiles {
			if !done[name] {
				names = append(names, name)
			}
		}
		sort.Strings(names)
		need := make([]media.Profile, len(names))
		for i, n := range names {
			need[i] = profiles[n]
		}
		if len(need) == 0 {
			if m.Status != store.MediaReady {
				_ = s.store.SetMediaStatus(ctx, m.ID, store.MediaReady, "")
				s.events.publish(m.OrgID, Event{Type: "media", Data: map[string]string{"id": m.ID, "status": store.MediaReady}})
			}
			continue
		}
		start := time.Now()
		var out []media.Rendition
		if m.ContentType == svgType {
			out, err = s.renderSVG(ctx, m, need)
		} else {
			out, err = media.RenderImage(s.blobs.Path(m.SHA256), need, s.cfg.ImageLimits)
		}
		if err != nil {
			s.log.Warn("image rendition failed", "media", m.ID, "err", err)
			_ = s.store.SetMediaStatus(ctx, m.ID, store.MediaFailed, err.Error())
			s.events.publish(m.OrgID, Event{Type: "media", Data: map[string]string{"id": m.ID, "status": store.MediaFailed}})
			continue
		}
		s.m.renditions.Observe(time.Since(start).Seconds())
		gone := false
		for i, r := range out {
			b, err := s.blobs.PutBytes(r.Data)
			if err != nil {
				return fmt.Errorf("store rendition: %w", err)
			}
			if err := s.putRendition(ctx, store.Rendition{MediaID: m.ID, Profile: names[i], Width: r.Width, Height: r.Height, SHA256: b.SHA256, Size: b.Size, ContentType: r.ContentType}); err != nil {
				if _, err2 := s.store.Media(ctx, m.OrgID, m.ID); errors.Is(err2, store.ErrNotFound) {
					gone = true // deleted meanwhile: the other items still get theirs
					break
				}
				return err
			}
		}
		if gone {
			continue
		}
		_ = s.store.SetMediaStatus(ctx, m.ID, store.MediaReady, "")
		// The console's library shows the state live.
		s.events.publish(m.OrgID, Event{Type: "media", Data: map[string]string{"id": m.ID, "status": store.MediaReady}})
		s.log.Info("renditions ready", "media", m.ID, "profiles", len(out), "ms", time.Since(start).Milliseconds())
	}
	return nil
}

// refreshOrg recompiles the manifest of every display of an organisation;
// only displays whose manifest changed get a new version and a push.
func (s *Server) refreshOrg(orgID string) error {
	s.compMu.Lock()
	defer s.compMu.Unlock()
	ctx, cancel := s.timeout()
	defer cancel()
	oc, err := s.loadOrgContent(ctx, orgID)
	if err != nil {
		return err
	}
	displays, err := s.store.Displays(ctx, orgID)
	if err != nil {
		return err
	}
	var errs []error
	for _, d := range displays {
		if err := s.publish(ctx, oc, d); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// refreshDisplay recompiles one display's manifest.
func (s *Server) refreshDisplay(displayID string) error {
	s.compMu.Lock()
	defer s.compMu.Unlock()
	ctx, cancel := s.timeout()
	defer cancel()
	d, err := s.store.DisplayByID(ctx, displayID)
	if err != nil {
		return err
	}
	oc, err := s.loadOrgContent(ctx, d.OrgID)
	if err != nil {
		return err
	}
	return s.publish(ctx, oc, d)
}

// publish compiles a display's manifest and, if what it should play
// changed, stores it under the next version, signs it and pushes it. A
// manifest that cannot be compiled or sent leaves the display on its last
// one, with the reason in its manifest state.
func (s *Server) publish(ctx context.Context, oc *orgContent, d store.Display) (err error) {
	defer func() {
		// A bug met compiling one display's program must not stop the
		// others' (nor the server: this runs outside any request).
		if r := recover(); r != nil {
			err = fmt.Errorf("compile manifest for %s: internal error: %v", d.ID, r)
			s.mstate.set(d.ID, err.Error())
		}
	}()
	m, err := s.compile(oc, d, time.Now())
	if err != nil {
		s.mstate.set(d.ID, err.Error())
		return fmt.Errorf("compile manifest for %s: %w", d.ID, err)
	}
	body, _ := json.Marshal(m)
	sum := sha256.Sum256(body)
	hash := hex.EncodeToString(sum[:])
	if hash == d.ManifestHash {
		s.mstate.set(d.ID, "")
		return nil
	}
	m.Version = d.ManifestVersion + 1
	m.IssuedAt = time.Now().UTC()
	signed, err := signManifest(s.key, m)
	if err != nil {
		s.mstate.set(d.ID, err.Error())
		return fmt.Errorf("manifest for %s: %w", d.ID, err)
	}
	s.mstate.set(d.ID, "")
	sm := store.SignedManifest{Version: m.Version, Hash: hash, Payload: signed.Payload, Signature: signed.Signature}
	ok, err := s.store.SaveManifest(ctx, d.ID, sm)
	if err != nil || !ok {
		return err
	}
	s.log.Info("manifest compiled", "display", d.ID, "version", m.Version, "files", len(m.Files))
	s.hub.Push(d.ID, sm)
	return nil
}

// compile builds the manifest (without version and time) for a display:
// its program and the files it needs over the prefetch window.
func (s *Server) compile(oc *orgContent, d store.Display, now time.Time) (protocol.Manifest, error) {
	cp, files := s.compileProgram(oc, d, now)
	prog := cp.Program()
	if err := prog.Validate(); err != nil {
		return protocol.Manifest{}, fmt.Errorf("program does not validate: %w", err)
	}
	raw, err := json.Marshal(prog)
	if err != nil {
		return protocol.Manifest{}, err
	}
	return protocol.Manifest{
		DisplayID:    d.ID,
		Display:      protocol.DisplaySpec{Width: d.Width, Height: d.Height, Fit: d.Fit, Background: d.Background},
		Timezone:     prog.Timezone,
		Playlist:     protocol.Playlist{Items: []protocol.Item{}},
		Program:      raw,
		PrefetchDays: s.cfg.PrefetchDays,
		Files:        files,
	}, nil
}
