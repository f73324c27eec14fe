package server_test

import (
	"bytes"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"beacon/protocol"
	"beacon/server/auth"
	"beacon/server/players"
	"beacon/server/servertest"
	"beacon/server/store"
)

// call is an API request with extra headers (X-Forwarded-For); it returns
// the status, the Retry-After header and the decoded error, if any.
func call(t *testing.T, s *servertest.Server, token, method, path string, body any, header map[string]string, out any) (int, string) {
	t.Helper()
	b, _ := json.Marshal(body)
	req, _ := http.NewRequest(method, s.URL+path, bytes.NewReader(b))
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if out != nil && len(raw) > 0 {
		_ = json.Unmarshal(raw, out)
	}
	return resp.StatusCode, resp.Header.Get("Retry-After")
}

func addUser(t *testing.T, s *servertest.Server, name, hash string) {
	t.Helper()
	if _, err := s.Store().CreateUser(t.Context(), store.User{OrgID: s.OrgID, Username: name, PasswordHash: hash, Role: store.RoleEditor}); err != nil {
		t.Fatal(err)
	}
}

// oldHashPassword is how Beacon hashed passwords before Argon2id.
func oldHashPassword(password string) string {
	salt := make([]byte, 16)
	_, _ = rand.Read(salt)
	key, _ := pbkdf2.Key(sha256.New, password, salt, 210_000, 32)
	return fmt.Sprintf("pbkdf2-sha256$%d$%s$%s", 210_000, base64.RawStdEncoding.EncodeToString(salt), base64.RawStdEncoding.EncodeToString(key))
}

type session struct {
	Token     string
	ID        string
	Kind      string
	ExpiresAt *time.Time `json:"expires_at"`
}

// A login gives a session token that expires, not a permanent token.
func TestLoginSessionExpires(t *testing.T) {
	s := servertest.Start(t, servertest.Options{SessionTTL: 2 * time.Second})
	hash, _ := auth.HashPassword("long enough password")
	addUser(t, s, "lan", hash)
	var sess session
	before := time.Now()
	if code := s.DoToken("", "POST", "/api/v1/auth/login", map[string]string{"username": "lan", "password": "long enough password"}, &sess); code != 201 {
		t.Fatalf("login: %d", code)
	}
	if sess.Kind != "session" || !strings.HasPrefix(sess.Token, "bks_") || sess.ExpiresAt == nil ||
		sess.ExpiresAt.Before(before.Add(time.Second)) || sess.ExpiresAt.After(time.Now().Add(3*time.Second)) {
		t.Fatalf("session: %+v", sess)
	}
	var e servertest.APIError
	servertest.Eventually(t, 30*time.Second, "the session to expire", func() bool {
		return s.DoToken(sess.Token, "GET", "/api/v1/me", nil, &e) == 401
	})
	if e.Error.Code != "unauthorized" || !strings.Contains(e.Error.Message, "expired") {
		t.Fatalf("expired session: %v", e)
	}
	// The admin token, which has no expiry, still works.
	if code := s.Do("GET", "/api/v1/me", nil, nil); code != 200 {
		t.Fatalf("admin token: %d", code)
	}
}

// A PBKDF2 hash made by the old code still logs in, and is replaced by an
// Argon2id hash at that login.
func TestPBKDF2PasswordRehashedAtLogin(t *testing.T) {
	s := servertest.Start(t, servertest.Options{})
	addUser(t, s, "old", oldHashPassword("quảng trường 2026"))
	var e servertest.APIError
	if code := s.DoToken("", "POST", "/api/v1/auth/login", map[string]string{"username": "old", "password": "wrong one"}, &e); code != 401 {
		t.Fatalf("wrong password: %d", code)
	}
	if u, _ := s.Store().UserByName(t.Context(), "old"); !strings.HasPrefix(u.PasswordHash, "pbkdf2-sha256$") {
		t.Fatalf("a failed login changed the hash: %q", u.PasswordHash)
	}
	for i := 0; i < 2; i++ {
		if code := s.DoToken("", "POST", "/api/v1/auth/login", map[string]string{"username": "old", "password": "quảng trường 2026"}, nil); code != 201 {
			t.Fatalf("login %d: %d", i, code)
		}
		u, _ := s.Store().UserByName(t.Context(), "old")
		if !strings.HasPrefix(u.PasswordHash, "$argon2id$v=19$") {
			t.Fatalf("after login %d the hash is %q", i, u.PasswordHash)
		}
	}
}

