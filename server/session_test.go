package server_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"image/color"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"beacon/server"
	"beacon/server/auth"
	"beacon/server/servertest"
	"beacon/server/store"
)

const testPassword = "correct horse battery"

type sessionAnswer struct {
	User struct {
		ID       string `json:"id"`
		Username string `json:"username"`
		Role     string `json:"role"`
		OrgID    string `json:"org_id"`
	} `json:"user"`
	CSRF      string    `json:"csrf_token"`
	ExpiresAt time.Time `json:"expires_at"`
	Token     string    `json:"token"` // must never be present
}

type sessErr struct {
	Error struct {
		Code, Message, Field string
	} `json:"error"`
}

// browser is a client with the session cookie, as the console is.
type browser struct {
	t      *testing.T
	base   string
	client *http.Client
	cookie *http.Cookie
	origin string
}

// do sends a request with the cookie (if any) and the given headers.
func (b *browser) do(method, path string, body any, header map[string]string, out any) (*http.Response, []byte) {
	b.t.Helper()
	var rd io.Reader
	if body != nil {
		raw, _ := json.Marshal(body)
		rd = bytes.NewReader(raw)
	}
	req, _ := http.NewRequest(method, b.base+path, rd)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if b.cookie != nil {
		req.AddCookie(b.cookie)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := b.client.Do(req)
	if err != nil {
		b.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if out != nil && len(raw) > 0 {
		_ = json.Unmarshal(raw, out)
	}
	return resp, raw
}

func sessionCookie(resp *http.Response) *http.Cookie {
	for _, c := range resp.Cookies() {
		if c.Name == server.SessionCookie {
			return c
		}
	}
	return nil
}

func signIn(t *testing.T, b *browser, user, password string) sessionAnswer {
	t.Helper()
	var s sessionAnswer
	resp, raw := b.do("POST", "/api/v1/auth/session", map[string]string{"username": user, "password": password}, nil, &s)
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("sign in: %d %s", resp.StatusCode, raw)
	}
	b.cookie = sessionCookie(resp)
	if b.cookie == nil {
		t.Fatalf("sign in set no %s cookie: %v", server.SessionCookie, resp.Header.Values("Set-Cookie"))
	}
	return s
}

// TestSessionCookie: signing in sets an HttpOnly, SameSite=Strict cookie
// that expires with the session (not Secure over plain HTTP), the answer
// names the user and a CSRF token and never the secret; the cookie
// reads the API, and GET /auth/session answers the same for it.
func TestSessionCookie(t *testing.T) {
	s := servertest.Start(t, servertest.Options{})
	s.NewUser(s.OrgID, "mai", store.RoleEditor, testPassword)
	b := &browser{t: t, base: s.URL, client: http.DefaultClient}

	var sa sessionAnswer
	resp, raw := b.do("POST", "/api/v1/auth/session", map[string]string{"username": "mai", "password": testPassword}, nil, &sa)
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("sign in: %d %s", resp.StatusCode, raw)
	}
	set := strings.Join(resp.Header.Values("Set-Cookie"), "\n")
	c := sessionCookie(resp)
	if c == nil {
		t.Fatalf("no session cookie: %s", set)
	}
	if !c.HttpOnly || c.SameSite != http.SameSiteStrictMode || c.Path != "/" || c.Secure {
		t.Errorf("cookie attributes: %s (want HttpOnly, SameSite=Strict, Path=/, not Secure over HTTP)", set)
	}
	if c.Expires.IsZero() || c.Expires.Before(time.Now().Add(11*time.Hour)) || c.Expires.After(time.Now().Add(13*time.Hour)) {
		t.Errorf("cookie expiry %v: want the session's (12 h)", c.Expires)
	}
	if d := c.Expires.Sub(sa.ExpiresAt); d > time.Second || d < -time.Second {
		t.Errorf("cookie expires %v, session %v", c.Expires, sa.ExpiresAt)
	}
	if sa.User.Username != "mai" || sa.User.Role != store.RoleEditor || sa.User.OrgID != s.OrgID || sa.CSRF == "" {
		t.Errorf("session answer: %s", raw)
	}
	if sa.Token != "" || strings.Contains(string(raw), c.Value) || sa.CSRF == c.Value {
		t.Errorf("the session secret leaked into the answer: %s", raw)
	}
	if cc := resp.Header.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("session answer Cache-Control %q", cc)
	}
	b.cookie = c

	var again sessionAnswer
	if resp, raw := b.do("GET", "/api/v1/auth/session", nil, nil, &again); resp.StatusCode != 200 || again.CSRF != sa.CSRF || again.User.ID != sa.User.ID {
		t.Fatalf("GET session: %d %s", resp.StatusCode, raw)
	}
	if resp, raw := b.do("GET", "/api/v1/displays", nil, nil, nil); resp.StatusCode != 200 {
		t.Fatalf("GET displays with the cookie: %d %s", resp.StatusCode, raw)
	}
	// A person's role is the session's: an editor may not list tokens.
	if resp, _ := b.do("GET", "/api/v1/tokens", nil, nil, nil); resp.StatusCode != http.StatusForbidden {
		t.Errorf("editor session listed tokens: %d", resp.StatusCode)
	}

	// Without a cookie, or with a made-up one: 401.
	anon := &browser{t: t, base: s.URL, client: http.DefaultClient}
	if resp, _ := anon.do("GET", "/api/v1/auth/session", nil, nil, nil); resp.StatusCode != 401 {
		t.Errorf("GET session without cookie: %d", resp.StatusCode)
	}
	anon.cookie = &http.Cookie{Name: server.SessionCookie, Value: "bss_madeup"}
	if resp, _ := anon.do("GET", "/api/v1/displays", nil, nil, nil); resp.StatusCode != 401 {
		t.Errorf("made-up cookie: %d", resp.StatusCode)
	}
}

