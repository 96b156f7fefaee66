package main

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/keyhall/keyhall/authn"
	"github.com/keyhall/keyhall/authn/sqlstore/pgtest"
	"github.com/keyhall/keyhall/ldapsync/ldaptest"
)

// slapdSyncLDIF: anna and bert in the mapped group rat, ten staff so that
// one leaver is within the safety valves.
func slapdSyncLDIF() string {
	var b strings.Builder
	for _, uid := range []string{"anna", "bert", "s0", "s1", "s2", "s3", "s4", "s5", "s6", "s7", "s8", "s9"} {
		fmt.Fprintf(&b, "dn: uid=%s,ou=people,dc=example,dc=org\nobjectClass: inetOrgPerson\nuid: %s\ncn: %s Beispiel\nsn: Beispiel\nmail: %s@stadt.example\nuserPassword: pw-%s\n\n",
			uid, uid, strings.ToUpper(uid[:1])+uid[1:], uid, uid)
	}
	b.WriteString("dn: cn=rat,ou=groups,dc=example,dc=org\nobjectClass: groupOfNames\ncn: rat\nmember: uid=anna,ou=people,dc=example,dc=org\nmember: uid=bert,ou=people,dc=example,dc=org\n")
	return b.String()
}

// slapdSyncConfig writes the configuration of a user who syncs s into the
// database at dbURL, plus extra.
func slapdSyncConfig(t *testing.T, dir string, s *ldaptest.Slapd, dbURL, extra string) string {
	pw := writeFile(t, dir, "ldap-password", ldaptest.SlapdSyncPassword)
	return writeFile(t, dir, "keyhall.yaml", fmt.Sprintf(`storage: %s
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
  timeout: 3s
  groups:
    - dn: cn=rat,ou=groups,dc=example,dc=org
      name: rat
%s`, dbURL, filepath.Join(dir, "keyhall.keys"), s.URL, s.CAFile, ldaptest.SlapdSyncDN, pw,
		ldaptest.SlapdPeopleDN, ldaptest.SlapdGroupsDN, extra))
}

// TestSyncCommandSlapd: `keyhall sync` as a user runs it, from a config
// file, against a real slapd: --dry-run says what it would do and changes
// nothing; the sync prints the people it created and, after bert is locked
// for good in the directory, the one it disabled.
func TestSyncCommandSlapd(t *testing.T) {
	s := ldaptest.StartSlapd(t, ldaptest.SlapdOptions{LDIF: slapdSyncLDIF()})
	dir := t.TempDir()
	dbURL := "sqlite://" + filepath.Join(dir, "keyhall.db")
	setUpDatabase(t, dbURL)
	cfg := slapdSyncConfig(t, dir, s, dbURL, "")
	st := openTestStore(t, dbURL)
	ctx := context.Background()

	out := mustRun(t, nil, 0, "sync", "--config", cfg, "--dry-run")
	if !strings.Contains(out, "created: 13\n") || !strings.Contains(out, "    anna\n") || !strings.Contains(out, "    bert\n") {
		t.Errorf("--dry-run does not list the new people:\n%s", out)
	}
	if n, err := st.CountUsers(ctx); err != nil || n != 0 {
		t.Fatalf("--dry-run: %d people in the database (%v), want none", n, err)
	}

	out = mustRun(t, nil, 0, "sync", "--config", cfg)
	if !strings.Contains(out, "created: 13\n") || !strings.Contains(out, "    anna\n") {
		t.Errorf("sync:\n%s", out)
	}
	bert, err := st.GetUserByUsername(ctx, "bert")
	if err != nil || bert.Source != authn.SourceDirectory || bert.Directory != "stadt" || bert.ExternalID != s.EntryUUID(t, "uid=bert,ou=people,dc=example,dc=org") {
		t.Fatalf("bert after the sync: %+v, %v", bert, err)
	}
	g, err := st.GetGroupByName(ctx, "rat")
	if err != nil {
		t.Fatal(err)
	}
	if m, _ := st.GroupMembers(ctx, g.ID); len(m) != 2 {
		t.Errorf("rat has %d members, want anna and bert", len(m))
	}

	s.Modify(t, "uid=bert,ou=people,dc=example,dc=org", map[string][]string{"pwdAccountLockedTime": {"000001010000Z"}})
	out = mustRun(t, nil, 0, "sync", "--config", cfg, "--dry-run")
	if !strings.Contains(out, "  disabled: 1\n    bert: disabled in directory\n") {
		t.Errorf("--dry-run after bert was locked:\n%s", out)
	}
	if u, _ := st.GetUser(ctx, bert.ID); u.Status != authn.StatusActive {
		t.Fatalf("--dry-run disabled bert")
	}
	out = mustRun(t, nil, 0, "sync", "--config", cfg)
	if !strings.Contains(out, "  disabled: 1\n    bert: disabled in directory\n") {
		t.Errorf("sync after bert was locked:\n%s", out)
	}
	if u, _ := st.GetUser(ctx, bert.ID); u.Status != authn.StatusDisabled {
		t.Errorf("bert is %s after the sync", u.Status)
	}
}

// TestSyncCommandBusy: two `keyhall sync` on one PostgreSQL database at
// the same time: one syncs, the other says that another process does and
// changes nothing. The first is held in its read by a paused slapd.
func TestSyncCommandBusy(t *testing.T) {
	s := ldaptest.StartSlapd(t, ldaptest.SlapdOptions{LDIF: slapdSyncLDIF()})
	dir := t.TempDir()
	dbURL := pgtest.Shared(t).NewDatabase(t)
	setUpDatabase(t, dbURL)
	cfg := slapdSyncConfig(t, dir, s, dbURL, "")

	s.Pause(t)
	first := startKeyhall(t, dir, nil, "sync", "--config", cfg)
	// The first holds the lease once it has begun its read; until then the
	// second may win: wait for the first to be in the read.
	time.Sleep(1500 * time.Millisecond)
	code, out, errOut := runKeyhall(t, nil, "sync", "--config", cfg)
	s.Resume(t)
	if code == 0 || !strings.Contains(out+errOut, "another process is syncing this directory") {
		t.Errorf("the second sync: exit %d\nstdout %s\nstderr %s", code, out, errOut)
	}
	select {
	case <-first.exited:
	case <-time.After(30 * time.Second):
		t.Fatal("the first sync did not end")
	}
	t.Logf("first: exit %d\n%s", first.code, first.out.String())
	if first.code != 0 || !strings.Contains(first.out.String(), "created: 13\n") {
		t.Errorf("the first sync: exit %d\n%s", first.code, first.out.String())
	}
	if n, err := openTestStore(t, dbURL).CountUsers(context.Background()); err != nil || n != 12 {
		t.Errorf("%d people (%v), want 12", n, err)
	}
}
