// Package journal is the player's proof-of-play journal: an append-only
// file of plays that survives restarts and killed processes, holding each
// play until the server acknowledges it.
//
// # Format
//
// The journal is one file of JSON lines. Each line is either a play
//
//	{"play":{"id":"3f9c0a1b7d2e-000001","zone":"main","item_id":"it-1",…}}
//
// or an acknowledgement of plays sent earlier
//
//	{"ack":["3f9c0a1b7d2e-000001","3f9c0a1b7d2e-000002"]}
//
// A play is pending until an ack line names it. Every appended line is
// written with one write call and synced before Append or Ack returns. On
// load, a line that does not parse is ignored (a torn last line after a
// crash, or a damaged line); the next append starts on a fresh line.
//
// Play IDs are "<boot>-<seq>": boot is 12 random hex characters drawn each
// time the journal is opened, seq counts from 1. An ID is therefore never
// reused, and it stays the same however often the play is resent, so the
// server can count each play once.
//
// Compaction rewrites the file with only the pending plays (to a temporary
// file, synced, then renamed over the journal), so a crash during
// compaction leaves either the old or the new file, never a mix.
package journal

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"

	"beacon/protocol"
)

// compactAfter is how many acknowledged lines may accumulate before the
// file is rewritten.
const compactAfter = 4096

// Journal is an open journal. Its methods are safe for concurrent use.
type Journal struct {
	path string
	boot string

	mu      sync.Mutex
	f       *os.File
	seq     uint64
	pending []protocol.PlayRecord // oldest first
	index   map[string]int        // id → position in pending
	dead    int                   // acknowledged or unparsable lines in the file
	damaged int                   // lines ignored at load
	closed  bool
}

type line struct {
	Play *protocol.PlayRecord `json:"play,omitempty"`
	Ack  []string             `json:"ack,omitempty"`
}

// Open opens (or creates) the journal at path and loads its pending plays.
func Open(path string) (*Journal, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("journal: %w", err)
	}
	var b [6]byte
	if _, err := rand.Read(b[:]); err != nil {
		return nil, fmt.Errorf("journal: boot id: %w", err)
	}
	j := &Journal{path: path, boot: hex.EncodeToString(b[:]), index: map[string]int{}}
	if err := j.load(); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("journal: %w", err)
	}
	j.f = f
	if err := j.fixTail(); err != nil {
		f.Close()
		return nil, err
	}
	if j.dead > 0 && j.dead >= len(j.pending) {
		if err := j.compactLocked(); err != nil {
			f.Close()
			return nil, err
		}
	}
	return j, nil
}

func (j *Journal) load() error {
	raw, err := os.ReadFile(j.path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("journal: %w", err)
	}
	var plays []protocol.PlayRecord
	acked := map[string]bool{}
	seen := map[string]bool{}
	for len(raw) > 0 {
		var ln []byte
		if i := bytes.IndexByte(raw, '\n'); i >= 0 {
			ln, raw = raw[:i], raw[i+1:]
		} else {
			ln, raw = raw, nil // no newline: a torn last line unless it parses
		}
		ln = bytes.TrimSpace(ln)
		if len(ln) == 0 {
			continue
		}
		var l line
		if err := json.Unmarshal(ln, &l); err != nil || (l.Play == nil && l.Ack == nil) || (l.Play != nil && l.Play.ID == "") {
			j.damaged++
			j.dead++
			continue
		}
		if l.Play != nil {
			if seen[l.Play.ID] {
				j.dead++
				continue
			}
			seen[l.Play.ID] = true
			plays = append(plays, *l.Play)
		}
		for _, id := range l.Ack {
			acked[id] = true
		}
		if l.Ack != nil {
			j.dead++
		}
	}
	for _, r := range plays {
		if acked[r.ID] {
			j.dead++
			continue
		}
		j.index[r.ID] = len(j.pending)
		j.pending = append(j.pending, r)
	}
	return nil
}

// fixTail makes sure the file ends with a newline, so a torn last line is
// not glued to the next record.
func (j *Journal) fixTail() error {
	fi, err := j.f.Stat()
	if err != nil || fi.Size() == 0 {
		return err
	}
	r, err := os.Open(j.path)
	if err != nil {
		return fmt.Errorf("journal: %w", err)
	}
	defer r.Close()
	last := make([]byte, 1)
	if _, err := r.ReadAt(last, fi.Size()-1); err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("journal: %w", err)
	}
	if last[0] == '\n' {
		return nil
	}
	if _, err := j.f.Write([]byte{'\n'}); err != nil {
		return fmt.Errorf("journal: %w", err)
	}
	return j.f.Sync()
}

