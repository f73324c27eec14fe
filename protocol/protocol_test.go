package protocol_test

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"beacon/protocol"
)

// padded returns a hello frame of exactly n bytes (n must be large enough).
func padded(t *testing.T, n int) []byte {
	t.Helper()
	head := `{"type":"hello","id":"0000000000000001","ts":"2026-03-02T08:00:00Z","body":{"protocol_version":1,"pad":"`
	tail := `"}}`
	if n < len(head)+len(tail) {
		t.Fatalf("padded: %d too small", n)
	}
	return []byte(head + strings.Repeat("a", n-len(head)-len(tail)) + tail)
}

func TestDecodeFrameSize(t *testing.T) {
	if _, err := protocol.Decode(padded(t, protocol.MaxFrameSize+1)); !errors.Is(err, protocol.ErrFrameTooLarge) {
		t.Errorf("1 MiB + 1: err = %v, want ErrFrameTooLarge", err)
	}
	if _, err := protocol.Decode(padded(t, protocol.MaxFrameSize)); err != nil {
		t.Errorf("exactly 1 MiB: err = %v, want nil", err)
	}
	// Leading whitespace counts against the limit: it is checked on the raw frame.
	big := append(bytes.Repeat([]byte(" "), protocol.MaxFrameSize), `{"type":"ack"}`...)
	if _, err := protocol.Decode(big); !errors.Is(err, protocol.ErrFrameTooLarge) {
		t.Errorf("whitespace-padded: err = %v, want ErrFrameTooLarge", err)
	}
	if got := protocol.ErrorFor(protocol.ErrFrameTooLarge, "").Code; got != protocol.CodeTooLarge {
		t.Errorf("ErrorFor(ErrFrameTooLarge).Code = %q", got)
	}
}

func TestDecodeMalformed(t *testing.T) {
	for name, frame := range map[string]string{
		"empty":          ``,
		"blank":          " \n\t ",
		"array":          `[{"type":"hello"}]`,
		"string":         `"hello"`,
		"number":         `42`,
		"null":           `null`,
		"truncated":      `{"type":"hello"`,
		"trailing data":  `{"type":"ack","body":{"ref":"x"}} {}`,
		"missing type":   `{"id":"0000000000000001","body":{}}`,
		"empty type":     `{"type":"","id":"0000000000000001"}`,
		"null type":      `{"type":null,"id":"0000000000000001"}`,
		"type not text":  `{"type":5}`,
		"bad ts":         `{"type":"ack","ts":"yesterday","body":{"ref":"x"}}`,
		"invalid body":   `{"type":"hello","body":{"protocol_version":}}`,
		"unquoted body":  `{"type":"hello","body":hello}`,
		"id not text":    `{"type":"ack","id":7,"body":{"ref":"x"}}`,
		"invalid escape": `{"type":"ack","id":"\x","body":{}}`,
	} {
		_, err := protocol.Decode([]byte(frame))
		if !errors.Is(err, protocol.ErrMalformed) {
			t.Errorf("%s: err = %v, want ErrMalformed", name, err)
			continue
		}
		if got := protocol.ErrorFor(err, "r").Code; got != protocol.CodeMalformed {
			t.Errorf("%s: ErrorFor code = %q, want %q", name, got, protocol.CodeMalformed)
		}
	}
}

func TestDecodeMissingTypeKeepsID(t *testing.T) {
	env, err := protocol.Decode([]byte(`{"id":"00000000000000ab","body":{}}`))
	if !errors.Is(err, protocol.ErrMalformed) {
		t.Fatalf("err = %v", err)
	}
	if env.ID != "00000000000000ab" {
		t.Errorf("id = %q: a caller cannot refer to the refused frame", env.ID)
	}
}

