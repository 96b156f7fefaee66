package web

import (
	"fmt"

	"github.com/go-jose/go-jose/v4"
	"github.com/zitadel/oidc/v3/pkg/op"
)

// accessTokenCrypto encrypts the access tokens ("token ID:subject") as
// zitadel/oidc's default Crypto does, a compact JWE (A256GCMKW under the
// crypto key, A256GCM, a fresh content key per token), and decrypts with
// that default Crypto. It keeps one go-jose encrypter: zitadel/oidc's
// builds a new one for every token, which cost as much as the rest of the
// access token. (go-jose's encrypter keeps no state between tokens: each
// Encrypt makes its own content key and nonces.)
type accessTokenCrypto struct {
	op.Crypto // zitadel/oidc's: Decrypt, for the userinfo and revocation endpoints
	enc       jose.Encrypter
}

// newAccessTokenCrypto returns the access token Crypto for key, the one
// op.NewProvider would make from op.Config.CryptoKey. Tokens encrypted
// under a previous key (a rotation; the zero key: none) are decrypted too.
func newAccessTokenCrypto(key [32]byte, previous ...[32]byte) (*accessTokenCrypto, error) {
	enc, err := jose.NewEncrypter(jose.A256GCM, jose.Recipient{Algorithm: jose.A256GCMKW, Key: key[:]}, nil)
	if err != nil {
		return nil, fmt.Errorf("access token encrypter: %w", err)
	}
	gcm := op.NewAES256GCMCrypto(key, "")
	decrypters := []op.Decrypter{gcm, op.NewAESDecrypter(key)}
	for _, p := range previous {
		if p != ([32]byte{}) {
			decrypters = append(decrypters, op.NewAES256GCMCrypto(p, ""), op.NewAESDecrypter(p))
		}
	}
	return &accessTokenCrypto{
		Crypto: op.NewCompositeCrypto(gcm, decrypters),
		enc:    enc,
	}, nil
}

// Encrypt returns s as a compact JWE.
func (c *accessTokenCrypto) Encrypt(s string) (string, error) {
	obj, err := c.enc.Encrypt([]byte(s))
	if err != nil {
		return "", fmt.Errorf("encrypt access token: %w", err)
	}
	return obj.CompactSerialize()
}
