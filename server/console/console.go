// Package console is the web console: plain ES modules, one style sheet
// and the message catalogues under web/, embedded in the binary and served
// by `beacon serve` with compression, ETags and a strict content policy.
// The console talks to the server only through the public /api/v1.
package console

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io/fs"
	"mime"
	"path"
	"sort"
	"strings"

	"github.com/andybalholm/brotli"
	"github.com/gofiber/fiber/v2"
)

//go:embed web
var webFS embed.FS

// Prefix is where the console's assets are served.
const Prefix = "/console/"

// Languages the console ships, the default first.
var Languages = []string{"vi", "en"}

// CSP is the console's content policy: everything from this server, no
// inline script or style, no framing.
const CSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; " +
	"media-src 'self' blob:; connect-src 'self'; font-src 'self'; frame-src 'self'; worker-src 'self'; " +
	"manifest-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

// asset is one file ready to send: its bytes raw and compressed.
type asset struct {
	ctype string
	etag  string
	raw   []byte
	gz    []byte // nil when compression does not pay
	br    []byte
}

// Console serves the embedded web console.
type Console struct {
	assets map[string]*asset // by path under Prefix ("app.js", "i18n/vi.json")
}

// New prepares every asset (and the merged catalogues) once.
func New() (*Console, error) {
	web, err := fs.Sub(webFS, "web")
	if err != nil {
		return nil, err
	}
	c := &Console{assets: map[string]*asset{}}
	catalogues := map[string]map[string]string{}
	err = fs.WalkDir(web, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(web, p)
		if err != nil {
			return err
		}
		if dir, file := path.Split(p); dir == "i18n/" {
			// i18n/<area>.<lang>.json, merged per language below.
			parts := strings.Split(file, ".")
			if len(parts) != 3 || parts[2] != "json" {
				return fmt.Errorf("console: catalogue %s: name it <area>.<lang>.json", p)
			}
			area, lang := parts[0], parts[1]
			var m map[string]string
			if err := json.Unmarshal(b, &m); err != nil {
				return fmt.Errorf("console: catalogue %s: %w", p, err)
			}
			if catalogues[lang] == nil {
				catalogues[lang] = map[string]string{}
			}
			for k, v := range m {
				if !strings.HasPrefix(k, area+".") {
					return fmt.Errorf("console: catalogue %s: key %q must start with %q", p, k, area+".")
				}
				catalogues[lang][k] = v
			}
			return nil
		}
		c.assets[p] = newAsset(p, b)
		return nil
	})
	if err != nil {
		return nil, err
	}
	for _, lang := range Languages {
		b, err := json.Marshal(catalogues[lang]) // sorted keys
		if err != nil {
			return nil, err
		}
		c.assets["i18n/"+lang+".json"] = newAsset("x.json", b)
	}
	return c, nil
}

// Catalogue returns the merged messages of a language.
func Catalogue(lang string) (map[string]string, error) {
	c, err := New()
	if err != nil {
		return nil, err
	}
	a, ok := c.assets["i18n/"+lang+".json"]
	if !ok {
		return nil, fmt.Errorf("console: no catalogue %q", lang)
	}
	var m map[string]string
	return m, json.Unmarshal(a.raw, &m)
}

// Paths lists the served assets (under Prefix), sorted.
func (c *Console) Paths() []string {
	out := make([]string, 0, len(c.assets))
	for p := range c.assets {
		out = append(out, p)
	}
	sort.Strings(out)
	return out
}