func TestDecodeUnknownType(t *testing.T) {
	frame := []byte(`{"type":"screenshot","id":"1234567890abcdef","ts":"2026-03-02T08:00:00Z","body":{"x":1}}`)
	env, err := protocol.Decode(frame)
	if !errors.Is(err, protocol.ErrUnknownType) {
		t.Fatalf("err = %v, want ErrUnknownType", err)
	}
	if errors.Is(err, protocol.ErrMalformed) {
		t.Errorf("unknown type also reported as malformed")
	}
	if env.Type != "screenshot" || env.ID != "1234567890abcdef" {
		t.Errorf("envelope = %+v, want type and id kept", env)
	}
	if string(env.Body) != `{"x":1}` {
		t.Errorf("body = %s", env.Body)
	}
	eb := protocol.ErrorFor(err, env.ID)
	if eb.Code != protocol.CodeUnknownType || eb.Ref != env.ID || !strings.Contains(eb.Message, "screenshot") {
		t.Errorf("ErrorFor = %+v", eb)
	}
	// Types are case-sensitive.
	if _, err := protocol.Decode([]byte(`{"type":"Hello","body":{}}`)); !errors.Is(err, protocol.ErrUnknownType) {
		t.Errorf("type Hello: err = %v, want ErrUnknownType", err)
	}
}

func TestDecodeKnownTypes(t *testing.T) {
	for _, typ := range protocol.KnownTypes {
		frame := fmt.Sprintf(`{"type":%q,"id":"0000000000000001","ts":"2026-03-02T08:00:00Z","body":{}}`, typ)
		if _, err := protocol.Decode([]byte(frame)); err != nil {
			t.Errorf("%s: %v", typ, err)
		}
	}
	// Surrounding whitespace is allowed; a missing body is not Decode's concern.
	env, err := protocol.Decode([]byte("\n  {\"type\":\"ack\",\"id\":\"0000000000000001\"}  \n"))
	if err != nil || env.Type != protocol.TypeAck || len(env.Body) != 0 {
		t.Errorf("env = %+v, err = %v", env, err)
	}
	if err := env.DecodeBody(new(protocol.Ack)); !errors.Is(err, protocol.ErrMalformed) {
		t.Errorf("DecodeBody without body: err = %v, want ErrMalformed", err)
	}
}

func TestDecodeBody(t *testing.T) {
	dec := func(frame string, v any) error {
		env, err := protocol.Decode([]byte(frame))
		if err != nil {
			t.Fatalf("Decode(%s): %v", frame, err)
		}
		return env.DecodeBody(v)
	}
	if err := dec(`{"type":"hello","body":{"protocol_version":"1"}}`, new(protocol.Hello)); !errors.Is(err, protocol.ErrMalformed) {
		t.Errorf("wrong JSON type: err = %v", err)
	}
	if err := dec(`{"type":"hello","body":[]}`, new(protocol.Hello)); !errors.Is(err, protocol.ErrMalformed) {
		t.Errorf("array body: err = %v", err)
	}
	// Check runs on the decoded body.
	if err := dec(`{"type":"hello","body":{"protocol_version":2,"public_key":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="}}`, new(protocol.Hello)); !errors.Is(err, protocol.ErrMalformed) {
		t.Errorf("hello v2: err = %v", err)
	}
	if err := dec(`{"type":"auth","body":{"signature":"AAAA"}}`, new(protocol.Auth)); !errors.Is(err, protocol.ErrMalformed) {
		t.Errorf("short signature: err = %v", err)
	}
	if err := dec(`{"type":"auth","body":{"signature":"not base64!"}}`, new(protocol.Auth)); !errors.Is(err, protocol.ErrMalformed) {
		t.Errorf("bad base64: err = %v", err)
	}
	// Types without Check decode anything well-formed.
	var ack protocol.Ack
	if err := dec(`{"type":"ack","body":{"ref":"0000000000000009","manifest_version":3}}`, &ack); err != nil || ack.Ref != "0000000000000009" || ack.ManifestVersion != 3 {
		t.Errorf("ack = %+v, err = %v", ack, err)
	}
}

func TestErrorFor(t *testing.T) {
	for _, tc := range []struct {
		err  error
		code string
	}{
		{protocol.ErrFrameTooLarge, protocol.CodeTooLarge},
		{fmt.Errorf("read: %w", protocol.ErrFrameTooLarge), protocol.CodeTooLarge},
		{protocol.ErrUnknownType, protocol.CodeUnknownType},
		{fmt.Errorf("%w %q", protocol.ErrUnknownType, "x"), protocol.CodeUnknownType},
		{protocol.ErrMalformed, protocol.CodeMalformed},
		{fmt.Errorf("%w: missing type", protocol.ErrMalformed), protocol.CodeMalformed},
		{errors.New("anything else"), protocol.CodeMalformed},
	} {
		eb := protocol.ErrorFor(tc.err, "00000000000000ff")
		if eb.Code != tc.code || eb.Ref != "00000000000000ff" || eb.Message == "" {
			t.Errorf("ErrorFor(%v) = %+v, want code %q", tc.err, eb, tc.code)
		}
	}
	if eb := protocol.ErrorFor(protocol.ErrMalformed, ""); eb.Ref != "" {
		t.Errorf("empty ref became %q", eb.Ref)
	}
}

