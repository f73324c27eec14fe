package media

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/xml"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"image/png"
	"io"
	"math"
	"os"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"

	"golang.org/x/net/html/charset"
)

// SVG pictures are not decoded here: they are rewritten into a safe subset
// of SVG (SanitizeSVG) and that is what gets rasterised, by a real SVG
// renderer, for every screen. The subset keeps everything that draws and
// drops everything that runs, links or loads: no scripts, no event
// handlers, no foreignObject, no animation, no references to anything but
// the document's own #fragments and embedded raster pictures (data: URIs
// of PNG, JPEG, GIF or WebP), no DTD beyond a few plain internal entities.

// Limits on SVG input.
const (
	// MaxSVGBytes bounds an SVG document (after unpacking .svgz).
	MaxSVGBytes = 32 << 20
	// maxSVGEntities bounds the internal entities a DTD may declare, and
	// maxSVGExpansion the bytes all their references may expand to.
	maxSVGEntities  = 64
	maxSVGExpansion = 1 << 20
	// maxSVGDepth bounds element nesting.
	maxSVGDepth = 256
	// DefaultSVGSize is the size assumed for an SVG that has neither
	// width/height nor a viewBox, before its renderer measures it.
	DefaultSVGSize = 1024
)

// Errors of SanitizeSVG (wrapped with details).
var (
	// ErrSVGUnsupported: a real SVG that uses something Beacon does not
	// accept (a DTD with external or parameter entities, for one). It is
	// ErrUnsupported, under the name SVG callers know it by.
	ErrSVGUnsupported = ErrUnsupported
)

// SVGInfo is what sanitising found about the picture's size: its intrinsic
// width and height in CSS pixels, 0 when the document does not say.
type SVGInfo struct {
	Width, Height float64
	ViewBox       [4]float64 // min-x, min-y, width, height; zero width when absent
	Compressed    bool       // it came as .svgz
}

// Size is the picture's size in pixels for listing and layout: its
// width/height, else its viewBox's, else DefaultSVGSize square, scaled up
// so that the longer side is at least 256 pixels (icons are drawn in
// small units and rasterised per screen anyway).
func (i SVGInfo) Size() (w, h int) {
	fw, fh := i.Width, i.Height
	vw, vh := i.ViewBox[2], i.ViewBox[3]
	switch {
	case fw > 0 && fh > 0:
	case fw > 0 && vw > 0 && vh > 0:
		fh = fw * vh / vw
	case fh > 0 && vw > 0 && vh > 0:
		fw = fh * vw / vh
	case vw > 0 && vh > 0:
		fw, fh = vw, vh
	default:
		fw, fh = DefaultSVGSize, DefaultSVGSize
	}
	if m := math.Max(fw, fh); m < 256 {
		fw, fh = fw*256/m, fh*256/m
	}
	for math.Max(fw, fh) > 16384 {
		fw, fh = fw/2, fh/2
	}
	return max(1, int(math.Round(fw))), max(1, int(math.Round(fh)))
}

// HasSize reports whether the document gives its proportions (width and
// height, or a viewBox).
func (i SVGInfo) HasSize() bool {
	return (i.Width > 0 && i.Height > 0) || (i.ViewBox[2] > 0 && i.ViewBox[3] > 0)
}

// LooksLikeSVG reports whether the file at path starts like an SVG
// document (plain or gzip-compressed), in any encoding.
func LooksLikeSVG(path string) bool {
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	head := make([]byte, 4096)
	n, _ := io.ReadFull(f, head)
	head = head[:n]
	if bytes.HasPrefix(head, []byte{0x1f, 0x8b}) {
		if _, err := f.Seek(0, io.SeekStart); err != nil {
			return false
		}
		zr, err := gzip.NewReader(f)
		if err != nil {
			return false
		}
		head = make([]byte, 4096)
		n, _ := io.ReadFull(zr, head)
		head = head[:n]
	}
	text, _, err := toUTF8(head, true)
	if err != nil {
		return false
	}
	return svgRootRE.MatchString(text)
}

// svgRootRE finds an svg root element after the prolog (XML declaration,
// comments, doctype, whitespace).
var svgRootRE = regexp.MustCompile(`^\s*(<\?xml[^>]*\?>\s*)?((<!--([^-]|-[^-])*-->|<!DOCTYPE[^\[>]*(\[[^\]]*\])?\s*>|<\?[^>]*\?>)\s*)*<([A-Za-z_][\w.-]*:)?svg[\s>/]`)

