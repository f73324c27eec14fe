package cap

import (
	"beacon/server/cap/captest"
	"bytes"
	"crypto/x509"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

type cx509 = x509.Certificate

type testSigner = captest.Signer

var signAt = time.Date(2026, 10, 15, 1, 0, 0, 0, time.UTC)

// selfSigned makes an RSA key and a self-signed certificate valid around
// signAt.
func selfSigned(t testing.TB, cn string) testSigner {
	return captest.NewSigner(t, cn, signAt.Add(-24*time.Hour), signAt.Add(365*24*time.Hour))
}

func TestSignatureMadeHere(t *testing.T) {
	authority := selfSigned(t, "canhbao.example.gov.vn")
	stranger := selfSigned(t, "stranger.example.org")
	plain := readFile(t, filepath.Join("testdata", "flood-alert-vi-en-zh.xml"))
	signed := authority.Sign(t, plain)
	if !bytes.Contains(signed, []byte("SignatureValue")) {
		t.Fatal("no signature written")
	}

	v := Verify(signed, []*x509.Certificate{authority.Cert}, signAt)
	if v.Kind != Valid || v.Cert == nil || !v.Cert.Equal(authority.Cert) || v.SHA256 != Fingerprint(authority.Cert) {
		t.Fatalf("verdict %+v", v)
	}
	src := Source{Name: "vn", Policy: RequireSigned, Trusted: []*x509.Certificate{authority.Cert}}
	a, _, err := src.Check(signed, signAt)
	if err != nil {
		t.Fatal(err)
	}
	if a.Texts()["vi"].Headline != "KHẨN CẤP: Lũ quét tại Hội An" || len(a.Info) != 3 {
		t.Errorf("alert from signed bytes: %+v", a.Texts())
	}

	// One byte changed anywhere in the signed content: rejected.
	i := bytes.Index(signed, []byte("Move to high ground"))
	tampered := bytes.Clone(signed)
	tampered[i] = 'L' // "Love to high ground"
	if v := Verify(tampered, []*x509.Certificate{authority.Cert}, signAt); v.Kind != Invalid || !strings.Contains(v.Reason, "does not match") {
		t.Errorf("tampered: %s (%s)", v.Kind, v.Reason)
	}
	if _, _, err := src.Check(tampered, signAt); err == nil {
		t.Error("Check accepted a tampered message")
	}
	// Even a source that allows unsigned messages refuses a broken signature.
	if _, _, err := (Source{Policy: AllowUnsigned, Trusted: src.Trusted}).Check(tampered, signAt); err == nil {
		t.Error("allow-unsigned accepted a tampered signed message")
	}
	// The signature value itself changed.
	j := bytes.Index(signed, []byte("<ds:SignatureValue>")) + len("<ds:SignatureValue>") + 5
	tampered = bytes.Clone(signed)
	if tampered[j] == 'A' {
		tampered[j] = 'B'
	} else {
		tampered[j] = 'A'
	}
	if v := Verify(tampered, src.Trusted, signAt); v.Kind != Invalid {
		t.Errorf("changed signature value: %s", v.Kind)
	}

	// Signed by someone not trusted.
	if v := Verify(signed, []*x509.Certificate{stranger.Cert}, signAt); v.Kind != Invalid || !strings.Contains(v.Reason, "not trusted") {
		t.Errorf("untrusted: %s (%s)", v.Kind, v.Reason)
	}
	// Outside the certificate's validity.
	if v := Verify(signed, src.Trusted, signAt.Add(2*365*24*time.Hour)); v.Kind != Invalid || !strings.Contains(v.Reason, "valid from") {
		t.Errorf("expired: %s (%s)", v.Kind, v.Reason)
	}

	// Unsigned under each policy.
	if v := Verify(plain, src.Trusted, signAt); v.Kind != Unsigned {
		t.Errorf("plain: %s", v.Kind)
	}
	if _, _, err := src.Check(plain, signAt); err == nil {
		t.Error("require-signed accepted an unsigned message")
	} else if r, _ := Refusal(err); r.Code != CodeUnsigned {
		t.Errorf("unsigned refusal %v", err)
	}
	if _, v, err := (Source{Policy: AllowUnsigned}).Check(plain, signAt); err != nil || v.Kind != Unsigned {
		t.Errorf("allow-unsigned: %v %s", err, v.Kind)
	}
}

// A signed ISO-8859-1 document verifies, and the alert comes out in UTF-8.
func TestSignatureLatin1(t *testing.T) {
	s := selfSigned(t, "meteo.example.fr")
	signed := s.Sign(t, readFile(t, filepath.Join("testdata", "latin1-storm.xml")))
	a, v, err := Source{Trusted: []*x509.Certificate{s.Cert}}.Check(signed, signAt)
	if err != nil || v.Kind != Valid {
		t.Fatalf("%v %+v", err, v)
	}
	if a.Info[0].Event != "Tempête" {
		t.Errorf("event %q", a.Info[0].Event)
	}
}

// Content outside the signature cannot be smuggled in: the alert returned
// by Check is parsed from the signed bytes. A second, unsigned info block
// added after signing breaks the digest.
func TestSignatureCoversWholeAlert(t *testing.T) {
	s := selfSigned(t, "a")
	signed := s.Sign(t, readFile(t, filepath.Join("testdata", "test-status.xml")))
	extra := bytes.Replace(signed, []byte("<status>Test</status>"), []byte("<status>Actual</status>"), 1)
	if v := Verify(extra, []*x509.Certificate{s.Cert}, signAt); v.Kind != Invalid {
		t.Errorf("status changed after signing: %s", v.Kind)
	}
}

func TestParsePolicy(t *testing.T) {
	for _, s := range []string{"require-signed", "allow-unsigned"} {
		if p, err := ParsePolicy(s); err != nil || string(p) != s {
			t.Errorf("%s: %v", s, err)
		}
	}
	if _, err := ParsePolicy("sometimes"); err == nil {
		t.Error("accepted an unknown policy")
	}
}

// Verification work is bounded: more than four signatures are not checked.
func TestTooManySignatures(t *testing.T) {
	s := selfSigned(t, "a")
	signed := string(s.Sign(t, td(t, "test-status.xml")))
	i := strings.Index(signed, "<ds:Signature")
	j := strings.Index(signed, "</ds:Signature>") + len("</ds:Signature>")
	sig := signed[i:j]
	many := signed[:j] + strings.Repeat(sig, 4) + signed[j:]
	if v := Verify([]byte(many), []*x509.Certificate{s.Cert}, signAt); v.Kind != Invalid || !strings.Contains(v.Reason, "at most") {
		t.Errorf("%s: %s", v.Kind, v.Reason)
	}
	two := signed[:j] + sig + signed[j:]
	if v := Verify([]byte(two), []*x509.Certificate{s.Cert}, signAt); v.Kind != Valid {
		t.Errorf("two copies of a good signature: %s %s", v.Kind, v.Reason)
	}
}
