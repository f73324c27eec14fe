package server

import (
	"bytes"
	_ "embed"
	"fmt"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"beacon/player/web"
	"beacon/playlists"
	"beacon/server/store"
)

// Preview: the console plays a playlist or a layout with the player's own
// renderer page (package beacon/player/web, the very files a player
// embeds), in a frame of the chosen display's resolution. The server
// evaluates the content for that display with the schedule engine the
// player runs and turns it into the renderer's commands with the same
// functions the player uses; the preview page only replays them on time.

//go:embed preview_bridge.js
var previewBridge []byte

// previewCSP is the player's renderer policy, framed by the console only.
const previewCSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; media-src 'self'; font-src 'self'; connect-src 'self'; frame-src 'self' http: https:; base-uri 'none'; form-action 'none'; frame-ancestors 'self'"

const (
	previewSpan     = 15 * time.Minute // how far ahead a preview is computed
	maxPreviewSteps = 500              // commands in one preview at most
)

// rendererAsset serves one of the renderer page's files as the player does.
func rendererAsset(name, contentType string) fiber.Handler {
	data, err := web.FS.ReadFile(name)
	if err != nil {
		panic(err) // embedded at build time
	}
	return func(c *fiber.Ctx) error {
		c.Set(fiber.HeaderContentType, contentType)
		c.Set(fiber.HeaderCacheControl, "no-cache")
		c.Set(fiber.HeaderContentSecurityPolicy, previewCSP)
		c.Set(fiber.HeaderXFrameOptions, "SAMEORIGIN")
		return c.Send(data)
	}
}

// previewPage is the player's renderer page with the preview bridge
// loaded before the renderer: the bridge stands in for the player's
// renderer socket and replays the server's commands.
func previewPage() fiber.Handler {
	page, err := web.FS.ReadFile("index.html")
	if err != nil {
		panic(err)
	}
	tag := []byte(`<script src="/renderer.js"></script>`)
	if !bytes.Contains(page, tag) {
		panic("preview: the renderer page no longer loads /renderer.js")
	}
	page = bytes.Replace(page, tag, append([]byte(`<script src="/renderer/preview-bridge.js"></script>`+"\n"), tag...), 1)
	return func(c *fiber.Ctx) error {
		c.Set(fiber.HeaderContentType, "text/html; charset=utf-8")
		c.Set(fiber.HeaderCacheControl, "no-cache")
		c.Set(fiber.HeaderContentSecurityPolicy, previewCSP)
		c.Set(fiber.HeaderXFrameOptions, "SAMEORIGIN")
		return c.Send(page)
	}
}

func (s *Server) previewRoutes(app *fiber.App) {
	app.Get("/renderer/preview", previewPage())
	app.Get("/renderer/preview-bridge.js", func(c *fiber.Ctx) error {
		c.Set(fiber.HeaderContentType, "text/javascript; charset=utf-8")
		c.Set(fiber.HeaderCacheControl, "no-cache")
		return c.Send(previewBridge)
	})
	app.Get("/renderer.js", rendererAsset("renderer.js", "text/javascript; charset=utf-8"))
	app.Get("/glyphs.js", rendererAsset("glyphs.js", "text/javascript; charset=utf-8"))
	app.Get("/renderer.css", rendererAsset("renderer.css", "text/css; charset=utf-8"))
	app.Get("/slate.svg", rendererAsset("slate.svg", "image/svg+xml"))
}

// previewStep is one renderer command at its offset from the preview's
// start.
type previewStep struct {
	AtMS int64       `json:"at_ms"`
	Cmd  web.Command `json:"cmd"`
}

