package protocol_test

import (
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"beacon/protocol"
)

// The vectors of testdata/negative (frames a receiver must refuse, with
// the error it answers), testdata/acks (every acknowledgement, with the
// frame it answers), testdata/manifest_program.json (a signed manifest
// carrying a program) and testdata/heartbeat_pairing.json. They are built
// from Go values by TestVectorsBuild (-update rewrites them; without it a
// file that differs by a byte fails), and TestNegativeVectors checks the
// Go implementation refuses each with the code the file names.

// negVector is one file of testdata/negative.
type negVector struct {
	Description string `json:"description"`
	// Context is the receiver's state: the server key it pinned, its
	// display id, the manifest version it holds.
	Context negContext      `json:"context"`
	Frame   json.RawMessage `json:"frame"`
	Expect  negExpect       `json:"expect"`
}

type negContext struct {
	Receiver        string `json:"receiver"` // "player" or "server"
	PinnedServerKey []byte `json:"pinned_server_key,omitempty"`
	DisplayID       string `json:"display_id,omitempty"`
	HeldManifest    int64  `json:"held_manifest_version,omitempty"`
}

type negExpect struct {
	Error    protocol.ErrorBody `json:"error"`              // the error body answered (message free-form)
	Incident string             `json:"incident,omitempty"` // the incident kind also reported
	Close    int                `json:"close,omitempty"`    // WebSocket close code, when the receiver closes
	Applied  bool               `json:"applied"`            // always false: nothing changes
}

// ackVector is one file of testdata/acks.
type ackVector struct {
	Description string          `json:"description"`
	Request     json.RawMessage `json:"request"`
	Answer      json.RawMessage `json:"answer"`
}

var otherPriv = ed25519.NewKeyFromSeed(bytes.Repeat([]byte{0x05}, ed25519.SeedSize))

// smallOrderKeys are the public keys every receiver MUST refuse: the
// encodings of the eight points of small order, and one non-canonical
// encoding (y = p, which also decodes to a small-order point).
var smallOrderKeys = []string{
	"0100000000000000000000000000000000000000000000000000000000000000",
	"ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
	"0000000000000000000000000000000000000000000000000000000000000000",
	"0000000000000000000000000000000000000000000000000000000000000080",
	"26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05",
	"26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc85",
	"c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a",
	"c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac03fa",
	"edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
}

func mustFrame(t testing.TB, typ, id string, ts time.Time, body any) json.RawMessage {
	t.Helper()
	return frame(t, typ, vector{id: id, ts: ts, body: body})
}

func playerCtx(held int64) negContext {
	return negContext{Receiver: "player", PinnedServerKey: serverPub, DisplayID: goldenDisplayID, HeldManifest: held}
}

func signedManifestFrame(t testing.TB, priv ed25519.PrivateKey, m protocol.Manifest, id string, mutate func(*protocol.SignedManifest)) json.RawMessage {
	t.Helper()
	sm, err := protocol.SignManifest(priv, m)
	if err != nil {
		t.Fatal(err)
	}
	if mutate != nil {
		mutate(&sm)
	}
	return mustFrame(t, protocol.TypeManifest, id, at(5), sm)
}

