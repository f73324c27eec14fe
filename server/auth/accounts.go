package auth

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"beacon/server/store"
)

// DefaultSessionTTL is how long a login session lasts.
const DefaultSessionTTL = 12 * time.Hour

// touchEvery is how often a token's last_used_at is written at most: a
// token used on every request costs one write a minute, not one a request.
const touchEvery = time.Minute

// Limits of account fields.
const (
	MaxNameLen     = 200 // organisation and token names
	MaxUsernameLen = 64
	MinPasswordLen = 10
	MaxPasswordLen = 1024 // hashing work stays bounded
	MaxTTL         = 10 * 366 * 24 * time.Hour
)

// Invalid is a request that breaks a rule of accounts; its text says which.
type Invalid string

func (e Invalid) Error() string { return string(e) }

// ErrBadCredentials is a refused login: unknown user, disabled account or
// wrong password, which the caller must not be able to tell apart.
var ErrBadCredentials = errors.New("wrong user name or password")

// Accounts applies the rules of organisations, accounts, API tokens and
// login sessions. The HTTP API and the command line both go through it.
type Accounts struct {
	st         *store.Store
	now        func() time.Time
	SessionTTL time.Duration // of a login; DefaultSessionTTL if zero
}

// NewAccounts builds the accounts service over a store.
func NewAccounts(st *store.Store) *Accounts {
	return &Accounts{st: st, now: func() time.Time { return time.Now().UTC() }}
}

// Issued is a token just made: its secret is shown once and never stored.
type Issued struct {
	Secret string
	store.Token
}

// CreateOrg adds an organisation.
func (a *Accounts) CreateOrg(ctx context.Context, name string) (store.Org, error) {
	name, err := cleanName("organisation name", name, MaxNameLen)
	if err != nil {
		return store.Org{}, err
	}
	return a.st.CreateOrg(ctx, name)
}

// Orgs lists every organisation.
func (a *Accounts) Orgs(ctx context.Context) ([]store.Org, error) { return a.st.Orgs(ctx) }

// ResolveOrg picks the organisation a command means: orgID if given, else
// the only one. On an empty store it creates the first organisation,
// named newName (default "Beacon"), and reports created.
func (a *Accounts) ResolveOrg(ctx context.Context, orgID, newName string) (org store.Org, created bool, err error) {
	if orgID != "" {
		org, err := a.st.Org(ctx, orgID)
		if errors.Is(err, store.ErrNotFound) {
			return store.Org{}, false, Invalid("no organisation " + orgID + " (see `beacon org list`)")
		}
		return org, false, err
	}
	orgs, err := a.st.Orgs(ctx)
	if err != nil {
		return store.Org{}, false, err
	}
	switch len(orgs) {
	case 0:
		if newName == "" {
			newName = "Beacon"
		}
		org, err := a.CreateOrg(ctx, newName)
		return org, err == nil, err
	case 1:
		if newName != "" && newName != orgs[0].Name {
			return store.Org{}, false, Invalid("an organisation already exists (" + orgs[0].Name + "); --org-name only names the first one")
		}
		return orgs[0], false, nil
	}
	return store.Org{}, false, Invalid("several organisations: choose one with --org (see `beacon org list`)")
}

// CreateToken makes an API token of orgID; ttl 0 makes one that does not
// expire.
func (a *Accounts) CreateToken(ctx context.Context, orgID, name, role string, ttl time.Duration) (Issued, error) {
	name, err := cleanName("name", name, MaxNameLen)
	if err != nil {
		return Issued{}, err
	}
	if !store.ValidRole(role) {
		return Issued{}, Invalid("role must be admin, editor, viewer or authority")
	}
	if ttl < 0 || ttl > MaxTTL {
		return Issued{}, Invalid("ttl must be between 1 minute and 10 years, or absent for a token that does not expire")
	}
	if ttl > 0 && ttl < time.Minute {
		return Issued{}, Invalid("ttl must be at least 1 minute")
	}
	t := store.Token{OrgID: orgID, Name: name, Role: role, Kind: store.TokenAPI}
	if ttl > 0 {
		t.ExpiresAt = a.now().Add(ttl)
	}
	return a.issue(ctx, t, APITokenPrefix)
}

func (a *Accounts) issue(ctx context.Context, t store.Token, prefix string) (Issued, error) {
	secret, hash := NewToken(prefix)
	t, err := a.st.CreateToken(ctx, t, hash)
	if err != nil {
		return Issued{}, err
	}
	return Issued{Secret: secret, Token: t}, nil
}

// Tokens lists an organisation's live tokens.
func (a *Accounts) Tokens(ctx context.Context, orgID string) ([]store.Token, error) {
	return a.st.Tokens(ctx, orgID)
}

// RevokeToken revokes a token of orgID ("" for any organisation).
func (a *Accounts) RevokeToken(ctx context.Context, orgID, id string) (store.Token, error) {
	return a.st.RevokeToken(ctx, orgID, id)
}

// Authenticate finds the live token whose secret this is and records its
// use (at most once a minute per token).
func (a *Accounts) Authenticate(ctx context.Context, secret string) (store.Token, error) {
	if !strings.HasPrefix(secret, APITokenPrefix) && !strings.HasPrefix(secret, SessionTokenPrefix) {
		return store.Token{}, store.ErrNotFound
	}
	t, err := a.st.TokenByHash(ctx, HashToken(secret))
	if err != nil {
		return store.Token{}, err
	}
	now := a.now()
	if t.LastUsedAt.IsZero() || now.Sub(t.LastUsedAt) >= touchEvery {
		if err := a.st.TouchToken(ctx, t.ID, now, touchEvery); err != nil {
			return store.Token{}, err
		}
	}
	return t, nil
}

