package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Org is an organisation (a provincial unit). Everything it owns is
// invisible to every other organisation.
type Org struct {
	ID   string
	Name string
}

// Roles of accounts and API tokens, from most to least powerful.
const (
	RoleAdmin  = "admin"  // everything in the organisation
	RoleEditor = "editor" // media, playlists, schedules, displays
	RoleViewer = "viewer" // read only
	// RoleAuthority may trigger and cancel emergency overrides and read
	// (as a viewer does); it changes no content.
	RoleAuthority = "authority"
)

// ValidRole reports whether r is a known role.
func ValidRole(r string) bool {
	return r == RoleAdmin || r == RoleEditor || r == RoleViewer || r == RoleAuthority
}

// User is a person's account.
type User struct {
	ID           string
	OrgID        string
	Username     string
	PasswordHash string
	Role         string
	CreatedAt    time.Time
	DisabledAt   time.Time // zero while the account is enabled
}

// Kinds of API tokens.
const (
	TokenAPI     = "api"     // made by an admin or the CLI; may expire
	TokenSession = "session" // made by a login; always expires
)

// Token is an API token; only its hash is stored.
type Token struct {
	ID         string
	OrgID      string
	UserID     string
	Name       string
	Role       string
	Kind       string    // TokenAPI or TokenSession
	CreatedAt  time.Time // set by CreateToken
	ExpiresAt  time.Time // zero: never
	LastUsedAt time.Time // zero: never used; kept to the minute
	RevokedAt  time.Time // zero: not revoked
}

// Expired reports whether t has expired at now.
func (t Token) Expired(now time.Time) bool { return !t.ExpiresAt.IsZero() && !now.Before(t.ExpiresAt) }

// Org finds an organisation by id.
func (s *Store) Org(ctx context.Context, id string) (Org, error) {
	var o Org
	err := s.db.QueryRowContext(ctx, `SELECT id, name FROM orgs WHERE id = ?`, id).Scan(&o.ID, &o.Name)
	if errors.Is(err, sql.ErrNoRows) {
		return Org{}, ErrNotFound
	}
	return o, err
}

const userCols = `id, org_id, username, password_hash, role, created_at, disabled_at`

func scanUser(sc scanner) (User, error) {
	var u User
	var created, disabled sql.NullString
	err := sc.Scan(&u.ID, &u.OrgID, &u.Username, &u.PasswordHash, &u.Role, &created, &disabled)
	if errors.Is(err, sql.ErrNoRows) {
		return User{}, ErrNotFound
	}
	u.CreatedAt, u.DisabledAt = parseTS(created), parseTS(disabled)
	return u, err
}

// CreateUser adds an account. The password must already be hashed.
func (s *Store) CreateUser(ctx context.Context, u User) (User, error) {
	u.ID = NewID("usr")
	u.CreatedAt = s.now()
	_, err := s.db.ExecContext(ctx, `INSERT INTO users (id, org_id, username, password_hash, role, created_at) VALUES (?, ?, ?, ?, ?, ?)`,
		u.ID, u.OrgID, u.Username, u.PasswordHash, u.Role, ts(u.CreatedAt))
	if isUnique(err) {
		return User{}, fmt.Errorf("user %q: %w", u.Username, ErrConflict)
	}
	if err != nil {
		return User{}, fmt.Errorf("store: create user: %w", err)
	}
	return u, nil
}

// UserByName finds an account by user name.
func (s *Store) UserByName(ctx context.Context, username string) (User, error) {
	return scanUser(s.db.QueryRowContext(ctx, `SELECT `+userCols+` FROM users WHERE username = ?`, username))
}

// Users lists an organisation's accounts ("" lists every organisation's),
// oldest first.
func (s *Store) Users(ctx context.Context, orgID string) ([]User, error) {
	return queryAll(ctx, s.db, "users", scanUser, `SELECT `+userCols+` FROM users WHERE ? = '' OR org_id = ? ORDER BY created_at, id`, orgID, orgID)
}

// SetPasswordHash replaces an account's password hash (a rehash at login).
func (s *Store) SetPasswordHash(ctx context.Context, userID, hash string) error {
	_, err := s.db.ExecContext(ctx, `UPDATE users SET password_hash = ? WHERE id = ?`, hash, userID)
	return err
}

// DisableUser disables an account of orgID ("" for any organisation) by
// id or user name and revokes every token it holds, in one transaction.
func (s *Store) DisableUser(ctx context.Context, orgID, idOrName string) (User, error) {
	var u User
	err := s.tx(ctx, func(tx *sql.Tx) error {
		var err error
		u, err = scanUser(tx.QueryRowContext(ctx, `SELECT `+userCols+` FROM users WHERE (id = ? OR username = ?) AND (? = '' OR org_id = ?)`, idOrName, idOrName, orgID, orgID))
		if err != nil {
			return err
		}
		now := ts(s.now())
		if u.DisabledAt.IsZero() {
			u.DisabledAt = s.now()
			if _, err := tx.ExecContext(ctx, `UPDATE users SET disabled_at = ? WHERE id = ?`, now, u.ID); err != nil {
				return err
			}
		}
		_, err = tx.ExecContext(ctx, `UPDATE api_tokens SET revoked_at = ? WHERE user_id = ? AND revoked_at IS NULL`, now, u.ID)
		return err
	})
	return u, err
}

