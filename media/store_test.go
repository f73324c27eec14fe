package media

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func openTestStore(t *testing.T) *Store {
	t.Helper()
	s, err := OpenStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func shaOf(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

func tmpEntries(t *testing.T, s *Store) int {
	t.Helper()
	es, err := os.ReadDir(filepath.Join(s.root, "tmp"))
	if err != nil {
		t.Fatal(err)
	}
	return len(es)
}

func TestPut(t *testing.T) {
	big := bytes.Repeat([]byte("beacon"), 1000) // 6000 bytes
	tests := []struct {
		name    string
		data    []byte
		limit   int64
		tooBig  bool
		wantMsg string
	}{
		{name: "small", data: []byte("hello"), limit: 100},
		{name: "empty", data: nil, limit: 100},
		{name: "exactly the limit", data: big, limit: 6000},
		{name: "one byte over", data: big, limit: 5999, tooBig: true, wantMsg: "file exceeds the upload limit of 5999 bytes"},
		{name: "far over", data: big, limit: 10, tooBig: true, wantMsg: "file exceeds the upload limit of 10 bytes"},
		{name: "no limit", data: big, limit: 0},
		{name: "negative limit means none", data: big, limit: -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := openTestStore(t)
			blob, err := s.Put(bytes.NewReader(tt.data), tt.limit)
			if tt.tooBig {
				if !errors.Is(err, ErrTooLarge) {
					t.Fatalf("err = %v, want ErrTooLarge", err)
				}
				if err.Error() != tt.wantMsg {
					t.Errorf("message %q, want %q", err, tt.wantMsg)
				}
				if s.Has(shaOf(tt.data)) {
					t.Error("oversized upload was stored")
				}
			} else {
				if err != nil {
					t.Fatal(err)
				}
				if blob.SHA256 != shaOf(tt.data) || blob.Size != int64(len(tt.data)) {
					t.Fatalf("blob = %+v, want %s/%d", blob, shaOf(tt.data), len(tt.data))
				}
				got, err := os.ReadFile(s.Path(blob.SHA256))
				if err != nil || !bytes.Equal(got, tt.data) {
					t.Fatalf("stored bytes differ (err %v)", err)
				}
				if want := filepath.Join(s.root, "blobs", blob.SHA256[:2], blob.SHA256); s.Path(blob.SHA256) != want {
					t.Errorf("Path = %s, want %s", s.Path(blob.SHA256), want)
				}
			}
			if n := tmpEntries(t, s); n != 0 {
				t.Errorf("%d temporary files left", n)
			}
		})
	}
}

func TestPutDedupe(t *testing.T) {
	s := openTestStore(t)
	data := []byte("the same poster twice")
	a, err := s.PutBytes(data)
	if err != nil {
		t.Fatal(err)
	}
	info1, _ := os.Stat(s.Path(a.SHA256))
	b, err := s.Put(bytes.NewReader(data), 1000)
	if err != nil {
		t.Fatal(err)
	}
	if a != b {
		t.Fatalf("second put %+v, first %+v", b, a)
	}
	info2, _ := os.Stat(s.Path(a.SHA256))
	if !os.SameFile(info1, info2) {
		t.Error("existing blob was replaced")
	}
	if n := tmpEntries(t, s); n != 0 {
		t.Errorf("%d temporary files left", n)
	}
	es, _ := os.ReadDir(filepath.Dir(s.Path(a.SHA256)))
	if len(es) != 1 {
		t.Errorf("%d files in the blob's folder, want 1", len(es))
	}
}

func TestStoreOpenRemoveVerify(t *testing.T) {
	s := openTestStore(t)
	blob, err := s.PutBytes([]byte("playlist asset"))
	if err != nil {
		t.Fatal(err)
	}
	if !s.Has(blob.SHA256) {
		t.Fatal("Has = false after Put")
	}
	f, size, err := s.Open(blob.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
	if size != blob.Size {
		t.Errorf("Open size %d, want %d", size, blob.Size)
	}
	if err := s.Verify(blob.SHA256); err != nil {
		t.Errorf("Verify on intact blob: %v", err)
	}

	// Damage the file on disk.
	if err := os.WriteFile(s.Path(blob.SHA256), []byte("playlist assef"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := s.Verify(blob.SHA256); !errors.Is(err, ErrHashMismatch) {
		t.Errorf("Verify on damaged blob: %v, want ErrHashMismatch", err)
	}

	if err := s.Remove(blob.SHA256); err != nil {
		t.Fatal(err)
	}
	if s.Has(blob.SHA256) {
		t.Error("Has = true after Remove")
	}
	if _, _, err := s.Open(blob.SHA256); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Open after Remove: %v, want ErrNotExist", err)
	}
	if err := s.Remove(blob.SHA256); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("second Remove: %v, want ErrNotExist", err)
	}
}

func TestInvalidSHA(t *testing.T) {
	s := openTestStore(t)
	valid := shaOf([]byte("x"))
	tests := []struct{ name, sha string }{
		{"empty", ""},
		{"upper case", strings.ToUpper(valid)},
		{"too short", valid[:63]},
		{"too long", valid + "0"},
		{"not hex", "g" + valid[1:]},
		{"path escape", "../" + valid[3:]},
		{"slash", valid[:30] + "/" + valid[31:]},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if p := s.Path(tt.sha); p != "" {
				t.Errorf("Path = %q, want empty", p)
			}
			if s.Has(tt.sha) {
				t.Error("Has = true")
			}
			if _, _, err := s.Open(tt.sha); !errors.Is(err, ErrInvalidHash) {
				t.Errorf("Open: %v", err)
			}
			if err := s.Remove(tt.sha); !errors.Is(err, ErrInvalidHash) {
				t.Errorf("Remove: %v", err)
			}
			if err := s.Verify(tt.sha); !errors.Is(err, ErrInvalidHash) {
				t.Errorf("Verify: %v", err)
			}
		})
	}
	if s.Path(valid) == "" {
		t.Error("valid hash refused")
	}
}

func TestOpenStoreCleansStaleTemp(t *testing.T) {
	root := t.TempDir()
	s, err := OpenStore(root)
	if err != nil {
		t.Fatal(err)
	}
	stale := filepath.Join(root, "tmp", "put-stale")
	fresh := filepath.Join(root, "tmp", "put-fresh")
	for _, p := range []string{stale, fresh} {
		if err := os.WriteFile(p, []byte("partial"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	old := time.Now().Add(-2 * time.Hour)
	if err := os.Chtimes(stale, old, old); err != nil {
		t.Fatal(err)
	}
	if _, err := OpenStore(s.root); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(stale); !errors.Is(err, fs.ErrNotExist) {
		t.Error("stale temporary file kept")
	}
	if _, err := os.Stat(fresh); err != nil {
		t.Error("fresh temporary file removed (an upload may be in progress)")
	}
}