// displayPreview answers the renderer commands that play a playlist
// (playlist_id) or a layout (layout_id, with zone=<zone>:<playlist> for
// each zone) on a display over the next minutes, whatever the schedules
// and operating hours say.
func (s *Server) displayPreview(c *fiber.Ctx) error {
	ctx, cancel := s.timeout()
	defer cancel()
	org := who(c).OrgID
	d, err := s.store.Display(ctx, org, c.Params("id"))
	if err != nil {
		return err
	}
	ct := playlists.Content{PlaylistID: c.Query("playlist_id"), LayoutID: c.Query("layout_id")}
	if (ct.PlaylistID == "") == (ct.LayoutID == "") {
		return invalid("name either playlist_id or layout_id")
	}
	for _, z := range c.Context().QueryArgs().PeekMulti("zone") {
		zone, pl, ok := strings.Cut(string(z), ":")
		if !ok || zone == "" || pl == "" {
			return invalid("zone must be <zone id>:<playlist id>")
		}
		if ct.Zones == nil {
			ct.Zones = map[string]string{}
		}
		ct.Zones[zone] = pl
	}
	if ct.PlaylistID != "" && ct.Zones != nil {
		return invalid("zone goes with layout_id")
	}
	oc, err := s.loadOrgContent(ctx, org)
	if err != nil {
		return err
	}
	if _, ok := oc.playlists[ct.PlaylistID]; ct.PlaylistID != "" && !ok {
		return invalid("playlist_id: no such playlist: " + ct.PlaylistID)
	}
	if ct.LayoutID != "" {
		l, ok := oc.layouts[ct.LayoutID]
		if !ok {
			return invalid("layout_id: no such layout: " + ct.LayoutID)
		}
		zones := map[string]bool{}
		for _, z := range l.Zones {
			zones[z.ID] = true
		}
		for zone, pl := range ct.Zones {
			if !zones[zone] {
				return invalid("zone: the layout has no zone " + zone)
			}
			if _, ok := oc.playlists[pl]; !ok {
				return invalid("zone " + zone + ": no such playlist: " + pl)
			}
		}
	}
	// The display's own program, but with this content alone, all day.
	oc.schedules = []playlists.Schedule{{ID: "preview", Target: playlists.Target{DisplayIDs: []string{d.ID}}, Content: ct}}
	cl := oc.clusters[d.ClusterID]
	cl.ID, cl.Hours, cl.Holidays = "preview", `[{"start":"00:00","end":"00:00"}]`, "[]"
	if cl.Timezone == "" {
		cl.Timezone = playlists.DefaultTimezone
	}
	oc.clusters["preview"] = cl
	d.ClusterID = "preview"
	now := time.Now()
	cp, _ := s.compileProgram(oc, d, now)
	steps := previewSteps(cp, d, now, previewSpan)
	return c.JSON(fiber.Map{"display_id": d.ID, "width": d.Width, "height": d.Height, "span_ms": previewSpan.Milliseconds(), "steps": steps})
}

// previewSteps walks the program as a player's loop does: a layout
// command when the zones change, a show when a zone's play changes, a
// clear when a zone empties, a waiting screen when nothing plays.
func previewSteps(cp *playlists.Compiled, d store.Display, t0 time.Time, span time.Duration) []previewStep {
	prog := cp.Program()
	steps := []previewStep{}
	layoutKey := ""
	cur := map[string]string{}
	end := t0.Add(span)
	for t := t0; t.Before(end) && len(steps) < maxPreviewSteps; {
		n := cp.At(t, playlists.Options{})
		at := t.Sub(t0).Milliseconds()
		anything := false
		for _, zn := range n.Zones {
			anything = anything || zn.Item != nil
		}
		if n.Off || !anything {
			if layoutKey != "waiting" {
				steps = append(steps, previewStep{at, web.Command{Type: "waiting"}})
				layoutKey = "waiting"
				clear(cur)
			}
		} else {
			var kb strings.Builder
			kb.WriteString(n.LayoutID)
			for _, zn := range n.Zones {
				fmt.Fprintf(&kb, "|%s:%d,%d,%d,%d,%d", zn.Zone, zn.Rect.X, zn.Rect.Y, zn.Rect.W, zn.Rect.H, zn.Z)
			}
			relayout := kb.String() != layoutKey
			if relayout {
				layoutKey = kb.String()
				clear(cur)
				steps = append(steps, previewStep{at, web.LayoutCommand(prog, n)})
			}
			for _, zn := range n.Zones {
				if zn.Item == nil {
					if _, had := cur[zn.Zone]; had || relayout {
						steps = append(steps, previewStep{at, web.Command{Type: "clear", Zone: zn.Zone}})
					}
					delete(cur, zn.Zone)
					continue
				}
				key := zn.Item.ID + "|" + zn.Variant.SHA256 + "|" + zn.Lang + "|" + zn.Start.UTC().Format(time.RFC3339Nano)
				if cur[zn.Zone] == key {
					continue
				}
				cur[zn.Zone] = key
				steps = append(steps, previewStep{at, web.ShowCommand(d.Fit, d.Background, zn, "/api/v1/files/")})
			}
		}
		if n.Next.IsZero() || !n.Next.After(t) {
			break
		}
		t = n.Next
	}
	return steps
}
