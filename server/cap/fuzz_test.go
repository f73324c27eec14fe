package cap

import (
	"crypto/x509"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// FuzzParse: no input makes the parser, the model's methods or the
// signature verifier panic. Seeded with every test message, ours and the
// shared real ones when present.
func FuzzParse(f *testing.F) {
	var seeds []string
	if m, _ := filepath.Glob(filepath.Join("testdata", "*.xml")); m != nil {
		seeds = append(seeds, m...)
	}
	if dir := findSharedDir(); dir != "" {
		for _, pat := range []string{"*.cap", "*.xml"} {
			m, _ := filepath.Glob(filepath.Join(dir, pat))
			seeds = append(seeds, m...)
		}
	}
	for _, p := range seeds {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(`<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2"/>`))
	// Signed seeds, with their certificates trusted, so that mutations reach
	// the XML-DSig verifier's canonicalisation and digest.
	signer := selfSigned(f, "fuzz")
	trusted := []*x509.Certificate{signer.Cert}
	f.Add(signer.Sign(f, readFile(f, filepath.Join("testdata", "flood-update.xml"))))
	f.Add(signer.Sign(f, readFile(f, filepath.Join("testdata", "latin1-storm.xml"))))
	if dir := findSharedDir(); dir != "" {
		for _, c := range []string{"05a-naads_x509_cert.pem", "05b-environment_canada_x509_cert.pem"} {
			if certs, err := LoadCertificates(readFile(f, filepath.Join(dir, c))); err == nil {
				trusted = append(trusted, certs...)
			}
		}
	}
	naadsTime := time.Date(2013, 1, 24, 22, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, data []byte) {
		a, err := Parse(data, Options{MaxBytes: 1 << 16})
		if err == nil {
			_ = a.Level()
			_ = a.Texts()
			_, _ = a.Expires()
			_ = a.Key()
			_, _ = a.Audience()
			_ = a.Covers(Point{15.88, 108.33})
			for _, tx := range a.Texts() {
				_ = tx.Body()
			}
		} else if _, ok := Refusal(err); !ok {
			t.Fatalf("error %v is not a RefusedError", err)
		}
		_ = Verify(data, nil, time.Time{})
		_ = Verify(data, trusted, signAt)
		_ = Verify(data, trusted, naadsTime)
	})
}
