package protocol_test

import (
	"bytes"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"beacon/protocol"
)

// addGoldenSeeds adds every frame in testdata/ to the corpus.
func addGoldenSeeds(f *testing.F) {
	files, err := filepath.Glob(filepath.Join("testdata", "*.json"))
	if err != nil || len(files) == 0 {
		f.Fatalf("no golden vectors: %v", err)
	}
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
}

func FuzzDecode(f *testing.F) {
	addGoldenSeeds(f)
	for _, s := range []string{
		``, ` `, `{`, `}`, `[]`, `null`, `"hello"`, `{}`, `{"type":""}`, `{"type":5}`,
		`{"type":"hello"}`, `{"type":"hello","body":null}`, `{"type":"hello","body":"x"}`,
		`{"type":"hello","body":{"protocol_version":1e400}}`,
		`{"type":"hello","body":{"public_key":"!!!"}}`,
		`{"type":"manifest","body":{"payload":"e30=","signature":"AAAA"}}`,
		`{"type":"reboot","id":"0000000000000009","body":{}}`,
		`{"type":"ack","ts":"0000-01-01T00:00:00+23:59","body":{"ref":"x"}}`,
		`{"type":"ack","ts":"9999-12-31T23:59:59-23:59","body":{"ref":"x"}}`,
		"{\"type\":\"ack\",\"id\":\"\xff\xfe\",\"body\":{\"ref\":\"\xc3\"}}",
		`{"TYPE":"ack","Id":"x","BODY":{"REF":"y"}}`,
		`{"type":"ack","type":"error","body":{}}`,
		`{"type":"ack","body":{"ref":"<&>\u2028"}}`,
	} {
		f.Add([]byte(s))
	}
	signed := signedPayloads(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		env, err := protocol.Decode(data)
		if err != nil {
			if !errors.Is(err, protocol.ErrMalformed) && !errors.Is(err, protocol.ErrUnknownType) && !errors.Is(err, protocol.ErrFrameTooLarge) {
				t.Fatalf("Decode error outside the contract: %v", err)
			}
			_ = protocol.ErrorFor(err, env.ID)
			return
		}
		out, err := protocol.Marshal(env)
		if err != nil {
			// encoding/json escapes <, > and & as \u003c etc., so a frame
			// close to the limit can grow past it when re-encoded.
			if errors.Is(err, protocol.ErrFrameTooLarge) && len(data) > protocol.MaxFrameSize/6 {
				t.Skip("re-encoding grew past 1 MiB")
			}
			t.Fatalf("Marshal of a decoded envelope: %v", err)
		}
		again, err := protocol.Decode(out)
		if err != nil {
			t.Fatalf("Decode(Marshal(env)): %v\n%s", err, out)
		}
		if again.Type != env.Type || again.ID != env.ID {
			t.Fatalf("round trip changed type/id: %q/%q -> %q/%q", env.Type, env.ID, again.Type, again.ID)
		}
		if !again.TS.Equal(env.TS) {
			t.Fatalf("round trip changed ts: %v -> %v", env.TS, again.TS)
		}

		body := newBody(env.Type)
		if body == nil {
			t.Fatalf("Decode accepted type %q that has no body type", env.Type)
		}
		if err := env.DecodeBody(body); err != nil {
			if !errors.Is(err, protocol.ErrMalformed) {
				t.Fatalf("DecodeBody error outside the contract: %v", err)
			}
			return
		}
		if _, err := json.Marshal(body); err != nil {
			t.Fatalf("re-encode decoded %s body: %v", env.Type, err)
		}
		if sm, ok := body.(*protocol.SignedManifest); ok {
			m, err := protocol.VerifyManifest(serverPub, *sm)
			if _, ok := signed[string(sm.Payload)]; err == nil && !ok {
				t.Fatalf("VerifyManifest accepted a payload the server key did not sign: %q", sm.Payload)
			}
			if err != nil && !reflect.DeepEqual(m, protocol.Manifest{}) {
				t.Fatalf("VerifyManifest returned a manifest with error %v", err)
			}
		}
	})
}

// signedPayloads returns every payload (with its signature) that these
// tests sign with the server key: nothing else can verify under it.
func signedPayloads(t testing.TB) map[string][]byte {
	signedByServer := map[string][]byte{}
	sm, err := protocol.SignManifest(serverPriv, goldenManifest())
	if err != nil {
		t.Fatal(err)
	}
	signedByServer[string(sm.Payload)] = sm.Signature
	m := goldenManifest()
	m.Version, m.Files = 1, nil
	sm, err = protocol.SignManifest(serverPriv, m)
	if err != nil {
		t.Fatal(err)
	}
	signedByServer[string(sm.Payload)] = sm.Signature
	// manifest_program.json, a manifest carrying a program
	env, err := protocol.Decode(manifestProgram(t))
	if err != nil || env.DecodeBody(&sm) != nil {
		t.Fatalf("manifest_program: %v", err)
	}
	signedByServer[string(sm.Payload)] = sm.Signature
	return signedByServer
}

func FuzzVerifyManifest(f *testing.F) {
	for p, sig := range signedPayloads(f) {
		f.Add([]byte(p), sig)
		flipped := []byte(p)
		flipped[len(flipped)/3] ^= 0x04
		f.Add(flipped, sig)
		f.Add([]byte(p), append(bytes.Clone(sig[:63]), sig[63]^0x10))
		f.Add([]byte(p), sig[:32])
		f.Add([]byte(p+" "), sig)
	}
	f.Add([]byte{}, []byte{})
	f.Add([]byte("{}"), make([]byte, 64))
	f.Add([]byte(`{"display_id":"d","version":1}`), ed25519.Sign(playerPriv, []byte("beacon.v1 manifest\n{\"display_id\":\"d\",\"version\":1}")))

	signed := signedPayloads(f)
	f.Fuzz(func(t *testing.T, payload, sig []byte) {
		sm := protocol.SignedManifest{Payload: payload, Signature: sig, KeyID: protocol.KeyID(serverPub)}
		m, err := protocol.VerifyManifest(serverPub, sm)
		if err != nil {
			if !errors.Is(err, protocol.ErrBadSignature) && !errors.Is(err, protocol.ErrMalformed) {
				t.Fatalf("error outside the contract: %v", err)
			}
			if !reflect.DeepEqual(m, protocol.Manifest{}) {
				t.Fatalf("manifest returned with error %v", err)
			}
			return
		}
		if _, ok := signed[string(payload)]; !ok {
			t.Fatalf("VerifyManifest accepted a payload the server key never signed: %q (sig %x)", payload, sig)
		}
		if !ed25519.Verify(serverPub, append([]byte("beacon.v1 manifest\n"), payload...), sig) {
			t.Fatalf("accepted a signature that does not verify")
		}
		if err := m.Check(); err != nil {
			t.Fatalf("returned manifest fails Check: %v", err)
		}
		var direct protocol.Manifest
		if err := json.Unmarshal(payload, &direct); err != nil || !reflect.DeepEqual(direct, m) {
			t.Fatalf("returned manifest is not the signed payload: %+v vs %+v (%v)", m, direct, err)
		}
	})
}
