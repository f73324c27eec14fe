package e2e_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"beacon/player"
)

// selfSigned writes a self-signed certificate for 127.0.0.1 (its own CA)
// and its key as PEM files in dir.
func selfSigned(t *testing.T, dir, name string) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(time.Now().UnixNano()),
		Subject:               pkix.Name{CommonName: name},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		IPAddresses:           []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, name+".pem"), filepath.Join(dir, name+".key")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder}), 0o600); err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	return certFile, keyFile, pool
}

// TestServeTLS: `beacon serve --tls-cert --tls-key` speaks HTTPS with the
// security headers and HSTS; the real player trusts it through --ca,
// pairs, downloads and plays over TLS; players that do not trust the
// certificate (system roots, or another CA) refuse to talk to it.
func TestServeTLS(t *testing.T) {
	if testing.Short() {
		t.Skip("builds binaries")
	}
	beacon, beaconPlayer := buildBinaries(t)
	data, certs := t.TempDir(), t.TempDir()
	pdata := filepath.Join(data, "player")
	if out, err := exec.Command(beacon, "demo", "--data", data, "--player-data", pdata).CombinedOutput(); err != nil {
		t.Fatalf("demo: %v\n%s", err, out)
	}
	certFile, keyFile, pool := selfSigned(t, certs, "beacon")
	otherCA, _, _ := selfSigned(t, certs, "other")

	addr := freeAddr(t)
	start(t, beacon, "serve", "--data", data, "--listen", addr, "--tls-cert", certFile, "--tls-key", keyFile)
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	var resp *http.Response
	var err error
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if resp, err = client.Get("https://" + addr + "/healthz"); err == nil {
			break
		}
	}
	if err != nil {
		t.Fatalf("https healthz: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.TLS == nil {
		t.Fatalf("https healthz: %s", resp.Status)
	}
	if hsts := resp.Header.Get("Strict-Transport-Security"); !strings.HasPrefix(hsts, "max-age=") {
		t.Errorf("no HSTS under TLS: %q", hsts)
	}
	if resp.Header.Get("X-Content-Type-Options") != "nosniff" {
		t.Error("no security headers under TLS")
	}

	// Players that do not trust the certificate never connect and say why.
	for _, tc := range []struct{ name, ca string }{{"system roots", ""}, {"another CA", otherCA}} {
		args := []string{"--server", "https://" + addr, "--data", t.TempDir(), "--listen", freeAddr(t)}
		if tc.ca != "" {
			args = append(args, "--ca", tc.ca)
		}
		p := start(t, beaconPlayer, args...)
		deadline := time.Now().Add(30 * time.Second)
		for !strings.Contains(p.out.String(), "certificate") && time.Now().Before(deadline) {
			time.Sleep(100 * time.Millisecond)
		}
		if !strings.Contains(p.out.String(), "certificate") {
			t.Fatalf("player with %s: no certificate error in its log:\n%s", tc.name, p.out)
		}
		st, err := player.WaitStatus(context.Background(), args[5], func(player.Status) bool { return true })
		if err != nil || st.Connected || st.PairingCode != "" {
			t.Fatalf("player with %s talked to an untrusted server: %+v %v", tc.name, st, err)
		}
		_ = p.cmd.Process.Kill()
		_ = p.cmd.Wait()
	}

	// The paired demo player trusts the server through --ca: it connects,
	// downloads every file over HTTPS and plays.
	paddr := freeAddr(t)
	start(t, beaconPlayer, "--server", "https://"+addr, "--data", pdata, "--listen", paddr, "--ca", certFile)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if _, err := player.WaitStatus(ctx, paddr, func(s player.Status) bool {
		return s.Connected && s.Paired && s.NowPlaying != nil && s.Cache.Files == 3 && s.Cache.Missing == 0
	}); err != nil {
		t.Fatalf("player over TLS with --ca never played the demo: %v", err)
	}
}
