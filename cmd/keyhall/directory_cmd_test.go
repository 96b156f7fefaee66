package main

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/keyhall/keyhall/authn"
	"github.com/keyhall/keyhall/ldapsync"
	"github.com/keyhall/keyhall/ldapsync/ldaptest"
	"github.com/keyhall/keyhall/web"
)

// snapshotReader is a directory that answers with a Snapshot built by the
// test, or with an error.
type snapshotReader struct {
	snap ldapsync.Snapshot
	err  error
}

func (r snapshotReader) Read(ctx context.Context) (ldapsync.Snapshot, error) { return r.snap, r.err }

// useReader makes the commands read r instead of a real directory, for the
// test's duration.
func useReader(t *testing.T, r ldapsync.Reader) {
	old := newReader
	t.Cleanup(func() { newReader = old })
	newReader = func(ldapsync.Config, *slog.Logger) (ldapsync.Reader, error) { return r, nil }
}

// runRecorder records the options of every run of the syncer.
type runRecorder struct {
	mu   sync.Mutex
	runs []ldapsync.RunOptions
	dirs []string
}

func (r *runRecorder) all() ([]ldapsync.RunOptions, []string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.runs), slices.Clone(r.dirs)
}

type recordingSyncer struct {
	directorySyncer
	rec *runRecorder
	dir string
}

func (s recordingSyncer) Run(ctx context.Context, opts ldapsync.RunOptions) (ldapsync.Result, error) {
	s.rec.mu.Lock()
	s.rec.runs = append(s.rec.runs, opts)
	s.rec.dirs = append(s.rec.dirs, s.dir)
	s.rec.mu.Unlock()
	return s.directorySyncer.Run(ctx, opts)
}

// recordSyncs wraps the syncer the commands use (ldapsync's) to record
// each run's options.
func recordSyncs(t *testing.T) *runRecorder {
	old := newSyncer
	t.Cleanup(func() { newSyncer = old })
	rec := &runRecorder{}
	newSyncer = func(c ldapsync.SyncConfig) (directorySyncer, error) {
		s, err := old(c)
		if err != nil {
			return nil, err
		}
		return recordingSyncer{s, rec, c.Directory.Name}, nil
	}
	return rec
}

// syncTestConfig writes a configuration with one directory (named name)
// and the database at dbURL, plus extra; it returns its path.
func syncTestConfig(t *testing.T, dir, dbURL, extra string) string {
	pw := writeFile(t, dir, "ldap-password", "Sommer2026!")
	return writeFile(t, dir, "keyhall.yaml", fmt.Sprintf(`storage: %s
keys:
  file: %s
directory:
  name: stadt
  preset: openldap
  url: ldap://127.0.0.1:3389
  insecure_plaintext: true
  bind_dn: cn=keyhall,dc=stadt,dc=example
  bind_password_file: %s
  base_dns: ["ou=people,dc=stadt,dc=example"]
%s`, dbURL, filepath.Join(dir, "keyhall.keys"), pw, extra))
}

func person(id, username, name string) ldapsync.Person {
	return ldapsync.Person{ExternalID: id, Username: username, DisplayName: name, Email: username + "@stadt.example",
		DN: "uid=" + username + ",ou=people,dc=stadt,dc=example"}
}

