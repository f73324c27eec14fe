package main

import (
	"bytes"
	"os"
	"strings"
	"testing"

	"beacon/server/servertest"
)

// beacon runs the command line as a person would and returns what it
// printed.
func beacon(t *testing.T, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	var out, errOut bytes.Buffer
	err = run(args, &out, &errOut)
	return out.String(), errOut.String(), err
}

func mustBeacon(t *testing.T, args ...string) (stdout, stderr string) {
	t.Helper()
	out, errOut, err := beacon(t, args...)
	if err != nil {
		t.Fatalf("beacon %s: %v\n%s", strings.Join(args, " "), err, errOut)
	}
	return out, errOut
}

// On an empty data directory, `beacon token create` makes the first
// organisation (before, it said "no organisation yet" and gave nothing),
// and the token works against the server.
func TestFirstRunTokenCreatesTheOrganisation(t *testing.T) {
	dir := t.TempDir()
	out, errOut := mustBeacon(t, "token", "create", "--data", dir, "--name", "ops", "--org-name", "Tỉnh Quảng Nam")
	token := strings.TrimSpace(out)
	if !strings.HasPrefix(token, "bkn_") || strings.Count(out, "\n") != 1 {
		t.Fatalf("stdout should hold the token alone: %q", out)
	}
	if !strings.Contains(errOut, `created the first organisation "Tỉnh Quảng Nam"`) {
		t.Fatalf("stderr does not say the organisation was made: %q", errOut)
	}
	orgs, _ := mustBeacon(t, "org", "list", "--data", dir)
	if strings.Count(orgs, "Tỉnh Quảng Nam") != 1 || strings.Count(orgs, "\n") != 2 {
		t.Fatalf("org list: %q", orgs)
	}
	// A second token joins that organisation and says nothing about it.
	_, errOut = mustBeacon(t, "token", "create", "--data", dir, "--name", "ci", "--role", "viewer", "--ttl", "30d")
	if strings.Contains(errOut, "created the first") || !strings.Contains(errOut, "expires at") {
		t.Fatalf("second token: %q", errOut)
	}

	s := servertest.Start(t, servertest.Options{DataDir: dir})
	var me struct {
		OrgID string `json:"org_id"`
		Role  string
	}
	if code := s.DoToken(token, "GET", "/api/v1/me", nil, &me); code != 200 || me.Role != "admin" || !strings.Contains(orgs, me.OrgID) {
		t.Fatalf("first token against the server: %d %+v", code, me)
	}
	var list struct {
		Tokens []struct {
			ID, Name, Kind string
			ExpiresAt      *string `json:"expires_at"`
		}
	}
	if code := s.DoToken(token, "GET", "/api/v1/tokens", nil, &list); code != 200 {
		t.Fatalf("list tokens: %d", code)
	}
	names := map[string]bool{}
	for _, tk := range list.Tokens {
		names[tk.Name] = true
		if tk.Name == "ci" && tk.ExpiresAt == nil {
			t.Fatalf("--ttl token has no expiry: %+v", tk)
		}
	}
	if !names["ops"] || !names["ci"] {
		t.Fatalf("tokens: %+v", list.Tokens)
	}

	// Several organisations: a command must say which.
	mustBeacon(t, "org", "create", "--data", dir, "--name", "Second")
	if _, _, err := beacon(t, "token", "create", "--data", dir, "--name", "x"); err == nil || !strings.Contains(err.Error(), "--org") {
		t.Fatalf("token create with two organisations: %v", err)
	}
	if _, _, err := beacon(t, "token", "create", "--data", dir, "--name", "x", "--ttl", "soon"); err == nil || !strings.Contains(err.Error(), "ttl") {
		t.Fatalf("bad --ttl: %v", err)
	}
}

