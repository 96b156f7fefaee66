package ldapsync_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/keyhall/keyhall/authn"
	"github.com/keyhall/keyhall/authn/sqlstore"
	"github.com/keyhall/keyhall/ldapsync"
	"github.com/keyhall/keyhall/ldapsync/ldaptest"
)

// incrEnv syncs a real directory into a real SQLite store, incrementally
// or in full.
type incrEnv struct {
	t     *testing.T
	cfg   ldapsync.Config
	store *sqlstore.Store
	now   time.Time
}

func newIncrEnv(t *testing.T, cfg ldapsync.Config) *incrEnv {
	t.Helper()
	st, err := sqlstore.Open(context.Background(), "sqlite://"+filepath.Join(t.TempDir(), "keyhall.db"),
		sqlstore.Options{Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	cfg.MaxDisableFraction = 0.5 // the test directories are small
	cfg.GracePeriod = 30 * 24 * time.Hour
	return &incrEnv{t: t, cfg: cfg, store: st, now: time.Now()}
}

// try runs one sync: incremental (if the syncer can) or full.
func (e *incrEnv) try(incremental bool) (ldapsync.Result, error) {
	e.t.Helper()
	s, err := ldapsync.NewSyncer(ldapsync.SyncConfig{Store: e.store, Directory: e.cfg, Logger: quiet(),
		Now: func() time.Time { return e.now }})
	if err != nil {
		e.t.Fatal(err)
	}
	return s.Run(context.Background(), ldapsync.RunOptions{Incremental: incremental, Actor: "test"})
}

// run is try, which must succeed.
func (e *incrEnv) run(incremental bool) ldapsync.Result {
	e.t.Helper()
	res, err := e.try(incremental)
	if err != nil {
		e.t.Fatalf("Run: %v (%+v)", err, res)
	}
	if res.Incremental && !incremental {
		e.t.Fatal("a full run says it was incremental")
	}
	return res
}

// incremental runs an incremental sync and fails unless it was one.
func (e *incrEnv) incremental() ldapsync.Result {
	e.t.Helper()
	res := e.run(true)
	if !res.Incremental {
		e.t.Fatalf("the run was full, not incremental: %s", res.FullReason)
	}
	return res
}

func (e *incrEnv) user(username string) authn.User {
	e.t.Helper()
	u, err := e.store.GetUserByUsername(context.Background(), username)
	if err != nil {
		e.t.Fatalf("user %s: %v", username, err)
	}
	return u
}

// members returns the usernames in the Keyhall group name, sorted.
func (e *incrEnv) members(name string) []string {
	e.t.Helper()
	g, err := e.store.GetGroupByName(context.Background(), name)
	if err != nil {
		e.t.Fatalf("group %s: %v", name, err)
	}
	us, err := e.store.GroupMembers(context.Background(), g.ID)
	if err != nil {
		e.t.Fatal(err)
	}
	var out []string
	for _, u := range us {
		out = append(out, u.Username)
	}
	slices.Sort(out)
	return out
}

// editMarkers changes the reader's markers the store keeps, as a restored
// or replaced domain controller would make them look.
func (e *incrEnv) editMarkers(edit func(m map[string]any)) {
	e.t.Helper()
	ctx := context.Background()
	st, err := e.store.GetDirectoryState(ctx, e.cfg.Name)
	if err != nil {
		e.t.Fatal(err)
	}
	var outer map[string]any
	if err := json.Unmarshal([]byte(st.Markers), &outer); err != nil {
		e.t.Fatalf("markers %q: %v", st.Markers, err)
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(outer["reader"].(string)), &m); err != nil {
		e.t.Fatalf("reader markers %q: %v", outer["reader"], err)
	}
	edit(m)
	b, _ := json.Marshal(m)
	outer["reader"] = string(b)
	b, _ = json.Marshal(outer)
	st.Markers = string(b)
	ev := authn.AuditEvent{Time: time.Now(), Actor: "test", Action: "test.markers", Subject: "directory:" + e.cfg.Name}
	if err := e.store.PutDirectoryState(ctx, st, ev); err != nil {
		e.t.Fatal(err)
	}
}

func wantNames(t *testing.T, what string, got []string, want ...string) {
	t.Helper()
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("%s: %v, want %v", what, got, want)
	}
}

// personNames returns the usernames of the person changes of cs.
func personNames(cs []ldapsync.Change) []string {
	out := []string{}
	for _, c := range cs {
		if c.Kind == "person" {
			out = append(out, c.Name)
		}
	}
	return out
}

// oldTime marks a fixture entry as changed long ago (on day 1–28 of
// January 2025), as most people of a real directory are.
func oldTime(day int) string { return fmt.Sprintf("modifyTimestamp: 202501%02d030405Z", day) }

// TestIncrementalSlapd: between full syncs, an incremental sync of
// OpenLDAP (by modifyTimestamp) reads only the people changed, applies
// their changes (a new person in a nested group, a new display name, a
// person locked for good), re-reads every group (a group-only change is
// seen), reads an unchanged member Keyhall did not hold, and disables
// nobody it did not read; the full sync then does.
func TestIncrementalSlapd(t *testing.T) {
	var ldif []string
	for i, uid := range []string{"f4", "anna", "bert", "carla", "dora", "emil", "zoe", "f1", "f2", "f3"} {
		ldif = append(ldif, slapdPerson(uid, oldTime(10-i)))
	}
	ldif = append(ldif,
		"dn: cn=Rat,ou=groups,dc=example,dc=org\nobjectClass: groupOfNames\ncn: Rat\nmember: uid=anna,ou=people,dc=example,dc=org\nmember: cn=g1,ou=groups,dc=example,dc=org\n"+oldTime(1)+"\n",
		"dn: cn=g1,ou=groups,dc=example,dc=org\nobjectClass: groupOfNames\ncn: g1\nmember: cn=g2,ou=groups,dc=example,dc=org\n"+oldTime(1)+"\n",
		"dn: cn=g2,ou=groups,dc=example,dc=org\nobjectClass: groupOfNames\ncn: g2\nmember: uid=bert,ou=people,dc=example,dc=org\nmember: uid=zoe,ou=people,dc=example,dc=org\n"+oldTime(1)+"\n",
	)
	s := ldaptest.StartSlapd(t, ldaptest.SlapdOptions{LDIF: strings.Join(ldif, "\n")})
	cfg := slapdConfig(s)
	cfg.Groups = []ldapsync.GroupMapping{{DN: "cn=Rat,ou=groups,dc=example,dc=org", Name: "rat"}}
	e := newIncrEnv(t, cfg)
	ctx := context.Background()

	// zoe's name is a local person's: the first sync does not create her.
	local := authn.User{ID: authn.NewID(), Username: "zoe", DisplayName: "Zoe Lokal", Status: authn.StatusActive,
		Source: authn.SourceLocal, CreatedAt: e.now, UpdatedAt: e.now}
	if err := e.store.CreateUser(ctx, local, authn.AuditEvent{Time: e.now, Actor: "test", Action: "user.create", Subject: "user:" + local.ID}); err != nil {
		t.Fatal(err)
	}
	res := e.run(true)
	if res.Incremental || !strings.Contains(res.FullReason, "no full sync") {
		t.Fatalf("first run: incremental %t, full reason %q; want a full one", res.Incremental, res.FullReason)
	}
	wantNames(t, "created", personNames(res.Created), "anna", "bert", "carla", "dora", "emil", "f1", "f2", "f3", "f4")
	wantNames(t, "rat", e.members("rat"), "anna", "bert")
	// Nothing changed: nobody is read but the person changed last (f4):
	// the read goes back a little (modifyTimestampOverlap).
	if res := e.incremental(); res.Unchanged > 1 || len(res.Created)+len(res.Updated)+len(res.Disabled) != 0 {
		t.Fatalf("incremental run with nothing changed read %d people, changed %+v", res.Unchanged, res)
	}

	// The local zoe is renamed: the directory's zoe, a member of g2 whom
	// nothing changed, is read because Keyhall does not hold her.
	if _, err := e.store.UpdateUser(ctx, local.ID, func(u authn.User) (authn.User, error) { u.Username = "zoe.lokal"; return u, nil },
		authn.AuditEvent{Time: e.now, Actor: "test", Action: "user.update", Subject: "user:" + local.ID}); err != nil {
		t.Fatal(err)
	}
	s.AddLDIF(t, slapdPerson("neu", "displayName: Neu Person"))
	s.Modify(t, "cn=g2,ou=groups,dc=example,dc=org", map[string][]string{"member": {
		"uid=bert,ou=people,dc=example,dc=org", "uid=zoe,ou=people,dc=example,dc=org", "uid=neu,ou=people,dc=example,dc=org"}})
	s.Modify(t, "cn=g1,ou=groups,dc=example,dc=org", map[string][]string{"member": {
		"cn=g2,ou=groups,dc=example,dc=org", "uid=carla,ou=people,dc=example,dc=org"}})
	s.Modify(t, "uid=bert,ou=people,dc=example,dc=org", map[string][]string{"displayName": {"Bert Neuname"}})
	s.Modify(t, "uid=emil,ou=people,dc=example,dc=org", map[string][]string{"pwdAccountLockedTime": {"000001010000Z"}})
	s.Delete(t, "uid=dora,ou=people,dc=example,dc=org")

	res = e.incremental()
	wantNames(t, "created", personNames(res.Created), "neu", "zoe")
	wantNames(t, "updated", personNames(res.Updated), "bert")
	wantNames(t, "disabled", personNames(res.Disabled), "dora", "emil")
	if res.Unchanged > 1 { // f4, see above
		t.Errorf("%d people read and found unchanged: an incremental read reads only the changed ones", res.Unchanged)
	}
	wantNames(t, "rat after the incremental run", e.members("rat"), "anna", "bert", "carla", "neu", "zoe")
	if u := e.user("bert"); u.DisplayName != "Bert Neuname" {
		t.Errorf("bert's display name %q", u.DisplayName)
	}
	if u := e.user("emil"); u.Status != authn.StatusDisabled {
		t.Errorf("emil is %s, want disabled", u.Status)
	}
	// No marker shows that dora was deleted; the ids every incremental
	// read takes do.
	if u := e.user("dora"); u.Status != authn.StatusDisabled {
		t.Errorf("dora, deleted in the directory, is %s after an incremental run", u.Status)
	}
	res = e.run(false)
	wantNames(t, "disabled by the full run", personNames(res.Disabled))

	// After the grace period, an incremental run deletes nobody it did not
	// read (dora; emil, read again as his change is recent, may go); the
	// full run deletes dora.
	e.now = e.now.Add(e.cfg.GracePeriod + time.Hour)
	e.cfg.FullInterval = 2 * e.cfg.GracePeriod
	if res := e.incremental(); slices.Contains(personNames(res.Deleted), "dora") {
		t.Errorf("the incremental run deleted dora, whom it did not read")
	}
	e.user("dora")
	if !slices.Contains(personNames(e.run(false).Deleted), "dora") {
		t.Error("the full run did not delete dora")
	}

	// A full sync is due after full_interval, counted from the last full
	// one (not from an incremental one), even when asked for an
	// incremental one.
	e.cfg.FullInterval = 0 // the default, a day
	e.now = e.now.Add(12 * time.Hour)
	e.incremental()
	e.now = e.now.Add(12*time.Hour + time.Minute)
	if res := e.run(true); res.Incremental || !strings.Contains(res.FullReason, "full_interval") {
		t.Errorf("a day after the full sync: incremental %t, reason %q; want a full sync", res.Incremental, res.FullReason)
	}

	// The safety valve: an incremental run that cannot read changes
	// nothing.
	s.Modify(t, "uid=anna,ou=people,dc=example,dc=org", map[string][]string{"pwdAccountLockedTime": {"000001010000Z"}})
	s.Pause(t)
	defer s.Resume(t)
	e.cfg.Timeout, e.cfg.SyncDeadline = 500*time.Millisecond, 2*time.Second
	res, err := e.try(true)
	if !errors.Is(err, ldapsync.ErrAborted) || !res.Aborted || !res.Incremental {
		t.Fatalf("incremental run against a paused slapd: %v, aborted %t, incremental %t", err, res.Aborted, res.Incremental)
	}
	s.Resume(t)
	wantNames(t, "rat after the aborted run", e.members("rat"), "anna", "bert", "carla", "neu", "zoe")
	if u := e.user("anna"); u.Status != authn.StatusActive {
		t.Errorf("anna is %s after an aborted run", u.Status)
	}
}

// TestIncrementalSamba: the same against Samba AD, by uSNChanged, and a
// domain controller that was restored (invocationId, highestCommittedUSN)
// or replaced (dsServiceName) gets a full sync.
func TestIncrementalSamba(t *testing.T) {
	s := ldaptest.StartSamba(t)
	ou := s.CreateOU(t, s.BaseDN, "incr"+strings.ToLower(authn.NewID()[:6]))
	const pw = "Richtig!Passw0rt"
	dn := map[string]string{}
	for _, n := range []string{"a1", "a2", "a3", "a4", "a5", "a6", "a7", "a8", "a9", "a10", "a11", "a12"} {
		dn[n] = s.CreateUserIn(t, ou, "incr."+n, pw).DN
	}
	rat := s.GroupAdd(t, ou, "incr-rat")
	inner := s.GroupAdd(t, ou, "incr-inner")
	s.AddMembers(t, rat.DN, dn["a1"], inner.DN)
	cfg := adConfig(s)
	cfg.BaseDNs = []string{ou}
	cfg.Groups = []ldapsync.GroupMapping{{DN: rat.DN, Name: "rat"}}
	e := newIncrEnv(t, cfg)

	if res := e.run(true); res.Incremental {
		t.Fatal("first run was incremental")
	}
	wantNames(t, "rat", e.members("rat"), "incr.a1")

	s.AddMembers(t, inner.DN, dn["a2"])
	s.Modify(t, dn["a3"], map[string][]string{"displayName": {"Anna Drei"}})
	s.Disable(t, dn["a4"])
	s.Delete(t, dn["a5"])
	res := e.incremental()
	wantNames(t, "rat", e.members("rat"), "incr.a1", "incr.a2")
	wantNames(t, "updated", personNames(res.Updated), "incr.a3")
	wantNames(t, "disabled", personNames(res.Disabled), "incr.a4", "incr.a5")
	if res.Unchanged > 1 { // a2, if Samba bumps a member's uSNChanged
		t.Errorf("%d unchanged people read: an incremental read reads only the changed ones", res.Unchanged)
	}
	if u := e.user("incr.a3"); u.DisplayName != "Anna Drei" {
		t.Errorf("a3's display name %q", u.DisplayName)
	}
	if u := e.user("incr.a5"); u.Status != authn.StatusDisabled {
		t.Errorf("a5, deleted in AD, is %s after an incremental run", u.Status)
	}

	// People the mass-change valve holds back are read again by the next
	// incremental run (the markers stay), and disabled once it lets them.
	e.cfg.MaxDisableCount = 1
	s.Disable(t, dn["a6"])
	s.Disable(t, dn["a7"])
	for range 2 {
		if res := e.incremental(); res.HeldBack != 2 {
			t.Fatalf("held back %d, want 2", res.HeldBack)
		}
	}
	e.cfg.MaxDisableCount = 0
	wantNames(t, "disabled after the valve", personNames(e.incremental().Disabled), "incr.a6", "incr.a7")

	for _, tc := range []struct {
		name string
		edit func(m map[string]any)
		why  string
	}{
		{"restored: another invocationId", func(m map[string]any) { m["invocation_id"] = "00000000-0000-4000-8000-000000000001" }, "invocationId"},
		{"restored: highestCommittedUSN went back", func(m map[string]any) { m["usn"] = m["usn"].(float64) + 1e6 }, "went back"},
		{"another domain controller", func(m map[string]any) {
			m["dc"] = "CN=NTDS Settings,CN=DC9,CN=Servers,CN=Default-First-Site-Name,CN=Sites,CN=Configuration," + s.BaseDN
		}, "domain controller is"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e.t = t
			e.editMarkers(tc.edit)
			res := e.run(true)
			if res.Incremental || !strings.Contains(res.FullReason, tc.why) {
				t.Fatalf("incremental %t, reason %q; want a full sync because of %q", res.Incremental, res.FullReason, tc.why)
			}
			if res.Unchanged < 5 {
				t.Errorf("the full run read %d unchanged people, want everybody", res.Unchanged)
			}
			// After the full run, incremental again.
			e.incremental()
		})
	}
	if u := e.user("incr.a5"); u.Status != authn.StatusDisabled {
		t.Errorf("a5 after the full runs: %s, want disabled", u.Status)
	}
}

