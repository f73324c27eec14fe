package protocol

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// Version is the protocol version this package speaks.
const Version = 1

// Subprotocol is the WebSocket subprotocol name a player must offer.
const Subprotocol = "beacon.v1"

// WSPath is where the server accepts player connections.
const WSPath = "/player/v1/ws"

// MaxFrameSize is the largest frame either side accepts (1 MiB).
const MaxFrameSize = 1 << 20

// Message types. The direction is noted as P→S (player to server) or S→P.
const (
	TypeHello       = "hello"         // P→S: first frame: identity and state
	TypeChallenge   = "challenge"     // S→P: nonce to sign, server's signing key
	TypeAuth        = "auth"          // P→S: signature over the challenge
	TypeAuthOK      = "auth_ok"       // S→P: known display; session token
	TypePairing     = "pairing"       // S→P: unknown key; code to show on screen
	TypePaired      = "paired"        // S→P: an operator claimed the code
	TypeManifest    = "manifest"      // S→P: signed manifest
	TypeFileList    = "file_list"     // P→S: what the cache holds and lacks
	TypeHeartbeat   = "heartbeat"     // P→S: liveness and what is playing
	TypeAck         = "ack"           // both: a message was received and applied
	TypeError       = "error"         // both: a message was refused
	TypeIncident    = "incident"      // P→S: security incident (bad signature, bad hash)
	TypeProofOfPlay = "proof_of_play" // P→S: journalled plays; the server acks them
	TypeUnpair      = "unpair"        // S→P: signed release of a paired player

	TypeOverride       = "override"        // S→P: signed emergency override (SignedOverride)
	TypeOverrideCancel = "override_cancel" // S→P: signed end of an override
	TypeOverrideAck    = "override_ack"    // P→S: received, painted, ended or refused
)

// KnownTypes lists every message type of this version.
var KnownTypes = []string{
	TypeHello, TypeChallenge, TypeAuth, TypeAuthOK, TypePairing, TypePaired,
	TypeManifest, TypeFileList, TypeHeartbeat, TypeAck, TypeError, TypeIncident,
	TypeProofOfPlay, TypeUnpair, TypeOverride, TypeOverrideCancel, TypeOverrideAck,
}

// Envelope wraps every frame.
type Envelope struct {
	Type string          `json:"type"`
	ID   string          `json:"id"`
	TS   time.Time       `json:"ts"`
	Body json.RawMessage `json:"body,omitempty"`
}

// Errors returned by Decode.
var (
	ErrFrameTooLarge = errors.New("protocol: frame exceeds 1 MiB")
	ErrMalformed     = errors.New("protocol: malformed frame")
	ErrUnknownType   = errors.New("protocol: unknown message type")
	// ErrUnsupportedVersion: a hello asks for a protocol version this side
	// does not speak.
	ErrUnsupportedVersion = errors.New("protocol: unsupported protocol version")
)

// Error codes carried in ErrorBody.Code.
const (
	CodeMalformed      = "malformed"
	CodeUnknownType    = "unknown_type"
	CodeTooLarge       = "frame_too_large"
	CodeBadVersion     = "unsupported_version"
	CodeAuthFailed     = "auth_failed"
	CodeUnexpected     = "unexpected_message"
	CodeInternal       = "internal"
	CodeBadSignature   = "bad_signature"
	CodeStaleManifest  = "stale_manifest"
	CodePairingExpired = "pairing_expired"
)

// NewID returns a fresh random message id (16 hex characters).
func NewID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// New builds an envelope of the given type with a fresh id and the current time.
func New(typ string, body any) (Envelope, error) {
	raw, err := json.Marshal(body)
	if err != nil {
		return Envelope{}, fmt.Errorf("protocol: encode %s body: %w", typ, err)
	}
	return Envelope{Type: typ, ID: NewID(), TS: time.Now().UTC(), Body: raw}, nil
}

// Encode builds an envelope and serialises it to one frame.
func Encode(typ string, body any) ([]byte, error) {
	env, err := New(typ, body)
	if err != nil {
		return nil, err
	}
	return Marshal(env)
}

// Marshal serialises an envelope, refusing frames over MaxFrameSize.
func Marshal(env Envelope) ([]byte, error) {
	b, err := json.Marshal(env)
	if err != nil {
		return nil, fmt.Errorf("protocol: encode envelope: %w", err)
	}
	if len(b) > MaxFrameSize {
		return nil, ErrFrameTooLarge
	}
	return b, nil
}

// Decode parses one frame into an envelope. It refuses frames over
// MaxFrameSize, frames that are not a JSON object with a type, and unknown
// types (the envelope is still returned so the caller can answer with an
// error that refers to its id). Unknown fields are ignored.
func Decode(frame []byte) (Envelope, error) {
	var env Envelope
	if len(frame) > MaxFrameSize {
		return env, ErrFrameTooLarge
	}
	frame = bytes.TrimSpace(frame)
	if len(frame) == 0 || frame[0] != '{' {
		return env, fmt.Errorf("%w: not a JSON object", ErrMalformed)
	}
	if err := json.Unmarshal(frame, &env); err != nil {
		return Envelope{}, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if env.Type == "" {
		return env, fmt.Errorf("%w: missing type", ErrMalformed)
	}
	if len(env.Body) > 0 && !json.Valid(env.Body) {
		return env, fmt.Errorf("%w: body is not valid JSON", ErrMalformed)
	}
	if !isKnown(env.Type) {
		return env, fmt.Errorf("%w %q", ErrUnknownType, env.Type)
	}
	return env, nil
}

// DecodeBody unmarshals the envelope's body into v.
func (e Envelope) DecodeBody(v any) error {
	if len(e.Body) == 0 {
		return fmt.Errorf("%w: %s has no body", ErrMalformed, e.Type)
	}
	if err := json.Unmarshal(e.Body, v); err != nil {
		return fmt.Errorf("%w: %s body: %v", ErrMalformed, e.Type, err)
	}
	if c, ok := v.(interface{ Check() error }); ok {
		if err := c.Check(); err != nil {
			return fmt.Errorf("%w: %s body: %w", ErrMalformed, e.Type, err)
		}
	}
	return nil
}

// ErrorFor returns the error body to send back for a Decode error.
func ErrorFor(err error, ref string) ErrorBody {
	switch {
	case errors.Is(err, ErrFrameTooLarge):
		return ErrorBody{Code: CodeTooLarge, Message: "frame exceeds 1 MiB", Ref: ref}
	case errors.Is(err, ErrUnknownType):
		return ErrorBody{Code: CodeUnknownType, Message: err.Error(), Ref: ref}
	case errors.Is(err, ErrUnsupportedVersion):
		return ErrorBody{Code: CodeBadVersion, Message: err.Error(), Ref: ref}
	case errors.Is(err, ErrBadSignature):
		return ErrorBody{Code: CodeBadSignature, Message: err.Error(), Ref: ref}
	default:
		return ErrorBody{Code: CodeMalformed, Message: err.Error(), Ref: ref}
	}
}

func isKnown(t string) bool {
	for _, k := range KnownTypes {
		if k == t {
			return true
		}
	}
	return false
}