func TestUserCommands(t *testing.T) {
	dir := t.TempDir()
	if _, _, err := beacon(t, "user", "create", "--data", dir, "--name", "lan"); err == nil || !strings.Contains(err.Error(), "no organisation") {
		t.Fatalf("user create on an empty directory: %v", err)
	}
	mustBeacon(t, "org", "create", "--data", dir, "--name", "Province")
	// A generated password is printed once, alone on stdout.
	out, errOut := mustBeacon(t, "user", "create", "--data", dir, "--name", "lan", "--role", "admin")
	generated := strings.TrimSpace(out)
	if len(generated) < 12 || !strings.Contains(errOut, "shown once") {
		t.Fatalf("generated password: %q %q", out, errOut)
	}
	// Or read from standard input, and then not printed.
	stdin = strings.NewReader("mật khẩu rất dài\n")
	t.Cleanup(func() { stdin = os.Stdin })
	out, _ = mustBeacon(t, "user", "create", "--data", dir, "--name", "mai", "--password-stdin")
	if out != "" {
		t.Fatalf("a password from stdin was echoed: %q", out)
	}
	stdin = strings.NewReader("short\n")
	if _, _, err := beacon(t, "user", "create", "--data", dir, "--name", "nam", "--password-stdin"); err == nil || !strings.Contains(err.Error(), "password must be") {
		t.Fatalf("short password: %v", err)
	}
	if _, _, err := beacon(t, "user", "create", "--data", dir, "--name", "lan"); err == nil || !strings.Contains(err.Error(), "taken") {
		t.Fatalf("duplicate user: %v", err)
	}
	users, _ := mustBeacon(t, "user", "list", "--data", dir)
	if !strings.Contains(users, "lan") || !strings.Contains(users, "mai") || strings.Contains(users, "nam") || strings.Contains(users, "disabled") {
		t.Fatalf("user list: %q", users)
	}

	s := servertest.Start(t, servertest.Options{DataDir: dir})
	var lan, mai struct{ Token, Kind string }
	if code := s.DoToken("", "POST", "/api/v1/auth/login", map[string]string{"username": "lan", "password": generated}, &lan); code != 201 || lan.Kind != "session" {
		t.Fatalf("login with the generated password: %d %+v", code, lan)
	}
	if code := s.DoToken("", "POST", "/api/v1/auth/login", map[string]string{"username": "mai", "password": "mật khẩu rất dài"}, &mai); code != 201 {
		t.Fatalf("login with the stdin password: %d", code)
	}
	// Disabling ends the account's sessions and refuses its logins.
	out, _ = mustBeacon(t, "user", "disable", "--data", dir, "mai")
	if !strings.Contains(out, "disabled mai") {
		t.Fatalf("disable: %q", out)
	}
	if code := s.DoToken(mai.Token, "GET", "/api/v1/me", nil, nil); code != 401 {
		t.Fatalf("session of a disabled account: %d", code)
	}
	var e servertest.APIError
	if code := s.DoToken("", "POST", "/api/v1/auth/login", map[string]string{"username": "mai", "password": "mật khẩu rất dài"}, &e); code != 401 || e.Error.Code != "bad_credentials" {
		t.Fatalf("login of a disabled account: %d %v", code, e)
	}
	if code := s.DoToken(lan.Token, "GET", "/api/v1/me", nil, nil); code != 200 {
		t.Fatalf("other account's session: %d", code)
	}
	users, _ = mustBeacon(t, "user", "list", "--data", dir)
	if !strings.Contains(users, "disabled") {
		t.Fatalf("user list after disable: %q", users)
	}
}

func TestTokenListAndRevoke(t *testing.T) {
	dir := t.TempDir()
	first, _ := mustBeacon(t, "token", "create", "--data", dir, "--name", "first")
	second, _ := mustBeacon(t, "token", "create", "--data", dir, "--name", "second", "--role", "editor")
	s := servertest.Start(t, servertest.Options{DataDir: dir})
	if code := s.DoToken(strings.TrimSpace(second), "GET", "/api/v1/me", nil, nil); code != 200 {
		t.Fatalf("second token: %d", code)
	}
	list, _ := mustBeacon(t, "token", "list", "--data", dir)
	var id string
	for _, line := range strings.Split(list, "\n") {
		if f := strings.Fields(line); len(f) > 3 && f[3] == "second" {
			id = f[0]
			// Columns: id kind role name created(date time) expires last-used.
			if len(f) < 8 || f[2] != "editor" || f[6] != "never" || f[7] == "never" {
				t.Fatalf("token line (editor, no expiry, used once): %q", line)
			}
		}
	}
	if id == "" {
		t.Fatalf("token list does not show the token: %q", list)
	}
	out, _ := mustBeacon(t, "token", "revoke", id, "--data", dir)
	if !strings.Contains(out, "revoked "+id) {
		t.Fatalf("revoke: %q", out)
	}
	if code := s.DoToken(strings.TrimSpace(second), "GET", "/api/v1/me", nil, nil); code != 401 {
		t.Fatalf("revoked token still works: %d", code)
	}
	if code := s.DoToken(strings.TrimSpace(first), "GET", "/api/v1/me", nil, nil); code != 200 {
		t.Fatalf("other token: %d", code)
	}
	if _, _, err := beacon(t, "token", "revoke", id, "--data", dir); err == nil {
		t.Fatal("revoking twice succeeded")
	}
	list, _ = mustBeacon(t, "token", "list", "--data", dir)
	if strings.Contains(list, id) {
		t.Fatalf("revoked token still listed: %q", list)
	}
}
