package sqlstore

import (
	"testing"
	"time"

	"github.com/keyhall/keyhall/authn"
	"github.com/keyhall/keyhall/authn/storetest"
)

func TestSearchConformance(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			storetest.RunSearch(t, func(t *testing.T) authn.Store { return openURL(t, b.url(t)) })
		})
	}
}

// TestSearchWalk runs the search's conformance with every word counted as
// common: the plan that walks people in order of username.
func TestSearchWalk(t *testing.T) {
	old := searchCap
	searchCap = 0
	t.Cleanup(func() { searchCap = old })
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			storetest.RunSearch(t, func(t *testing.T) authn.Store { return openURL(t, b.url(t)) })
		})
	}
}

// TestMigrationSearch: people stored before schema 15 are found by the
// console's search once the store opened the upgraded database.
func TestMigrationSearch(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			url := b.url(t)
			ctx := t.Context()
			db := openAtVersion(t, b.name, url, 16)
			var at any = time.Date(2025, 3, 14, 9, 0, 0, 0, time.UTC)
			if b.name == dialectSQLite {
				at = at.(time.Time).UnixMicro()
			}
			if _, err := db.ExecContext(ctx, `INSERT INTO users (id, external_id, username, display_name, email, status, source,
				search_text, created_at, updated_at, postal_address, verified_email)
				VALUES ('u1', '', 'amueller', 'Anna Müller', '', 'active', 'local', '', $1, $1, '', '')`, at); err != nil {
				t.Fatal(err)
			}
			db.Close()
			s := openURL(t, url)
			got, err := s.SearchUsers(ctx, "muller", "", 0)
			if err != nil || len(got) != 1 || got[0].ID != "u1" {
				t.Errorf("SearchUsers(muller) after the upgrade = %+v, %v; want Anna Müller", got, err)
			}
		})
	}
}
