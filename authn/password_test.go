package authn_test

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/keyhall/keyhall/authn"
)

func TestCheckNewPassword(t *testing.T) {
	for _, tc := range []struct {
		pw   string
		want error
	}{
		{"kurz", authn.ErrPasswordTooShort},
		{"1234567", authn.ErrPasswordTooShort},
		{"password", authn.ErrPasswordTooShort},    // at least 12 characters (NIST SP 800-63B-4)
		{"elf Zeichen", authn.ErrPasswordTooShort}, // 11
		{"passwordpassword", authn.ErrPasswordCommon},
		{"PassWord1234", authn.ErrPasswordCommon},
		{"ＰＡＳＳＷＯＲＤ１２３４", authn.ErrPasswordCommon}, // full-width: NFKC
		{"qwertyuiop12", authn.ErrPasswordCommon},
		{"korrekt Pferd Batterie", nil},
		{"Grüße aus Münster", nil},
		{"日本語のパスワードです。", nil},
		{strings.Repeat("x", 64) + "y", nil},
		{strings.Repeat("ab", 512), nil},
		{strings.Repeat("ab", 513), authn.ErrPasswordTooLong},
	} {
		err := authn.CheckNewPassword(tc.pw)
		if !errors.Is(err, tc.want) || (tc.want == nil) != (err == nil) {
			t.Errorf("CheckNewPassword(%.20q) = %v, want %v", tc.pw, err, tc.want)
		}
	}
	if authn.CheckNewPassword("\xff\xfe invalid utf-8") == nil {
		t.Error("invalid UTF-8 accepted")
	}
}

func TestHashPassword(t *testing.T) {
	phc, err := authn.HashPassword("Ångström", authn.Argon2Params{})
	if err != nil || !strings.HasPrefix(phc, "$argon2id$v=19$m=19456,t=2,p=1$") {
		t.Fatalf("HashPassword = %q, %v", phc, err)
	}
	// NFKC: the decomposed spelling is the same password.
	match, rehash, err := authn.CheckPasswordHash(phc, "A\u030angstro\u0308m", authn.Argon2Params{})
	if err != nil || !match || rehash {
		t.Errorf("CheckPasswordHash(decomposed) = %t, %t, %v; want match, no rehash", match, rehash, err)
	}
	match, rehash, _ = authn.CheckPasswordHash(phc, "Ångström", cheapArgon2)
	if !match || !rehash {
		t.Errorf("other params: match %t rehash %t, want both", match, rehash)
	}
	if match, _, _ := authn.CheckPasswordHash(phc, "angstrom", authn.Argon2Params{}); match {
		t.Error("a wrong password matched")
	}
	for _, bad := range []string{"", "$argon2i$v=19$m=64,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA",
		"$argon2id$v=19$m=99999999,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA", "$argon2id$v=19$m=64,t=1,p=0$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA"} {
		if _, _, err := authn.CheckPasswordHash(bad, "x", authn.Argon2Params{}); err == nil {
			t.Errorf("CheckPasswordHash(%q) accepted", bad)
		}
	}
}

func TestSeal(t *testing.T) {
	var key, other [32]byte
	key[0], other[0] = 1, 2
	sealed, err := authn.Seal(key, []byte("secret"), []byte("cred-1"))
	if err != nil {
		t.Fatal(err)
	}
	again, _ := authn.Seal(key, []byte("secret"), []byte("cred-1"))
	if bytes.Equal(sealed, again) {
		t.Error("two seals are equal: the nonce is not random")
	}
	if got, err := authn.Open(key, sealed, []byte("cred-1")); err != nil || string(got) != "secret" {
		t.Errorf("Open = %q, %v", got, err)
	}
	for name, open := range map[string]func() ([]byte, error){
		"other row": func() ([]byte, error) { return authn.Open(key, sealed, []byte("cred-2")) },
		"other key": func() ([]byte, error) { return authn.Open(other, sealed, []byte("cred-1")) },
		"damaged": func() ([]byte, error) {
			return authn.Open(key, append(sealed[:len(sealed)-1:len(sealed)-1], 0), []byte("cred-1"))
		},
		"too short": func() ([]byte, error) { return authn.Open(key, sealed[:10], []byte("cred-1")) },
	} {
		if _, err := open(); err == nil {
			t.Errorf("Open (%s) succeeded", name)
		}
	}
}
