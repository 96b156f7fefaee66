package web

import (
	"crypto/rand"
	"log/slog"
	"net/url"
	"testing"

	"github.com/keyhall/keyhall/authn"
)

// rotatedEncryption makes the server run after a rotation of the
// encryption key: a new key seals, the fixture's (under which its apps
// were sealed) is the previous one.
func rotatedEncryption(c *Config) {
	c.SignIn.PreviousEncryptionKey = c.SignIn.EncryptionKey
	rand.Read(c.SignIn.EncryptionKey[:])
}

// TestEncryptionKeyRotationKeepsApps: after keys.encryption_key is
// replaced and the old key is given as keys.previous_encryption_key, an
// app enrolled under the old key still signs its person in, and a
// forward-auth cookie sealed under the old key still opens.
func TestEncryptionKeyRotationKeepsApps(t *testing.T) {
	f := newFixture(t, rotatedEncryption)
	anna := f.addUser("anna")
	f.setPassword(anna, "Rathaus am Markt 1")
	secret := f.addTOTP(anna) // sealed under the old key
	signInWithApp(t, f, f.client(), "anna", secret)

	pub, _ := url.Parse(f.base)
	fake := make([]byte, 32)
	rand.Read(fake)
	before, err := New(Config{PublicURL: pub, Logger: slog.New(slog.DiscardHandler),
		SignIn: authn.SignInConfig{EncryptionKey: f.sealer, FakeIDKey: fake, Argon2: testArgon2}})
	if err != nil {
		t.Fatal(err)
	}
	h := authn.SessionHash{1, 2, 3}
	if got, ok := f.srv.openForwardCookie(before.sealForwardCookie(h)); !ok || got != h {
		t.Errorf("a forward-auth cookie sealed before the rotation does not open after it")
	}
	if got, ok := f.srv.openForwardCookie(f.srv.sealForwardCookie(h)); !ok || got != h {
		t.Errorf("a forward-auth cookie sealed after the rotation does not open")
	}
}

// TestAccessTokenCryptoRotation: after keys.oidc_key is replaced and the
// old one given as keys.previous_oidc_key, access tokens encrypted before
// are still read; new ones are encrypted under the new key only.
func TestAccessTokenCryptoRotation(t *testing.T) {
	var old, cur [32]byte
	rand.Read(old[:])
	rand.Read(cur[:])
	before, err := newAccessTokenCrypto(old)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := before.Encrypt("token-id:user-id")
	if err != nil {
		t.Fatal(err)
	}
	rotated, err := newAccessTokenCrypto(cur, old)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := rotated.Decrypt(tok); err != nil || got != "token-id:user-id" {
		t.Errorf("a token of the previous key: %q, %v", got, err)
	}
	fresh, err := rotated.Encrypt("t2:u")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := before.Decrypt(fresh); err == nil {
		t.Error("a token made after the rotation is encrypted under the previous key")
	}
	dropped, _ := newAccessTokenCrypto(cur)
	if _, err := dropped.Decrypt(tok); err == nil {
		t.Error("a token of a dropped key is still read")
	}
}
