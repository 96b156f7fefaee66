package web

import (
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"

	"golang.org/x/crypto/chacha20poly1305"

	"github.com/keyhall/keyhall/authn"
)

// The forward-auth cookie (__Secure-keyhall) goes to every tool under the
// cookie domain, so it must not carry the session id itself: a tool that
// logs its request cookies, or a host there in an attacker's hands, could
// then use the person's session at Keyhall (her account page, adding a
// key). It carries the session's hash instead, sealed with
// XChaCha20-Poly1305 under a key derived from keys.encryption_key: it lets
// its holder through forward-auth, as it must, and nothing else; the
// database's hashes cannot be turned into such cookies; and revoking the
// session ends it as before.

// fwdCookieAAD binds a sealed forward-auth cookie to its purpose.
var fwdCookieAAD = []byte("keyhall forward-auth cookie v1")

// fwdCookieEncoding is unpadded base64url refusing non-zero trailing bits.
var fwdCookieEncoding = base64.RawURLEncoding.Strict()

// fwdCookieLen is the length of a sealed forward-auth cookie's value.
var fwdCookieLen = base64.RawURLEncoding.EncodedLen(chacha20poly1305.NonceSizeX + len(authn.SessionHash{}) + chacha20poly1305.Overhead)

// Purposes of the cookie ciphers derived from the encryption key.
const (
	fwdCookiePurpose    = "keyhall forward-auth cookie"
	deviceCookiePurpose = "keyhall device cookie"
)

// newCookieAEAD returns the XChaCha20-Poly1305 cipher of one kind of
// cookie, its key derived from encryptionKey for purpose (HKDF-SHA256), or
// nil without an encryption key (then there is no such cookie).
func newCookieAEAD(encryptionKey [32]byte, purpose string) (cipher.AEAD, error) {
	if encryptionKey == [32]byte{} {
		return nil, nil
	}
	key, err := hkdf.Key(sha256.New, encryptionKey[:], nil, purpose, chacha20poly1305.KeySize)
	if err != nil {
		return nil, err
	}
	return chacha20poly1305.NewX(key)
}

// sealForwardCookie returns the forward-auth cookie's value for the session
// with hash h ("" without a cipher).
func (s *Server) sealForwardCookie(h authn.SessionHash) string {
	if s.fwdAEAD == nil {
		return ""
	}
	nonce := make([]byte, chacha20poly1305.NonceSizeX, chacha20poly1305.NonceSizeX+len(h)+chacha20poly1305.Overhead)
	rand.Read(nonce) // never fails (crypto/rand, Go ≥ 1.24)
	return fwdCookieEncoding.EncodeToString(s.fwdAEAD.Seal(nonce, nonce, h[:], fwdCookieAAD))
}

// openForwardCookie returns the session hash a forward-auth cookie's value
// carries, or false when it is not one this installation sealed.
func (s *Server) openForwardCookie(v string) (authn.SessionHash, bool) {
	var h authn.SessionHash
	if s.fwdAEAD == nil || len(v) != fwdCookieLen {
		return h, false
	}
	var raw [chacha20poly1305.NonceSizeX + len(authn.SessionHash{}) + chacha20poly1305.Overhead]byte
	var enc [128]byte
	n := copy(enc[:], v)
	if m, err := fwdCookieEncoding.Decode(raw[:], enc[:n]); err != nil || m != len(raw) {
		return h, false
	}
	nonce, sealed := raw[:chacha20poly1305.NonceSizeX], raw[chacha20poly1305.NonceSizeX:]
	plain, err := s.fwdAEAD.Open(h[:0], nonce, sealed, fwdCookieAAD)
	if err != nil && s.fwdAEADPrev != nil {
		plain, err = s.fwdAEADPrev.Open(h[:0], nonce, sealed, fwdCookieAAD)
	}
	if err != nil || len(plain) != len(h) {
		return authn.SessionHash{}, false
	}
	return h, true
}
