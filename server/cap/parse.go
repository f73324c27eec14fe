package cap

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strings"

	"golang.org/x/net/html/charset"
)

// Namespaces Beacon knows.
const (
	NS12       = "urn:oasis:names:tc:emergency:cap:1.2"
	NS11       = "urn:oasis:names:tc:emergency:cap:1.1"
	NS10       = "http://www.incident.com/cap/1.0"
	NSDSig     = "http://www.w3.org/2000/09/xmldsig#"
	nsXInclude = "http://www.w3.org/2001/XInclude"
)

// DefaultMaxBytes is the size limit used when Options.MaxBytes is zero.
const DefaultMaxBytes = 1 << 20

// maxDepth bounds element nesting. CAP itself is five levels deep
// (alert/info/area/geocode/value); a signature adds a few.
const maxDepth = 32

// Options tune parsing.
type Options struct {
	// MaxBytes is the largest document accepted; 0 means DefaultMaxBytes.
	MaxBytes int64
}

func (o Options) maxBytes() int64 {
	if o.MaxBytes <= 0 {
		return DefaultMaxBytes
	}
	return o.MaxBytes
}

// Refusal codes, stable for logs and API answers.
const (
	CodeTooLarge  = "too_large"
	CodeDoctype   = "doctype"
	CodeXInclude  = "xinclude"
	CodeMalformed = "malformed"
	CodeNamespace = "namespace"
	CodeVersion   = "version"
	CodeInvalid   = "invalid"
)

// RefusedError says why a document was refused. Reason is a sentence a
// person can act on.
type RefusedError struct {
	Code   string
	Reason string
}

func (e *RefusedError) Error() string { return "CAP refused (" + e.Code + "): " + e.Reason }

func refuse(code, format string, a ...any) error {
	return &RefusedError{Code: code, Reason: fmt.Sprintf(format, a...)}
}

// Refusal returns the RefusedError inside err, if any.
func Refusal(err error) (*RefusedError, bool) {
	var r *RefusedError
	ok := errors.As(err, &r)
	return r, ok
}

