// Package cache is the player's content-addressed file cache.
//
// A verified file lives at DIR/<sha[0:2]>/<sha>; a download in progress
// lives at DIR/partial/<sha> and is resumed with an HTTP Range request.
// Nothing enters the cache without its SHA-256 and size being checked, and
// Verified re-hashes a file before it is used, so a file corrupted on disk
// is removed rather than shown.
package cache

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"

	"beacon/protocol"
)

// Errors returned by the cache.
var (
	// ErrNotFound means the file is not in the cache.
	ErrNotFound = errors.New("cache: file not cached")
	// ErrCorrupt means a cached file no longer matched its hash; it was removed.
	ErrCorrupt = errors.New("cache: cached file is corrupt")
	// ErrHashMismatch means downloaded bytes did not match the expected
	// SHA-256 or size; the partial file was deleted.
	ErrHashMismatch = errors.New("cache: downloaded file does not match its hash")
	// ErrBadHash means the name given is not a lower-case hex SHA-256.
	ErrBadHash = errors.New("cache: not a sha256")
)

// MaxVerifiedSize bounds the size of a file Verified reads into memory.
const MaxVerifiedSize = 256 << 20

// Cache is a content-addressed store on disk. It is safe for concurrent use.
type Cache struct {
	dir    string
	mu     sync.Mutex       // serialises moves and removals
	needed map[string]int64 // sha → when last needed (unix seconds); see Trim
}

// Stats summarises what the cache holds.
type Stats struct {
	Files int
	Bytes int64
}

// Open creates (if needed) and opens a cache rooted at dir.
func Open(dir string) (*Cache, error) {
	if err := os.MkdirAll(filepath.Join(dir, "partial"), 0o755); err != nil {
		return nil, fmt.Errorf("cache: %w", err)
	}
	c := &Cache{dir: dir}
	c.loadNeeded()
	return c, nil
}

// Dir returns the cache's root directory.
func (c *Cache) Dir() string { return c.dir }

// Path returns where the verified file for sha lives (whether or not it exists).
func (c *Cache) Path(sha string) string {
	return filepath.Join(c.dir, sha[:2], sha)
}

// PartialPath returns where a partial download of sha lives.
func (c *Cache) PartialPath(sha string) string {
	return filepath.Join(c.dir, "partial", sha)
}

// Has reports whether a file for sha is in the cache (without re-hashing it).
func (c *Cache) Has(sha string) bool {
	if !protocol.ValidSHA256(sha) {
		return false
	}
	fi, err := os.Stat(c.Path(sha))
	return err == nil && fi.Mode().IsRegular()
}

// Verified reads the cached file for sha and re-hashes it. It returns the
// bytes only when they match sha; a file that does not match is removed
// and ErrCorrupt is returned.
func (c *Cache) Verified(sha string) ([]byte, error) {
	f, err := c.open(sha)
	if err != nil {
		return nil, err
	}
	data, err := io.ReadAll(io.LimitReader(f, MaxVerifiedSize+1))
	f.Close()
	if err != nil {
		return nil, fmt.Errorf("cache: read %s: %w", sha, err)
	}
	sum := sha256.Sum256(data)
	if len(data) > MaxVerifiedSize || hex.EncodeToString(sum[:]) != sha {
		c.Remove(sha)
		return nil, fmt.Errorf("%w: %s", ErrCorrupt, sha)
	}
	return data, nil
}

// Check re-hashes the cached file for sha without holding it in memory.
// A file that does not match is removed and ErrCorrupt is returned. On
// success it returns the file's info as it was hashed.
func (c *Cache) Check(sha string) (fs.FileInfo, error) {
	f, err := c.open(sha)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("cache: %w", err)
	}
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return nil, fmt.Errorf("cache: read %s: %w", sha, err)
	}
	if hex.EncodeToString(h.Sum(nil)) != sha {
		c.Remove(sha)
		return nil, fmt.Errorf("%w: %s", ErrCorrupt, sha)
	}
	return fi, nil
}

// open opens the cached file for sha: ErrBadHash for a malformed hash,
// ErrNotFound when it is not cached.
func (c *Cache) open(sha string) (*os.File, error) {
	if !protocol.ValidSHA256(sha) {
		return nil, ErrBadHash
	}
	f, err := os.Open(c.Path(sha))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("cache: %w", err)
	}
	return f, nil
}

