package protocol_test

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"beacon/playlists"
	"beacon/protocol"
)

var update = flag.Bool("update", false, "rewrite protocol/testdata golden vectors from the Go values")

// Fixed inputs of the golden vectors; testdata/README.md documents them.
var (
	playerSeed = bytes.Repeat([]byte{0x01}, ed25519.SeedSize)
	serverSeed = bytes.Repeat([]byte{0x02}, ed25519.SeedSize)
	nonce      = bytes.Repeat([]byte{0x03}, 32)
	helloNonce = bytes.Repeat([]byte{0x04}, protocol.NonceSize)

	playerPriv = ed25519.NewKeyFromSeed(playerSeed)
	serverPriv = ed25519.NewKeyFromSeed(serverSeed)
	playerPub  = playerPriv.Public().(ed25519.PublicKey)
	serverPub  = serverPriv.Public().(ed25519.PublicKey)

	// The two media files of the golden manifest are these ASCII strings.
	fileA = []byte("beacon golden file A\n")
	fileB = []byte("beacon golden file B\n")
)

const (
	goldenOrgID     = "org-lc01"
	goldenDisplayID = "d-7f3a9c"
	goldenToken     = "tok_3q2x9v7mZ4kP8sL1"
)

// at returns the fixed golden clock plus s seconds.
func at(s int) time.Time {
	return time.Date(2026, 3, 2, 8, 0, 0, 0, time.UTC).Add(time.Duration(s) * time.Second)
}