// TestIncrementalLeavers: what no change marker shows is still seen by an
// incremental run: an account's end passing (carla) and a person leaving
// the user filter (anna, marked external) disable them at once, not a day
// later with the full run.
func TestIncrementalLeavers(t *testing.T) {
	var ldif []string
	tomorrow := time.Now().Add(36*time.Hour).Unix() / 86400
	for i, uid := range []string{"anna", "bert", "carla", "dora", "emil", "f1", "f2", "f3", "f4", "f5"} {
		extra := []string{oldTime(10 - i)}
		if uid == "carla" {
			extra = append(extra, fmt.Sprintf("shadowExpire: %d", tomorrow))
		}
		ldif = append(ldif, slapdPerson(uid, extra...))
	}
	s := ldaptest.StartSlapd(t, ldaptest.SlapdOptions{LDIF: strings.Join(ldif, "\n")})
	cfg := slapdConfig(s)
	cfg.Groups = nil
	cfg.FullInterval = 7 * 24 * time.Hour
	e := newIncrEnv(t, cfg)
	e.run(true)
	s.Modify(t, "uid=anna,ou=people,dc=example,dc=org", map[string][]string{"employeeType": {"external"}})
	e.now = e.now.Add(48 * time.Hour) // carla's account ended, and nothing in the directory changed for it
	res := e.incremental()
	if !res.Incremental {
		t.Fatalf("the run was full: %s", res.FullReason)
	}
	wantNames(t, "disabled", personNames(res.Disabled), "anna", "carla")
	for _, c := range res.Disabled {
		if want := map[string]string{"anna": ldapsync.ReasonNotFound, "carla": ldapsync.ReasonExpired}[c.Name]; c.Reason != want {
			t.Errorf("%s disabled for %q, want %q", c.Name, c.Reason, want)
		}
	}
}