// CreateUser adds an account. An empty password makes a random one, which
// is returned (and shown once); a given one must be 10 to 1024 characters.
func (a *Accounts) CreateUser(ctx context.Context, orgID, username, role, password string) (store.User, string, error) {
	username = strings.TrimSpace(username)
	if username == "" || utf8.RuneCountInString(username) > MaxUsernameLen || strings.IndexFunc(username, func(r rune) bool {
		return unicode.IsSpace(r) || unicode.IsControl(r) || unicode.Is(unicode.Bidi_Control, r)
	}) >= 0 {
		return store.User{}, "", Invalid(fmt.Sprintf("user name must be 1 to %d characters without spaces or control characters", MaxUsernameLen))
	}
	if !store.ValidRole(role) {
		return store.User{}, "", Invalid("role must be admin, editor, viewer or authority")
	}
	password, err := checkPassword(password)
	if err != nil {
		return store.User{}, "", err
	}
	hash, err := HashPassword(password)
	if err != nil {
		return store.User{}, "", err
	}
	u, err := a.st.CreateUser(ctx, store.User{OrgID: orgID, Username: username, PasswordHash: hash, Role: role})
	return u, password, err
}

// checkPassword applies the password rules to a chosen password; an
// empty one is replaced by a random one.
func checkPassword(password string) (string, error) {
	if password == "" {
		return NewPassword(), nil
	}
	if n := utf8.RuneCountInString(password); n < MinPasswordLen || len(password) > MaxPasswordLen {
		return "", Invalid(fmt.Sprintf("password must be %d to %d characters", MinPasswordLen, MaxPasswordLen))
	}
	return password, nil
}

// ResetPassword gives an account of orgID a new password (a random one if
// password is empty, returned to be shown once) and ends its sessions.
func (a *Accounts) ResetPassword(ctx context.Context, orgID, id, password string) (store.User, string, error) {
	password, err := checkPassword(password)
	if err != nil {
		return store.User{}, "", err
	}
	hash, err := HashPassword(password)
	if err != nil {
		return store.User{}, "", err
	}
	u, err := a.st.ResetPassword(ctx, orgID, id, hash)
	return u, password, err
}

// EnableUser enables a disabled account of orgID.
func (a *Accounts) EnableUser(ctx context.Context, orgID, id string) (store.User, error) {
	return a.st.EnableUser(ctx, orgID, id)
}

// Users lists an organisation's accounts ("" for all).
func (a *Accounts) Users(ctx context.Context, orgID string) ([]store.User, error) {
	return a.st.Users(ctx, orgID)
}

// DisableUser disables an account (by id or user name) and revokes its
// tokens and sessions.
func (a *Accounts) DisableUser(ctx context.Context, orgID, idOrName string) (store.User, error) {
	return a.st.DisableUser(ctx, orgID, idOrName)
}

// Login checks a user name and password and opens a session that expires
// after SessionTTL. Unknown users, disabled accounts and wrong passwords
// cost the same hashing work and give the same ErrBadCredentials. A
// password stored with an older scheme is rehashed with Argon2id.
func (a *Accounts) Login(ctx context.Context, username, password string) (Issued, error) {
	if len(password) > MaxPasswordLen {
		RefusePassword("")
		return Issued{}, ErrBadCredentials
	}
	u, err := a.st.UserByName(ctx, strings.TrimSpace(username))
	if errors.Is(err, store.ErrNotFound) {
		RefusePassword(password)
		return Issued{}, ErrBadCredentials
	}
	if err != nil {
		return Issued{}, err
	}
	ok, rehash := CheckPassword(u.PasswordHash, password)
	if !ok || !u.DisabledAt.IsZero() {
		return Issued{}, ErrBadCredentials
	}
	if rehash {
		if h, err := HashPassword(password); err == nil {
			if err := a.st.SetPasswordHash(ctx, u.ID, h); err != nil {
				return Issued{}, err
			}
		}
	}
	ttl := a.SessionTTL
	if ttl <= 0 {
		ttl = DefaultSessionTTL
	}
	now := a.now()
	return a.issue(ctx, store.Token{OrgID: u.OrgID, UserID: u.ID, Name: "login " + u.Username + " " + now.Format(time.RFC3339),
		Role: u.Role, Kind: store.TokenSession, ExpiresAt: now.Add(ttl)}, SessionTokenPrefix)
}

// ParseTTL reads a lifetime such as "90m", "12h" or "30d"; "" is zero.
func ParseTTL(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, nil
	}
	if days, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.Atoi(days)
		if err != nil || n < 1 || n > 3660 {
			return 0, Invalid("ttl " + strconv.Quote(s) + ": give days as 1d to 3660d, or a duration like 12h or 90m")
		}
		return time.Duration(n) * 24 * time.Hour, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		return 0, Invalid("ttl " + strconv.Quote(s) + ": give a duration like 90m, 12h or 30d")
	}
	return d, nil
}

func cleanName(what, s string, maxLen int) (string, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return "", Invalid(what + " is required")
	}
	if utf8.RuneCountInString(s) > maxLen || !utf8.ValidString(s) || strings.IndexFunc(s, func(r rune) bool {
		return unicode.IsControl(r) || unicode.Is(unicode.Bidi_Control, r)
	}) >= 0 {
		return "", Invalid(fmt.Sprintf("%s must be at most %d characters, without control characters", what, maxLen))
	}
	return s, nil
}