func sha256Hex(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// goldenOverride is the override signed in override.json.
func goldenOverride() protocol.OverrideSpec {
	return protocol.OverrideSpec{
		ID: "ovr_flood1", Revision: 1, Level: protocol.LevelCritical, Presentation: protocol.PresentFullscreen,
		Texts: map[string]string{
			"vi": "KHẨN CẤP: Lũ quét trên sông Nậm Thi. Di chuyển lên vùng cao ngay.",
			"en": "EMERGENCY: Flash flood on the Nam Thi river. Move to high ground now.",
			"zh": "紧急：南溪河山洪。请立即转移到高处。",
		},
		Languages: []string{"vi", "en", "zh"}, LangMode: protocol.LangsTogether,
		Tone:     &protocol.Tone{Kind: "alert", Repeat: 3},
		StartsAt: at(700), ExpiresAt: at(700).Add(15 * time.Minute), Wake: true, IssuedAt: at(700),
		OrgID: goldenOrgID, DisplayIDs: []string{goldenDisplayID},
	}
}

// goldenManifest is the manifest signed in manifest.json.
func goldenManifest() protocol.Manifest {
	a, b := sha256Hex(fileA), sha256Hex(fileB)
	prog, err := json.Marshal(goldenProgram(a, b))
	if err != nil {
		panic(err)
	}
	return protocol.Manifest{
		DisplayID:    goldenDisplayID,
		Version:      42,
		IssuedAt:     at(5),
		Display:      protocol.DisplaySpec{Width: 1920, Height: 1080, Fit: "contain", Background: "#000000"},
		Timezone:     "Europe/Amsterdam",
		Playlist:     protocol.Playlist{Items: []protocol.Item{}},
		Program:      prog,
		PrefetchDays: 7,
		Files: []protocol.File{
			{SHA256: a, Size: int64(len(fileA)), URL: "/player/v1/files/" + a, Profile: "1080p", ContentType: "image/png"},
			{SHA256: b, Size: int64(len(fileB)), URL: "/player/v1/files/" + b, Profile: "1080p", ContentType: "image/png"},
		},
	}
}

// goldenProgram is manifest.json's program: the lobby loop of files A
// (item it-1, 10 s) and B (it-2, 7.5 s), all day inside 07:00–22:00
// Amsterdam time, as the reference server compiles a playlist placed on
// the display (items named by media id, one unnamed variant).
func goldenProgram(a, b string) *playlists.Program {
	return &playlists.Program{
		Display:  playlists.Display{ID: goldenDisplayID, Width: 1920, Height: 1080},
		Timezone: "Europe/Amsterdam",
		Hours:    []playlists.Window{{Start: "07:00", End: "22:00"}},
		Items: []playlists.Item{
			{ID: "it-1", Kind: playlists.KindImage, DurationS: 10, Variants: map[string]playlists.Variant{"": {SHA256: a, ContentType: "image/png"}}},
			{ID: "it-2", Kind: playlists.KindImage, DurationS: 7.5, Variants: map[string]playlists.Variant{"": {SHA256: b, ContentType: "image/png"}}},
		},
		Playlists: []playlists.Playlist{{ID: "pl-lobby", Name: "Lobby loop", Entries: []playlists.Entry{{ItemID: "it-1"}, {ItemID: "it-2"}},
			Transition: playlists.Transition{Kind: "cut"}}},
		Layouts: []playlists.Layout{},
		Schedules: []playlists.Schedule{{ID: "sc-lobby", Name: "Lobby", Target: playlists.Target{DisplayIDs: []string{goldenDisplayID}},
			Content: playlists.Content{PlaylistID: "pl-lobby"}, Priority: 1}},
	}
}

// goldenChallenge is the server's answer to hello.json, signed over the
// player's key and hello nonce.
func goldenChallenge() protocol.Challenge {
	ch := protocol.Challenge{Nonce: nonce, ServerKey: serverPub, ServerTime: at(1)}
	protocol.SignChallenge(serverPriv, playerPub, helloNonce, &ch)
	return ch
}

type vector struct {
	id   string
	ts   time.Time
	body any
}

// goldenVectors builds every golden vector from Go values.
func goldenVectors(t testing.TB) map[string]vector {
	t.Helper()
	sm, err := protocol.SignManifest(serverPriv, goldenManifest())
	if err != nil {
		t.Fatalf("SignManifest: %v", err)
	}
	a, b := sha256Hex(fileA), sha256Hex(fileB)
	ch := goldenChallenge()
	so, err := protocol.SignOverride(serverPriv, goldenOverride())
	if err != nil {
		t.Fatalf("SignOverride: %v", err)
	}
	return map[string]vector{
		protocol.TypeHello: {"0000000000000001", at(0), protocol.Hello{
			ProtocolVersion: 1, PlayerVersion: "1.0.0", PublicKey: playerPub,
			DisplayID: goldenDisplayID, ManifestVersion: 41, Nonce: helloNonce,
			Capabilities: []string{protocol.CapOverride},
		}},
		protocol.TypeChallenge: {"8000000000000001", at(1), ch},
		protocol.TypeAuth:      {"0000000000000002", at(2), protocol.SignAuth(playerPriv, ch)},
		protocol.TypeAuthOK: {"8000000000000002", at(3), protocol.AuthOK{
			DisplayID: goldenDisplayID, Name: "Lobby east wall", Token: goldenToken,
			ServerKey: serverPub, ManifestVersion: 42, OrgID: goldenOrgID,
		}},
		protocol.TypePairing: {"8000000000000003", at(3), protocol.Pairing{
			Code: "K7Q4M2", ExpiresAt: at(3).Add(15 * time.Minute),
		}},
		protocol.TypePaired: {"8000000000000004", at(300), protocol.Paired{
			DisplayID: goldenDisplayID, Name: "Lobby east wall", Token: goldenToken, ServerKey: serverPub,
			OrgID: goldenOrgID,
		}},
		protocol.TypeOverride:       {"8000000000000008", at(700), so},
		protocol.TypeOverrideCancel: {"8000000000000009", at(900), protocol.SignCancel(serverPriv, "ovr_flood1", goldenOrgID, at(900))},
		protocol.TypeOverrideAck: {"0000000000000009", at(701), protocol.OverrideAck{
			ID: "ovr_flood1", Revision: 1, State: protocol.AckPainted, At: at(701), PaintedAt: at(700).Add(180 * time.Millisecond),
		}},
		protocol.TypeManifest: {"8000000000000005", at(5), sm},
		protocol.TypeAck: {"0000000000000003", at(6), protocol.Ack{
			Ref: "8000000000000005", ManifestVersion: 42,
		}},
		protocol.TypeFileList: {"0000000000000004", at(6), protocol.FileList{
			ManifestVersion: 42, Have: []string{a}, Missing: []string{b},
		}},
		protocol.TypeHeartbeat: {"0000000000000005", at(20), protocol.Heartbeat{
			ManifestVersion: 42, State: protocol.StatePlaying,
			NowPlaying:        &protocol.NowPlaying{ItemID: "it-1", MediaID: "m-welcome", SHA256: a, StartedAt: at(15)},
			Cache:             protocol.CacheStats{Files: 1, Bytes: int64(len(fileA)), Missing: 1},
			RendererConnected: true, UptimeS: 86400, PlayerTime: at(20).Add(250 * time.Millisecond),
		}},
		protocol.TypeError: {"8000000000000006", at(21), protocol.ErrorBody{
			Code: protocol.CodeUnknownType, Message: `protocol: unknown message type "reboot"`, Ref: "0000000000000006",
		}},
		protocol.TypeIncident: {"0000000000000007", at(22), protocol.Incident{
			Kind: protocol.IncidentHashMismatch, Message: "downloaded file does not match the manifest",
			ManifestVersion: 42, SHA256: b,
		}},
		protocol.TypeUnpair: {"8000000000000007", at(600), protocol.SignUnpair(serverPriv, goldenDisplayID, playerPub, helloNonce, at(600))},
		protocol.TypeProofOfPlay: {"0000000000000008", at(26), protocol.ProofOfPlay{Records: []protocol.PlayRecord{
			{ID: "p1-000001", Zone: "main", ItemID: "it-1", SHA256: a, ScheduleID: "sch-1", Start: at(15), End: at(25)},
		}}},
	}
}

// newBody returns a pointer to the Go type of a message type's body.
func newBody(typ string) any {
	switch typ {
	case protocol.TypeHello:
		return new(protocol.Hello)
	case protocol.TypeChallenge:
		return new(protocol.Challenge)
	case protocol.TypeAuth:
		return new(protocol.Auth)
	case protocol.TypeAuthOK:
		return new(protocol.AuthOK)
	case protocol.TypePairing:
		return new(protocol.Pairing)
	case protocol.TypePaired:
		return new(protocol.Paired)
	case protocol.TypeManifest:
		return new(protocol.SignedManifest)
	case protocol.TypeFileList:
		return new(protocol.FileList)
	case protocol.TypeHeartbeat:
		return new(protocol.Heartbeat)
	case protocol.TypeAck:
		return new(protocol.Ack)
	case protocol.TypeError:
		return new(protocol.ErrorBody)
	case protocol.TypeIncident:
		return new(protocol.Incident)
	case protocol.TypeProofOfPlay:
		return new(protocol.ProofOfPlay)
	case protocol.TypeUnpair:
		return new(protocol.Unpair)
	case protocol.TypeOverride:
		return new(protocol.SignedOverride)
	case protocol.TypeOverrideCancel:
		return new(protocol.OverrideCancel)
	case protocol.TypeOverrideAck:
		return new(protocol.OverrideAck)
	}
	return nil
}

func goldenPath(typ string) string { return filepath.Join("testdata", typ+".json") }

func readGolden(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatalf("read golden: %v (run go test ./protocol/ -run TestGoldenBuild -update)", err)
	}
	return b
}

