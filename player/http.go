package player

import (
	"bytes"
	"encoding/json"
	"errors"
	"mime"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/websocket"

	"beacon/player/cache"
	"beacon/player/web"
	"beacon/protocol"
)

// webFS is the renderer page (package beacon/player/web).
var webFS = web.FS

// contentSecurityPolicy keeps the renderer page to its own origin.
// Web items are the one exception: their pages load in sandboxed iframes.
const contentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; media-src 'self'; font-src 'self'; connect-src 'self'; frame-src 'self' http: https:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

func (p *Player) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", asset("index.html", "text/html; charset=utf-8"))
	mux.HandleFunc("GET /renderer.js", asset("renderer.js", "text/javascript; charset=utf-8"))
	mux.HandleFunc("GET /glyphs.js", asset("glyphs.js", "text/javascript; charset=utf-8"))
	mux.HandleFunc("GET /renderer.css", asset("renderer.css", "text/css; charset=utf-8"))
	mux.HandleFunc("GET /slate.svg", asset("slate.svg", "image/svg+xml")) // the kill switch's safe image
	mux.HandleFunc("GET /renderer/ws", p.hub.serveWS)
	mux.HandleFunc("GET /content/{sha}", p.serveContent)
	mux.HandleFunc("GET /status", p.serveStatus)
	return p.checkHost(mux)
}

// checkHost answers only requests addressed to a host this listener
// serves: 127.0.0.1, [::1] or localhost on its port, or the configured
// listen host. Any other Host (a DNS name an attacker's page rebinds to
// 127.0.0.1) gets 421, so a web page elsewhere can never read /status or
// /content, nor drive the renderer socket, through the browser.
func (p *Player) checkHost(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !p.servesHost(r.Host) {
			http.Error(w, "misdirected request: this player answers only "+p.pageURL(), http.StatusMisdirectedRequest)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// servesHost reports whether host (a Host header) names this listener.
// When the listener is bound to all interfaces, any IP literal on its port
// is accepted: a DNS rebinding attack needs a name, never an IP literal.
func (p *Player) servesHost(host string) bool {
	_, port, err := net.SplitHostPort(p.addr)
	if err != nil {
		return false
	}
	hname, hport, err := net.SplitHostPort(host)
	if err != nil {
		hname, hport = host, "80" // no port: the default one
		if strings.HasPrefix(hname, "[") && strings.HasSuffix(hname, "]") {
			hname = hname[1 : len(hname)-1]
		}
	}
	if hport != port {
		return false
	}
	hname = strings.ToLower(strings.TrimSuffix(hname, "."))
	if hname == "localhost" {
		return true
	}
	lhost, _, _ := net.SplitHostPort(p.cfg.Listen)
	lhost = strings.ToLower(strings.Trim(lhost, "[]"))
	if lhost != "" && hname == lhost {
		return true
	}
	ip := net.ParseIP(hname)
	if ip == nil {
		return false
	}
	if ip.IsLoopback() {
		return true
	}
	lip := net.ParseIP(lhost)
	return lhost == "" || (lip != nil && (lip.IsUnspecified() || lip.Equal(ip)))
}

// checkOrigin accepts a renderer WebSocket only from a page this player
// served: the Origin header must be present and name the very host the
// request was sent to (already checked by checkHost). Browsers always send
// Origin on WebSocket handshakes, so a missing Origin is refused too; a
// local non-browser client (a test renderer) sets it explicitly.
func checkOrigin(r *http.Request) bool {
	o := r.Header.Get("Origin")
	if o == "" {
		return false
	}
	u, err := url.Parse(o)
	if err != nil || u.Scheme != "http" || u.Path != "" && u.Path != "/" || u.User != nil {
		return false
	}
	return strings.EqualFold(u.Host, r.Host)
}

func asset(name, contentType string) http.HandlerFunc {
	data, err := webFS.ReadFile(name)
	if err != nil {
		panic(err) // embedded at build time
	}
	return func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Type", contentType)
		h.Set("Cache-Control", "no-cache")
		h.Set("Content-Security-Policy", contentSecurityPolicy)
		h.Set("X-Content-Type-Options", "nosniff")
		http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(data))
	}
}

