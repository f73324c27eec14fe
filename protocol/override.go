package protocol

import (
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"
)

// Emergency overrides. An override is separate from the manifest: it never
// changes the program or the files the player keeps; the player shows it
// over (or instead of) its program while it is active and returns to the
// program, as the schedule has it at that instant, when it ends.
//
// The server signs each override once (SignOverride) and sends the same
// frame to every targeted display, so a broadcast is serialised and framed
// once. The signed payload names its audience (the organisation and, unless
// every display of it is targeted, the display ids), and a player applies
// only an override addressed to it.

// Override levels, lowest to highest.
const (
	LevelInfo     = "info"
	LevelWarning  = "warning"
	LevelCritical = "critical"
)

// LevelRank orders levels: info 1, warning 2, critical 3, unknown 0.
func LevelRank(level string) int {
	switch level {
	case LevelInfo:
		return 1
	case LevelWarning:
		return 2
	case LevelCritical:
		return 3
	}
	return 0
}

// Override presentations.
const (
	PresentFullscreen = "fullscreen" // takes the whole screen
	PresentBanner     = "banner"     // a band over the schedule, top or bottom
	PresentBlank      = "blank"      // black screen, no sound (kill switch)
	PresentSlate      = "slate"      // the player's fixed safe image (kill switch)
)

// Banner positions.
const (
	BannerTop    = "top"
	BannerBottom = "bottom"
)

// How several languages are shown.
const (
	LangsTogether = "together" // stacked, all at once
	LangsRotate   = "rotate"   // one language at a time, RotateS seconds each
)

// Tone is the alert sound of an override.
type Tone struct {
	// Kind is "alert" (the player's built-in alert tone) or "none".
	Kind string `json:"kind"`
	// Repeat is how many times it plays (1–20); 0 means once.
	Repeat int `json:"repeat,omitempty"`
}

// OverrideSpec is what the server signs: the whole override as the player
// must show it.
type OverrideSpec struct {
	ID           string `json:"id"`
	Revision     int64  `json:"revision"` // grows when the same override is updated
	Level        string `json:"level"`
	Presentation string `json:"presentation"`
	Position     string `json:"position,omitempty"` // banners: top or bottom (default bottom)
	// Texts maps language codes (vi, en, zh, …) to the message.
	Texts map[string]string `json:"texts,omitempty"`
	// Languages is the order in which texts are shown; default the
	// display's preferred languages, else DefaultLanguages, then the rest
	// alphabetically.
	Languages []string `json:"languages,omitempty"`
	// DefaultLanguages is the order for a display that has no languages
	// of its own: the deployment's (the server's --languages, Vietnamese
	// first by default). Players that predate it order such displays
	// alphabetically.
	DefaultLanguages []string `json:"default_languages,omitempty"`
	LangMode         string   `json:"lang_mode,omitempty"` // together (default) or rotate
	RotateS          float64  `json:"rotate_s,omitempty"`  // rotate: seconds per language (default 8)
	// Media are files shown with the text (image or video) or played
	// (audio), fetched like manifest files and verified by SHA-256.
	Media     []File    `json:"media,omitempty"`
	Tone      *Tone     `json:"tone,omitempty"`
	StartsAt  time.Time `json:"starts_at"`
	ExpiresAt time.Time `json:"expires_at"`
	// Wake makes the override show outside operating hours.
	Wake     bool      `json:"wake"`
	IssuedAt time.Time `json:"issued_at"`
	// Audience: the organisation, and the display ids unless AllDisplays.
	OrgID       string   `json:"org_id"`
	AllDisplays bool     `json:"all_displays,omitempty"`
	DisplayIDs  []string `json:"display_ids,omitempty"`
}

// MaxOverrideTextLen is the longest text per language, in bytes.
const MaxOverrideTextLen = 4000