// Unknown users take the same hashing work to refuse as wrong passwords
// (before, an unknown user was refused at once: a user-name oracle).
func TestLoginRefusalsTakeTheSameWork(t *testing.T) {
	s := servertest.Start(t, servertest.Options{})
	hash, _ := auth.HashPassword("the right password")
	addUser(t, s, "known", hash)
	login := func(user string) time.Duration {
		start := time.Now()
		var e servertest.APIError
		if code := s.DoToken("", "POST", "/api/v1/auth/login", map[string]string{"username": user, "password": "a wrong password"}, &e); code != 401 || e.Error.Code != "bad_credentials" {
			t.Fatalf("%s: %d %v", user, code, e)
		}
		return time.Since(start)
	}
	login("nobody") // the dummy hash is made on first use
	var known, unknown []time.Duration
	for i := 0; i < 4; i++ { // within the 10 failures an address may make
		known = append(known, login("known"))
		unknown = append(unknown, login(fmt.Sprintf("nobody%d", i)))
	}
	slices.Sort(known)
	slices.Sort(unknown)
	// The medians must be of the same order; a refusal without hashing is
	// hundreds of times faster than one with.
	if mk, mu := known[1], unknown[1]; mu < mk/3 {
		t.Fatalf("unknown users are refused faster: median %v vs %v for a known user", mu, mk)
	}
}

// Login throttling keys on the real client: behind a trusted proxy, the
// address in X-Forwarded-For; from anywhere else, the socket's address,
// whatever X-Forwarded-For says.
func TestLoginThrottledPerClientAddress(t *testing.T) {
	bad := map[string]string{"username": "nobody", "password": "guess"}
	exhaust := func(s *servertest.Server, xff string) {
		t.Helper()
		code, retry := 0, ""
		for i := 0; i < 20 && code != 429; i++ { // 10, plus what refills while hashing on a slow machine
			code, retry = call(t, s, "", "POST", "/api/v1/auth/login", bad, map[string]string{"X-Forwarded-For": xff}, nil)
		}
		if n, _ := strconv.Atoi(retry); code != 429 || n < 1 {
			t.Fatalf("twenty failed logins from %s: %d Retry-After %q", xff, code, retry)
		}
	}

	t.Run("direct", func(t *testing.T) {
		s := servertest.Start(t, servertest.Options{})
		exhaust(s, "198.51.100.1")
		var e servertest.APIError
		code, _ := call(t, s, "", "POST", "/api/v1/auth/login", bad, map[string]string{"X-Forwarded-For": "198.51.100.2"}, &e)
		if code != 429 || e.Error.Code != "too_many_attempts" {
			t.Fatalf("a forged X-Forwarded-For escaped the limit: %d %v", code, e)
		}
	})
	t.Run("behind a trusted proxy", func(t *testing.T) {
		s := servertest.Start(t, servertest.Options{TrustedProxies: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}})
		exhaust(s, "198.51.100.1")
		// Another client behind the same proxy is not locked out…
		if code, _ := call(t, s, "", "POST", "/api/v1/auth/login", bad, map[string]string{"X-Forwarded-For": "198.51.100.2"}, nil); code != 401 {
			t.Fatalf("another client behind the proxy: %d", code)
		}
		// …and the locked-out client cannot escape by prepending an address
		// (a proxy appends the real one).
		if code, _ := call(t, s, "", "POST", "/api/v1/auth/login", bad, map[string]string{"X-Forwarded-For": "203.0.113.7, 198.51.100.1"}, nil); code != 429 {
			t.Fatalf("prepended address escaped the limit: %d", code)
		}
		// A successful login does not spend the budget.
		hash, _ := auth.HashPassword("the right password")
		addUser(t, s, "lan", hash)
		for i := 0; i < 12; i++ {
			if code, _ := call(t, s, "", "POST", "/api/v1/auth/login", map[string]string{"username": "lan", "password": "the right password"}, map[string]string{"X-Forwarded-For": "198.51.100.3"}, nil); code != 201 {
				t.Fatalf("login %d: %d", i, code)
			}
		}
	})
}

