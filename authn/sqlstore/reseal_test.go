package sqlstore

import (
	"context"
	"database/sql"
	"testing"
	"time"

	"github.com/keyhall/keyhall/authn"
)

// TestResealKeepsNewerSecret: a secret a serve process replaces while
// ResealSecrets runs (an app enrolled anew) is not overwritten with the
// re-sealed older one: the newer one is re-sealed instead. On PostgreSQL
// only: on SQLite the re-seal holds the one writer lock, so nothing
// changes under it.
func TestResealKeepsNewerSecret(t *testing.T) {
	url := postgresURL(t)
	s := openURL(t, url)
	ctx := context.Background()
	now := time.Now().UTC()
	ev := authn.AuditEvent{Time: now, Actor: "test", Action: "user.create"}
	anna := authn.User{ID: authn.NewID(), Username: "anna", DisplayName: "Anna", Status: authn.StatusActive,
		Source: authn.SourceLocal, CreatedAt: now, UpdatedAt: now}
	if err := s.CreateUser(ctx, anna, ev); err != nil {
		t.Fatal(err)
	}
	app := authn.Credential{ID: authn.NewID(), UserID: anna.ID, Kind: authn.KindTOTP, Nickname: "App",
		CreatedAt: now, SecretSealed: []byte("older")}
	if err := s.CreateCredential(ctx, app, ev); err != nil {
		t.Fatal(err)
	}
	other, err := sql.Open("pgx", url) // another process
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	replaced := false
	reseal := func(kind, id string, sealed []byte) ([]byte, error) {
		if kind == authn.SealedCredential && !replaced {
			replaced = true
			if _, err := other.ExecContext(ctx, "UPDATE credentials SET secret_sealed = $1 WHERE id = $2", []byte("newer"), id); err != nil {
				t.Fatal(err)
			}
		}
		return append([]byte("resealed "), sealed...), nil
	}
	ev = authn.AuditEvent{Time: now, Actor: "test", Action: "keys.rotate_encryption", Subject: "keys"}
	if _, err := s.ResealSecrets(ctx, reseal, "", "", ev); err != nil {
		t.Fatal(err)
	}
	var got []byte
	if err := other.QueryRowContext(ctx, "SELECT secret_sealed FROM credentials WHERE id = $1", app.ID).Scan(&got); err != nil {
		t.Fatal(err)
	}
	if string(got) != "resealed newer" {
		t.Errorf("the secret after a re-seal during which it was replaced: %q, want %q", got, "resealed newer")
	}
}