// TestSyncDryRunJSON: `keyhall sync --dry-run --json` prints, for scripts,
// each directory's result with every list present and the people's names,
// passes --dry-run on and changes nothing in the database.
func TestSyncDryRunJSON(t *testing.T) {
	dir := t.TempDir()
	dbURL := "sqlite://" + filepath.Join(dir, "keyhall.db")
	setUpDatabase(t, dbURL)
	cfg := syncTestConfig(t, dir, dbURL, "")
	useReader(t, snapshotReader{snap: ldapsync.Snapshot{Directory: "stadt", People: []ldapsync.Person{
		person("6f1c1d7e-0000-4000-8000-000000000001", "anna.mueller", "Anna Müller"),
		person("6f1c1d7e-0000-4000-8000-000000000002", "bert", "Bert Brecht"),
	}}})
	rec := recordSyncs(t)

	out := mustRun(t, nil, 0, "sync", "--config", cfg, "--dry-run", "--json")
	var raw []map[string]json.RawMessage
	if err := json.Unmarshal([]byte(out), &raw); err != nil || len(raw) != 1 {
		t.Fatalf("output is not a JSON list of one result: %v\n%s", err, out)
	}
	for _, key := range []string{"directory", "dry_run", "created", "updated", "renamed", "disabled", "enabled", "deleted",
		"unchanged", "conflicts", "errors", "aborted", "held_back"} {
		if _, ok := raw[0][key]; !ok {
			t.Errorf("no %q in %s", key, out)
		}
	}
	for _, key := range []string{"updated", "renamed", "disabled", "enabled", "deleted", "conflicts", "errors"} {
		if string(raw[0][key]) != "[]" {
			t.Errorf("%s = %s, want []", key, raw[0][key])
		}
	}
	var res []syncReport
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatal(err)
	}
	var created []string
	for _, c := range res[0].Created {
		created = append(created, c.Name)
	}
	if res[0].Directory != "stadt" || !res[0].DryRun || !reflect.DeepEqual(created, []string{"anna.mueller", "bert"}) || res[0].Error != "" {
		t.Errorf("result: %+v", res[0])
	}
	runs, dirs := rec.all()
	if len(runs) != 1 || !runs[0].DryRun || runs[0].AllowMassChange || !strings.HasPrefix(runs[0].Actor, "cli:") || dirs[0] != "stadt" {
		t.Errorf("runs %+v of %v; want one dry run by the CLI's actor", runs, dirs)
	}
	st := openTestStore(t, dbURL)
	if _, err := st.GetUserByUsername(context.Background(), "anna.mueller"); !errors.Is(err, authn.ErrNotFound) {
		t.Errorf("a dry run created anna: %v", err)
	}
	if strings.Contains(out, "Sommer2026") {
		t.Error("the bind password is printed")
	}

	// Without --dry-run, in words.
	out = mustRun(t, nil, 0, "sync", "--config", cfg)
	for _, want := range []string{"Directory stadt:\n", "  created: 2\n    anna.mueller\n    bert\n", "  unchanged: 0\n", "  disabled: none\n", "  errors: none\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("no %q in\n%s", want, out)
		}
	}
	if strings.Contains(out, "dry run") {
		t.Errorf("a real sync says dry run:\n%s", out)
	}
}

// TestSyncExitCodes: a failed read, an aborted sync and people held back
// exit with 1 and say why; --allow-mass-change is passed on; a wrong
// --directory or none configured is a usage or configuration error (2).
func TestSyncExitCodes(t *testing.T) {
	dir := t.TempDir()
	dbURL := "sqlite://" + filepath.Join(dir, "keyhall.db")
	setUpDatabase(t, dbURL)
	cfg := syncTestConfig(t, dir, dbURL, "")
	rec := recordSyncs(t)

	useReader(t, snapshotReader{err: errors.New("bind: invalid credentials (49): check bind_dn and bind_password_file")})
	code, out, errOut := runKeyhall(t, nil, "sync", "--config", cfg)
	if code != 1 || !strings.Contains(errOut, "keyhall: sync stadt: aborted: the directory could not be read completely: bind: invalid credentials (49)") ||
		!strings.Contains(out, "ABORTED: the directory could not be read completely: bind: invalid credentials (49)") ||
		!strings.Contains(out, "Nobody was disabled or deleted") {
		t.Errorf("failed read: exit %d\nstdout %s\nstderr %s", code, out, errOut)
	}
	code, out, _ = runKeyhall(t, nil, "sync", "--config", cfg, "--json")
	if code != 1 || !strings.Contains(out, `"aborted": true`) || !strings.Contains(out, `"abort_reason": "the directory could not be read completely: bind: invalid credentials (49)`) {
		t.Errorf("failed read, --json: exit %d\n%s", code, out)
	}

	// 20 directory people synced; then 3 of them gone and 3 new: the read
	// looks complete (as many people as before), but 15 % would be
	// disabled: held back, then passed with --allow-mass-change.
	people := make([]ldapsync.Person, 23)
	for i := range people {
		people[i] = person(fmt.Sprintf("6f1c1d7e-0000-4000-8000-%012d", i), fmt.Sprintf("p%02d", i), "P")
	}
	useReader(t, snapshotReader{snap: ldapsync.Snapshot{Directory: "stadt", People: people[:20]}})
	mustRun(t, nil, 0, "sync", "--config", cfg)

	// Now an empty read, where the last one found 20, is stopped.
	useReader(t, snapshotReader{snap: ldapsync.Snapshot{Directory: "stadt"}})
	code, out, errOut = runKeyhall(t, nil, "sync", "--config", cfg)
	if code != 1 || !strings.Contains(out, "ABORTED: ") || !strings.Contains(errOut, "keyhall: sync stadt: aborted: ") {
		t.Errorf("aborted: exit %d\nstdout %s\nstderr %s", code, out, errOut)
	}
	useReader(t, snapshotReader{snap: ldapsync.Snapshot{Directory: "stadt", People: people[3:]}})
	code, out, errOut = runKeyhall(t, nil, "sync", "--config", cfg)
	if code != 1 || !strings.Contains(out, "held back: 3 people") || !strings.Contains(errOut, "held back by the mass-change valve") {
		t.Errorf("held back: exit %d\nstdout %s\nstderr %s", code, out, errOut)
	}
	out = mustRun(t, nil, 0, "sync", "--config", cfg, "--allow-mass-change")
	if !strings.Contains(out, "  disabled: 3\n    p00: not found\n    p01: not found\n    p02: not found\n") {
		t.Errorf("--allow-mass-change:\n%s", out)
	}
	runs, _ := rec.all()
	if last := runs[len(runs)-1]; !last.AllowMassChange || last.DryRun {
		t.Errorf("last run %+v: --allow-mass-change not passed on", last)
	}
	for _, r := range runs[:len(runs)-1] {
		if r.AllowMassChange {
			t.Errorf("a run without the flag allowed a mass change: %+v", r)
		}
	}

	if e := mustRun(t, nil, 2, "sync", "--config", cfg, "--directory", "kreis"); !strings.Contains(e, `--directory "kreis": no directory of that name is configured (stadt)`) {
		t.Errorf("unknown directory: %s", e)
	}
	if e := mustRun(t, nil, 2, "sync", "--config", cfg, "--dry-run", "--allow-mass-change"); !strings.Contains(e, "a dry run changes nothing") {
		t.Errorf("--dry-run with --allow-mass-change: %s", e)
	}
	if e := mustRun(t, []string{"KEYHALL_STORAGE=" + dbURL}, 2, "sync"); !strings.Contains(e, "no directory is configured") {
		t.Errorf("no directory: %s", e)
	}
}

