package main

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/keyhall/keyhall/authn"
	"github.com/keyhall/keyhall/authn/sqlstore"
)

// adminEnv returns an environment that points keyhall at a new SQLite
// database, set up as keyhall serve sets it up, and the database's URL.
func adminEnv(t *testing.T) ([]string, string) {
	url := "sqlite://" + filepath.Join(t.TempDir(), "keyhall.db")
	setUpDatabase(t, url)
	return []string{"KEYHALL_STORAGE=" + url}, url
}

// setUpDatabase creates the database at url with the current schema, as
// keyhall serve does on its first start.
func setUpDatabase(t *testing.T, url string) {
	t.Helper()
	st, err := sqlstore.Open(context.Background(), url, sqlstore.Options{Logger: discardLogger()})
	if err != nil {
		t.Fatal(err)
	}
	st.Close()
}

// TestAdminNeedsServesDatabase: a command run where there is no database
// (another directory, a wrong --config) says so and creates none; one run
// on a database serve has not upgraded yet says to start serve first and
// changes nothing.
func TestAdminNeedsServesDatabase(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "keyhall.db")
	env := []string{"KEYHALL_STORAGE=sqlite://" + path}
	if e := mustRun(t, env, 1, "admin", "users", "add", "anna"); !strings.Contains(e, "there is none (keyhall serve creates it") {
		t.Errorf("no database: %q", e)
	}
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a command created a database: %v", err)
	}
	setUpDatabase(t, "sqlite://"+path)
	st := openTestStore(t, "sqlite://"+path)
	db := st.(*sqlstore.Store).DB()
	var version int
	if err := db.QueryRow("SELECT version FROM schema_version").Scan(&version); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec("UPDATE schema_version SET version = $1", version-1); err != nil {
		t.Fatal(err)
	}
	if e := mustRun(t, env, 1, "admin", "users", "list"); !strings.Contains(e, "start keyhall serve with this binary first") {
		t.Errorf("older schema: %q", e)
	}
	if err := db.QueryRow("SELECT version FROM schema_version").Scan(&version); err != nil || version == 0 {
		t.Fatalf("schema version after the command: %d, %v", version, err)
	}
}

