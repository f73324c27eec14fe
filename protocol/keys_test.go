package protocol

import (
	"crypto/ed25519"
	"errors"
	"testing"
)

func TestWeakKeysAreRefused(t *testing.T) {
	for _, k := range smallOrder {
		if err := CheckPublicKey(k); !errors.Is(err, ErrWeakKey) {
			t.Errorf("%x accepted", k)
		}
		// The identity key "verifies" this forged signature in crypto/ed25519;
		// VerifyAuth and VerifyManifest must still refuse it.
		forged := make([]byte, ed25519.SignatureSize)
		forged[0] = 1
		if VerifyAuth(k, Challenge{Nonce: []byte("nonce-nonce-nonce"), ServerKey: k}, Auth{Signature: forged}) == nil {
			t.Errorf("VerifyAuth accepted weak key %x", k)
		}
		if VerifyChallenge(k, k, make([]byte, NonceSize), Challenge{Nonce: make([]byte, 32), ServerKey: k, Signature: forged}) == nil {
			t.Errorf("VerifyChallenge accepted weak key %x", k)
		}
		if VerifyUnpair(k, "d", k, make([]byte, NonceSize), Unpair{DisplayID: "d", PlayerKey: k, Nonce: make([]byte, NonceSize), Signature: forged}) == nil {
			t.Errorf("VerifyUnpair accepted weak key %x", k)
		}
		if _, err := VerifyManifest(k, SignedManifest{Payload: []byte(`{}`), Signature: forged}); err == nil {
			t.Errorf("VerifyManifest accepted weak key %x", k)
		}
	}
	nc := make([]byte, 32)
	for i := range nc {
		nc[i] = 0xff
	}
	nc[0], nc[31] = 0xee, 0x7f // y = p+1, a non-canonical identity
	if CheckPublicKey(nc) == nil {
		t.Error("non-canonical key accepted")
	}
	pub, _, _ := ed25519.GenerateKey(nil)
	if err := CheckPublicKey(pub); err != nil {
		t.Errorf("good key refused: %v", err)
	}
	if err := (Hello{ProtocolVersion: 2, PublicKey: pub}).Check(); !errors.Is(err, ErrUnsupportedVersion) {
		t.Errorf("hello v2: %v", err)
	}
}
