package sqlstore

import (
	"testing"
	"time"

	"github.com/keyhall/keyhall/authn"
)

// TestMigrationRoleApprovals: a reset waiting for approval in a database
// of the version before 0018 is, after the upgrade, still a pending reset
// (kind "reset", no group).
func TestMigrationRoleApprovals(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			url := b.url(t)
			ctx := t.Context()
			db := openAtVersion(t, b.name, url, 17)
			created := time.Now().UTC().Truncate(time.Second)
			var at, exp any = created, created.Add(24 * time.Hour)
			if b.name == dialectSQLite {
				at, exp = created.UnixMicro(), created.Add(24*time.Hour).UnixMicro()
			}
			if _, err := db.ExecContext(ctx, `INSERT INTO users (id, external_id, username, display_name, email, status, source,
				search_text, created_at, updated_at, postal_address, verified_email)
				VALUES ('u1', '', 'rita', 'Rita', '', 'active', 'local', 'rita', $1, $1, '', '')`, at); err != nil {
				t.Fatal(err)
			}
			if _, err := db.ExecContext(ctx, `INSERT INTO approvals (id, user_id, requested_by, reason, check_method, delivery,
				validity_seconds, created_at, expires_at) VALUES ('a1', 'u1', 'user:helga', 'ticket 1', 'callback', 'letter', 3600, $1, $2)`,
				at, exp); err != nil {
				t.Fatal(err)
			}
			db.Close()

			s := openURL(t, url)
			pending, err := s.PendingApprovals(ctx, created.Add(time.Hour))
			if err != nil || len(pending) != 1 || pending[0].ID != "a1" || pending[0].Kind != authn.ApprovalReset ||
				pending[0].Group != "" || pending[0].Add {
				t.Fatalf("pending after the upgrade: %+v, %v", pending, err)
			}
		})
	}
}
