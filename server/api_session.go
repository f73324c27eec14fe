package server

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"net/url"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"beacon/server/auth"
	"beacon/server/store"
)

// Browser sessions (the web console): a login whose session token lives in
// an HttpOnly, SameSite=Strict cookie instead of an Authorization header.
// Every state-changing request made with the cookie must also carry the
// session's CSRF token in X-CSRF-Token, a value derived from the session
// secret that only a page of this origin can learn (from the sign-in answer
// or GET /api/v1/auth/session).
const (
	SessionCookie = "beacon_session"
	CSRFHeader    = "X-CSRF-Token"
)

// csrfToken derives a session's CSRF token from its secret: knowing the
// token reveals nothing of the secret, and it dies with the session.
func csrfToken(secret string) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte("beacon console csrf v1"))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

func safeMethod(m string) bool {
	return m == fiber.MethodGet || m == fiber.MethodHead || m == fiber.MethodOptions
}

// checkOrigin refuses a request whose Origin header names another site (a
// second guard beside SameSite and the CSRF token). Clients that send no
// Origin (curl, scripts) are not affected.
func checkOrigin(c *fiber.Ctx) error {
	o := c.Get(fiber.HeaderOrigin)
	if o == "" {
		return nil
	}
	u, err := url.Parse(o)
	if err != nil || !strings.EqualFold(u.Host, string(c.Request().Host())) {
		return fail(fiber.StatusForbidden, "csrf", "cross-origin request refused")
	}
	return nil
}

// checkCSRF admits a cookie request: reads always, changes only with the
// session's token in X-CSRF-Token.
func checkCSRF(c *fiber.Ctx, secret string) error {
	if safeMethod(c.Method()) {
		return nil
	}
	if err := checkOrigin(c); err != nil {
		return err
	}
	got := c.Get(CSRFHeader)
	if got == "" || subtle.ConstantTimeCompare([]byte(got), []byte(csrfToken(secret))) != 1 {
		return fail(fiber.StatusForbidden, "csrf", "missing or wrong "+CSRFHeader+" header: a request that changes something with the session cookie must carry the session's CSRF token")
	}
	return nil
}

// overTLS reports whether the browser reached us over HTTPS: served with
// TLS, or through a trusted reverse proxy (--trusted-proxy) that says so
// in X-Forwarded-Proto.
func (s *Server) overTLS(c *fiber.Ctx) bool {
	if c.Context().IsTLS() {
		return true
	}
	return len(s.cfg.TrustedProxies) > 0 && c.IsProxyTrusted() && c.Protocol() == "https"
}

func (s *Server) setSessionCookie(c *fiber.Ctx, secret string, expires time.Time) {
	c.Cookie(&fiber.Cookie{Name: SessionCookie, Value: secret, Path: "/", Expires: expires,
		HTTPOnly: true, SameSite: fiber.CookieSameSiteStrictMode, Secure: s.overTLS(c)})
}

func (s *Server) clearSessionCookie(c *fiber.Ctx) {
	c.Cookie(&fiber.Cookie{Name: SessionCookie, Value: "", Path: "/", Expires: time.Unix(0, 0), MaxAge: -1,
		HTTPOnly: true, SameSite: fiber.CookieSameSiteStrictMode, Secure: s.overTLS(c)})
}

type sessionView struct {
	User struct {
		ID       string `json:"id"`
		Username string `json:"username"`
		Role     string `json:"role"`
		OrgID    string `json:"org_id"`
		OrgName  string `json:"org_name"`
	} `json:"user"`
	CSRF      string    `json:"csrf_token"`
	ExpiresAt time.Time `json:"expires_at"`
}