func (p *Player) serveStatus(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	_ = json.NewEncoder(w).Encode(p.Status())
}

// serveContent serves a cached file only after re-hashing it. A corrupt
// file is removed (and re-downloaded when the server is reachable).
func (p *Player) serveContent(w http.ResponseWriter, r *http.Request) {
	sha := r.PathValue("sha")
	if !protocol.ValidSHA256(sha) {
		http.NotFound(w, r)
		return
	}
	data, err := p.cache.Verified(sha)
	if err != nil {
		if errors.Is(err, cache.ErrCorrupt) {
			p.cacheTampered(sha, err)
		}
		http.NotFound(w, r)
		return
	}
	h := w.Header()
	h.Set("Content-Type", p.contentType(sha, data))
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("ETag", `"`+sha+`"`)
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(data))
}

// contentType uses the manifest's content type for sha when it is a valid
// media type, and sniffs the bytes otherwise.
func (p *Player) contentType(sha string, data []byte) string {
	p.mu.Lock()
	m := p.manifest
	for _, e := range p.ovr {
		for _, f := range e.spec.Media {
			if f.SHA256 == sha && f.ContentType != "" {
				if _, _, err := mime.ParseMediaType(f.ContentType); err == nil {
					p.mu.Unlock()
					return f.ContentType
				}
			}
		}
	}
	p.mu.Unlock()
	if m != nil {
		for _, f := range m.Files {
			if f.SHA256 == sha && f.ContentType != "" {
				if _, _, err := mime.ParseMediaType(f.ContentType); err == nil {
					return f.ContentType
				}
			}
		}
	}
	return http.DetectContentType(data)
}

// hub holds the renderer pages connected to /renderer/ws and the current
// scene: the commands that rebuild what is on screen (a pairing, waiting,
// blank or off command; a full-screen show; or a layout followed by one
// show or clear per zone, and the preload hint of each zone's next video).
// A page that (re)connects gets the scene again.
type hub struct {
	p        *Player
	upgrader websocket.Upgrader
	mu       sync.Mutex
	scene    []sceneCmd
	overlay  []byte // the override layer's command (sent after the scene), nil if none
	conns    map[*rconn]struct{}
	closed   bool
	wg       sync.WaitGroup
}

type sceneCmd struct {
	zone string // show and clear of a zone
	b    []byte
}

type rconn struct {
	c    *websocket.Conn
	out  chan []byte
	done chan struct{}
	once sync.Once
}

func (c *rconn) close() {
	c.once.Do(func() {
		close(c.done)
		_ = c.c.Close()
	})
}

func newHub(p *Player) *hub {
	return &hub{p: p, conns: map[*rconn]struct{}{}, upgrader: websocket.Upgrader{ReadBufferSize: 1024, WriteBufferSize: 4096, CheckOrigin: checkOrigin}}
}

func (h *hub) connected() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.conns) > 0
}

// render sends cmd to every page and updates the scene. A screen command
// equal to the current scene is not repeated; shows always are (each show
// is a new item on screen).
func (h *hub) render(cmd rendererCmd) {
	b, err := json.Marshal(cmd)
	if err != nil {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	switch {
	case (cmd.Type == cmdShow || cmd.Type == cmdClear || cmd.Type == cmdPreload) && cmd.Zone != "":
		key := cmd.Zone
		if cmd.Type == cmdPreload {
			key = "preload\x00" + cmd.Zone
		} else {
			h.dropLocked("preload\x00" + cmd.Zone) // a new item: the hint is used or stale
		}
		replaced := false
		for i, sc := range h.scene {
			if sc.zone == key {
				h.scene[i].b = b
				replaced = true
				break
			}
		}
		if !replaced {
			h.scene = append(h.scene, sceneCmd{zone: key, b: b})
		}
	default:
		if cmd.Type != cmdShow && cmd.Type != cmdLayout && len(h.scene) == 1 && bytes.Equal(b, h.scene[0].b) {
			return
		}
		h.scene = []sceneCmd{{b: b}}
	}
	for c := range h.conns {
		select {
		case c.out <- b:
		default:
			c.close() // the page is stuck; it reconnects and gets the scene
		}
	}
}

// setOverlay sends the override layer's command (override or
// override_clear) to every page and keeps it for pages that connect later.
// Screen commands of the program never replace it.
func (h *hub) setOverlay(b []byte) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.overlay = b
	for c := range h.conns {
		select {
		case c.out <- b:
		default:
			c.close()
		}
	}
}