func newAsset(name string, b []byte) *asset {
	ctype := mime.TypeByExtension(path.Ext(name))
	switch path.Ext(name) {
	case ".js", ".mjs":
		ctype = "text/javascript; charset=utf-8"
	case ".json":
		ctype = "application/json; charset=utf-8"
	case ".svg":
		ctype = "image/svg+xml"
	}
	if ctype == "" {
		ctype = "application/octet-stream"
	}
	sum := sha256.Sum256(b)
	a := &asset{ctype: ctype, raw: b, etag: `"` + base64.RawURLEncoding.EncodeToString(sum[:12]) + `"`}
	if compressible(ctype) && len(b) > 256 {
		var gz, br bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&gz, gzip.BestCompression)
		zw.Write(b)
		zw.Close()
		bw := brotli.NewWriterLevel(&br, brotli.BestCompression)
		bw.Write(b)
		bw.Close()
		if gz.Len() < len(b) {
			a.gz = gz.Bytes()
		}
		if br.Len() < len(b) {
			a.br = br.Bytes()
		}
	}
	return a
}

func compressible(ctype string) bool {
	return strings.HasPrefix(ctype, "text/") || strings.Contains(ctype, "json") ||
		strings.Contains(ctype, "javascript") || strings.Contains(ctype, "svg")
}

// Mount adds the console's routes: GET / (the shell) and GET Prefix+path.
func (c *Console) Mount(r fiber.Router) {
	r.Get("/", func(ctx *fiber.Ctx) error { return c.send(ctx, "index.html", true) })
	r.Get(Prefix+"*", func(ctx *fiber.Ctx) error {
		p := ctx.Params("*")
		if _, ok := c.assets[p]; !ok || p == "index.html" {
			return ctx.Next() // the server's "no route" answer
		}
		return c.send(ctx, p, false)
	})
}

// send writes an asset with the console's headers. The shell is
// revalidated on every load; assets may be reused for a short while and
// are then revalidated by ETag (their URLs carry no version).
func (c *Console) send(ctx *fiber.Ctx, p string, shell bool) error {
	a := c.assets[p]
	ctx.Set(fiber.HeaderContentSecurityPolicy, CSP)
	ctx.Set(fiber.HeaderXFrameOptions, "DENY")
	ctx.Set("Cross-Origin-Opener-Policy", "same-origin")
	ctx.Set(fiber.HeaderVary, "Accept-Encoding")
	ctx.Set(fiber.HeaderETag, a.etag)
	if shell {
		ctx.Set(fiber.HeaderCacheControl, "no-cache")
	} else {
		ctx.Set(fiber.HeaderCacheControl, "public, max-age=300, must-revalidate")
	}
	if inm := ctx.Get(fiber.HeaderIfNoneMatch); inm != "" && etagMatch(inm, a.etag) {
		return ctx.SendStatus(fiber.StatusNotModified)
	}
	ctx.Set(fiber.HeaderContentType, a.ctype)
	body := a.raw
	switch enc := acceptEncoding(ctx.Get(fiber.HeaderAcceptEncoding)); {
	case enc["br"] && a.br != nil:
		ctx.Set(fiber.HeaderContentEncoding, "br")
		body = a.br
	case enc["gzip"] && a.gz != nil:
		ctx.Set(fiber.HeaderContentEncoding, "gzip")
		body = a.gz
	}
	if ctx.Method() == fiber.MethodHead {
		ctx.Response().Header.SetContentLength(len(body))
		return nil
	}
	return ctx.Send(body)
}

func etagMatch(header, etag string) bool {
	for _, t := range strings.Split(header, ",") {
		t = strings.TrimPrefix(strings.TrimSpace(t), "W/")
		if t == etag || t == "*" {
			return true
		}
	}
	return false
}

// acceptEncoding reads the codings a client accepts (q=0 refuses one).
func acceptEncoding(h string) map[string]bool {
	out := map[string]bool{}
	for _, part := range strings.Split(h, ",") {
		name, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		name = strings.ToLower(strings.TrimSpace(name))
		if name == "" {
			continue
		}
		q := strings.ReplaceAll(strings.TrimSpace(params), " ", "")
		out[name] = q != "q=0" && q != "q=0.0" && q != "q=0.00" && q != "q=0.000"
	}
	return out
}