func TestNewEncode(t *testing.T) {
	b, err := protocol.Encode(protocol.TypeAck, protocol.Ack{Ref: "0000000000000001"})
	if err != nil {
		t.Fatal(err)
	}
	env, err := protocol.Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	if len(env.ID) != 16 || !isLowerHex(env.ID) {
		t.Errorf("id %q", env.ID)
	}
	if env.TS.Location() != time.UTC || time.Since(env.TS) > time.Minute {
		t.Errorf("ts %v", env.TS)
	}
	if a, b := protocol.NewID(), protocol.NewID(); a == b {
		t.Errorf("NewID repeated %q", a)
	}
	if _, err := protocol.Encode(protocol.TypeAck, func() {}); err == nil {
		t.Errorf("Encode of an unencodable body succeeded")
	}
	huge := protocol.ErrorBody{Code: protocol.CodeInternal, Message: strings.Repeat("x", protocol.MaxFrameSize)}
	if _, err := protocol.Encode(protocol.TypeError, huge); !errors.Is(err, protocol.ErrFrameTooLarge) {
		t.Errorf("Encode > 1 MiB: err = %v, want ErrFrameTooLarge", err)
	}
}

func key(b byte) []byte { return bytes.Repeat([]byte{b}, 32) }

func TestHelloCheck(t *testing.T) {
	if err := (protocol.Hello{ProtocolVersion: 1, PublicKey: key(1)}).Check(); err != nil {
		t.Errorf("minimal hello: %v", err)
	}
	for name, h := range map[string]protocol.Hello{
		"version 0":   {ProtocolVersion: 0, PublicKey: key(1)},
		"version 2":   {ProtocolVersion: 2, PublicKey: key(1)},
		"version -1":  {ProtocolVersion: -1, PublicKey: key(1)},
		"no key":      {ProtocolVersion: 1},
		"short key":   {ProtocolVersion: 1, PublicKey: key(1)[:31]},
		"long key":    {ProtocolVersion: 1, PublicKey: append(key(1), 0)},
		"private key": {ProtocolVersion: 1, PublicKey: playerPriv},
		"short nonce": {ProtocolVersion: 1, PublicKey: key(1), Nonce: make([]byte, 31)},
		"long nonce":  {ProtocolVersion: 1, PublicKey: key(1), Nonce: make([]byte, 33)},
	} {
		if err := h.Check(); err == nil {
			t.Errorf("%s: Check passed", name)
		}
	}
}

func TestAuthCheck(t *testing.T) {
	if err := protocol.SignAuth(playerPriv, protocol.Challenge{Nonce: nonce, ServerKey: serverPub}).Check(); err != nil {
		t.Errorf("real signature: %v", err)
	}
	for _, n := range []int{0, 32, 63, 65} {
		if err := (protocol.Auth{Signature: make([]byte, n)}).Check(); err == nil {
			t.Errorf("%d-byte signature: Check passed", n)
		}
	}
}

func TestOtherChecks(t *testing.T) {
	if err := (protocol.Challenge{Nonce: nonce, ServerKey: serverPub}).Check(); err != nil {
		t.Errorf("challenge: %v", err)
	}
	if err := (protocol.Challenge{Nonce: nonce[:15], ServerKey: serverPub}).Check(); err == nil {
		t.Errorf("15-byte nonce passed")
	}
	if err := (protocol.Challenge{Nonce: nonce, ServerKey: serverPub[:16]}).Check(); err == nil {
		t.Errorf("short server key passed")
	}
	if err := (protocol.Paired{DisplayID: "d", ServerKey: serverPub}).Check(); err != nil {
		t.Errorf("paired: %v", err)
	}
	if err := (protocol.Paired{ServerKey: serverPub}).Check(); err == nil {
		t.Errorf("paired without display_id passed")
	}
	if err := (protocol.Paired{DisplayID: "d"}).Check(); err == nil {
		t.Errorf("paired without server_key passed")
	}
	if err := (protocol.SignedManifest{Signature: make([]byte, 64)}).Check(); err == nil {
		t.Errorf("empty payload passed")
	}
	if err := (protocol.SignedManifest{Payload: []byte("{}"), Signature: make([]byte, 63)}).Check(); err == nil {
		t.Errorf("63-byte signature passed")
	}
}

