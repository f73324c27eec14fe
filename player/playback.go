package player

import (
	"context"
	"time"

	"beacon/player/web"
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
	msgShown   = "shown"   // the page painted a show; for a program's show it echoes seq
)

// The renderer's command language lives with the page (package web), so
// the server's preview sends exactly what a player sends.
type (
	rendererCmd        = web.Command
	rendererZone       = web.Zone
	rendererTransition = web.Transition
	rendererStyle      = web.Style
)

// retryWaiting is how often the loop looks again when nothing is playable.
const retryWaiting = 5 * time.Second

// playLoop drives the renderer. The manifest's program is evaluated
// (runProgram); with no manifest, or one whose program does not validate,
// the renderer shows the waiting state. A pairing request interrupts at
// once. It never depends on the server connection.
func (p *Player) playLoop(ctx context.Context) {
	var prog *playlists.Program
	var progGen uint64
	ps := newProgState()
	defer func() { p.leaveProgram(ps) }()
	p.refreshOverrideMedia() // overrides kept from the last run, with their cached media
	for ctx.Err() == nil {
		p.mu.Lock()
		paired := p.ident.DisplayID != ""
		code := p.pairingCode
		m := p.manifest
		g := p.gen
		p.mu.Unlock()

		if !paired || code != "" {
			p.leaveProgram(ps)
			p.setNowPlaying(nil)
			if code != "" {
				p.hub.render(rendererCmd{Type: cmdPairing, Code: code})
			} else {
				p.hub.render(rendererCmd{Type: cmdWaiting})
			}
			p.applyOverrides() // none while unpaired or pairing
			if !p.sleep(ctx, 0, time.Time{}) {
				return
			}
			continue
		}
		if m != nil {
			if progGen != g {
				progGen = g
				var err error
				if prog, err = decodeProgram(m.Program); err != nil {
					p.log.Error("manifest program refused; showing the waiting state", "version", m.Version, "err", err)
				}
				p.mu.Lock()
				p.displayLangs = nil
				if prog != nil {
					p.displayLangs = append([]string(nil), prog.Display.Languages...)
				}
				p.mu.Unlock()
			}
			if prog != nil {
				p.runProgram(ctx, g, m, prog, ps)
				continue
			}
		}
		p.leaveProgram(ps)
		p.setOff(false)
		p.setNowPlaying(nil)
		p.hub.render(rendererCmd{Type: cmdWaiting})
		if !p.sleep(ctx, retryWaiting, p.applyOverrides()) {
			return
		}
	}
}

// sleep waits for a wake-up (or d, if d > 0, or until the player's clock
// reaches until, if not zero). It returns false when ctx is done.
func (p *Player) sleep(ctx context.Context, d time.Duration, until time.Time) bool {
	var tc, ring <-chan time.Time
	if d > 0 {
		t := time.NewTimer(d)
		defer t.Stop()
		tc = t.C
	}
	if !until.IsZero() {
		var stop func()
		ring, stop = p.alarm(until)
		defer stop()
	}
	select {
	case <-ctx.Done():
		return false
	case <-p.wake:
	case <-tc:
	case <-ring:
	}
	return true
}

// setOff records whether the screen is off (outside operating hours).
func (p *Player) setOff(off bool) {
	p.mu.Lock()
	p.off = off
	p.mu.Unlock()
}

func (p *Player) setNowPlaying(np *protocol.NowPlaying) {
	p.mu.Lock()
	p.nowPlaying = np
	p.mu.Unlock()
}