func negativeVectors(t testing.TB) map[string]negVector {
	good := goldenManifest()
	stale := good
	other := good
	other.DisplayID = "d-0000aa"
	ref := func(id, code string) protocol.ErrorBody { return protocol.ErrorBody{Code: code, Ref: id} }
	out := map[string]negVector{
		"manifest_bad_signature": {
			Description: "manifest.json with the lowest bit of the signature's first byte flipped.",
			Context:     playerCtx(41),
			Frame: signedManifestFrame(t, serverPriv, good, "8000000000000101", func(s *protocol.SignedManifest) {
				s.Signature[0] ^= 1
			}),
			Expect: negExpect{Error: ref("8000000000000101", protocol.CodeBadSignature), Incident: protocol.IncidentBadSignature},
		},
		"manifest_wrong_key": {
			Description: "A well-formed manifest signed by another key (seed 32 × 0x05), not the pinned server key.",
			Context:     playerCtx(41),
			Frame:       signedManifestFrame(t, otherPriv, good, "8000000000000102", nil),
			Expect:      negExpect{Error: ref("8000000000000102", protocol.CodeBadSignature), Incident: protocol.IncidentBadSignature},
		},
		"manifest_stale": {
			Description: "A correctly signed manifest 42 while the player already holds 42: not applied.",
			Context:     playerCtx(42),
			Frame:       signedManifestFrame(t, serverPriv, stale, "8000000000000103", nil),
			Expect:      negExpect{Error: ref("8000000000000103", protocol.CodeStaleManifest)},
		},
		"manifest_other_display": {
			Description: "A correctly signed manifest whose display_id is another display's (d-0000aa).",
			Context:     playerCtx(41),
			Frame:       signedManifestFrame(t, serverPriv, other, "8000000000000104", nil),
			Expect:      negExpect{Error: ref("8000000000000104", protocol.CodeUnexpected)},
		},
		"manifest_short_signature": {
			Description: "manifest.json with a 63-byte signature.",
			Context:     playerCtx(41),
			Frame: signedManifestFrame(t, serverPriv, good, "8000000000000106", func(s *protocol.SignedManifest) {
				s.Signature = s.Signature[:63]
			}),
			Expect: negExpect{Error: ref("8000000000000106", protocol.CodeMalformed)},
		},
	}
	// Bad base64: a payload with a character outside the alphabet. Built
	// as text, since no encoder writes it.
	f := string(signedManifestFrame(t, serverPriv, good, "8000000000000105", nil))
	i := strings.Index(f, `"payload":"`) + len(`"payload":"`)
	f = f[:i] + "*" + f[i+1:]
	out["manifest_bad_base64"] = negVector{
		Description: "manifest.json whose payload's first base64 character is replaced by '*', which is not in the alphabet.",
		Context:     playerCtx(41), Frame: json.RawMessage(f),
		Expect: negExpect{Error: ref("8000000000000105", protocol.CodeMalformed)},
	}
	for i, h := range smallOrderKeys {
		k, _ := hex.DecodeString(h)
		id := fmt.Sprintf("00000000000001%02x", i)
		body := protocol.Hello{ProtocolVersion: 1, PlayerVersion: "1.0.0", PublicKey: k, Nonce: helloNonce}
		out[fmt.Sprintf("hello_small_order_key_%d", i)] = negVector{
			Description: "A hello whose public_key is the small-order (or non-canonical) encoding " + h + ": the server MUST refuse it and close.",
			Context:     negContext{Receiver: "server"},
			Frame:       mustFrame(t, protocol.TypeHello, id, at(0), body),
			Expect:      negExpect{Error: ref(id, protocol.CodeMalformed), Close: 1008},
		}
	}
	return out
}

func ackVectors(t testing.TB) map[string]ackVector {
	v := goldenVectors(t)
	pop, man := v[protocol.TypeProofOfPlay], v[protocol.TypeManifest]
	inc := v[protocol.TypeIncident]
	ov := v[protocol.TypeOverride]
	oc := v[protocol.TypeOverrideCancel]
	unp := v[protocol.TypeUnpair]
	return map[string]ackVector{
		"ack_manifest": {
			Description: "The player applied manifest 42: ack with ref = the manifest frame's id and manifest_version = 42.",
			Request:     frame(t, protocol.TypeManifest, man),
			Answer:      mustFrame(t, protocol.TypeAck, "0000000000000003", at(6), protocol.Ack{Ref: man.id, ManifestVersion: 42}),
		},
		"ack_proof_of_play": {
			Description: "The server stored (or already held, by record id) every record of a proof_of_play: ack with ref = its id.",
			Request:     frame(t, protocol.TypeProofOfPlay, pop),
			Answer:      mustFrame(t, protocol.TypeAck, "8000000000000201", pop.ts.Add(time.Second), protocol.Ack{Ref: pop.id}),
		},
		"ack_incident": {
			Description: "The server stored the incident (or already held one with this frame id): ack with ref = its id. The player re-sends an unacknowledged incident after reconnecting, with the same frame id.",
			Request:     frame(t, protocol.TypeIncident, inc),
			Answer:      mustFrame(t, protocol.TypeAck, "8000000000000202", inc.ts.Add(time.Second), protocol.Ack{Ref: inc.id}),
		},
		"ack_unpair": {
			Description: "The player verified the unpair and forgot its pairing: ack with ref = its id, then it shows a pairing code.",
			Request:     frame(t, protocol.TypeUnpair, unp),
			Answer:      mustFrame(t, protocol.TypeAck, "0000000000000203", unp.ts.Add(time.Second), protocol.Ack{Ref: unp.id}),
		},
		"override_ack_painted": {
			Description: "The player painted the override: override_ack (state painted). Overrides are acknowledged by override_ack, not ack.",
			Request:     frame(t, protocol.TypeOverride, ov),
			Answer:      frame(t, protocol.TypeOverrideAck, v[protocol.TypeOverrideAck]),
		},
		"override_ack_received": {
			Description: "The player verified and accepted the override but has not painted it yet (it starts later, or no renderer is connected): override_ack (state received).",
			Request:     frame(t, protocol.TypeOverride, ov),
			Answer: mustFrame(t, protocol.TypeOverrideAck, "0000000000000205", ov.ts, protocol.OverrideAck{
				ID: "ovr_flood1", Revision: 1, State: protocol.AckReceived, At: ov.ts}),
		},
		"override_ack_ended": {
			Description: "The player took the cancelled override off the screen: override_ack (state ended).",
			Request:     frame(t, protocol.TypeOverrideCancel, oc),
			Answer: mustFrame(t, protocol.TypeOverrideAck, "0000000000000204", oc.ts.Add(time.Second), protocol.OverrideAck{
				ID: "ovr_flood1", Revision: 1, State: protocol.AckEnded, At: oc.ts.Add(time.Second)}),
		},
	}
}