// toUTF8 turns UTF-16 (with or without a byte-order mark) into UTF-8 and
// drops a UTF-8 byte-order mark; other encodings are left to the XML
// decoder's declaration. partial allows a cut-off last character.
func toUTF8(b []byte, partial bool) (string, bool, error) {
	var be bool
	switch {
	case bytes.HasPrefix(b, []byte{0xEF, 0xBB, 0xBF}):
		return string(b[3:]), false, nil
	case bytes.HasPrefix(b, []byte{0xFE, 0xFF}):
		be, b = true, b[2:]
	case bytes.HasPrefix(b, []byte{0xFF, 0xFE}):
		be, b = false, b[2:]
	case len(b) >= 2 && b[0] == 0 && b[1] == '<':
		be = true
	case len(b) >= 2 && b[0] == '<' && b[1] == 0:
		be = false
	default:
		return string(b), false, nil
	}
	if len(b)%2 == 1 {
		if !partial {
			return "", true, errors.New("UTF-16 text with an odd number of bytes")
		}
		b = b[:len(b)-1]
	}
	u := make([]uint16, len(b)/2)
	for i := range u {
		if be {
			u[i] = uint16(b[2*i])<<8 | uint16(b[2*i+1])
		} else {
			u[i] = uint16(b[2*i+1])<<8 | uint16(b[2*i])
		}
	}
	return string(utf16.Decode(u)), true, nil
}

// ReadSVG reads an SVG file (unpacking .svgz), at most MaxSVGBytes.
func ReadSVG(path string) (data []byte, compressed bool, err error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, false, err
	}
	defer f.Close()
	br := bufio.NewReader(f)
	var r io.Reader = br
	if magic, _ := br.Peek(2); bytes.Equal(magic, []byte{0x1f, 0x8b}) {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, true, fmt.Errorf("%w: the .svgz cannot be unpacked: %v", ErrCorrupt, err)
		}
		r, compressed = zr, true
	}
	data, err = io.ReadAll(io.LimitReader(r, MaxSVGBytes+1))
	if err != nil {
		if compressed {
			return nil, true, fmt.Errorf("%w: the .svgz cannot be unpacked: %v", ErrCorrupt, err)
		}
		return nil, false, err
	}
	if len(data) > MaxSVGBytes {
		return nil, compressed, &limitError{fmt.Sprintf("the SVG document is larger than %d MB (unpacked); the limit is %d MB", MaxSVGBytes>>20, MaxSVGBytes>>20)}
	}
	return data, compressed, nil
}

// SanitizeSVGFile reads and sanitises the SVG at path.
func SanitizeSVGFile(path string) ([]byte, SVGInfo, error) {
	data, compressed, err := ReadSVG(path)
	if err != nil {
		return nil, SVGInfo{}, err
	}
	out, info, err := SanitizeSVG(data)
	info.Compressed = compressed
	return out, info, err
}

const (
	nsSVG   = "http://www.w3.org/2000/svg"
	nsXLink = "http://www.w3.org/1999/xlink"
	nsXML   = "http://www.w3.org/XML/1998/namespace"
)

// svgElements are the SVG elements kept (everything that draws; no
// script, foreignObject, animation, cursor or font-face loading).
var svgElements = setOf("svg", "g", "defs", "symbol", "use", "title", "desc", "switch",
	"path", "rect", "circle", "ellipse", "line", "polyline", "polygon",
	"text", "tspan", "textPath",
	"image", "linearGradient", "radialGradient", "stop", "pattern", "clipPath", "mask", "marker", "style", "a", "view",
	"filter", "feBlend", "feColorMatrix", "feComponentTransfer", "feComposite", "feConvolveMatrix",
	"feDiffuseLighting", "feDisplacementMap", "feDistantLight", "feDropShadow", "feFlood", "feFuncA", "feFuncB",
	"feFuncG", "feFuncR", "feGaussianBlur", "feImage", "feMerge", "feMergeNode", "feMorphology", "feOffset",
	"fePointLight", "feSpecularLighting", "feSpotLight", "feTile", "feTurbulence")

func setOf(s ...string) map[string]bool {
	m := make(map[string]bool, len(s))
	for _, v := range s {
		m[v] = true
	}
	return m
}

