package server

import (
	_ "embed"
	"errors"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/adaptor"
	"github.com/gofiber/fiber/v2/middleware/limiter"
	"github.com/gofiber/fiber/v2/middleware/recover"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"beacon/protocol"
	"beacon/server/auth"
	"beacon/server/store"
)

//go:embed openapi.json
var openapiJSON []byte

const filesPath = "/player/v1/files/"

// apiError is the one error shape of the API: {"error":{"code","message"}}.
type apiError struct {
	Status  int
	Code    string
	Message string
}

func (e *apiError) Error() string { return e.Message }

func fail(status int, code, msg string) error {
	return &apiError{Status: status, Code: code, Message: msg}
}

type errorBody struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

func (s *Server) errorHandler(c *fiber.Ctx, err error) error {
	var body errorBody
	status := fiber.StatusInternalServerError
	var ae *apiError
	var fe *fiber.Error
	switch {
	case errors.As(err, &ae):
		status, body.Error.Code, body.Error.Message = ae.Status, ae.Code, ae.Message
	case errors.As(err, &fe):
		status, body.Error.Code, body.Error.Message = fe.Code, codeFor(fe.Code), fe.Message
	case errors.Is(err, store.ErrNotFound):
		status, body.Error.Code, body.Error.Message = fiber.StatusNotFound, "not_found", "not found"
	default:
		s.log.Error("request failed", "method", c.Method(), "path", c.Path(), "err", err)
		body.Error.Code, body.Error.Message = "internal", "internal server error"
	}
	return c.Status(status).JSON(body)
}

func codeFor(status int) string {
	switch status {
	case fiber.StatusNotFound:
		return "not_found"
	case fiber.StatusMethodNotAllowed:
		return "method_not_allowed"
	case fiber.StatusRequestEntityTooLarge:
		return "too_large"
	case fiber.StatusUpgradeRequired:
		return "upgrade_required"
	case fiber.StatusUnauthorized:
		return "unauthorized"
	case fiber.StatusForbidden:
		return "forbidden"
	default:
		if status >= 500 {
			return "internal"
		}
		return "bad_request"
	}
}

func (s *Server) routes() *fiber.App {
	app := fiber.New(fiber.Config{
		AppName:                      "beacon",
		DisableStartupMessage:        true,
		ErrorHandler:                 s.errorHandler,
		StreamRequestBody:            true,
		DisablePreParseMultipartForm: true, // uploads are streamed to disk by the handler
		BodyLimit:                    4 << 20,
		ReadBufferSize:               16 << 10,
	})
	app.Use(recover.New())
	app.Use(func(c *fiber.Ctx) error {
		err := c.Next()
		status := c.Response().StatusCode()
		if err != nil {
			var ae *apiError
			var fe *fiber.Error
			switch {
			case errors.As(err, &ae):
				status = ae.Status
			case errors.As(err, &fe):
				status = fe.Code
			default:
				status = 500
			}
		}
		s.m.requests.WithLabelValues(string(rune('0'+status/100)) + "xx").Inc()
		return err
	})

	app.Get("/healthz", s.healthz)
	app.Get("/metrics", adaptor.HTTPHandler(promhttp.HandlerFor(s.reg, promhttp.HandlerOpts{})))

	// Players.
	app.Get(protocol.WSPath, s.hub.Upgrade, s.hub.Handler())
	app.Get(filesPath+":sha", s.displayAuth, s.playerFile)

	api := app.Group("/api/v1")
	api.Get("/openapi.json", func(c *fiber.Ctx) error {
		c.Set(fiber.HeaderContentType, fiber.MIMEApplicationJSONCharsetUTF8)
		return c.Send(openapiJSON)
	})
	// Password guessing is slowed down: ten tries a minute per address.
	api.Post("/auth/login", limiter.New(limiter.Config{Max: 10, Expiration: time.Minute, LimitReached: func(c *fiber.Ctx) error {
		return fail(fiber.StatusTooManyRequests, "too_many_attempts", "too many login attempts; wait a minute")
	}}), s.login)

	api.Use(s.apiAuth)
	api.Get("/me", s.me)
	api.Post("/tokens", need(store.RoleAdmin), s.createToken)

	api.Get("/displays", s.listDisplays)
	api.Post("/displays/claim", need(store.RoleEditor), s.claimDisplay)
	api.Get("/displays/:id", s.getDisplay)
	api.Patch("/displays/:id", need(store.RoleEditor), s.updateDisplay)
	api.Delete("/displays/:id", need(store.RoleEditor), s.deleteDisplay)
	api.Get("/displays/:id/timeline", s.displayTimeline)
	api.Get("/displays/:id/now", s.displayNow)
	api.Get("/displays/:id/smil", s.displaySMIL)

	api.Get("/clusters", s.listClusters)
	api.Post("/clusters", need(store.RoleEditor), s.createCluster)
	api.Get("/clusters/:id", s.getCluster)
	api.Put("/clusters/:id", need(store.RoleEditor), s.updateCluster)
	api.Delete("/clusters/:id", need(store.RoleEditor), s.deleteCluster)

	api.Post("/media", need(store.RoleEditor), s.uploadMedia)
	api.Get("/media", s.listMedia)
	api.Get("/media/:id", s.getMedia)
	api.Get("/files/:sha", s.apiFile)
	api.Post("/media/:id/retry", need(store.RoleEditor), s.retryMedia)
	api.Get("/jobs", s.listJobs)
	api.Get("/jobs/:id", s.getJob)
	api.Post("/jobs/:id/cancel", need(store.RoleEditor), s.cancelJob)
	api.Get("/events", s.streamEvents)

	api.Post("/playlists", need(store.RoleEditor), s.createPlaylist)
	api.Get("/playlists", s.listPlaylists)
	api.Get("/playlists/:id", s.getPlaylist)
	api.Put("/playlists/:id", need(store.RoleEditor), s.updatePlaylist)
	api.Delete("/playlists/:id", need(store.RoleEditor), s.deletePlaylist)

	s.docRoutes(api, "/items", itemsResource)
	s.docRoutes(api, "/layouts", layoutsResource)
	s.docRoutes(api, "/schedules", schedulesResource)

	api.Get("/plays", s.listPlays)

	api.Get("/incidents", s.listIncidents)

	app.Use(func(c *fiber.Ctx) error {
		return fail(fiber.StatusNotFound, "not_found", "no route for "+c.Method()+" "+c.Path())
	})
	return app
}