func (s *Server) sessionAnswer(c *fiber.Ctx, t store.Token, secret string) error {
	ctx, cancel := s.timeout()
	defer cancel()
	u, err := s.store.UserByID(ctx, t.OrgID, t.UserID)
	if err != nil {
		return err
	}
	var v sessionView
	v.User.ID, v.User.Username, v.User.Role, v.User.OrgID = u.ID, u.Username, t.Role, t.OrgID
	if org, err := s.store.Org(ctx, t.OrgID); err == nil {
		v.User.OrgName = org.Name
	}
	v.CSRF, v.ExpiresAt = csrfToken(secret), t.ExpiresAt
	c.Set(fiber.HeaderCacheControl, "no-store")
	return c.JSON(v)
}

// createSession signs a person in: the same checks and attempt budget as
// POST /auth/login, but the session goes into the cookie.
func (s *Server) createSession(c *fiber.Ctx) error {
	if err := checkOrigin(c); err != nil {
		return err
	}
	var req loginRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	if strings.TrimSpace(req.Username) == "" {
		return failField(fiber.StatusBadRequest, "invalid", "username", "enter your user name")
	}
	if req.Password == "" {
		return failField(fiber.StatusBadRequest, "invalid", "password", "enter your password")
	}
	addr := s.clientAddr(c)
	if ok, wait := s.limits.login.take(addr); !ok {
		return tooMany(c, wait, "too_many_attempts", "too many failed logins from this address")
	}
	ctx, cancel := s.timeout()
	defer cancel()
	t, err := s.accounts.Login(ctx, req.Username, req.Password)
	if errors.Is(err, auth.ErrBadCredentials) {
		s.log.Info("sign-in refused", "user", clip(req.Username, 64), "remote", addr)
		return failField(fiber.StatusUnauthorized, "bad_credentials", "password", "wrong user name or password")
	}
	if err != nil {
		return err
	}
	s.limits.login.give(addr)
	s.log.Info("sign-in", "user", clip(req.Username, 64), "remote", addr, "session", t.ID)
	s.setSessionCookie(c, t.Secret, t.ExpiresAt)
	c.Status(fiber.StatusCreated)
	return s.sessionAnswer(c, t.Token, t.Secret)
}

// cookieSession finds the live session of the request's cookie.
func (s *Server) cookieSession(c *fiber.Ctx) (store.Token, string, error) {
	secret := c.Cookies(SessionCookie)
	if secret == "" || !strings.HasPrefix(secret, auth.SessionTokenPrefix) {
		return store.Token{}, "", fail(fiber.StatusUnauthorized, "unauthorized", "not signed in")
	}
	secret = strings.Clone(secret)
	ctx, cancel := s.timeout()
	defer cancel()
	t, err := s.accounts.Authenticate(ctx, secret)
	if errors.Is(err, store.ErrNotFound) {
		return store.Token{}, "", fail(fiber.StatusUnauthorized, "session_expired", "the session has expired or was ended: sign in again")
	}
	if err != nil {
		return store.Token{}, "", err
	}
	return t, secret, nil
}

func (s *Server) getSession(c *fiber.Ctx) error {
	t, secret, err := s.cookieSession(c)
	if err != nil {
		var ae *apiError
		if errors.As(err, &ae) && c.Cookies(SessionCookie) != "" {
			s.clearSessionCookie(c)
		}
		return err
	}
	return s.sessionAnswer(c, t, secret)
}

// deleteSession signs out: the session is revoked and the cookie cleared.
func (s *Server) deleteSession(c *fiber.Ctx) error {
	t, secret, err := s.cookieSession(c)
	if err != nil {
		s.clearSessionCookie(c)
		return c.SendStatus(fiber.StatusNoContent) // already signed out
	}
	if err := checkCSRF(c, secret); err != nil {
		return err
	}
	ctx, cancel := s.timeout()
	defer cancel()
	if _, err := s.accounts.RevokeToken(ctx, t.OrgID, t.ID); err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	s.clearSessionCookie(c)
	s.log.Info("sign-out", "session", t.ID)
	return c.SendStatus(fiber.StatusNoContent)
}
