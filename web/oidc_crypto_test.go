package web

import (
	"crypto/rand"
	"strings"
	"testing"

	"github.com/go-jose/go-jose/v4"
	"github.com/zitadel/oidc/v3/pkg/op"
)

// TestAccessTokenCryptoLikeZitadel checks that the access tokens of the
// kept encrypter are JWEs zitadel/oidc's default Crypto decrypts, that it
// decrypts the ones that Crypto makes (tokens issued before), and that a
// changed token or another key is refused.
func TestAccessTokenCryptoLikeZitadel(t *testing.T) {
	var key, other [32]byte
	rand.Read(key[:])
	rand.Read(other[:])
	c, err := newAccessTokenCrypto(key)
	if err != nil {
		t.Fatal(err)
	}
	zitadel := op.NewAES256GCMCrypto(key, "")
	const plain = "token-id:user-id"

	tok, err := c.Encrypt(plain)
	if err != nil {
		t.Fatal(err)
	}
	jwe, err := jose.ParseEncryptedCompact(tok, []jose.KeyAlgorithm{jose.A256GCMKW}, []jose.ContentEncryption{jose.A256GCM})
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	if h := jwe.Header; h.Algorithm != string(jose.A256GCMKW) || h.KeyID != "" {
		t.Errorf("header %+v, want alg A256GCMKW and no kid, as zitadel/oidc's", h)
	}
	for name, d := range map[string]op.Decrypter{"zitadel": zitadel, "keyhall": c} {
		if got, err := d.Decrypt(tok); err != nil || got != plain {
			t.Errorf("%s decrypts %q, %v; want %q", name, got, err, plain)
		}
	}
	if again, _ := c.Encrypt(plain); again == tok {
		t.Error("two tokens of the same text are equal: the content key or a nonce is reused")
	}

	old, err := zitadel.Encrypt(plain)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := c.Decrypt(old); err != nil || got != plain {
		t.Errorf("zitadel/oidc's token decrypts to %q, %v; want %q", got, err, plain)
	}

	parts := strings.Split(tok, ".")
	for i := range parts {
		changed := append([]string(nil), parts...)
		b := []byte(changed[i])
		b[len(b)/2] ^= 'A' ^ 'B'
		changed[i] = string(b)
		if got, err := c.Decrypt(strings.Join(changed, ".")); err == nil {
			t.Errorf("token with part %d changed decrypts to %q", i, got)
		}
	}
	if got, err := op.NewAES256GCMCrypto(other, "").Decrypt(tok); err == nil {
		t.Errorf("another key decrypts the token to %q", got)
	}
}
