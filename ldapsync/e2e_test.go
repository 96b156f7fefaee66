package ldapsync

// The end-to-end tests of the sync: a real directory (slapd, Samba AD) →
// the real reader (NewDirectory) → the syncer → the Store (SQLite and
// PostgreSQL). They reuse the syncer tests' environment (syncEnv: its
// store, sign-in and inspection helpers), with the real reader in place of
// the Snapshot a test builds. The cases run against each directory where
// they apply.

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-ldap/ldap/v3"

	"github.com/keyhall/keyhall/authn"
	"github.com/keyhall/keyhall/ldapsync/ldaptest"
)

// entry is one person (or group) in a real directory.
type entry struct {
	name string // the username (uid, sAMAccountName)
	dn   string
	id   string // entryUUID or objectGUID, canonical
	pw   string // her password
}

// realDir is a real directory, with what the cases do to it as an
// administrator would.
type realDir interface {
	config() Config
	create(t *testing.T, name string) *entry
	createOutside(t *testing.T, name string) *entry // outside the base DNs
	rename(t *testing.T, p *entry, name string)
	move(t *testing.T, p *entry) // to another branch inside the base DNs
	moveOut(t *testing.T, p *entry)
	moveIn(t *testing.T, p *entry)
	disable(t *testing.T, p *entry)
	enable(t *testing.T, p *entry)
	// expiry sets the directory's own value: "never", "past", "future",
	// and for AD also "0" (accountExpires 0 means never).
	expiry(t *testing.T, p *entry, v string)
	remove(t *testing.T, p *entry)
	// restore brings a deleted person back with her id (AD: tombstone
	// reanimation; OpenLDAP: added again with her entryUUID).
	restore(t *testing.T, p *entry)
	group(t *testing.T, name string, members ...string) *entry
	addMembers(t *testing.T, g *entry, dns ...string)
	removeMembers(t *testing.T, g *entry, dns ...string)
	pause(t *testing.T) (resume func())
}

// --- slapd ---

type slapdDir struct {
	s   *ldaptest.Slapd
	cfg Config
}

func newSlapdDir(t *testing.T) realDir {
	s := ldaptest.StartSlapd(t, ldaptest.SlapdOptions{LDIF: `dn: ou=moved,ou=people,dc=example,dc=org
objectClass: organizationalUnit
ou: moved
`})
	return &slapdDir{s: s, cfg: Config{
		Name: "rathaus", URL: s.URL, StartTLS: true, CAFile: s.CAFile,
		BindDN: ldaptest.SlapdSyncDN, BindPassword: ldaptest.SlapdSyncPassword,
		BaseDNs: []string{ldaptest.SlapdPeopleDN, ldaptest.SlapdGroupsDN}, Preset: PresetOpenLDAP,
		Timeout: 2 * time.Second, SyncDeadline: 25 * time.Second,
	}}
}

func (d *slapdDir) config() Config { return d.cfg }

func (d *slapdDir) add(t *testing.T, parent, name string) *entry {
	t.Helper()
	dn := "uid=" + ldap.EscapeDN(name) + "," + parent
	d.s.Add(t, dn, slapdAttrs(name))
	return &entry{name: name, dn: dn, id: d.s.EntryUUID(t, dn), pw: "Passw0rd-" + name}
}

func slapdAttrs(name string) map[string][]string {
	return map[string][]string{
		"objectClass": {"inetOrgPerson", "shadowAccount"}, "uid": {name}, "cn": {"Name " + name}, "sn": {"S"},
		"mail": {name + "@example.org"}, "userPassword": {"Passw0rd-" + name},
	}
}

// restore adds her again with her entryUUID (the Relax Rules control lets
// the root DN set it), as a restore from a backup does.
func (d *slapdDir) restore(t *testing.T, p *entry) {
	t.Helper()
	add := ldap.NewAddRequest(p.dn, []ldap.Control{ldap.NewControlString("1.3.6.1.4.1.4203.666.5.12", true, "")})
	for k, v := range slapdAttrs(p.name) {
		add.Attribute(k, v)
	}
	add.Attribute("entryUUID", []string{p.id})
	if err := d.s.Root(t).Add(add); err != nil {
		t.Fatalf("restore %s: %v", p.dn, err)
	}
}

func (d *slapdDir) create(t *testing.T, name string) *entry {
	return d.add(t, ldaptest.SlapdPeopleDN, name)
}

func (d *slapdDir) createOutside(t *testing.T, name string) *entry {
	return d.add(t, ldaptest.SlapdOutsideDN, name)
}

// modrdn renames or moves p (a new RDN and/or a new parent).
func (d *slapdDir) modrdn(t *testing.T, p *entry, rdn, parent string) {
	t.Helper()
	if err := d.s.Root(t).ModifyDN(ldap.NewModifyDNRequest(p.dn, rdn, true, parent)); err != nil {
		t.Fatalf("modrdn %s: %v", p.dn, err)
	}
	if parent == "" {
		_, parent, _ = strings.Cut(p.dn, ",")
	}
	p.dn = rdn + "," + parent
}

func (d *slapdDir) rename(t *testing.T, p *entry, name string) {
	_, parent, _ := strings.Cut(p.dn, ",")
	d.modrdn(t, p, "uid="+ldap.EscapeDN(name), parent)
	p.name = name
}