// Check validates an override spec.
func (o OverrideSpec) Check() error {
	switch {
	case o.ID == "":
		return errors.New("id is required")
	case LevelRank(o.Level) == 0:
		return fmt.Errorf("level %q: want info, warning or critical", o.Level)
	case o.OrgID == "":
		return errors.New("org_id is required")
	case !o.AllDisplays && len(o.DisplayIDs) == 0:
		return errors.New("an override names its displays or all_displays")
	case o.ExpiresAt.IsZero() || !o.ExpiresAt.After(o.StartsAt):
		return errors.New("expires_at must be after starts_at")
	}
	switch o.Presentation {
	case PresentFullscreen, PresentBanner:
		if len(o.Texts) == 0 && len(o.Media) == 0 {
			return fmt.Errorf("a %s override needs texts or media", o.Presentation)
		}
	case PresentBlank, PresentSlate:
	default:
		return fmt.Errorf("presentation %q: want fullscreen, banner, blank or slate", o.Presentation)
	}
	switch o.Position {
	case "", BannerTop, BannerBottom:
	default:
		return fmt.Errorf("position %q: want top or bottom", o.Position)
	}
	switch o.LangMode {
	case "", LangsTogether, LangsRotate:
	default:
		return fmt.Errorf("lang_mode %q: want together or rotate", o.LangMode)
	}
	for lang, t := range o.Texts {
		if lang == "" || len(lang) > 16 {
			return fmt.Errorf("texts: bad language code %q", lang)
		}
		if len(t) > MaxOverrideTextLen {
			return fmt.Errorf("texts[%s]: longer than %d bytes", lang, MaxOverrideTextLen)
		}
	}
	for i, f := range o.Media {
		if !ValidSHA256(f.SHA256) || f.Size < 0 || f.URL == "" {
			return fmt.Errorf("media[%d]: sha256, size and url are required", i)
		}
	}
	if o.Tone != nil && (o.Tone.Repeat < 0 || o.Tone.Repeat > 20) {
		return errors.New("tone.repeat must be 0 to 20")
	}
	return nil
}

// For reports whether the override is addressed to the display.
func (o OverrideSpec) For(orgID, displayID string) bool {
	if o.OrgID != orgID {
		return false
	}
	return o.AllDisplays || slices.Contains(o.DisplayIDs, displayID)
}

// ActiveAt reports whether the override is in force at t.
func (o OverrideSpec) ActiveAt(t time.Time) bool {
	return !t.Before(o.StartsAt) && t.Before(o.ExpiresAt)
}

// Outranks reports whether o is shown before p when both are active on
// one screen: the higher level first, then the newer (issued later), then
// the greater id, so every player orders them alike.
func (o OverrideSpec) Outranks(p OverrideSpec) bool {
	if a, b := LevelRank(o.Level), LevelRank(p.Level); a != b {
		return a > b
	}
	if !o.IssuedAt.Equal(p.IssuedAt) {
		return o.IssuedAt.After(p.IssuedAt)
	}
	return o.ID > p.ID
}

// Covers reports whether the presentation hides the program (fullscreen,
// blank, slate); a banner lies over it and leaves it visible.
func (o OverrideSpec) Covers() bool { return o.Presentation != PresentBanner }

// Shown returns the override a display shows at t (docs/evaluation.md
// §15): among overrides, each verified, addressed to the display and not
// cancelled, those in force at t (and, when the program is off at t,
// only those with Wake) are candidates, and the one that Outranks every
// other is shown. ok is false when none is.
func Shown(overrides []OverrideSpec, t time.Time, programOff bool) (shown OverrideSpec, ok bool) {
	for _, o := range overrides {
		if !o.ActiveAt(t) || (programOff && !o.Wake) {
			continue
		}
		if !ok || o.Outranks(shown) {
			shown, ok = o, true
		}
	}
	return shown, ok
}

// SignedOverride is the body of an override message: the spec's JSON bytes
// exactly as signed, and the signature.
type SignedOverride struct {
	Payload   []byte `json:"payload"`
	Signature []byte `json:"signature"`
	KeyID     string `json:"key_id"`
}

// Check validates the shape of a signed override.
func (s SignedOverride) Check() error {
	if len(s.Payload) == 0 {
		return errors.New("payload is empty")
	}
	if len(s.Signature) != ed25519.SignatureSize {
		return fmt.Errorf("signature must be %d bytes", ed25519.SignatureSize)
	}
	return nil
}

// OverrideCancel ends an override before it expires. It is signed like an
// override (CancelMessage), and names the organisation so it cannot be
// replayed to another organisation's displays.
type OverrideCancel struct {
	ID          string    `json:"id"`
	OrgID       string    `json:"org_id"`
	CancelledAt time.Time `json:"cancelled_at"`
	Signature   []byte    `json:"signature"`
}

