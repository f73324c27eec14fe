package console_test

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/andybalholm/brotli"

	"beacon/server/console"
	"beacon/server/servertest"
)

// webFiles reads every file under web/ (the test runs in its package dir).
func webFiles(t *testing.T, ext string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir("web", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ext) {
			return err
		}
		b, err := os.ReadFile(p)
		out[p] = string(b)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestCatalogues: each area's Vietnamese and English catalogues have the
// same keys, no empty message, and every t('key') the JavaScript uses with
// a literal key exists in both. (Keys built at run time are checked by
// walking every page: TestConsoleShell.)
func TestCatalogues(t *testing.T) {
	areas := map[string]map[string]map[string]string{} // area → lang → messages
	for p, src := range webFiles(t, ".json") {
		if filepath.Dir(p) != filepath.Join("web", "i18n") {
			continue
		}
		parts := strings.Split(filepath.Base(p), ".")
		var m map[string]string
		if err := json.Unmarshal([]byte(src), &m); err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		if areas[parts[0]] == nil {
			areas[parts[0]] = map[string]map[string]string{}
		}
		areas[parts[0]][parts[1]] = m
	}
	if len(areas) == 0 {
		t.Fatal("no catalogues")
	}
	for area, langs := range areas {
		for _, l := range console.Languages {
			if langs[l] == nil {
				t.Errorf("area %s has no %s catalogue", area, l)
			}
		}
		for l, m := range langs {
			for k, v := range m {
				if strings.TrimSpace(v) == "" {
					t.Errorf("%s.%s.json: %s is empty", area, l, k)
				}
				for _, o := range console.Languages {
					if _, ok := langs[o][k]; !ok && o != l {
						t.Errorf("%s: %q is in %s but not in %s", area, k, l, o)
					}
				}
				// Placeholders must be the same in every language.
				for _, o := range console.Languages {
					if ov, ok := langs[o][k]; ok && !samePlaceholders(v, ov) {
						t.Errorf("%s: %q has placeholders %v in %s and %v in %s", area, k, placeholders(v), l, placeholders(ov), o)
					}
				}
			}
		}
	}
	merged := map[string]map[string]string{}
	for _, l := range console.Languages {
		m, err := console.Catalogue(l)
		if err != nil {
			t.Fatal(err)
		}
		merged[l] = m
	}
	used := regexp.MustCompile(`\bt\(\s*'([a-zA-Z0-9_.]+)'\s*[,)]`)
	n := 0
	for p, src := range webFiles(t, ".js") {
		for _, m := range used.FindAllStringSubmatch(src, -1) {
			n++
			for _, l := range console.Languages {
				if _, ok := merged[l][m[1]]; !ok {
					t.Errorf("%s uses t('%s'), missing from the %s catalogue", p, m[1], l)
				}
			}
		}
	}
	if n < 20 {
		t.Fatalf("found only %d t('…') calls: is the pattern still right?", n)
	}
}

var placeholderRE = regexp.MustCompile(`\{(\w+)\}`)

func placeholders(s string) []string {
	var out []string
	for _, m := range placeholderRE.FindAllStringSubmatch(s, -1) {
		out = append(out, m[1])
	}
	sort.Strings(out)
	return out
}

func samePlaceholders(a, b string) bool {
	return strings.Join(placeholders(a), ",") == strings.Join(placeholders(b), ",")
}

// TestNoInlineCode: the shell and the modules never need 'unsafe-inline':
// no inline <script>, no on…= handler attributes, no style= attributes,
// no innerHTML (text goes through h(), which escapes).
func TestNoInlineCode(t *testing.T) {
	html := webFiles(t, ".html")
	for p, src := range html {
		if regexp.MustCompile(`<script(?:\s[^>]*)?>\s*[^<\s]`).MatchString(src) {
			t.Errorf("%s: inline script", p)
		}
		if regexp.MustCompile(`\son[a-z]+\s*=`).MatchString(src) || regexp.MustCompile(`\sstyle\s*=`).MatchString(src) {
			t.Errorf("%s: inline handler or style attribute", p)
		}
	}
	for p, src := range webFiles(t, ".js") {
		for _, bad := range []string{".innerHTML", ".outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function"} {
			if strings.Contains(src, bad) {
				t.Errorf("%s uses %s: build elements with h() instead", p, bad)
			}
		}
	}
}

func get(t *testing.T, url string, header map[string]string) (*http.Response, []byte) {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	for k, v := range header {
		req.Header.Set(k, v)
	}
	// A transport that leaves Accept-Encoding and the body as they are.
	resp, err := (&http.Transport{DisableCompression: true}).RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, b
}

func decode(t *testing.T, enc string, b []byte) []byte {
	t.Helper()
	var r io.Reader
	switch enc {
	case "br":
		r = brotli.NewReader(bytes.NewReader(b))
	case "gzip":
		zr, err := gzip.NewReader(bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		r = zr
	default:
		return b
	}
	out, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("decode %s: %v", enc, err)
	}
	return out
}

// TestServeConsole: GET / answers the console with its strict content
// policy; assets come compressed as the client asks, with ETags that
// answer 304; unknown assets are 404 in the API's error shape.
func TestServeConsole(t *testing.T) {
	s := servertest.Start(t, servertest.Options{})
	resp, body := get(t, s.URL+"/", nil)
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") || !bytes.Contains(body, []byte(`src="/console/app.js"`)) {
		t.Fatalf("GET /: %s %q", resp.Status, body)
	}
	csp := resp.Header.Get("Content-Security-Policy")
	for _, want := range []string{"default-src 'none'", "script-src 'self'", "style-src 'self'", "frame-ancestors 'none'", "base-uri 'none'"} {
		if !strings.Contains(csp, want) {
			t.Errorf("CSP %q lacks %q", csp, want)
		}
	}
	if strings.Contains(csp, "unsafe-inline") || strings.Contains(csp, "unsafe-eval") || strings.Contains(csp, "http:") || strings.Contains(csp, "https:") {
		t.Errorf("CSP allows inline code or other sites: %q", csp)
	}
	if resp.Header.Get("X-Content-Type-Options") != "nosniff" || resp.Header.Get("X-Frame-Options") != "DENY" {
		t.Errorf("security headers: %v", resp.Header)
	}
	// The API keeps its own policy (no pages).
	if r, _ := get(t, s.URL+"/healthz", nil); !strings.Contains(r.Header.Get("Content-Security-Policy"), "sandbox") {
		t.Errorf("API CSP changed: %q", r.Header.Get("Content-Security-Policy"))
	}

	plain, _ := get(t, s.URL+"/console/lib/shell.js", nil)
	_, raw := get(t, s.URL+"/console/lib/shell.js", nil)
	if plain.StatusCode != 200 || plain.Header.Get("Content-Encoding") != "" || !strings.HasPrefix(plain.Header.Get("Content-Type"), "text/javascript") {
		t.Fatalf("plain asset: %s %v", plain.Status, plain.Header)
	}
	for _, enc := range []string{"br", "gzip"} {
		r, b := get(t, s.URL+"/console/lib/shell.js", map[string]string{"Accept-Encoding": enc})
		if r.Header.Get("Content-Encoding") != enc || len(b) >= len(raw) || !bytes.Equal(decode(t, enc, b), raw) {
			t.Errorf("%s: encoding %q, %d of %d bytes", enc, r.Header.Get("Content-Encoding"), len(b), len(raw))
		}
		if !strings.Contains(r.Header.Get("Vary"), "Accept-Encoding") {
			t.Errorf("%s: no Vary", enc)
		}
	}
	if r, _ := get(t, s.URL+"/console/lib/shell.js", map[string]string{"Accept-Encoding": "br;q=0, gzip"}); r.Header.Get("Content-Encoding") != "gzip" {
		t.Errorf("br;q=0 answered %q", r.Header.Get("Content-Encoding"))
	}
	etag := plain.Header.Get("ETag")
	if etag == "" {
		t.Fatal("no ETag")
	}
	if r, b := get(t, s.URL+"/console/lib/shell.js", map[string]string{"If-None-Match": etag}); r.StatusCode != http.StatusNotModified || len(b) != 0 {
		t.Errorf("If-None-Match: %s, %d bytes", r.Status, len(b))
	}
	if r, _ := get(t, s.URL+"/console/lib/shell.js", map[string]string{"If-None-Match": `"other"`}); r.StatusCode != 200 {
		t.Errorf("other ETag: %s", r.Status)
	}
	// The catalogues are merged per language.
	for _, l := range console.Languages {
		r, b := get(t, s.URL+"/console/i18n/"+l+".json", nil)
		var m map[string]string
		if r.StatusCode != 200 || json.Unmarshal(b, &m) != nil || m["nav.home"] == "" || m["shell.skip"] == "" {
			t.Errorf("catalogue %s: %s", l, r.Status)
		}
	}
	for _, p := range []string{"/console/nope.js", "/console/i18n/home.vi.json", "/console/index.html", "/console/../go.mod"} {
		r, b := get(t, s.URL+p, nil)
		if r.StatusCode != 404 || !bytes.Contains(b, []byte(`"not_found"`)) {
			t.Errorf("GET %s: %s %s", p, r.Status, b)
		}
	}
}

