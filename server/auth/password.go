package auth

import (
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"runtime"
	"strconv"
	"strings"
	"sync"

	"golang.org/x/crypto/argon2"
)

// Argon2id parameters (RFC 9106 / OWASP: 19 MiB, 2 passes, 1 lane). They
// are stored in each hash, so raising them later only makes new hashes
// (and rehashes at the next login) stronger.
const (
	argonTime    = 2
	argonMemory  = 19 * 1024 // KiB
	argonThreads = 1
	argonKeyLen  = 32
)

// hashSlots bounds concurrent password hashing: each Argon2id call holds
// argonMemory, so a burst of logins cannot exhaust memory or starve the
// rest of the server.
var hashSlots = make(chan struct{}, max(1, runtime.NumCPU()))

// HashPassword hashes a password with Argon2id and a random salt, in the
// PHC string format: $argon2id$v=19$m=…,t=…,p=…$salt$key.
func HashPassword(password string) (string, error) {
	salt := make([]byte, 16)
	if _, err := rand.Read(salt); err != nil {
		return "", err
	}
	hashSlots <- struct{}{}
	key := argon2.IDKey([]byte(password), salt, argonTime, argonMemory, argonThreads, argonKeyLen)
	<-hashSlots
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, argonMemory, argonTime, argonThreads,
		base64.RawStdEncoding.EncodeToString(salt), base64.RawStdEncoding.EncodeToString(key)), nil
}

// CheckPassword reports whether password matches hash, an Argon2id hash or
// a PBKDF2 hash made by earlier versions. rehash is true when the match
// used anything but the current Argon2id parameters: the caller should
// store HashPassword(password) in its place.
func CheckPassword(hash, password string) (ok, rehash bool) {
	switch {
	case strings.HasPrefix(hash, "$argon2id$"):
		ok, current := checkArgon2id(hash, password)
		return ok, ok && !current
	case strings.HasPrefix(hash, "pbkdf2-sha256$"):
		ok := checkPBKDF2(hash, password)
		return ok, ok
	}
	return false, false
}

// RefusePassword does the work of checking a password against a real hash
// and refuses it, so that an unknown or disabled account takes as long to
// refuse as a wrong password.
func RefusePassword(password string) {
	dummyOnce.Do(func() { dummyHash, _ = HashPassword(NewPassword()) })
	_, _ = CheckPassword(dummyHash, password)
}

var (
	dummyOnce sync.Once
	dummyHash string
)

func checkArgon2id(hash, password string) (ok, current bool) {
	// "", "argon2id", "v=19", "m=…,t=…,p=…", salt, key
	parts := strings.Split(hash, "$")
	if len(parts) != 6 || parts[2] != "v="+strconv.Itoa(argon2.Version) {
		return false, false
	}
	var m, t uint32
	var p uint8
	if n, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &m, &t, &p); n != 3 || err != nil {
		return false, false
	}
	// Refuse parameters no hash of ours has: a damaged row must not make a
	// login allocate gigabytes.
	if m < 8 || m > 1<<20 || t < 1 || t > 16 || p < 1 || p > 16 {
		return false, false
	}
	salt, err1 := base64.RawStdEncoding.DecodeString(parts[4])
	want, err2 := base64.RawStdEncoding.DecodeString(parts[5])
	if err1 != nil || err2 != nil || len(want) < 16 || len(want) > 64 {
		return false, false
	}
	hashSlots <- struct{}{}
	got := argon2.IDKey([]byte(password), salt, t, m, p, uint32(len(want)))
	<-hashSlots
	ok = subtle.ConstantTimeCompare(got, want) == 1
	return ok, m == argonMemory && t == argonTime && p == argonThreads && len(want) == argonKeyLen
}

// checkPBKDF2 verifies the PBKDF2-HMAC-SHA256 hashes of Beacon before
// Argon2id: pbkdf2-sha256$iterations$salt$key.
func checkPBKDF2(hash, password string) bool {
	parts := strings.Split(hash, "$")
	if len(parts) != 4 || parts[0] != "pbkdf2-sha256" {
		return false
	}
	iter, err := strconv.Atoi(parts[1])
	if err != nil || iter < 1 || iter > 10_000_000 {
		return false
	}
	salt, err1 := base64.RawStdEncoding.DecodeString(parts[2])
	want, err2 := base64.RawStdEncoding.DecodeString(parts[3])
	if err1 != nil || err2 != nil || len(want) == 0 || len(want) > 64 {
		return false
	}
	hashSlots <- struct{}{}
	got, err := pbkdf2.Key(sha256.New, password, salt, iter, len(want))
	<-hashSlots
	return err == nil && subtle.ConstantTimeCompare(got, want) == 1
}