// Tokens can be listed (with last_used_at), revoked and given a lifetime.
func TestTokensListRevokeExpire(t *testing.T) {
	s := servertest.Start(t, servertest.Options{})
	var viewer, forever struct {
		Token, ID string
		ExpiresAt *time.Time `json:"expires_at"`
	}
	if code := s.Do("POST", "/api/v1/tokens", map[string]string{"name": "wall", "role": "viewer", "ttl": "30d"}, &viewer); code != 201 {
		t.Fatalf("create: %d", code)
	}
	if viewer.ExpiresAt == nil || viewer.ExpiresAt.Sub(time.Now()) < 29*24*time.Hour || viewer.ExpiresAt.Sub(time.Now()) > 31*24*time.Hour {
		t.Fatalf("ttl 30d: %+v", viewer)
	}
	if code := s.Do("POST", "/api/v1/tokens", map[string]string{"name": "script", "role": "editor"}, &forever); code != 201 || forever.ExpiresAt != nil {
		t.Fatalf("token without ttl: %d %+v", code, forever)
	}
	var e servertest.APIError
	if code := s.Do("POST", "/api/v1/tokens", map[string]string{"name": "x", "role": "viewer", "ttl": "tomorrow"}, &e); code != 400 || !strings.Contains(e.Error.Message, "ttl") {
		t.Fatalf("bad ttl: %d %v", code, e)
	}
	type info struct {
		ID, Name, Kind string
		LastUsedAt     *time.Time `json:"last_used_at"`
	}
	list := func() map[string]info {
		var out struct{ Tokens []info }
		if code := s.Do("GET", "/api/v1/tokens", nil, &out); code != 200 {
			t.Fatalf("list: %d", code)
		}
		m := map[string]info{}
		for _, tk := range out.Tokens {
			m[tk.ID] = tk
		}
		return m
	}
	if l := list(); l[viewer.ID].LastUsedAt != nil || l[viewer.ID].Kind != "api" {
		t.Fatalf("unused token: %+v", l[viewer.ID])
	}
	for i := 0; i < 5; i++ {
		if code := s.DoToken(viewer.Token, "GET", "/api/v1/media", nil, nil); code != 200 {
			t.Fatalf("viewer: %d", code)
		}
	}
	first := list()[viewer.ID].LastUsedAt
	if first == nil || time.Since(*first) > time.Minute {
		t.Fatalf("last_used_at not kept: %v", first)
	}
	// Used again at once: not written again (at most once a minute).
	s.DoToken(viewer.Token, "GET", "/api/v1/media", nil, nil)
	if again := list()[viewer.ID].LastUsedAt; again == nil || !again.Equal(*first) {
		t.Fatalf("last_used_at rewritten within the minute: %v then %v", first, again)
	}

	// A viewer may not revoke others' tokens, but may revoke its own.
	if code := s.DoToken(viewer.Token, "DELETE", "/api/v1/tokens/"+forever.ID, nil, &e); code != 403 {
		t.Fatalf("viewer revokes another token: %d", code)
	}
	if code := s.DoToken(viewer.Token, "DELETE", "/api/v1/tokens/"+viewer.ID, nil, nil); code != 204 {
		t.Fatalf("viewer logs out: %d", code)
	}
	if code := s.DoToken(viewer.Token, "GET", "/api/v1/media", nil, &e); code != 401 {
		t.Fatalf("revoked token: %d", code)
	}
	if code := s.Do("DELETE", "/api/v1/tokens/"+forever.ID, nil, nil); code != 204 {
		t.Fatalf("admin revokes: %d", code)
	}
	if code := s.DoToken(forever.Token, "GET", "/api/v1/media", nil, nil); code != 401 {
		t.Fatalf("revoked token: %d", code)
	}
	if code := s.Do("DELETE", "/api/v1/tokens/"+forever.ID, nil, &e); code != 404 {
		t.Fatalf("revoke twice: %d", code)
	}
	if l := list(); len(l) != 1 { // only the test's admin token is left
		t.Fatalf("revoked tokens listed: %+v", l)
	}
	// Another organisation's admin cannot see or revoke this one's tokens.
	_, other := s.NewOrg("Other")
	var ol struct{ Tokens []info }
	s.DoToken(other, "GET", "/api/v1/tokens", nil, &ol)
	for _, tk := range ol.Tokens {
		if _, mine := list()[tk.ID]; mine {
			t.Fatalf("other organisation lists %s", tk.ID)
		}
	}
	for id := range list() {
		if code := s.DoToken(other, "DELETE", "/api/v1/tokens/"+id, nil, nil); code != 404 {
			t.Fatalf("other organisation revokes %s: %d", id, code)
		}
	}
	// An expired token is refused.
	secret, hash := auth.NewToken(auth.APITokenPrefix)
	if _, err := s.Store().CreateToken(t.Context(), store.Token{OrgID: s.OrgID, Name: "old", Role: store.RoleAdmin, ExpiresAt: time.Now().Add(-time.Second)}, hash); err != nil {
		t.Fatal(err)
	}
	if code := s.DoToken(secret, "GET", "/api/v1/me", nil, nil); code != 401 {
		t.Fatalf("expired token: %d", code)
	}
}

