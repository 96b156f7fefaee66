package authn

import (
	"testing"
	"time"
)

// FuzzTOTPCode feeds arbitrary input as the code a person typed: parsing
// never panics, accepts only six digits (with separators), and a parsed
// code matches only the step whose code it is.
func FuzzTOTPCode(f *testing.F) {
	secret := []byte("12345678901234567890") // RFC 6238 Appendix B
	now := time.Unix(59, 0)
	for _, s := range []string{"287082", "287 082", "94287082", "", "28708x", "２８７０８２", "------", "1 2 3 4 5 6"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		code, ok := parseTOTPCode(s)
		if !ok {
			return
		}
		if len(code) != TOTPDigits {
			t.Fatalf("parseTOTPCode(%q) = %q", s, code)
		}
		for _, r := range code {
			if r < '0' || r > '9' {
				t.Fatalf("parseTOTPCode(%q) = %q", s, code)
			}
		}
		step, ok, err := matchTOTP(secret, code, now)
		if err != nil {
			t.Fatal(err)
		}
		if ok {
			want, _ := TOTPCode(secret, time.Unix(step*TOTPPeriod, 0))
			if want != code || step < TOTPStep(now)-TOTPSkew || step > TOTPStep(now)+TOTPSkew {
				t.Fatalf("code %q matched step %d (code %q)", code, step, want)
			}
		}
	})
}

// TestTOTPVector checks the RFC 6238 Appendix B vector for SHA-1 at T=59
// (the last 6 of 94287082).
func TestTOTPVector(t *testing.T) {
	code, err := TOTPCode([]byte("12345678901234567890"), time.Unix(59, 0))
	if err != nil || code != "287082" {
		t.Fatalf("TOTPCode = %q, %v; want 287082", code, err)
	}
}

// FuzzParsePHC: a damaged stored hash never panics and never parses to
// parameters out of range.
func FuzzParsePHC(f *testing.F) {
	f.Add("$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA")
	f.Add("$argon2id$v=19$m=1,t=1,p=255$$")
	f.Fuzz(func(t *testing.T, s string) {
		h, err := parsePHC(s)
		if err == nil && h.params.Validate() != nil {
			t.Fatalf("parsePHC(%q) accepted %+v", s, h.params)
		}
	})
}
