package player

import (
	"context"
	"errors"
	"time"

	"beacon/player/cache"
	"beacon/protocol"
)

// downloadLoop fetches the files of the current manifest that the cache
// lacks, one at a time, whenever it is kicked (new manifest, new session,
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
	for _, f := range m.Files {
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
	if len(fl.Missing) == 0 && p.currentGen() == gen {
		if n, err := p.cache.Evict(keep); err != nil {
			p.log.Warn("evict", "err", err)
		} else if n > 0 {
			p.log.Info("evicted files no manifest needs", "files", n)
		}
	}
	return ok
}

func (p *Player) currentGen() uint64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.gen
}
