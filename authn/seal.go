package authn

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"errors"
	"fmt"
)

// errOpen is the one error Open gives for anything it cannot open, so that
// it tells an attacker nothing about why.
var errOpen = errors.New("open sealed data: wrong key, wrong additional data, or damaged")

// Seal encrypts plaintext with AES-256-GCM under key, with a random 96-bit
// nonce, and binds it to additionalData: Open succeeds only with the same
// additional data. For a TOTP secret it is the credential's ID, so sealed
// secrets cannot be swapped between rows. The result is nonce ‖ ciphertext ‖ tag.
func Seal(key [32]byte, plaintext, additionalData []byte) ([]byte, error) {
	aead, err := newGCM(key)
	if err != nil {
		return nil, err
	}
	nonce := make([]byte, aead.NonceSize(), aead.NonceSize()+len(plaintext)+aead.Overhead())
	rand.Read(nonce) // never fails (crypto/rand, Go ≥ 1.24)
	return aead.Seal(nonce, nonce, plaintext, additionalData), nil
}

// The kinds of sealed secrets a store keeps, as ResealSecrets names them:
// the additional data of each names the id given with it.
const (
	SealedCredential  = "credential"   // an app's secret; additional data: the credential id
	SealedEnrollApp   = "enroll_app"   // an app being enrolled; the person's id (enroll)
	SealedEnrollCodes = "enroll_codes" // recovery codes waiting to be shown; the person's id (enroll)
	SealedSigningKey  = "signing_key"  // a signing key's private part; the key id (web)
)

// OpenRotated opens what Seal sealed under key or, during a rotation of
// the encryption key, under previous (the zero key: none).
func OpenRotated(key, previous [32]byte, sealed, additionalData []byte) ([]byte, error) {
	plain, err := Open(key, sealed, additionalData)
	if err != nil && previous != ([32]byte{}) {
		return Open(previous, sealed, additionalData)
	}
	return plain, err
}

// Open decrypts what Seal sealed under key with the same additional data.
func Open(key [32]byte, sealed, additionalData []byte) ([]byte, error) {
	aead, err := newGCM(key)
	if err != nil {
		return nil, err
	}
	if len(sealed) < aead.NonceSize()+aead.Overhead() {
		return nil, errOpen
	}
	n := aead.NonceSize()
	plain, err := aead.Open(nil, sealed[:n], sealed[n:], additionalData)
	if err != nil {
		return nil, errOpen
	}
	return plain, nil
}

func newGCM(key [32]byte) (cipher.AEAD, error) {
	block, err := aes.NewCipher(key[:])
	if err != nil {
		return nil, fmt.Errorf("seal: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("seal: %w", err)
	}
	return aead, nil
}