// sameJSON compares two JSON documents semantically.
func sameJSON(t testing.TB, got, want []byte) bool {
	t.Helper()
	var g, w any
	if err := json.Unmarshal(got, &g); err != nil {
		t.Fatalf("got is not JSON: %v", err)
	}
	if err := json.Unmarshal(want, &w); err != nil {
		t.Fatalf("want is not JSON: %v", err)
	}
	return reflect.DeepEqual(g, w)
}

func frame(t testing.TB, typ string, v vector) []byte {
	t.Helper()
	raw, err := json.Marshal(v.body)
	if err != nil {
		t.Fatalf("%s: marshal body: %v", typ, err)
	}
	b, err := protocol.Marshal(protocol.Envelope{Type: typ, ID: v.id, TS: v.ts, Body: raw})
	if err != nil {
		t.Fatalf("%s: Marshal: %v", typ, err)
	}
	return b
}

// TestGoldenBuild rebuilds every vector from Go values and compares it with
// the file; with -update it rewrites the files instead.
func TestGoldenBuild(t *testing.T) {
	vectors := goldenVectors(t)
	if len(vectors) != len(protocol.KnownTypes) {
		t.Fatalf("%d vectors for %d known types", len(vectors), len(protocol.KnownTypes))
	}
	for _, typ := range protocol.KnownTypes {
		v, ok := vectors[typ]
		if !ok {
			t.Errorf("no golden vector for %q", typ)
			continue
		}
		got := frame(t, typ, v)
		if *update {
			var out bytes.Buffer
			if err := json.Indent(&out, got, "", "  "); err != nil {
				t.Fatal(err)
			}
			out.WriteByte('\n')
			if err := os.WriteFile(goldenPath(typ), out.Bytes(), 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if want := readGolden(t, typ+".json"); !sameJSON(t, got, want) {
			t.Errorf("%s: Go values no longer produce %s:\n got %s\nwant %s", typ, goldenPath(typ), got, want)
		}
	}

	// manifest_payload.json holds the exact signed bytes of manifest.json's
	// payload (no trailing newline), for readers who cannot decode base64.
	payload := vectors[protocol.TypeManifest].body.(protocol.SignedManifest).Payload
	if *update {
		if err := os.WriteFile(filepath.Join("testdata", "manifest_payload.json"), payload, 0o644); err != nil {
			t.Fatal(err)
		}
	} else if got := readGolden(t, "manifest_payload.json"); !bytes.Equal(got, payload) {
		t.Errorf("manifest_payload.json differs from the signed payload:\n got %s\nwant %s", got, payload)
	}
}

// TestGoldenRoundTrip decodes each file, decodes its body into the Go type,
// re-encodes the envelope and compares the result with the file.
func TestGoldenRoundTrip(t *testing.T) {
	for _, typ := range protocol.KnownTypes {
		t.Run(typ, func(t *testing.T) {
			want := readGolden(t, typ+".json")
			env, err := protocol.Decode(want)
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			if env.Type != typ {
				t.Fatalf("type %q, want %q", env.Type, typ)
			}
			if len(env.ID) != 16 || !isLowerHex(env.ID) {
				t.Errorf("id %q is not 16 lower-case hex characters", env.ID)
			}
			if env.TS.IsZero() || env.TS.Location() != time.UTC {
				t.Errorf("ts %v is not a UTC time", env.TS)
			}
			body := newBody(typ)
			if err := env.DecodeBody(body); err != nil {
				t.Fatalf("DecodeBody: %v", err)
			}
			raw, err := json.Marshal(body)
			if err != nil {
				t.Fatal(err)
			}
			got, err := protocol.Marshal(protocol.Envelope{Type: env.Type, ID: env.ID, TS: env.TS, Body: raw})
			if err != nil {
				t.Fatalf("Marshal: %v", err)
			}
			if !sameJSON(t, got, want) {
				t.Errorf("re-encoded frame differs:\n got %s\nwant %s", got, want)
			}
			// The decoded body equals the Go value the vector was built from.
			if v := goldenVectors(t)[typ]; !reflect.DeepEqual(reflect.ValueOf(body).Elem().Interface(), v.body) {
				t.Errorf("decoded body %+v, want %+v", body, v.body)
			}
		})
	}
}

func isLowerHex(s string) bool {
	for _, c := range s {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

func decodeGolden(t *testing.T, typ string, body any) protocol.Envelope {
	t.Helper()
	env, err := protocol.Decode(readGolden(t, typ+".json"))
	if err != nil {
		t.Fatalf("%s: Decode: %v", typ, err)
	}
	if err := env.DecodeBody(body); err != nil {
		t.Fatalf("%s: DecodeBody: %v", typ, err)
	}
	return env
}

// TestGoldenSignatures checks that the signatures in the files are real:
// auth.json answers challenge.json for hello.json's key, and manifest.json
// is signed by the seeded server key.
func TestGoldenSignatures(t *testing.T) {
	var hello protocol.Hello
	var ch protocol.Challenge
	var auth protocol.Auth
	var sm protocol.SignedManifest
	decodeGolden(t, protocol.TypeHello, &hello)
	decodeGolden(t, protocol.TypeChallenge, &ch)
	decodeGolden(t, protocol.TypeAuth, &auth)
	decodeGolden(t, protocol.TypeManifest, &sm)

	if !bytes.Equal(hello.PublicKey, playerPub) {
		t.Errorf("hello.public_key is not the key of the player seed")
	}
	if !bytes.Equal(ch.Nonce, nonce) || !bytes.Equal(ch.ServerKey, serverPub) {
		t.Errorf("challenge does not carry the seeded nonce and server key")
	}
	if err := protocol.VerifyChallenge(serverPub, hello.PublicKey, hello.Nonce, ch); err != nil {
		t.Errorf("challenge.json: VerifyChallenge: %v", err)
	}
	cmsg := append(append(append([]byte("beacon.v1 challenge\n"), hello.PublicKey...), hello.Nonce...), ch.Nonce...)
	if !ed25519.Verify(serverPub, cmsg, ch.Signature) {
		t.Errorf("challenge.json: signature does not cover %q || player key || hello nonce || nonce", "beacon.v1 challenge\n")
	}
	if err := protocol.VerifyAuth(ed25519.PublicKey(hello.PublicKey), ch, auth); err != nil {
		t.Errorf("auth.json: VerifyAuth: %v", err)
	}
	// The documented bytes, checked without the helper.
	msg := append(append(append([]byte("beacon.v1 auth+server\n"), ch.ServerKey...), hello.PublicKey...), ch.Nonce...)
	if !ed25519.Verify(ed25519.PublicKey(hello.PublicKey), msg, auth.Signature) {
		t.Errorf("auth.json: signature does not cover %q || server key || public key || nonce", "beacon.v1 auth+server\n")
	}
	if err := protocol.VerifyAuth(serverPub, ch, auth); !errors.Is(err, protocol.ErrBadSignature) {
		t.Errorf("auth.json verified with the server key: %v", err)
	}
	var u protocol.Unpair
	decodeGolden(t, protocol.TypeUnpair, &u)
	if err := protocol.VerifyUnpair(serverPub, goldenDisplayID, hello.PublicKey, hello.Nonce, u); err != nil {
		t.Errorf("unpair.json: VerifyUnpair: %v", err)
	}

	m, err := protocol.VerifyManifest(serverPub, sm)
	if err != nil {
		t.Fatalf("manifest.json: VerifyManifest: %v", err)
	}
	if !reflect.DeepEqual(m, goldenManifest()) {
		t.Errorf("manifest.json payload = %+v, want %+v", m, goldenManifest())
	}
	if sm.KeyID != protocol.KeyID(serverPub) {
		t.Errorf("key_id %q, want %q", sm.KeyID, protocol.KeyID(serverPub))
	}
	if !ed25519.Verify(serverPub, append([]byte("beacon.v1 manifest\n"), sm.Payload...), sm.Signature) {
		t.Errorf("manifest.json: signature does not cover %q || payload", "beacon.v1 manifest\n")
	}
	if _, err := protocol.VerifyManifest(playerPub, sm); !errors.Is(err, protocol.ErrBadSignature) {
		t.Errorf("manifest.json verified with the player key: %v", err)
	}
}

// TestGoldenTamperedManifest flips each payload byte in turn (and one
// signature byte): every copy must fail with ErrBadSignature.
func TestGoldenTamperedManifest(t *testing.T) {
	var sm protocol.SignedManifest
	decodeGolden(t, protocol.TypeManifest, &sm)
	for i := range sm.Payload {
		bad := sm
		bad.Payload = bytes.Clone(sm.Payload)
		bad.Payload[i] ^= 0x01
		m, err := protocol.VerifyManifest(serverPub, bad)
		if !errors.Is(err, protocol.ErrBadSignature) {
			t.Fatalf("payload byte %d flipped: err = %v, want ErrBadSignature", i, err)
		}
		if !reflect.DeepEqual(m, protocol.Manifest{}) {
			t.Fatalf("payload byte %d flipped: a manifest was returned", i)
		}
	}
	bad := sm
	bad.Signature = bytes.Clone(sm.Signature)
	bad.Signature[10] ^= 0x80
	if _, err := protocol.VerifyManifest(serverPub, bad); !errors.Is(err, protocol.ErrBadSignature) {
		t.Errorf("signature flipped: err = %v, want ErrBadSignature", err)
	}

	// The same tampering applied to the frame on disk, through Decode.
	var doc map[string]any
	if err := json.Unmarshal(readGolden(t, "manifest.json"), &doc); err != nil {
		t.Fatal(err)
	}
	body := doc["body"].(map[string]any)
	p := bytes.Clone(sm.Payload)
	p[len(p)/2] ^= 0x20
	body["payload"] = p // re-encoded as base64 by Marshal
	raw, _ := json.Marshal(doc)
	env, err := protocol.Decode(raw)
	if err != nil {
		t.Fatal(err)
	}
	var tampered protocol.SignedManifest
	if err := env.DecodeBody(&tampered); err != nil {
		t.Fatal(err)
	}
	if _, err := protocol.VerifyManifest(serverPub, tampered); !errors.Is(err, protocol.ErrBadSignature) {
		t.Errorf("tampered frame: err = %v, want ErrBadSignature", err)
	}
}

// TestGoldenUnknownFields: unknown fields in the envelope and in the body
// are ignored.
func TestGoldenUnknownFields(t *testing.T) {
	env, err := protocol.Decode(readGolden(t, "unknown_fields.json"))
	if err != nil {
		t.Fatalf("Decode: %v", err)
	}
	var h protocol.Hello
	if err := env.DecodeBody(&h); err != nil {
		t.Fatalf("DecodeBody: %v", err)
	}
	want := goldenVectors(t)[protocol.TypeHello]
	if env.Type != protocol.TypeHello || env.ID != want.id || !env.TS.Equal(want.ts) {
		t.Errorf("envelope = %s %s %v, want hello %s %v", env.Type, env.ID, env.TS, want.id, want.ts)
	}
	if !reflect.DeepEqual(h, want.body) {
		t.Errorf("body = %+v, want %+v", h, want.body)
	}
}

// TestGoldenUnknownType: unknown_type.json decodes to ErrUnknownType with
// its id, and error.json is the answer to it.
func TestGoldenUnknownType(t *testing.T) {
	env, err := protocol.Decode(readGolden(t, "unknown_type.json"))
	if !errors.Is(err, protocol.ErrUnknownType) {
		t.Fatalf("err = %v, want ErrUnknownType", err)
	}
	var reply protocol.ErrorBody
	decodeGolden(t, protocol.TypeError, &reply)
	if got := protocol.ErrorFor(err, env.ID); got != reply {
		t.Errorf("ErrorFor = %+v, error.json carries %+v", got, reply)
	}
}