// Check validates the shape of a cancel.
func (c OverrideCancel) Check() error {
	if c.ID == "" || c.OrgID == "" || c.CancelledAt.IsZero() {
		return errors.New("id, org_id and cancelled_at are required")
	}
	if len(c.Signature) != ed25519.SignatureSize {
		return fmt.Errorf("signature must be %d bytes", ed25519.SignatureSize)
	}
	return nil
}

// Override acknowledgement states.
const (
	AckReceived = "received" // verified and accepted; not on screen yet (starts later, or no renderer)
	AckPainted  = "painted"  // the renderer painted it: PaintedAt says when
	AckEnded    = "ended"    // taken off screen (cancelled or expired)
	AckRefused  = "refused"  // not applied: Error says why
)

// OverrideAck is the player's report on one override.
type OverrideAck struct {
	ID        string    `json:"id"`
	Revision  int64     `json:"revision"`
	State     string    `json:"state"`
	At        time.Time `json:"at"`                  // when the player sent this report
	PaintedAt time.Time `json:"painted_at,omitzero"` // the instant the renderer painted it
	Error     string    `json:"error,omitempty"`
}

// Check validates an override ack.
func (a OverrideAck) Check() error {
	if a.ID == "" {
		return errors.New("id is required")
	}
	switch a.State {
	case AckReceived, AckEnded, AckRefused:
	case AckPainted:
		if a.PaintedAt.IsZero() {
			return errors.New("painted_at is required when state is painted")
		}
	default:
		return fmt.Errorf("state %q: want received, painted, ended or refused", a.State)
	}
	return nil
}

const (
	overrideContext = "beacon.v1 override\n"
	cancelContext   = "beacon.v1 override_cancel\n"
)

// SignOverride serialises and signs an override.
func SignOverride(priv ed25519.PrivateKey, o OverrideSpec) (SignedOverride, error) {
	payload, sig, err := signJSON(priv, overrideContext, "override", o)
	if err != nil {
		return SignedOverride{}, err
	}
	return SignedOverride{Payload: payload, Signature: sig, KeyID: KeyID(priv.Public().(ed25519.PublicKey))}, nil
}

// VerifyOverride checks an override's signature with the pinned key and
// returns the spec. Nothing from an unverified payload is returned.
func VerifyOverride(pinned ed25519.PublicKey, s SignedOverride) (OverrideSpec, error) {
	if err := s.Check(); err != nil {
		return OverrideSpec{}, fmt.Errorf("%w: %v", ErrBadSignature, err)
	}
	return verifyJSON[OverrideSpec](pinned, overrideContext, "override", s.Payload, s.Signature)
}

// CancelMessage is what the server signs to cancel an override.
func CancelMessage(id, orgID string, at time.Time) []byte {
	b, _ := json.Marshal(struct {
		ID    string    `json:"id"`
		OrgID string    `json:"org_id"`
		At    time.Time `json:"cancelled_at"`
	}{id, orgID, at.UTC()})
	return append([]byte(cancelContext), b...)
}

// SignCancel builds a signed cancel.
func SignCancel(priv ed25519.PrivateKey, id, orgID string, at time.Time) OverrideCancel {
	at = at.UTC()
	return OverrideCancel{ID: id, OrgID: orgID, CancelledAt: at, Signature: ed25519.Sign(priv, CancelMessage(id, orgID, at))}
}

// VerifyCancel checks a cancel with the pinned key for this organisation.
func VerifyCancel(pinned ed25519.PublicKey, orgID string, c OverrideCancel) error {
	if err := c.Check(); err != nil {
		return fmt.Errorf("%w: %v", ErrBadSignature, err)
	}
	if CheckPublicKey(pinned) != nil {
		return ErrBadSignature
	}
	if c.OrgID != orgID {
		return fmt.Errorf("%w: cancel for organisation %q, this display belongs to %q", ErrBadSignature, c.OrgID, orgID)
	}
	if !ed25519.Verify(pinned, CancelMessage(c.ID, c.OrgID, c.CancelledAt), c.Signature) {
		return ErrBadSignature
	}
	return nil
}

// Capabilities a player announces in hello, so the server knows what it
// supports. A player that announces none is treated as a v1 player of
// before capabilities: it gets no override messages (the server reports
// its deliveries as unsupported).
const (
	CapOverride = "override" // override, override_cancel, override_ack
)