func (d *slapdDir) parentMove(t *testing.T, p *entry, parent string) {
	rdn, _, _ := strings.Cut(p.dn, ",")
	d.modrdn(t, p, rdn, parent)
}

func (d *slapdDir) move(t *testing.T, p *entry) {
	d.parentMove(t, p, "ou=moved,"+ldaptest.SlapdPeopleDN)
}
func (d *slapdDir) moveOut(t *testing.T, p *entry) { d.parentMove(t, p, ldaptest.SlapdOutsideDN) }
func (d *slapdDir) moveIn(t *testing.T, p *entry)  { d.parentMove(t, p, ldaptest.SlapdPeopleDN) }

// disable locks her for good, as ppolicy's administrators do.
func (d *slapdDir) disable(t *testing.T, p *entry) {
	d.s.Modify(t, p.dn, map[string][]string{"pwdAccountLockedTime": {"000001010000Z"}})
}
func (d *slapdDir) enable(t *testing.T, p *entry) {
	d.s.Modify(t, p.dn, map[string][]string{"pwdAccountLockedTime": nil})
}

func (d *slapdDir) expiry(t *testing.T, p *entry, v string) {
	days := map[string]string{
		"never":  "-1",
		"past":   "1",
		"future": strconv.FormatInt(time.Now().Add(30*24*time.Hour).Unix()/86400, 10),
	}[v]
	if days == "" {
		t.Fatalf("slapd has no expiry %q", v)
	}
	d.s.Modify(t, p.dn, map[string][]string{"shadowExpire": {days}})
}

func (d *slapdDir) remove(t *testing.T, p *entry) { d.s.Delete(t, p.dn) }

func (d *slapdDir) group(t *testing.T, name string, members ...string) *entry {
	t.Helper()
	dn := "cn=" + name + "," + ldaptest.SlapdGroupsDN
	// groupOfNames must have a member: the root DN stands in (no person).
	d.s.Add(t, dn, map[string][]string{"objectClass": {"groupOfNames"}, "cn": {name},
		"member": append([]string{ldaptest.SlapdRootDN}, members...)})
	return &entry{name: name, dn: dn, id: d.s.EntryUUID(t, dn)}
}

func (d *slapdDir) members(t *testing.T, g *entry, add bool, dns []string) {
	t.Helper()
	m := ldap.NewModifyRequest(g.dn, nil)
	if add {
		m.Add("member", dns)
	} else {
		m.Delete("member", dns)
	}
	if err := d.s.Root(t).Modify(m); err != nil {
		t.Fatalf("members of %s: %v", g.dn, err)
	}
}
func (d *slapdDir) addMembers(t *testing.T, g *entry, dns ...string)    { d.members(t, g, true, dns) }
func (d *slapdDir) removeMembers(t *testing.T, g *entry, dns ...string) { d.members(t, g, false, dns) }

func (d *slapdDir) pause(t *testing.T) func() {
	d.s.Pause(t)
	var done atomic.Bool
	resume := func() {
		if done.CompareAndSwap(false, true) {
			d.s.Resume(t)
		}
	}
	t.Cleanup(resume)
	return resume
}

// --- Samba AD ---

// sambaDir is one test's part of the binary's Samba domain: an OU of its
// own as the base DN (OU=e2e-N), so that tests do not see each other's
// people; sAMAccountNames are unique in the domain, so each name gets the
// test's number.
type sambaDir struct {
	s                    *ldaptest.Samba
	n                    int
	base, moved, outside string
	cfg                  Config
}

var sambaTests atomic.Int32

func newSambaDir(t *testing.T) realDir {
	s := ldaptest.StartSamba(t)
	n := int(sambaTests.Add(1))
	d := &sambaDir{s: s, n: n}
	d.base = s.CreateOU(t, s.BaseDN, fmt.Sprintf("e2e-%d", n))
	d.moved = s.CreateOU(t, d.base, "moved")
	d.outside = s.CreateOU(t, s.BaseDN, fmt.Sprintf("e2e-%d-outside", n))
	d.cfg = Config{
		Name: "rathaus", URL: s.URL, CAFile: s.CAFile, BindDN: s.AdminDN, BindPassword: s.AdminPassword,
		BaseDNs: []string{d.base}, Preset: PresetActiveDirectory,
		UserFilter: "(&(objectClass=user)(objectCategory=person))",
		// Samba answers a search of the whole domain in well over 2 s when
		// the machine is busy (CI's run of 2026-12-07 at load 22): the
		// product's default, not a shorter one, as for slapd.
		Timeout: DefaultTimeout, SyncDeadline: 25 * time.Second,
	}
	return d
}

func (d *sambaDir) config() Config { return d.cfg }

// Name is the test's username for name: sAMAccountNames are the
// domain's, so each test's carry its number.
func (d *sambaDir) Name(name string) string { return fmt.Sprintf("%s%d", name, d.n) }

func (d *sambaDir) createIn(t *testing.T, parent, name string) *entry {
	t.Helper()
	u := d.s.CreateUserIn(t, parent, d.Name(name), "Passw0rd!"+name,
		ldap.Attribute{Type: "displayName", Vals: []string{"Name " + name}})
	return &entry{name: u.Name, dn: u.DN, id: u.GUID, pw: "Passw0rd!" + name}
}

