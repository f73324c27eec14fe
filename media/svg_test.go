package media

import (
	"bytes"
	"compress/gzip"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf16"
)

const evilSVG = `<?xml version="1.0"?>
<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" width="200" height="100" onload="alert(1)">
<script>alert(2)</script>
<style>@import url(http://127.0.0.1:9/a.css); @import "http://127.0.0.1:9/b.css"; rect { fill: url(http://127.0.0.1:9/p#x); stroke: blue } circle{fill:red}
@font-face { font-family: x; src: url(file:///etc/passwd) }</style>
<rect width="200" height="100" style="fill:url('http://127.0.0.1:9/s');stroke:red" onclick="x()"/>
<rect style="fill:\75 rl(http://127.0.0.1:9/esc)"/>
<circle cx="50" cy="50" r="40" fill="url(#g)" filter="url(file:///etc/passwd#f)"/>
<image href="http://127.0.0.1:9/i.png" width="10" height="10"/>
<image xlink:href="file:///etc/passwd" width="10" height="10"/>
<image href="/etc/passwd" width="10" height="10"/>
<image href="data:image/svg+xml;base64,PHN2Zy8+" width="10" height="10"/>
<image href="data:image/png;base64,iVBORw0KGgo=" width="10" height="10"/>
<use href="http://127.0.0.1:9/u.svg#a"/>
<use href="#g"/>
<feImage href="http://127.0.0.1:9/fe"/>
<foreignObject><div xmlns="http://www.w3.org/1999/xhtml">hi<iframe src="http://127.0.0.1:9/f"/></div></foreignObject>
<a href="javascript:alert(3)" xml:base="http://127.0.0.1:9/"><text x="1" y="20">T&amp;x &lt;</text></a>
<animate attributeName="href" to="javascript:alert(1)"/>
<set attributeName="onclick" to="alert(1)"/>
<handler xmlns="http://www.w3.org/2000/svg" type="application/ecmascript">alert(4)</handler>
<svg:script xmlns:svg="http://www.w3.org/2000/svg">alert(5)</svg:script>
</svg>`

func TestSanitizeSVGDropsEverythingThatRunsOrLoads(t *testing.T) {
	out, info, err := SanitizeSVG([]byte(evilSVG))
	if err != nil {
		t.Fatal(err)
	}
	s := string(out)
	for _, bad := range []string{"script", "alert", "onload", "onclick", "127.0.0.1", "file:", "/etc/passwd", "foreignObject", "iframe",
		"javascript", "@import", "font-face", "animate", "<set", "handler", "xml:base", "svg+xml", `\75`} {
		if strings.Contains(s, bad) {
			t.Errorf("sanitised SVG still contains %q:\n%s", bad, s)
		}
	}
	for _, good := range []string{`fill="url(#g)"`, `<use href="#g">`, `href="data:image/png;base64,iVBORw0KGgo="`, "stroke: blue", "circle{fill:red}",
		`style="stroke:red"`, "T&amp;x &lt;", `width="200"`} {
		if !strings.Contains(s, good) {
			t.Errorf("sanitised SVG lost %q:\n%s", good, s)
		}
	}
	if info.Width != 200 || info.Height != 100 {
		t.Errorf("info %+v", info)
	}
	// The output parses again to the same thing (a fixed point).
	again, _, err := SanitizeSVG(out)
	if err != nil || !bytes.Equal(again, out) {
		t.Errorf("sanitising twice changed it (%v):\n%s\n%s", err, out, again)
	}
}

func utf16LE(s string, bom bool) []byte {
	var b []byte
	if bom {
		b = []byte{0xFF, 0xFE}
	}
	for _, u := range utf16.Encode([]rune(s)) {
		b = append(b, byte(u), byte(u>>8))
	}
	return b
}

