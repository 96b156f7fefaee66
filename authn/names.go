package authn

import (
	"crypto/rand"
	"encoding/base32"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/cases"
	"golang.org/x/text/unicode/norm"
)

// MaxNameLength is the longest username or group name, in characters.
const MaxNameLength = 64

// CanonicalName returns the form of a username or group name that Keyhall
// stores and compares: surrounding space trimmed, Unicode NFKC-normalised and
// case-folded, so that "Anna.Müller", "ANNA.MÜLLER" and "Anna.Mu\u0308ller"
// are one person. It refuses an empty name, one longer than MaxNameLength, and
// one with spaces, control or format characters inside.
func CanonicalName(s string) (string, error) {
	s = strings.TrimSpace(s)
	if !utf8.ValidString(s) {
		return "", fmt.Errorf("name is not valid UTF-8")
	}
	// NFKC, then fold, then NFKC again: folding can undo normalisation
	// (Unicode §3.13, "toNFKC_Casefold").
	c := norm.NFKC.String(cases.Fold().String(norm.NFKC.String(s)))
	if c == "" {
		return "", fmt.Errorf("name is empty")
	}
	if n := utf8.RuneCountInString(c); n > MaxNameLength {
		return "", fmt.Errorf("name is %d characters long; at most %d are allowed", n, MaxNameLength)
	}
	for _, r := range c {
		if unicode.IsSpace(r) || unicode.IsControl(r) || unicode.Is(unicode.Cf, r) || r == utf8.RuneError {
			return "", fmt.Errorf("name contains a space or an invisible character (%U)", r)
		}
	}
	return c, nil
}

var idEncoding = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// isID reports whether s has the form of an id NewID makes.
func isID(s string) bool {
	if len(s) != 26 {
		return false
	}
	for i := range len(s) {
		if c := s[i]; (c < 'a' || c > 'z') && (c < '2' || c > '7') {
			return false
		}
	}
	return true
}

// NewID returns a new random, stable identifier (128 bits, 26 characters of
// lower-case base32). It is never derived from a name, so it survives
// renames and is never reused.
func NewID() string {
	var b [16]byte
	rand.Read(b[:]) // never fails (crypto/rand, Go ≥ 1.24)
	return idEncoding.EncodeToString(b[:])
}
