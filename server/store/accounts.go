package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
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
)

// ValidRole reports whether r is a known role.
func ValidRole(r string) bool { return r == RoleAdmin || r == RoleEditor || r == RoleViewer }

// User is a person's account.
type User struct {
	ID           string
	OrgID        string
	Username     string
	PasswordHash string
	Role         string
}

// Token is an API token; only its hash is stored.
type Token struct {
	ID     string
	OrgID  string
	UserID string
	Name   string
	Role   string
}

// CreateOrg adds an organisation.
func (s *Store) CreateOrg(ctx context.Context, name string) (Org, error) {
	o := Org{ID: NewID("org"), Name: name}
	_, err := s.db.ExecContext(ctx, `INSERT INTO orgs (id, name, created_at) VALUES (?, ?, ?)`, o.ID, o.Name, ts(s.now()))
	if err != nil {
		return Org{}, fmt.Errorf("store: create org: %w", err)
	}
	return o, nil
}

// Orgs lists every organisation, oldest first.
func (s *Store) Orgs(ctx context.Context) ([]Org, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT id, name FROM orgs ORDER BY created_at, id`)
	if err != nil {
		return nil, fmt.Errorf("store: list orgs: %w", err)
	}
	defer rows.Close()
	var out []Org
	for rows.Next() {
		var o Org
		if err := rows.Scan(&o.ID, &o.Name); err != nil {
			return nil, err
		}
		out = append(out, o)
	}
	return out, rows.Err()
}

// CreateUser adds an account. The password must already be hashed.
func (s *Store) CreateUser(ctx context.Context, u User) (User, error) {
	u.ID = NewID("usr")
	_, err := s.db.ExecContext(ctx, `INSERT INTO users (id, org_id, username, password_hash, role, created_at) VALUES (?, ?, ?, ?, ?, ?)`,
		u.ID, u.OrgID, u.Username, u.PasswordHash, u.Role, ts(s.now()))
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
	var u User
	err := s.db.QueryRowContext(ctx, `SELECT id, org_id, username, password_hash, role FROM users WHERE username = ?`, username).
		Scan(&u.ID, &u.OrgID, &u.Username, &u.PasswordHash, &u.Role)
	if errors.Is(err, sql.ErrNoRows) {
		return User{}, ErrNotFound
	}
	return u, err
}

// CreateToken stores a token by the hash of its secret.
func (s *Store) CreateToken(ctx context.Context, t Token, hash string) (Token, error) {
	t.ID = NewID("tok")
	var user any
	if t.UserID != "" {
		user = t.UserID
	}
	_, err := s.db.ExecContext(ctx, `INSERT INTO api_tokens (id, org_id, user_id, name, role, hash, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)`,
		t.ID, t.OrgID, user, t.Name, t.Role, hash, ts(s.now()))
	if err != nil {
		return Token{}, fmt.Errorf("store: create token: %w", err)
	}
	return t, nil
}

// TokenByHash finds an API token by the hash of its secret.
func (s *Store) TokenByHash(ctx context.Context, hash string) (Token, error) {
	var t Token
	var user sql.NullString
	err := s.db.QueryRowContext(ctx, `SELECT id, org_id, user_id, name, role FROM api_tokens WHERE hash = ?`, hash).
		Scan(&t.ID, &t.OrgID, &user, &t.Name, &t.Role)
	if errors.Is(err, sql.ErrNoRows) {
		return Token{}, ErrNotFound
	}
	t.UserID = user.String
	return t, err
}