func (d *sambaDir) create(t *testing.T, name string) *entry { return d.createIn(t, d.base, name) }
func (d *sambaDir) createOutside(t *testing.T, name string) *entry {
	return d.createIn(t, d.outside, name)
}

// rename gives her a new sAMAccountName (her DN stays, as in AD).
func (d *sambaDir) rename(t *testing.T, p *entry, name string) {
	p.name = d.Name(name)
	d.s.Modify(t, p.dn, map[string][]string{"sAMAccountName": {p.name}})
}

func (d *sambaDir) move(t *testing.T, p *entry)    { p.dn = d.s.Move(t, p.dn, d.moved) }
func (d *sambaDir) moveOut(t *testing.T, p *entry) { p.dn = d.s.Move(t, p.dn, d.outside) }
func (d *sambaDir) moveIn(t *testing.T, p *entry)  { p.dn = d.s.Move(t, p.dn, d.base) }
func (d *sambaDir) disable(t *testing.T, p *entry) { d.s.Disable(t, p.dn) }
func (d *sambaDir) enable(t *testing.T, p *entry)  { d.s.Enable(t, p.dn) }

func (d *sambaDir) expiry(t *testing.T, p *entry, v string) {
	switch v {
	case "never":
		d.s.SetExpiry(t, p.dn, time.Time{}) // 2^63−1
	case "0":
		d.s.Modify(t, p.dn, map[string][]string{"accountExpires": {"0"}})
	case "past":
		d.s.SetExpiry(t, p.dn, time.Now().Add(-time.Hour))
	case "future":
		d.s.SetExpiry(t, p.dn, time.Now().Add(30*24*time.Hour))
	default:
		t.Fatalf("no expiry %q", v)
	}
}

func (d *sambaDir) remove(t *testing.T, p *entry) { d.s.Delete(t, p.dn) }

// restore reanimates her tombstone (found by <GUID=…> with the show-deleted
// control), as AD's recycle bin does: her objectGUID stays.
func (d *sambaDir) restore(t *testing.T, p *entry) {
	t.Helper()
	showDeleted := ldap.NewControlString("1.2.840.113556.1.4.417", true, "")
	d.s.Admin(t, func(c *ldap.Conn) error {
		r, err := c.Search(ldap.NewSearchRequest("<GUID="+p.id+">", ldap.ScopeBaseObject, ldap.NeverDerefAliases, 1, 10, false,
			"(objectClass=*)", []string{"1.1"}, []ldap.Control{showDeleted}))
		if err != nil || len(r.Entries) != 1 {
			return fmt.Errorf("find the tombstone of %s: %v", p.dn, err)
		}
		m := ldap.NewModifyRequest(r.Entries[0].DN, []ldap.Control{showDeleted})
		m.Delete("isDeleted", nil)
		m.Replace("distinguishedName", []string{p.dn})
		if err := c.Modify(m); err != nil {
			return fmt.Errorf("reanimate %s: %w", p.dn, err)
		}
		return nil
	})
}

func (d *sambaDir) group(t *testing.T, name string, members ...string) *entry {
	g := d.s.GroupAdd(t, d.base, d.Name(name))
	if len(members) > 0 {
		d.s.AddMembers(t, g.DN, members...)
	}
	return &entry{name: g.Name, dn: g.DN, id: g.GUID}
}

func (d *sambaDir) addMembers(t *testing.T, g *entry, dns ...string) { d.s.AddMembers(t, g.dn, dns...) }
func (d *sambaDir) removeMembers(t *testing.T, g *entry, dns ...string) {
	d.s.RemoveMembers(t, g.dn, dns...)
}
func (d *sambaDir) pause(t *testing.T) func() { return d.s.Pause(t) }

// --- the environment ---

// e2e is one case: a real directory and a fresh database.
type e2e struct {
	*syncEnv
	dir     realDir
	staff   []*entry // people who stay, so that a leaver is within the safety valves
	groups  []GroupMapping
	tracked map[string]*entry
}

func newE2E(t *testing.T, e *syncEnv, dir realDir) *e2e {
	x := &e2e{syncEnv: e, dir: dir, tracked: map[string]*entry{}}
	e.now = time.Now()
	e.cfg = dir.config()
	e.cfg.GracePeriod, e.cfg.MaxDisableFraction, e.cfg.MaxDisableCount = 30*24*time.Hour, 0.5, 100
	for i := range 10 {
		x.staff = append(x.staff, dir.create(t, fmt.Sprintf("staff%d-", i)))
	}
	return x
}

// mapGroup takes the directory group g into Keyhall as name.
func (x *e2e) mapGroup(g *entry, name string) {
	x.cfg.Groups = append(x.cfg.Groups, GroupMapping{DN: g.dn, Name: name})
}

// realSyncer is the syncer with the real reader (SyncConfig.Reader nil).
func (x *e2e) realSyncer() *Syncer {
	x.t.Helper()
	s, err := NewSyncer(SyncConfig{
		Store: x.store, Directory: x.cfg, Logger: slog.New(slog.DiscardHandler),
		Now:        func() time.Time { return x.now },
		OnDisabled: func(_ context.Context, ids []string) { x.disabled = append(x.disabled, ids...) },
	})
	if err != nil {
		x.t.Fatal(err)
	}
	return s
}

