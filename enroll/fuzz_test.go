package enroll_test

import (
	"os"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/keyhall/keyhall/enroll"
)

// FuzzNormalizeCode: any input gives a canonical code or ErrCodeMalformed,
// never a panic, and a canonical code normalises to itself.
func FuzzNormalizeCode(f *testing.F) {
	for _, s := range []string{"K7XM-4RPQ-9TWD-3HNA", "k7xm 4rpq", "Ｋ７ＸＭ", "O0I1L", "\xff\xfe", strings.Repeat("A", 200)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c, err := enroll.NormalizeCode(s)
		if err != nil {
			return
		}
		if len(c) != 16 || !utf8.ValidString(c) || strings.Trim(c, enroll.CodeAlphabet) != "" {
			t.Fatalf("NormalizeCode(%q) = %q", s, c)
		}
		if again, err := enroll.NormalizeCode(enroll.FormatCode(c)); err != nil || again != c {
			t.Fatalf("canonical %q normalises to %q, %v", c, again, err)
		}
	})
}

// FuzzCheckResponse feeds arbitrary bytes to the registration response
// parser and the attestation checks: they refuse, never panic.
func FuzzCheckResponse(f *testing.F) {
	for _, name := range []string{"pywebauthn-packed-security-key-nfc.json", "gowebauthn-fido-u2f-yubico.json"} {
		b, err := os.ReadFile("testdata/" + name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(`{"id":"","rawId":"","type":"public-key","response":{}}`))
	rules := enroll.Rules{Groups: []enroll.GroupRule{{KeyPolicy: enroll.YubiKeyPolicy()}}}
	f.Fuzz(func(t *testing.T, b []byte) {
		_, _ = enroll.CheckResponse(b, rules, time.Now())
	})
}