func (h *hub) dropLocked(key string) {
	for i, sc := range h.scene {
		if sc.zone == key {
			h.scene = append(h.scene[:i], h.scene[i+1:]...)
			return
		}
	}
}

func (h *hub) closeAll() {
	h.mu.Lock()
	h.closed = true
	for c := range h.conns {
		c.close()
	}
	h.mu.Unlock()
}

func (h *hub) wait() { h.wg.Wait() }

// rendererMsg is what the page sends back.
type rendererMsg struct {
	Type    string `json:"type"` // shown or error
	Zone    string `json:"zone"`
	SHA256  string `json:"sha256"`
	ItemID  string `json:"item_id"`
	Seq     uint64 `json:"seq"`
	Message string `json:"message"`
	ID      string `json:"id"`    // override_shown, override_tone: the override
	State   string `json:"state"` // override_tone: playing or blocked
}

func (h *hub) serveWS(w http.ResponseWriter, r *http.Request) {
	conn, err := h.upgrader.Upgrade(w, r, nil)
	if err != nil {
		return
	}
	c := &rconn{c: conn, out: make(chan []byte, 64), done: make(chan struct{})}
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		conn.Close()
		return
	}
	h.conns[c] = struct{}{}
	for _, sc := range h.scene {
		select {
		case c.out <- sc.b:
		default:
		}
	}
	if h.overlay != nil {
		select {
		case c.out <- h.overlay:
		default:
		}
	}
	h.wg.Add(2)
	h.mu.Unlock()
	h.p.log.Info("renderer connected", "remote", r.RemoteAddr)

	go func() { // writer
		defer h.wg.Done()
		ping := time.NewTicker(20 * time.Second)
		defer ping.Stop()
		for {
			select {
			case <-c.done:
				return
			case b := <-c.out:
				_ = conn.SetWriteDeadline(time.Now().Add(writeWait))
				if err := conn.WriteMessage(websocket.TextMessage, b); err != nil {
					c.close()
					return
				}
			case <-ping.C:
				if err := conn.WriteControl(websocket.PingMessage, nil, time.Now().Add(writeWait)); err != nil {
					c.close()
					return
				}
			}
		}
	}()

	defer func() {
		c.close()
		h.mu.Lock()
		delete(h.conns, c)
		last := len(h.conns) == 0
		h.mu.Unlock()
		h.p.log.Info("renderer disconnected")
		if last {
			h.p.rendererLost() // nothing is on screen any more
			h.p.overrideLost()
		}
		h.wg.Done()
	}()
	conn.SetReadLimit(64 << 10)
	extend := func() { _ = conn.SetReadDeadline(time.Now().Add(60 * time.Second)) }
	extend()
	conn.SetPongHandler(func(string) error { extend(); return nil })
	for {
		_, data, err := conn.ReadMessage()
		if err != nil {
			return
		}
		extend()
		var m rendererMsg
		if json.Unmarshal(data, &m) != nil {
			continue
		}
		switch m.Type {
		case msgShown:
			h.p.log.Debug("renderer shows", "zone", m.Zone, "sha256", m.SHA256, "item_id", m.ItemID, "seq", m.Seq)
			h.p.rendererPainted(m.Zone, m.Seq)
		case msgOverrideShown:
			h.p.rendererOverridePainted(m.ID, m.Seq)
		case msgOverrideTone:
			h.p.rendererOverrideTone(m.ID, m.Seq, m.State, m.Message)
		case "error":
			h.p.log.Warn("renderer error", "zone", m.Zone, "sha256", m.SHA256, "item_id", m.ItemID, "message", m.Message)
		}
	}
}
