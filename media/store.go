package media

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"time"
)

// ErrTooLarge is wrapped by Put when an upload exceeds its byte limit; the
// wrapping error names the limit ("file exceeds the upload limit of N bytes").
var ErrTooLarge = errors.New("file exceeds the upload limit")

// ErrInvalidHash is returned for a content hash that is not 64 lower-case
// hexadecimal digits.
var ErrInvalidHash = errors.New("invalid content hash: want 64 lower-case hex digits")

// ErrHashMismatch is wrapped by Verify when a blob's bytes no longer hash to
// its name.
var ErrHashMismatch = errors.New("stored file does not match its content hash")

// staleTemp is the age after which OpenStore deletes leftovers in root/tmp
// (uploads cut short by a crash).
const staleTemp = time.Hour

// Store is a content-addressed file store rooted at one directory. Files are
// named by the SHA-256 of their bytes. A Store is safe for concurrent use.
type Store struct {
	root  string
	blobs string
	tmp   string
}

// Blob identifies a stored file.
type Blob struct {
	SHA256 string // 64 lower-case hex digits
	Size   int64  // bytes
}

// OpenStore opens (creating if needed) the store at root: root/blobs holds
// the files, root/tmp the uploads in progress. Temporary files older than an
// hour are removed.
func OpenStore(root string) (*Store, error) {
	if root == "" {
		return nil, errors.New("media: store root is empty")
	}
	s := &Store{
		root:  root,
		blobs: filepath.Join(root, "blobs"),
		tmp:   filepath.Join(root, "tmp"),
	}
	for _, d := range []string{s.blobs, s.tmp} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, fmt.Errorf("media: open store: %w", err)
		}
	}
	s.cleanTemp(time.Now().Add(-staleTemp))
	return s, nil
}

// cleanTemp removes temporary files last modified before cutoff. Failures
// are ignored: a leftover file costs only disk space.
func (s *Store) cleanTemp(cutoff time.Time) {
	entries, err := os.ReadDir(s.tmp)
	if err != nil {
		return
	}
	for _, e := range entries {
		info, err := e.Info()
		if err != nil || info.IsDir() {
			continue
		}
		if info.ModTime().Before(cutoff) {
			os.Remove(filepath.Join(s.tmp, e.Name()))
		}
	}
}

// validHash reports whether sha is 64 lower-case hex digits.
func validHash(sha string) bool {
	if len(sha) != 64 {
		return false
	}
	for i := 0; i < len(sha); i++ {
		c := sha[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

// Put stores the bytes read from r and returns their hash and size. If more
// than limit bytes arrive, Put stops reading and returns an error wrapping
// ErrTooLarge; limit <= 0 means no limit. Content already in the store is
// not written twice.
func (s *Store) Put(r io.Reader, limit int64) (Blob, error) {
	f, err := os.CreateTemp(s.tmp, "put-*")
	if err != nil {
		return Blob{}, fmt.Errorf("media: put: %w", err)
	}
	tmpName := f.Name()
	done := false
	defer func() {
		if !done {
			f.Close()
			os.Remove(tmpName)
		}
	}()

	h := sha256.New()
	src := r
	if limit > 0 {
		src = io.LimitReader(r, limit+1)
	}
	n, err := io.Copy(io.MultiWriter(f, h), src)
	if err != nil {
		return Blob{}, fmt.Errorf("media: put: %w", err)
	}
	if limit > 0 && n > limit {
		return Blob{}, fmt.Errorf("%w of %d bytes", ErrTooLarge, limit)
	}
	if err := f.Chmod(0o644); err != nil {
		return Blob{}, fmt.Errorf("media: put: %w", err)
	}
	if err := f.Sync(); err != nil {
		return Blob{}, fmt.Errorf("media: put: %w", err)
	}
	if err := f.Close(); err != nil {
		return Blob{}, fmt.Errorf("media: put: %w", err)
	}

	blob := Blob{SHA256: hex.EncodeToString(h.Sum(nil)), Size: n}
	dst := s.Path(blob.SHA256)
	if info, err := os.Stat(dst); err == nil && info.Mode().IsRegular() {
		// Already stored: keep the existing file.
		os.Remove(tmpName)
		done = true
		blob.Size = info.Size()
		return blob, nil
	}
	dir := filepath.Dir(dst)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return Blob{}, fmt.Errorf("media: put: %w", err)
	}
	if err := os.Rename(tmpName, dst); err != nil {
		return Blob{}, fmt.Errorf("media: put: %w", err)
	}
	done = true
	syncDir(dir)
	return blob, nil
}

// syncDir flushes a directory entry change (the rename) to disk. Errors are
// ignored: some file systems do not support fsync on directories.
func syncDir(dir string) {
	d, err := os.Open(dir)
	if err != nil {
		return
	}
	d.Sync()
	d.Close()
}

// PutBytes stores b without a size limit.
func (s *Store) PutBytes(b []byte) (Blob, error) {
	return s.Put(bytes.NewReader(b), 0)
}

// Path returns where the blob named sha lives (whether or not it exists), or
// "" if sha is not a valid hash.
func (s *Store) Path(sha string) string {
	if !validHash(sha) {
		return ""
	}
	return filepath.Join(s.blobs, sha[:2], sha)
}

// Has reports whether the blob named sha is stored.
func (s *Store) Has(sha string) bool {
	p := s.Path(sha)
	if p == "" {
		return false
	}
	info, err := os.Stat(p)
	return err == nil && info.Mode().IsRegular()
}

// Open opens the blob named sha for reading and returns it with its size.
// The caller closes the file. A missing blob gives an error wrapping
// fs.ErrNotExist.
func (s *Store) Open(sha string) (*os.File, int64, error) {
	p := s.Path(sha)
	if p == "" {
		return nil, 0, ErrInvalidHash
	}
	f, err := os.Open(p)
	if err != nil {
		return nil, 0, err
	}
	info, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, 0, err
	}
	if !info.Mode().IsRegular() {
		f.Close()
		return nil, 0, &fs.PathError{Op: "open", Path: p, Err: fs.ErrNotExist}
	}
	return f, info.Size(), nil
}

// Remove deletes the blob named sha. Removing a missing blob returns an
// error wrapping fs.ErrNotExist.
func (s *Store) Remove(sha string) error {
	p := s.Path(sha)
	if p == "" {
		return ErrInvalidHash
	}
	return os.Remove(p)
}

// Verify re-hashes the blob named sha and returns an error wrapping
// ErrHashMismatch if its bytes no longer match the name.
func (s *Store) Verify(sha string) error {
	f, _, err := s.Open(sha)
	if err != nil {
		return err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return fmt.Errorf("media: verify %s: %w", sha, err)
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != sha {
		return fmt.Errorf("%w: %s hashes to %s", ErrHashMismatch, sha, got)
	}
	return nil
}
