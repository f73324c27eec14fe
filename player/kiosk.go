package player

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"syscall"
	"time"
)

// window is a kiosk window geometry.
type window struct {
	W, H, X, Y int
	HasPos     bool
}

var windowRE = regexp.MustCompile(`^(\d+)x(\d+)(?:([+-]\d+)([+-]\d+))?$`)

// parseWindow parses "WxH+X+Y" (X11 geometry) or "WxH".
func parseWindow(s string) (window, error) {
	m := windowRE.FindStringSubmatch(s)
	if m == nil {
		return window{}, fmt.Errorf("player: window %q: want WxH+X+Y", s)
	}
	var w window
	w.W, _ = strconv.Atoi(m[1])
	w.H, _ = strconv.Atoi(m[2])
	if w.W <= 0 || w.H <= 0 {
		return window{}, fmt.Errorf("player: window %q: width and height must be positive", s)
	}
	if m[3] != "" {
		w.X, _ = strconv.Atoi(m[3])
		w.Y, _ = strconv.Atoi(m[4])
		w.HasPos = true
	}
	return w, nil
}

// pageURL is the renderer URL Chromium opens.
func (p *Player) pageURL() string {
	host, port, err := net.SplitHostPort(p.addr)
	if err != nil {
		return "http://" + p.addr + "/"
	}
	if ip := net.ParseIP(host); ip == nil || ip.IsUnspecified() {
		host = "127.0.0.1"
	}
	return "http://" + net.JoinHostPort(host, port) + "/"
}

// chromiumArgs are the flags for the kiosk browser.
func (p *Player) chromiumArgs() []string {
	args := []string{
		"--kiosk",
		"--app=" + p.pageURL(),
		"--no-first-run",
		"--noerrdialogs",
		"--disable-infobars",
		"--disable-session-crashed-bubble",
		"--disable-translate",
		"--disable-features=Translate",
		"--disable-background-networking",
		"--disable-component-update",
		"--disable-sync",
		"--disable-quic",
		"--check-for-update-interval=31536000",
		"--autoplay-policy=no-user-gesture-required",
		"--user-data-dir=" + filepath.Join(p.cfg.DataDir, "chromium"),
	}
	if os.Geteuid() == 0 {
		// Chromium refuses to start as root without this; a kiosk should
		// run as an unprivileged user.
		args = append(args, "--no-sandbox")
	}
	if p.cfg.Window != "" {
		w, _ := parseWindow(p.cfg.Window) // validated in New
		args = append(args, fmt.Sprintf("--window-size=%d,%d", w.W, w.H))
		if w.HasPos {
			args = append(args, fmt.Sprintf("--window-position=%d,%d", w.X, w.Y))
		}
	}
	return args
}

// kioskLoop runs Chromium in kiosk mode and restarts it whenever it exits.
func (p *Player) kioskLoop(ctx context.Context) {
	delay := time.Second
	for ctx.Err() == nil {
		cmd := exec.CommandContext(ctx, p.cfg.ChromiumPath, p.chromiumArgs()...)
		cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
		cmd.WaitDelay = 5 * time.Second
		start := time.Now()
		err := cmd.Run()
		if ctx.Err() != nil {
			return
		}
		if time.Since(start) > time.Minute {
			delay = time.Second
		}
		p.log.Warn("chromium exited; restarting", "err", err, "in", delay)
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		delay = min(delay*2, 30*time.Second)
	}
}
