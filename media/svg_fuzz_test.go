package media

import (
	"bufio"
	"bytes"
	"encoding/xml"
	"errors"
	"io"
	"strings"
	"testing"
)

// FuzzSanitizeSVG: whatever the input, a sanitised document holds only
// allowed SVG elements, no event attributes and no reference to anything
// outside it, and sanitising it again changes nothing.
func FuzzSanitizeSVG(f *testing.F) {
	f.Add([]byte(evilSVG))
	f.Add([]byte(`<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 10 10"><style>a{fill:url(#x)}</style><rect style="fill:red"/></svg>`))
	f.Add([]byte("<!DOCTYPE svg [<!ENTITY a \"x\">]><svg xmlns=\"http://www.w3.org/2000/svg\"><text>&a;</text></svg>"))
	f.Add(utf16LE(`<svg xmlns="http://www.w3.org/2000/svg"><a href="#b"><text>t</text></a></svg>`, true))
	f.Fuzz(func(t *testing.T, in []byte) {
		out, _, err := SanitizeSVG(in)
		if err != nil {
			return
		}
		checkSafeSVG(t, out)
		again, _, err := SanitizeSVG(out)
		if err != nil {
			t.Fatalf("sanitised output does not parse again: %v\n%s", err, out)
		}
		if !bytes.Equal(again, out) {
			t.Fatalf("not a fixed point:\n%s\n%s", out, again)
		}
	})
}

func checkSafeSVG(t *testing.T, out []byte) {
	t.Helper()
	d := xml.NewDecoder(bytes.NewReader(out))
	d.Strict = true
	inStyle := false
	for {
		tok, err := d.Token()
		if errors.Is(err, io.EOF) {
			return
		}
		if err != nil {
			t.Fatalf("output is not XML: %v\n%s", err, out)
		}
		switch x := tok.(type) {
		case xml.StartElement:
			if x.Name.Space != nsSVG || !svgElements[x.Name.Local] {
				t.Fatalf("element %v kept:\n%s", x.Name, out)
			}
			inStyle = x.Name.Local == "style"
			for _, a := range x.Attr {
				n := strings.ToLower(a.Name.Local)
				switch {
				case a.Name.Space == "xmlns" || a.Name.Local == "xmlns":
				case strings.HasPrefix(n, "on"):
					t.Fatalf("event attribute %v kept:\n%s", a.Name, out)
				case n == "href" || n == "src":
					if !safeHref(x.Name.Local, a.Value) {
						t.Fatalf("reference %q kept:\n%s", a.Value, out)
					}
				case cssURLs(a.Value, true):
					t.Fatalf("attribute %v=%q refers outside:\n%s", a.Name, a.Value, out)
				}
			}
		case xml.EndElement:
			inStyle = false
		case xml.CharData:
			if inStyle && cssURLs(string(x), false) {
				t.Fatalf("style refers outside: %q", x)
			}
		case xml.Directive, xml.ProcInst:
			t.Fatalf("markup %T kept:\n%s", x, out)
		}
	}
}

// FuzzAnimationHeaders: the structure readers never panic or loop on any
// input, and what they report is within sense.
func FuzzAnimationHeaders(f *testing.F) {
	f.Add([]byte("GIF89a\x02\x00\x02\x00\x80\x00\x00\x00\x00\x00\xff\xff\xff!\xf9\x04\x00\x0a\x00\x00\x00,\x00\x00\x00\x00\x02\x00\x02\x00\x00\x02\x02D\x01\x00;"))
	f.Add([]byte("\x89PNG\r\n\x1a\n\x00\x00\x00\x0dIHDR\x00\x00\x00\x02\x00\x00\x00\x02\x08\x06\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x08acTL\x00\x00\x00\x02\x00\x00\x00\x00\x00\x00\x00\x00"))
	f.Add([]byte("RIFF\x00\x00\x00\x00WEBPVP8X\x0a\x00\x00\x00\x02\x00\x00\x00\x01\x00\x00\x01\x00\x00ANMF\x10\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x64\x00\x00\x00"))
	f.Fuzz(func(t *testing.T, in []byte) {
		for _, read := range []func(*bufio.Reader) (Animation, error){gifAnimation, apngAnimation, webpAnimation} {
			a, err := read(bufio.NewReader(bytes.NewReader(in)))
			if err == nil && (a.Frames < 2 || a.Duration <= 0) {
				t.Fatalf("animation %+v", a)
			}
		}
	})
}
