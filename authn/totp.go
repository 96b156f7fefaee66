package authn

import (
	"crypto/subtle"
	"encoding/base32"
	"fmt"
	"strings"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"
)

// TOTP parameters: the defaults every authenticator app understands
// (RFC 6238 §4: SHA-1, 30-second steps, 6 digits), and one step of clock
// drift either way (RFC 6238 §5.2 and §6), so a code is accepted from 30
// seconds before its step until 30 seconds after.
const (
	TOTPPeriod = 30
	TOTPDigits = 6
	TOTPSkew   = 1
)

var totpOpts = totp.ValidateOpts{Period: TOTPPeriod, Skew: 0, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1}

// totpSecretEncoding is how pquerna/otp and the apps spell a secret.
var totpSecretEncoding = base32.StdEncoding.WithPadding(base32.NoPadding)

// TOTPStep returns the RFC 6238 time step T = floor(unix time / 30) of t.
func TOTPStep(t time.Time) int64 { return t.Unix() / TOTPPeriod }

// TOTPCode returns the code of secret (raw bytes) for the step of t.
func TOTPCode(secret []byte, t time.Time) (string, error) {
	code, err := totp.GenerateCodeCustom(totpSecretEncoding.EncodeToString(secret), t, totpOpts)
	if err != nil {
		return "", fmt.Errorf("compute totp code: %w", err)
	}
	return code, nil
}

// parseTOTPCode accepts what a person types: six ASCII digits, with spaces
// or a dash between groups allowed ("123 456"). ok is false for anything
// else.
func parseTOTPCode(s string) (code string, ok bool) {
	if len(s) > 32 {
		return "", false
	}
	var b strings.Builder
	for _, r := range s {
		switch {
		case r >= '0' && r <= '9':
			b.WriteRune(r)
		case r == ' ' || r == '-' || r == '\t':
		default:
			return "", false
		}
	}
	if b.Len() != TOTPDigits {
		return "", false
	}
	return b.String(), true
}

// matchTOTP returns the highest time step within ±TOTPSkew of now whose code
// equals code (RFC 6238 §5.2). Every candidate is computed and compared in
// constant time, so the time taken tells nothing about which one matched.
func matchTOTP(secret []byte, code string, now time.Time) (step int64, ok bool, err error) {
	t := TOTPStep(now)
	for s := t - TOTPSkew; s <= t+TOTPSkew; s++ {
		want, err := TOTPCode(secret, time.Unix(s*TOTPPeriod, 0))
		if err != nil {
			return 0, false, err
		}
		if subtle.ConstantTimeCompare([]byte(want), []byte(code)) == 1 {
			step, ok = s, true
		}
	}
	return step, ok, nil
}
