package protocol

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/binary"
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
	// Playlist is deprecated: the plain loop of manifests before programs.
	// Senders write it empty ({"id":"","name":"","items":[]}); receivers
	// ignore it. It stays on the wire because v1 never removes a field.
	Playlist Playlist `json:"playlist"`
	// Program is the display's schedule rules (beacon/playlists.Program as
	// JSON): items, playlists, layouts, schedules, operating hours, time
	// zone. Every manifest carries one; the player evaluates it to know
	// what each zone shows.
	Program json.RawMessage `json:"program"`
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

// Playlist is the deprecated plain loop (Manifest.Playlist): always empty.
type Playlist struct {
	ID    string `json:"id"`
	Name  string `json:"name"`
	Items []Item `json:"items"`
}

// Item is an entry of the deprecated plain loop. Deprecated: never sent.
type Item struct {
	ID        string  `json:"id"`
	MediaID   string  `json:"media_id"`
	Kind      string  `json:"kind"`
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

// Check validates a manifest's internal consistency: a display, a
// positive version, a program (a JSON object; its rules are checked by
// playlists.Validate), every file with a valid hash and size. The
// deprecated playlist is ignored.
func (m Manifest) Check() error {
	if m.DisplayID == "" {
		return errors.New("display_id is required")
	}
	if m.Version <= 0 {
		return errors.New("version must be positive")
	}
	if p := bytes.TrimSpace(m.Program); len(p) == 0 || p[0] != '{' {
		return errors.New("program is required (a JSON object)")
	}
	for _, f := range m.Files {
		if !ValidSHA256(f.SHA256) {
			return fmt.Errorf("file %q: sha256 must be 64 lower-case hex characters", f.SHA256)
		}
		if f.Size < 0 {
			return fmt.Errorf("file %s: negative size", f.SHA256)
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
	manifestContext  = "beacon.v1 manifest\n"
	authContext      = "beacon.v1 auth+server\n"
	challengeContext = "beacon.v1 challenge\n"
	unpairContext    = "beacon.v1 unpair\n"
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
	payload, sig, err := signJSON(priv, manifestContext, "manifest", m)
	if err != nil {
		return SignedManifest{}, err
	}
	return SignedManifest{Payload: payload, Signature: sig, KeyID: KeyID(priv.Public().(ed25519.PublicKey))}, nil
}

// VerifyManifest checks the signature with the pinned server key and
// returns the manifest. Nothing from an unverified payload is returned.
// A body of the wrong shape (empty payload, a signature that is not 64
// bytes) and a verified payload that fails Manifest.Check are
// ErrMalformed; a signature that does not verify is ErrBadSignature
// (docs/protocol.md §7 steps 1–3).
func VerifyManifest(pub ed25519.PublicKey, s SignedManifest) (Manifest, error) {
	if err := s.Check(); err != nil {
		return Manifest{}, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	return verifyJSON[Manifest](pub, manifestContext, "manifest", s.Payload, s.Signature)
}

// signJSON checks v, serialises it and signs the bytes under context.
func signJSON[T interface{ Check() error }](priv ed25519.PrivateKey, context, what string, v T) (payload, sig []byte, err error) {
	if err := v.Check(); err != nil {
		return nil, nil, fmt.Errorf("protocol: %s: %w", what, err)
	}
	payload, err = json.Marshal(v)
	if err != nil {
		return nil, nil, fmt.Errorf("protocol: encode %s: %w", what, err)
	}
	return payload, ed25519.Sign(priv, append([]byte(context), payload...)), nil
}

// verifyJSON checks a signature over payload under context with the pinned
// key, then decodes and checks the payload. Nothing from an unverified
// payload is returned.
func verifyJSON[T any, PT interface {
	*T
	Check() error
}](pinned ed25519.PublicKey, context, what string, payload, sig []byte) (T, error) {
	var zero T
	if err := CheckPublicKey(pinned); err != nil {
		return zero, fmt.Errorf("%w: pinned server key: %v", ErrBadSignature, err)
	}
	if !ed25519.Verify(pinned, append([]byte(context), payload...), sig) {
		return zero, ErrBadSignature
	}
	var v T
	if err := json.Unmarshal(payload, &v); err != nil {
		return zero, fmt.Errorf("%w: signed payload: %v", ErrMalformed, err)
	}
	if err := PT(&v).Check(); err != nil {
		return zero, fmt.Errorf("%w: %s: %v", ErrMalformed, what, err)
	}
	return v, nil
}

// AuthMessage is what a player signs to answer a challenge: the server's
// key, the player's key and the server's nonce, so the signature is good
// only for this nonce at a server holding serverKey (a relay cannot pass
// one server's challenge to another under its own key).
func AuthMessage(serverKey, nonce []byte, playerKey ed25519.PublicKey) []byte {
	msg := make([]byte, 0, len(authContext)+len(serverKey)+len(playerKey)+len(nonce))
	msg = append(msg, authContext...)
	msg = append(msg, serverKey...)
	msg = append(msg, playerKey...)
	return append(msg, nonce...)
}

// SignAuth answers a challenge.
func SignAuth(priv ed25519.PrivateKey, c Challenge) Auth {
	pub := priv.Public().(ed25519.PublicKey)
	return Auth{Signature: ed25519.Sign(priv, AuthMessage(c.ServerKey, c.Nonce, pub))}
}

// VerifyAuth checks a player's answer to the challenge c.
func VerifyAuth(playerKey ed25519.PublicKey, c Challenge, a Auth) error {
	if CheckPublicKey(playerKey) != nil || len(a.Signature) != ed25519.SignatureSize || len(c.ServerKey) != ed25519.PublicKeySize {
		return ErrBadSignature
	}
	if !ed25519.Verify(playerKey, AuthMessage(c.ServerKey, c.Nonce, playerKey), a.Signature) {
		return ErrBadSignature
	}
	return nil
}

// ChallengeMessage is what the server signs to prove, in its challenge,
// that it holds its key: the player's key, the player's hello nonce (32
// bytes) and the server's own nonce.
func ChallengeMessage(playerKey, playerNonce, serverNonce []byte) []byte {
	msg := make([]byte, 0, len(challengeContext)+len(playerKey)+len(playerNonce)+len(serverNonce))
	msg = append(msg, challengeContext...)
	msg = append(msg, playerKey...)
	msg = append(msg, playerNonce...)
	return append(msg, serverNonce...)
}

// SignChallenge fills c.Signature for the player whose hello carried
// playerKey and playerNonce. c.ServerKey must be priv's public key.
func SignChallenge(priv ed25519.PrivateKey, playerKey, playerNonce []byte, c *Challenge) {
	c.Signature = ed25519.Sign(priv, ChallengeMessage(playerKey, playerNonce, c.Nonce))
}

// VerifyChallenge checks that a challenge comes from the holder of pinned:
// its server_key is pinned and its signature covers this player's key and
// the nonce of this session's hello. A paired player calls it before it
// signs anything.
func VerifyChallenge(pinned ed25519.PublicKey, playerKey, playerNonce []byte, c Challenge) error {
	if CheckPublicKey(pinned) != nil {
		return fmt.Errorf("%w: pinned server key is not usable", ErrBadSignature)
	}
	if !bytes.Equal(c.ServerKey, pinned) {
		return fmt.Errorf("%w: %s", ErrServerKeyMismatch, describeKey(c.ServerKey, pinned))
	}
	if len(playerNonce) != NonceSize || len(c.Signature) != ed25519.SignatureSize {
		return fmt.Errorf("%w: challenge is not signed for this session", ErrBadSignature)
	}
	if !ed25519.Verify(pinned, ChallengeMessage(playerKey, playerNonce, c.Nonce), c.Signature) {
		return fmt.Errorf("%w: challenge signature does not verify with the pinned key %s", ErrBadSignature, KeyID(pinned))
	}
	return nil
}

// ErrServerKeyMismatch: a server presented a key other than the pinned one.
var ErrServerKeyMismatch = errors.New("protocol: server key differs from the pinned key")

func describeKey(got, pinned []byte) string {
	if len(got) != ed25519.PublicKeySize {
		return fmt.Sprintf("server_key of %d bytes, pinned key %s", len(got), KeyID(pinned))
	}
	return fmt.Sprintf("server_key %s, pinned key %s", KeyID(got), KeyID(pinned))
}

// UnpairMessage is what the server signs to release a paired player:
// the player's key, the nonce of the player's hello on this session, the
// time (Unix seconds, big-endian) and the display id.
func UnpairMessage(playerKey, playerNonce []byte, issuedAt time.Time, displayID string) []byte {
	msg := make([]byte, 0, len(unpairContext)+len(playerKey)+len(playerNonce)+8+len(displayID))
	msg = append(msg, unpairContext...)
	msg = append(msg, playerKey...)
	msg = append(msg, playerNonce...)
	msg = binary.BigEndian.AppendUint64(msg, uint64(issuedAt.Unix()))
	return append(msg, displayID...)
}

// SignUnpair builds a signed unpair for the player whose hello on the
// current session carried playerKey and playerNonce.
func SignUnpair(priv ed25519.PrivateKey, displayID string, playerKey, playerNonce []byte, issuedAt time.Time) Unpair {
	issuedAt = issuedAt.UTC().Truncate(time.Second)
	return Unpair{
		DisplayID: displayID, PlayerKey: bytes.Clone(playerKey), Nonce: bytes.Clone(playerNonce), IssuedAt: issuedAt,
		Signature: ed25519.Sign(priv, UnpairMessage(playerKey, playerNonce, issuedAt, displayID)),
	}
}

// VerifyUnpair checks an unpair with the pinned server key, for this
// display, this player key and this session's hello nonce.
func VerifyUnpair(pinned ed25519.PublicKey, displayID string, playerKey, playerNonce []byte, u Unpair) error {
	if CheckPublicKey(pinned) != nil || len(u.Signature) != ed25519.SignatureSize {
		return ErrBadSignature
	}
	switch {
	case u.DisplayID != displayID:
		return fmt.Errorf("%w: unpair is for display %q, this is %q", ErrBadSignature, u.DisplayID, displayID)
	case !bytes.Equal(u.PlayerKey, playerKey):
		return fmt.Errorf("%w: unpair is for another player key", ErrBadSignature)
	case len(playerNonce) != NonceSize || !bytes.Equal(u.Nonce, playerNonce):
		return fmt.Errorf("%w: unpair is not for this session (nonce differs)", ErrBadSignature)
	}
	if !ed25519.Verify(pinned, UnpairMessage(u.PlayerKey, u.Nonce, u.IssuedAt, u.DisplayID), u.Signature) {
		return fmt.Errorf("%w: unpair signature does not verify with the pinned key %s", ErrBadSignature, KeyID(pinned))
	}
	return nil
}
