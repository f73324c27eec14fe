package cap

import (
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/beevik/etree"
	dsig "github.com/russellhaering/goxmldsig"
)

// Policy is a source's signature policy.
type Policy string

const (
	// RequireSigned accepts only messages with a valid signature from a
	// certificate trusted for the source. It is the default.
	RequireSigned Policy = "require-signed"
	// AllowUnsigned accepts unsigned messages too. A message that is
	// signed but whose signature is invalid is still refused.
	AllowUnsigned Policy = "allow-unsigned"
)

// ParsePolicy parses "require-signed" or "allow-unsigned".
func ParsePolicy(s string) (Policy, error) {
	switch p := Policy(s); p {
	case RequireSigned, AllowUnsigned:
		return p, nil
	}
	return "", fmt.Errorf("signature policy %q is not require-signed or allow-unsigned", s)
}

// VerdictKind is the outcome of signature verification.
type VerdictKind string

const (
	Valid    VerdictKind = "valid"
	Invalid  VerdictKind = "invalid"
	Unsigned VerdictKind = "unsigned"
)

// Verdict is what Verify found.
type Verdict struct {
	Kind VerdictKind `json:"verdict"`
	// For a valid signature: its Id attribute (may be empty) and the trusted
	// certificate it verified against.
	SignatureID string            `json:"signature_id,omitempty"`
	Subject     string            `json:"certificate_subject,omitempty"`
	SHA256      string            `json:"certificate_sha256,omitempty"`
	Cert        *x509.Certificate `json:"-"`
	// Why it is invalid: one sentence per signature found.
	Reason string `json:"reason,omitempty"`
	// Signed is the canonical form of exactly what the valid signature
	// covers (the alert without its signatures). Check parses the alert
	// from these bytes, never from the unverified document.
	Signed []byte `json:"-"`
}

// Fingerprint is a certificate's SHA-256, hex.
func Fingerprint(c *x509.Certificate) string {
	s := sha256.Sum256(c.Raw)
	return hex.EncodeToString(s[:])
}