// TestIncrementalKeepsUntouchedName: a person an incremental run did not
// read keeps her username, also when an administrator disabled her: a new
// entry claiming it is a conflict, as in a full run.
func TestIncrementalKeepsUntouchedName(t *testing.T) {
	var ldif []string
	for i, uid := range []string{"anna", "bert", "carla", "dora", "emil", "f1", "f2", "f3", "f4", "f5"} {
		ldif = append(ldif, slapdPerson(uid, oldTime(10-i)))
	}
	s := ldaptest.StartSlapd(t, ldaptest.SlapdOptions{LDIF: strings.Join(ldif, "\n")})
	cfg := slapdConfig(s)
	cfg.Groups = nil
	e := newIncrEnv(t, cfg)
	e.run(true)
	s.Modify(t, "uid=bert,ou=people,dc=example,dc=org", map[string][]string{"displayName": {"B"}})
	e.incremental()
	anna := e.user("anna")
	if _, err := e.store.DisableUser(t.Context(), anna.ID, e.now, authn.AuditEvent{Time: e.now, Actor: "test", Action: "user.disable", Subject: "user:" + anna.ID}); err != nil {
		t.Fatal(err)
	}
	s.AddLDIF(t, "dn: cn=anna2,ou=people,dc=example,dc=org\nobjectClass: inetOrgPerson\nuid: anna\ncn: anna2\nsn: Zwei\n")
	res := e.incremental()
	if !res.Incremental || len(res.Created) != 0 || len(res.Conflicts) != 1 {
		t.Errorf("incremental %t: created %v, conflicts %+v; want one conflict", res.Incremental, personNames(res.Created), res.Conflicts)
	}
	if u := e.user("anna"); u.ID != anna.ID {
		t.Errorf("the username anna went to %s, not the disabled anna %s", u.ID, anna.ID)
	}
}

// TestIncrementalFutureTimestamp: one entry changed "in the future" (a
// clock that was ahead, an import that kept its times) does not move the
// change marker past the changes that follow: bert, locked for good after
// it, is disabled by the next incremental run.
func TestIncrementalFutureTimestamp(t *testing.T) {
	var ldif []string
	for i, uid := range []string{"anna", "bert", "carla", "dora", "emil", "f1", "f2", "f3", "f4", "f5"} {
		ts := oldTime(10 - i)
		if uid == "f5" {
			ts = "modifyTimestamp: 20300101000000Z"
		}
		ldif = append(ldif, slapdPerson(uid, ts))
	}
	s := ldaptest.StartSlapd(t, ldaptest.SlapdOptions{LDIF: strings.Join(ldif, "\n")})
	cfg := slapdConfig(s)
	cfg.Groups = nil
	e := newIncrEnv(t, cfg)
	e.run(true)
	s.Modify(t, "uid=bert,ou=people,dc=example,dc=org", map[string][]string{"pwdAccountLockedTime": {"000001010000Z"}})
	res := e.incremental()
	if !res.Incremental {
		t.Fatalf("the run was full: %s", res.FullReason)
	}
	wantNames(t, "disabled", personNames(res.Disabled), "bert")
}
