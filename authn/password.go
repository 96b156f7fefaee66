package authn

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/crypto/argon2"
)

// Argon2Params are the argon2id parameters for local passwords (RFC 9106).
// The zero value means DefaultArgon2Params.
type Argon2Params struct {
	MemoryKiB uint32 // m: memory in KiB
	Time      uint32 // t: passes
	Threads   uint8  // p: lanes
}

// DefaultArgon2Params are OWASP's minimum for argon2id: m=19456 KiB (19 MiB),
// t=2, p=1.
var DefaultArgon2Params = Argon2Params{MemoryKiB: 19456, Time: 2, Threads: 1}

// Bounds on parameters read from a stored hash, so that a damaged or hostile
// row cannot make one sign-in take all memory or time.
const (
	maxArgon2MemoryKiB = 1 << 21 // 2 GiB
	maxArgon2Time      = 64
	argon2SaltLen      = 16
	argon2KeyLen       = 32
)

// ErrWrongPassword: the password does not match. A PasswordVerifier returns
// it for a wrong directory password.
var ErrWrongPassword = errors.New("wrong password")

var phcB64 = base64.RawStdEncoding

func (p Argon2Params) orDefault() Argon2Params {
	if p == (Argon2Params{}) {
		return DefaultArgon2Params
	}
	return p
}

// Validate reports parameters that are out of range.
func (p Argon2Params) Validate() error {
	p = p.orDefault()
	switch {
	case p.Threads == 0:
		return fmt.Errorf("argon2id threads (p) must be at least 1")
	case p.Time == 0 || p.Time > maxArgon2Time:
		return fmt.Errorf("argon2id time (t) must be 1…%d, not %d", maxArgon2Time, p.Time)
	case p.MemoryKiB < 8*uint32(p.Threads) || p.MemoryKiB > maxArgon2MemoryKiB:
		return fmt.Errorf("argon2id memory (m) must be %d…%d KiB, not %d", 8*uint32(p.Threads), maxArgon2MemoryKiB, p.MemoryKiB)
	}
	return nil
}

// HashPassword hashes a password with argon2id, a new random 16-byte salt
// and params (zero: DefaultArgon2Params), after NFKC normalisation, and
// returns the PHC string $argon2id$v=19$m=…,t=…,p=…$salt$hash.
func HashPassword(pw string, params Argon2Params) (string, error) {
	params = params.orDefault()
	if err := params.Validate(); err != nil {
		return "", fmt.Errorf("hash password: %w", err)
	}
	salt := make([]byte, argon2SaltLen)
	rand.Read(salt) // never fails (crypto/rand, Go ≥ 1.24)
	key := argon2.IDKey([]byte(NormalizePassword(pw)), salt, params.Time, params.MemoryKiB, params.Threads, argon2KeyLen)
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version,
		params.MemoryKiB, params.Time, params.Threads, phcB64.EncodeToString(salt), phcB64.EncodeToString(key)), nil
}

// phc is a parsed argon2id PHC string.
type phc struct {
	params    Argon2Params
	salt, key []byte
}

// parsePHC parses $argon2id$v=19$m=…,t=…,p=…$salt$hash, refusing other
// algorithms, versions and out-of-range parameters.
func parsePHC(s string) (phc, error) {
	parts := strings.Split(s, "$")
	if len(parts) != 6 || parts[0] != "" || parts[1] != "argon2id" || parts[2] != "v="+strconv.Itoa(argon2.Version) {
		return phc{}, errors.New("not an argon2id (v=19) PHC string")
	}
	var out phc
	for _, kv := range strings.Split(parts[3], ",") {
		k, v, _ := strings.Cut(kv, "=")
		n, err := strconv.ParseUint(v, 10, 32)
		if err != nil {
			return phc{}, fmt.Errorf("argon2id parameter %q: %w", kv, err)
		}
		switch k {
		case "m":
			out.params.MemoryKiB = uint32(n)
		case "t":
			out.params.Time = uint32(n)
		case "p":
			if n > 255 {
				return phc{}, fmt.Errorf("argon2id parameter %q out of range", kv)
			}
			out.params.Threads = uint8(n)
		default:
			return phc{}, fmt.Errorf("unknown argon2id parameter %q", kv)
		}
	}
	if out.params == (Argon2Params{}) {
		return phc{}, errors.New("argon2id parameters missing")
	}
	if err := out.params.Validate(); err != nil {
		return phc{}, err
	}
	var err1, err2 error
	out.salt, err1 = phcB64.DecodeString(parts[4])
	out.key, err2 = phcB64.DecodeString(parts[5])
	if err := errors.Join(err1, err2); err != nil || len(out.salt) < 8 || len(out.key) < 16 {
		return phc{}, fmt.Errorf("argon2id salt or hash damaged: %w", cmpErr(err, errors.New("too short")))
	}
	return out, nil
}

func cmpErr(err, alt error) error {
	if err != nil {
		return err
	}
	return alt
}

// CheckPasswordHash compares pw with a PHC string in constant time. It
// reports whether it matches and whether the hash should be replaced
// because its parameters differ from want (zero: DefaultArgon2Params).
func CheckPasswordHash(stored, pw string, want Argon2Params) (match, rehash bool, err error) {
	h, err := parsePHC(stored)
	if err != nil {
		return false, false, fmt.Errorf("check password hash: %w", err)
	}
	key := argon2.IDKey([]byte(NormalizePassword(pw)), h.salt, h.params.Time, h.params.MemoryKiB, h.params.Threads, uint32(len(h.key)))
	match = subtle.ConstantTimeCompare(key, h.key) == 1
	return match, match && (h.params != want.orDefault() || len(h.key) != argon2KeyLen || len(h.salt) != argon2SaltLen), nil
}

// hasher bounds how many argon2id hashes run at once, so that memory stays
// predictable: n × m KiB at most (64 sign-ins at once wait their turn).
type hasher struct {
	sem    chan struct{} // a slot per running hash
	params Argon2Params
}

func newHasher(n int, params Argon2Params) *hasher {
	return &hasher{sem: make(chan struct{}, n), params: params.orDefault()}
}

// acquire waits for a slot or for ctx to end.
func (h *hasher) acquire(ctx context.Context) (release func(), err error) {
	select {
	case h.sem <- struct{}{}:
		return func() { <-h.sem }, nil
	case <-ctx.Done():
		return nil, fmt.Errorf("wait to hash a password: %w", ctx.Err())
	}
}

// check is CheckPasswordHash within a slot.
func (h *hasher) check(ctx context.Context, stored, pw string) (match, rehash bool, err error) {
	release, err := h.acquire(ctx)
	if err != nil {
		return false, false, err
	}
	defer release()
	return CheckPasswordHash(stored, pw, h.params)
}

// hash is HashPassword within a slot.
func (h *hasher) hash(ctx context.Context, pw string) (string, error) {
	release, err := h.acquire(ctx)
	if err != nil {
		return "", err
	}
	defer release()
	return HashPassword(pw, h.params)
}
