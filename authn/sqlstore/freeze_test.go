package sqlstore

import (
	"testing"
	"time"

	"github.com/keyhall/keyhall/authn"
	"github.com/keyhall/keyhall/authn/storetest"
)

func TestFreezeConformance(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			storetest.RunFreeze(t, func(t *testing.T) authn.Store { return openURL(t, b.url(t)) })
		})
	}
}

// TestMigrationFreeze: a database of the version before 0015 upgrades with
// its people active and unfrozen and their keys where they were; a reset
// then suspends them.
func TestMigrationFreeze(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			url := b.url(t)
			ctx := t.Context()
			db := openAtVersion(t, b.name, url, 15)
			var at any = time.Date(2025, 3, 14, 9, 0, 0, 0, time.UTC)
			if b.name == dialectSQLite {
				at = at.(time.Time).UnixMicro()
			}
			if _, err := db.ExecContext(ctx, `INSERT INTO users (id, external_id, username, display_name, email, status, source,
				search_text, created_at, updated_at, postal_address, verified_email)
				VALUES ('u1', '', 'rita', 'Rita', '', 'active', 'local', 'rita', $1, $1, '', '')`, at); err != nil {
				t.Fatal(err)
			}
			if _, err := db.ExecContext(ctx, `INSERT INTO credentials (id, user_id, kind, nickname, created_at, webauthn_id, public_key)
				VALUES ('c1', 'u1', 'webauthn', 'YubiKey', $1, $2, $3)`, at, []byte{1, 2, 3, 4}, []byte{0xa5}); err != nil {
				t.Fatal(err)
			}
			db.Close()

			s := openURL(t, url)
			u, err := s.GetUser(ctx, "u1")
			if err != nil || u.Status != authn.StatusActive {
				t.Fatalf("rita after the upgrade: %+v, %v", u, err)
			}
			if frozen, err := s.ListFrozen(ctx); err != nil || len(frozen) != 0 {
				t.Errorf("frozen after the upgrade: %+v, %v", frozen, err)
			}
			if c, err := s.GetCredentialByWebAuthnID(ctx, []byte{1, 2, 3, 4}); err != nil || c.ID != "c1" {
				t.Fatalf("her key after the upgrade: %+v, %v", c, err)
			}
			now := time.Now()
			inv := authn.Invitation{ID: "i1", UserID: "u1", TokenHash: authn.TokenHash{1}, Purpose: authn.PurposeEnroll,
				CreatedBy: "cli:root", CreatedAt: now, ExpiresAt: now.Add(time.Hour)}
			rep, err := s.ResetUser(ctx, "u1", now, inv, authn.TokenHash{2}, authn.AuditEvent{Time: now, Actor: "cli:root", Action: "user.reset"})
			if err != nil || rep.Keys != 1 {
				t.Fatalf("reset after the upgrade: %+v, %v", rep, err)
			}
			if sus, err := s.ListSuspendedCredentials(ctx, "u1"); err != nil || len(sus) != 1 || sus[0].ID != "c1" {
				t.Errorf("suspended after the reset: %+v, %v", sus, err)
			}
		})
	}
}