func TestManifestCheck(t *testing.T) {
	if err := goldenManifest().Check(); err != nil {
		t.Fatalf("golden manifest: %v", err)
	}
	empty := protocol.Manifest{DisplayID: "d", Version: 1, Program: json.RawMessage(`{}`)}
	if err := empty.Check(); err != nil {
		t.Errorf("manifest with nothing to play: %v", err)
	}
	for name, mutate := range map[string]func(*protocol.Manifest){
		"no display_id":    func(m *protocol.Manifest) { m.DisplayID = "" },
		"version 0":        func(m *protocol.Manifest) { m.Version = 0 },
		"negative version": func(m *protocol.Manifest) { m.Version = -5 },
		"upper-case hash":  func(m *protocol.Manifest) { m.Files[0].SHA256 = strings.ToUpper(m.Files[0].SHA256) },
		"short hash":       func(m *protocol.Manifest) { m.Files[0].SHA256 = m.Files[0].SHA256[:63] },
		"non-hex hash":     func(m *protocol.Manifest) { m.Files[0].SHA256 = strings.Repeat("g", 64) },
		"empty hash":       func(m *protocol.Manifest) { m.Files[1].SHA256 = "" },
		"negative size":    func(m *protocol.Manifest) { m.Files[1].Size = -1 },
		"no program":       func(m *protocol.Manifest) { m.Program = nil },
		"null program":     func(m *protocol.Manifest) { m.Program = json.RawMessage(`null`) },
		"program an array": func(m *protocol.Manifest) { m.Program = json.RawMessage(`[]`) },
	} {
		m := goldenManifest()
		mutate(&m)
		if err := m.Check(); err == nil {
			t.Errorf("%s: Check passed", name)
		}
		if _, err := protocol.SignManifest(serverPriv, m); err == nil {
			t.Errorf("%s: SignManifest signed an invalid manifest", name)
		}
	}
}

func TestValidSHA256(t *testing.T) {
	sum := sha256.Sum256([]byte("x"))
	h := hex.EncodeToString(sum[:])
	if !protocol.ValidSHA256(h) {
		t.Errorf("%s rejected", h)
	}
	for _, s := range []string{"", h[:63], h + "0", strings.ToUpper(h), h[:63] + "\n", " " + h[1:]} {
		if protocol.ValidSHA256(s) {
			t.Errorf("%q accepted", s)
		}
	}
}

