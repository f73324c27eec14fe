package cache

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"
)

type fileServer struct {
	mu          sync.Mutex
	data        []byte
	ignoreRange bool
	ranges      []string
	status      int
}

func (f *fileServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.ranges = append(f.ranges, r.Header.Get("Range"))
	if f.status != 0 {
		w.WriteHeader(f.status)
		return
	}
	if r.Header.Get("Authorization") != "Bearer tok" {
		http.Error(w, "no", http.StatusUnauthorized)
		return
	}
	if f.ignoreRange {
		r.Header.Del("Range")
	}
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(f.data))
}

func setup(t *testing.T, data []byte) (*Cache, *fileServer, *httptest.Server) {
	t.Helper()
	c, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	fs := &fileServer{data: data}
	hs := httptest.NewServer(fs)
	t.Cleanup(hs.Close)
	return c, fs, hs
}

func payload(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7 + i/251)
	}
	return b
}

func TestDownloadAndVerify(t *testing.T) {
	data := payload(10000)
	sha := HashBytes(data)
	c, _, hs := setup(t, data)
	res, err := c.Download(context.Background(), nil, Request{URL: hs.URL, Token: "tok", SHA256: sha, Size: int64(len(data))})
	if err != nil || res.Downloaded != int64(len(data)) || res.Resumed {
		t.Fatalf("Download: %+v, %v", res, err)
	}
	got, err := c.Verified(sha)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("Verified: %v", err)
	}
	if s := c.Stats(); s.Files != 1 || s.Bytes != int64(len(data)) {
		t.Errorf("Stats %+v", s)
	}
	// Corrupt it on disk: Verified refuses and removes it.
	if err := os.WriteFile(c.Path(sha), append([]byte("x"), data[1:]...), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Verified(sha); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("Verified corrupt: %v", err)
	}
	if c.Has(sha) {
		t.Error("corrupt file kept")
	}
	if _, err := c.Verified(sha); !errors.Is(err, ErrNotFound) {
		t.Errorf("Verified missing: %v", err)
	}
}

func TestResume(t *testing.T) {
	data := payload(50000)
	sha := HashBytes(data)
	for _, ignore := range []bool{false, true} {
		c, fs, hs := setup(t, data)
		fs.ignoreRange = ignore
		if err := os.WriteFile(c.PartialPath(sha), data[:20000], 0o644); err != nil {
			t.Fatal(err)
		}
		res, err := c.Download(context.Background(), nil, Request{URL: hs.URL, Token: "tok", SHA256: sha, Size: int64(len(data))})
		if err != nil {
			t.Fatalf("ignoreRange=%v: %v", ignore, err)
		}
		if fs.ranges[0] != "bytes=20000-" {
			t.Errorf("Range %q", fs.ranges[0])
		}
		wantN := int64(30000)
		if ignore {
			wantN = 50000
		}
		if res.Resumed == ignore || res.Downloaded != wantN {
			t.Errorf("ignoreRange=%v: result %+v", ignore, res)
		}
		if got, err := c.Verified(sha); err != nil || !bytes.Equal(got, data) {
			t.Errorf("ignoreRange=%v: Verified %v", ignore, err)
		}
	}
}

func TestPartialLongerThanFile(t *testing.T) {
	data := payload(1000)
	sha := HashBytes(data)
	c, fs, hs := setup(t, data)
	if err := os.WriteFile(c.PartialPath(sha), payload(5000), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Download(context.Background(), nil, Request{URL: hs.URL, Token: "tok", SHA256: sha, Size: 1000}); err != nil {
		t.Fatal(err)
	}
	if fs.ranges[0] != "" {
		t.Errorf("Range %q for an over-long partial", fs.ranges[0])
	}
}

func TestHashMismatch(t *testing.T) {
	good := payload(4000)
	sha := HashBytes(good)
	for name, served := range map[string][]byte{
		"same size":  append([]byte{0xff}, good[1:]...),
		"too long":   append(bytes.Clone(good), 1, 2, 3),
		"wrong file": payload(3999),
	} {
		c, _, hs := setup(t, served)
		_, err := c.Download(context.Background(), nil, Request{URL: hs.URL, Token: "tok", SHA256: sha, Size: int64(len(good))})
		if name == "wrong file" {
			// A short body is a transfer error, not proof of tampering.
			if err == nil || errors.Is(err, ErrHashMismatch) {
				t.Errorf("%s: %v", name, err)
			}
			continue
		}
		if !errors.Is(err, ErrHashMismatch) {
			t.Errorf("%s: %v", name, err)
		}
		if c.Has(sha) {
			t.Errorf("%s: file cached", name)
		}
		if _, err := os.Stat(c.PartialPath(sha)); !os.IsNotExist(err) {
			t.Errorf("%s: partial kept", name)
		}
	}
}

func TestHTTPErrorKeepsPartial(t *testing.T) {
	data := payload(2000)
	sha := HashBytes(data)
	c, fs, hs := setup(t, data)
	os.WriteFile(c.PartialPath(sha), data[:500], 0o644)
	fs.status = http.StatusServiceUnavailable
	_, err := c.Download(context.Background(), nil, Request{URL: hs.URL, Token: "tok", SHA256: sha, Size: 2000})
	if err == nil || !strings.Contains(err.Error(), "503") {
		t.Fatalf("err %v", err)
	}
	if fi, err := os.Stat(c.PartialPath(sha)); err != nil || fi.Size() != 500 {
		t.Errorf("partial lost: %v", err)
	}
	// Without the token the server refuses.
	fs.status = 0
	if _, err := c.Download(context.Background(), nil, Request{URL: hs.URL, SHA256: sha, Size: 2000}); err == nil {
		t.Error("download without token succeeded")
	}
}

func TestEvict(t *testing.T) {
	a, b := payload(100), payload(200)
	c, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range [][]byte{a, b} {
		sha := HashBytes(d)
		os.MkdirAll(c.Path(sha)[:len(c.Path(sha))-65], 0o755)
		if err := os.WriteFile(c.Path(sha), d, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	stale := strings.Repeat("cd", 32)
	os.WriteFile(c.PartialPath(stale), []byte("x"), 0o644)
	n, err := c.Evict(map[string]bool{HashBytes(a): true})
	if err != nil || n != 2 {
		t.Fatalf("Evict: %d, %v", n, err)
	}
	if !c.Has(HashBytes(a)) || c.Has(HashBytes(b)) {
		t.Error("wrong files evicted")
	}
	if s := c.Stats(); s.Files != 1 || s.Bytes != 100 {
		t.Errorf("Stats %+v", s)
	}
}