// TestSessionErrorsNameTheField: a refused sign-in says which field to
// fix, so the console shows the message beside it.
func TestSessionErrorsNameTheField(t *testing.T) {
	s := servertest.Start(t, servertest.Options{})
	s.NewUser(s.OrgID, "mai", store.RoleEditor, testPassword)
	b := &browser{t: t, base: s.URL, client: http.DefaultClient}
	for _, tc := range []struct {
		user, pass    string
		status        int
		code, field   string
		wantNoCookies bool
	}{
		{"", testPassword, 400, "invalid", "username", true},
		{"mai", "", 400, "invalid", "password", true},
		{"mai", "wrong password!", 401, "bad_credentials", "password", true},
		{"nobody", testPassword, 401, "bad_credentials", "password", true},
	} {
		var e sessErr
		resp, raw := b.do("POST", "/api/v1/auth/session", map[string]string{"username": tc.user, "password": tc.pass}, nil, &e)
		if resp.StatusCode != tc.status || e.Error.Code != tc.code || e.Error.Field != tc.field {
			t.Errorf("%q/%q: %d %s; want %d %s field %s", tc.user, tc.pass, resp.StatusCode, raw, tc.status, tc.code, tc.field)
		}
		if sessionCookie(resp) != nil {
			t.Errorf("%q/%q: a refused sign-in set a cookie", tc.user, tc.pass)
		}
	}
	// Not JSON (a cross-site form post): refused before any check.
	req, _ := http.NewRequest("POST", s.URL+"/api/v1/auth/session", strings.NewReader("username=mai&password="+testPassword))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnsupportedMediaType || sessionCookie(resp) != nil {
		t.Errorf("form-encoded sign-in: %d", resp.StatusCode)
	}
	// From another site's page: refused.
	if resp, _ := b.do("POST", "/api/v1/auth/session", map[string]string{"username": "mai", "password": testPassword},
		map[string]string{"Origin": "http://evil.example"}, nil); resp.StatusCode != http.StatusForbidden {
		t.Errorf("cross-origin sign-in: %d", resp.StatusCode)
	}
}