func TestSignVerifyManifest(t *testing.T) {
	m := goldenManifest()
	sm, err := protocol.SignManifest(serverPriv, m)
	if err != nil {
		t.Fatal(err)
	}
	got, err := protocol.VerifyManifest(serverPub, sm)
	if err != nil {
		t.Fatalf("VerifyManifest: %v", err)
	}
	if got.Version != m.Version || got.DisplayID != m.DisplayID || len(got.Files) != len(m.Files) || !got.IssuedAt.Equal(m.IssuedAt) {
		t.Errorf("round trip = %+v", got)
	}
	if sm.KeyID != protocol.KeyID(serverPub) {
		t.Errorf("key_id %q", sm.KeyID)
	}

	// Through the wire: the signed body survives an envelope round trip.
	frame, err := protocol.Encode(protocol.TypeManifest, sm)
	if err != nil {
		t.Fatal(err)
	}
	env, err := protocol.Decode(frame)
	if err != nil {
		t.Fatal(err)
	}
	var wire protocol.SignedManifest
	if err := env.DecodeBody(&wire); err != nil {
		t.Fatal(err)
	}
	if _, err := protocol.VerifyManifest(serverPub, wire); err != nil {
		t.Errorf("after the wire: %v", err)
	}

	_, otherPriv, _ := ed25519.GenerateKey(nil)
	for name, pub := range map[string]ed25519.PublicKey{
		"player key":  playerPub,
		"random key":  otherPriv.Public().(ed25519.PublicKey),
		"no key":      nil,
		"short key":   serverPub[:31],
		"private key": ed25519.PublicKey(serverPriv),
	} {
		got, err := protocol.VerifyManifest(pub, sm)
		if !errors.Is(err, protocol.ErrBadSignature) {
			t.Errorf("%s: err = %v, want ErrBadSignature", name, err)
		}
		if got.Version != 0 || got.DisplayID != "" {
			t.Errorf("%s: manifest returned with an error", name)
		}
	}

	// Signed with another key but claiming the server's key id.
	forged, _ := protocol.SignManifest(otherPriv, m)
	forged.KeyID = protocol.KeyID(serverPub)
	if _, err := protocol.VerifyManifest(serverPub, forged); !errors.Is(err, protocol.ErrBadSignature) {
		t.Errorf("forged: err = %v", err)
	}
	// Unsigned and wrongly sized signatures are malformed bodies (§7
	// step 1); 64 zero bytes are a signature that does not verify.
	for _, sig := range [][]byte{nil, sm.Signature[:63]} {
		if _, err := protocol.VerifyManifest(serverPub, protocol.SignedManifest{Payload: sm.Payload, Signature: sig}); !errors.Is(err, protocol.ErrMalformed) {
			t.Errorf("signature %x: err = %v, want ErrMalformed", sig, err)
		}
	}
	if _, err := protocol.VerifyManifest(serverPub, protocol.SignedManifest{Payload: sm.Payload, Signature: make([]byte, 64)}); !errors.Is(err, protocol.ErrBadSignature) {
		t.Errorf("zero signature: err = %v", err)
	}
}

func TestManifestDomainSeparation(t *testing.T) {
	sm, err := protocol.SignManifest(serverPriv, goldenManifest())
	if err != nil {
		t.Fatal(err)
	}
	// A signature over the bare payload (no context prefix) is refused.
	bare := protocol.SignedManifest{Payload: sm.Payload, Signature: ed25519.Sign(serverPriv, sm.Payload)}
	if _, err := protocol.VerifyManifest(serverPub, bare); !errors.Is(err, protocol.ErrBadSignature) {
		t.Errorf("bare signature: err = %v", err)
	}
	// An auth signature is not a manifest signature, and vice versa.
	auth := protocol.SignAuth(serverPriv, protocol.Challenge{Nonce: sm.Payload, ServerKey: serverPub})
	if _, err := protocol.VerifyManifest(serverPub, protocol.SignedManifest{Payload: sm.Payload, Signature: auth.Signature}); !errors.Is(err, protocol.ErrBadSignature) {
		t.Errorf("auth signature accepted as manifest signature: %v", err)
	}
	// The documented bytes, signed by hand: verified, and checked as a manifest.
	sig := ed25519.Sign(serverPriv, append([]byte("beacon.v1 manifest\n"), sm.Payload...))
	if !bytes.Equal(sig, sm.Signature) {
		t.Errorf("SignManifest does not sign \"beacon.v1 manifest\\n\" || payload")
	}
	junk := []byte(`{"display_id":"d","version":0}`)
	sig = ed25519.Sign(serverPriv, append([]byte("beacon.v1 manifest\n"), junk...))
	_, err = protocol.VerifyManifest(serverPub, protocol.SignedManifest{Payload: junk, Signature: sig})
	if !errors.Is(err, protocol.ErrMalformed) || errors.Is(err, protocol.ErrBadSignature) {
		t.Errorf("signed but invalid manifest: err = %v, want ErrMalformed", err)
	}
	notJSON := []byte("not json")
	sig = ed25519.Sign(serverPriv, append([]byte("beacon.v1 manifest\n"), notJSON...))
	if _, err := protocol.VerifyManifest(serverPub, protocol.SignedManifest{Payload: notJSON, Signature: sig}); !errors.Is(err, protocol.ErrMalformed) {
		t.Errorf("signed non-JSON: err = %v, want ErrMalformed", err)
	}
}

