package protocol

import (
	"crypto/ed25519"
	"errors"
	"fmt"
	"time"
)

// Hello is the player's first frame after the WebSocket opens.
type Hello struct {
	ProtocolVersion int    `json:"protocol_version"`
	PlayerVersion   string `json:"player_version,omitempty"`
	PublicKey       []byte `json:"public_key"`                 // Ed25519, 32 bytes, base64 in JSON
	DisplayID       string `json:"display_id,omitempty"`       // as remembered from pairing
	ManifestVersion int64  `json:"manifest_version,omitempty"` // newest verified manifest held
	// Nonce is 32 fresh random bytes per session. The server signs it in
	// its challenge (proving it holds its key) and in an unpair, so that
	// neither can be replayed on another session.
	Nonce []byte `json:"nonce,omitempty"`
	// Capabilities the player supports beyond the base protocol
	// (CapOverride, …). Unknown ones are ignored.
	Capabilities []string `json:"capabilities,omitempty"`
}

// NonceSize is the size of the player's hello nonce.
const NonceSize = 32

// Check validates a hello.
func (h Hello) Check() error {
	if h.ProtocolVersion != Version {
		return fmt.Errorf("%w: protocol_version %d (this side speaks %d)", ErrUnsupportedVersion, h.ProtocolVersion, Version)
	}
	if len(h.Nonce) != 0 && len(h.Nonce) != NonceSize {
		return fmt.Errorf("nonce must be %d bytes", NonceSize)
	}
	return checkKey("public_key", h.PublicKey)
}

// Challenge is the server's answer to hello.
type Challenge struct {
	Nonce      []byte    `json:"nonce"`      // 32 random bytes
	ServerKey  []byte    `json:"server_key"` // the server's Ed25519 manifest-signing key
	ServerTime time.Time `json:"server_time"`
	// Signature is the server's Ed25519 signature over
	// ChallengeMessage(player key, hello nonce, nonce); present when the
	// hello carried a nonce. A paired player checks it with its pinned key
	// before it answers.
	Signature []byte `json:"signature,omitempty"`
}

// Check validates a challenge.
func (c Challenge) Check() error {
	if len(c.Nonce) < 16 {
		return errors.New("nonce must be at least 16 bytes")
	}
	if len(c.Signature) != 0 && len(c.Signature) != ed25519.SignatureSize {
		return fmt.Errorf("signature must be %d bytes", ed25519.SignatureSize)
	}
	return checkKey("server_key", c.ServerKey)
}

// Auth carries the player's signature over AuthMessage(server key, nonce,
// public key).
type Auth struct {
	Signature []byte `json:"signature"`
}

// Check validates an auth body.
func (a Auth) Check() error {
	if len(a.Signature) != ed25519.SignatureSize {
		return fmt.Errorf("signature must be %d bytes", ed25519.SignatureSize)
	}
	return nil
}

// AuthOK tells a known display it is authenticated.
type AuthOK struct {
	DisplayID       string `json:"display_id"`
	Name            string `json:"name"`
	Token           string `json:"token"` // bearer token for /player/v1/files, this session only
	ServerKey       []byte `json:"server_key"`
	ManifestVersion int64  `json:"manifest_version"` // the server's current version for this display
	// OrgID is the display's organisation: overrides and cancels name it,
	// and the player applies only those of its own organisation.
	OrgID string `json:"org_id,omitempty"`
}

// Pairing tells an unknown player the code to show on its screen.
type Pairing struct {
	Code      string    `json:"code"`
	ExpiresAt time.Time `json:"expires_at"`
}

// Paired tells the player an operator claimed its code. The player pins
// ServerKey from now on.
type Paired struct {
	DisplayID string `json:"display_id"`
	Name      string `json:"name"`
	Token     string `json:"token"`
	ServerKey []byte `json:"server_key"`
	OrgID     string `json:"org_id,omitempty"` // as in AuthOK
}

// Check validates a paired body.
func (p Paired) Check() error {
	if p.DisplayID == "" {
		return errors.New("display_id is required")
	}
	return checkKey("server_key", p.ServerKey)
}

// Unpair releases a paired player: the display was deleted on the server.
// It is signed by the server's key (UnpairMessage) and bound to the
// display, the player's key and the nonce of the player's hello on this
// session, so it cannot be replayed to another player or session.
type Unpair struct {
	DisplayID string    `json:"display_id"`
	PlayerKey []byte    `json:"player_key"`
	Nonce     []byte    `json:"nonce"`
	IssuedAt  time.Time `json:"issued_at"` // whole seconds
	Signature []byte    `json:"signature"`
}

