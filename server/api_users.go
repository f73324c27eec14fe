package server

import (
	"errors"
	"regexp"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"beacon/server/store"
)

// People: an admin manages the accounts of its own organisation (the
// console's People page). Every change is recorded in the audit log.

type userView struct {
	ID         string     `json:"id"`
	Username   string     `json:"username"`
	Role       string     `json:"role"`
	CreatedAt  time.Time  `json:"created_at"`
	DisabledAt *time.Time `json:"disabled_at"`
}

func viewUser(u store.User) userView {
	return userView{ID: u.ID, Username: u.Username, Role: u.Role, CreatedAt: u.CreatedAt, DisabledAt: optTime(u.DisabledAt)}
}

// invalidField names the request field an accounts rule is about, from
// the start of its sentence.
func invalidField(msg string) string {
	for _, f := range []struct{ prefix, field string }{
		{"user name", "username"}, {"role", "role"}, {"password", "password"}, {"ttl", "ttl"}, {"name", "name"},
	} {
		if strings.HasPrefix(msg, f.prefix) {
			return f.field
		}
	}
	return ""
}

// fieldOfMessage reads the request field a validation message is about,
// when the sentence starts with it: "name is required", "cluster_id: no
// such cluster", "holidays[0].name must …" (a field in JSON's spelling,
// followed by a verb or a colon); "" otherwise.
var fieldMessage = regexp.MustCompile(`^([a-z][a-z0-9_]*(?:\[\d+\])?(?:\.[a-z][a-z0-9_]*)*)(?::| (?:is|must|has|cannot|may|are) )`)

func fieldOfMessage(msg string) string {
	if m := fieldMessage.FindStringSubmatch(msg); m != nil {
		return m[1]
	}
	return ""
}

func (s *Server) listUsers(c *fiber.Ctx) error {
	ctx, cancel := s.timeout()
	defer cancel()
	list, err := s.accounts.Users(ctx, who(c).OrgID)
	if err != nil {
		return err
	}
	return listPage(c, "users", list, func(u store.User) string { return sortKey(timeKey(u.CreatedAt), u.ID) }, false, func(u store.User) (any, error) {
		return viewUser(u), nil
	})
}

type createUserRequest struct {
	Username string `json:"username"`
	Role     string `json:"role"`
	Password string `json:"password"` // empty: a random one, answered once
}

type userSecretView struct {
	User     userView `json:"user"`
	Password string   `json:"password,omitempty"` // only when the server chose it
}

func (s *Server) createUser(c *fiber.Ctx) error {
	var req createUserRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	p := who(c)
	ctx, cancel := s.timeout()
	defer cancel()
	u, password, err := s.accounts.CreateUser(ctx, p.OrgID, req.Username, req.Role, req.Password)
	if errors.Is(err, store.ErrConflict) {
		return failField(fiber.StatusConflict, "username_taken", "username", "the user name "+req.Username+" is taken")
	}
	if err != nil {
		return accountError(err)
	}
	s.audit(ctx, p, s.clientAddr(c), store.AuditUserCreate, u.ID, "username="+u.Username+" role="+u.Role)
	out := userSecretView{User: viewUser(u)}
	if req.Password == "" {
		out.Password = password
	}
	return c.Status(fiber.StatusCreated).JSON(out)
}

type resetPasswordRequest struct {
	Password string `json:"password"` // empty: a random one, answered once
}

// resetPassword sets a new password and ends the account's sessions.
func (s *Server) resetPassword(c *fiber.Ctx) error {
	var req resetPasswordRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	p := who(c)
	ctx, cancel := s.timeout()
	defer cancel()
	u, password, err := s.accounts.ResetPassword(ctx, p.OrgID, c.Params("id"), req.Password)
	if err != nil {
		return accountError(err)
	}
	s.audit(ctx, p, s.clientAddr(c), store.AuditUserPassword, u.ID, "username="+u.Username)
	out := userSecretView{User: viewUser(u)}
	if req.Password == "" {
		out.Password = password
	}
	return c.JSON(out)
}

// disableUser disables an account and revokes its tokens and sessions. An
// admin cannot disable its own account (nobody would be left to undo it).
func (s *Server) disableUser(c *fiber.Ctx) error {
	p := who(c)
	id := c.Params("id")
	if id == p.UserID {
		return fail(fiber.StatusBadRequest, "self", "you cannot disable your own account")
	}
	ctx, cancel := s.timeout()
	defer cancel()
	if _, err := s.store.UserByID(ctx, p.OrgID, id); err != nil {
		return err // another organisation's account is not found either
	}
	u, err := s.accounts.DisableUser(ctx, p.OrgID, id)
	if err != nil {
		return err
	}
	s.audit(ctx, p, s.clientAddr(c), store.AuditUserDisable, u.ID, "username="+u.Username)
	return c.JSON(viewUser(u))
}

func (s *Server) enableUser(c *fiber.Ctx) error {
	p := who(c)
	ctx, cancel := s.timeout()
	defer cancel()
	u, err := s.accounts.EnableUser(ctx, p.OrgID, c.Params("id"))
	if err != nil {
		return err
	}
	s.audit(ctx, p, s.clientAddr(c), store.AuditUserEnable, u.ID, "username="+u.Username)
	return c.JSON(viewUser(u))
}
