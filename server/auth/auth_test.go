package auth

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestPasswords(t *testing.T) {
	h, err := HashPassword("correct horse")
	if err != nil {
		t.Fatal(err)
	}
	if !CheckPassword(h, "correct horse") || CheckPassword(h, "correct hors") || CheckPassword(h, "") {
		t.Fatal("password check wrong")
	}
	h2, _ := HashPassword("correct horse")
	if h == h2 {
		t.Fatal("same salt twice")
	}
	for _, bad := range []string{"", "plain", "pbkdf2-sha256$x$y$z", "pbkdf2-sha256$0$AA$AA", "md5$1$a$b"} {
		if CheckPassword(bad, "x") {
			t.Fatalf("malformed hash %q accepted", bad)
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
