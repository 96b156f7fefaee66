package sqlstore

import (
	"bytes"
	"testing"
	"time"

	"github.com/keyhall/keyhall/authn"
)

// TestMigrationKeyModels: a database of the version before key models
// (with a person and her key) is upgraded: no blob is imported yet, and
// after an import her key of a revoked model is counted.
func TestMigrationKeyModels(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			url, ctx := b.url(t), t.Context()
			db := openAtVersion(t, b.name, url, 25) // before key models
			var at any = time.Date(2025, 3, 14, 9, 0, 0, 0, time.UTC)
			if b.name == dialectSQLite {
				at = at.(time.Time).UnixMicro()
			}
			if _, err := db.ExecContext(ctx, `INSERT INTO users (id, external_id, username, display_name, email, status, source,
				search_text, created_at, updated_at, postal_address, verified_email)
				VALUES ('u1', '', 'rita', 'Rita', '', 'active', 'local', 'rita', $1, $1, '', '')`, at); err != nil {
				t.Fatal(err)
			}
			aaguid := [16]byte{0xf7, 0xc5}
			if _, err := db.ExecContext(ctx, `INSERT INTO credentials (id, user_id, kind, nickname, created_at, webauthn_id, public_key, aaguid)
				VALUES ('c1', 'u1', 'webauthn', 'Alt', $1, $2, $3, $4)`, at, []byte{1, 2, 3, 4}, []byte{0xa5}, aaguid[:]); err != nil {
				t.Fatal(err)
			}
			db.Close()

			s := openURL(t, url)
			if _, err := s.KeyMetadata(ctx); err == nil {
				t.Fatal("a blob is imported right after the upgrade")
			}
			if err := s.ImportKeyModels(ctx, authn.KeyMetadata{No: 1, NextUpdate: time.Now(), ImportedAt: time.Now()},
				[]authn.KeyModel{{AAGUID: aaguid, Name: "Broken Key", Status: "REVOKED", Compromise: "REVOKED"}},
				authn.AuditEvent{Time: time.Now(), Actor: "test", Action: "mds.import"}); err != nil {
				t.Fatal(err)
			}
			got, err := s.CompromisedKeys(ctx)
			if err != nil || len(got.Models) != 1 || got.Models[0].Keys != 1 || len(got.Groups) != 1 || got.Groups[0].People != 1 {
				t.Fatalf("after the upgrade: %+v, %v", got, err)
			}
		})
	}
}

// TestMigrationKeyModelRoots: a database with an imported blob from before
// the models' roots (version 26) is upgraded: its models stay, without
// roots, until the next import stores them.
func TestMigrationKeyModelRoots(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			url, ctx := b.url(t), t.Context()
			db := openAtVersion(t, b.name, url, 26)
			aaguid := [16]byte{0xee, 0x88}
			if _, err := db.ExecContext(ctx, `INSERT INTO key_models (aaguid, name, status, compromise, certification)
				VALUES ($1, 'Old Key', 'FIDO_CERTIFIED_L1', '', 'FIDO_CERTIFIED_L1')`, aaguid[:]); err != nil {
				t.Fatal(err)
			}
			db.Close()

			s := openURL(t, url)
			got, err := s.KeyModels(ctx, [][16]byte{aaguid})
			if err != nil || got[aaguid].Name != "Old Key" || got[aaguid].Roots != nil {
				t.Fatalf("after the upgrade: %+v, %v", got, err)
			}
			roots := []byte{0x30, 0x82, 0x01}
			if err := s.ImportKeyModels(ctx, authn.KeyMetadata{No: 2, NextUpdate: time.Now(), ImportedAt: time.Now()},
				[]authn.KeyModel{{AAGUID: aaguid, Name: "Old Key", Status: "FIDO_CERTIFIED_L1", Roots: roots}},
				authn.AuditEvent{Time: time.Now(), Actor: "test", Action: "mds.import"}); err != nil {
				t.Fatal(err)
			}
			if got, err = s.KeyModels(ctx, [][16]byte{aaguid}); err != nil || !bytes.Equal(got[aaguid].Roots, roots) {
				t.Fatalf("after the next import: %+v, %v", got, err)
			}
		})
	}
}