func TestAuth(t *testing.T) {
	ch := protocol.Challenge{Nonce: nonce, ServerKey: serverPub}
	want := append(append(append([]byte("beacon.v1 auth+server\n"), serverPub...), playerPub...), nonce...)
	if got := protocol.AuthMessage(serverPub, nonce, playerPub); !bytes.Equal(got, want) {
		t.Errorf("AuthMessage = %q", got)
	}
	a := protocol.SignAuth(playerPriv, ch)
	if err := protocol.VerifyAuth(playerPub, ch, a); err != nil {
		t.Fatalf("VerifyAuth: %v", err)
	}
	otherNonce := bytes.Repeat([]byte{0x04}, 32)
	otherServer := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{0x09}, 32)).Public().(ed25519.PublicKey)
	// The v1 form before server binding: context, nonce, player key.
	oldForm := ed25519.Sign(playerPriv, append(append([]byte("beacon.v1 auth\n"), nonce...), playerPub...))
	for name, err := range map[string]error{
		"other nonce":   protocol.VerifyAuth(playerPub, protocol.Challenge{Nonce: otherNonce, ServerKey: serverPub}, a),
		"short nonce":   protocol.VerifyAuth(playerPub, protocol.Challenge{Nonce: nonce[:31], ServerKey: serverPub}, a),
		"other server":  protocol.VerifyAuth(playerPub, protocol.Challenge{Nonce: nonce, ServerKey: otherServer}, a),
		"no server key": protocol.VerifyAuth(playerPub, protocol.Challenge{Nonce: nonce}, a),
		"other key":     protocol.VerifyAuth(serverPub, ch, a),
		"no key":        protocol.VerifyAuth(nil, ch, a),
		"no signature":  protocol.VerifyAuth(playerPub, ch, protocol.Auth{}),
		"zero sig":      protocol.VerifyAuth(playerPub, ch, protocol.Auth{Signature: make([]byte, 64)}),
		"manifest sig":  protocol.VerifyAuth(playerPub, ch, protocol.Auth{Signature: ed25519.Sign(playerPriv, append([]byte("beacon.v1 manifest\n"), want[len("beacon.v1 auth+server\n"):]...))}),
		"bare sig":      protocol.VerifyAuth(playerPub, ch, protocol.Auth{Signature: ed25519.Sign(playerPriv, nonce)}),
		"old form":      protocol.VerifyAuth(playerPub, ch, protocol.Auth{Signature: oldForm}),
		"truncated sig": protocol.VerifyAuth(playerPub, ch, protocol.Auth{Signature: a.Signature[:63]}),
	} {
		if !errors.Is(err, protocol.ErrBadSignature) {
			t.Errorf("%s: err = %v, want ErrBadSignature", name, err)
		}
	}
}

// A relay that passes one server's challenge on under another key gets a
// signature the first server refuses, and a challenge not signed for this
// session by the pinned key is refused before the player signs.
func TestChallengeBindsServer(t *testing.T) {
	relayPriv := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{0x09}, 32))
	relayPub := relayPriv.Public().(ed25519.PublicKey)
	helloNonce := bytes.Repeat([]byte{0x05}, protocol.NonceSize)
	real := protocol.Challenge{Nonce: nonce, ServerKey: serverPub}
	protocol.SignChallenge(serverPriv, playerPub, helloNonce, &real)
	want := append(append(append([]byte("beacon.v1 challenge\n"), playerPub...), helloNonce...), nonce...)
	if !ed25519.Verify(serverPub, want, real.Signature) {
		t.Fatalf("challenge signature does not cover the documented bytes")
	}
	if err := protocol.VerifyChallenge(serverPub, playerPub, helloNonce, real); err != nil {
		t.Fatalf("VerifyChallenge: %v", err)
	}
	relayed := real
	relayed.ServerKey = relayPub
	if err := protocol.VerifyChallenge(serverPub, playerPub, helloNonce, relayed); !errors.Is(err, protocol.ErrServerKeyMismatch) {
		t.Errorf("other key: err = %v, want ErrServerKeyMismatch", err)
	}
	// Signed under the relay's key, the answer does not verify for the real server.
	if err := protocol.VerifyAuth(playerPub, real, protocol.SignAuth(playerPriv, relayed)); !errors.Is(err, protocol.ErrBadSignature) {
		t.Errorf("auth for the relay's key accepted by the real server: %v", err)
	}
	otherHello := bytes.Repeat([]byte{0x06}, protocol.NonceSize)
	unsigned := real
	unsigned.Signature = nil
	forged := real
	protocol.SignChallenge(relayPriv, playerPub, helloNonce, &forged)
	for name, err := range map[string]error{
		"other session":  protocol.VerifyChallenge(serverPub, playerPub, otherHello, real),
		"other player":   protocol.VerifyChallenge(serverPub, serverPub, helloNonce, real),
		"unsigned":       protocol.VerifyChallenge(serverPub, playerPub, helloNonce, unsigned),
		"relay signed":   protocol.VerifyChallenge(serverPub, playerPub, helloNonce, forged),
		"no hello nonce": protocol.VerifyChallenge(serverPub, playerPub, nil, real),
	} {
		if !errors.Is(err, protocol.ErrBadSignature) {
			t.Errorf("%s: err = %v, want ErrBadSignature", name, err)
		}
	}
}