const tokenCols = `id, org_id, user_id, name, role, kind, created_at, expires_at, last_used_at, revoked_at`

func scanToken(sc scanner) (Token, error) {
	var t Token
	var user, created, expires, used, revoked sql.NullString
	err := sc.Scan(&t.ID, &t.OrgID, &user, &t.Name, &t.Role, &t.Kind, &created, &expires, &used, &revoked)
	if errors.Is(err, sql.ErrNoRows) {
		return Token{}, ErrNotFound
	}
	t.UserID = user.String
	t.CreatedAt, t.ExpiresAt, t.LastUsedAt, t.RevokedAt = parseTS(created), parseTS(expires), parseTS(used), parseTS(revoked)
	return t, err
}

func nullTS(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return ts(t)
}

// CreateToken stores a token by the hash of its secret.
func (s *Store) CreateToken(ctx context.Context, t Token, hash string) (Token, error) {
	t.ID = NewID("tok")
	t.CreatedAt = s.now()
	if t.Kind == "" {
		t.Kind = TokenAPI
	}
	var user any
	if t.UserID != "" {
		user = t.UserID
	}
	_, err := s.db.ExecContext(ctx, `INSERT INTO api_tokens (id, org_id, user_id, name, role, kind, hash, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		t.ID, t.OrgID, user, t.Name, t.Role, t.Kind, hash, ts(t.CreatedAt), nullTS(t.ExpiresAt))
	if err != nil {
		return Token{}, fmt.Errorf("store: create token: %w", err)
	}
	return t, nil
}

// TokenByHash finds a token that is neither revoked nor expired, and whose
// account (if any) is not disabled, by the hash of its secret.
func (s *Store) TokenByHash(ctx context.Context, hash string) (Token, error) {
	t, err := scanToken(s.db.QueryRowContext(ctx, `SELECT t.`+strings.ReplaceAll(tokenCols, ", ", ", t.")+` FROM api_tokens t LEFT JOIN users u ON u.id = t.user_id
		WHERE t.hash = ? AND t.revoked_at IS NULL AND u.disabled_at IS NULL`, hash))
	if err != nil {
		return Token{}, err
	}
	if t.Expired(s.now()) {
		return Token{}, ErrNotFound
	}
	return t, nil
}

// Tokens lists an organisation's live tokens (neither revoked nor
// expired), newest first.
func (s *Store) Tokens(ctx context.Context, orgID string) ([]Token, error) {
	return queryAll(ctx, s.db, "tokens", scanToken, `SELECT `+tokenCols+` FROM api_tokens
		WHERE org_id = ? AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > ?) ORDER BY created_at DESC, id`, orgID, ts(s.now()))
}

// RevokeToken revokes a token of orgID ("" for any organisation).
func (s *Store) RevokeToken(ctx context.Context, orgID, id string) (Token, error) {
	var t Token
	err := s.tx(ctx, func(tx *sql.Tx) error {
		var err error
		t, err = scanToken(tx.QueryRowContext(ctx, `SELECT `+tokenCols+` FROM api_tokens WHERE id = ? AND (? = '' OR org_id = ?) AND revoked_at IS NULL`, id, orgID, orgID))
		if err != nil {
			return err
		}
		t.RevokedAt = s.now()
		_, err = tx.ExecContext(ctx, `UPDATE api_tokens SET revoked_at = ? WHERE id = ?`, ts(t.RevokedAt), id)
		return err
	})
	return t, err
}

// TouchToken records that a token was used at now, unless that was already
// recorded less than every ago: at most one write per token per interval.
func (s *Store) TouchToken(ctx context.Context, id string, now time.Time, every time.Duration) error {
	_, err := s.db.ExecContext(ctx, `UPDATE api_tokens SET last_used_at = ? WHERE id = ? AND (last_used_at IS NULL OR last_used_at <= ?)`,
		ts(now), id, ts(now.Add(-every)))
	return err
}

// PurgeTokens deletes tokens that expired or were revoked before cutoff.
func (s *Store) PurgeTokens(ctx context.Context, cutoff time.Time) error {
	c := ts(cutoff)
	_, err := s.db.ExecContext(ctx, `DELETE FROM api_tokens WHERE expires_at < ? OR revoked_at < ?`, c, c)
	return err
}

// Claim outcomes.
const (
	ClaimPaired      = "paired"
	ClaimUnknownCode = "unknown_code"
	ClaimFailed      = "failed"
)

// Claim records one attempt to claim a pairing code: who, from where,
// when, and how it ended.
type Claim struct {
	ID         string
	OrgID      string
	TokenID    string
	UserID     string
	RemoteAddr string
	Code       string
	Outcome    string // ClaimPaired, ClaimUnknownCode or ClaimFailed
	DisplayID  string
	CreatedAt  time.Time
}

// RecordClaim stores a claim attempt.
func (s *Store) RecordClaim(ctx context.Context, c Claim) (Claim, error) {
	c.ID = NewID("clm")
	c.CreatedAt = s.now()
	_, err := s.db.ExecContext(ctx, `INSERT INTO pairing_claims (id, org_id, token_id, user_id, remote_addr, code, outcome, display_id, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		c.ID, c.OrgID, c.TokenID, c.UserID, c.RemoteAddr, c.Code, c.Outcome, c.DisplayID, ts(c.CreatedAt))
	if err != nil {
		return Claim{}, fmt.Errorf("store: record claim: %w", err)
	}
	return c, nil
}

