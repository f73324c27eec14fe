package auth

import (
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/argon2"
)

func TestPasswords(t *testing.T) {
	h, err := HashPassword("correct horse")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(h, "$argon2id$v=19$m=19456,t=2,p=1$") {
		t.Fatalf("hash %q is not Argon2id", h)
	}
	if ok, rehash := CheckPassword(h, "correct horse"); !ok || rehash {
		t.Fatalf("right password: ok=%v rehash=%v", ok, rehash)
	}
	for _, wrong := range []string{"correct hors", "", "correct horse "} {
		if ok, _ := CheckPassword(h, wrong); ok {
			t.Fatalf("wrong password %q accepted", wrong)
		}
	}
	h2, _ := HashPassword("correct horse")
	if h == h2 {
		t.Fatal("same salt twice")
	}
	for _, bad := range []string{"", "plain", "pbkdf2-sha256$x$y$z", "pbkdf2-sha256$0$AA$AA", "md5$1$a$b",
		"$argon2id$v=19$m=4194304,t=1,p=1$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", // 4 GiB: refused unread
		"$argon2id$v=16$m=19456,t=2,p=1$AAAA$AAAA", "$argon2id$v=19$m=x$AAAA$AAAA"} {
		if ok, _ := CheckPassword(bad, "x"); ok {
			t.Fatalf("malformed hash %q accepted", bad)
		}
	}
}

// oldHashPassword is HashPassword as it was before Argon2id (PBKDF2).
func oldHashPassword(password string) string {
	salt := make([]byte, 16)
	_, _ = rand.Read(salt)
	key, _ := pbkdf2.Key(sha256.New, password, salt, 210_000, 32)
	return fmt.Sprintf("pbkdf2-sha256$%d$%s$%s", 210_000,
		base64.RawStdEncoding.EncodeToString(salt), base64.RawStdEncoding.EncodeToString(key))
}

func TestPBKDF2HashesStillWorkAndAskForRehash(t *testing.T) {
	h := oldHashPassword("correct horse")
	if ok, rehash := CheckPassword(h, "correct horse"); !ok || !rehash {
		t.Fatalf("old hash: ok=%v rehash=%v", ok, rehash)
	}
	if ok, rehash := CheckPassword(h, "wrong"); ok || rehash {
		t.Fatalf("old hash, wrong password: ok=%v rehash=%v", ok, rehash)
	}
	// Weaker Argon2id parameters are also upgraded.
	weak := "$argon2id$v=19$m=8192,t=1,p=1$" + base64.RawStdEncoding.EncodeToString([]byte("0123456789abcdef")) + "$" +
		base64.RawStdEncoding.EncodeToString(argon2.IDKey([]byte("pw"), []byte("0123456789abcdef"), 1, 8192, 1, 32))
	if ok, rehash := CheckPassword(weak, "pw"); !ok || !rehash {
		t.Fatalf("weak argon2id: ok=%v rehash=%v", ok, rehash)
	}
}

func TestParseTTL(t *testing.T) {
	for in, want := range map[string]time.Duration{"": 0, "90m": 90 * time.Minute, "12h": 12 * time.Hour, "30d": 30 * 24 * time.Hour} {
		if got, err := ParseTTL(in); err != nil || got != want {
			t.Fatalf("ParseTTL(%q) = %v, %v", in, got, err)
		}
	}
	for _, bad := range []string{"x", "-1h", "0d", "1.5d", "99999d", "0s"} {
		if _, err := ParseTTL(bad); err == nil {
			t.Fatalf("ParseTTL(%q) accepted", bad)
		}
	}
}

func TestTokens(t *testing.T) {
	s1, h1 := NewToken(APITokenPrefix)
	s2, _ := NewToken(APITokenPrefix)
	if !strings.HasPrefix(s1, APITokenPrefix) || s1 == s2 || len(s1) < 40 {
		t.Fatalf("tokens %q %q", s1, s2)
	}
	if HashToken(s1) != h1 || strings.Contains(h1, s1) {
		t.Fatal("hash")
	}
}

func TestSigningKey(t *testing.T) {
	path := filepath.Join(t.TempDir(), "server.key")
	k1, err := LoadOrCreateSigningKey(path)
	if err != nil {
		t.Fatal(err)
	}
	st, _ := os.Stat(path)
	if st.Mode().Perm() != 0o600 {
		t.Fatalf("key file mode %v", st.Mode().Perm())
	}
	k2, err := LoadOrCreateSigningKey(path)
	if err != nil || !k1.Equal(k2) {
		t.Fatalf("key not kept across starts: %v", err)
	}
	_ = os.WriteFile(path, []byte("damaged\n"), 0o600)
	if _, err := LoadOrCreateSigningKey(path); err == nil || !strings.Contains(err.Error(), "damaged") {
		t.Fatalf("damaged key file: %v", err)
	}
}

// BenchmarkCheckPassword is the work of one login (and of one refusal).
func BenchmarkCheckPassword(b *testing.B) {
	h, _ := HashPassword("correct horse")
	for b.Loop() {
		CheckPassword(h, "wrong horse")
	}
}