func (s *Server) healthz(c *fiber.Ctx) error {
	ctx, cancel := s.timeout()
	defer cancel()
	if _, err := s.store.SchemaVersion(ctx); err != nil {
		return fail(fiber.StatusServiceUnavailable, "store_unavailable", "database unavailable: "+err.Error())
	}
	return c.JSON(fiber.Map{"status": "ok"})
}

// principal is who is calling the API.
type principal struct {
	OrgID  string
	Role   string
	UserID string
	Token  string // token id
}

func bearer(c *fiber.Ctx) string {
	h := c.Get(fiber.HeaderAuthorization)
	if len(h) > 7 && strings.EqualFold(h[:7], "bearer ") {
		return strings.TrimSpace(h[7:])
	}
	return ""
}

// apiAuth admits API tokens only; a player's session token is refused.
func (s *Server) apiAuth(c *fiber.Ctx) error {
	secret := bearer(c)
	if secret == "" {
		return fail(fiber.StatusUnauthorized, "unauthorized", "missing bearer token: send Authorization: Bearer <token>")
	}
	if strings.HasPrefix(secret, auth.DisplayTokenPrefix) {
		return fail(fiber.StatusForbidden, "display_token", "display tokens cannot call the management API")
	}
	ctx, cancel := s.timeout()
	defer cancel()
	t, err := s.store.TokenByHash(ctx, auth.HashToken(secret))
	if errors.Is(err, store.ErrNotFound) {
		return fail(fiber.StatusUnauthorized, "unauthorized", "invalid or revoked token")
	}
	if err != nil {
		return err
	}
	c.Locals("principal", principal{OrgID: t.OrgID, Role: t.Role, UserID: t.UserID, Token: t.ID})
	return c.Next()
}

func who(c *fiber.Ctx) principal {
	p, _ := c.Locals("principal").(principal)
	return p
}

var roleRank = map[string]int{store.RoleViewer: 1, store.RoleEditor: 2, store.RoleAdmin: 3}

// need admits callers whose role is at least min.
func need(min string) fiber.Handler {
	return func(c *fiber.Ctx) error {
		if roleRank[who(c).Role] < roleRank[min] {
			return fail(fiber.StatusForbidden, "forbidden", "this needs the "+min+" role")
		}
		return c.Next()
	}
}

// displayAuth admits a player's session token on the player file routes.
func (s *Server) displayAuth(c *fiber.Ctx) error {
	secret := bearer(c)
	if secret == "" || !strings.HasPrefix(secret, auth.DisplayTokenPrefix) {
		return fail(fiber.StatusUnauthorized, "unauthorized", "a display token is required")
	}
	ctx, cancel := s.timeout()
	defer cancel()
	d, err := s.store.DisplayByToken(ctx, auth.HashToken(secret))
	if errors.Is(err, store.ErrNotFound) {
		return fail(fiber.StatusUnauthorized, "unauthorized", "invalid or expired display token")
	}
	if err != nil {
		return err
	}
	c.Locals("display", d)
	return c.Next()
}