// Pairing codes are drawn uniformly: the old modulo mapping of a byte onto
// 31 characters gave the first 8 characters 9/256 instead of 8/256.
func TestPairingCodesAreUnbiased(t *testing.T) {
	const alphabet = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
	counts := map[rune]int{}
	const codes = 6200 // 62,000 characters, 2,000 expected of each
	seen := map[string]bool{}
	for i := 0; i < codes; i++ {
		c := players.NewPairingCode()
		if len(c) != players.PairingCodeLen || seen[c] {
			t.Fatalf("code %q (len %d, repeated %v)", c, len(c), seen[c])
		}
		seen[c] = true
		for _, r := range c {
			if !strings.ContainsRune(alphabet, r) {
				t.Fatalf("code %q has %q", c, r)
			}
			counts[r]++
		}
	}
	expected := float64(codes*players.PairingCodeLen) / float64(len(alphabet))
	chi2 := 0.0
	for _, r := range alphabet {
		d := float64(counts[r]) - expected
		chi2 += d * d / expected
	}
	// 30 degrees of freedom: P(χ² > 80) ≈ 2·10⁻⁶ for a uniform draw; the
	// old biased draw gives about 200.
	if chi2 > 80 {
		t.Fatalf("χ² = %.1f over %d characters: not uniform (%v)", chi2, codes*players.PairingCodeLen, counts)
	}
	if players.NormalizeCode("abcde-fghjk") != "ABCDEFGHJK" || players.NormalizeCode(" ab cd ") != "ABCD" {
		t.Fatal("NormalizeCode")
	}
}

