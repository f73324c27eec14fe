package player

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"syscall"
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
	if s == nil {
		return true // the next session kicks a new round
	}
	// Override media first: they are urgent, and kept apart from the
	// manifest's files.
	ok := p.downloadOverrideMedia(s, token, bad)
	if m == nil {
		return ok
	}
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
	for _, f := range p.overrideMedia() {
		keep[f.SHA256] = true // pinned while the override is known
	}
	listed := make([]string, 0, len(m.Files))
	for _, f := range m.Files {
		keep[f.SHA256] = true
		listed = append(listed, f.SHA256)
		if p.cache.Has(f.SHA256) {
			fl.Have = append(fl.Have, f.SHA256)
		} else {
			fl.Missing = append(fl.Missing, f.SHA256)
		}
	}
	s.send(protocol.TypeFileList, fl)
	if err := p.cache.Touch(p.now(), listed...); err != nil {
		p.log.Warn("cache index", "err", err)
	}
	// Files the manifest no longer lists stay while the cache is within its
	// budget (a program may need them again when a high-priority schedule
	// ends, with no network), and go least recently needed first beyond it.
	if p.currentGen() == gen {
		budget := p.cacheBudget(p.cache.Stats().Bytes)
		if n, err := p.cache.Trim(keep, budget); err != nil {
			p.log.Warn("evict", "err", err)
		} else if n > 0 {
			p.log.Info("evicted the least recently needed files to keep the cache budget", "files", n, "budget_bytes", budget)
		}
	}
	return ok
}

// downloadOverrideMedia fetches the media of the overrides held that the
// cache lacks (verified by SHA-256 like manifest files) and shows them. It
// returns false if a retryable failure left some missing.
func (p *Player) downloadOverrideMedia(s *session, token string, bad map[string]bool) bool {
	ok, got := true, false
	for _, f := range p.overrideMedia() {
		if s.ctx.Err() != nil {
			return false
		}
		p.mu.Lock()
		skip := bad[f.SHA256]
		p.mu.Unlock()
		if skip || p.cache.Has(f.SHA256) {
			continue
		}
		u, sendToken := p.fileURL(f)
		if u == "" {
			p.log.Error("override media URL not usable", "sha256", f.SHA256, "url", f.URL)
			continue
		}
		req := cache.Request{URL: u, SHA256: f.SHA256, Size: f.Size}
		if sendToken {
			req.Token = token
		}
		_, err := p.cache.Download(s.ctx, p.client, req)
		switch {
		case errors.Is(err, cache.ErrHashMismatch):
			p.log.Error("override media does not match its hash; discarded", "sha256", f.SHA256, "err", err)
			p.mu.Lock()
			bad[f.SHA256] = true
			p.mu.Unlock()
			p.report(protocol.Incident{Kind: protocol.IncidentHashMismatch, Message: "override media: " + err.Error(), SHA256: f.SHA256})
		case err != nil:
			p.log.Warn("override media download failed", "sha256", f.SHA256, "err", err)
			ok = false
		default:
			got = true
		}
	}
	if got {
		_ = p.cache.Touch(p.now(), mediaShas(p.overrideMedia())...)
	}
	p.refreshOverrideMedia()
	return ok
}

func mediaShas(fs []protocol.File) []string {
	out := make([]string, 0, len(fs))
	for _, f := range fs {
		out = append(out, f.SHA256)
	}
	return out
}

// cacheTampered handles a cached file that no longer matched its hash
// when it was re-verified before use: the cache has already removed it; it
// is reported to the server as an incident (like a tampered manifest) and
// fetched again.
func (p *Player) cacheTampered(sha string, err error) {
	p.mu.Lock()
	var version int64
	if p.manifest != nil {
		version = p.manifest.Version
	}
	delete(p.verified, sha)
	p.mu.Unlock()
	p.log.Error("cached file tampered with or corrupt; removed, reported and fetched again", "sha256", sha, "err", err)
	p.report(protocol.Incident{
		Kind: protocol.IncidentCacheTampered, Message: "cached file no longer matches its SHA-256; removed and downloaded again",
		ManifestVersion: version, SHA256: sha,
	})
	p.kickDownloads()
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

// DefaultCacheBudgetPercent is the share of the space the cache may use
// (its own bytes plus the free space of its file system) that it keeps
// when Config.CacheBudget is not set.
const DefaultCacheBudgetPercent = 50

// cacheBudget is the cache's budget in bytes now.
func (p *Player) cacheBudget(cacheBytes int64) int64 {
	if p.cfg.CacheBudget > 0 {
		return p.cfg.CacheBudget
	}
	var fs syscall.Statfs_t
	if err := syscall.Statfs(p.cache.Dir(), &fs); err != nil {
		return math.MaxInt64 // unknown: keep everything rather than guess
	}
	free := int64(fs.Bavail) * int64(fs.Bsize)
	return int64(float64(free+cacheBytes) * p.cfg.CacheBudgetPercent / 100)
}

// ParseCacheBudget parses a --cache-budget value: bytes ("2000000000"),
// with a unit ("500MB", "2GiB", "10G") or a percent ("40%") of the space
// the cache may use. It returns bytes or percent, the other one zero.
func ParseCacheBudget(s string) (bytes int64, percent float64, err error) {
	s = strings.TrimSpace(s)
	if v, ok := strings.CutSuffix(s, "%"); ok {
		f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
		if err != nil || f <= 0 || f > 100 || math.IsNaN(f) {
			return 0, 0, fmt.Errorf("cache budget %q: a percent must be in (0, 100]", s)
		}
		return 0, f, nil
	}
	units := []struct {
		suffix string
		mult   float64
	}{
		{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"TiB", 1 << 40},
		{"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"TB", 1e12},
		{"K", 1 << 10}, {"M", 1 << 20}, {"G", 1 << 30}, {"T", 1 << 40}, {"B", 1},
	}
	mult := 1.0
	num := s
	for _, u := range units {
		if v, ok := strings.CutSuffix(strings.ToUpper(s), strings.ToUpper(u.suffix)); ok {
			num, mult = strings.TrimSpace(s[:len(v)]), u.mult
			break
		}
	}
	f, err := strconv.ParseFloat(num, 64)
	if err != nil || f <= 0 || math.IsNaN(f) || math.IsInf(f, 0) || f*mult >= math.MaxInt64 {
		return 0, 0, fmt.Errorf("cache budget %q: want bytes (e.g. 2GiB, 500MB) or a percent (e.g. 40%%)", s)
	}
	return int64(f * mult), 0, nil
}