// Remove deletes the cached file for sha, if any.
func (c *Cache) Remove(sha string) {
	if !protocol.ValidSHA256(sha) {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	_ = os.Remove(c.Path(sha))
}

// Evict removes every cached and partial file whose hash is not in keep.
// It returns how many files it removed.
func (c *Cache) Evict(keep map[string]bool) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	removed := 0
	var firstErr error
	err := c.walk(func(sha, path string, _ fs.FileInfo) {
		if keep[sha] {
			return
		}
		if err := os.Remove(path); err != nil && firstErr == nil {
			firstErr = err
			return
		}
		removed++
	}, true)
	if err == nil {
		err = firstErr
	}
	c.dropEmptyDirsLocked()
	return removed, err
}

// dropEmptyDirsLocked removes empty prefix directories.
func (c *Cache) dropEmptyDirsLocked() {
	if entries, err := os.ReadDir(c.dir); err == nil {
		for _, e := range entries {
			if e.IsDir() && len(e.Name()) == 2 {
				_ = os.Remove(filepath.Join(c.dir, e.Name())) // fails unless empty
			}
		}
	}
}

// Stats counts the verified files in the cache and their total size.
func (c *Cache) Stats() Stats {
	var s Stats
	_ = c.walk(func(_, _ string, fi fs.FileInfo) {
		s.Files++
		s.Bytes += fi.Size()
	}, false)
	return s
}

// walk calls fn for every cached file (and partial file if partials is set).
func (c *Cache) walk(fn func(sha, path string, fi fs.FileInfo), partials bool) error {
	entries, err := os.ReadDir(c.dir)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		name := e.Name()
		if name == "partial" && !partials {
			continue
		}
		if name != "partial" && len(name) != 2 {
			continue
		}
		sub := filepath.Join(c.dir, name)
		files, err := os.ReadDir(sub)
		if err != nil {
			continue
		}
		for _, f := range files {
			if !f.Type().IsRegular() {
				continue
			}
			fi, err := f.Info()
			if err != nil {
				continue
			}
			fn(f.Name(), filepath.Join(sub, f.Name()), fi)
		}
	}
	return nil
}

// Request describes one file to download.
type Request struct {
	URL    string // absolute URL of the file
	Token  string // bearer token; sent as Authorization: Bearer <token>
	SHA256 string // expected lower-case hex SHA-256
	Size   int64  // expected size in bytes
}

// Result reports what a download did.
type Result struct {
	Resumed    bool  // the server answered a Range request with 206
	ResumedAt  int64 // offset the download resumed from
	Downloaded int64 // bytes received in this call
}

// Download fetches a file into the cache, resuming a partial download with
// a Range request. The file is moved into place only after its size and
// SHA-256 match; otherwise the partial file is deleted and an error
// wrapping ErrHashMismatch is returned. A file already cached is left alone.
func (c *Cache) Download(ctx context.Context, client *http.Client, req Request) (Result, error) {
	var res Result
	if !protocol.ValidSHA256(req.SHA256) {
		return res, ErrBadHash
	}
	if req.Size < 0 {
		return res, fmt.Errorf("cache: negative size for %s", req.SHA256)
	}
	if c.Has(req.SHA256) {
		return res, nil
	}
	if client == nil {
		client = http.DefaultClient
	}
	partial := c.PartialPath(req.SHA256)
	f, err := os.OpenFile(partial, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return res, fmt.Errorf("cache: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return res, fmt.Errorf("cache: %w", err)
	}
	offset := fi.Size()
	if offset > req.Size {
		offset = 0
	}
	if offset < req.Size {
		// Two attempts: the second one after a 416 restarts from zero.
		for attempt := 0; ; attempt++ {
			n, resumed, err := c.fetch(ctx, client, req, f, offset)
			res.Downloaded += n
			if resumed {
				res.Resumed, res.ResumedAt = true, offset
			}
			if errors.Is(err, errRangeNotSatisfiable) && attempt == 0 && offset > 0 {
				offset = 0
				continue
			}
			if err != nil {
				if errors.Is(err, ErrHashMismatch) {
					f.Close()
					os.Remove(partial)
				}
				return res, err
			}
			break
		}
	}
	if err := f.Truncate(req.Size); err != nil { // only shrinks data we never expected
		return res, fmt.Errorf("cache: %w", err)
	}
	if err := checkFile(f, req.SHA256, req.Size); err != nil {
		f.Close()
		os.Remove(partial)
		return res, err
	}
	if err := f.Sync(); err != nil {
		return res, fmt.Errorf("cache: %w", err)
	}
	f.Close()
	c.mu.Lock()
	defer c.mu.Unlock()
	dst := c.Path(req.SHA256)
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return res, fmt.Errorf("cache: %w", err)
	}
	if err := os.Rename(partial, dst); err != nil {
		return res, fmt.Errorf("cache: %w", err)
	}
	syncDir(filepath.Dir(dst))
	return res, nil
}

