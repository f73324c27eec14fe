package server_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"beacon/server/servertest"
)

// recorder is an HTTP listener on 127.0.0.1 that records every request.
type recorder struct {
	mu   sync.Mutex
	hits []string
	srv  *http.Server
	host string
}

func newRecorder(t *testing.T) *recorder {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r := &recorder{host: ln.Addr().String()}
	r.srv = &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		r.mu.Lock()
		r.hits = append(r.hits, req.Method+" "+req.URL.Path)
		r.mu.Unlock()
		w.Header().Set("Content-Type", "image/svg+xml")
		_, _ = w.Write([]byte(`<svg xmlns="http://www.w3.org/2000/svg"/>`))
	})}
	go r.srv.Serve(ln)
	t.Cleanup(func() { r.srv.Close() })
	return r
}

func (r *recorder) take() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	h := r.hits
	r.hits = nil
	return h
}

// fifoWatch is a named pipe: any process that opens it for reading is
// noticed (the writer's open returns), so a renderer that tries to read a
// local file referenced by an SVG cannot go unseen.
type fifoWatch struct {
	path    string
	opened  atomic.Int32
	closing atomic.Bool
	done    chan struct{}
}

func newFIFO(t *testing.T) *fifoWatch {
	f := &fifoWatch{path: filepath.Join(t.TempDir(), "secret-logo.png"), done: make(chan struct{})}
	if err := syscall.Mkfifo(f.path, 0o644); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	go func() {
		defer close(f.done)
		for {
			w, err := os.OpenFile(f.path, os.O_WRONLY, 0) // blocks until a reader opens it
			if err != nil {
				return
			}
			w.Close()
			if f.closing.Load() {
				return
			}
			f.opened.Add(1)
		}
	}()
	t.Cleanup(func() {
		f.closing.Store(true)
		if r, err := os.OpenFile(f.path, os.O_RDONLY|syscall.O_NONBLOCK, 0); err == nil {
			r.Close()
		}
		<-f.done
	})
	return f
}

