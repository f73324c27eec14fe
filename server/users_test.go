package server_test

import (
	"net/http"
	"testing"

	"beacon/server/servertest"
	"beacon/server/store"
)

type userOut struct {
	ID         string  `json:"id"`
	Username   string  `json:"username"`
	Role       string  `json:"role"`
	DisabledAt *string `json:"disabled_at"`
}

// TestUsersAPI: an admin adds people with a role (a chosen or a generated
// password), resets a password (which ends that person's sessions),
// disables and enables an account; each step is audited; mistakes name
// their field; nobody but an admin of the same organisation may do any
// of it.
func TestUsersAPI(t *testing.T) {
	s := servertest.Start(t, servertest.Options{})
	adminID := s.NewUser(s.OrgID, "boss", store.RoleAdmin, testPassword)

	var made struct {
		User     userOut `json:"user"`
		Password string  `json:"password"`
	}
	if code := s.Do("POST", "/api/v1/users", map[string]string{"username": "lan", "role": "editor"}, &made); code != 201 || made.User.Username != "lan" || made.User.Role != "editor" || len(made.Password) < 10 {
		t.Fatalf("create: %d %+v", code, made)
	}
	lan := made.User.ID
	// The generated password signs in.
	b := &browser{t: t, base: s.URL, client: http.DefaultClient}
	signIn(t, b, "lan", made.Password)

	var chosen struct {
		User     userOut `json:"user"`
		Password string  `json:"password"`
	}
	if code := s.Do("POST", "/api/v1/users", map[string]string{"username": "hoa", "role": "viewer", "password": testPassword}, &chosen); code != 201 || chosen.Password != "" {
		t.Fatalf("create with a password: %d %+v (a chosen password is never echoed)", code, chosen)
	}
	for _, tc := range []struct {
		body        map[string]string
		status      int
		code, field string
	}{
		{map[string]string{"username": "lan", "role": "viewer"}, 409, "username_taken", "username"},
		{map[string]string{"username": "has space", "role": "viewer"}, 400, "invalid", "username"},
		{map[string]string{"username": "x", "role": "owner"}, 400, "invalid", "role"},
		{map[string]string{"username": "y", "role": "viewer", "password": "short"}, 400, "invalid", "password"},
	} {
		var e sessErr
		if code := s.Do("POST", "/api/v1/users", tc.body, &e); code != tc.status || e.Error.Code != tc.code || e.Error.Field != tc.field {
			t.Errorf("create %v: %d %+v; want %d %s field %s", tc.body, code, e, tc.status, tc.code, tc.field)
		}
	}

	var list struct{ Users []userOut }
	if code := s.Do("GET", "/api/v1/users", nil, &list); code != 200 || len(list.Users) != 3 {
		t.Fatalf("list: %d %+v", code, list)
	}

	// Reset: a new password works, the old one does not, and lan's live
	// session has ended.
	var reset struct {
		Password string `json:"password"`
	}
	if code := s.Do("POST", "/api/v1/users/"+lan+"/password", map[string]string{}, &reset); code != 200 || len(reset.Password) < 10 || reset.Password == made.Password {
		t.Fatalf("reset: %d %+v", code, reset)
	}
	if resp, _ := b.do("GET", "/api/v1/displays", nil, nil, nil); resp.StatusCode != 401 {
		t.Errorf("a session survived its password's reset: %d", resp.StatusCode)
	}
	if code := s.DoToken("", "POST", "/api/v1/auth/login", map[string]string{"username": "lan", "password": made.Password}, nil); code != 401 {
		t.Errorf("old password after reset: %d", code)
	}
	signIn(t, b, "lan", reset.Password)
	var e sessErr
	if code := s.Do("POST", "/api/v1/users/"+lan+"/password", map[string]string{"password": "short"}, &e); code != 400 || e.Error.Field != "password" {
		t.Errorf("short reset: %d %+v", code, e)
	}

	// Disable: the session ends and sign-in is refused; enable lets the
	// person sign in again.
	var u userOut
	if code := s.Do("POST", "/api/v1/users/"+lan+"/disable", nil, &u); code != 200 || u.DisabledAt == nil {
		t.Fatalf("disable: %d %+v", code, u)
	}
	if resp, _ := b.do("GET", "/api/v1/displays", nil, nil, nil); resp.StatusCode != 401 {
		t.Errorf("a disabled person's session still works: %d", resp.StatusCode)
	}
	if code := s.DoToken("", "POST", "/api/v1/auth/login", map[string]string{"username": "lan", "password": reset.Password}, nil); code != 401 {
		t.Errorf("disabled sign-in: %d", code)
	}
	if code := s.Do("POST", "/api/v1/users/"+lan+"/enable", nil, &u); code != 200 || u.DisabledAt != nil {
		t.Fatalf("enable: %d %+v", code, u)
	}
	signIn(t, b, "lan", reset.Password)

	// An admin cannot disable itself.
	admin := &browser{t: t, base: s.URL, client: http.DefaultClient}
	sa := signIn(t, admin, "boss", testPassword)
	if resp, raw := admin.do("POST", "/api/v1/users/"+adminID+"/disable", nil, map[string]string{"X-CSRF-Token": sa.CSRF}, nil); resp.StatusCode != 400 {
		t.Errorf("self-disable: %d %s", resp.StatusCode, raw)
	}

	// Every change is in the audit log.
	var audit struct {
		Entries []struct{ Action, Subject string } `json:"entries"`
	}
	s.Do("GET", "/api/v1/audit?limit=100", nil, &audit)
	seen := map[string]int{}
	for _, e := range audit.Entries {
		seen[e.Action]++
	}
	for _, a := range []string{store.AuditUserCreate, store.AuditUserPassword, store.AuditUserDisable, store.AuditUserEnable} {
		if seen[a] == 0 {
			t.Errorf("no %s in the audit log: %v", a, seen)
		}
	}
	if seen[store.AuditUserCreate] != 2 {
		t.Errorf("refused creations were audited as made: %v", seen)
	}

	// Other roles, and other organisations, may not.
	for _, role := range []string{store.RoleEditor, store.RoleViewer, store.RoleAuthority} {
		name := "who-" + role
		s.NewUser(s.OrgID, name, role, testPassword)
		ob := &browser{t: t, base: s.URL, client: http.DefaultClient}
		os := signIn(t, ob, name, testPassword)
		h := map[string]string{"X-CSRF-Token": os.CSRF}
		for _, r := range []struct{ m, p string }{{"GET", "/api/v1/users"}, {"POST", "/api/v1/users"}, {"POST", "/api/v1/users/" + lan + "/password"}, {"POST", "/api/v1/users/" + lan + "/disable"}, {"POST", "/api/v1/users/" + lan + "/enable"}} {
			if resp, _ := ob.do(r.m, r.p, map[string]string{"username": "z", "role": "admin"}, h, nil); resp.StatusCode != 403 {
				t.Errorf("%s %s %s: %d", role, r.m, r.p, resp.StatusCode)
			}
		}
	}
	otherOrg, otherToken := s.NewOrg("Other org")
	_ = otherOrg
	for _, r := range []string{"/password", "/disable", "/enable"} {
		if code := s.DoToken(otherToken, "POST", "/api/v1/users/"+lan+r, map[string]string{}, nil); code != 404 {
			t.Errorf("another organisation's admin %s: %d", r, code)
		}
	}
	var other struct{ Users []userOut }
	if s.DoToken(otherToken, "GET", "/api/v1/users", nil, &other); len(other.Users) != 0 {
		t.Errorf("another organisation sees %d users", len(other.Users))
	}
}

// TestValidationNamesField: a validation message that starts with a
// field's name carries it in `field`, so the console shows it there.
func TestValidationNamesField(t *testing.T) {
	s := servertest.Start(t, servertest.Options{})
	for _, tc := range []struct {
		path  string
		body  map[string]any
		field string
	}{
		{"/api/v1/clusters", map[string]any{"name": ""}, "name"},
		{"/api/v1/clusters", map[string]any{"name": "x", "timezone": "Mars/Base"}, "timezone"},
		{"/api/v1/displays/claim", map[string]any{"code": "", "name": "x", "width": 1920, "height": 1080}, "code"},
		{"/api/v1/displays/claim", map[string]any{"code": "AAAA", "name": "x", "width": 1, "height": 1080}, ""}, // two fields: none named
	} {
		var e sessErr
		if code := s.Do("POST", tc.path, tc.body, &e); code != 400 || e.Error.Field != tc.field {
			t.Errorf("%s %v: %d %+v; want field %q", tc.path, tc.body, code, e, tc.field)
		}
	}
}