// mustRun runs keyhall and fails the test unless it exits with want.
func mustRun(t *testing.T, env []string, want int, args ...string) string {
	t.Helper()
	code, out, errOut := runKeyhall(t, env, args...)
	if code != want {
		t.Fatalf("keyhall %s: exit %d, want %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), code, want, out, errOut)
	}
	if want != 0 {
		return errOut
	}
	return out
}

// openTestStore opens the database at url, closed when the test ends.
func openTestStore(t *testing.T, url string) authn.Store {
	t.Helper()
	st, err := sqlstore.Open(context.Background(), url, sqlstore.Options{Logger: discardLogger()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

func TestAdminUsers(t *testing.T) {
	env, _ := adminEnv(t)
	var added userJSON
	out := mustRun(t, env, 0, "admin", "users", "add", "Anna.Müller", "--name", "Anna Müller",
		"--email", "anna@example.org", "--json")
	if err := json.Unmarshal([]byte(out), &added); err != nil {
		t.Fatalf("users add --json printed %q: %v", out, err)
	}
	if added.Username != "anna.müller" || added.DisplayName != "Anna Müller" || added.Email != "anna@example.org" ||
		added.Status != "active" || added.Source != "local" || len(added.ID) != 26 || added.CreatedAt.IsZero() {
		t.Errorf("users add --json: %+v", added)
	}
	if strings.Contains(out, `"groups"`) {
		t.Errorf("users add --json shows groups: %s", out)
	}
	mustRun(t, env, 0, "admin", "users", "add", "bernd")

	errOut := mustRun(t, env, 1, "admin", "users", "add", "ANNA.MÜLLER")
	if errOut != "keyhall: user \"anna.müller\" already exists\n" {
		t.Errorf("duplicate user: stderr %q", errOut)
	}

	var list []userJSON
	if err := json.Unmarshal([]byte(mustRun(t, env, 0, "admin", "users", "list", "--json")), &list); err != nil {
		t.Fatal(err)
	}
	if len(list) != 2 || list[0].Username != "anna.müller" || list[1].Username != "bernd" {
		t.Errorf("users list --json: %+v", list)
	}
	out = mustRun(t, env, 0, "admin", "users", "list", "--query", "MÜLLER")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[0], "USERNAME     NAME") || !strings.HasPrefix(lines[1], "anna.müller  Anna Müller") {
		t.Errorf("users list --query as a table:\n%s", out)
	}

	var shown userJSON
	if err := json.Unmarshal([]byte(mustRun(t, env, 0, "admin", "users", "show", "anna.müller", "--json")), &shown); err != nil {
		t.Fatal(err)
	}
	if shown.ID != added.ID || shown.Groups == nil || len(shown.Groups) != 0 {
		t.Errorf("users show --json: %+v; want the added person with groups []", shown)
	}
	if errOut := mustRun(t, env, 1, "admin", "users", "show", "carla"); errOut != "keyhall: user \"carla\" not found\n" {
		t.Errorf("unknown user: stderr %q", errOut)
	}
}

func TestAdminGroups(t *testing.T) {
	env, url := adminEnv(t)
	mustRun(t, env, 0, "admin", "users", "add", "anna")
	var g groupJSON
	if err := json.Unmarshal([]byte(mustRun(t, env, 0, "admin", "groups", "add", "Rat", "--name", "Rat der Stadt", "--json")), &g); err != nil {
		t.Fatal(err)
	}
	if g.Name != "rat" || g.DisplayName != "Rat der Stadt" || g.Source != "local" || g.ID == "" {
		t.Errorf("groups add --json: %+v", g)
	}
	mustRun(t, env, 0, "admin", "groups", "add", "helpdesk")
	mustRun(t, env, 1, "admin", "groups", "add", "RAT")
	mustRun(t, env, 0, "admin", "groups", "add-member", "rat", "Anna", "--reason", "ticket 1")
	if e := mustRun(t, env, 1, "admin", "groups", "add-member", "rat", "anna", "--reason", "ticket 1"); !strings.Contains(e, "already") {
		t.Errorf("second add-member: %q", e)
	}
	if e := mustRun(t, env, 1, "admin", "groups", "add-member", "nope", "anna", "--reason", "ticket 1"); e != "keyhall: group \"nope\" not found\n" {
		t.Errorf("unknown group: %q", e)
	}

	var groups []groupJSON
	if err := json.Unmarshal([]byte(mustRun(t, env, 0, "admin", "groups", "list", "--json")), &groups); err != nil {
		t.Fatal(err)
	}
	if len(groups) != 2 || groups[0].Name != "helpdesk" || groups[1].Name != "rat" {
		t.Errorf("groups list --json: %+v", groups)
	}
	var shown userJSON
	json.Unmarshal([]byte(mustRun(t, env, 0, "admin", "users", "show", "anna", "--json")), &shown)
	if !reflect.DeepEqual(shown.Groups, []string{"rat"}) {
		t.Errorf("users show: groups %v, want [rat]", shown.Groups)
	}
	out := mustRun(t, env, 0, "admin", "users", "show", "anna")
	if !regexp.MustCompile(`Groups: +rat\n`).MatchString(out) {
		t.Errorf("users show as a table:\n%s", out)
	}

	st := openTestStore(t, url)
	events, err := st.ListAudit(context.Background(), authn.AuditFilter{Subject: "group:" + g.ID})
	if err != nil {
		t.Fatal(err)
	}
	var actions []string
	for _, e := range events {
		actions = append(actions, e.Action)
		if !strings.HasPrefix(e.Actor, "cli:") {
			t.Errorf("event %s by %q, want cli:<user>", e.Action, e.Actor)
		}
	}
	if !reflect.DeepEqual(actions, []string{"group.create", "group.add_member"}) {
		t.Errorf("audit events about the group: %v", actions)
	}
}

func TestAdminDisable(t *testing.T) {
	env, url := adminEnv(t)
	mustRun(t, env, 0, "admin", "users", "add", "anna")
	st := openTestStore(t, url)
	ctx := context.Background()
	u, err := st.GetUserByUsername(ctx, "anna")
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		id := make([]byte, 32)
		rand.Read(id)
		now := time.Now()
		s := authn.Session{Hash: authn.HashSessionID(id), UserID: u.ID, AMR: []string{"hwk"}, AuthTime: now,
			CreatedAt: now, LastSeenAt: now, ExpiresAt: now.Add(time.Hour)}
		if err := st.CreateSession(ctx, s); err != nil {
			t.Fatal(err)
		}
	}

	out := mustRun(t, env, 0, "admin", "users", "disable", "anna", "--reason", "left the council")
	if out != "Disabled user \"anna\".\nRevoked 2 session(s).\n" {
		t.Errorf("users disable printed %q", out)
	}
	if u, _ = st.GetUserByUsername(ctx, "anna"); u.Status != authn.StatusDisabled {
		t.Errorf("status %q after disable", u.Status)
	}
	live, err := st.ListUserSessions(ctx, u.ID, time.Now())
	if err != nil {
		t.Fatalf("ListUserSessions: %v", err)
	}
	if len(live) != 0 {
		t.Errorf("%d sessions left after disable", len(live))
	}
	events, err := st.ListAudit(ctx, authn.AuditFilter{Subject: "user:" + u.ID})
	if err != nil {
		t.Fatal(err)
	}
	if len(events) != 3 || events[1].Action != "user.disable" || events[1].Reason != "left the council" ||
		events[1].Details["username"] != "anna" || events[2].Action != "user.revoke_sessions" || events[2].Details["count"] != "2" {
		t.Errorf("audit events: %+v", events)
	}
	if _, _, err := authn.VerifyChain([32]byte{}, 0, mustListAll(t, st)); err != nil {
		t.Errorf("audit chain: %v", err)
	}

	out = mustRun(t, env, 0, "admin", "users", "disable", "anna", "--reason", "again")
	if out != "User \"anna\" was disabled already.\nRevoked 0 session(s).\n" {
		t.Errorf("second disable printed %q", out)
	}
	mustRun(t, env, 1, "admin", "users", "disable", "nobody", "--reason", "x")
}

func mustListAll(t *testing.T, st authn.Store) []authn.AuditEvent {
	t.Helper()
	events, err := st.ListAudit(context.Background(), authn.AuditFilter{})
	if err != nil {
		t.Fatal(err)
	}
	return events
}

func TestAdminConfigFlag(t *testing.T) {
	dir := t.TempDir()
	cfg := writeFile(t, dir, "keyhall.yaml", "storage: sqlite://"+filepath.Join(dir, "k.db")+"\n")
	setUpDatabase(t, "sqlite://"+filepath.Join(dir, "k.db"))
	mustRun(t, nil, 0, "admin", "groups", "add", "rat", "--config", cfg)
	if out := mustRun(t, nil, 0, "admin", "groups", "list", "--config", cfg); !strings.Contains(out, "rat") {
		t.Errorf("groups list with --config: %q", out)
	}
	bad := writeFile(t, dir, "bad.yaml", "storage: mysql://x\n")
	if e := mustRun(t, nil, 2, "admin", "groups", "list", "--config", bad); !strings.Contains(e, "bad.yaml:1: storage:") {
		t.Errorf("bad config: %q", e)
	}
}
