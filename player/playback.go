package player

import (
	"context"
	"errors"
	"time"

	"beacon/player/cache"
	"beacon/playlists"
	"beacon/protocol"
)

// Renderer commands (player → page) and reports (page → player) on
// /renderer/ws.
const (
	cmdPairing = "pairing"
	cmdShow    = "show"
	cmdBlank   = "blank"
	cmdWaiting = "waiting"
	cmdOff     = "off"     // outside operating hours: black, media stopped
	cmdLayout  = "layout"  // program: place zones; clears every zone
	cmdClear   = "clear"   // program: a zone shows nothing
	cmdPreload = "preload" // program: load a zone's next video off screen
	msgShown   = "shown"
)

// rendererCmd is one command to the renderer page. A show without a zone
// is the full-screen image of a plain playlist.
type rendererCmd struct {
	Type       string              `json:"type"`
	Code       string              `json:"code,omitempty"`        // pairing
	Zone       string              `json:"zone,omitempty"`        // show, clear, preload
	Kind       string              `json:"kind,omitempty"`        // show: image, video, audio, web, text, clock
	URL        string              `json:"url,omitempty"`         // show, preload: /content/<sha> (web: the page)
	SHA256     string              `json:"sha256,omitempty"`      // show, preload
	ItemID     string              `json:"item_id,omitempty"`     // show, preload
	DurationMS int64               `json:"duration_ms,omitempty"` // show
	Fit        string              `json:"fit,omitempty"`         // show: contain (default), cover or stretch
	Background string              `json:"background,omitempty"`  // show: letterbox colour #rrggbb
	Transition *rendererTransition `json:"transition,omitempty"`  // show
	Text       string              `json:"text,omitempty"`        // show: text
	Style      *rendererStyle      `json:"style,omitempty"`       // show: text, clock
	RefreshS   float64             `json:"refresh_s,omitempty"`   // show: web
	Width      int                 `json:"width,omitempty"`       // layout: display size in pixels
	Height     int                 `json:"height,omitempty"`      // layout
	Timezone   string              `json:"timezone,omitempty"`    // layout: IANA zone for clocks
	Zones      []rendererZone      `json:"zones,omitempty"`       // layout
}

// rendererZone is a zone's rectangle in display pixels.
type rendererZone struct {
	ID string `json:"id"`
	X  int    `json:"x"`
	Y  int    `json:"y"`
	W  int    `json:"w"`
	H  int    `json:"h"`
	Z  int    `json:"z"`
}

type rendererTransition struct {
	Kind       string `json:"kind"` // cut or fade
	DurationMS int    `json:"duration_ms,omitempty"`
}

type rendererStyle struct {
	FontSizePx int     `json:"font_size_px,omitempty"`
	Color      string  `json:"color,omitempty"`
	Background string  `json:"background,omitempty"`
	Scroll     bool    `json:"scroll,omitempty"`
	SpeedPxS   float64 `json:"speed_px_s,omitempty"`
	Format     string  `json:"format,omitempty"` // clock: Go layout
}

// retryWaiting is how often the loop looks again when nothing is playable.
const retryWaiting = 5 * time.Second

// minItemDuration stops a tiny duration from spinning the loop.
const minItemDuration = 100 * time.Millisecond

// playLoop drives the renderer. A manifest with a program is evaluated
// (runProgram); otherwise it loops over the manifest's playlist, showing
// each item whose file verifies and skipping the others. A new manifest
// takes over at the next item boundary; a pairing request interrupts at
// once. It never depends on the server connection.
func (p *Player) playLoop(ctx context.Context) {
	next := 0
	var gen uint64
	var prog *playlists.Program
	var progGen uint64
	for ctx.Err() == nil {
		p.mu.Lock()
		paired := p.ident.DisplayID != ""
		code := p.pairingCode
		m := p.manifest
		g := p.gen
		p.mu.Unlock()

		if !paired || code != "" {
			p.setNowPlaying(nil)
			if code != "" {
				p.hub.render(rendererCmd{Type: cmdPairing, Code: code})
			} else {
				p.hub.render(rendererCmd{Type: cmdWaiting})
			}
			if !p.sleep(ctx, 0) {
				return
			}
			continue
		}
		if g != gen {
			gen, next = g, 0
		}
		if m != nil && len(m.Program) > 0 {
			if progGen != g {
				progGen = g
				var err error
				if prog, err = decodeProgram(m.Program); err != nil {
					p.log.Error("manifest program refused; playing its playlist", "version", m.Version, "err", err)
				}
			}
			if prog != nil {
				p.runProgram(ctx, g, m, prog)
				continue
			}
		}
		var items []protocol.Item
		if m != nil {
			items = m.Playlist.Items
		}
		shown := false
		for tries := 0; tries < len(items) && !shown; tries++ {
			it := items[next%len(items)]
			next = (next + 1) % len(items)
			if it.Kind != "" && it.Kind != "image" {
				p.log.Warn("item kind not supported; skipped", "item_id", it.ID, "kind", it.Kind)
				continue
			}
			if _, err := p.cache.Verified(it.SHA256); err != nil {
				if errors.Is(err, cache.ErrCorrupt) {
					p.log.Error("cached file corrupt; removed", "sha256", it.SHA256)
					p.kickDownloads()
				} else {
					p.log.Debug("item not playable yet", "item_id", it.ID, "sha256", it.SHA256, "err", err)
				}
				continue
			}
			shown = true
			d := time.Duration(it.DurationS * float64(time.Second))
			if d < minItemDuration {
				d = minItemDuration
			}
			p.setNowPlaying(&protocol.NowPlaying{ItemID: it.ID, MediaID: it.MediaID, SHA256: it.SHA256, StartedAt: p.now().UTC()})
			p.hub.render(rendererCmd{
				Type: cmdShow, Kind: "image", URL: "/content/" + it.SHA256, SHA256: it.SHA256,
				ItemID: it.ID, DurationMS: d.Milliseconds(), Fit: m.Display.Fit, Background: m.Display.Background,
			})
			if !p.hold(ctx, d) {
				return
			}
		}
		if !shown {
			p.setNowPlaying(nil)
			p.hub.render(rendererCmd{Type: cmdWaiting})
			if !p.sleep(ctx, retryWaiting) {
				return
			}
		}
	}
}

// hold keeps the current item on screen for d, unless pairing starts.
// It returns false when ctx is done.
func (p *Player) hold(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return false
		case <-t.C:
			return true
		case <-p.wake:
			p.mu.Lock()
			interrupt := p.pairingCode != "" || p.ident.DisplayID == "" || p.manifest == nil
			p.mu.Unlock()
			if interrupt {
				return true
			}
		}
	}
}

// sleep waits for a wake-up (or d, if d > 0). It returns false when ctx is done.
func (p *Player) sleep(ctx context.Context, d time.Duration) bool {
	var tc <-chan time.Time
	if d > 0 {
		t := time.NewTimer(d)
		defer t.Stop()
		tc = t.C
	}
	select {
	case <-ctx.Done():
		return false
	case <-p.wake:
	case <-tc:
	}
	return true
}

func (p *Player) setNowPlaying(np *protocol.NowPlaying) {
	p.mu.Lock()
	p.nowPlaying = np
	p.mu.Unlock()
}