// firstLoad lists what the browser fetches to show the console: the shell,
// what it links, the modules they import, the catalogue of the default
// language, and the overview and sign-in pages with their imports.
func firstLoad(t *testing.T, base string) []string {
	t.Helper()
	_, index := get(t, base+"/", nil)
	seen := map[string]bool{"/": true}
	queue := []string{}
	for _, m := range regexp.MustCompile(`(?:href|src)="(/console/[^"]+)"`).FindAllStringSubmatch(string(index), -1) {
		queue = append(queue, m[1])
	}
	queue = append(queue, "/console/i18n/vi.json", "/console/pages/home.js", "/console/pages/signin.js")
	static := regexp.MustCompile(`(?m)^\s*import\s+(?:[^'"]*?\s+from\s+)?'(\.[^']+)'`)
	for len(queue) > 0 {
		p := queue[0]
		queue = queue[1:]
		if seen[p] {
			continue
		}
		seen[p] = true
		if strings.HasSuffix(p, ".js") {
			_, src := get(t, base+p, nil)
			for _, m := range static.FindAllStringSubmatch(string(src), -1) {
				queue = append(queue, filepath.Clean(filepath.Join(filepath.Dir(p), m[1])))
			}
		}
	}
	out := make([]string, 0, len(seen))
	for p := range seen {
		out = append(out, p)
	}
	sort.Strings(out)
	return out
}

// TestFirstLoadBytes measures the console's first load over the wire,
// compressed as a browser asks (Accept-Encoding: gzip, br), and holds it
// under the 200 KB.
func TestFirstLoadBytes(t *testing.T) {
	s := servertest.Start(t, servertest.Options{})
	total, raw := 0, 0
	files := firstLoad(t, s.URL)
	for _, p := range files {
		r, b := get(t, s.URL+p, map[string]string{"Accept-Encoding": "gzip, deflate, br"})
		if r.StatusCode != 200 {
			t.Fatalf("GET %s: %s", p, r.Status)
		}
		total += len(b)
		raw += len(decode(t, r.Header.Get("Content-Encoding"), b))
	}
	t.Logf("console first load: %d files, %d bytes compressed (%d uncompressed)", len(files), total, raw)
	if len(files) < 8 {
		t.Errorf("first load found only %v", files)
	}
	if total > 200<<10 {
		t.Errorf("first load is %d bytes compressed: over 200 KB", total)
	}
}
