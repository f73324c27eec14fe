package server

import (
	"errors"
	"time"

	"github.com/gofiber/fiber/v2"

	"beacon/server/auth"
	"beacon/server/store"
)

// limits are the attempt budgets that slow down guessing. Each bucket
// gives back one attempt every per; only failures are spent.
type limits struct {
	login      *rateLimit // per client address: 10 at once, then 1 per 6 s
	claimToken *rateLimit // per API token: 10 at once, then 1 per 6 s
	claimAddr  *rateLimit // per client address: 20 at once, then 1 per 3 s
	claimOrg   *rateLimit // per organisation: 30 at once, then 1 per 2 s
}

func newLimits() limits {
	return limits{
		login:      newRateLimit(10, 6*time.Second),
		claimToken: newRateLimit(10, 6*time.Second),
		claimAddr:  newRateLimit(20, 3*time.Second),
		claimOrg:   newRateLimit(30, 2*time.Second),
	}
}

// accountError maps the accounts service's errors to API errors.
func accountError(err error) error {
	var inv auth.Invalid
	switch {
	case errors.As(err, &inv):
		return failField(fiber.StatusBadRequest, "invalid", invalidField(string(inv)), string(inv))
	case errors.Is(err, store.ErrConflict):
		return fail(fiber.StatusConflict, "conflict", err.Error())
	}
	return err
}

type loginRequest struct {
	Username string `json:"username"`
	Password string `json:"password"`
}

type tokenResponse struct {
	Token     string     `json:"token"`
	ID        string     `json:"id"`
	Name      string     `json:"name"`
	Role      string     `json:"role"`
	Kind      string     `json:"kind"`
	ExpiresAt *time.Time `json:"expires_at"`
}

func optTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

func issuedView(t auth.Issued) tokenResponse {
	return tokenResponse{Token: t.Secret, ID: t.ID, Name: t.Name, Role: t.Role, Kind: t.Kind, ExpiresAt: optTime(t.ExpiresAt)}
}

// login opens a session that expires. Failed attempts are limited per
// client address; the attempt is taken before the password is hashed and
// given back when the login succeeds.
func (s *Server) login(c *fiber.Ctx) error {
	var req loginRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	addr := s.clientAddr(c)
	if ok, wait := s.limits.login.take(addr); !ok {
		return tooMany(c, wait, "too_many_attempts", "too many failed logins from this address")
	}
	ctx, cancel := s.timeout()
	defer cancel()
	t, err := s.accounts.Login(ctx, req.Username, req.Password)
	if errors.Is(err, auth.ErrBadCredentials) {
		s.log.Info("login refused", "user", clip(req.Username, 64), "remote", addr)
		return fail(fiber.StatusUnauthorized, "bad_credentials", "wrong user name or password")
	}
	if err != nil {
		return err
	}
	s.limits.login.give(addr)
	s.log.Info("login", "user", clip(req.Username, 64), "remote", addr, "session", t.ID)
	return c.Status(fiber.StatusCreated).JSON(issuedView(t))
}

func (s *Server) me(c *fiber.Ctx) error {
	p := who(c)
	return c.JSON(fiber.Map{"org_id": p.OrgID, "role": p.Role, "user_id": p.UserID, "token_id": p.Token})
}

type createTokenRequest struct {
	Name string `json:"name"`
	Role string `json:"role"`
	TTL  string `json:"ttl"` // "90m", "12h", "30d"; absent: does not expire
}

func (s *Server) createToken(c *fiber.Ctx) error {
	var req createTokenRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	ttl, err := auth.ParseTTL(req.TTL)
	if err != nil {
		return accountError(err)
	}
	ctx, cancel := s.timeout()
	defer cancel()
	t, err := s.accounts.CreateToken(ctx, who(c).OrgID, req.Name, req.Role, ttl)
	if err != nil {
		return accountError(err)
	}
	s.audit(ctx, who(c), s.clientAddr(c), store.AuditTokenCreate, t.ID, "name="+clip(t.Name, 64)+" role="+t.Role)
	return c.Status(fiber.StatusCreated).JSON(issuedView(t))
}

func tokenView(t store.Token) fiber.Map {
	return fiber.Map{"id": t.ID, "name": t.Name, "role": t.Role, "kind": t.Kind, "user_id": t.UserID,
		"created_at": t.CreatedAt, "expires_at": optTime(t.ExpiresAt), "last_used_at": optTime(t.LastUsedAt)}
}

// listTokens lists the organisation's live API tokens and login sessions
// (never their secrets).
func (s *Server) listTokens(c *fiber.Ctx) error {
	ctx, cancel := s.timeout()
	defer cancel()
	list, err := s.accounts.Tokens(ctx, who(c).OrgID)
	if err != nil {
		return err
	}
	out := make([]fiber.Map, 0, len(list))
	for _, t := range list {
		out = append(out, tokenView(t))
	}
	return c.JSON(fiber.Map{"tokens": out})
}

// revokeToken revokes a token: an admin any of the organisation's, anyone
// the token they call with (a logout).
func (s *Server) revokeToken(c *fiber.Ctx) error {
	p := who(c)
	id := c.Params("id")
	if id != p.Token && roleRank[p.Role] < roleRank[store.RoleAdmin] {
		return fail(fiber.StatusForbidden, "forbidden", "this needs the admin role (anyone may revoke the token they call with)")
	}
	ctx, cancel := s.timeout()
	defer cancel()
	t, err := s.accounts.RevokeToken(ctx, p.OrgID, id)
	if errors.Is(err, store.ErrNotFound) {
		return fail(fiber.StatusNotFound, "not_found", "no such token (or already revoked)")
	}
	if err != nil {
		return err
	}
	s.log.Info("token revoked", "token", t.ID, "by", p.Token)
	if t.ID != p.Token {
		s.audit(ctx, p, s.clientAddr(c), store.AuditTokenRevoke, t.ID, "name="+clip(t.Name, 64))
	}
	return c.SendStatus(fiber.StatusNoContent)
}

// listClaims is the record of pairing claims: who, from where, when, with
// what code and how it ended.
func (s *Server) listClaims(c *fiber.Ctx) error {
	ctx, cancel := s.timeout()
	defer cancel()
	list, err := s.store.Claims(ctx, who(c).OrgID, 500)
	if err != nil {
		return err
	}
	out := make([]fiber.Map, 0, len(list))
	for _, cl := range list {
		out = append(out, fiber.Map{"id": cl.ID, "token_id": cl.TokenID, "user_id": cl.UserID, "remote_addr": cl.RemoteAddr,
			"code": cl.Code, "outcome": cl.Outcome, "display_id": cl.DisplayID, "created_at": cl.CreatedAt})
	}
	return c.JSON(fiber.Map{"claims": out})
}

func (s *Server) listIncidents(c *fiber.Ctx) error {
	ctx, cancel := s.timeout()
	defer cancel()
	list, err := s.store.Incidents(ctx, who(c).OrgID, maxListed)
	if err != nil {
		return err
	}
	return listPage(c, "incidents", list, func(in store.Incident) string { return sortKey(timeKey(in.CreatedAt), in.ID) }, true, func(in store.Incident) (any, error) {
		return fiber.Map{"id": in.ID, "display_id": in.DisplayID, "kind": in.Kind, "message": in.Message,
			"sha256": in.SHA256, "manifest_version": in.ManifestVersion, "created_at": in.CreatedAt}, nil
	})
}

// clip shortens s for a log line.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