func TestUnpair(t *testing.T) {
	helloNonce := bytes.Repeat([]byte{0x05}, protocol.NonceSize)
	when := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	u := protocol.SignUnpair(serverPriv, "d-1", playerPub, helloNonce, when)
	if err := u.Check(); err != nil {
		t.Fatal(err)
	}
	if err := protocol.VerifyUnpair(serverPub, "d-1", playerPub, helloNonce, u); err != nil {
		t.Fatalf("VerifyUnpair: %v", err)
	}
	ts := make([]byte, 8)
	binary.BigEndian.PutUint64(ts, uint64(when.Unix()))
	want := append(append(append(append([]byte("beacon.v1 unpair\n"), playerPub...), helloNonce...), ts...), "d-1"...)
	if !ed25519.Verify(serverPub, want, u.Signature) {
		t.Errorf("unpair signature does not cover the documented bytes")
	}
	otherPriv := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{0x09}, 32))
	later := u
	later.IssuedAt = when.Add(time.Second)
	for name, err := range map[string]error{
		"other display": protocol.VerifyUnpair(serverPub, "d-2", playerPub, helloNonce, u),
		"other player":  protocol.VerifyUnpair(serverPub, "d-1", serverPub, helloNonce, u),
		"other session": protocol.VerifyUnpair(serverPub, "d-1", playerPub, bytes.Repeat([]byte{0x06}, 32), u),
		"other signer":  protocol.VerifyUnpair(serverPub, "d-1", playerPub, helloNonce, protocol.SignUnpair(otherPriv, "d-1", playerPub, helloNonce, when)),
		"time changed":  protocol.VerifyUnpair(serverPub, "d-1", playerPub, helloNonce, later),
		"auth context":  protocol.VerifyUnpair(serverPub, "d-1", playerPub, helloNonce, protocol.Unpair{DisplayID: "d-1", PlayerKey: playerPub, Nonce: helloNonce, IssuedAt: when, Signature: ed25519.Sign(serverPriv, append([]byte("beacon.v1 auth+server\n"), want[len("beacon.v1 unpair\n"):]...))}),
	} {
		if !errors.Is(err, protocol.ErrBadSignature) {
			t.Errorf("%s: err = %v, want ErrBadSignature", name, err)
		}
	}
}

func TestKeyID(t *testing.T) {
	id := protocol.KeyID(serverPub)
	sum := sha256.Sum256(serverPub)
	if id != hex.EncodeToString(sum[:8]) || len(id) != 16 {
		t.Errorf("KeyID = %q", id)
	}
	if protocol.KeyID(playerPub) == id {
		t.Errorf("two keys share an id")
	}
}

// TestJSONConventions pins the JSON shapes a third party relies on.
func TestJSONConventions(t *testing.T) {
	b, err := json.Marshal(protocol.Auth{Signature: []byte{0xfb, 0xff}})
	if err != nil {
		t.Fatal(err)
	}
	if string(b) != `{"signature":"+/8="}` {
		t.Errorf("byte fields are not standard padded base64: %s", b)
	}
	env := protocol.Envelope{Type: protocol.TypeAck, ID: "0000000000000001", TS: time.Date(2026, 3, 2, 8, 0, 0, 5e8, time.UTC)}
	b, err = protocol.Marshal(env)
	if err != nil {
		t.Fatal(err)
	}
	if string(b) != `{"type":"ack","id":"0000000000000001","ts":"2026-03-02T08:00:00.5Z"}` {
		t.Errorf("envelope = %s", b)
	}
}