// manifestProgramBody is a manifest carrying the program of the evaluation
// vector zones_languages, signed by the server seed.
func manifestProgram(t testing.TB) json.RawMessage {
	raw, err := os.ReadFile(filepath.Join("testdata", "evaluation", "zones_languages.json"))
	if err != nil {
		t.Fatal(err)
	}
	var ev struct {
		Program json.RawMessage `json:"program"`
	}
	if err := json.Unmarshal(raw, &ev); err != nil {
		t.Fatal(err)
	}
	var compact bytes.Buffer
	if err := json.Compact(&compact, ev.Program); err != nil {
		t.Fatal(err)
	}
	m := goldenManifest()
	m.Version = 43
	m.Timezone = "Asia/Ho_Chi_Minh"
	m.Playlist = protocol.Playlist{Items: []protocol.Item{}}
	m.Program = compact.Bytes()
	m.Files = nil
	return signedManifestFrame(t, serverPriv, m, "8000000000000301", nil)
}

func heartbeatPairing(t testing.TB) json.RawMessage {
	return mustFrame(t, protocol.TypeHeartbeat, "0000000000000301", at(20), protocol.Heartbeat{
		ManifestVersion: 0, State: protocol.StatePairing,
		Cache:             protocol.CacheStats{},
		RendererConnected: true, UptimeS: 20, PlayerTime: at(20),
	})
}

