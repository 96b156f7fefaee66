package main

import (
	"context"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-ldap/ldap/v3"

	"github.com/keyhall/keyhall/authn"
	"github.com/keyhall/keyhall/authn/sqlstore"
	"github.com/keyhall/keyhall/authn/sqlstore/pgtest"
	"github.com/keyhall/keyhall/ldapsync/ldaptest"
	"github.com/keyhall/keyhall/web"
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

	st := openTestStore(t, dbURL).(*sqlstore.Store)
	s.Pause(t)
	first := startKeyhall(t, dir, nil, "sync", "--config", cfg)
	// The first takes the lease before it reads (and hangs in the read):
	// wait until it holds it.
	eventually(t, 30*time.Second, func() string {
		var n int
		if err := st.DB().QueryRow("SELECT count(*) FROM directory_locks WHERE directory = 'stadt'").Scan(&n); err != nil || n != 1 {
			return fmt.Sprintf("the first sync holds no lease (%d, %v)", n, err)
		}
		return ""
	})
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
	if n, err := st.CountUsers(context.Background()); err != nil || n != 12 {
		t.Errorf("%d people (%v), want 12", n, err)
	}
}

// TestServeSyncsSlapdLeaver: `keyhall serve` with a real slapd in its
// configuration syncs it on its interval; a person the directory locks for
// good loses her session (within the interval and a second) and her OIDC
// tokens, and the tool gets its back-channel logout. The same when IT runs
// `keyhall sync` against serve's database (serve's own interval long).
func TestServeSyncsSlapdLeaver(t *testing.T) {
	t.Run("serve", func(t *testing.T) { testSlapdLeaver(t, "1s", false) })
	t.Run("keyhall sync", func(t *testing.T) { testSlapdLeaver(t, "1h", true) })
}

func testSlapdLeaver(t *testing.T, interval string, command bool) {
	s := ldaptest.StartSlapd(t, ldaptest.SlapdOptions{LDIF: slapdSyncLDIF()})
	logouts := make(chan url.Values, 4)
	tool := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.ParseForm()
		logouts <- r.PostForm
	}))
	defer tool.Close()
	_, sum := web.NewOIDCClientSecret()
	dir := t.TempDir()
	dbPath := filepath.Join(dir, "keyhall.db")
	cfg := slapdSyncConfig(t, dir, s, "sqlite://"+dbPath, fmt.Sprintf(`  interval: %s
oidc:
  clients:
    - id: wiki
      secret_sha256: %s
      redirect_uris: [https://wiki.stadt.example/cb]
      backchannel_logout_uri: %s/backchannel
`, interval, hex.EncodeToString(sum[:]), tool.URL))
	p := startKeyhall(t, dir, nil, "serve", "--config", cfg, "--listen", "127.0.0.1:0")
	p.listening(t)
	eventually(t, 30*time.Second, wantStatus(t, p.url("/readyz"), "", 200))
	st := openSQLite(t, dbPath)
	ctx := context.Background()
	var anna authn.User
	eventually(t, 30*time.Second, func() string {
		u, err := st.GetUserByUsername(ctx, "anna")
		if err != nil {
			return fmt.Sprintf("anna not synced: %v", err)
		}
		anna = u
		return ""
	})
	cookie, h := newSession(t, st, "anna")
	now := time.Now()
	tok := authn.OIDCToken{ID: authn.NewID(), Kind: authn.OIDCRefreshToken, Hash: authn.HashToken("rt-anna"), GrantID: authn.NewID(),
		ClientID: "wiki", UserID: anna.ID, Session: h, Scopes: []string{"openid", "offline_access"}, AMR: []string{"hwk"},
		ACR: "phrh", AuthTime: now, CreatedAt: now, ExpiresAt: now.Add(24 * time.Hour)}
	if err := st.CreateOIDCTokens(ctx, tok); err != nil {
		t.Fatal(err)
	}
	eventually(t, 5*time.Second, wantStatus(t, p.url("/api/session"), cookie, 200))

	s.Modify(t, "uid=anna,ou=people,dc=example,dc=org", map[string][]string{"pwdAccountLockedTime": {"000001010000Z"}})
	locked := time.Now()
	if command {
		if out := mustRun(t, nil, 0, "sync", "--config", cfg); !strings.Contains(out, "    anna: disabled in directory\n") {
			t.Errorf("keyhall sync:\n%s", out)
		}
	}
	eventually(t, 10*time.Second, wantStatus(t, p.url("/api/session"), cookie, 401))
	took := time.Since(locked)
	t.Logf("her session ended %v after the directory locked her", took.Round(time.Millisecond))
	if limit := map[bool]time.Duration{false: 2500 * time.Millisecond, true: 1500 * time.Millisecond}[command]; took > limit {
		t.Errorf("her session ended %v after the directory locked her; want within %v", took, limit)
	}
	select {
	case form := <-logouts:
		if form.Get("logout_token") == "" {
			t.Errorf("back-channel logout without a logout token: %v", form)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the tool was not told that anna left")
	}
	if got, err := st.GetOIDCToken(ctx, tok.ID); err != nil || got.RevokedAt.IsZero() {
		t.Errorf("her refresh token after the sync: %+v, %v; want revoked", got, err)
	}
	if u, _ := st.GetUser(ctx, anna.ID); u.Status != authn.StatusDisabled {
		t.Errorf("anna is %s", u.Status)
	}
}

