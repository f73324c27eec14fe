// Package auth owns Beacon's secrets handling and the rules of accounts:
// organisations, users, API tokens, login sessions and player session
// tokens (only their hashes are stored), Argon2id password hashing, and
// the server's Ed25519 manifest-signing key. The HTTP API and the command
// line both go through Accounts.
package auth

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Token prefixes tell API tokens and player session tokens apart at a glance.
const (
	APITokenPrefix     = "bkn_" // API token made by an admin or the CLI
	SessionTokenPrefix = "bks_" // login session of a person; expires
	DisplayTokenPrefix = "bkd_" // a player's session; ends with it
)

// NewToken returns a fresh secret with the given prefix and its hash.
func NewToken(prefix string) (secret, hash string) {
	var b [32]byte
	_, _ = rand.Read(b[:])
	secret = prefix + base64.RawURLEncoding.EncodeToString(b[:])
	return secret, HashToken(secret)
}

// HashToken returns the stored form of a token secret.
func HashToken(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:])
}

// NewPassword returns a random password easy to type from a terminal.
func NewPassword() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// LoadOrCreateSigningKey reads the server's manifest-signing key from path,
// creating it (mode 0600) on first start.
func LoadOrCreateSigningKey(path string) (ed25519.PrivateKey, error) {
	b, err := os.ReadFile(path)
	if err == nil {
		seed, err := hex.DecodeString(strings.TrimSpace(string(b)))
		if err != nil || len(seed) != ed25519.SeedSize {
			return nil, fmt.Errorf("auth: signing key %s is damaged; restore it from backup (players pinned its public key)", path)
		}
		return ed25519.NewKeyFromSeed(seed), nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("auth: read signing key: %w", err)
	}
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return nil, err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(hex.EncodeToString(priv.Seed())+"\n"), 0o600); err != nil {
		return nil, fmt.Errorf("auth: write signing key: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return nil, err
	}
	return priv, nil
}
