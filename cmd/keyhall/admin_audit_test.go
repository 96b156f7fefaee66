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

// TestAdminAuditVerifyNotUTF8 (#17): a display name that is not UTF-8 (a
// Latin-1 "ä" from a script) is refused, and nothing is written; the log
// still verifies afterwards.
func TestAdminAuditVerifyNotUTF8(t *testing.T) {
	env, _ := adminEnv(t)
	mustRun(t, env, 0, "admin", "users", "add", "bernd")
	if e := mustRun(t, env, 2, "admin", "users", "add", "anna", "--name", "Anna \xe4"); !strings.Contains(e, "not valid UTF-8") {
		t.Errorf("users add --name with a Latin-1 byte: %q", e)
	}
	if e := mustRun(t, env, 2, "admin", "users", "add", "anna", "--name", strings.Repeat("a", 201)); !strings.Contains(e, "at most 200") {
		t.Errorf("users add --name of 201 characters: %q", e)
	}
	for _, args := range [][]string{
		{"users", "add", "carla", "--address", "Gro\xdfe Stra\xdfe 17|48143 M\xfcnster"},
		{"users", "add", "carla", "--email", strings.Repeat("a", 250) + "@example.org"},
		{"groups", "add", "rat", "--name", "Rat der Stadt \xc4"},
		{"users", "disable", "bernd", "--reason", "Urlaub \xfcber Ostern"},
	} {
		if e := mustRun(t, env, 2, append([]string{"admin"}, args...)...); !strings.Contains(e, "not valid UTF-8") &&
			!strings.Contains(e, "too long") {
			t.Errorf("keyhall admin %q: %q", args, e)
		}
	}
	mustRun(t, env, 0, "admin", "users", "add", "anna", "--name", strings.Repeat("ä", 200))
	if out := mustRun(t, env, 0, "admin", "audit", "verify"); !strings.HasPrefix(out, "2 audit events, chain intact; last hash ") {
		t.Errorf("audit verify printed %q", out)
	}
}
