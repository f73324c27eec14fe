package player

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
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
		"--user-data-dir=" + p.kioskDataDir(),
	}
	// Never --no-sandbox: as root the browser runs as the kiosk user
	// (kioskUser), with Chromium's sandbox on.
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
		var err error
		if p.kiosk != nil {
			cmd.SysProcAttr = &syscall.SysProcAttr{Credential: p.kiosk.cred}
			cmd.Env = p.kiosk.env()
			cmd.Dir = p.kiosk.home
			err = p.kiosk.prepare()
		}
		if err == nil {
			err = cmd.Run()
		}
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

// DefaultKioskUser is the unprivileged account the kiosk browser runs as
// when beacon-player itself runs as root.
const DefaultKioskUser = "beacon-kiosk"

// kioskAccount is the account Chromium runs as when the player is root.
type kioskAccount struct {
	name    string
	home    string
	dataDir string // Chromium's --user-data-dir, owned by the account
	uid     uint32
	gid     uint32
	cred    *syscall.Credential
}

// lookupKioskUser resolves the account the kiosk browser runs as when the
// player is root. Chromium's sandbox does not work for root, and running
// it without the sandbox would hand every web item the whole machine, so
// the player refuses rather than fall back to --no-sandbox.
func lookupKioskUser(name, dataDir string) (*kioskAccount, error) {
	if name == "" {
		name = DefaultKioskUser
	}
	u, err := user.Lookup(name)
	if err != nil {
		return nil, fmt.Errorf("player: --kiosk as root needs an unprivileged user to run Chromium with its sandbox; user %q: %v "+
			"(create it with `useradd --system --create-home %s`, name another with --kiosk-user, or run beacon-player as an unprivileged user)", name, err, name)
	}
	uid, err1 := strconv.ParseUint(u.Uid, 10, 32)
	gid, err2 := strconv.ParseUint(u.Gid, 10, 32)
	if err1 != nil || err2 != nil {
		return nil, fmt.Errorf("player: kiosk user %q: unusable uid/gid %s/%s", name, u.Uid, u.Gid)
	}
	if uid == 0 {
		return nil, fmt.Errorf("player: kiosk user %q is root; Chromium must not run as root (its sandbox needs an unprivileged user)", name)
	}
	var groups []uint32
	if ids, err := u.GroupIds(); err == nil {
		for _, g := range ids {
			if n, err := strconv.ParseUint(g, 10, 32); err == nil {
				groups = append(groups, uint32(n))
			}
		}
	}
	a := &kioskAccount{
		name: name, home: u.HomeDir, uid: uint32(uid), gid: uint32(gid),
		// The player's data directory is private (0700) to root, so the
		// browser profile lives in the account's home, or beside the data
		// directory when it has none.
		dataDir: filepath.Join(filepath.Dir(filepath.Clean(dataDir)), "beacon-kiosk-"+u.Uid),
		cred:    &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), Groups: groups},
	}
	if fi, err := os.Stat(a.home); err == nil && fi.IsDir() && a.home != "/" {
		a.dataDir = filepath.Join(a.home, ".beacon-chromium")
	} else {
		a.home = a.dataDir
	}
	return a, nil
}

// prepare creates the browser profile directory, owned by the account.
func (a *kioskAccount) prepare() error {
	if err := os.MkdirAll(a.dataDir, 0o700); err != nil {
		return fmt.Errorf("kiosk profile: %w", err)
	}
	if err := os.Chown(a.dataDir, int(a.uid), int(a.gid)); err != nil {
		return fmt.Errorf("kiosk profile: %w", err)
	}
	return nil
}

// env is the browser's environment: the player's display settings, the
// account's own identity and home.
func (a *kioskAccount) env() []string {
	var env []string
	for _, kv := range os.Environ() {
		switch k, _, _ := strings.Cut(kv, "="); k {
		case "HOME", "USER", "LOGNAME", "XDG_RUNTIME_DIR", "XDG_CONFIG_HOME", "XDG_CACHE_HOME":
		default:
			env = append(env, kv)
		}
	}
	return append(env, "HOME="+a.home, "USER="+a.name, "LOGNAME="+a.name)
}

// kioskDataDir is Chromium's profile directory.
func (p *Player) kioskDataDir() string {
	if p.kiosk != nil {
		return p.kiosk.dataDir
	}
	return filepath.Join(p.cfg.DataDir, "chromium")
}