// TestSessionCSRF: a state-changing request with the cookie and without
// the session's token (or with a wrong one, or from another origin) is
// refused with 403 csrf and changes nothing; with the token it passes.
func TestSessionCSRF(t *testing.T) {
	s := servertest.Start(t, servertest.Options{})
	s.NewUser(s.OrgID, "mai", store.RoleEditor, testPassword)
	b := &browser{t: t, base: s.URL, client: http.DefaultClient}
	sa := signIn(t, b, "mai", testPassword)

	// The wrong token differs from the right one in its first character
	// (a fixed "x" would be the right token when it starts with x).
	wrong := "x" + sa.CSRF[1:]
	if sa.CSRF[0] == 'x' {
		wrong = "y" + sa.CSRF[1:]
	}
	for name, h := range map[string]map[string]string{
		"no token":     nil,
		"wrong token":  {"X-CSRF-Token": wrong},
		"other origin": {"X-CSRF-Token": sa.CSRF, "Origin": "http://evil.example"},
	} {
		for _, m := range []string{"POST", "PUT", "PATCH", "DELETE"} {
			var e sessErr
			resp, raw := b.do(m, "/api/v1/clusters", map[string]any{"name": "Hà Nội"}, h, &e)
			if resp.StatusCode != http.StatusForbidden || e.Error.Code != "csrf" {
				t.Errorf("%s %s: %d %s; want 403 csrf", name, m, resp.StatusCode, raw)
			}
		}
	}
	var list struct{ Clusters []any }
	s.Do("GET", "/api/v1/clusters", nil, &list)
	if len(list.Clusters) != 0 {
		t.Fatalf("a refused request made a cluster: %+v", list)
	}
	if resp, raw := b.do("POST", "/api/v1/clusters", map[string]any{"name": "Hà Nội"}, map[string]string{"X-CSRF-Token": sa.CSRF, "Origin": s.URL}, nil); resp.StatusCode != http.StatusCreated {
		t.Fatalf("with the token: %d %s", resp.StatusCode, raw)
	}
	// The token of another session does not fit this one.
	other := &browser{t: t, base: s.URL, client: http.DefaultClient}
	so := signIn(t, other, "mai", testPassword)
	if so.CSRF == sa.CSRF {
		t.Fatal("two sessions share a CSRF token")
	}
	if resp, _ := b.do("POST", "/api/v1/clusters", map[string]any{"name": "Huế"}, map[string]string{"X-CSRF-Token": so.CSRF}, nil); resp.StatusCode != http.StatusForbidden {
		t.Errorf("another session's token: %d", resp.StatusCode)
	}
}

// TestBearerUnchanged: clients with a bearer token need no CSRF token and
// are not affected by a cookie they may also carry.
func TestBearerUnchanged(t *testing.T) {
	s := servertest.Start(t, servertest.Options{})
	if code := s.Do("POST", "/api/v1/clusters", map[string]any{"name": "Đà Nẵng"}, nil); code != http.StatusCreated {
		t.Fatalf("bearer POST: %d", code)
	}
	s.NewUser(s.OrgID, "viewer", store.RoleViewer, testPassword)
	b := &browser{t: t, base: s.URL, client: http.DefaultClient}
	signIn(t, b, "viewer", testPassword)
	// The bearer decides: an admin token with a viewer's cookie may write.
	if resp, raw := b.do("POST", "/api/v1/clusters", map[string]any{"name": "Cần Thơ"}, map[string]string{"Authorization": "Bearer " + s.Token}, nil); resp.StatusCode != http.StatusCreated {
		t.Fatalf("bearer with a cookie: %d %s", resp.StatusCode, raw)
	}
	// A wrong bearer is refused even with a good cookie.
	if resp, _ := b.do("GET", "/api/v1/displays", nil, map[string]string{"Authorization": "Bearer bat_nope"}, nil); resp.StatusCode != 401 {
		t.Errorf("wrong bearer with a good cookie: %d", resp.StatusCode)
	}
	// POST /auth/login still answers a bearer session token.
	var tok struct{ Token string }
	if code := s.DoToken("", "POST", "/api/v1/auth/login", map[string]string{"username": "viewer", "password": testPassword}, &tok); code != 201 || tok.Token == "" {
		t.Fatalf("login: %d", code)
	}
	if code := s.DoToken(tok.Token, "GET", "/api/v1/displays", nil, nil); code != 200 {
		t.Errorf("login token: %d", code)
	}
}