// svgSizeUnits converts absolute lengths to CSS pixels.
var svgSizeUnits = map[string]float64{"": 1, "px": 1, "pt": 96.0 / 72, "pc": 16, "in": 96, "cm": 96 / 2.54, "mm": 96 / 25.4, "q": 96 / 101.6, "em": 16, "ex": 8}

func parseLength(s string) float64 {
	s = strings.ToLower(strings.TrimSpace(s))
	i := len(s)
	for i > 0 && (s[i-1] >= 'a' && s[i-1] <= 'z' || s[i-1] == '%') {
		i--
	}
	unit, ok := svgSizeUnits[s[i:]]
	if !ok {
		return 0 // percentages and unknown units: no intrinsic size
	}
	v, err := strconv.ParseFloat(strings.TrimSpace(s[:i]), 64)
	if err != nil || v <= 0 || math.IsInf(v, 0) || math.IsNaN(v) {
		return 0
	}
	return v * unit
}

func parseViewBox(s string) (vb [4]float64) {
	f := strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' || r == '\n' || r == '\r' })
	if len(f) != 4 {
		return [4]float64{}
	}
	for i, v := range f {
		x, err := strconv.ParseFloat(v, 64)
		if err != nil || math.IsInf(x, 0) || math.IsNaN(x) {
			return [4]float64{}
		}
		vb[i] = x
	}
	if vb[2] <= 0 || vb[3] <= 0 {
		return [4]float64{}
	}
	return vb
}

// entityDeclRE matches one general internal entity with a literal value.
var entityDeclRE = regexp.MustCompile(`^<!ENTITY\s+([A-Za-z_][\w.-]*)\s+("([^"&<%]*)"|'([^'&<%]*)')\s*>$`)

// doctypeEntities reads a DOCTYPE directive's internal subset: only plain
// general entities with literal values are allowed (as Illustrator writes
// for namespace names); external and parameter entities, and values that
// refer to other entities, are refused.
func doctypeEntities(d string) (map[string]string, error) {
	i := strings.IndexByte(d, '[')
	if i < 0 {
		if strings.Contains(strings.ToUpper(d), "ENTITY") {
			return nil, fmt.Errorf("%w: an SVG whose DOCTYPE declares entities outside an internal subset", ErrSVGUnsupported)
		}
		return nil, nil // <!DOCTYPE svg PUBLIC "…" "…">: nothing is fetched
	}
	j := strings.LastIndexByte(d, ']')
	if j < i {
		return nil, fmt.Errorf("%w: malformed DOCTYPE", ErrCorrupt)
	}
	ents := map[string]string{}
	subset := d[i+1 : j]
	for len(strings.TrimSpace(subset)) > 0 {
		subset = strings.TrimSpace(subset)
		switch {
		case strings.HasPrefix(subset, "<!--"):
			k := strings.Index(subset, "-->")
			if k < 0 {
				return nil, fmt.Errorf("%w: malformed DOCTYPE", ErrCorrupt)
			}
			subset = subset[k+3:]
			continue
		case strings.HasPrefix(subset, "<!ENTITY"):
			k := strings.IndexByte(subset, '>')
			if k < 0 {
				return nil, fmt.Errorf("%w: malformed DOCTYPE", ErrCorrupt)
			}
			m := entityDeclRE.FindStringSubmatch(subset[:k+1])
			if m == nil {
				return nil, fmt.Errorf("%w: an SVG whose DTD declares external, parameter or nested entities", ErrSVGUnsupported)
			}
			if len(ents) >= maxSVGEntities {
				return nil, fmt.Errorf("%w: an SVG whose DTD declares more than %d entities", ErrSVGUnsupported, maxSVGEntities)
			}
			ents[m[1]] = m[3] + m[4]
			subset = subset[k+1:]
		case strings.HasPrefix(subset, "<!ELEMENT"), strings.HasPrefix(subset, "<!ATTLIST"), strings.HasPrefix(subset, "<!NOTATION"):
			k := strings.IndexByte(subset, '>')
			if k < 0 {
				return nil, fmt.Errorf("%w: malformed DOCTYPE", ErrCorrupt)
			}
			subset = subset[k+1:]
		default:
			return nil, fmt.Errorf("%w: an SVG whose DTD has declarations Beacon does not read", ErrSVGUnsupported)
		}
	}
	return ents, nil
}

