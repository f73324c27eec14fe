package player_test

import (
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"beacon/player"
	"beacon/player/internal/fakeserver"
)

// TestKioskNeverNoSandbox starts the real kiosk loop with a stand-in
// browser that records who it runs as and with which flags. As root it
// runs as the kiosk user, never with --no-sandbox; a kiosk user that does
// not exist is refused with a clear message.
func TestKioskNeverNoSandbox(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: checks how a root player starts its browser")
	}
	nobody, err := user.Lookup("nobody")
	if err != nil {
		t.Skip("no user nobody")
	}
	srv := fakeserver.New()
	defer srv.Close()

	// A directory every user can read: the stand-in browser runs as nobody.
	base, err := os.MkdirTemp("", "beacon-kiosk-test-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(base) })
	if err := os.Chmod(base, 0o777); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(base, "browser.out")
	script := filepath.Join(base, "chromium")
	if err := os.WriteFile(script, []byte("#!/bin/sh\n{ id -u; echo \"$HOME\"; for a in \"$@\"; do echo \"$a\"; done; } > "+out+"\nexec sleep 60\n"), 0o755); err != nil {
		t.Fatal(err)
	}

	// A missing kiosk user: refused before anything starts.
	_, err = player.New(player.Config{ServerURL: srv.URL, DataDir: filepath.Join(base, "d0"), Listen: "127.0.0.1:0",
		Kiosk: true, ChromiumPath: script, KioskUser: "no-such-beacon-user"})
	if err == nil || !strings.Contains(err.Error(), "no-such-beacon-user") || !strings.Contains(err.Error(), "useradd") {
		t.Fatalf("New with a missing kiosk user: %v", err)
	}
	// Root as the kiosk user: refused.
	_, err = player.New(player.Config{ServerURL: srv.URL, DataDir: filepath.Join(base, "d1"), Listen: "127.0.0.1:0",
		Kiosk: true, ChromiumPath: script, KioskUser: "root"})
	if err == nil || !strings.Contains(err.Error(), "root") {
		t.Fatalf("New with kiosk user root: %v", err)
	}

	p := startPlayerWith(t, srv.URL, filepath.Join(base, "data"), func(c *player.Config) {
		c.Kiosk, c.ChromiumPath, c.KioskUser = true, script, "nobody"
	})
	ctx := ctxT(t, 15*time.Second)
	var lines []string
	for {
		b, _ := os.ReadFile(out)
		if s := string(b); strings.HasSuffix(s, "\n") && strings.Contains(s, "--app=") {
			lines = strings.Split(strings.TrimSpace(s), "\n")
			break
		}
		if ctx.Err() != nil {
			t.Fatal("the kiosk browser was never started")
		}
		time.Sleep(20 * time.Millisecond)
	}
	p.stop()
	if lines[0] != nobody.Uid {
		t.Errorf("browser ran as uid %s, want %s (nobody)", lines[0], nobody.Uid)
	}
	var profile string
	for _, a := range lines[2:] {
		if a == "--no-sandbox" || strings.HasPrefix(a, "--no-sandbox=") {
			t.Errorf("browser started with %s", a)
		}
		if v, ok := strings.CutPrefix(a, "--user-data-dir="); ok {
			profile = v
		}
	}
	fi, err := os.Stat(profile)
	if err != nil {
		t.Fatalf("browser profile %q: %v", profile, err)
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); !ok || strconv.FormatUint(uint64(st.Uid), 10) != nobody.Uid {
		t.Errorf("browser profile %s not owned by the kiosk user", profile)
	}
	if strings.HasPrefix(profile, filepath.Join(base, "data")+string(filepath.Separator)) {
		t.Errorf("profile %s inside the player's private data directory", profile)
	}
}
