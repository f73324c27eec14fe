package player_test

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"beacon/player"
	"beacon/player/internal/fakeserver"
	"beacon/protocol"
)

// A signed unpair from the pinned server returns the player to pairing; an
// unpair signed by another key, or bound to another session, is refused
// and the player stays paired and playing.
func TestSignedUnpair(t *testing.T) {
	srv := fakeserver.New()
	defer srv.Close()
	f1 := srv.AddFile(testImage(t, 64, 36, 1), "image/png")
	p, _ := setupPlaying(t, srv, t.TempDir(), 0.2, f1)
	ctx := ctxT(t, 15*time.Second)

	refused := func(what string, frame []byte) {
		t.Helper()
		env, err := protocol.Decode(frame)
		if err != nil {
			t.Fatal(err)
		}
		if err := srv.SendRaw(testDisplay, frame); err != nil {
			t.Fatal(err)
		}
		e, err := srv.WaitFor(ctx, protocol.TypeError, func(e protocol.Envelope) bool {
			return decodeBody[protocol.ErrorBody](t, e).Ref == env.ID
		})
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		if eb := decodeBody[protocol.ErrorBody](t, e); eb.Code != protocol.CodeBadSignature {
			t.Errorf("%s: answered %+v", what, eb)
		}
		if st := p.Status(); !st.Paired || st.DisplayID != testDisplay || st.ManifestVersion != 1 || st.NowPlaying == nil {
			t.Fatalf("%s: player changed state: %+v", what, st)
		}
	}
	_, otherKey, _ := ed25519.GenerateKey(rand.Reader)
	hellos := srv.Received(protocol.TypeHello)
	hello := decodeBody[protocol.Hello](t, hellos[len(hellos)-1])
	if len(hello.Nonce) != protocol.NonceSize {
		t.Fatalf("hello carries no %d-byte nonce: %x", protocol.NonceSize, hello.Nonce)
	}
	encode := func(u protocol.Unpair) []byte {
		b, err := protocol.Encode(protocol.TypeUnpair, u)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	refused("signed by another key", encode(protocol.SignUnpair(otherKey, testDisplay, p.PublicKey(), hello.Nonce, time.Now())))
	refused("another session's nonce", encode(protocol.SignUnpair(srv.Key, testDisplay, p.PublicKey(), bytes.Repeat([]byte{7}, protocol.NonceSize), time.Now())))
	refused("another display", encode(protocol.SignUnpair(srv.Key, "disp-2", p.PublicKey(), hello.Nonce, time.Now())))
	if _, err := os.Stat(filepath.Join(p.dir, "state.json")); err != nil {
		t.Fatalf("state.json after refused unpairs: %v", err)
	}
	if _, err := srv.WaitFor(ctx, protocol.TypeIncident, func(e protocol.Envelope) bool {
		return strings.Contains(decodeBody[protocol.Incident](t, e).Message, "unpair refused")
	}); err != nil {
		t.Fatalf("refused unpair not reported: %v", err)
	}

	// The genuine one: the display was deleted on the server.
	srv.Forget(p.PublicKey())
	if err := srv.SendUnpair(testDisplay, srv.Key); err != nil {
		t.Fatal(err)
	}
	st := waitStatus(t, p, "pairing again", func(s player.Status) bool {
		return !s.Paired && s.PairingCode != "" && s.State == protocol.StatePairing && s.ManifestVersion == 0
	})
	for _, name := range []string{"state.json", "manifest.json"} {
		if _, err := os.Stat(filepath.Join(p.dir, name)); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("%s still there after unpair: %v", name, err)
		}
	}
	if _, err := os.Stat(filepath.Join(p.dir, "player.key")); err != nil {
		t.Errorf("player.key gone: %v", err)
	}
	// It can be paired again (here, by the same server).
	if err := srv.Claim(st.PairingCode, testDisplay, "Lobby again"); err != nil {
		t.Fatal(err)
	}
	waitStatus(t, p, "paired again", func(s player.Status) bool { return s.Paired && s.DisplayID == testDisplay })
}

// beacon-player reset (player.Reset) forgets the pairing, the manifest
// and the incidents, and keeps the player's key and cache; the player
// then shows a pairing code.
func TestReset(t *testing.T) {
	srv := fakeserver.New()
	defer srv.Close()
	f1 := srv.AddFile(testImage(t, 64, 36, 1), "image/png")
	dir := t.TempDir()
	p, _ := setupPlaying(t, srv, dir, 0.2, f1)
	key := p.PublicKey()
	p.stop()

	removed, err := player.Reset(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(removed) != 2 {
		t.Errorf("removed %v, want state.json and manifest.json", removed)
	}
	if _, err := os.Stat(filepath.Join(dir, "cache", f1.SHA256[:2], f1.SHA256)); err != nil {
		t.Errorf("cached file gone after reset: %v", err)
	}
	if _, err := player.Reset(filepath.Join(dir, "missing")); err == nil {
		t.Errorf("reset of a missing directory succeeded")
	}

	srv.Forget(key)
	p2 := startPlayer(t, srv.URL, dir)
	if !bytes.Equal(p2.PublicKey(), key) {
		t.Errorf("reset changed the player's key")
	}
	st := waitStatus(t, p2, "pairing code after reset", func(s player.Status) bool {
		return !s.Paired && s.PairingCode != "" && s.ManifestVersion == 0
	})
	// A new server key can be pinned now.
	if err := srv.Claim(st.PairingCode, "disp-9", "Moved"); err != nil {
		t.Fatal(err)
	}
	waitStatus(t, p2, "paired after reset", func(s player.Status) bool { return s.Paired && s.DisplayID == "disp-9" })
}
