package citizens_test

import (
	"strings"
	"testing"

	"github.com/keyhall/keyhall/authn"
	"github.com/keyhall/keyhall/enroll/citizens"
)

// FuzzParseRecoveryToken: any string is a token or an error, never a
// panic; a token is 43 base64url characters and its hash is HashToken's.
func FuzzParseRecoveryToken(f *testing.F) {
	for _, s := range []string{citizens.NewRecoveryToken(), "", "x", strings.Repeat("A", 43), strings.Repeat("_", 43), strings.Repeat("A", 42) + "B", "Zm9v+/=="} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		h, err := citizens.ParseRecoveryToken(s)
		if err != nil {
			return
		}
		if len(s) != 43 || h != authn.HashToken(s) {
			t.Fatalf("ParseRecoveryToken(%q) accepted it with hash %x", s, h)
		}
	})
}