// Failed claims are limited per token, per client address and per
// organisation, with 429 and Retry-After; each claim is recorded.
func TestClaimsRateLimitedAndRecorded(t *testing.T) {
	s := servertest.Start(t, servertest.Options{TrustedProxies: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}})
	guess := map[string]any{"code": "ZZZZZZZZZZ", "name": "x", "width": 1920, "height": 1080}
	newToken := func(admin string) string {
		var tk struct{ Token string }
		if code := s.DoToken(admin, "POST", "/api/v1/tokens", map[string]string{"name": "installer", "role": "editor"}, &tk); code != 201 {
			t.Fatalf("token: %d", code)
		}
		return tk.Token
	}
	// guessUntilLimited claims a wrong code until 429 and returns how many
	// guesses got through. Buckets refill while it runs, so the count may
	// exceed burst by what elapsed allows at rate one per per.
	guessUntilLimited := func(what string, burst int, per time.Duration, token func() string, from func(i int) string) int {
		t.Helper()
		start := time.Now()
		for n := 0; n < 200; n++ {
			var e servertest.APIError
			code, retry := call(t, s, token(), "POST", "/api/v1/displays/claim", guess, map[string]string{"X-Forwarded-For": from(n)}, &e)
			if code == 404 && e.Error.Code == "unknown_code" {
				continue
			}
			secs, _ := strconv.Atoi(retry)
			if code != 429 || e.Error.Code != "too_many_claims" || secs < 1 || secs > int(per/time.Second)+1 {
				t.Fatalf("%s: guess %d: %d %v Retry-After %q", what, n, code, e, retry)
			}
			if most := burst + int(time.Since(start)/per) + 1; n < burst || n > most {
				t.Fatalf("%s: limited after %d guesses, want %d to %d", what, n, burst, most)
			}
			return n
		}
		t.Fatalf("%s: 200 guesses and never limited", what)
		return 0
	}
	// Per token: 10 failures, then 429 (before, 3,161 guesses a second),
	// whatever address each comes from.
	tokA := newToken(s.Token)
	orgA := guessUntilLimited("one token", 10, 6*time.Second, func() string { return tokA },
		func(i int) string { return fmt.Sprintf("198.51.100.%d", i) })
	// Per address: 20, whatever the tokens (of another organisation, whose
	// own budget is untouched).
	_, adminB := s.NewOrg("Other")
	orgB := guessUntilLimited("one address", 20, 3*time.Second, func() string { return newToken(adminB) },
		func(int) string { return "192.0.2.1" })
	// Per organisation: 30 in all, whatever the tokens and addresses.
	orgA += guessUntilLimited("the rest of one organisation", 30-orgA, 2*time.Second, func() string { return newToken(s.Token) },
		func(i int) string { return fmt.Sprintf("203.0.113.%d", i) })

	var rec struct {
		Claims []struct {
			TokenID    string `json:"token_id"`
			RemoteAddr string `json:"remote_addr"`
			Code       string
			Outcome    string
			CreatedAt  time.Time `json:"created_at"`
		}
	}
	if code := s.Do("GET", "/api/v1/claims", nil, &rec); code != 200 {
		t.Fatalf("claims: %d", code)
	}
	if len(rec.Claims) != orgA { // refused (429) attempts are not stored
		t.Fatalf("%d claims recorded, want %d", len(rec.Claims), orgA)
	}
	last := rec.Claims[0]
	if last.Outcome != "unknown_code" || !strings.HasPrefix(last.RemoteAddr, "203.0.113.") || last.Code != "ZZZZZZZZZZ" || last.TokenID == "" || time.Since(last.CreatedAt) > time.Minute {
		t.Fatalf("newest claim: %+v", last)
	}
	// Each organisation sees its own claims only.
	var other struct{ Claims []any }
	s.DoToken(adminB, "GET", "/api/v1/claims", nil, &other)
	if len(other.Claims) != orgB {
		t.Fatalf("other organisation's record: %d claims, want %d", len(other.Claims), orgB)
	}
}

// A successful claim is recorded and does not spend the budget: an
// installer pairs many screens in a row.
func TestClaimSuccessRecorded(t *testing.T) {
	s := servertest.Start(t, servertest.Options{})
	for i := 0; i < 12; i++ {
		p := dialRaw(t, s, nil)
		var pr protocol.Pairing
		if env := p.handshake(0); env.Type != protocol.TypePairing {
			t.Fatalf("got %s", env.Type)
		} else {
			_ = env.DecodeBody(&pr)
		}
		typed := strings.ToLower(pr.Code[:5] + "-" + pr.Code[5:]) // as a person types it
		if code := s.Do("POST", "/api/v1/displays/claim", map[string]any{"code": typed, "name": fmt.Sprint("Screen ", i), "width": 640, "height": 360}, nil); code != 201 {
			t.Fatalf("claim %d: %d", i, code)
		}
		p.expect(protocol.TypePaired, nil)
		p.conn.Close()
	}
	var rec struct {
		Claims []struct {
			Outcome   string
			DisplayID string `json:"display_id"`
			Remote    string `json:"remote_addr"`
		}
	}
	s.Do("GET", "/api/v1/claims", nil, &rec)
	if len(rec.Claims) != 12 || rec.Claims[0].Outcome != "paired" || rec.Claims[0].DisplayID == "" || rec.Claims[0].Remote != "127.0.0.1" {
		t.Fatalf("claims: %+v", rec.Claims)
	}
}