var errRangeNotSatisfiable = errors.New("cache: range not satisfiable")

// fetch issues one GET from offset and writes the body into f. It returns
// how many bytes it wrote and whether the server resumed (206).
func (c *Cache) fetch(ctx context.Context, client *http.Client, req Request, f *os.File, offset int64) (int64, bool, error) {
	hr, err := http.NewRequestWithContext(ctx, http.MethodGet, req.URL, nil)
	if err != nil {
		return 0, false, fmt.Errorf("cache: %w", err)
	}
	if req.Token != "" {
		hr.Header.Set("Authorization", "Bearer "+req.Token)
	}
	if offset > 0 {
		hr.Header.Set("Range", "bytes="+strconv.FormatInt(offset, 10)+"-")
	}
	resp, err := client.Do(hr)
	if err != nil {
		return 0, false, fmt.Errorf("cache: get %s: %w", req.SHA256, err)
	}
	defer resp.Body.Close()
	resumed := false
	switch resp.StatusCode {
	case http.StatusPartialContent:
		if offset == 0 || contentRangeStart(resp.Header.Get("Content-Range")) != offset {
			return 0, false, fmt.Errorf("cache: get %s: unexpected Content-Range %q", req.SHA256, resp.Header.Get("Content-Range"))
		}
		resumed = true
	case http.StatusOK:
		offset = 0 // the server sent the whole file: start over
		if err := f.Truncate(0); err != nil {
			return 0, false, fmt.Errorf("cache: %w", err)
		}
	case http.StatusRequestedRangeNotSatisfiable:
		if err := f.Truncate(0); err != nil {
			return 0, false, fmt.Errorf("cache: %w", err)
		}
		return 0, false, errRangeNotSatisfiable
	default:
		return 0, false, fmt.Errorf("cache: get %s: HTTP %s", req.SHA256, resp.Status)
	}
	if _, err := f.Seek(offset, io.SeekStart); err != nil {
		return 0, resumed, fmt.Errorf("cache: %w", err)
	}
	// Read at most one byte more than expected, to detect an oversized body.
	want := req.Size - offset
	n, err := io.Copy(f, io.LimitReader(resp.Body, want+1))
	if err != nil {
		return n, resumed, fmt.Errorf("cache: get %s: %w", req.SHA256, err)
	}
	if n > want {
		return n, resumed, fmt.Errorf("%w: %s: more than %d bytes", ErrHashMismatch, req.SHA256, req.Size)
	}
	if n < want {
		return n, resumed, fmt.Errorf("cache: get %s: short body (%d of %d bytes)", req.SHA256, offset+n, req.Size)
	}
	return n, resumed, nil
}

// checkFile hashes f from the start and compares size and hash.
func checkFile(f *os.File, sha string, size int64) error {
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return fmt.Errorf("cache: %w", err)
	}
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return fmt.Errorf("cache: %w", err)
	}
	if n != size {
		return fmt.Errorf("%w: %s: size %d, want %d", ErrHashMismatch, sha, n, size)
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != sha {
		return fmt.Errorf("%w: %s: got %s", ErrHashMismatch, sha, got)
	}
	return nil
}

// contentRangeStart parses the first byte position of "bytes a-b/n".
func contentRangeStart(v string) int64 {
	v, ok := strings.CutPrefix(strings.TrimSpace(v), "bytes ")
	if !ok {
		return -1
	}
	i := strings.IndexByte(v, '-')
	if i <= 0 {
		return -1
	}
	n, err := strconv.ParseInt(v[:i], 10, 64)
	if err != nil {
		return -1
	}
	return n
}

func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		d.Close()
	}
}

// HashBytes returns the lower-case hex SHA-256 of b.
func HashBytes(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}
