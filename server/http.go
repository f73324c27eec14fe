package server

import (
	_ "embed"
	"errors"
	"strings"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/adaptor"
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
	Field   string // the request field at fault, if one is (the console shows the message beside it)
}

func (e *apiError) Error() string { return e.Message }

func fail(status int, code, msg string) error {
	return &apiError{Status: status, Code: code, Message: msg}
}

// failField is fail naming the request field at fault.
func failField(status int, code, field, msg string) error {
	return &apiError{Status: status, Code: code, Message: msg, Field: field}
}

type errorBody struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
		Field   string `json:"field,omitempty"`
	} `json:"error"`
}

func (s *Server) errorHandler(c *fiber.Ctx, err error) error {
	if len(c.Response().Header.Peek(fiber.HeaderXContentTypeOptions)) == 0 {
		// Answered before any middleware ran: a request head too large
		// (431) or not sent in time (408).
		setSecurityHeaders(c)
	}
	var body errorBody
	status := fiber.StatusInternalServerError
	var ae *apiError
	var fe *fiber.Error
	switch {
	case errors.As(err, &ae):
		status, body.Error.Code, body.Error.Message, body.Error.Field = ae.Status, ae.Code, ae.Message, ae.Field
		if ae.Code == "invalid" && ae.Field == "" {
			body.Error.Field = fieldOfMessage(ae.Message)
		}
	case errors.As(err, &fe):
		status, body.Error.Code, body.Error.Message = fe.Code, codeFor(fe.Code), fe.Message
	case errors.Is(err, store.ErrNotFound):
		status, body.Error.Code, body.Error.Message = fiber.StatusNotFound, "not_found", notFoundMessage(c)
	default:
		s.log.Error("request failed", "method", c.Method(), "path", c.Path(), "err", err)
		body.Error.Code, body.Error.Message = "internal", "internal server error"
	}
	return c.Status(status).JSON(body)
}

// nouns name what a route's :id refers to, for "no such …" messages:
// handlers return store.ErrNotFound as it is and the message is made here.
var nouns = map[string]string{
	"displays": "display", "clusters": "cluster", "media": "media item", "jobs": "job",
	"playlists": "playlist", "items": "item", "layouts": "layout", "schedules": "schedule",
	"overrides": "override", "users": "user",
}

func notFoundMessage(c *fiber.Ctx) string {
	id := c.Params("id")
	if id == "" {
		return "not found"
	}
	parts := strings.Split(strings.TrimPrefix(c.Route().Path, "/api/v1/"), "/")
	if noun, ok := nouns[parts[0]]; ok && len(parts) > 1 && parts[1] == ":id" {
		return "no such " + noun + ": " + id
	}
	return "not found: " + id
}

