package enroll

import (
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"strings"
	"unicode"

	"golang.org/x/text/unicode/norm"

	"github.com/keyhall/keyhall/authn"
)

// CodeAlphabet is the alphabet of invitation and recovery codes: Crockford's
// base32 letters without the look-alikes 0/O, 1/I/L, 31 symbols that are
// easy to read aloud and to type. U is kept.
const CodeAlphabet = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"

// Code layout: four groups of four, "K7XM-4RPQ-9TWD-3HNA". 16 symbols of
// log2(31) bits each carry 79 random bits.
const (
	codeGroups    = 4
	codeGroupLen  = 4
	codeLen       = codeGroups * codeGroupLen
	maxCodeInput  = 128 // longer input is refused unread
	codeHashLabel = "keyhall-invitation-code\x00"
)

// ErrCodeMalformed: the text typed as a code cannot be one.
var ErrCodeMalformed = errors.New("not a valid code: want 16 letters and digits, e.g. K7XM-4RPQ-9TWD-3HNA")

// NewCode returns a new random code in its display form, e.g.
// "K7XM-4RPQ-9TWD-3HNA". Each symbol is drawn uniformly (rejection
// sampling), so the code carries 16·log2(31) ≈ 79 bits.
func NewCode() string {
	var b strings.Builder
	buf := make([]byte, 1)
	for i := 0; i < codeLen; {
		rand.Read(buf)     // never fails (crypto/rand, Go ≥ 1.24)
		if buf[0] >= 248 { // 248 = 8·31: keep the draw uniform
			continue
		}
		if i > 0 && i%codeGroupLen == 0 {
			b.WriteByte('-')
		}
		b.WriteByte(CodeAlphabet[int(buf[0])%len(CodeAlphabet)])
		i++
	}
	return b.String()
}

// NormalizeCode turns what a person typed into the canonical 16 symbols:
// Unicode compatibility forms are folded (full-width letters), case is
// ignored, and spaces and dashes of any kind between groups are dropped.
// A code with a symbol outside CodeAlphabet (0, O, 1, I, L, punctuation)
// or of the wrong length gives ErrCodeMalformed.
func NormalizeCode(s string) (string, error) {
	if len(s) > maxCodeInput {
		return "", ErrCodeMalformed
	}
	var b strings.Builder
	for _, r := range norm.NFKC.String(s) {
		switch {
		case unicode.IsSpace(r) || unicode.Is(unicode.Pd, r) || r == '.':
			continue
		case r < unicode.MaxASCII && strings.ContainsRune(CodeAlphabet, unicode.ToUpper(r)):
			b.WriteRune(unicode.ToUpper(r))
		default:
			return "", ErrCodeMalformed
		}
	}
	if b.Len() != codeLen {
		return "", ErrCodeMalformed
	}
	return b.String(), nil
}

// FormatCode returns a canonical code in groups of four with dashes.
func FormatCode(canonical string) string {
	var parts []string
	for i := 0; i+codeGroupLen <= len(canonical); i += codeGroupLen {
		parts = append(parts, canonical[i:i+codeGroupLen])
	}
	return strings.Join(parts, "-")
}

// hashCode returns the hash under which an invitation's code is stored: the
// SHA-256 of a label, the person's ID and the canonical code, so that equal
// codes of two people hash differently and a table of hashes cannot be
// precomputed.
func hashCode(userID, canonical string) authn.TokenHash {
	h := sha256.New()
	h.Write([]byte(codeHashLabel))
	h.Write([]byte(userID))
	h.Write([]byte{0})
	h.Write([]byte(canonical))
	var sum authn.TokenHash
	copy(sum[:], h.Sum(nil))
	return sum
}
