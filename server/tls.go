package server

import (
	"crypto/tls"
	"fmt"
	"os"
	"sync"
	"time"
)

// certFiles is the server's TLS certificate, read from two PEM files and
// read again when either changes (a renewed certificate needs no restart).
type certFiles struct {
	certPath, keyPath string

	mu      sync.Mutex
	cert    *tls.Certificate
	stamp   string // modification times and sizes of both files
	checked time.Time
}

func loadCertFiles(certPath, keyPath string) (*certFiles, error) {
	if certPath == "" || keyPath == "" {
		return nil, fmt.Errorf("TLS needs both a certificate (--tls-cert) and its key (--tls-key)")
	}
	cf := &certFiles{certPath: certPath, keyPath: keyPath}
	if err := cf.reload(); err != nil {
		return nil, err
	}
	return cf, nil
}

func (cf *certFiles) fileStamp() string {
	var b []byte
	for _, p := range []string{cf.certPath, cf.keyPath} {
		if fi, err := os.Stat(p); err == nil {
			b = fmt.Appendf(b, "%d/%d;", fi.ModTime().UnixNano(), fi.Size())
		}
	}
	return string(b)
}

func (cf *certFiles) reload() error {
	stamp := cf.fileStamp()
	cert, err := tls.LoadX509KeyPair(cf.certPath, cf.keyPath)
	if err != nil {
		return fmt.Errorf("TLS certificate %s / key %s: %w", cf.certPath, cf.keyPath, err)
	}
	cf.cert, cf.stamp = &cert, stamp
	return nil
}

// get returns the current certificate, looking at the files at most once a
// minute; a broken new pair keeps the old one in use.
func (cf *certFiles) get(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	cf.mu.Lock()
	defer cf.mu.Unlock()
	if time.Since(cf.checked) > time.Minute {
		cf.checked = time.Now()
		if cf.fileStamp() != cf.stamp {
			_ = cf.reload()
		}
	}
	return cf.cert, nil
}

func (cf *certFiles) tlsConfig() *tls.Config {
	return &tls.Config{
		MinVersion:     tls.VersionTLS12,
		GetCertificate: cf.get,
		NextProtos:     []string{"http/1.1"},
	}
}