// SanitizeSVG parses an SVG document with an XML parser and writes it
// again as UTF-8 keeping only the safe subset described above. A document
// that is not well-formed XML, or whose root is not an SVG svg element,
// gives an error wrapping ErrCorrupt or ErrNotImage; one that needs what is
// not supported, an error wrapping ErrSVGUnsupported.
func SanitizeSVG(data []byte) ([]byte, SVGInfo, error) {
	var info SVGInfo
	text, wasUTF16, err := toUTF8(data, false)
	if err != nil {
		return nil, info, fmt.Errorf("%w: %v", ErrCorrupt, err)
	}
	if !wasUTF16 && !utf8.ValidString(text) && !declaresEncoding(text) {
		// No declaration and not UTF-8: XML's default is UTF-8, so this
		// is damaged (or a legacy file saved without its declaration).
		return nil, info, fmt.Errorf("%w: the SVG is not valid UTF-8 and declares no other encoding", ErrCorrupt)
	}
	d := xml.NewDecoder(strings.NewReader(text))
	d.Strict = true
	d.CharsetReader = func(label string, r io.Reader) (io.Reader, error) {
		l := strings.ToLower(strings.TrimSpace(label))
		if wasUTF16 && strings.HasPrefix(l, "utf-16") || l == "utf-8" || l == "utf8" {
			return r, nil
		}
		cr, err := charset.NewReaderLabel(label, r)
		if err != nil {
			return nil, fmt.Errorf("%w: the SVG's encoding %q", ErrSVGUnsupported, label)
		}
		return cr, nil
	}
	var out bytes.Buffer
	out.Grow(len(text))
	depth, skip := 0, 0 // skip > 0: inside a dropped element, at that depth
	sawRoot, inStyle := false, false
	ns := nsSVG // the namespace of SVG elements in this document
	entityRefs := strings.Count(text, "&")
	for {
		tok, err := d.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			if errors.Is(err, ErrSVGUnsupported) {
				return nil, info, err
			}
			var se *xml.SyntaxError
			if errors.As(err, &se) && !sawRoot {
				return nil, info, fmt.Errorf("%w: %v", ErrNotImage, err)
			}
			return nil, info, fmt.Errorf("%w: the SVG is not well-formed XML: %v", ErrCorrupt, err)
		}
		switch t := tok.(type) {
		case xml.Directive:
			s := string(t)
			if !strings.HasPrefix(strings.TrimSpace(s), "DOCTYPE") {
				continue
			}
			ents, err := doctypeEntities(s)
			if err != nil {
				return nil, info, err
			}
			longest := 0
			for _, v := range ents {
				longest = max(longest, len(v))
			}
			if entityRefs*longest > maxSVGExpansion {
				return nil, info, fmt.Errorf("%w: an SVG whose entities expand to more than %d KB", ErrSVGUnsupported, maxSVGExpansion>>10)
			}
			d.Entity = ents
		case xml.StartElement:
			depth++
			if depth > maxSVGDepth {
				return nil, info, fmt.Errorf("%w: elements nested deeper than %d", ErrSVGUnsupported, maxSVGDepth)
			}
			if !sawRoot {
				if t.Name.Space == "" && t.Name.Local == "svg" {
					// Hand-written SVG without its xmlns: read it as SVG
					// (the output declares the namespace).
					ns = ""
				}
				if t.Name.Space != ns || t.Name.Local != "svg" {
					return nil, info, fmt.Errorf("%w: the XML document is not SVG (its root is <%s>)", ErrNotImage, t.Name.Local)
				}
				sawRoot = true
				for _, a := range t.Attr {
					switch {
					case a.Name.Space == "" && a.Name.Local == "width":
						info.Width = parseLength(a.Value)
					case a.Name.Space == "" && a.Name.Local == "height":
						info.Height = parseLength(a.Value)
					case a.Name.Space == "" && a.Name.Local == "viewBox":
						info.ViewBox = parseViewBox(a.Value)
					}
				}
			}
			if skip > 0 || t.Name.Space != ns || !svgElements[t.Name.Local] {
				if skip == 0 {
					skip = depth
				}
				continue
			}
			writeStart(&out, t, depth == 1)
			inStyle = t.Name.Local == "style"
		case xml.EndElement:
			if skip > 0 {
				if depth == skip {
					skip = 0
				}
				depth--
				continue
			}
			depth--
			inStyle = false
			out.WriteString("</" + t.Name.Local + ">")
		case xml.CharData:
			if skip > 0 || depth == 0 {
				continue
			}
			s := string(t)
			if inStyle {
				s = sanitizeCSS(s)
			}
			xmlEscape(&out, s, false)
		}
	}
	if !sawRoot {
		return nil, info, fmt.Errorf("%w: no svg element", ErrNotImage)
	}
	return out.Bytes(), info, nil
}