func indentJSON(t testing.TB, v any) []byte {
	t.Helper()
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func TestVectorsBuild(t *testing.T) {
	files := map[string][]byte{}
	for name, v := range negativeVectors(t) {
		files[filepath.Join("negative", name+".json")] = indentJSON(t, v)
	}
	for name, v := range ackVectors(t) {
		files[filepath.Join("acks", name+".json")] = indentJSON(t, v)
	}
	files["manifest_program.json"] = indentJSON(t, manifestProgram(t))
	files["heartbeat_pairing.json"] = indentJSON(t, heartbeatPairing(t))
	var keys []string
	for _, h := range smallOrderKeys {
		k, _ := hex.DecodeString(h)
		keys = append(keys, base64.StdEncoding.EncodeToString(k))
	}
	files[filepath.Join("negative", "small_order_keys.json")] = indentJSON(t, map[string]any{
		"description": "Ed25519 public keys a receiver MUST refuse wherever a key is received (hello.public_key, challenge.server_key, auth_ok and paired server_key): the eight small-order points and a non-canonical encoding (y >= 2^255-19). Hex and base64.",
		"hex":         smallOrderKeys, "base64": keys,
	})
	for name, want := range files {
		path := filepath.Join("testdata", name)
		if *update {
			if err := os.WriteFile(path, want, 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		got, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("%v (go test ./protocol/ -run TestVectorsBuild -update)", err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s differs from what the Go values produce (edited by hand? regenerate with -update)", path)
		}
	}
	for _, dir := range []string{"negative", "acks"} {
		fs, _ := filepath.Glob(filepath.Join("testdata", dir, "*.json"))
		for _, f := range fs {
			rel, _ := filepath.Rel("testdata", f)
			if files[rel] == nil {
				t.Errorf("%s is not generated by TestVectorsBuild", f)
			}
		}
	}
}

// playerVerdict is what the documented manifest rules (docs/protocol.md
// §7) make of a manifest frame, using this package's decoder and
// verifier: the error code, or "" if it applies.
func playerVerdict(ctx negContext, f []byte) (string, error) {
	env, err := protocol.Decode(f)
	if err != nil {
		return protocol.ErrorFor(err, "").Code, err
	}
	var sm protocol.SignedManifest
	if err := env.DecodeBody(&sm); err != nil {
		return protocol.CodeMalformed, err
	}
	if err := sm.Check(); err != nil {
		return protocol.CodeMalformed, err
	}
	m, err := protocol.VerifyManifest(ed25519.PublicKey(ctx.PinnedServerKey), sm)
	if err != nil {
		return protocol.ErrorFor(err, "").Code, err
	}
	if m.DisplayID != ctx.DisplayID {
		return protocol.CodeUnexpected, errors.New("another display's manifest")
	}
	if m.Version <= ctx.HeldManifest {
		return protocol.CodeStaleManifest, errors.New("stale")
	}
	return "", nil
}

func TestNegativeVectors(t *testing.T) {
	fs, _ := filepath.Glob(filepath.Join("testdata", "negative", "*.json"))
	n := 0
	for _, f := range fs {
		if filepath.Base(f) == "small_order_keys.json" {
			continue
		}
		n++
		raw, _ := os.ReadFile(f)
		var v negVector
		if err := json.Unmarshal(raw, &v); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		var env protocol.Envelope
		_ = json.Unmarshal(v.Frame, &env)
		if v.Expect.Error.Ref != env.ID {
			t.Errorf("%s: expected ref %q is not the frame's id %q", f, v.Expect.Error.Ref, env.ID)
		}
		var code string
		var err error
		switch v.Context.Receiver {
		case "player":
			code, err = playerVerdict(v.Context, v.Frame)
		case "server":
			var env protocol.Envelope
			if env, err = protocol.Decode(v.Frame); err == nil {
				var h protocol.Hello
				err = env.DecodeBody(&h)
			}
			if err != nil {
				code = protocol.ErrorFor(err, "").Code
			}
		}
		if code != v.Expect.Error.Code {
			t.Errorf("%s: refused with %q (%v), the vector expects %q", filepath.Base(f), code, err, v.Expect.Error.Code)
		}
	}
	if n < 6 {
		t.Fatalf("only %d negative vectors", n)
	}
	for _, h := range smallOrderKeys {
		k, _ := hex.DecodeString(h)
		if err := protocol.CheckPublicKey(k); !errors.Is(err, protocol.ErrWeakKey) {
			t.Errorf("key %s accepted", h)
		}
	}
	// The positive control: the untouched golden manifest applies.
	if code, err := playerVerdict(playerCtx(41), readGolden(t, "manifest.json")); code != "" {
		t.Fatalf("golden manifest refused: %s %v", code, err)
	}
}

func TestAckVectors(t *testing.T) {
	fs, _ := filepath.Glob(filepath.Join("testdata", "acks", "*.json"))
	if len(fs) < 6 {
		t.Fatalf("%d ack vectors", len(fs))
	}
	for _, f := range fs {
		raw, _ := os.ReadFile(f)
		var v ackVector
		if err := json.Unmarshal(raw, &v); err != nil {
			t.Fatal(err)
		}
		req, err := protocol.Decode(v.Request)
		if err != nil {
			t.Fatalf("%s: request: %v", f, err)
		}
		ans, err := protocol.Decode(v.Answer)
		if err != nil {
			t.Fatalf("%s: answer: %v", f, err)
		}
		switch ans.Type {
		case protocol.TypeAck:
			var a protocol.Ack
			if err := ans.DecodeBody(&a); err != nil || a.Ref != req.ID {
				t.Errorf("%s: ack ref %q, request id %q (%v)", f, a.Ref, req.ID, err)
			}
		case protocol.TypeOverrideAck:
			var a protocol.OverrideAck
			if err := ans.DecodeBody(&a); err != nil || a.ID != "ovr_flood1" {
				t.Errorf("%s: override_ack %+v (%v)", f, a, err)
			}
		default:
			t.Errorf("%s: answer type %q", f, ans.Type)
		}
	}
}

func TestManifestProgramVector(t *testing.T) {
	var env protocol.Envelope
	raw := readGolden(t, "manifest_program.json")
	env, err := protocol.Decode(raw)
	if err != nil {
		t.Fatal(err)
	}
	var sm protocol.SignedManifest
	if err := env.DecodeBody(&sm); err != nil {
		t.Fatal(err)
	}
	m, err := protocol.VerifyManifest(serverPub, sm)
	if err != nil || len(m.Program) == 0 {
		t.Fatalf("manifest_program.json: %v, program %d bytes", err, len(m.Program))
	}
}

// TestGoldenProofAfterPlay: a play is recorded when it ends, so a
// proof_of_play frame is never sent before the end of a record it carries.
func TestGoldenProofAfterPlay(t *testing.T) {
	env, err := protocol.Decode(readGolden(t, "proof_of_play.json"))
	if err != nil {
		t.Fatal(err)
	}
	var p protocol.ProofOfPlay
	if err := env.DecodeBody(&p); err != nil {
		t.Fatal(err)
	}
	for _, r := range p.Records {
		if env.TS.Before(r.End) {
			t.Errorf("proof_of_play sent at %v, before record %s ends at %v", env.TS, r.ID, r.End)
		}
	}
}
