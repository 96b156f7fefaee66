package sqlstore

import (
	"testing"
	"time"

	"github.com/keyhall/keyhall/authn"
)

// TestMigrationOIDCKeys: the signing key of a version-24 database (in the
// one slot of oidc_signing_keys) is, after the upgrade, the active key of
// oidc_keys, still opens with the encryption key, and a rotation then
// retires it.
func TestMigrationOIDCKeys(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			url := b.url(t)
			ctx := t.Context()
			db := openAtVersion(t, b.name, url, 24)
			created := time.Date(2025, 3, 14, 9, 0, 0, 0, time.UTC)
			var at any = created
			if b.name == dialectSQLite {
				at = created.UnixMicro()
			}
			encKey := [32]byte{7}
			aad := []byte("keyhall oidc signing key k-old")
			sealed, err := authn.Seal(encKey, []byte("the private key"), aad)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := db.ExecContext(ctx, `INSERT INTO oidc_signing_keys (slot, id, algorithm, public_key, private_sealed, created_at)
				VALUES (1, 'k-old', 'ES256', $1, $2, $3)`, []byte{0x30, 1}, sealed, at); err != nil {
				t.Fatal(err)
			}
			db.Close()

			s := openURL(t, url)
			k, err := s.EnsureOIDCSigningKey(ctx, authn.OIDCSigningKey{ID: "k-new", Algorithm: "ES256",
				PublicKey: []byte{2}, PrivateSealed: []byte{2}, CreatedAt: time.Now()})
			if err != nil || k.ID != "k-old" || !k.ActivatedAt.Equal(created) || !k.RetiredAt.IsZero() {
				t.Fatalf("signing key after the upgrade: %+v, %v; want k-old, active since its creation", k, err)
			}
			if priv, err := authn.Open(encKey, k.PrivateSealed, aad); err != nil || string(priv) != "the private key" {
				t.Fatalf("the upgraded key does not open: %q, %v", priv, err)
			}
			now := time.Now().UTC()
			if _, err := s.RotateOIDCSigningKey(ctx, authn.OIDCSigningKey{ID: "k2", Algorithm: "ES256",
				PublicKey: []byte{3}, PrivateSealed: []byte{3}, CreatedAt: now, ActivatedAt: now},
				authn.AuditEvent{Time: now, Actor: "cli:root", Action: "keys.rotate", Subject: "key:k2"}); err != nil {
				t.Fatal(err)
			}
			if id, err := s.ActiveOIDCSigningKeyID(ctx); err != nil || id != "k2" {
				t.Fatalf("active key after rotating the upgraded one: %q, %v", id, err)
			}
		})
	}
}