// declaresEncoding reports whether an XML declaration names an encoding.
func declaresEncoding(s string) bool {
	if !strings.HasPrefix(s, "<?xml") {
		return false
	}
	end := strings.Index(s, "?>")
	return end > 0 && strings.Contains(s[:end], "encoding")
}

// writeStart writes a kept element with its safe attributes; the root gets
// the namespace declarations.
func writeStart(out *bytes.Buffer, t xml.StartElement, root bool) {
	el := t.Name.Local
	out.WriteString("<" + el)
	if root {
		out.WriteString(` xmlns="` + nsSVG + `" xmlns:xlink="` + nsXLink + `"`)
	}
	seen := map[string]bool{}
	for _, a := range t.Attr {
		name := ""
		switch a.Name.Space {
		case "":
			name = a.Name.Local
		case nsXLink:
			name = "xlink:" + a.Name.Local
		case nsXML:
			name = "xml:" + a.Name.Local
		default:
			continue // xmlns declarations (written on the root) and foreign attributes
		}
		if name == "xmlns" || seen[name] {
			continue
		}
		v, ok := safeAttr(el, name, a.Value)
		if !ok {
			continue
		}
		seen[name] = true
		out.WriteString(" " + name + `="`)
		xmlEscape(out, v, true)
		out.WriteByte('"')
	}
	out.WriteByte('>')
}

// safeAttr decides whether an attribute is kept, and with what value.
func safeAttr(el, name, v string) (string, bool) {
	l := strings.ToLower(name)
	switch {
	case strings.HasPrefix(l, "on"): // event handlers
		return "", false
	case l == "href" || l == "xlink:href" || l == "src":
		if el == "a" {
			return "", false // links go nowhere on a screen
		}
		return v, safeHref(el, v)
	case l == "style":
		return sanitizeCSS(v), true
	case strings.HasPrefix(l, "xml:") && l != "xml:space" && l != "xml:lang":
		return "", false // xml:base and the like
	case l == "attributename" || l == "begin" || l == "to" || l == "values" || l == "from" || l == "by":
		return "", false // animation (the elements are dropped too)
	}
	if cssURLs(v, true) {
		return "", false
	}
	return v, true
}

// safeHref allows same-document fragments everywhere, and embedded raster
// pictures (data: URIs of PNG, JPEG, GIF or WebP) on image and feImage.
func safeHref(el, v string) bool {
	s := strings.TrimSpace(v)
	if strings.HasPrefix(s, "#") {
		return !strings.ContainsAny(s, "()\\ \"'<>")
	}
	if el != "image" && el != "feImage" {
		return false
	}
	ls := strings.ToLower(s)
	for _, t := range []string{"image/png", "image/jpeg", "image/jpg", "image/gif", "image/webp"} {
		if strings.HasPrefix(ls, "data:"+t+";") || strings.HasPrefix(ls, "data:"+t+",") {
			return true
		}
	}
	return false
}

var (
	cssCommentRE = regexp.MustCompile(`(?s)/\*.*?\*/`)
	cssImportRE  = regexp.MustCompile(`(?is)@import[^;]*;?`)
	cssFontRE    = regexp.MustCompile(`(?is)@font-face\s*\{[^}]*\}?`)
	cssURLRE     = regexp.MustCompile(`(?i)(url|image-set|image|cross-fade|element|src)\s*\(\s*(['"]?)([^)'"]*)['"]?\s*\)`)
)

// cssURLs reports whether CSS text refers to anything outside the document
// (a url() other than a #fragment, or anything an escape could hide).
func cssURLs(s string, attr bool) bool {
	if !strings.ContainsAny(s, "(\\@") {
		return false
	}
	if strings.Contains(s, "\\") {
		return true // escapes can spell url( in ways a filter would miss
	}
	l := strings.ToLower(s)
	if strings.Contains(l, "@import") || strings.Contains(l, "@font-face") {
		return true
	}
	for _, m := range cssURLRE.FindAllStringSubmatch(s, -1) {
		if strings.ToLower(m[1]) != "url" || !strings.HasPrefix(strings.TrimSpace(m[3]), "#") {
			return true
		}
	}
	// A url( the pattern did not recognise (unbalanced quotes, say).
	return strings.Count(l, "url(") > len(cssURLRE.FindAllString(s, -1))
}