func TestSanitizeSVGInputs(t *testing.T) {
	plain := `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 40 20"><text>Grüße Å</text></svg>`
	latin1 := []byte("<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?>\n<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 40 20\"><text>Gr\xfc\xdfe \xc5</text></svg>")
	win1252 := []byte("<?xml version='1.0' encoding='windows-1252'?><svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 40 20\"><text>\x93Gr\xfc\xdfe\x94 \xc5</text></svg>")
	u16 := utf16LE(`<?xml version="1.0" encoding="UTF-16"?>`+plain, true)
	u16nobom := utf16LE(plain, false)
	illustrator := `<?xml version="1.0" encoding="utf-8"?>
<!DOCTYPE svg PUBLIC "-//W3C//DTD SVG 1.1//EN" "http://www.w3.org/Graphics/SVG/1.1/DTD/svg11.dtd" [
	<!ENTITY ns_svg "http://www.w3.org/2000/svg">
	<!ENTITY ns_xlink "http://www.w3.org/1999/xlink">
]>
<svg version="1.1" xmlns="&ns_svg;" xmlns:xlink="&ns_xlink;" width="100px" height="5cm"><rect width="10" height="10"/></svg>`
	lol := "<!DOCTYPE svg [\n <!ENTITY a \"aaaaaaaaaa\">\n <!ENTITY b \"&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;\">\n]>\n<svg xmlns=\"http://www.w3.org/2000/svg\"><text>&b;</text></svg>"
	wide := "<!DOCTYPE svg [ <!ENTITY a \"" + strings.Repeat("a", 1000) + "\"> ]><svg xmlns=\"http://www.w3.org/2000/svg\"><text>" + strings.Repeat("&a;", 2000) + "</text></svg>"
	xxe := `<!DOCTYPE svg [ <!ENTITY x SYSTEM "file:///etc/passwd"> ]><svg xmlns="http://www.w3.org/2000/svg"><text>&x;</text></svg>`
	param := `<!DOCTYPE svg [ <!ENTITY % p SYSTEM "http://127.0.0.1:9/p.dtd"> %p; ]><svg xmlns="http://www.w3.org/2000/svg"/>`
	for _, c := range []struct {
		name    string
		in      []byte
		want    string // in the output
		w, h    int    // Size()
		wantErr error
	}{
		{"utf-8 viewBox only", []byte(plain), "Grüße Å", 256, 128, nil},
		{"iso-8859-1 declared", latin1, "Grüße Å", 256, 128, nil},
		{"windows-1252 declared", win1252, "\u201cGrüße\u201d Å", 256, 128, nil},
		{"utf-16 with BOM", u16, "Grüße Å", 256, 128, nil},
		{"utf-16 without BOM", u16nobom, "Grüße Å", 256, 128, nil},
		{"illustrator DTD entities, cm units", []byte(illustrator), `<rect width="10" height="10">`, 135, 256, nil},
		{"no size at all", []byte(`<svg xmlns="http://www.w3.org/2000/svg"><rect width="10" height="10"/></svg>`), "<rect", DefaultSVGSize, DefaultSVGSize, nil},
		{"width and viewBox", []byte(`<svg xmlns="http://www.w3.org/2000/svg" width="800" viewBox="0 0 4 3"/>`), "<svg", 800, 600, nil},
		{"percent size uses viewBox", []byte(`<svg xmlns="http://www.w3.org/2000/svg" width="100%" height="100%" viewBox="0 0 1600 900"/>`), "<svg", 1600, 900, nil},
		{"nested entities (billion laughs)", []byte(lol), "", 0, 0, ErrSVGUnsupported},
		{"entities expanding past the limit", []byte(wide), "", 0, 0, ErrSVGUnsupported},
		{"external entity", []byte(xxe), "", 0, 0, ErrSVGUnsupported},
		{"parameter entity", []byte(param), "", 0, 0, ErrSVGUnsupported},
		{"unknown encoding", []byte(`<?xml version="1.0" encoding="x-klingon"?><svg xmlns="http://www.w3.org/2000/svg"/>`), "", 0, 0, ErrSVGUnsupported},
		{"latin-1 without declaration", []byte("<svg xmlns=\"http://www.w3.org/2000/svg\"><text>\xe9</text></svg>"), "", 0, 0, ErrCorrupt},
		{"cut short", []byte(`<svg xmlns="http://www.w3.org/2000/svg"><rect width="10"`), "", 0, 0, ErrCorrupt},
		{"svg without its namespace", []byte(`<svg width="30" height="300"><rect/><x:rect xmlns:x="urn:x"/></svg>`), `<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" width="30" height="300"><rect></rect></svg>`, 30, 300, nil},
		{"other namespace", []byte(`<svg xmlns="urn:not-svg"><rect/></svg>`), "", 0, 0, ErrNotImage},
		{"xhtml", []byte(`<html xmlns="http://www.w3.org/1999/xhtml"/>`), "", 0, 0, ErrNotImage},
	} {
		t.Run(c.name, func(t *testing.T) {
			out, info, err := SanitizeSVG(c.in)
			if c.wantErr != nil {
				if !errors.Is(err, c.wantErr) {
					t.Fatalf("err %v, want %v", err, c.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(string(out), c.want) {
				t.Errorf("output lacks %q:\n%s", c.want, out)
			}
			if w, h := info.Size(); w != c.w || h != c.h {
				t.Errorf("size %d×%d, want %d×%d (%+v)", w, h, c.w, c.h, info)
			}
		})
	}
}

func TestSVGZAndSniffing(t *testing.T) {
	dir := t.TempDir()
	doc := `<?xml version="1.0"?><!-- a logo --><!DOCTYPE svg PUBLIC "-//W3C//DTD SVG 1.1//EN" "x.dtd"><svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"/>`
	var z bytes.Buffer
	zw := gzip.NewWriter(&z)
	zw.Write([]byte(doc))
	zw.Close()
	bomb := new(bytes.Buffer)
	bw := gzip.NewWriter(bomb)
	bw.Write([]byte(`<svg xmlns="http://www.w3.org/2000/svg"><desc>`))
	zeros := make([]byte, 1<<20)
	for range 40 {
		bw.Write(zeros)
	}
	bw.Close()
	files := map[string][]byte{"a.svg": []byte(doc), "a.svgz": z.Bytes(), "bomb.svgz": bomb.Bytes(), "u16.svg": utf16LE(doc, true),
		"html.html": []byte("<!doctype html><html><svg></svg></html>"), "text.txt": []byte("svg")}
	for n, b := range files {
		if err := os.WriteFile(filepath.Join(dir, n), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for n, want := range map[string]bool{"a.svg": true, "a.svgz": true, "bomb.svgz": true, "u16.svg": true, "html.html": false, "text.txt": false} {
		if got := LooksLikeSVG(filepath.Join(dir, n)); got != want {
			t.Errorf("LooksLikeSVG(%s) = %v", n, got)
		}
	}
	_, info, err := SanitizeSVGFile(filepath.Join(dir, "a.svgz"))
	if err != nil || !info.Compressed || info.Width != 10 {
		t.Errorf("svgz: %+v %v", info, err)
	}
	if _, _, err := SanitizeSVGFile(filepath.Join(dir, "bomb.svgz")); !errors.Is(err, ErrTooManyPixels) || !strings.Contains(err.Error(), "limit is 32 MB") {
		t.Errorf("gzip bomb: %v", err)
	}
}

func TestRasterSizeAndCompose(t *testing.T) {
	for _, c := range []struct {
		w, h int
		p    Profile
		rw   int
		rh   int
	}{
		{100, 50, Profile{Width: 1920, Height: 1080}, 1920, 960},
		{100, 50, Profile{Width: 1920, Height: 1080, Fit: FitCover}, 2160, 1080},
		{100, 50, Profile{Width: 1920, Height: 1080, Fit: FitStretch}, 1920, 1080},
		{1, 1000, Profile{Width: 384, Height: 192}, 1, 192},
	} {
		if rw, rh := RasterSize(c.w, c.h, c.p); rw != c.rw || rh != c.rh {
			t.Errorf("RasterSize(%d, %d, %v) = %d×%d, want %d×%d", c.w, c.h, c.p.Name(), rw, rh, c.rw, c.rh)
		}
	}
}