func (x *e2e) try(opts RunOptions) (Result, error) {
	x.t.Helper()
	return x.realSyncer().Run(x.t.Context(), opts)
}

func (x *e2e) sync() Result {
	x.t.Helper()
	res, err := x.try(RunOptions{Actor: "test"})
	if err != nil {
		x.t.Fatalf("sync: %v (%+v)", err, res)
	}
	if len(res.Errors) > 0 {
		x.t.Errorf("sync errors: %v", res.Errors)
	}
	return res
}

// byExternal is the Keyhall person of directory entry p.
func (x *e2e) byExternal(p *entry) authn.User {
	x.t.Helper()
	u, err := x.store.GetUserByUsername(x.t.Context(), strings.ToLower(p.name))
	if err != nil {
		x.t.Fatalf("%s (%s) is not in Keyhall: %v", p.name, p.id, err)
	}
	if u.ExternalID != p.id || u.Directory != "rathaus" || u.Source != authn.SourceDirectory {
		x.t.Fatalf("%s is %+v, want external id %s of rathaus", p.name, u, p.id)
	}
	return u
}

func (x *e2e) refreshUsable(id string) bool {
	x.t.Helper()
	tok, err := x.store.GetOIDCRefreshToken(x.t.Context(), authn.HashToken("rt "+id))
	if err != nil {
		x.t.Fatal(err)
	}
	return tok.Usable(x.now)
}

var realDirs = []struct {
	name string
	new  func(t *testing.T) realDir
}{
	{"slapd", newSlapdDir},
	{"samba", newSambaDir},
}

// TestSyncRealDirectory runs the cases against slapd and Samba AD, each on
// SQLite and PostgreSQL.
func TestSyncRealDirectory(t *testing.T) {
	cases := []struct {
		name string
		run  func(t *testing.T, x *e2e)
		only string // "" or the one directory it applies to
	}{
		{"CreateRenameMove", e2eCreateRenameMove, ""},
		{"Disable", e2eDisable, ""},
		{"Expire", e2eExpire, ""},
		{"GoneAndBack", e2eGoneAndBack, ""},
		{"DeletedAndRestored", e2eRestored, ""},
		{"RecreatedSameName", e2eRecreated, ""},
		{"Groups", e2eGroups, ""},
		{"LocalConflict", e2eLocalConflict, ""},
		{"Injection", e2eInjection, "slapd"},
		{"PrimaryGroup", e2ePrimaryGroup, "samba"},
		{"SambaTool", e2eSambaTool, "samba"},
		{"Paused", e2ePaused, ""},
		{"WrongBindPassword", e2eWrongBind, ""},
	}
	for _, b := range syncBackends {
		t.Run(b.name, func(t *testing.T) {
			newDB := b.start(t)
			for _, d := range realDirs {
				t.Run(d.name, func(t *testing.T) {
					for _, tc := range cases {
						if tc.only != "" && tc.only != d.name {
							continue
						}
						t.Run(tc.name, func(t *testing.T) {
							tc.run(t, newE2E(t, newSyncEnv(t, newDB(t)), d.new(t)))
						})
					}
				})
			}
		})
	}
}