func codeFor(status int) string {
	switch status {
	case fiber.StatusNotFound:
		return "not_found"
	case fiber.StatusMethodNotAllowed:
		return "method_not_allowed"
	case fiber.StatusRequestEntityTooLarge:
		return "too_large"
	case fiber.StatusTooManyRequests:
		return "too_many_requests"
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
		// Bodies up to BodyLimit are read before the handler runs; larger
		// ones stream and limitBody bounds them (BodyLimit alone does not
		// with StreamRequestBody).
		BodyLimit: int(s.cfg.MaxJSONBody),
		// The largest request head. fasthttp keeps this buffer for the
		// life of a hijacked connection: every player's WebSocket holds
		// one (16 KB here was 16 KB a player; 8 KB, a third of an idle
		// player's memory).
		ReadBufferSize: s.cfg.MaxHeaderBytes,
		// ReadTimeout bounds reading a request's head and body (an upload
		// moves it forward while it makes progress, see limitBody); the
		// write timeout is a per-write progress rule set on each connection
		// by Serve, so downloads and the event stream are not cut short.
		ReadTimeout: s.cfg.ReadTimeout,
		IdleTimeout: s.cfg.IdleTimeout,
		// Behind a reverse proxy (--trusted-proxy), c.IP() is the address
		// the proxy forwards; s.clientAddr is stricter (rightmost hop).
		EnableTrustedProxyCheck: len(s.cfg.TrustedProxies) > 0,
		TrustedProxies:          prefixStrings(s.cfg.TrustedProxies),
		ProxyHeader:             proxyHeader(s.cfg.TrustedProxies),
		EnableIPValidation:      true,
	})
	app.Server().HeaderReceived = s.headerReceived
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
	app.Use(securityHeaders)
	app.Use(s.limitBody)

	app.Get("/healthz", s.healthz)
	s.previewRoutes(app)
	if !s.cfg.SeparateMetrics {
		app.Get("/metrics", adaptor.HTTPHandler(promhttp.HandlerFor(s.reg, promhttp.HandlerOpts{})))
	}

	// Players.
	app.Get(protocol.WSPath, s.hub.Upgrade, s.hub.Handler())
	app.Get(filesPath+":sha", s.displayAuth, s.playerFile)

	api := app.Group("/api/v1")
	api.Get("/openapi.json", func(c *fiber.Ctx) error {
		c.Set(fiber.HeaderContentType, fiber.MIMEApplicationJSONCharsetUTF8)
		return c.Send(openapiJSON)
	})
	// Password guessing is slowed down per client address (see login).
	api.Post("/auth/login", s.login)
	// Browser sessions of the web console (api_session.go).
	api.Post("/auth/session", s.createSession)
	api.Get("/auth/session", s.getSession)
	api.Delete("/auth/session", s.deleteSession)

	api.Use(s.apiAuth)
	api.Get("/me", s.me)
	api.Post("/tokens", need(store.RoleAdmin), s.createToken)
	api.Get("/tokens", need(store.RoleAdmin), s.listTokens)
	api.Delete("/tokens/:id", s.revokeToken)
	api.Get("/claims", need(store.RoleAdmin), s.listClaims)
	api.Get("/users", need(store.RoleAdmin), s.listUsers)
	api.Post("/users", need(store.RoleAdmin), s.createUser)
	api.Post("/users/:id/password", need(store.RoleAdmin), s.resetPassword)
	api.Post("/users/:id/disable", need(store.RoleAdmin), s.disableUser)
	api.Post("/users/:id/enable", need(store.RoleAdmin), s.enableUser)

	api.Get("/displays", s.listDisplays)
	api.Post("/displays/claim", need(store.RoleEditor), s.claimDisplay)
	api.Get("/displays/:id", s.getDisplay)
	api.Patch("/displays/:id", need(store.RoleEditor), s.updateDisplay)
	api.Delete("/displays/:id", need(store.RoleEditor), s.deleteDisplay)
	api.Get("/displays/:id/timeline", s.displayTimeline)
	api.Get("/displays/:id/now", s.displayNow)
	api.Get("/displays/:id/calendar", s.displayCalendar)
	api.Get("/displays/:id/smil", s.displaySMIL)
	api.Get("/displays/:id/preview", s.displayPreview)

	api.Get("/clusters", s.listClusters)
	api.Post("/clusters", need(store.RoleEditor), s.createCluster)
	api.Get("/clusters/:id", s.getCluster)
	api.Put("/clusters/:id", need(store.RoleEditor), s.updateCluster)
	api.Delete("/clusters/:id", need(store.RoleEditor), s.deleteCluster)

	api.Post("/media", need(store.RoleEditor), s.uploadMedia)
	api.Get("/media", s.listMedia)
	api.Get("/media/tags", s.listMediaTags)
	api.Post("/media/bulk", need(store.RoleEditor), s.bulkMedia)
	api.Get("/media/:id/usage", s.mediaUsage)
	api.Get("/media/:id", s.getMedia)
	api.Delete("/media/:id", need(store.RoleEditor), s.deleteMedia)
	api.Get("/media/:id/original", s.mediaOriginal)
	api.Post("/uploads", need(store.RoleEditor), s.serveUpload)
	api.Head("/uploads/:id", need(store.RoleEditor), s.serveUpload)
	api.Patch("/uploads/:id", need(store.RoleEditor), s.serveUpload)
	api.Delete("/uploads/:id", need(store.RoleEditor), s.serveUpload)
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

	api.Post("/overrides", needAny(store.RoleAdmin, store.RoleAuthority), s.createOverride)
	api.Post("/overrides/preview", needAny(store.RoleAdmin, store.RoleAuthority), s.previewOverride)
	api.Get("/map", s.targetMap)
	api.Get("/overrides", s.listOverrides)
	api.Get("/overrides/:id", s.getOverride)
	api.Post("/overrides/:id/cancel", needAny(store.RoleAdmin, store.RoleAuthority), s.cancelOverride)
	api.Get("/overrides/:id/deliveries", s.listDeliveries)
	api.Post("/cap", needAny(store.RoleAdmin, store.RoleAuthority), s.postCAP)
	api.Get("/audit", needAny(store.RoleAdmin, store.RoleAuthority), s.listAudit)
	api.Get("/cap/sources", needAny(store.RoleAdmin, store.RoleAuthority), s.listCAPSources)
	api.Get("/cap/messages", needAny(store.RoleAdmin, store.RoleAuthority), s.listCAPMessages)
	api.Get("/override-templates", s.listDocsAs("templates", store.OverrideTemplates))
	api.Post("/override-templates", needAny(store.RoleAdmin, store.RoleAuthority), s.createTemplate)
	api.Get("/override-templates/:id", s.getTemplate)
	api.Put("/override-templates/:id", needAny(store.RoleAdmin, store.RoleAuthority), s.updateTemplate)
	api.Delete("/override-templates/:id", needAny(store.RoleAdmin, store.RoleAuthority), s.deleteTemplate)

	// The web console: GET / and its assets under /console/.
	s.console.Mount(app)

	app.Use(noRoute)
	return app
}

