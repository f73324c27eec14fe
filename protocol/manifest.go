package protocol

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"time"
)

// Manifest tells a display what to play and which files it needs.
type Manifest struct {
	DisplayID string      `json:"display_id"`
	Version   int64       `json:"version"` // strictly increasing per display
	IssuedAt  time.Time   `json:"issued_at"`
	Display   DisplaySpec `json:"display"`
	Timezone  string      `json:"timezone"`
	// Playlist is a plain loop, for players that do not evaluate programs.
	// When Program is present, Playlist is empty and Program rules.
	Playlist Playlist `json:"playlist"`
	// Program is the display's schedule rules (beacon/playlists.Program as
	// JSON): items, playlists, layouts, schedules, operating hours, time
	// zone. The player evaluates it to know what each zone shows.
	Program json.RawMessage `json:"program,omitempty"`
	// PrefetchDays is how far ahead Files reaches: every file the program
	// needs over the next PrefetchDays days.
	PrefetchDays int    `json:"prefetch_days,omitempty"`
	Files        []File `json:"files"`
}

// DisplaySpec is the panel the manifest was compiled for.
type DisplaySpec struct {
	Width      int    `json:"width"`
	Height     int    `json:"height"`
	Fit        string `json:"fit"`        // contain, cover or stretch
	Background string `json:"background"` // letterbox colour, #rrggbb
}

// Playlist is an ordered loop of items.
type Playlist struct {
	ID    string `json:"id"`
	Name  string `json:"name"`
	Items []Item `json:"items"`
}

// Item is one entry of a playlist.
type Item struct {
	ID        string  `json:"id"`
	MediaID   string  `json:"media_id"`
	Kind      string  `json:"kind"` // image
	SHA256    string  `json:"sha256"`
	DurationS float64 `json:"duration_s"`
}

// File is a file the display needs in its cache.
type File struct {
	SHA256      string `json:"sha256"`
	Size        int64  `json:"size"`
	URL         string `json:"url"` // path on the server, e.g. /player/v1/files/{sha256}
	Profile     string `json:"profile"`
	ContentType string `json:"content_type"`
}

var sha256Hex = regexp.MustCompile(`^[0-9a-f]{64}$`)

// ValidSHA256 reports whether s is a lower-case hex SHA-256.
func ValidSHA256(s string) bool { return sha256Hex.MatchString(s) }

// Check validates a manifest's internal consistency: every item names a
// listed file, every file has a valid hash and size.
func (m Manifest) Check() error {
	if m.DisplayID == "" {
		return errors.New("display_id is required")
	}
	if m.Version <= 0 {
		return errors.New("version must be positive")
	}
	files := make(map[string]bool, len(m.Files))
	for _, f := range m.Files {
		if !ValidSHA256(f.SHA256) {
			return fmt.Errorf("file %q: sha256 must be 64 lower-case hex characters", f.SHA256)
		}
		if f.Size < 0 {
			return fmt.Errorf("file %s: negative size", f.SHA256)
		}
		files[f.SHA256] = true
	}
	for _, it := range m.Playlist.Items {
		if !files[it.SHA256] {
			return fmt.Errorf("item %s: file %s is not listed", it.ID, it.SHA256)
		}
		if it.DurationS <= 0 {
			return fmt.Errorf("item %s: duration_s must be positive", it.ID)
		}
	}
	return nil
}

// SignedManifest is the body of a manifest message. Payload holds the
// manifest's JSON bytes exactly as signed (base64 in JSON), so no
// re-encoding can change what the signature covers.
type SignedManifest struct {
	Payload   []byte `json:"payload"`
	Signature []byte `json:"signature"`
	KeyID     string `json:"key_id"`
}

// Check validates the shape of a signed manifest.
func (s SignedManifest) Check() error {
	if len(s.Payload) == 0 {
		return errors.New("payload is empty")
	}
	if len(s.Signature) != ed25519.SignatureSize {
		return fmt.Errorf("signature must be %d bytes", ed25519.SignatureSize)
	}
	return nil
}

// Domain-separation prefixes for everything signed in protocol v1.
const (
	manifestContext = "beacon.v1 manifest\n"
	authContext     = "beacon.v1 auth\n"
)

// ErrBadSignature is returned when a signature does not verify.
var ErrBadSignature = errors.New("protocol: bad signature")

// KeyID names a public key: the first 8 bytes of its SHA-256, in hex.
func KeyID(pub ed25519.PublicKey) string {
	sum := sha256.Sum256(pub)
	return hex.EncodeToString(sum[:8])
}

// SignManifest serialises and signs a manifest.
func SignManifest(priv ed25519.PrivateKey, m Manifest) (SignedManifest, error) {
	if err := m.Check(); err != nil {
		return SignedManifest{}, fmt.Errorf("protocol: manifest: %w", err)
	}
	payload, err := json.Marshal(m)
	if err != nil {
		return SignedManifest{}, fmt.Errorf("protocol: encode manifest: %w", err)
	}
	sig := ed25519.Sign(priv, append([]byte(manifestContext), payload...))
	return SignedManifest{Payload: payload, Signature: sig, KeyID: KeyID(priv.Public().(ed25519.PublicKey))}, nil
}

// VerifyManifest checks the signature with the pinned server key and
// returns the manifest. Nothing from an unverified payload is returned.
func VerifyManifest(pub ed25519.PublicKey, s SignedManifest) (Manifest, error) {
	if err := s.Check(); err != nil {
		return Manifest{}, fmt.Errorf("%w: %v", ErrBadSignature, err)
	}
	if err := CheckPublicKey(pub); err != nil {
		return Manifest{}, fmt.Errorf("%w: pinned server key: %v", ErrBadSignature, err)
	}
	if !ed25519.Verify(pub, append([]byte(manifestContext), s.Payload...), s.Signature) {
		return Manifest{}, ErrBadSignature
	}
	var m Manifest
	if err := json.Unmarshal(s.Payload, &m); err != nil {
		return Manifest{}, fmt.Errorf("%w: signed payload: %v", ErrMalformed, err)
	}
	if err := m.Check(); err != nil {
		return Manifest{}, fmt.Errorf("%w: manifest: %v", ErrMalformed, err)
	}
	return m, nil
}

// AuthMessage is what a player signs to answer a challenge.
func AuthMessage(nonce []byte, playerKey ed25519.PublicKey) []byte {
	msg := make([]byte, 0, len(authContext)+len(nonce)+len(playerKey))
	msg = append(msg, authContext...)
	msg = append(msg, nonce...)
	return append(msg, playerKey...)
}

// SignAuth answers a challenge.
func SignAuth(priv ed25519.PrivateKey, nonce []byte) Auth {
	pub := priv.Public().(ed25519.PublicKey)
	return Auth{Signature: ed25519.Sign(priv, AuthMessage(nonce, pub))}
}

// VerifyAuth checks a player's answer to a challenge.
func VerifyAuth(playerKey ed25519.PublicKey, nonce []byte, a Auth) error {
	if CheckPublicKey(playerKey) != nil || len(a.Signature) != ed25519.SignatureSize {
		return ErrBadSignature
	}
	if !ed25519.Verify(playerKey, AuthMessage(nonce, playerKey), a.Signature) {
		return ErrBadSignature
	}
	return nil
}