// sanitizeCSS keeps style text that refers to nothing outside the
// document: @import rules go, and so does every declaration (or whole
// rule) that loads anything.
func sanitizeCSS(s string) string {
	s = cssCommentRE.ReplaceAllString(s, "")
	if strings.Contains(s, "\\") || strings.Contains(strings.ToLower(s), "<") {
		return ""
	}
	s = cssImportRE.ReplaceAllString(s, "")
	s = cssFontRE.ReplaceAllString(s, "")
	if !cssURLs(s, false) {
		return s
	}
	// Drop the offending declarations, keeping the rest.
	var b strings.Builder
	for _, part := range splitCSS(s) {
		if !cssURLs(part, false) {
			b.WriteString(part)
		} else if strings.HasSuffix(part, "}") {
			b.WriteString("}")
		}
	}
	out := b.String()
	if cssURLs(out, false) {
		return ""
	}
	return out
}

// splitCSS cuts CSS text after each ';', '{' and '}'.
func splitCSS(s string) []string {
	var parts []string
	start := 0
	for i := 0; i < len(s); i++ {
		if s[i] == ';' || s[i] == '{' || s[i] == '}' {
			parts = append(parts, s[start:i+1])
			start = i + 1
		}
	}
	if start < len(s) {
		parts = append(parts, s[start:])
	}
	return parts
}

func xmlEscape(out *bytes.Buffer, s string, attr bool) {
	for _, r := range s {
		switch r {
		case '<':
			out.WriteString("&lt;")
		case '>':
			out.WriteString("&gt;")
		case '&':
			out.WriteString("&amp;")
		case '"':
			if attr {
				out.WriteString("&quot;")
			} else {
				out.WriteRune(r)
			}
		case '\n', '\r', '\t':
			if attr {
				fmt.Fprintf(out, "&#%d;", r)
			} else {
				out.WriteRune(r)
			}
		default:
			if r >= 0x20 {
				out.WriteRune(r)
			}
		}
	}
}

// RasterSize is the size at which a picture of intrinsic size w×h is to be
// rasterised for profile p so that no resampling is needed afterwards: the
// fitted size for contain, the covering size for cover (cropped later),
// the profile's size for stretch.
func RasterSize(w, h int, p Profile) (int, int) {
	if w <= 0 || h <= 0 || p.fit() == FitStretch {
		return p.Width, p.Height
	}
	sx, sy := float64(p.Width)/float64(w), float64(p.Height)/float64(h)
	s := math.Min(sx, sy)
	if p.fit() == FitCover {
		s = math.Max(sx, sy)
	}
	rw, rh := max(1, int(math.Round(float64(w)*s))), max(1, int(math.Round(float64(h)*s)))
	if p.fit() == FitContain {
		rw, rh = min(rw, p.Width), min(rh, p.Height)
	} else {
		rw, rh = max(rw, p.Width), max(rh, p.Height)
	}
	return rw, rh
}

// ComposeRaster places a picture already rasterised at RasterSize on the
// profile's exact canvas, without resampling: centred on the background
// colour (contain), cropped equally on both sides (cover) or as it is
// (stretch), with transparent pixels showing the background. The result is
// a PNG, which keeps the renderer's sharp edges.
func ComposeRaster(img image.Image, p Profile) (Rendition, error) {
	if err := p.validate(); err != nil {
		return Rendition{}, err
	}
	canvas := image.NewRGBA(image.Rect(0, 0, p.Width, p.Height))
	bg := color.RGBA{p.Background.R, p.Background.G, p.Background.B, 255}
	draw.Draw(canvas, canvas.Bounds(), &image.Uniform{bg}, image.Point{}, draw.Src)
	b := img.Bounds()
	off := image.Pt((p.Width-b.Dx())/2, (p.Height-b.Dy())/2)
	draw.Draw(canvas, b.Sub(b.Min).Add(off), img, b.Min, draw.Over)
	var buf bytes.Buffer
	if err := (&png.Encoder{CompressionLevel: png.DefaultCompression}).Encode(&buf, canvas); err != nil {
		return Rendition{}, err
	}
	return Rendition{Profile: p, Width: p.Width, Height: p.Height, ContentType: "image/png", Data: buf.Bytes()}, nil
}
