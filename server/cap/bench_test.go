package cap

import (
	"crypto/x509"
	"path/filepath"
	"testing"
	"time"
)

// go test -run '^$' -bench . ./server/cap
func BenchmarkParseFlood(b *testing.B) {
	data := td(b, "flood-alert-vi-en-zh.xml")
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, err := Parse(data, Options{}); err != nil {
			b.Fatal(err)
		}
	}
}

// The real NAADS message (23 KB, two RSA-SHA1 signatures), checked with the
// second certificate trusted, so the first signature fails and the second
// verifies: the worst case for a two-signature message.
func BenchmarkCheckNAADS(b *testing.B) {
	dir := sharedDir(b)
	data := readFile(b, filepath.Join(dir, "05-naads-ec-update-bilingual-2signatures.cap"))
	certs, err := LoadCertificates(readFile(b, filepath.Join(dir, "05b-environment_canada_x509_cert.pem")))
	if err != nil {
		b.Fatal(err)
	}
	src := Source{Trusted: []*x509.Certificate{certs[0]}}
	at := time.Date(2013, 1, 24, 22, 0, 0, 0, time.UTC)
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, _, err := src.Check(data, at); err != nil {
			b.Fatal(err)
		}
	}
}
