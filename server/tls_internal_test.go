package server

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func writePair(t *testing.T, certPath, keyPath, cn string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, _ := x509.MarshalPKCS8PrivateKey(key)
	if err := os.WriteFile(certPath, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyPath, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder}), 0o600); err != nil {
		t.Fatal(err)
	}
}

func servedName(t *testing.T, cf *certFiles) string {
	t.Helper()
	cf.checked = time.Time{} // as if a minute had passed
	c, err := cf.get(nil)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(c.Certificate[0])
	if err != nil {
		t.Fatal(err)
	}
	return leaf.Subject.CommonName
}

// A renewed certificate is picked up without a restart; a broken pair
// written over it keeps the last good one in service.
func TestCertificateFilesReloaded(t *testing.T) {
	dir := t.TempDir()
	certPath, keyPath := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	writePair(t, certPath, keyPath, "first")
	cf, err := loadCertFiles(certPath, keyPath)
	if err != nil {
		t.Fatal(err)
	}
	if n := servedName(t, cf); n != "first" {
		t.Fatalf("serving %q", n)
	}
	writePair(t, certPath, keyPath, "renewed")
	later := time.Now().Add(time.Second)
	_ = os.Chtimes(certPath, later, later)
	if n := servedName(t, cf); n != "renewed" {
		t.Fatalf("after renewal, serving %q", n)
	}
	if err := os.WriteFile(keyPath, []byte("not a key"), 0o600); err != nil {
		t.Fatal(err)
	}
	if n := servedName(t, cf); n != "renewed" {
		t.Fatalf("after a broken key, serving %q", n)
	}
	if _, err := loadCertFiles(certPath, ""); err == nil {
		t.Fatal("a certificate without its key was accepted")
	}
}