// An unclaimed code expires: the player is sent error pairing_expired and
// a fresh code on the same connection; the old code no longer pairs, the
// new one does.
func TestPairingCodeRenewedOnExpiry(t *testing.T) {
	s := servertest.Start(t, servertest.Options{PairingLifetime: 3 * time.Second})
	p := dialRaw(t, s, nil)
	var first protocol.Pairing
	if env := p.handshake(0); env.Type != protocol.TypePairing {
		t.Fatalf("got %s", env.Type)
	} else {
		_ = env.DecodeBody(&first)
	}
	if d := time.Until(first.ExpiresAt); d > 4*time.Second || d < 0 {
		t.Fatalf("expires_at %v", first.ExpiresAt)
	}
	// error pairing_expired, then pairing with a new code.
	deadline := time.Now().Add(30 * time.Second)
	var sawExpired bool
	var next protocol.Pairing
	for next.Code == "" {
		frame, err := p.next(time.Until(deadline))
		if err != nil {
			t.Fatalf("waiting for a new code: %v", err)
		}
		env, _ := protocol.Decode(frame)
		switch env.Type {
		case protocol.TypeError:
			var eb protocol.ErrorBody
			_ = env.DecodeBody(&eb)
			if eb.Code != protocol.CodePairingExpired {
				t.Fatalf("error %+v", eb)
			}
			sawExpired = true
		case protocol.TypePairing:
			if !sawExpired {
				t.Fatal("new pairing without error pairing_expired first")
			}
			_ = env.DecodeBody(&next)
		}
	}
	if next.Code == first.Code || !next.ExpiresAt.After(first.ExpiresAt) {
		t.Fatalf("new code %+v after %+v", next, first)
	}
	var e servertest.APIError
	if code := s.Do("POST", "/api/v1/displays/claim", map[string]any{"code": first.Code, "name": "x", "width": 640, "height": 360}, &e); code != 404 {
		t.Fatalf("expired code: %d %v", code, e)
	}
	if code := s.Do("POST", "/api/v1/displays/claim", map[string]any{"code": next.Code, "name": "x", "width": 640, "height": 360}, &e); code != 201 {
		t.Fatalf("new code: %d %v", code, e)
	}
	p.expect(protocol.TypePaired, nil)
}

// Display tokens die with their session, including after a crash: a
// token a killed server left in the store is revoked when the server
// starts again.
func TestDisplayTokensRevokedOnRestart(t *testing.T) {
	dir := t.TempDir()
	s := servertest.Start(t, servertest.Options{DataDir: dir})
	p := dialRaw(t, s, nil)
	var pr protocol.Pairing
	_ = p.handshake(0).DecodeBody(&pr)
	var disp struct{ ID string }
	if code := s.Do("POST", "/api/v1/displays/claim", map[string]any{"code": pr.Code, "name": "x", "width": 640, "height": 360}, &disp); code != 201 {
		t.Fatalf("claim: %d", code)
	}
	var paired protocol.Paired
	p.expect(protocol.TypePaired, &paired)
	fileURL := s.URL + "/player/v1/files/" + strings.Repeat("0", 64)
	get := func(url, token string) int {
		req, _ := http.NewRequest("GET", url, nil)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := get(fileURL, paired.Token); code == 401 {
		t.Fatalf("live session token refused: %d", code)
	}
	// What a server killed mid-session leaves behind: the session's token
	// in the store (a clean stop deletes it).
	leftover, hash := auth.NewToken(auth.DisplayTokenPrefix)
	if err := s.Store().CreateDisplayToken(t.Context(), disp.ID, hash); err != nil {
		t.Fatal(err)
	}
	if code := get(fileURL, leftover); code == 401 {
		t.Fatalf("token before restart: %d", code)
	}
	s.Stop()
	s2 := servertest.Start(t, servertest.Options{DataDir: dir})
	for _, tok := range []string{leftover, paired.Token} {
		if code := get(s2.URL+"/player/v1/files/"+strings.Repeat("0", 64), tok); code != 401 {
			t.Fatalf("display token of the previous run: %d", code)
		}
	}
}