// TestSyncCommandSamba: `keyhall sync` against Samba AD over LDAPS with the
// activedirectory preset's defaults (user and group filters, objectGUID,
// sAMAccountName): people and a mapped nested group are taken; a disabled
// account that Keyhall never saw is not created; the stored id is the
// objectGUID in its canonical form.
func TestSyncCommandSamba(t *testing.T) {
	s := ldaptest.StartSamba(t)
	ou := s.CreateOU(t, s.BaseDN, "Rathaus-cli")
	anna := s.CreateUserIn(t, ou, "cli.anna", "Passw0rd!anna", ldap.Attribute{Type: "displayName", Vals: []string{"Anna Müller"}},
		ldap.Attribute{Type: "mail", Vals: []string{"anna@stadt.example"}})
	bert := s.CreateUserIn(t, ou, "cli.bert", "Passw0rd!bert")
	gone := s.CreateUserIn(t, ou, "cli.gone", "Passw0rd!gone")
	s.Disable(t, gone.DN)
	inner := s.GroupAdd(t, ou, "cli-fraktion")
	s.AddMembers(t, inner.DN, bert.DN)
	rat := s.GroupAdd(t, ou, "cli-rat")
	s.AddMembers(t, rat.DN, anna.DN, inner.DN)

	dir := t.TempDir()
	dbURL := "sqlite://" + filepath.Join(dir, "keyhall.db")
	setUpDatabase(t, dbURL)
	pw := writeFile(t, dir, "ad-password", s.AdminPassword)
	cfg := writeFile(t, dir, "keyhall.yaml", fmt.Sprintf(`storage: %s
keys:
  file: %s
directory:
  name: ad
  preset: activedirectory
  url: %s
  ca_file: %s
  bind_dn: %s
  bind_password_file: %s
  base_dns: ["%s"]
  groups:
    - dn: %s
      name: rat
`, dbURL, filepath.Join(dir, "keyhall.keys"), s.URL, s.CAFile, s.AdminDN, pw, ou, rat.DN))
	out := mustRun(t, nil, 0, "directory", "check", "--config", cfg)
	for _, want := range []string{"encryption: LDAPS\n", "signed in (bind) as " + s.AdminDN + ": yes\n", "under " + ou + ": 3 people",
		"  person cli.anna\n    name:    Anna Müller\n", "group mapping dn " + rat.DN + ": 1 group(s)\n",
		"  group rat: 2 members as Keyhall computes them, 2 by AD's in-chain rule\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("directory check: no %q in\n%s", want, out)
		}
	}
	out = mustRun(t, nil, 0, "sync", "--config", cfg)
	for _, want := range []string{"created: 3\n", "    cli.anna\n", "    cli.bert\n", "    group rat"} {
		if !strings.Contains(out, want) {
			t.Errorf("no %q in\n%s", want, out)
		}
	}
	if strings.Contains(out, "cli.gone") {
		t.Errorf("the disabled account was taken:\n%s", out)
	}
	st := openTestStore(t, dbURL)
	ctx := context.Background()
	u, err := st.GetUserByUsername(ctx, "cli.anna")
	if err != nil || u.ExternalID != anna.GUID || u.DisplayName != "Anna Müller" || u.Email != "anna@stadt.example" {
		t.Errorf("cli.anna: %+v, %v; want objectGUID %s", u, err, anna.GUID)
	}
	g, err := st.GetGroupByName(ctx, "rat")
	if err != nil {
		t.Fatal(err)
	}
	if m, _ := st.GroupMembers(ctx, g.ID); len(m) != 2 {
		t.Errorf("rat has %d members, want cli.anna and cli.bert (by the nested group)", len(m))
	}
}