// noRoute runs when no route matched: fiber answers 405 (and sets Allow)
// when the path has routes for other methods, 404 otherwise.
func noRoute(c *fiber.Ctx) error {
	err := c.Next()
	var fe *fiber.Error
	if !errors.As(err, &fe) {
		return err
	}
	switch fe.Code {
	case fiber.StatusMethodNotAllowed:
		allow := string(c.Response().Header.Peek(fiber.HeaderAllow))
		return fail(fiber.StatusMethodNotAllowed, "method_not_allowed", c.Method()+" is not allowed on "+c.Path()+"; allowed: "+allow)
	case fiber.StatusNotFound:
		return fail(fiber.StatusNotFound, "not_found", "no route for "+c.Method()+" "+c.Path())
	}
	return err
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
	// Source names a CAP feed source for work no caller asked for.
	Source string
}

func bearer(c *fiber.Ctx) string {
	h := c.Get(fiber.HeaderAuthorization)
	if len(h) > 7 && strings.EqualFold(h[:7], "bearer ") {
		return strings.TrimSpace(h[7:])
	}
	return ""
}

// apiAuth admits API tokens only; a player's session token is refused.
// Without an Authorization header, the console's session cookie is
// accepted, with the CSRF check on requests that change something.
func (s *Server) apiAuth(c *fiber.Ctx) error {
	secret := bearer(c)
	if secret == "" && c.Get(fiber.HeaderAuthorization) == "" && c.Cookies(SessionCookie) != "" {
		t, secret, err := s.cookieSession(c)
		if err != nil {
			return err
		}
		if err := checkCSRF(c, secret); err != nil {
			return err
		}
		c.Locals("principal", principal{OrgID: t.OrgID, Role: t.Role, UserID: t.UserID, Token: t.ID})
		return c.Next()
	}
	if secret == "" {
		return fail(fiber.StatusUnauthorized, "unauthorized", "missing bearer token: send Authorization: Bearer <token>")
	}
	if strings.HasPrefix(secret, auth.DisplayTokenPrefix) {
		return fail(fiber.StatusForbidden, "display_token", "display tokens cannot call the management API")
	}
	ctx, cancel := s.timeout()
	defer cancel()
	t, err := s.accounts.Authenticate(ctx, secret)
	if errors.Is(err, store.ErrNotFound) {
		return fail(fiber.StatusUnauthorized, "unauthorized", "invalid, expired or revoked token")
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

// roleRank orders roles for need: an authority reads as a viewer does
// (and may trigger and cancel overrides, see needAny).
var roleRank = map[string]int{store.RoleViewer: 1, store.RoleAuthority: 1, store.RoleEditor: 2, store.RoleAdmin: 3}

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
