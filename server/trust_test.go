package server_test

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"strings"
	"testing"
	"time"

	"beacon/protocol"
	"beacon/server/servertest"
)

// claimRaw pairs a raw player with a new display and returns its id.
func claimRaw(t *testing.T, s *servertest.Server, p *rawPlayer) string {
	t.Helper()
	env := p.handshake(0)
	var pairing protocol.Pairing
	if env.Type != protocol.TypePairing || env.DecodeBody(&pairing) != nil {
		t.Fatalf("unknown key got %s, want pairing", env.Type)
	}
	var disp struct{ ID string }
	if code := s.Do("POST", "/api/v1/displays/claim", map[string]any{"code": pairing.Code, "name": "Gate 2", "width": 320, "height": 180}, &disp); code != 201 {
		t.Fatalf("claim: %d", code)
	}
	p.expect(protocol.TypePaired, nil)
	return disp.ID
}

// The auth signature covers the server's key: an answer signed for
// another server's key, or in the old form without it, is refused.
func TestAuthMustNameThisServer(t *testing.T) {
	s := servertest.Start(t, servertest.Options{})
	_, relayKey, _ := ed25519.GenerateKey(rand.Reader)
	for name, sign := range map[string]func(priv ed25519.PrivateKey, ch protocol.Challenge) protocol.Auth{
		"other server key": func(priv ed25519.PrivateKey, ch protocol.Challenge) protocol.Auth {
			ch.ServerKey = relayKey.Public().(ed25519.PublicKey)
			return protocol.SignAuth(priv, ch)
		},
		"old form": func(priv ed25519.PrivateKey, ch protocol.Challenge) protocol.Auth {
			pub := priv.Public().(ed25519.PublicKey)
			return protocol.Auth{Signature: ed25519.Sign(priv, append(append([]byte("beacon.v1 auth\n"), ch.Nonce...), pub...))}
		},
	} {
		t.Run(name, func(t *testing.T) {
			p := dialRaw(t, s, nil)
			p.send(protocol.TypeHello, protocol.Hello{ProtocolVersion: 1, PublicKey: p.priv.Public().(ed25519.PublicKey)})
			var ch protocol.Challenge
			p.expect(protocol.TypeChallenge, &ch)
			if len(ch.Signature) != 0 {
				t.Errorf("challenge signed although the hello carried no nonce")
			}
			p.send(protocol.TypeAuth, sign(p.priv, ch))
			var e protocol.ErrorBody
			p.expect(protocol.TypeError, &e)
			if e.Code != protocol.CodeAuthFailed {
				t.Fatalf("got %+v, want auth_failed", e)
			}
		})
	}
}

// Deleting a display that is online sends its player a signed unpair
// bound to the display, the player key and the session; a player deleted
// while offline gets one when it next connects, followed by a pairing code.
func TestDeleteDisplaySendsSignedUnpair(t *testing.T) {
	s := servertest.Start(t, servertest.Options{})
	p := dialRaw(t, s, nil)
	id := claimRaw(t, s, p)
	pub := p.priv.Public().(ed25519.PublicKey)

	// Incidents are acknowledged once stored.
	ref := p.send(protocol.TypeIncident, protocol.Incident{Kind: protocol.IncidentServerKeyMismatch, Message: "test"})
	for {
		var ack protocol.Ack
		p.expect(protocol.TypeAck, &ack)
		if ack.Ref == ref {
			break
		}
	}

	if code := s.Do("DELETE", "/api/v1/displays/"+id, nil, nil); code != 204 {
		t.Fatalf("delete: %d", code)
	}
	var u protocol.Unpair
	p.expect(protocol.TypeUnpair, &u)
	if err := protocol.VerifyUnpair(s.PublicKey(), id, pub, p.nonce, u); err != nil {
		t.Fatalf("unpair: %v", err)
	}
	if _, err := p.next(5 * time.Second); err == nil || strings.Contains(err.Error(), "timed out") {
		t.Fatalf("session not closed after unpair: %v", err)
	}

	// Reconnecting with the old display id: unpair for this session, then pairing.
	p2 := dialRaw(t, s, p.priv)
	nonce := make([]byte, protocol.NonceSize)
	_, _ = rand.Read(nonce)
	p2.send(protocol.TypeHello, protocol.Hello{ProtocolVersion: 1, PublicKey: pub, DisplayID: id, Nonce: nonce})
	var ch protocol.Challenge
	p2.expect(protocol.TypeChallenge, &ch)
	p2.send(protocol.TypeAuth, protocol.SignAuth(p.priv, ch))
	var u2 protocol.Unpair
	p2.expect(protocol.TypeUnpair, &u2)
	if err := protocol.VerifyUnpair(s.PublicKey(), id, pub, nonce, u2); err != nil {
		t.Fatalf("unpair on reconnect: %v", err)
	}
	if bytes.Equal(u2.Signature, u.Signature) {
		t.Fatalf("the same unpair was sent to two sessions")
	}
	p2.expect(protocol.TypePairing, nil)
}