// TestSignOut: DELETE /auth/session needs the CSRF token, then revokes the
// session and clears the cookie; the old cookie no longer works.
func TestSignOut(t *testing.T) {
	s := servertest.Start(t, servertest.Options{})
	s.NewUser(s.OrgID, "mai", store.RoleAdmin, testPassword)
	b := &browser{t: t, base: s.URL, client: http.DefaultClient}
	sa := signIn(t, b, "mai", testPassword)
	if resp, _ := b.do("DELETE", "/api/v1/auth/session", nil, nil, nil); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("sign-out without the token: %d", resp.StatusCode)
	}
	resp, raw := b.do("DELETE", "/api/v1/auth/session", nil, map[string]string{"X-CSRF-Token": sa.CSRF}, nil)
	if resp.StatusCode != http.StatusNoContent {
		t.Fatalf("sign out: %d %s", resp.StatusCode, raw)
	}
	if c := sessionCookie(resp); c == nil || c.Value != "" || c.MaxAge >= 0 && !c.Expires.Before(time.Now()) {
		t.Errorf("sign-out did not clear the cookie: %v", resp.Header.Values("Set-Cookie"))
	}
	var e sessErr
	if resp, _ := b.do("GET", "/api/v1/auth/session", nil, nil, &e); resp.StatusCode != 401 || e.Error.Code != "session_expired" {
		t.Errorf("old cookie after sign-out: %d %s", resp.StatusCode, e.Error.Code)
	}
	if resp, _ := b.do("GET", "/api/v1/displays", nil, nil, nil); resp.StatusCode != 401 {
		t.Errorf("old cookie reads the API after sign-out: %d", resp.StatusCode)
	}
	// The session is gone from the organisation's list too.
	var toks struct {
		Tokens []struct{ Kind, UserID string } `json:"tokens"`
	}
	s.Do("GET", "/api/v1/tokens", nil, &toks)
	for _, tk := range toks.Tokens {
		if tk.Kind == store.TokenSession {
			t.Errorf("a session is still live after sign-out: %+v", tk)
		}
	}
}

// TestSessionExpires: past its lifetime the cookie reads nothing, and GET
// /auth/session says so (and clears the cookie).
func TestSessionExpires(t *testing.T) {
	s := servertest.Start(t, servertest.Options{SessionTTL: time.Second})
	s.NewUser(s.OrgID, "mai", store.RoleEditor, testPassword)
	b := &browser{t: t, base: s.URL, client: http.DefaultClient}
	sa := signIn(t, b, "mai", testPassword)
	if resp, _ := b.do("GET", "/api/v1/displays", nil, nil, nil); resp.StatusCode != 200 {
		t.Fatalf("fresh session: %d", resp.StatusCode)
	}
	time.Sleep(time.Until(sa.ExpiresAt) + 100*time.Millisecond)
	var e sessErr
	resp, _ := b.do("GET", "/api/v1/auth/session", nil, nil, &e)
	if resp.StatusCode != 401 || e.Error.Code != "session_expired" {
		t.Fatalf("expired session: %d %+v", resp.StatusCode, e)
	}
	if c := sessionCookie(resp); c == nil || c.Value != "" {
		t.Errorf("expired session's cookie not cleared")
	}
	if resp, _ := b.do("GET", "/api/v1/displays", nil, nil, nil); resp.StatusCode != 401 {
		t.Errorf("expired cookie reads the API: %d", resp.StatusCode)
	}
}

