package player

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"beacon/player/cache"
	"beacon/playlists"
	"beacon/protocol"
)

// downloadLoop fetches the files of the current manifest that the cache
// lacks (for a program: every file of its prefetch horizon), one at a time, whenever it is kicked (new manifest, new session,
// corrupt file) and again after a failure.
func (p *Player) downloadLoop(ctx context.Context) {
	failures := 0
	var retry <-chan time.Time
	for {
		select {
		case <-ctx.Done():
			return
		case <-p.kick:
		case <-retry:
		}
		retry = nil
		if p.downloadRound(ctx) {
			failures = 0
			continue
		}
		// Files are missing for a reason worth retrying (network, server):
		// look again after a backoff delay, as long as a session is up.
		d := p.cfg.BackoffMax
		if failures < 16 {
			d = min(d, p.cfg.BackoffBase<<failures)
		}
		failures++
		retry = time.After(d)
	}
}

// downloadRound downloads what is missing, reports a file_list and evicts
// files no manifest needs once everything is present. It returns false if
// a retryable failure left files missing.
func (p *Player) downloadRound(ctx context.Context) bool {
	p.mu.Lock()
	m, s, token, gen := p.manifest, p.sess, p.token, p.gen
	bad := p.badFiles
	p.mu.Unlock()
	if m == nil {
		return true
	}
	if s == nil {
		return true // the next session kicks a new round
	}
	ok := true
	for _, f := range p.downloadOrder(m) {
		if ctx.Err() != nil || s.ctx.Err() != nil {
			return false
		}
		if p.currentGen() != gen {
			p.kickDownloads()
			return true
		}
		if p.cache.Has(f.SHA256) {
			continue
		}
		p.mu.Lock()
		skip := bad[f.SHA256]
		p.mu.Unlock()
		if skip {
			continue
		}
		u, sendToken := p.fileURL(f)
		if u == "" {
			p.log.Error("file URL not usable", "sha256", f.SHA256, "url", f.URL)
			continue
		}
		req := cache.Request{URL: u, SHA256: f.SHA256, Size: f.Size}
		if sendToken {
			req.Token = token
		}
		start := time.Now()
		res, err := p.cache.Download(s.ctx, p.client, req)
		switch {
		case errors.Is(err, cache.ErrHashMismatch):
			p.log.Error("downloaded file does not match its hash; discarded", "sha256", f.SHA256, "err", err)
			p.mu.Lock()
			bad[f.SHA256] = true
			p.mu.Unlock()
			p.report(protocol.Incident{
				Kind: protocol.IncidentHashMismatch, Message: err.Error(),
				ManifestVersion: m.Version, SHA256: f.SHA256,
			})
		case err != nil:
			p.log.Warn("download failed", "sha256", f.SHA256, "err", err)
			ok = false
		default:
			p.log.Info("downloaded", "sha256", f.SHA256, "bytes", res.Downloaded,
				"resumed_at", res.ResumedAt, "took", time.Since(start).Round(time.Millisecond))
			p.wakePlayback()
		}
	}
	fl := protocol.FileList{ManifestVersion: m.Version, Have: []string{}, Missing: []string{}}
	keep := make(map[string]bool, len(m.Files))
	for _, f := range m.Files {
		keep[f.SHA256] = true
		if p.cache.Has(f.SHA256) {
			fl.Have = append(fl.Have, f.SHA256)
		} else {
			fl.Missing = append(fl.Missing, f.SHA256)
		}
	}
	s.send(protocol.TypeFileList, fl)
	// A plain playlist keeps the previous files until the new ones are all
	// in. A program's file list is everything it needs over the prefetch
	// horizon, so files no longer listed go at once.
	if (len(fl.Missing) == 0 || len(m.Program) > 0) && p.currentGen() == gen {
		if n, err := p.cache.Evict(keep); err != nil {
			p.log.Warn("evict", "err", err)
		} else if n > 0 {
			p.log.Info("evicted files no manifest needs", "files", n)
		}
	}
	return ok
}

// prefetchSoon is the span whose files a program downloads first.
const prefetchSoon = 24 * time.Hour

// downloadOrder lists a manifest's files, those a program needs within
// prefetchSoon first (the server lists the whole prefetch horizon).
func (p *Player) downloadOrder(m *protocol.Manifest) []protocol.File {
	if len(m.Program) == 0 {
		return m.Files
	}
	var prog playlists.Program
	if json.Unmarshal(m.Program, &prog) != nil {
		return m.Files
	}
	now := p.now()
	soon := map[string]bool{}
	for _, sha := range playlists.Files(&prog, now, now.Add(prefetchSoon)) {
		soon[sha] = true
	}
	out := make([]protocol.File, 0, len(m.Files))
	for _, f := range m.Files {
		if soon[f.SHA256] {
			out = append(out, f)
		}
	}
	for _, f := range m.Files {
		if !soon[f.SHA256] {
			out = append(out, f)
		}
	}
	return out
}

func (p *Player) currentGen() uint64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.gen
}
