package server_test

import (
	"crypto/ed25519"
	"encoding/base64"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"beacon/protocol"
	"beacon/server/servertest"
)

// docs/protocol.md §9.2, row by row, against the real server: every
// message a player sends gets the documented answer, with ref = its id,
// and a message documented as unanswered gets nothing: the next frame the
// server sends (its own manifests aside) is the answer to a probe of an
// unknown type sent after it.
func TestEveryPlayerMessageAnswered(t *testing.T) {
	s := servertest.Start(t, servertest.Options{})
	p := dialRaw(t, s, nil)
	var pairing protocol.Pairing
	if env := p.handshake(0); env.Type != protocol.TypePairing || env.DecodeBody(&pairing) != nil {
		t.Fatalf("handshake: %s", env.Type)
	}

	// answer returns the server's next frame that is not a manifest.
	answer := func(what string) protocol.Envelope {
		t.Helper()
		for {
			frame, err := p.next(10 * time.Second)
			if err != nil {
				t.Fatalf("%s: no answer: %v", what, err)
			}
			env, err := protocol.Decode(frame)
			if err != nil {
				t.Fatalf("%s: undecodable answer %q", what, frame)
			}
			if env.Type != protocol.TypeManifest {
				return env
			}
		}
	}
	frame := func(typ, body string) (string, []byte) {
		id := protocol.NewID()
		return id, []byte(`{"type":"` + typ + `","id":"` + id + `","ts":"` + time.Now().UTC().Format(time.RFC3339) + `","body":` + body + `}`)
	}
	// nothing sends body as typ, then a probe; the probe's answer must
	// come first.
	nothing := func(what, typ, body string) {
		t.Helper()
		_, f := frame(typ, body)
		if err := p.sendRaw(f); err != nil {
			t.Fatal(err)
		}
		probe, pf := frame("probe", `{}`)
		if err := p.sendRaw(pf); err != nil {
			t.Fatal(err)
		}
		env := answer(what)
		var eb protocol.ErrorBody
		if env.Type != protocol.TypeError || env.DecodeBody(&eb) != nil || eb.Code != protocol.CodeUnknownType || eb.Ref != probe {
			t.Errorf("%s: answered %s %s, want nothing", what, env.Type, env.Body)
		}
	}
	// wantError sends body as typ and wants error code with ref = its id.
	wantError := func(what, typ, body, code string) {
		t.Helper()
		id, f := frame(typ, body)
		if err := p.sendRaw(f); err != nil {
			t.Fatal(err)
		}
		env := answer(what)
		var eb protocol.ErrorBody
		if env.Type != protocol.TypeError || env.DecodeBody(&eb) != nil || eb.Code != code || eb.Ref != id {
			t.Errorf("%s: answered %s %s, want error %s with ref %s", what, env.Type, env.Body, code, id)
		}
	}
	wantAck := func(what, typ, body string) {
		t.Helper()
		id, f := frame(typ, body)
		if err := p.sendRaw(f); err != nil {
			t.Fatal(err)
		}
		env := answer(what)
		var a protocol.Ack
		if env.Type != protocol.TypeAck || env.DecodeBody(&a) != nil || a.Ref != id {
			t.Errorf("%s: answered %s %s, want ack with ref %s", what, env.Type, env.Body, id)
		}
	}
	b64 := base64.StdEncoding.EncodeToString
	now := time.Now().UTC().Format(time.RFC3339)
	later := time.Now().UTC().Add(10 * time.Second).Format(time.RFC3339)
	heartbeat := func(state string) string {
		return `{"manifest_version":0,"state":"` + state + `","cache":{"files":0,"bytes":0,"missing":0},"renderer_connected":true,"uptime_s":3,"player_time":"` + now + `"}`
	}
	play := `{"records":[{"id":"rec-1","zone":"main","item_id":"it-1","start":"` + now + `","end":"` + later + `"}]}`

	// While pairing (§4 step 4).
	nothing("heartbeat while pairing", protocol.TypeHeartbeat, heartbeat(protocol.StatePairing))
	wantError("heartbeat whose body fails its checks", protocol.TypeHeartbeat, `{"state":5}`, protocol.CodeMalformed)
	wantError("proof_of_play before pairing", protocol.TypeProofOfPlay, play, protocol.CodeUnexpected)
	wantError("a second hello", protocol.TypeHello, `{"protocol_version":1,"public_key":"`+b64(p.priv.Public().(ed25519.PublicKey))+`"}`, protocol.CodeUnexpected)
	wantError("unknown type", "teleport", `{}`, protocol.CodeUnknownType)

	var disp struct{ ID string }
	if code := s.Do("POST", "/api/v1/displays/claim", map[string]any{"code": pairing.Code, "name": "Answers", "width": 384, "height": 192}, &disp); code != 201 {
		t.Fatalf("claim: %d", code)
	}
	p.expect(protocol.TypePaired, nil)

	// Running (§4 step 5, §9.2).
	nothing("heartbeat", protocol.TypeHeartbeat, heartbeat(protocol.StateWaiting))
	nothing("file_list", protocol.TypeFileList, `{"manifest_version":1,"have":null,"missing":null}`)
	nothing("ack of a manifest", protocol.TypeAck, `{"ref":"8000000000000001","manifest_version":1}`)
	nothing("error", protocol.TypeError, `{"code":"internal","message":"disk full"}`)
	nothing("override_ack of an override not for this display", protocol.TypeOverrideAck, `{"id":"ovr-none","revision":1,"state":"received","at":"`+now+`"}`)
	wantError("override_ack that fails its checks", protocol.TypeOverrideAck, `{"id":"ovr-none","revision":1,"state":"shown","at":"`+now+`"}`, protocol.CodeMalformed)
	wantAck("incident", protocol.TypeIncident, `{"kind":"hash_mismatch","message":"sha256 differs","sha256":"`+strings.Repeat("ab", 32)+`","manifest_version":1}`)
	wantAck("the same incident again (stored once)", protocol.TypeIncident, `{"kind":"hash_mismatch","message":"sha256 differs","sha256":"`+strings.Repeat("ab", 32)+`","manifest_version":1}`)
	wantError("incident whose body fails its checks", protocol.TypeIncident, `{"kind":7}`, protocol.CodeMalformed)
	wantAck("proof_of_play", protocol.TypeProofOfPlay, play)
	wantAck("the same records again (stored once)", protocol.TypeProofOfPlay, play)
	wantError("proof_of_play with a record ending before it starts", protocol.TypeProofOfPlay,
		`{"records":[{"id":"rec-2","zone":"main","item_id":"it-1","start":"`+later+`","end":"`+now+`"}]}`, protocol.CodeMalformed)
	wantError("a second hello", protocol.TypeHello, `{"protocol_version":1,"public_key":"`+b64(p.priv.Public().(ed25519.PublicKey))+`"}`, protocol.CodeUnexpected)
	wantError("auth after auth", protocol.TypeAuth, `{"signature":"`+b64(make([]byte, 64))+`"}`, protocol.CodeUnexpected)
	wantError("unknown type", "teleport", `{}`, protocol.CodeUnknownType)

	// The connection is still open after all of that; a binary frame
	// closes it with 1003.
	nothing("heartbeat at the end", protocol.TypeHeartbeat, heartbeat(protocol.StateWaiting))
	_ = p.conn.WriteMessage(websocket.BinaryMessage, []byte("junk"))
	if c := p.closeCode(t); c != websocket.CloseUnsupportedData {
		t.Fatalf("binary frame: closed with %d, want 1003", c)
	}
}