// e2eCreateRenameMove: a new person is created without factors; renamed
// (new uid / sAMAccountName) and moved (new DN) she keeps her id, her key,
// her session and her refresh token.
func e2eCreateRenameMove(t *testing.T, x *e2e) {
	anna := x.dir.create(t, "anna")
	res := x.sync()
	if len(res.Created) != len(x.staff)+1 {
		t.Fatalf("Created = %v", changeNames(res.Created))
	}
	u := x.byExternal(anna)
	if u.Status != authn.StatusActive || x.keys(u.ID) != 0 || u.DisplayName != "Name anna" {
		t.Fatalf("anna: %+v with %d keys", u, x.keys(u.ID))
	}
	if sd, ok := x.dir.(*sambaDir); ok {
		// The stored objectGUID finds her by <GUID=…>.
		sd.s.Admin(t, func(c *ldap.Conn) error {
			r, err := c.Search(ldap.NewSearchRequest("<GUID="+u.ExternalID+">", ldap.ScopeBaseObject,
				ldap.NeverDerefAliases, 1, 10, false, "(objectClass=*)", []string{"sAMAccountName"}, nil))
			if err != nil {
				return fmt.Errorf("<GUID=%s>: %w", u.ExternalID, err)
			}
			if len(r.Entries) != 1 || !strings.EqualFold(r.Entries[0].DN, anna.dn) {
				t.Errorf("<GUID=%s> finds %d entries", u.ExternalID, len(r.Entries))
			}
			return nil
		})
	}
	h := x.signIn(u)

	x.dir.rename(t, anna, "anna-s")
	res = x.sync()
	if len(res.Renamed) != 1 || res.Renamed[0].ID != u.ID || res.Renamed[0].Name != strings.ToLower(anna.name) {
		t.Fatalf("Renamed = %+v", res.Renamed)
	}
	if got := x.byExternal(anna); got.ID != u.ID {
		t.Fatalf("renamed anna is a new person: %s, was %s", got.ID, u.ID)
	}
	x.dir.move(t, anna)
	res = x.sync()
	if len(res.Created)+len(res.Disabled)+len(res.Renamed) != 0 {
		t.Errorf("a move: created %v, disabled %v, renamed %v", changeNames(res.Created), changeNames(res.Disabled), changeNames(res.Renamed))
	}
	got := x.byExternal(anna)
	if got.ID != u.ID || got.Status != authn.StatusActive || x.keys(u.ID) != 1 || !x.sessionUsable(h) || !x.refreshUsable(u.ID) {
		t.Errorf("after rename and move: %+v, %d keys, session %t, refresh token %t",
			got, x.keys(u.ID), x.sessionUsable(h), x.refreshUsable(u.ID))
	}
	if x.count() != len(x.staff)+1 {
		t.Errorf("%d people in Keyhall, want %d", x.count(), len(x.staff)+1)
	}
	// Her password is still checked by a bind as her, found by her id.
	v, err := NewVerifier([]Config{x.cfg}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	if err := v.VerifyPassword(t.Context(), got, anna.pw); err != nil {
		t.Errorf("her password after rename and move: %v", err)
	}
	if err := v.VerifyPassword(t.Context(), got, x.staff[0].pw); !errors.Is(err, authn.ErrWrongPassword) {
		t.Errorf("another person's password after rename and move: %v", err)
	}
}

// e2eDisable: disabled in the directory, she is disabled in Keyhall with
// her session and refresh token ended and the caller told; enabled again
// within the grace period she is back with her key.
func e2eDisable(t *testing.T, x *e2e) {
	anna := x.dir.create(t, "anna")
	x.sync()
	u := x.byExternal(anna)
	h := x.signIn(u)
	if sd, ok := x.dir.(*slapdDir); ok {
		// Locked by the password policy for now (wrong passwords): no
		// leaver.
		sd.s.Modify(t, anna.dn, map[string][]string{"pwdAccountLockedTime": {time.Now().UTC().Format("20060102150405Z")}})
		if res := x.sync(); len(res.Disabled) != 0 || !x.sessionUsable(h) {
			t.Fatalf("a lock by the password policy disabled her: %+v", res.Disabled)
		}
	}
	x.dir.disable(t, anna)
	res := x.sync()
	if len(res.Disabled) != 1 || res.Disabled[0].ID != u.ID || res.Disabled[0].Reason != ReasonDisabled {
		t.Fatalf("Disabled = %+v", res.Disabled)
	}
	if got := x.byExternal(anna); got.Status != authn.StatusDisabled {
		t.Errorf("anna is %s", got.Status)
	}
	if x.sessionUsable(h) || x.refreshUsable(u.ID) {
		t.Error("her session or refresh token outlived the sync")
	}
	if !slices.Equal(x.disabled, []string{u.ID}) {
		t.Errorf("OnDisabled got %v", x.disabled)
	}
	x.dir.enable(t, anna)
	res = x.sync()
	if len(res.Enabled) != 1 || res.Enabled[0].ID != u.ID {
		t.Fatalf("Enabled = %+v", res.Enabled)
	}
	if got := x.byExternal(anna); got.Status != authn.StatusActive || x.keys(u.ID) != 1 {
		t.Errorf("anna came back as %s with %d keys", got.Status, x.keys(u.ID))
	}
}

// e2eExpire: an expiry in the future leaves her active, one in the past
// disables her; "never" (AD: 2^63−1 and 0; OpenLDAP: shadowExpire −1)
// brings her back.
func e2eExpire(t *testing.T, x *e2e) {
	anna := x.dir.create(t, "anna")
	x.dir.expiry(t, anna, "future")
	x.sync()
	u := x.byExternal(anna)
	if u.Status != authn.StatusActive {
		t.Fatalf("anna expiring in 30 days is %s", u.Status)
	}
	x.dir.expiry(t, anna, "past")
	res := x.sync()
	if len(res.Disabled) != 1 || res.Disabled[0].Reason != ReasonExpired {
		t.Fatalf("expired: Disabled = %+v", res.Disabled)
	}
	nevers := []string{"never"}
	if _, ok := x.dir.(*sambaDir); ok {
		nevers = []string{"0", "past", "never"}
	}
	for i, v := range nevers {
		x.dir.expiry(t, anna, v)
		x.sync()
		want := authn.StatusActive
		if v == "past" {
			want = authn.StatusDisabled
		}
		if got := x.byExternal(anna); got.Status != want || got.ID != u.ID {
			t.Errorf("step %d, expiry %s: anna is %s (%s), want %s", i, v, got.Status, got.ID, want)
		}
	}
}

// e2eGoneAndBack: a person no longer found under the base DNs (moved out)
// is disabled; back within the grace period she is enabled with her key,
// and a person outside the base DNs (and in a mapped group) is never
// imported.
func e2eGoneAndBack(t *testing.T, x *e2e) {
	anna := x.dir.create(t, "anna")
	otto := x.dir.createOutside(t, "otto")
	rat := x.dir.group(t, "rat", anna.dn, otto.dn)
	x.mapGroup(rat, "rat")
	x.sync()
	u := x.byExternal(anna)
	x.signIn(u)
	if _, err := x.store.GetUserByUsername(t.Context(), strings.ToLower(otto.name)); !errors.Is(err, authn.ErrNotFound) {
		t.Errorf("otto (outside the base DN) is in Keyhall: %v", err)
	}
	if m := x.members("rat"); !slices.Equal(m, []string{strings.ToLower(anna.name)}) {
		t.Errorf("rat = %v", m)
	}
	x.dir.moveOut(t, anna)
	res := x.sync()
	if len(res.Disabled) != 1 || res.Disabled[0].Reason != ReasonNotFound {
		t.Fatalf("gone: Disabled = %+v", res.Disabled)
	}
	x.now = x.now.Add(10 * 24 * time.Hour)
	x.dir.moveIn(t, anna)
	res = x.sync()
	if len(res.Enabled) != 1 {
		t.Fatalf("back: Enabled = %+v", res.Enabled)
	}
	if got := x.byExternal(anna); got.ID != u.ID || got.Status != authn.StatusActive || x.keys(u.ID) != 1 {
		t.Errorf("anna came back as %+v with %d keys", got, x.keys(u.ID))
	}
	if m := x.members("rat"); !slices.Equal(m, []string{strings.ToLower(anna.name)}) {
		t.Errorf("rat after her return = %v", m)
	}
}

// e2eRestored: deleted in the directory she is disabled; restored (with
// her id) within the grace period she is enabled with her key: no new
// letter.
func e2eRestored(t *testing.T, x *e2e) {
	anna := x.dir.create(t, "anna")
	x.sync()
	u := x.byExternal(anna)
	x.signIn(u)
	x.dir.remove(t, anna)
	res := x.sync()
	if len(res.Disabled) != 1 || res.Disabled[0].ID != u.ID || res.Disabled[0].Reason != ReasonNotFound {
		t.Fatalf("deleted: Disabled = %+v", res.Disabled)
	}
	x.now = x.now.Add(3 * 24 * time.Hour)
	x.dir.restore(t, anna)
	res = x.sync()
	if len(res.Enabled) != 1 || res.Enabled[0].ID != u.ID {
		t.Fatalf("restored: Enabled = %+v, Created = %v", res.Enabled, changeNames(res.Created))
	}
	if got := x.byExternal(anna); got.ID != u.ID || got.Status != authn.StatusActive || x.keys(u.ID) != 1 {
		t.Errorf("anna restored: %+v with %d keys", got, x.keys(u.ID))
	}
}

// e2eRecreated: deleted and created again under the same name, she is a
// new person; the old one is disabled and keeps her key.
func e2eRecreated(t *testing.T, x *e2e) {
	anna := x.dir.create(t, "anna")
	x.sync()
	old := x.byExternal(anna)
	x.signIn(old)
	x.dir.remove(t, anna)
	anna2 := x.dir.create(t, "anna")
	if anna2.id == anna.id {
		t.Fatal("the directory gave the new anna the old id")
	}
	res := x.sync()
	nu := x.byExternal(anna2)
	if nu.ID == old.ID || x.keys(nu.ID) != 0 {
		t.Errorf("the new anna is the old one (%s) or has her keys (%d)", nu.ID, x.keys(nu.ID))
	}
	o := x.userByID(old.ID)
	if o.Status != authn.StatusDisabled || x.keys(old.ID) != 1 {
		t.Errorf("the old anna is %+v with %d keys", o, x.keys(old.ID))
	}
	wantChanges(t, "Created", res.Created, "person:"+strings.ToLower(anna2.name))
}

// e2eGroups: a person added to and removed from a mapped group; one three
// groups down (rat ⊃ g1 ⊃ g2 ⊃ g3 ∋ carla) is a member.
func e2eGroups(t *testing.T, x *e2e) {
	anna, bert, carla := x.dir.create(t, "anna"), x.dir.create(t, "bert"), x.dir.create(t, "carla")
	g3 := x.dir.group(t, "g3", carla.dn)
	g2 := x.dir.group(t, "g2", g3.dn)
	g1 := x.dir.group(t, "g1", g2.dn)
	rat := x.dir.group(t, "rat", g1.dn, bert.dn)
	x.mapGroup(rat, "rat")
	x.sync()
	lc := func(es ...*entry) []string {
		var out []string
		for _, e := range es {
			out = append(out, strings.ToLower(e.name))
		}
		slices.Sort(out)
		return out
	}
	if m := x.members("rat"); !slices.Equal(m, lc(bert, carla)) {
		t.Errorf("rat = %v, want %v", m, lc(bert, carla))
	}
	x.dir.addMembers(t, rat, anna.dn)
	x.sync()
	if m := x.members("rat"); !slices.Equal(m, lc(anna, bert, carla)) {
		t.Errorf("rat after adding anna = %v", m)
	}
	x.dir.removeMembers(t, rat, bert.dn)
	x.dir.removeMembers(t, g3, carla.dn)
	x.dir.addMembers(t, g3, bert.dn)
	x.sync()
	if m := x.members("rat"); !slices.Equal(m, lc(anna, bert)) {
		t.Errorf("rat after bert moved three groups down and carla left = %v, want %v", m, lc(anna, bert))
	}
	if x.byExternal(carla).Status != authn.StatusActive {
		t.Error("carla, out of the group, was disabled")
	}
}

// e2ePrimaryGroup: in AD a person's primary group (primaryGroupID, the
// group's RID; Domain Users for everyone by default) does not list her in
// its member attribute; she is still a member of it in Keyhall.
func e2ePrimaryGroup(t *testing.T, x *e2e) {
	sd := x.dir.(*sambaDir)
	dora, emil := x.dir.create(t, "dora"), x.dir.create(t, "emil")
	kasse := x.dir.group(t, "kasse", dora.dn, emil.dn)
	x.mapGroup(kasse, "kasse")
	sid := []byte(sd.s.Attr(t, kasse.dn, "objectSid"))
	rid := binary.LittleEndian.Uint32(sid[len(sid)-4:])
	sd.s.Modify(t, dora.dn, map[string][]string{"primaryGroupID": {strconv.FormatUint(uint64(rid), 10)}})
	if m := sd.s.Attr(t, kasse.dn, "member"); strings.Contains(m, "dora") {
		t.Fatalf("the directory still lists dora in the member attribute: %q", m)
	}
	x.sync()
	want := []string{strings.ToLower(dora.name), strings.ToLower(emil.name)}
	if m := x.members("kasse"); !slices.Equal(m, want) {
		t.Errorf("kasse = %v, want %v (dora by her primary group)", m, want)
	}
	// An incremental run re-reads the groups: she stays a member.
	res, err := x.try(RunOptions{Actor: "test", Incremental: true})
	if err != nil || !res.Incremental {
		t.Fatalf("incremental run: %v, incremental %t (%s)", err, res.Incremental, res.FullReason)
	}
	if m := x.members("kasse"); !slices.Equal(m, want) {
		t.Errorf("kasse after an incremental run = %v, want %v (dora by her primary group)", m, want)
	}
}

// e2eSambaTool: what an AD administrator does with samba-tool (disable,
// enable, setexpiry, move, delete) reaches Keyhall as it should.
func e2eSambaTool(t *testing.T, x *e2e) {
	sd := x.dir.(*sambaDir)
	anna := x.dir.create(t, "anna")
	x.sync()
	u := x.byExternal(anna)
	h := x.signIn(u)
	step := func(what string, want authn.UserStatus, args ...string) {
		t.Helper()
		sd.s.Tool(t, args...)
		x.sync()
		if got := x.userByID(u.ID); got.Status != want {
			t.Fatalf("after samba-tool %s: %s, want %s", what, got.Status, want)
		}
	}
	step("user disable", authn.StatusDisabled, "user", "disable", anna.name)
	if x.sessionUsable(h) {
		t.Error("her session outlived samba-tool user disable")
	}
	step("user enable", authn.StatusActive, "user", "enable", anna.name)
	step("user setexpiry --days=2", authn.StatusActive, "user", "setexpiry", anna.name, "--days=2")
	step("user setexpiry --noexpiry", authn.StatusActive, "user", "setexpiry", anna.name, "--noexpiry")
	step("user move", authn.StatusActive, "user", "move", anna.name, sd.moved)
	if got := x.userByID(u.ID); got.Username != strings.ToLower(anna.name) || x.keys(u.ID) != 1 {
		t.Errorf("after the move: %+v, %d keys", got, x.keys(u.ID))
	}
	step("user delete", authn.StatusDisabled, "user", "delete", anna.name)
}

// e2eLocalConflict: a directory person whose username a local person has
// is reported; neither is changed.
func e2eLocalConflict(t *testing.T, x *e2e) {
	anna := x.dir.create(t, "anna")
	local := authn.User{ID: authn.NewID(), Username: strings.ToLower(anna.name), DisplayName: "Anna (lokal)",
		Status: authn.StatusActive, Source: authn.SourceLocal, CreatedAt: x.now, UpdatedAt: x.now}
	if err := x.store.CreateUser(t.Context(), local, authn.AuditEvent{Time: x.now, Actor: "test", Action: "user.create"}); err != nil {
		t.Fatal(err)
	}
	h := x.signIn(local)
	res := x.sync()
	wantChanges(t, "Conflicts", res.Conflicts, "person:"+strings.ToLower(anna.name))
	got := x.user(strings.ToLower(anna.name))
	if got.ID != local.ID || got.Source != authn.SourceLocal || got.ExternalID != "" || got.DisplayName != "Anna (lokal)" ||
		!x.sessionUsable(h) {
		t.Errorf("the local anna was changed: %+v", got)
	}
	if x.count() != len(x.staff)+1 {
		t.Errorf("%d people, want the staff and the local anna", x.count())
	}
}

// e2eInjection: usernames that are LDAP filters in the directory are
// people of their own, matched by their id: each is created once, under
// her own name, and her password is checked by a bind as her DN, so that
// another person's password does not sign her in.
func e2eInjection(t *testing.T, x *e2e) {
	names := []string{"*", "*)(uid=*", "x)(|(objectclass=*)", `a,b+c`, `back\slash`, `"quoted"`, "#hash", "semi;colon<>"}
	var es []*entry
	var dns []string
	for _, n := range names {
		e := x.dir.create(t, n)
		es = append(es, e)
		dns = append(dns, e.dn)
	}
	// A NUL byte in a uid: Keyhall refuses the name, the entry is left
	// out (and logged), the rest of the read stands.
	nul := "cn=nul," + ldaptest.SlapdPeopleDN
	x.dir.(*slapdDir).s.Add(t, nul, map[string][]string{"objectClass": {"inetOrgPerson"}, "cn": {"nul"}, "sn": {"S"},
		"uid": {"anna\x00admin"}, "userPassword": {"Passw0rd-nul"}})
	dns = append(dns, nul)
	x.mapGroup(x.dir.group(t, "rat", dns...), "rat")
	res, err := x.try(RunOptions{Actor: "test"})
	if err != nil {
		t.Fatalf("sync: %v", err)
	}
	if len(res.Errors) != 1 || !strings.Contains(res.Errors[0], nul+": skipped by the read") {
		t.Errorf("errors = %q, want the skipped entry reported", res.Errors)
	}
	if len(res.Created) != len(x.staff)+len(names)+1 || x.count() != len(x.staff)+len(names) {
		t.Errorf("created %v; %d people", changeNames(res.Created), x.count())
	}
	for _, n := range []string{"anna", "annaadmin"} { // (the count above: nobody else)
		if _, err := x.store.GetUserByUsername(t.Context(), n); !errors.Is(err, authn.ErrNotFound) {
			t.Errorf("%q: %v", n, err)
		}
	}
	// Each is a member of the group by her DN, as the directory spells it.
	if m := x.members("rat"); len(m) != len(names) {
		t.Errorf("rat = %q, want all %d", m, len(names))
	}
	v, err := NewVerifier([]Config{x.cfg}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	for _, p := range es {
		u := x.byExternal(p)
		if err := v.VerifyPassword(t.Context(), u, "Passw0rd-"+x.staff[0].name); !errors.Is(err, authn.ErrWrongPassword) {
			t.Errorf("%q with staff0's password: %v", p.name, err)
		}
		if err := v.VerifyPassword(t.Context(), u, "Passw0rd-"+p.name); err != nil {
			t.Errorf("%q with her own password: %v", p.name, err)
		}
	}
}

// e2ePaused: a directory that stops answering during a sync fails it
// within 30 s; nobody is disabled, and nothing else changes.
func e2ePaused(t *testing.T, x *e2e) {
	anna := x.dir.create(t, "anna")
	x.sync()
	h := x.signIn(x.byExternal(anna))
	x.dir.disable(t, anna) // a real change the failed run must not apply either
	resume := x.dir.pause(t)
	start := time.Now()
	res, err := x.try(RunOptions{})
	took := time.Since(start)
	resume()
	if err == nil || !errors.Is(err, ErrAborted) {
		t.Fatalf("a sync of a paused directory: %v (%+v)", err, res)
	}
	if took > 30*time.Second {
		t.Errorf("the sync failed after %v", took)
	}
	t.Logf("failed after %v: %v", took.Round(time.Millisecond), err)
	x.nothingLost(h, anna)
}

// nothingLost checks that an aborted run changed nobody: everyone active,
// anna's session usable.
func (x *e2e) nothingLost(h authn.SessionHash, anna *entry) {
	x.t.Helper()
	if !x.sessionUsable(h) || x.byExternal(anna).Status != authn.StatusActive {
		x.t.Error("anna was disabled by an aborted sync")
	}
	for _, p := range x.staff {
		if x.byExternal(p).Status != authn.StatusActive {
			x.t.Errorf("%s was disabled by an aborted sync", p.name)
		}
	}
	if st := x.state(); st.LastOutcome != outcomeAborted {
		x.t.Errorf("state after the run: %+v", st)
	}
}

// e2eWrongBind: the service account's password is wrong (or it lost its
// rights): the run is aborted and nobody disabled.
func e2eWrongBind(t *testing.T, x *e2e) {
	anna := x.dir.create(t, "anna")
	x.sync()
	h := x.signIn(x.byExternal(anna))
	x.cfg.BindPassword = "wrong"
	res, err := x.try(RunOptions{})
	if !errors.Is(err, ErrAborted) || !res.Aborted {
		t.Fatalf("a sync with a wrong bind password: %v (%+v)", err, res)
	}
	x.nothingLost(h, anna)
}

// TestSyncTwoRealDirectories: the city's slapd and the district's Samba AD
// both have a person of the same username: the one synced first keeps it;
// the other directory's is a conflict, reported, and neither is changed.
func TestSyncTwoRealDirectories(t *testing.T) {
	e := newSyncEnv(t, "sqlite://"+filepath.Join(t.TempDir(), "keyhall.db"))
	city := newE2E(t, e, newSlapdDir(t))
	district := newSambaDir(t).(*sambaDir)
	adAnna := district.create(t, "anna")
	olAnna := city.dir.create(t, adAnna.name)
	city.sync()
	name := strings.ToLower(adAnna.name)
	before := e.user(name)
	if before.ExternalID != olAnna.id || before.Directory != "rathaus" {
		t.Fatalf("%s after the city's sync: %+v", name, before)
	}
	cfg := district.config()
	cfg.Name = "kreis"
	s, err := NewSyncer(SyncConfig{Store: e.store, Directory: cfg, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	res, err := s.Run(t.Context(), RunOptions{})
	if err != nil {
		t.Fatalf("the district's sync: %v", err)
	}
	wantChanges(t, "Conflicts", res.Conflicts, "person:"+name)
	after := e.user(name)
	if after.ID != before.ID || after.ExternalID != olAnna.id || after.Directory != "rathaus" || after.Status != authn.StatusActive {
		t.Errorf("the city's %s after the district's sync: %+v", name, after)
	}
	// The city's sync goes on as before.
	if res := city.sync(); len(res.Disabled)+len(res.Updated)+len(res.Conflicts) != 0 {
		t.Errorf("the city's next sync: %+v", res)
	}
}