// TestSyncTellsTools: the people a sync disabled are logged out of the
// tools (back-channel logout) and their OIDC tokens revoked, as with
// `admin users disable`.
func TestSyncTellsTools(t *testing.T) {
	logouts := make(chan url.Values, 4)
	tool := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.ParseForm()
		logouts <- r.PostForm
	}))
	defer tool.Close()
	dir := t.TempDir()
	dbURL := "sqlite://" + filepath.Join(dir, "keyhall.db")
	setUpDatabase(t, dbURL)
	_, sum := web.NewOIDCClientSecret()
	cfg := syncTestConfig(t, dir, dbURL, fmt.Sprintf(`oidc:
  clients:
    - id: wiki
      secret_sha256: %s
      redirect_uris: [https://wiki.stadt.example/cb]
      backchannel_logout_uri: %s/backchannel
`, hex.EncodeToString(sum[:]), tool.URL))
	recordSyncs(t)
	people := []ldapsync.Person{person("6f1c1d7e-0000-4000-8000-000000000000", "anna", "Anna")}
	for i := 1; i < 11; i++ { // so that anna leaving is within the safety valves
		people = append(people, person(fmt.Sprintf("6f1c1d7e-0000-4000-8000-%012d", i), fmt.Sprintf("p%02d", i), "P"))
	}
	useReader(t, snapshotReader{snap: ldapsync.Snapshot{Directory: "stadt", People: people}})
	mustRun(t, nil, 0, "sync", "--config", cfg)

	st := openTestStore(t, dbURL)
	ctx := context.Background()
	tok := signedInToWiki(t, st, "anna")

	useReader(t, snapshotReader{snap: ldapsync.Snapshot{Directory: "stadt", People: people[1:]}})
	if out := mustRun(t, nil, 0, "sync", "--config", cfg); !strings.Contains(out, "  disabled: 1\n    anna: not found\n") {
		t.Errorf("anna not disabled:\n%s", out)
	}
	select {
	case form := <-logouts:
		if form.Get("logout_token") == "" {
			t.Errorf("back-channel logout without a logout token: %v", form)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the tool was not told that anna left")
	}
	if got, err := st.GetOIDCToken(ctx, tok.ID); err != nil || got.RevokedAt.IsZero() {
		t.Errorf("anna's access token after the sync: %+v, %v; want revoked", got, err)
	}
}