// TestSessionCookieSecureUnderTLS: served over HTTPS, the cookie is Secure.
func TestSessionCookieSecureUnderTLS(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile, pool := selfSignedPair(t, dir)
	srv, err := server.New(context.Background(), server.Config{DataDir: dir, TLSCertFile: certFile, TLSKeyFile: keyFile,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
	})
	org, err := srv.Store().CreateOrg(context.Background(), "TLS org")
	if err != nil {
		t.Fatal(err)
	}
	hash, _ := auth.HashPassword(testPassword)
	if _, err := srv.Store().CreateUser(context.Background(), store.User{OrgID: org.ID, Username: "mai", PasswordHash: hash, Role: store.RoleViewer}); err != nil {
		t.Fatal(err)
	}
	b := &browser{t: t, base: "https://" + ln.Addr().String(), client: &http.Client{Timeout: 30 * time.Second,
		Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}}
	resp, raw := b.do("POST", "/api/v1/auth/session", map[string]string{"username": "mai", "password": testPassword}, nil, nil)
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("sign in over TLS: %d %s", resp.StatusCode, raw)
	}
	if c := sessionCookie(resp); c == nil || !c.Secure || !c.HttpOnly || c.SameSite != http.SameSiteStrictMode {
		t.Fatalf("cookie over TLS: %v", resp.Header.Values("Set-Cookie"))
	}
}

func selfSignedPair(t *testing.T, dir string) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: "beacon"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, BasicConstraintsValid: true, IsCA: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, _ := x509.MarshalPKCS8PrivateKey(key)
	certFile, keyFile = filepath.Join(dir, "c.pem"), filepath.Join(dir, "c.key")
	os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644)
	os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder}), 0o600)
	cert, _ := x509.ParseCertificate(der)
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	return certFile, keyFile, pool
}

// TestSessionReadsMedia: thumbnails, originals and files are GET requests,
// so the cookie alone fetches them (an <img src> in the console works);
// without it they are refused.
func TestSessionReadsMedia(t *testing.T) {
	s := servertest.Start(t, servertest.Options{})
	var m servertest.Media
	if code := s.Upload("photo.jpg", testJPEG(t, 640, 480, color.RGBA{20, 120, 200, 255}), &m); code != 201 {
		t.Fatalf("upload: %d", code)
	}
	var view struct {
		Thumbnail string `json:"thumbnail_url"`
	}
	servertest.Eventually(t, 60*time.Second, "the thumbnail", func() bool {
		s.Do("GET", "/api/v1/media/"+m.ID, nil, &view)
		return view.Thumbnail != ""
	})
	s.NewUser(s.OrgID, "mai", store.RoleViewer, testPassword)
	b := &browser{t: t, base: s.URL, client: http.DefaultClient}
	signIn(t, b, "mai", testPassword)
	anon := &browser{t: t, base: s.URL, client: http.DefaultClient}
	for _, p := range []string{view.Thumbnail /* /api/v1/files/{sha} */, "/api/v1/media/" + m.ID + "/original"} {
		resp, body := b.do("GET", p, nil, nil, nil)
		if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "image/") || len(body) < 100 {
			t.Errorf("GET %s with the cookie: %d %s, %d bytes", p, resp.StatusCode, resp.Header.Get("Content-Type"), len(body))
		}
		if resp, _ := anon.do("GET", p, nil, nil, nil); resp.StatusCode != 401 {
			t.Errorf("GET %s without the cookie: %d", p, resp.StatusCode)
		}
	}
}

// TestSessionCookieSecureBehindProxy: behind a trusted reverse proxy that
// terminates TLS (X-Forwarded-Proto: https) the cookie is Secure; the
// same header from a client that is not a trusted proxy changes nothing.
func TestSessionCookieSecureBehindProxy(t *testing.T) {
	for _, tc := range []struct {
		name    string
		proxies []netip.Prefix
		secure  bool
	}{
		{"trusted proxy", []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}, true},
		{"no proxy configured", nil, false},
		{"another proxy", []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}, false},
	} {
		s := servertest.Start(t, servertest.Options{TrustedProxies: tc.proxies})
		s.NewUser(s.OrgID, "mai", store.RoleViewer, testPassword)
		b := &browser{t: t, base: s.URL, client: http.DefaultClient}
		resp, raw := b.do("POST", "/api/v1/auth/session", map[string]string{"username": "mai", "password": testPassword},
			map[string]string{"X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.9"}, nil)
		c := sessionCookie(resp)
		if resp.StatusCode != 201 || c == nil || c.Secure != tc.secure {
			t.Errorf("%s: %d %s %v; want Secure=%v", tc.name, resp.StatusCode, raw, resp.Header.Values("Set-Cookie"), tc.secure)
		}
	}
}
