package main

import (
	"strings"
	"testing"

	"github.com/keyhall/keyhall/authn/sqlstore"
)

// TestAdminAuditVerify: an intact log verifies; an event edited in the
// database afterwards is found, and the command fails.
func TestAdminAuditVerify(t *testing.T) {
	env, url := adminEnv(t)
	mustRun(t, env, 0, "admin", "users", "add", "anna")
	mustRun(t, env, 0, "admin", "groups", "add", "rat")
	mustRun(t, env, 0, "admin", "groups", "add-member", "rat", "anna")
	if out := mustRun(t, env, 0, "admin", "audit", "verify"); !strings.HasPrefix(out, "3 audit events, chain intact; last hash ") {
		t.Errorf("audit verify printed %q", out)
	}
	st := openTestStore(t, url)
	if _, err := st.(*sqlstore.Store).DB().Exec(`UPDATE audit_events SET reason = 'nothing happened' WHERE seq = 2`); err != nil {
		t.Fatal(err)
	}
	if e := mustRun(t, env, 1, "admin", "audit", "verify"); !strings.Contains(e, "broken after 1 intact events") ||
		!strings.Contains(e, "event 2 was changed") {
		t.Errorf("audit verify on a changed log: %q", e)
	}
}
