package server

import (
	"errors"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"beacon/server/auth"
	"beacon/server/store"
)

func decode(c *fiber.Ctx, v any) error {
	if err := c.BodyParser(v); err != nil {
		return fail(fiber.StatusBadRequest, "bad_json", "request body must be JSON: "+err.Error())
	}
	return nil
}

type loginRequest struct {
	Username string `json:"username"`
	Password string `json:"password"`
}

type tokenResponse struct {
	Token string `json:"token"`
	ID    string `json:"id"`
	Name  string `json:"name"`
	Role  string `json:"role"`
}

func (s *Server) login(c *fiber.Ctx) error {
	var req loginRequest
	if err := decode(c, &req); err != nil {
		return err
	}
	ctx, cancel := s.timeout()
	defer cancel()
	u, err := s.store.UserByName(ctx, strings.TrimSpace(req.Username))
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	if err != nil || !auth.CheckPassword(u.PasswordHash, req.Password) {
		return fail(fiber.StatusUnauthorized, "bad_credentials", "wrong user name or password")
	}
	secret, hash := auth.NewToken(auth.APITokenPrefix)
	t, err := s.store.CreateToken(ctx, store.Token{OrgID: u.OrgID, UserID: u.ID, Name: "login " + time.Now().UTC().Format(time.RFC3339), Role: u.Role}, hash)
	if err != nil {
		return err
	}
	return c.Status(fiber.StatusCreated).JSON(tokenResponse{Token: secret, ID: t.ID, Name: t.Name, Role: t.Role})
}

func (s *Server) me(c *fiber.Ctx) error {
	p := who(c)
	return c.JSON(fiber.Map{"org_id": p.OrgID, "role": p.Role, "user_id": p.UserID, "token_id": p.Token})
}

type createTokenRequest struct {
	Name string `json:"name"`
	Role string `json:"role"`
}

func (s *Server) createToken(c *fiber.Ctx) error {
	var req createTokenRequest
	if err := decode(c, &req); err != nil {
		return err
	}
	req.Name = strings.TrimSpace(req.Name)
	if req.Name == "" {
		return fail(fiber.StatusBadRequest, "invalid", "name is required")
	}
	if !store.ValidRole(req.Role) {
		return fail(fiber.StatusBadRequest, "invalid", "role must be admin, editor or viewer")
	}
	ctx, cancel := s.timeout()
	defer cancel()
	secret, hash := auth.NewToken(auth.APITokenPrefix)
	t, err := s.store.CreateToken(ctx, store.Token{OrgID: who(c).OrgID, Name: req.Name, Role: req.Role}, hash)
	if err != nil {
		return err
	}
	return c.Status(fiber.StatusCreated).JSON(tokenResponse{Token: secret, ID: t.ID, Name: t.Name, Role: t.Role})
}

func (s *Server) listIncidents(c *fiber.Ctx) error {
	ctx, cancel := s.timeout()
	defer cancel()
	list, err := s.store.Incidents(ctx, who(c).OrgID, 200)
	if err != nil {
		return err
	}
	out := make([]fiber.Map, 0, len(list))
	for _, in := range list {
		out = append(out, fiber.Map{"id": in.ID, "display_id": in.DisplayID, "kind": in.Kind, "message": in.Message,
			"sha256": in.SHA256, "manifest_version": in.ManifestVersion, "created_at": in.CreatedAt})
	}
	return c.JSON(fiber.Map{"incidents": out})
}
