package protocol

import (
	"bytes"
	"crypto/ed25519"
	"encoding/hex"
	"errors"
	"fmt"
)

// ErrWeakKey is returned for an Ed25519 public key of small order (or a
// non-canonical encoding of one): with such a key, forged signatures
// verify, so it is never accepted as a player's or the server's key.
var ErrWeakKey = errors.New("protocol: weak (small-order) Ed25519 public key")

// smallOrder lists the canonical encodings of the eight points of small
// order on edwards25519, with and without the sign bit where it differs.
var smallOrder = func() [][]byte {
	var out [][]byte
	for _, h := range []string{
		"0100000000000000000000000000000000000000000000000000000000000000", // identity
		"ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f", // order 2
		"0000000000000000000000000000000000000000000000000000000000000000", // order 4
		"0000000000000000000000000000000000000000000000000000000000000080", // order 4
		"26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05", // order 8
		"26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc85", // order 8
		"c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a", // order 8
		"c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac03fa", // order 8
	} {
		b, _ := hex.DecodeString(h)
		out = append(out, b)
	}
	return out
}()

// CheckPublicKey refuses keys of the wrong length, small-order keys, and
// non-canonical encodings (y ≥ 2^255−19).
func CheckPublicKey(k []byte) error {
	if len(k) != ed25519.PublicKeySize {
		return fmt.Errorf("key must be %d bytes", ed25519.PublicKeySize)
	}
	for _, w := range smallOrder {
		if bytes.Equal(k, w) {
			return ErrWeakKey
		}
	}
	if nonCanonical(k) {
		return ErrWeakKey
	}
	return nil
}

// nonCanonical reports whether the encoded y coordinate is ≥ p = 2^255−19.
func nonCanonical(k []byte) bool {
	if k[31]&0x7f != 0x7f {
		return false
	}
	for i := 30; i >= 1; i-- {
		if k[i] != 0xff {
			return false
		}
	}
	return k[0] >= 0xed
}

func checkKey(field string, k []byte) error {
	if err := CheckPublicKey(k); err != nil {
		return fmt.Errorf("%s: %w", field, err)
	}
	return nil
}
