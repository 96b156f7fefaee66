package sqlstore

import (
	"testing"
	"time"

	"github.com/keyhall/keyhall/authn"
)

// TestMigrationKeysNotAttested: keys stored before migration 0008 kept
// neither their attestation statement nor its chain, so nothing shows that
// a trusted root vouched for them: after the upgrade they are not attested
// (they sign in at phr, not phrh), and every other column is kept.
func TestMigrationKeysNotAttested(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			url := b.url(t)
			ctx := t.Context()
			db := openAtVersion(t, b.name, url, 7) // a key stored as version 7 did
			u := authn.User{ID: authn.NewID(), Username: "rita", Status: authn.StatusActive, Source: authn.SourceLocal}
			var created any = time.Date(2025, 3, 14, 9, 0, 0, 0, time.UTC)
			if b.name == dialectSQLite {
				created = created.(time.Time).UnixMicro()
			}
			if _, err := db.ExecContext(ctx, `INSERT INTO users (id, external_id, username, display_name, email, status, source,
				search_text, created_at, updated_at) VALUES ($1, '', 'rita', 'Rita', '', 'active', 'local', 'rita', $2, $2)`,
				u.ID, created); err != nil {
				t.Fatal(err)
			}
			if _, err := db.ExecContext(ctx, `INSERT INTO credentials (id, user_id, kind, nickname, created_at,
				webauthn_id, public_key, sign_count, aaguid, transports, backup_eligible, attestation_fmt)
				VALUES ('k1', $1, 'webauthn', 'YubiKey', $2, $3, $4, 7, $5, 'usb nfc', $6, 'packed')`,
				u.ID, created, []byte("credential-id"), []byte("cose key"), make([]byte, 16), false); err != nil {
				t.Fatal(err)
			}
			db.Close()


			s := openURL(t, url) // applies 0008 and after
			creds, err := s.ListCredentials(ctx, u.ID)
			if err != nil {
				t.Fatal(err)
			}
			if len(creds) != 1 {
				t.Fatalf("%d credentials after the upgrade, want 1", len(creds))
			}
			c := creds[0]
			if c.Attested || c.AttestationChain != nil {
				t.Errorf("old key after the upgrade: attested %t, chain %x; want not attested, no chain", c.Attested, c.AttestationChain)
			}
			if c.SignCount != 7 || c.AttestationFmt != "packed" || c.BackupEligible || string(c.WebAuthnID) != "credential-id" {
				t.Errorf("old key after the upgrade: %+v", c)
			}
		})
	}
}
