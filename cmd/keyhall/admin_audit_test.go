package main

import (
	"strings"
	"testing"

	"github.com/keyhall/keyhall/authn/sqlstore"
	"github.com/keyhall/keyhall/authn/sqlstore/pgtest"
)

// onBothBackends runs test on a new SQLite database and a new PostgreSQL
// one, each set up as keyhall serve sets it up.
func onBothBackends(t *testing.T, test func(t *testing.T, env []string, url string)) {
	t.Run("sqlite", func(t *testing.T) {
		env, url := adminEnv(t)
		test(t, env, url)
	})
	t.Run("postgres", func(t *testing.T) {
		url := pgtest.Shared(t).NewDatabase(t)
		setUpDatabase(t, url)
		test(t, []string{"KEYHALL_STORAGE=" + url}, url)
	})
}

// TestAdminAuditVerify: an intact log verifies; an event edited in the
// database afterwards is found, and the command fails.
func TestAdminAuditVerify(t *testing.T) {
	env, url := adminEnv(t)
	mustRun(t, env, 0, "admin", "users", "add", "anna")
	mustRun(t, env, 0, "admin", "groups", "add", "rat")
	mustRun(t, env, 0, "admin", "groups", "add-member", "rat", "anna", "--reason", "ticket 1")
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
	onBothBackends(t, testAuditVerifyNotUTF8)
}

func testAuditVerifyNotUTF8(t *testing.T, env []string, _ string) {
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

// TestAdminAuditVerifySkipBroken (#17): a database that already holds an
// event broken the way #17 broke it (hashed over a Latin-1 byte, stored
// with U+FFFD) is checked to its end with --skip-broken, which names each
// event it skipped and why, and never calls the log intact.
func TestAdminAuditVerifySkipBroken(t *testing.T) {
	onBothBackends(t, testAuditVerifySkipBroken)
}

func testAuditVerifySkipBroken(t *testing.T, env []string, url string) {
	for _, u := range []string{"anna", "bernd", "carla", "dora", "emil"} {
		mustRun(t, env, 0, "admin", "users", "add", u, "--name", "Anna Müller")
	}
	if out := mustRun(t, env, 0, "admin", "audit", "verify", "--skip-broken"); !strings.HasPrefix(out, "5 audit events, chain intact") {
		t.Errorf("audit verify --skip-broken of an intact log: %q", out)
	}
	db := openTestStore(t, url).(*sqlstore.Store).DB()
	for _, q := range []string{
		`UPDATE audit_events SET details = replace(details, 'ü', '` + "\uFFFD" + `') WHERE seq = 2`,
		`UPDATE audit_events SET reason = 'nothing happened' WHERE seq = 4`,
	} {
		if _, err := db.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	if e := mustRun(t, env, 1, "admin", "audit", "verify"); !strings.Contains(e, "broken after 1 intact events") ||
		!strings.Contains(e, "event 2 was changed") || !strings.Contains(e, "--skip-broken") {
		t.Errorf("audit verify: %q", e)
	}
	code, out, e := runKeyhall(t, env, "admin", "audit", "verify", "--skip-broken")
	want := "event 2 (after 1): was changed after it was written; skipped, checking on from its stored hash\n" +
		"event 4 (after 3): was changed after it was written; skipped, checking on from its stored hash\n"
	if code != 1 || out != want || strings.Contains(out+e, "intact;") ||
		!strings.Contains(e, "NOT intact: 2 event(s) did not fit the chain and were skipped (2, 4); 5 events read") {
		t.Errorf("audit verify --skip-broken: exit %d\nstdout: %s\nstderr: %s", code, out, e)
	}
	// A removed event is named too, and the events after it are checked.
	if _, err := db.Exec(`DELETE FROM audit_events WHERE seq = 3`); err != nil {
		t.Fatal(err)
	}
	if code, out, _ := runKeyhall(t, env, "admin", "audit", "verify", "--skip-broken"); code != 1 ||
		!strings.Contains(out, "event 4 (after 2): an event is missing; skipped") {
		t.Errorf("audit verify --skip-broken with event 3 removed: exit %d, %q", code, out)
	}
}