// Claims lists an organisation's claim attempts, newest first.
func (s *Store) Claims(ctx context.Context, orgID string, limit int) ([]Claim, error) {
	return queryAll(ctx, s.db, "claims", func(sc scanner) (Claim, error) {
		var c Claim
		var created sql.NullString
		err := sc.Scan(&c.ID, &c.OrgID, &c.TokenID, &c.UserID, &c.RemoteAddr, &c.Code, &c.Outcome, &c.DisplayID, &created)
		c.CreatedAt = parseTS(created)
		return c, err
	}, `SELECT id, org_id, token_id, user_id, remote_addr, code, outcome, display_id, created_at FROM pairing_claims WHERE org_id = ? ORDER BY created_at DESC, id DESC LIMIT ?`, orgID, limit)
}

// CreateOrg adds an organisation with the seed override templates.
func (s *Store) CreateOrg(ctx context.Context, name string) (Org, error) {
	o := Org{ID: NewID("org"), Name: name}
	err := s.tx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO orgs (id, name, created_at) VALUES (?, ?, ?)`, o.ID, o.Name, ts(s.now())); err != nil {
			return err
		}
		return s.seedTemplates(ctx, tx, o.ID)
	})
	if err != nil {
		return Org{}, fmt.Errorf("store: create org: %w", err)
	}
	return o, nil
}

// Orgs lists every organisation, oldest first.
func (s *Store) Orgs(ctx context.Context) ([]Org, error) {
	return queryAll(ctx, s.db, "orgs", func(sc scanner) (Org, error) {
		var o Org
		err := sc.Scan(&o.ID, &o.Name)
		return o, err
	}, `SELECT id, name FROM orgs ORDER BY created_at, id`)
}

// UserByID finds an account of orgID ("" for any organisation) by id.
func (s *Store) UserByID(ctx context.Context, orgID, id string) (User, error) {
	return scanUser(s.db.QueryRowContext(ctx, `SELECT `+userCols+` FROM users WHERE id = ? AND (? = '' OR org_id = ?)`, id, orgID, orgID))
}

// Audit actions of accounts (the People page and the API).
const (
	AuditUserCreate   = "user.create"
	AuditUserPassword = "user.password_reset"
	AuditUserDisable  = "user.disable"
	AuditUserEnable   = "user.enable"
	AuditTokenCreate  = "token.create"
	AuditTokenRevoke  = "token.revoke"
)

// ResetPassword replaces the password hash of an account of orgID and
// ends its login sessions (its API tokens stay), in one transaction.
func (s *Store) ResetPassword(ctx context.Context, orgID, id, hash string) (User, error) {
	var u User
	err := s.tx(ctx, func(tx *sql.Tx) error {
		var err error
		u, err = scanUser(tx.QueryRowContext(ctx, `SELECT `+userCols+` FROM users WHERE id = ? AND org_id = ?`, id, orgID))
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE users SET password_hash = ? WHERE id = ?`, hash, u.ID); err != nil {
			return err
		}
		u.PasswordHash = hash
		_, err = tx.ExecContext(ctx, `UPDATE api_tokens SET revoked_at = ? WHERE user_id = ? AND kind = ? AND revoked_at IS NULL`, ts(s.now()), u.ID, TokenSession)
		return err
	})
	return u, err
}

// EnableUser enables a disabled account of orgID again (its revoked
// tokens stay revoked).
func (s *Store) EnableUser(ctx context.Context, orgID, id string) (User, error) {
	res, err := s.db.ExecContext(ctx, `UPDATE users SET disabled_at = NULL WHERE id = ? AND org_id = ?`, id, orgID)
	if err != nil {
		return User{}, err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return User{}, ErrNotFound
	}
	return s.UserByID(ctx, orgID, id)
}