// TestSVGSanitiserMakesNoRequests uploads SVGs that reference a real HTTP
// listener on 127.0.0.1 and a local file (a named pipe that notices any
// reader) in every way SVG allows, has the server sanitise and rasterise
// them with librsvg for a panel and a thumbnail, then opens the sanitised
// document in headless Chromium as a page of its own (where script would
// run and every resource would load). Nothing reaches the listener and
// nothing opens the file. The same checks on the unsanitised document
// show that they would see it if it did.
func TestSVGSanitiserMakesNoRequests(t *testing.T) {
	if testing.Short() {
		t.Skip("short mode")
	}
	rec := newRecorder(t)
	fifo := newFIFO(t)
	// The watchers work: a request and a read are seen.
	if resp, err := http.Get("http://" + rec.host + "/self-check"); err == nil {
		resp.Body.Close()
	}
	if r, err := os.Open(fifo.path); err == nil {
		r.Close()
	}
	servertest.Eventually(t, 10*time.Second, "watchers see a request and a read", func() bool { return fifo.opened.Load() >= 1 })
	if h := rec.take(); len(h) != 1 {
		t.Fatalf("recorder self-check: %v", h)
	}
	// The watcher may have reopened the pipe while our reader was still
	// open: let that settle before counting from zero.
	time.Sleep(300 * time.Millisecond)
	fifo.opened.Store(0)

	s := servertest.Start(t, servertest.Options{MediaWorker: servertest.Worker()})
	pairRaw(t, s, "Wall 640×360")
	evil := evilSVGFor(rec.host, fifo.path)
	var z bytes.Buffer
	zw := gzip.NewWriter(&z)
	zw.Write([]byte(strings.Replace(evil, "<svg ", `<svg data-v="z" `, 1)))
	zw.Close()
	var svgURL string
	for _, up := range []struct {
		name string
		data []byte
	}{{"evil.svg", []byte(evil)}, {"evil.svgz", z.Bytes()}} {
		var m servertest.Media
		if code := s.Upload(up.name, up.data, &m); code != 201 {
			t.Fatalf("%s: upload %d %+v", up.name, code, m)
		}
		var v servertest.Media
		servertest.Eventually(t, 2*time.Minute, up.name+" rendered", func() bool {
			v = servertest.Media{}
			s.Do("GET", "/api/v1/media/"+m.ID, nil, &v)
			if v.Status == "failed" {
				t.Fatalf("%s failed: %s", up.name, v.Error)
			}
			n := 0
			for _, r := range v.Renditions {
				if strings.HasPrefix(r.Profile, "640x360") || r.Profile == "thumb" {
					n++
				}
				if r.Profile == "svg" {
					svgURL = r.URL
				}
			}
			return v.Status == "ready" && n == 2
		})
	}
	time.Sleep(500 * time.Millisecond) // let any late request arrive
	if h := rec.take(); len(h) > 0 {
		t.Errorf("sanitising and rasterising made requests: %v", h)
	}
	if n := fifo.opened.Load(); n > 0 {
		t.Errorf("sanitising and rasterising opened the local file %d times", n)
	}

	// The sanitised document, as served to API clients, in Chromium.
	clean := fetchBytes(t, s, svgURL)
	for _, bad := range []string{rec.host, fifo.path, "script", "onload"} {
		if bytes.Contains(clean, []byte(bad)) {
			t.Errorf("sanitised SVG still contains %q", bad)
		}
	}
	pages := http.NewServeMux()
	pages.HandleFunc("/clean.svg", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "image/svg+xml")
		w.Write(clean)
	})
	pages.HandleFunc("/raw.svg", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "image/svg+xml")
		w.Write([]byte(evil))
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ps := &http.Server{Handler: pages}
	go ps.Serve(ln)
	defer ps.Close()
	ctx := headlessChromium(t)
	open := func(path string) {
		t.Helper()
		if err := chromedp.Do(ctx, chromedp.Navigate("http://"+ln.Addr().String()+path)); err != nil {
			t.Fatalf("chromium %s: %v", path, err)
		}
		time.Sleep(1500 * time.Millisecond) // scripts, fonts and images load after the document
	}
	open("/clean.svg")
	if h := rec.take(); len(h) > 0 {
		t.Errorf("Chromium made requests for the sanitised SVG: %v", h)
	}
	if n := fifo.opened.Load(); n > 0 {
		t.Errorf("Chromium opened the local file %d times", n)
	}
	// Control: the unsanitised document does reach the listener.
	open("/raw.svg")
	servertest.Eventually(t, 20*time.Second, "the unsanitised SVG reaches the listener", func() bool {
		h := rec.take()
		if len(h) > 0 {
			t.Logf("the unsanitised SVG made %d requests in Chromium, e.g. %v", len(h), h[0])
			return true
		}
		return false
	})
}

func fetchBytes(t *testing.T, s *servertest.Server, url string) []byte {
	t.Helper()
	req, _ := http.NewRequest("GET", s.URL+url, nil)
	req.Header.Set("Authorization", "Bearer "+s.Token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var b bytes.Buffer
	b.ReadFrom(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s: %d", url, resp.StatusCode)
	}
	return b.Bytes()
}

func headlessChromium(t *testing.T) context.Context {
	t.Helper()
	path := os.Getenv("BEACON_CHROMIUM")
	if path == "" {
		path = "/usr/bin/chromium"
	}
	if _, err := os.Stat(path); err != nil {
		if p, err := exec.LookPath("chromium"); err == nil {
			path = p
		} else {
			t.Skip("chromium not found (set BEACON_CHROMIUM)")
		}
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(path),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.UserDataDir(t.TempDir()),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
	}
	actx, acancel := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(acancel)
	cctx, ccancel := chromedp.NewContext(actx)
	t.Cleanup(ccancel)
	ctx, cancel := context.WithTimeout(cctx, 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}