// TestDirectoryCheck: `keyhall directory check`, against a real slapd,
// says in plain words what it found and what is wrong, and exits with 1
// when something is.
func TestDirectoryCheck(t *testing.T) {
	s := ldaptest.StartSlapd(t, ldaptest.SlapdOptions{LDIF: `dn: uid=anna,ou=people,dc=example,dc=org
objectClass: inetOrgPerson
uid: anna
cn: Anna Müller
sn: Müller
mail: anna@stadt.example
telephoneNumber: +49 251 1234
street: Rathausplatz 1
postalCode: 48143
l: Münster

dn: cn=rat,ou=groups,dc=example,dc=org
objectClass: groupOfNames
cn: rat
member: uid=anna,ou=people,dc=example,dc=org
`})
	dir := t.TempDir()
	config := func(password, groups string) string {
		pw := writeFile(t, dir, "ldap-password", password)
		return writeFile(t, dir, "keyhall.yaml", fmt.Sprintf(`storage: sqlite://%s
keys:
  file: %s
directory:
  name: stadt
  preset: openldap
  url: %s
  start_tls: true
  ca_file: %s
  bind_dn: %s
  bind_password_file: %s
  base_dns: ["%s", "%s"]
  groups:
%s`, filepath.Join(dir, "keyhall.db"), filepath.Join(dir, "keyhall.keys"), s.URL, s.CAFile, ldaptest.SlapdSyncDN, pw,
			ldaptest.SlapdPeopleDN, ldaptest.SlapdGroupsDN, groups))
	}
	good := config(ldaptest.SlapdSyncPassword, "    - dn: cn=rat,ou=groups,dc=example,dc=org\n      name: rat\n")
	out := mustRun(t, nil, 0, "directory", "check", "--config", good)
	for _, want := range []string{
		"Directory stadt: " + s.URL + "\n  encryption: StartTLS\n  connected: yes\n",
		"  signed in (bind) as " + ldaptest.SlapdSyncDN + ": yes\n",
		"  under " + ldaptest.SlapdPeopleDN + ": 1 people",
		"  group mapping dn cn=rat,ou=groups,dc=example,dc=org: 1 group(s)\n",
		"  person anna\n    name:    Anna Müller\n    e-mail:  anna@stadt.example\n    phone:   +49 251 1234\n    address: Rathausplatz 1, 48143 Münster\n",
		"    status:  enabled\n", "  ok\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("no %q in\n%s", want, out)
		}
	}

	// A wrong bind password and a mapped group that is not there are each
	// named; the command exits with 1.
	bad := config("wrong", "    - dn: cn=missing,ou=groups,dc=example,dc=org\n      name: rat\n")
	code, out, errOut := runKeyhall(t, nil, "directory", "check", "--config", bad)
	if code != 1 || !strings.Contains(errOut, "keyhall: directory check stadt:") ||
		!strings.Contains(out, "PROBLEM: ") || !strings.Contains(out, "(code 49)") {
		t.Errorf("wrong password: exit %d\n%s\n%s", code, out, errOut)
	}
	bad = config(ldaptest.SlapdSyncPassword, "    - dn: cn=missing,ou=groups,dc=example,dc=org\n      name: rat\n")
	code, out, _ = runKeyhall(t, nil, "directory", "check", "--config", bad)
	if code != 1 || !strings.Contains(out, "PROBLEM: directory.groups[0].dn: cn=missing,ou=groups,dc=example,dc=org does not exist") {
		t.Errorf("missing group: exit %d\n%s", code, out)
	}

	// Printed as it comes: names from the directory cannot move the
	// terminal's cursor.
	old := directoryCheck
	t.Cleanup(func() { directoryCheck = old })
	directoryCheck = func(ctx context.Context, c ldapsync.Config, log *slog.Logger) (checkReport, error) {
		return checkReport{Directory: c.Name, URL: c.URL, TLS: "LDAPS", Connected: true, BindDN: c.BindDN,
			Samples:  []ldapsync.Person{{Username: "eve\x1b[2J", DisplayName: "Eve"}},
			Notes:    []string{"directory.groups[0].filter (cn=x) finds no group"},
			Problems: []string{"bind: invalid credentials (49): check bind_dn and bind_password_file"}}, errors.New("x")
	}
	code, out, _ = runKeyhall(t, nil, "directory", "check", "--config", good)
	for _, want := range []string{"  signed in (bind) as " + ldaptest.SlapdSyncDN + ": no\n", "  person eve [2J\n",
		"  note: directory.groups[0].filter (cn=x) finds no group\n", "  PROBLEM: bind: invalid credentials (49)"} {
		if code != 1 || !strings.Contains(out, want) {
			t.Errorf("exit %d, no %q in\n%s", code, want, out)
		}
	}
}