// ReadAll reads a document from r, refusing one larger than the limit
// without reading much past it.
func ReadAll(r io.Reader, opt Options) ([]byte, error) {
	max := opt.maxBytes()
	data, err := io.ReadAll(io.LimitReader(r, max+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > max {
		return nil, refuse(CodeTooLarge, "document is larger than %d bytes", max)
	}
	return data, nil
}

// charsetReader lets encoding/xml honour declared encodings such as
// ISO-8859-1 or windows-1252.
func charsetReader(label string, input io.Reader) (io.Reader, error) {
	r, err := charset.NewReaderLabel(label, input)
	if err != nil {
		return nil, fmt.Errorf("unsupported encoding %q", label)
	}
	return r, nil
}

func newDecoder(data []byte) *xml.Decoder {
	d := xml.NewDecoder(bytes.NewReader(data))
	d.Strict = true
	d.CharsetReader = charsetReader
	// No Entity map: only the five predefined entities exist, and a
	// reference to any other is a syntax error.
	return d
}

// Parse parses and validates one CAP document. Every refusal is a
// *RefusedError.
func Parse(data []byte, opt Options) (*Alert, error) {
	if max := opt.maxBytes(); int64(len(data)) > max {
		return nil, refuse(CodeTooLarge, "document is %d bytes, larger than the limit of %d", len(data), max)
	}
	ns, err := scan(data)
	if err != nil {
		return nil, err
	}
	var raw rawAlert
	if err := newDecoder(data).Decode(&raw); err != nil {
		return nil, refuse(CodeMalformed, "not well-formed XML: %v", err)
	}
	a, err := raw.build()
	if err != nil {
		return nil, err
	}
	a.Version = "1.2"
	if ns == NS11 {
		a.Version = "1.1"
	}
	return a, nil
}

// scan walks every token once before anything is decoded into fields. It
// refuses DOCTYPE and any other directive, XInclude, elements outside the
// CAP namespace (except a ds:Signature directly under alert, whose content
// is left to the signature verifier), too deep nesting, and a root that is
// not a CAP 1.2 or 1.1 alert. It returns the root's namespace.
func scan(data []byte) (string, error) {
	d := newDecoder(data)
	var rootNS string
	depth := 0
	sigDepth := 0 // >0 while inside a top-level ds:Signature
	roots := 0
	for {
		tok, err := d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			if strings.Contains(err.Error(), "unsupported encoding") {
				return "", refuse(CodeMalformed, "%v", err)
			}
			return "", refuse(CodeMalformed, "not well-formed XML: %v", err)
		}
		switch t := tok.(type) {
		case xml.Directive:
			s := strings.TrimSpace(string(t))
			if len(s) >= 7 && strings.EqualFold(s[:7], "DOCTYPE") {
				return "", refuse(CodeDoctype, "a DOCTYPE (document type definition) is not accepted; CAP needs none, and a DTD can declare entities that fetch files or expand without bound")
			}
			return "", refuse(CodeDoctype, "XML declarations of the form <!%s…> are not accepted", firstWord(s))
		case xml.StartElement:
			depth++
			if depth > maxDepth {
				return "", refuse(CodeMalformed, "elements nested deeper than %d", maxDepth)
			}
			if t.Name.Space == nsXInclude {
				return "", refuse(CodeXInclude, "XInclude (%s) is not accepted", t.Name.Local)
			}
			for _, at := range t.Attr {
				if at.Name.Space == nsXInclude {
					return "", refuse(CodeXInclude, "XInclude attributes are not accepted")
				}
			}
			if depth == 1 {
				roots++
				if roots > 1 {
					return "", refuse(CodeMalformed, "more than one root element")
				}
				if err := checkRoot(t.Name); err != nil {
					return "", err
				}
				rootNS = t.Name.Space
				continue
			}
			if sigDepth > 0 {
				sigDepth++
				continue
			}
			if depth == 2 && t.Name.Space == NSDSig && t.Name.Local == "Signature" {
				sigDepth = 1
				continue
			}
			if t.Name.Space != rootNS {
				return "", refuse(CodeNamespace, "element <%s> is in namespace %q, not the alert's %q", t.Name.Local, t.Name.Space, rootNS)
			}
		case xml.CharData:
			if depth == 0 && len(bytes.TrimSpace(t)) > 0 {
				return "", refuse(CodeMalformed, "text outside the root element")
			}
		case xml.EndElement:
			depth--
			if sigDepth > 0 {
				sigDepth--
			}
		}
	}
	if roots == 0 {
		return "", refuse(CodeMalformed, "no root element")
	}
	return rootNS, nil
}

func firstWord(s string) string {
	if i := strings.IndexAny(s, " \t\r\n"); i >= 0 {
		return s[:i]
	}
	return s
}

func checkRoot(n xml.Name) error {
	if n.Local != "alert" {
		return refuse(CodeNamespace, "root element is <%s>, not a CAP <alert>", n.Local)
	}
	switch n.Space {
	case NS12, NS11:
		return nil
	case NS10:
		return refuse(CodeVersion, "CAP 1.0 (%s) is not accepted; Beacon takes CAP 1.2 (and 1.1)", NS10)
	case "":
		return refuse(CodeNamespace, "<alert> has no namespace; CAP 1.2 needs xmlns=%q", NS12)
	}
	if strings.HasPrefix(n.Space, "urn:oasis:names:tc:emergency:cap:") {
		return refuse(CodeVersion, "CAP version %q is not accepted; Beacon takes CAP 1.2 (and 1.1)", strings.TrimPrefix(n.Space, "urn:oasis:names:tc:emergency:cap:"))
	}
	return refuse(CodeNamespace, "<alert> is in namespace %q; CAP 1.2 is %q", n.Space, NS12)
}

// Raw XML shapes. Field tags carry no namespace: scan has already refused
// any element outside the alert's namespace.
type rawAlert struct {
	XMLName     xml.Name
	Identifier  string    `xml:"identifier"`
	Sender      string    `xml:"sender"`
	Sent        string    `xml:"sent"`
	Status      string    `xml:"status"`
	MsgType     string    `xml:"msgType"`
	Source      string    `xml:"source"`
	Scope       string    `xml:"scope"`
	Restriction string    `xml:"restriction"`
	Addresses   string    `xml:"addresses"`
	Code        []string  `xml:"code"`
	Note        string    `xml:"note"`
	References  string    `xml:"references"`
	Incidents   string    `xml:"incidents"`
	Info        []rawInfo `xml:"info"`
}

type rawPair struct {
	ValueName string `xml:"valueName"`
	Value     string `xml:"value"`
}

type rawInfo struct {
	Language     string        `xml:"language"`
	Category     []string      `xml:"category"`
	Event        string        `xml:"event"`
	ResponseType []string      `xml:"responseType"`
	Urgency      string        `xml:"urgency"`
	Severity     string        `xml:"severity"`
	Certainty    string        `xml:"certainty"`
	Audience     string        `xml:"audience"`
	EventCode    []rawPair     `xml:"eventCode"`
	Effective    string        `xml:"effective"`
	Onset        string        `xml:"onset"`
	Expires      string        `xml:"expires"`
	SenderName   string        `xml:"senderName"`
	Headline     string        `xml:"headline"`
	Description  string        `xml:"description"`
	Instruction  string        `xml:"instruction"`
	Web          string        `xml:"web"`
	Contact      string        `xml:"contact"`
	Parameter    []rawPair     `xml:"parameter"`
	Resource     []rawResource `xml:"resource"`
	Area         []rawArea     `xml:"area"`
}

type rawResource struct {
	ResourceDesc string `xml:"resourceDesc"`
	MimeType     string `xml:"mimeType"`
	Size         string `xml:"size"`
	URI          string `xml:"uri"`
	DerefURI     string `xml:"derefUri"`
	Digest       string `xml:"digest"`
}

type rawArea struct {
	AreaDesc string    `xml:"areaDesc"`
	Polygon  []string  `xml:"polygon"`
	Circle   []string  `xml:"circle"`
	Geocode  []rawPair `xml:"geocode"`
	Altitude string    `xml:"altitude"`
	Ceiling  string    `xml:"ceiling"`
}