// ErrClosed is returned after Close.
var ErrClosed = errors.New("journal: closed")

// Boot returns the random prefix of the IDs this instance assigns.
func (j *Journal) Boot() string { return j.boot }

// Damaged returns how many lines were ignored when the journal was loaded.
func (j *Journal) Damaged() int {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.damaged
}

// Append assigns r a fresh ID, writes it and syncs the file. It returns
// the record as stored.
func (j *Journal) Append(r protocol.PlayRecord) (protocol.PlayRecord, error) {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.closed {
		return r, ErrClosed
	}
	j.seq++
	r.ID = fmt.Sprintf("%s-%06d", j.boot, j.seq)
	r.Start, r.End = r.Start.UTC(), r.End.UTC()
	b, err := json.Marshal(line{Play: &r})
	if err != nil {
		return r, fmt.Errorf("journal: %w", err)
	}
	if err := j.writeLocked(b); err != nil {
		return r, err
	}
	j.index[r.ID] = len(j.pending)
	j.pending = append(j.pending, r)
	return r, nil
}

func (j *Journal) writeLocked(b []byte) error {
	if _, err := j.f.Write(append(b, '\n')); err != nil {
		return fmt.Errorf("journal: write: %w", err)
	}
	if err := j.f.Sync(); err != nil {
		return fmt.Errorf("journal: sync: %w", err)
	}
	return nil
}

// Pending returns up to max pending plays, oldest first (all if max <= 0).
func (j *Journal) Pending(max int) []protocol.PlayRecord {
	j.mu.Lock()
	defer j.mu.Unlock()
	n := len(j.pending)
	if max > 0 && max < n {
		n = max
	}
	return append([]protocol.PlayRecord(nil), j.pending[:n]...)
}

// Len returns the number of pending plays.
func (j *Journal) Len() int {
	j.mu.Lock()
	defer j.mu.Unlock()
	return len(j.pending)
}

// Ack drops the plays with these IDs: the server has stored them. Unknown
// IDs (already acknowledged) are ignored.
func (j *Journal) Ack(ids []string) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.closed {
		return ErrClosed
	}
	var known []string
	drop := map[string]bool{}
	for _, id := range ids {
		if _, ok := j.index[id]; ok && !drop[id] {
			known = append(known, id)
			drop[id] = true
		}
	}
	if len(known) == 0 {
		return nil
	}
	b, err := json.Marshal(line{Ack: known})
	if err != nil {
		return fmt.Errorf("journal: %w", err)
	}
	if err := j.writeLocked(b); err != nil {
		return err
	}
	kept := j.pending[:0]
	for _, r := range j.pending {
		if !drop[r.ID] {
			kept = append(kept, r)
		}
	}
	clear(j.pending[len(kept):])
	j.pending = kept
	j.index = make(map[string]int, len(kept))
	for i, r := range kept {
		j.index[r.ID] = i
	}
	j.dead += len(known) + 1
	if j.dead >= compactAfter || (len(j.pending) == 0 && j.dead > 0) {
		if err := j.compactLocked(); err != nil {
			return err
		}
	}
	return nil
}

// Compact rewrites the file with only the pending plays.
func (j *Journal) Compact() error {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.closed {
		return ErrClosed
	}
	return j.compactLocked()
}

func (j *Journal) compactLocked() error {
	dir := filepath.Dir(j.path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(j.path)+".tmp*")
	if err != nil {
		return fmt.Errorf("journal: compact: %w", err)
	}
	ok := false
	defer func() {
		if !ok {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	w := bufio.NewWriter(tmp)
	for i := range j.pending {
		b, err := json.Marshal(line{Play: &j.pending[i]})
		if err != nil {
			return fmt.Errorf("journal: compact: %w", err)
		}
		w.Write(b)
		w.WriteByte('\n')
	}
	if err := w.Flush(); err != nil {
		return fmt.Errorf("journal: compact: %w", err)
	}
	if err := tmp.Chmod(0o600); err != nil {
		return fmt.Errorf("journal: compact: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("journal: compact: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("journal: compact: %w", err)
	}
	if err := os.Rename(tmp.Name(), j.path); err != nil {
		return fmt.Errorf("journal: compact: %w", err)
	}
	ok = true
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		d.Close()
	}
	f, err := os.OpenFile(j.path, os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("journal: reopen: %w", err)
	}
	j.f.Close()
	j.f = f
	j.dead = 0
	return nil
}

// Close closes the file. Pending plays stay on disk.
func (j *Journal) Close() error {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.closed {
		return nil
	}
	j.closed = true
	return j.f.Close()
}
