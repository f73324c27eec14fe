package player

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"beacon/protocol"
)

// Files in the data directory.
const (
	keyFile      = "player.key"    // Ed25519 seed, 32 raw bytes (64 hex characters also accepted)
	stateFile    = "state.json"    // identity: display id, name, pinned server key
	manifestFile = "manifest.json" // last verified protocol.SignedManifest
	journalFile  = "plays.jsonl"   // proof-of-play journal (beacon/player/journal)
	// incidentsFile holds incidents the pinned server has not acknowledged.
	incidentsFile = "incidents.json"
)

// identity is what pairing gives the player; it is state.json on disk.
type identity struct {
	DisplayID string `json:"display_id"`
	Name      string `json:"name"`
	ServerKey []byte `json:"server_key"` // pinned Ed25519 public key, base64 in JSON
	// OrgID is the display's organisation (auth_ok, paired): overrides
	// and cancels are applied only for it. A state written before it
	// existed learns it at the next auth_ok.
	OrgID string `json:"org_id,omitempty"`
}

func loadOrCreateKey(path string) (ed25519.PrivateKey, error) {
	raw, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		seed := make([]byte, ed25519.SeedSize)
		if _, err := rand.Read(seed); err != nil {
			return nil, fmt.Errorf("player: make key: %w", err)
		}
		if err := writeFileAtomic(path, seed, 0o600); err != nil {
			return nil, fmt.Errorf("player: save key: %w", err)
		}
		return ed25519.NewKeyFromSeed(seed), nil
	}
	if err != nil {
		return nil, fmt.Errorf("player: read key: %w", err)
	}
	seed := raw
	if len(raw) != ed25519.SeedSize {
		seed, err = hex.DecodeString(string(bytes.TrimSpace(raw)))
		if err != nil || len(seed) != ed25519.SeedSize {
			return nil, fmt.Errorf("player: %s: want a 32-byte Ed25519 seed (raw or hex)", path)
		}
	}
	_ = os.Chmod(path, 0o600)
	return ed25519.NewKeyFromSeed(seed), nil
}

func loadIdentity(path string) (identity, error) {
	var id identity
	raw, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return id, nil
	}
	if err != nil {
		return id, fmt.Errorf("player: read state: %w", err)
	}
	if err := json.Unmarshal(raw, &id); err != nil {
		return identity{}, fmt.Errorf("player: %s: %w", path, err)
	}
	if id.DisplayID == "" || len(id.ServerKey) != ed25519.PublicKeySize {
		return identity{}, fmt.Errorf("player: %s: display_id and a 32-byte server_key are required", path)
	}
	return id, nil
}

func (p *Player) saveIdentity(id identity) error {
	raw, err := json.MarshalIndent(id, "", "  ")
	if err != nil {
		return err
	}
	return writeFileAtomic(filepath.Join(p.cfg.DataDir, stateFile), append(raw, '\n'), 0o600)
}

// loadManifest re-verifies manifest.json with the pinned key. A manifest
// that fails is deleted and reported as an incident once connected.
func (p *Player) loadManifest() {
	path := filepath.Join(p.cfg.DataDir, manifestFile)
	raw, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return
	}
	fail := func(err error) {
		p.log.Error("stored manifest rejected", "err", err)
		_ = os.Remove(path)
		p.report(protocol.Incident{
			Kind:    protocol.IncidentBadSignature,
			Message: "stored manifest failed verification: " + err.Error(),
		})
	}
	if err != nil {
		fail(err)
		return
	}
	var sm protocol.SignedManifest
	if err := json.Unmarshal(raw, &sm); err != nil {
		fail(err)
		return
	}
	if p.ident.DisplayID == "" {
		fail(errors.New("no pinned server key"))
		return
	}
	m, err := protocol.VerifyManifest(p.ident.ServerKey, sm)
	if err != nil {
		fail(err)
		return
	}
	if m.DisplayID != p.ident.DisplayID {
		fail(fmt.Errorf("manifest is for display %q, not %q", m.DisplayID, p.ident.DisplayID))
		return
	}
	p.manifest = &m
	p.gen++
	p.log.Info("stored manifest verified", "version", m.Version, "files", len(m.Files))
}

// Reset returns the player whose data directory is dataDir to pairing: it
// forgets the display id, the pinned server key, the last manifest and the
// incidents kept for that server. The player's own key and its content
// cache stay. Run it only while the player is stopped. It returns the
// files it removed.
func Reset(dataDir string) ([]string, error) {
	if dataDir == "" {
		return nil, errors.New("player: data directory is required")
	}
	if _, err := os.Stat(dataDir); err != nil {
		return nil, fmt.Errorf("player: %w", err)
	}
	var removed []string
	for _, name := range []string{stateFile, manifestFile, incidentsFile, overrideFile} {
		path := filepath.Join(dataDir, name)
		err := os.Remove(path)
		switch {
		case err == nil:
			removed = append(removed, path)
		case !errors.Is(err, fs.ErrNotExist):
			return removed, fmt.Errorf("player: reset: %w", err)
		}
	}
	if d, err := os.Open(dataDir); err == nil {
		_ = d.Sync()
		d.Close()
	}
	return removed, nil
}

// forgetPairingLocked returns the running player to pairing (a verified
// unpair from the pinned server); call with p.mu held.
func (p *Player) forgetPairingLocked() {
	if err := os.Remove(filepath.Join(p.cfg.DataDir, stateFile)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		p.log.Error("remove state", "err", err)
	}
	p.ident = identity{}
	p.dropManifestLocked()
	p.removeManifestFile()
	p.incidents = nil
	p.saveIncidentsLocked()
	clear(p.ovr)
	clear(p.ovrCancelled)
	p.saveOverridesLocked()
	p.pairingCode = ""
}

func (p *Player) saveManifest(sm protocol.SignedManifest) error {
	raw, err := json.Marshal(sm)
	if err != nil {
		return err
	}
	return writeFileAtomic(filepath.Join(p.cfg.DataDir, manifestFile), raw, 0o600)
}

func (p *Player) removeManifestFile() {
	_ = os.Remove(filepath.Join(p.cfg.DataDir, manifestFile))
}

// writeFileAtomic writes data to a temporary file in the same directory,
// syncs it and renames it over path.
func writeFileAtomic(path string, data []byte, perm os.FileMode) error {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	ok := false
	defer func() {
		if !ok {
			f.Close()
			os.Remove(tmp)
		}
	}()
	if err := f.Chmod(perm); err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	ok = true
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		d.Close()
	}
	return nil
}
