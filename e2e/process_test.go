package e2e_test

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"beacon/player"
)

// buildBinaries compiles bin/beacon and bin/beacon-player (the player
// without cgo, as shipped) into a temporary directory.
func buildBinaries(t *testing.T) (beacon, beaconPlayer string) {
	t.Helper()
	dir := t.TempDir()
	beacon, beaconPlayer = filepath.Join(dir, "beacon"), filepath.Join(dir, "beacon-player")
	for _, b := range []struct {
		out, pkg string
		env      []string
	}{
		{beacon, "beacon/cmd/beacon", nil},
		{beaconPlayer, "beacon/cmd/beacon-player", []string{"CGO_ENABLED=0"}},
	} {
		cmd := exec.Command("go", "build", "-o", b.out, b.pkg)
		cmd.Env = append(os.Environ(), b.env...)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("go build %s: %v\n%s", b.pkg, err, out)
		}
	}
	return beacon, beaconPlayer
}

func freeAddr(t *testing.T) string { return deadAddr(t) }

type proc struct {
	cmd *exec.Cmd
	out *bytes.Buffer
}

func start(t *testing.T, name string, args ...string) *proc {
	t.Helper()
	var out bytes.Buffer
	cmd := exec.Command(name, args...)
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &proc{cmd: cmd, out: &out}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
		if t.Failed() {
			t.Logf("%s output:\n%s", filepath.Base(name), out.String())
		}
	})
	return p
}

func waitHTTP(t *testing.T, url string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if resp, err := http.Get(url); err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("%s never answered", url)
}

// TestProcessesDemoKillAndGracefulShutdown runs the shipped binaries the
// way `make run` does: the demo seeds content and a paired player, the
// player plays; SIGKILL on the server leaves the screen playing; SIGTERM
// shuts the server down cleanly.
func TestProcessesDemoKillAndGracefulShutdown(t *testing.T) {
	if testing.Short() {
		t.Skip("builds binaries")
	}
	beacon, beaconPlayer := buildBinaries(t)
	data := t.TempDir()
	out, err := exec.Command(beacon, "demo", "--data", data, "--player-data", filepath.Join(data, "player")).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "password") {
		t.Fatalf("demo: %v\n%s", err, out)
	}
	out, err = exec.Command(beacon, "demo", "--data", data).CombinedOutput()
	if err != nil || strings.Contains(string(out), "password") {
		t.Fatalf("second demo must not seed or print a password again: %v\n%s", err, out)
	}
	tok, err := exec.Command(beacon, "token", "create", "--data", data, "--role", "admin", "--name", "ci").Output()
	if err != nil || !bytes.HasPrefix(tok, []byte("bkn_")) {
		t.Fatalf("token create: %v %q", err, tok)
	}

	addr := freeAddr(t)
	srv := start(t, beacon, "serve", "--data", data, "--listen", addr)
	waitHTTP(t, "http://"+addr+"/healthz")
	req, _ := http.NewRequest("GET", "http://"+addr+"/api/v1/displays", nil)
	req.Header.Set("Authorization", "Bearer "+strings.TrimSpace(string(tok)))
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != 200 {
		t.Fatalf("API with the CLI token: %v %v", err, resp)
	} else {
		resp.Body.Close()
	}

	paddr := freeAddr(t)
	start(t, beaconPlayer, "--server", "http://"+addr, "--data", filepath.Join(data, "player"), "--listen", paddr)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	st, err := player.WaitStatus(ctx, paddr, func(s player.Status) bool {
		return s.Paired && s.NowPlaying != nil && s.Cache.Files == 3 && s.Cache.Missing == 0
	})
	if err != nil {
		t.Fatalf("demo player never played all three images: %v", err)
	}

	// SIGKILL: no goodbye; the screen keeps playing.
	if err := srv.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = srv.cmd.Wait()
	leftover := displayTokenHashes(t, data) // the killed session's download token
	first := st.NowPlaying
	if _, err := player.WaitStatus(ctx, paddr, func(s player.Status) bool {
		return !s.Connected && s.NowPlaying != nil && s.NowPlaying.StartedAt.After(first.StartedAt)
	}); err != nil {
		t.Fatalf("player stopped playing after the server was killed: %v", err)
	}

	// Restart on the same store; the player comes back; SIGTERM is graceful.
	srv = start(t, beacon, "serve", "--data", data, "--listen", addr)
	waitHTTP(t, "http://"+addr+"/healthz")
	if _, err := player.WaitStatus(ctx, paddr, func(s player.Status) bool { return s.Connected }); err != nil {
		t.Fatalf("player did not reconnect: %v", err)
	}
	checkNoneSurvive(t, leftover, displayTokenHashes(t, data))
	if err := srv.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("server exited badly on SIGTERM: %v\n%s", err, srv.out)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("server did not stop within 20 s of SIGTERM")
	}
	if !strings.Contains(srv.out.String(), "shutting down") {
		t.Fatalf("no shutdown log:\n%s", srv.out)
	}
	fmt.Fprintln(os.Stderr) // keep go test's output tidy after the child's
}