// LoadCertificates reads every CERTIFICATE block of a PEM file.
func LoadCertificates(pemData []byte) ([]*x509.Certificate, error) {
	var out []*x509.Certificate
	for {
		var b *pem.Block
		b, pemData = pem.Decode(pemData)
		if b == nil {
			break
		}
		if b.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	if len(out) == 0 {
		return nil, errors.New("no PEM CERTIFICATE block")
	}
	return out, nil
}

// maxSignatures bounds the work of one verification: each signature is
// checked on its own copy of the document. Real messages carry one or two.
const maxSignatures = 4

// Verify checks the enveloped XML-DSig signatures directly under the
// alert element against the trusted certificates at the instant at (the
// current time when at is zero). The message is valid when any one
// signature verifies; certificates are pinned: the certificate in the
// signature must be one of trusted (no chain is followed) and valid at at.
//
// A message may carry several signatures (NAADS adds its own to the
// originator's); each signs the alert without any signature, so each is
// checked on a copy that holds only it.
func Verify(data []byte, trusted []*x509.Certificate, at time.Time) (v Verdict) {
	// A panic in the XML-DSig library on a hostile document makes the
	// message invalid, never takes the caller down.
	defer func() {
		if r := recover(); r != nil {
			v = Verdict{Kind: Invalid, Reason: fmt.Sprintf("signature verifier failed: %v", r)}
		}
	}()
	if _, err := scan(data); err != nil {
		return Verdict{Kind: Invalid, Reason: reasonOf(err)}
	}
	doc := etree.NewDocument()
	doc.ReadSettings.CharsetReader = charsetReader
	if err := doc.ReadFromBytes(data); err != nil {
		return Verdict{Kind: Invalid, Reason: "not well-formed XML: " + err.Error()}
	}
	root := doc.Root()
	var sigIdx []int
	for i, t := range root.Child {
		if el, ok := t.(*etree.Element); ok && el.Tag == "Signature" && el.NamespaceURI() == NSDSig {
			sigIdx = append(sigIdx, i)
		}
	}
	if len(sigIdx) == 0 {
		return Verdict{Kind: Unsigned}
	}
	if len(sigIdx) > maxSignatures {
		return Verdict{Kind: Invalid, Reason: fmt.Sprintf("%d signatures; at most %d are checked", len(sigIdx), maxSignatures)}
	}
	ctx := dsig.NewDefaultValidationContext(&dsig.MemoryX509CertificateStore{Roots: trusted})
	if !at.IsZero() {
		ctx.Clock = dsig.NewFakeClockAt(at)
	}
	when := at
	if when.IsZero() {
		when = time.Now()
	}
	var reasons []string
	for n, idx := range sigIdx {
		sigEl := root.Child[idx].(*etree.Element)
		id := sigEl.SelectAttrValue("Id", "")
		name := fmt.Sprintf("signature %d", n+1)
		if id != "" {
			name += fmt.Sprintf(" (Id %q)", id)
		}
		one := root.Copy()
		for k := len(sigIdx) - 1; k >= 0; k-- { // keep only signature n
			if k != n {
				one.RemoveChildAt(sigIdx[k])
			}
		}
		if len(trusted) == 0 {
			reasons = append(reasons, name+": no certificate is trusted for this source")
			continue
		}
		validated, err := ctx.Validate(one)
		if err != nil {
			reasons = append(reasons, name+": "+explain(err, sigEl, trusted, when))
			continue
		}
		out := etree.NewDocument()
		out.SetRoot(validated)
		signed, err := out.WriteToBytes()
		if err != nil {
			reasons = append(reasons, name+": "+err.Error())
			continue
		}
		cert := matchCert(sigEl, trusted)
		v := Verdict{Kind: Valid, SignatureID: id, Signed: signed, Cert: cert}
		if cert != nil {
			v.Subject = cert.Subject.String()
			v.SHA256 = Fingerprint(cert)
		}
		return v
	}
	return Verdict{Kind: Invalid, Reason: strings.Join(reasons, "; ")}
}

// embeddedCert returns the first certificate in the signature's KeyInfo.
func embeddedCert(sigEl *etree.Element) *x509.Certificate {
	for _, el := range sigEl.FindElements(".//X509Certificate") {
		der, err := base64.StdEncoding.DecodeString(strings.Join(strings.Fields(el.Text()), ""))
		if err != nil {
			return nil
		}
		c, err := x509.ParseCertificate(der)
		if err != nil {
			return nil
		}
		return c
	}
	return nil
}

func matchCert(sigEl *etree.Element, trusted []*x509.Certificate) *x509.Certificate {
	if c := embeddedCert(sigEl); c != nil {
		for _, t := range trusted {
			if t.Equal(c) {
				return t
			}
		}
		return nil
	}
	if len(trusted) == 1 {
		return trusted[0]
	}
	return nil
}

// explain turns goxmldsig's errors into sentences.
func explain(err error, sigEl *etree.Element, trusted []*x509.Certificate, at time.Time) string {
	msg := err.Error()
	c := embeddedCert(sigEl)
	switch {
	case strings.Contains(msg, "Could not verify certificate against trusted certs"):
		if c != nil {
			return fmt.Sprintf("its certificate (%s, sha256 %s) is not trusted for this source", c.Subject, Fingerprint(c)[:16])
		}
		return "its certificate is not trusted for this source"
	case strings.Contains(msg, "Cert is not valid at this time"):
		if c != nil {
			return fmt.Sprintf("its certificate (%s) is valid from %s to %s, not at %s",
				c.Subject, c.NotBefore.UTC().Format(time.RFC3339), c.NotAfter.UTC().Format(time.RFC3339), at.UTC().Format(time.RFC3339))
		}
		return "its certificate is not valid at " + at.UTC().Format(time.RFC3339)
	case strings.Contains(msg, "Signature could not be verified"), strings.Contains(msg, "verification error"):
		return "the document does not match its signature (changed after signing): " + msg
	case strings.Contains(msg, "Missing signature referencing"):
		return "it does not sign the alert element"
	}
	return msg
}

// Codes of refusals made by Source.Check, besides those of Parse.
const (
	CodeSignature = "signature"
	CodeUnsigned  = "unsigned"
)

// Source is a configured CAP source: who may send, under which signature
// policy, with which certificates trusted.
type Source struct {
	Name    string
	Policy  Policy // "" means RequireSigned
	Trusted []*x509.Certificate
	Options Options
}

// Check parses data, verifies its signature at the instant at (now when
// zero) and applies the source's policy. A refused message returns a
// *RefusedError; the verdict is returned whenever the document parsed.
// With a valid signature the alert is parsed from the signed bytes only.
// When the signature or policy refuses a message that parsed, the
// unverified alert comes back with the error so that the refusal can be
// recorded with its sender and identifier: it must never be acted on.
func (s Source) Check(data []byte, at time.Time) (*Alert, Verdict, error) {
	a, err := Parse(data, s.Options)
	if err != nil {
		return nil, Verdict{}, err
	}
	v := Verify(data, s.Trusted, at)
	policy := s.Policy
	if policy == "" {
		policy = RequireSigned
	}
	switch v.Kind {
	case Invalid:
		return a, v, refuse(CodeSignature, "signature invalid: %s", v.Reason)
	case Unsigned:
		if policy == RequireSigned {
			return a, v, refuse(CodeUnsigned, "the message is not signed and the source requires a signature")
		}
		return a, v, nil
	}
	signed, err := Parse(v.Signed, Options{MaxBytes: int64(len(v.Signed)) + 1})
	if err != nil {
		return nil, v, err
	}
	return signed, v, nil
}
