package sqlstore

import (
	"testing"
	"time"

	"github.com/keyhall/keyhall/authn"
	"github.com/keyhall/keyhall/authn/storetest"
)

func TestDirectoryConformance(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			storetest.RunDirectory(t, func(t *testing.T) authn.Store { return openURL(t, b.url(t)) })
		})
	}
}

// TestMigrationDirectory: a database of schema 12 keeps its people and
// groups through 0013; they come from no directory, and a person who was
// disabled then was disabled by an administrator (the sync never enables
// her).
func TestMigrationDirectory(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			url := b.url(t)
			ctx := t.Context()
			db := openAtVersion(t, b.name, url, 12)
			var at any = time.Date(2025, 3, 14, 9, 0, 0, 0, time.UTC)
			if b.name == dialectSQLite {
				at = at.(time.Time).UnixMicro()
			}
			for _, p := range []struct{ id, name, status string }{{"u1", "rita", "active"}, {"u2", "rolf", "disabled"}} {
				if _, err := db.ExecContext(ctx, `INSERT INTO users (id, external_id, username, display_name, email, status, source,
					search_text, created_at, updated_at, postal_address, verified_email)
					VALUES ($1, '', $2, $2, '', $3, 'local', $2, $4, $4, '', '')`, p.id, p.name, p.status, at); err != nil {
					t.Fatal(err)
				}
			}
			if _, err := db.ExecContext(ctx, `INSERT INTO groups (id, external_id, name, display_name, source, created_at)
				VALUES ('g1', '', 'admins', 'admins', 'local', $1)`, at); err != nil {
				t.Fatal(err)
			}
			db.Close()

			s := openURL(t, url)
			for _, id := range []string{"u1", "u2"} {
				u, err := s.GetUser(ctx, id)
				if err != nil {
					t.Fatal(err)
				}
				if u.Directory != "" || u.Phone != "" {
					t.Errorf("%s after the upgrade: directory %q phone %q", u.Username, u.Directory, u.Phone)
				}
			}
			var by string
			var disabledAt time.Time
			if err := s.DB().QueryRowContext(ctx, "SELECT disabled_by, disabled_at FROM users WHERE id = 'u2'").
				Scan(&by, timeCol{&disabledAt}); err != nil {
				t.Fatal(err)
			}
			if by != authn.DisabledByAdmin || disabledAt.IsZero() {
				t.Errorf("a person disabled before the upgrade: disabled_by %q at %v, want admin", by, disabledAt)
			}
			g, err := s.GetGroupByName(ctx, "admins")
			if err != nil || g.Directory != "" {
				t.Errorf("group after the upgrade: %+v, %v", g, err)
			}
			if st, err := s.GetDirectoryState(ctx, "rathaus"); err != nil || st.LastGoodPeople != 0 {
				t.Errorf("GetDirectoryState after the upgrade: %+v, %v", st, err)
			}
		})
	}
}