// Check validates the shape of an unpair.
func (u Unpair) Check() error {
	switch {
	case u.DisplayID == "":
		return errors.New("display_id is required")
	case len(u.PlayerKey) != ed25519.PublicKeySize:
		return fmt.Errorf("player_key must be %d bytes", ed25519.PublicKeySize)
	case len(u.Nonce) != NonceSize:
		return fmt.Errorf("nonce must be %d bytes", NonceSize)
	case len(u.Signature) != ed25519.SignatureSize:
		return fmt.Errorf("signature must be %d bytes", ed25519.SignatureSize)
	}
	return nil
}

// FileList reports what the player's cache holds for its current manifest.
type FileList struct {
	ManifestVersion int64    `json:"manifest_version"`
	Have            []string `json:"have"`    // sha256 of verified files
	Missing         []string `json:"missing"` // sha256 still to download
}

// NowPlaying describes the item on screen.
type NowPlaying struct {
	ItemID    string    `json:"item_id"`
	MediaID   string    `json:"media_id"`
	SHA256    string    `json:"sha256"`
	StartedAt time.Time `json:"started_at"`
}

// CacheStats summarises the player's content cache.
type CacheStats struct {
	Files   int   `json:"files"`
	Bytes   int64 `json:"bytes"`
	Missing int   `json:"missing"`
}

// Player states reported in heartbeats.
const (
	StatePairing = "pairing" // showing a pairing code
	StateWaiting = "waiting" // paired, nothing playable yet
	StatePlaying = "playing"
	StateOff     = "off" // screen blanked (outside operating hours)
)

// Heartbeat is sent by the player periodically (default every 15 s).
type Heartbeat struct {
	ManifestVersion   int64       `json:"manifest_version"`
	State             string      `json:"state"`
	NowPlaying        *NowPlaying `json:"now_playing,omitempty"`
	Cache             CacheStats  `json:"cache"`
	RendererConnected bool        `json:"renderer_connected"`
	UptimeS           int64       `json:"uptime_s"`
	PlayerTime        time.Time   `json:"player_time"`
}

// Ack acknowledges the message whose id is Ref.
type Ack struct {
	Ref             string `json:"ref"`
	ManifestVersion int64  `json:"manifest_version,omitempty"` // for manifest acks: the version applied
}

// ErrorBody refuses the message whose id is Ref (empty if it had none).
type ErrorBody struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Ref     string `json:"ref,omitempty"`
}

// Incident kinds.
const (
	IncidentBadSignature = "bad_signature" // a manifest failed verification
	IncidentHashMismatch = "hash_mismatch" // a file's SHA-256 differed from the manifest
	// IncidentServerKeyMismatch: a server did not prove it holds the
	// pinned key (its challenge named another key, or was not signed for
	// this session by the pinned key, as when relayed). The player signed
	// nothing for it.
	IncidentServerKeyMismatch = "server_key_mismatch"
	// IncidentUnexpectedPairing: a paired player was offered pairing or
	// paired; it refused.
	IncidentUnexpectedPairing = "unexpected_pairing"

	// A cached file no longer matched its SHA-256 when re-verified before
	// use: the player removed it, fetches it again and keeps playing.
	IncidentCacheTampered = "cache_tampered"
)

// Incident reports a security incident the player detected and stopped.
type Incident struct {
	Kind            string `json:"kind"`
	Message         string `json:"message"`
	ManifestVersion int64  `json:"manifest_version,omitempty"`
	SHA256          string `json:"sha256,omitempty"`
}

// PlayRecord is one play journalled by the player: an item that was on
// screen in a zone over [Start, End). ID is unique per player and never
// reused, so the server counts each play once however often it is sent.
type PlayRecord struct {
	ID         string    `json:"id"`
	Zone       string    `json:"zone"`
	ItemID     string    `json:"item_id"`
	SHA256     string    `json:"sha256,omitempty"`
	ScheduleID string    `json:"schedule_id,omitempty"`
	Start      time.Time `json:"start"`
	End        time.Time `json:"end"`
}

// MaxPlayRecords is the most records one proof_of_play frame carries.
const MaxPlayRecords = 2000

// ProofOfPlay carries journalled plays. The server stores them and answers
// with an ack whose ref is this message's id; only then does the player
// drop them from its journal.
type ProofOfPlay struct {
	Records []PlayRecord `json:"records"`
}

// Check validates a proof_of_play body.
func (p ProofOfPlay) Check() error {
	if len(p.Records) > MaxPlayRecords {
		return fmt.Errorf("at most %d records per message", MaxPlayRecords)
	}
	for i, r := range p.Records {
		if r.ID == "" || r.ItemID == "" {
			return fmt.Errorf("records[%d]: id and item_id are required", i)
		}
		if r.End.Before(r.Start) {
			return fmt.Errorf("records[%d]: end before start", i)
		}
	}
	return nil
}
