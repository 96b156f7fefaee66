package ldapsync

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/keyhall/keyhall/authn"
	"github.com/keyhall/keyhall/authn/sqlstore"
	"github.com/keyhall/keyhall/authn/sqlstore/pgtest"
)

// The syncer's tests run against real SQLite and real PostgreSQL; the
// directory is a Reader that returns the Snapshot each test builds (the
// readers of real directories have tests of their own).

// snapReader is a directory that gives the Snapshot (or error) it holds.
type snapReader struct {
	mu      sync.Mutex
	snap    Snapshot
	err     error
	reading chan struct{} // if set: closed when a read starts
	release chan struct{} // if set: a read waits for it
}

func (r *snapReader) Read(ctx context.Context) (Snapshot, error) {
	r.mu.Lock()
	snap, err, reading, release := r.snap, r.err, r.reading, r.release
	r.mu.Unlock()
	if reading != nil {
		close(reading)
	}
	if release != nil {
		select {
		case <-release:
		case <-ctx.Done():
			return Snapshot{}, ctx.Err()
		}
	}
	snap.People = slices.Clone(snap.People)
	snap.Groups = slices.Clone(snap.Groups)
	return snap, err
}

func (r *snapReader) set(people []Person, groups ...Group) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.snap = Snapshot{Directory: "rathaus", People: people, Groups: groups}
	r.err = nil
}

func (r *snapReader) fail(err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.err = err
}

var syncT0 = time.Date(2026, 12, 1, 8, 0, 0, 0, time.UTC)

// syncEnv is one test's database, directory and clock.
type syncEnv struct {
	t        testing.TB
	url      string
	store    *sqlstore.Store
	reader   *snapReader
	now      time.Time
	cfg      Config
	disabled []string // the ids OnDisabled was called with
}

// syncBackend gives each subtest a fresh database of one dialect: start, at
// the dialect's subtest, returns the maker of databases.
type syncBackend struct {
	name  string
	start func(t testing.TB) func(t testing.TB) string
}

var syncBackends = []syncBackend{
	{"sqlite", func(testing.TB) func(t testing.TB) string {
		return func(t testing.TB) string { return "sqlite://" + filepath.Join(t.TempDir(), "keyhall.db") }
	}},
	{"postgres", func(t testing.TB) func(t testing.TB) string {
		pg := pgtest.Start(t) // one cluster for the dialect's subtests, stopped at its end
		return func(t testing.TB) string { return pg.NewDatabase(t) }
	}},
}

func openSyncStore(t testing.TB, url string) *sqlstore.Store {
	t.Helper()
	s, err := sqlstore.Open(context.Background(), url, sqlstore.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func newSyncEnv(t testing.TB, url string) *syncEnv {
	e := &syncEnv{t: t, url: url, store: openSyncStore(t, url), reader: &snapReader{}, now: syncT0,
		cfg: Config{Name: "rathaus", GracePeriod: 30 * 24 * time.Hour, MaxDisableFraction: 0.5, MaxDisableCount: 100}}
	return e
}

func (e *syncEnv) syncer() *Syncer {
	e.t.Helper()
	s, err := NewSyncer(SyncConfig{
		Store: e.store, Directory: e.cfg, Reader: e.reader, Logger: slog.New(slog.DiscardHandler),
		Now:        func() time.Time { return e.now },
		OnDisabled: func(_ context.Context, ids []string) { e.disabled = append(e.disabled, ids...) },
	})
	if err != nil {
		e.t.Fatal(err)
	}
	return s
}

func (e *syncEnv) run(opts RunOptions) Result {
	e.t.Helper()
	res, err := e.syncer().Run(e.t.Context(), opts)
	if err != nil {
		e.t.Fatalf("Run: %v (result %+v)", err, res)
	}
	return res
}

func (e *syncEnv) sync() Result { e.t.Helper(); return e.run(RunOptions{}) }

// aborted runs a sync that the safety valve must stop.
func (e *syncEnv) aborted(opts RunOptions) Result {
	e.t.Helper()
	res, err := e.syncer().Run(e.t.Context(), opts)
	if !errors.Is(err, ErrAborted) || !res.Aborted || res.AbortReason == "" {
		e.t.Fatalf("Run: %v, aborted %t %q; want the safety valve", err, res.Aborted, res.AbortReason)
	}
	return res
}

func (e *syncEnv) user(username string) authn.User {
	e.t.Helper()
	u, err := e.store.GetUserByUsername(e.t.Context(), username)
	if err != nil {
		e.t.Fatalf("GetUserByUsername(%s): %v", username, err)
	}
	return u
}

func (e *syncEnv) userByID(id string) authn.User {
	e.t.Helper()
	u, err := e.store.GetUser(e.t.Context(), id)
	if err != nil {
		e.t.Fatalf("GetUser(%s): %v", id, err)
	}
	return u
}

func (e *syncEnv) count() int {
	e.t.Helper()
	n, err := e.store.CountUsers(e.t.Context())
	if err != nil {
		e.t.Fatal(err)
	}
	return n
}

// signIn gives the person a key and a session, and an OIDC refresh token
// for the client "wiki" in that session; it returns the session's hash.
func (e *syncEnv) signIn(u authn.User) authn.SessionHash {
	e.t.Helper()
	ctx := e.t.Context()
	key := authn.Credential{ID: authn.NewID(), UserID: u.ID, Kind: authn.KindWebAuthn, Nickname: "YubiKey",
		CreatedAt: e.now, WebAuthnID: []byte("key of " + u.ID), PublicKey: []byte{1, 2, 3}, AAGUID: make([]byte, 16)}
	if err := e.store.CreateCredential(ctx, key, authn.AuditEvent{Time: e.now, Actor: "system", Action: "credential.create"}); err != nil {
		e.t.Fatal(err)
	}
	h := authn.HashSessionID([]byte("session of " + u.ID + e.now.String()))
	sess := authn.Session{Hash: h, UserID: u.ID, AMR: []string{"hwk"}, ACR: "phr", AuthTime: e.now, CreatedAt: e.now,
		LastSeenAt: e.now, ExpiresAt: e.now.Add(365 * 24 * time.Hour)}
	if err := e.store.CreateSession(ctx, sess); err != nil {
		e.t.Fatal(err)
	}
	tok := authn.OIDCToken{ID: authn.NewID(), Kind: authn.OIDCRefreshToken, Hash: authn.HashToken("rt " + u.ID),
		GrantID: authn.NewID(), ClientID: "wiki", UserID: u.ID, Session: h, Scopes: []string{"openid"},
		AMR: []string{"hwk"}, ACR: "phr", AuthTime: e.now, CreatedAt: e.now, ExpiresAt: e.now.Add(365 * 24 * time.Hour)}
	if err := e.store.CreateOIDCTokens(ctx, tok); err != nil {
		e.t.Fatal(err)
	}
	return h
}

func (e *syncEnv) sessionUsable(h authn.SessionHash) bool {
	e.t.Helper()
	s, err := e.store.GetSession(e.t.Context(), h)
	if err != nil {
		e.t.Fatal(err)
	}
	return s.Usable(e.now, 0)
}

func (e *syncEnv) keys(id string) int {
	e.t.Helper()
	c, err := e.store.ListCredentials(e.t.Context(), id)
	if err != nil {
		e.t.Fatal(err)
	}
	return len(c)
}

func (e *syncEnv) members(group string) []string {
	e.t.Helper()
	g, err := e.store.GetGroupByName(e.t.Context(), group)
	if err != nil {
		e.t.Fatalf("GetGroupByName(%s): %v", group, err)
	}
	us, err := e.store.GroupMembers(e.t.Context(), g.ID)
	if err != nil {
		e.t.Fatal(err)
	}
	var out []string
	for _, u := range us {
		out = append(out, u.Username)
	}
	return out
}

func (e *syncEnv) state() authn.DirectoryState {
	e.t.Helper()
	st, err := e.store.GetDirectoryState(e.t.Context(), "rathaus")
	if err != nil {
		e.t.Fatal(err)
	}
	return st
}

func (e *syncEnv) audit(action string) []authn.AuditEvent {
	e.t.Helper()
	evs, err := e.store.ListAudit(e.t.Context(), authn.AuditFilter{Limit: 1000})
	if err != nil {
		e.t.Fatal(err)
	}
	var out []authn.AuditEvent
	for _, ev := range evs {
		if ev.Action == action {
			out = append(out, ev)
		}
	}
	return out
}

// dirPerson is a directory person with a stable id derived from her name.
func dirPerson(name string) Person {
	return Person{ExternalID: "uuid-" + name, DN: "uid=" + name + ",ou=people,dc=muenster,dc=de", Username: name,
		DisplayName: "Name " + name, Email: name + "@muenster.de", Phone: "+49 251 492-1",
		PostalAddress: []string{"Klemensstraße 10", "48143 Münster"}}
}

// staffPeople returns n people staff01…
func staffPeople(n int) []Person {
	var out []Person
	for i := range n {
		out = append(out, dirPerson(fmt.Sprintf("staff%02d", i+1)))
	}
	return out
}

func changeNames(cs []Change) []string {
	var out []string
	for _, c := range cs {
		out = append(out, c.Kind+":"+c.Name)
	}
	slices.Sort(out)
	return out
}

func wantChanges(t *testing.T, what string, cs []Change, want ...string) {
	t.Helper()
	slices.Sort(want)
	if got := changeNames(cs); !slices.Equal(got, want) {
		t.Errorf("%s = %v, want %v", what, got, want)
	}
}

func withoutPerson(people []Person, name string) []Person {
	return slices.DeleteFunc(slices.Clone(people), func(p Person) bool { return p.Username == name })
}

func withPerson(people []Person, name string, fn func(*Person)) []Person {
	out := slices.Clone(people)
	for i := range out {
		if out[i].Username == name {
			fn(&out[i])
		}
	}
	return out
}

func TestSync(t *testing.T) {
	cases := []struct {
		name string
		run  func(t *testing.T, e *syncEnv)
	}{
		{"Create", testCreate},
		{"UpdateAndMove", testUpdateAndMove},
		{"Rename", testRename},
		{"Leavers", testLeavers},
		{"ComeBackWithinGrace", testComeBack},
		{"DeletedAfterGrace", testDeletedAfterGrace},
		{"RecreatedSameName", testRecreatedSameName},
		{"RecreatedOldStillRead", testRecreatedOldStillRead},
		{"LocalConflict", testLocalConflict},
		{"LocalConflictManyNew", testLocalConflictManyNew},
		{"OtherDirectoryConflict", testOtherDirectoryConflict},
		{"ValveReadError", testValveReadError},
		{"ValveEmpty", testValveEmpty},
		{"ValveFewer", testValveFewer},
		{"ValveDeadline", testValveDeadline},
		{"MassChange", testMassChange},
		{"MassChangeCount", testMassChangeCount},
		{"AdminDisabledStays", testAdminDisabledStays},
		{"DryRun", testDryRun},
		{"OneSyncAtATime", testOneSyncAtATime},
	}
	for _, b := range syncBackends {
		t.Run(b.name, func(t *testing.T) {
			newDB := b.start(t)
			for _, tc := range cases {
				t.Run(tc.name, func(t *testing.T) { tc.run(t, newSyncEnv(t, newDB(t))) })
			}
		})
	}
}

func testCreate(t *testing.T, e *syncEnv) {
	people := append(staffPeople(3), dirPerson("anna"))
	e.reader.set(people, Group{Name: "rat", ExternalID: "uuid-rat", DN: "cn=rat", DisplayName: "Rat der Stadt",
		Members: []string{"uuid-anna", "uuid-staff01"}})
	res := e.sync()
	wantChanges(t, "Created", res.Created, "person:anna", "person:staff01", "person:staff02", "person:staff03", "group:rat")
	anna := e.user("anna")
	want := dirPerson("anna")
	if anna.Source != authn.SourceDirectory || anna.Directory != "rathaus" || anna.ExternalID != want.ExternalID ||
		anna.DisplayName != want.DisplayName || anna.Email != want.Email || anna.Phone != want.Phone ||
		!slices.Equal(anna.PostalAddress, want.PostalAddress) || anna.Status != authn.StatusActive {
		t.Errorf("anna = %+v", anna)
	}
	if e.keys(anna.ID) != 0 {
		t.Error("a new person has factors")
	}
	if got := e.members("rat"); !slices.Equal(got, []string{"anna", "staff01"}) {
		t.Errorf("rat = %v", got)
	}
	if len(res.Errors) != 0 {
		t.Errorf("Errors = %v", res.Errors)
	}
	if st := e.state(); st.LastGoodPeople != 4 || !st.LastSuccessAt.Equal(syncT0) || st.LastOutcome != "ok" {
		t.Errorf("state = %+v", st)
	}
	evs := e.audit("directory.sync")
	if len(evs) != 1 || evs[0].Details["created"] != "5" || evs[0].Details["people"] != "4" {
		t.Errorf("audit = %+v", evs)
	}
	// The same read again changes nothing. A group mapped twice (under a
	// second name) is an error of the read, not a failed run.
	e.reader.set(people, Group{Name: "rat", ExternalID: "uuid-rat", DN: "cn=rat", DisplayName: "Rat der Stadt",
		Members: []string{"uuid-anna", "uuid-staff01"}}, Group{Name: "council", ExternalID: "uuid-rat", DN: "cn=rat"})
	res = e.sync()
	if len(res.Errors) != 1 {
		t.Errorf("Errors = %v, want the group mapped twice", res.Errors)
	}
	if len(res.Created)+len(res.Updated)+len(res.Renamed) != 0 || res.Unchanged != 4 {
		t.Errorf("second run: %+v", res)
	}
}

func testUpdateAndMove(t *testing.T, e *syncEnv) {
	people := append(staffPeople(2), dirPerson("anna"), dirPerson("bert"))
	e.reader.set(people)
	e.sync()
	before := e.user("bert")
	e.now = e.now.Add(time.Hour)
	people = withPerson(people, "anna", func(p *Person) {
		p.Email, p.PostalAddress = "a.neu@muenster.de", []string{"Neue Str. 1", "48149 Münster"}
	})
	people = withPerson(people, "bert", func(p *Person) { p.DN = "uid=bert,ou=moved,dc=muenster,dc=de"; p.Locked = true })
	e.reader.set(people)
	res := e.sync()
	if len(res.Updated) != 1 || res.Updated[0].Name != "anna" || !slices.Equal(res.Updated[0].Fields, []string{"email", "postal_address"}) {
		t.Errorf("Updated = %+v, want anna's email and postal_address", res.Updated)
	}
	if res.Unchanged != 3 {
		t.Errorf("Unchanged = %d, want 3 (bert only moved)", res.Unchanged)
	}
	if a := e.user("anna"); a.Email != "a.neu@muenster.de" || a.PostalAddress[0] != "Neue Str. 1" {
		t.Errorf("anna = %+v", a)
	}
	if after := e.user("bert"); !after.UpdatedAt.Equal(before.UpdatedAt) || after.ID != before.ID {
		t.Errorf("bert changed by a move: %+v → %+v", before, after)
	}
}

func testRename(t *testing.T, e *syncEnv) {
	people := append(staffPeople(3), dirPerson("anna"))
	e.reader.set(people, Group{Name: "rat", Members: []string{"uuid-anna"}})
	e.sync()
	anna := e.user("anna")
	h := e.signIn(anna)
	people = withPerson(people, "anna", func(p *Person) { p.Username, p.DisplayName = "anna.schmidt", "Anna Schmidt" })
	e.reader.set(people, Group{Name: "rat", Members: []string{"uuid-anna"}})
	res := e.sync()
	if len(res.Renamed) != 1 || res.Renamed[0].Name != "anna.schmidt" || res.Renamed[0].OldName != "anna" || res.Renamed[0].ID != anna.ID {
		t.Fatalf("Renamed = %+v", res.Renamed)
	}
	got := e.user("anna.schmidt")
	if got.ID != anna.ID || got.DisplayName != "Anna Schmidt" {
		t.Errorf("renamed: %+v", got)
	}
	if e.keys(anna.ID) != 1 || !e.sessionUsable(h) {
		t.Error("a rename cost her key or session")
	}
	if m := e.members("rat"); !slices.Equal(m, []string{"anna.schmidt"}) {
		t.Errorf("rat = %v", m)
	}
	if _, err := e.store.GetUserByUsername(t.Context(), "anna"); !errors.Is(err, authn.ErrNotFound) {
		t.Errorf("the old name still finds someone: %v", err)
	}
	// Two people swap their names in one read: both are renames.
	s1, s2 := e.user("staff01"), e.user("staff02")
	people = withPerson(people, "staff01", func(p *Person) { p.Username = "tmp" })
	people = withPerson(people, "staff02", func(p *Person) { p.Username = "staff01" })
	people = withPerson(people, "tmp", func(p *Person) { p.Username = "staff02" })
	e.reader.set(people)
	res = e.sync()
	if len(res.Renamed) != 2 || len(res.Conflicts) != 0 {
		t.Errorf("swap: Renamed %+v Conflicts %+v", res.Renamed, res.Conflicts)
	}
	if e.user("staff01").ID != s2.ID || e.user("staff02").ID != s1.ID {
		t.Error("the swap did not swap")
	}
}

// leavers: anna disabled in the directory, bert expired, cora gone.
func (e *syncEnv) leave() ([]Person, map[string]authn.SessionHash, map[string]string) {
	e.t.Helper()
	people := append(staffPeople(27), dirPerson("anna"), dirPerson("bert"), dirPerson("cora"), dirPerson("dora"))
	e.reader.set(people, Group{Name: "rat", Members: []string{"uuid-anna", "uuid-cora", "uuid-dora"}})
	e.sync()
	sessions, ids := map[string]authn.SessionHash{}, map[string]string{}
	for _, n := range []string{"anna", "bert", "cora", "dora"} {
		u := e.user(n)
		ids[n] = u.ID
		sessions[n] = e.signIn(u)
	}
	e.now = e.now.Add(time.Hour)
	people = withPerson(people, "anna", func(p *Person) { p.Disabled = true })
	people = withPerson(people, "bert", func(p *Person) { p.ExpiresAt = e.now.Add(-time.Minute) })
	people = withPerson(people, "dora", func(p *Person) { p.ExpiresAt = e.now.Add(24 * time.Hour) }) // not yet
	people = withoutPerson(people, "cora")
	e.reader.set(people, Group{Name: "rat", Members: []string{"uuid-anna", "uuid-dora"}})
	return people, sessions, ids
}

func testLeavers(t *testing.T, e *syncEnv) {
	_, sessions, ids := e.leave()
	res := e.sync()
	reasons := map[string]string{}
	for _, c := range res.Disabled {
		reasons[c.Name] = c.Reason
	}
	want := map[string]string{"anna": ReasonDisabled, "bert": ReasonExpired, "cora": ReasonNotFound}
	if fmt.Sprint(reasons) != fmt.Sprint(want) {
		t.Errorf("Disabled = %v, want %v", reasons, want)
	}
	for n := range want {
		u := e.userByID(ids[n])
		if u.Status != authn.StatusDisabled {
			t.Errorf("%s is %s", n, u.Status)
		}
		if e.sessionUsable(sessions[n]) {
			t.Errorf("%s's session is still usable", n)
		}
		if e.keys(u.ID) != 1 {
			t.Errorf("%s lost her key when disabled", n)
		}
	}
	if e.userByID(ids["dora"]).Status != authn.StatusActive || !e.sessionUsable(sessions["dora"]) {
		t.Error("dora (expires tomorrow) was disabled")
	}
	slices.Sort(e.disabled)
	wantIDs := []string{ids["anna"], ids["bert"], ids["cora"]}
	slices.Sort(wantIDs)
	if !slices.Equal(e.disabled, wantIDs) {
		t.Errorf("OnDisabled got %v, want %v", e.disabled, wantIDs)
	}
	if len(res.Logouts) != 3 {
		t.Errorf("Logouts = %+v, want the wiki of each", res.Logouts)
	}
	for _, n := range []string{"anna", "bert", "cora"} {
		refs, err := e.store.RevokeOIDCUserTokens(t.Context(), ids[n], e.now)
		if err != nil || len(refs) != 1 {
			t.Errorf("OIDCUserSignedOut would tell %v (%v) about %s", refs, err, n)
		}
		tok, err := e.store.GetOIDCRefreshToken(t.Context(), authn.HashToken("rt "+ids[n]))
		if err != nil || tok.Usable(e.now) {
			t.Errorf("%s's refresh token: %+v, %v", n, tok, err)
		}
	}
	if m := e.members("rat"); !slices.Equal(m, []string{"anna", "dora"}) {
		t.Errorf("rat = %v", m)
	}
}

func testComeBack(t *testing.T, e *syncEnv) {
	people, _, ids := e.leave()
	e.sync()
	e.now = e.now.Add(10 * 24 * time.Hour)
	people = append(withPerson(people, "anna", func(p *Person) { p.Disabled = false }), dirPerson("cora"))
	e.reader.set(people, Group{Name: "rat", Members: []string{"uuid-anna", "uuid-cora", "uuid-dora"}})
	res := e.sync()
	wantChanges(t, "Enabled", res.Enabled, "person:anna", "person:cora")
	wantChanges(t, "Deleted", res.Deleted)
	for _, n := range []string{"anna", "cora"} {
		u := e.user(n)
		if u.ID != ids[n] || u.Status != authn.StatusActive || e.keys(u.ID) != 1 {
			t.Errorf("%s came back as %+v with %d keys", n, u, e.keys(u.ID))
		}
	}
	if e.user("bert").Status != authn.StatusDisabled {
		t.Error("bert (still expired) was enabled")
	}
	if m := e.members("rat"); !slices.Equal(m, []string{"anna", "cora", "dora"}) {
		t.Errorf("rat = %v", m)
	}
}

func testDeletedAfterGrace(t *testing.T, e *syncEnv) {
	people, _, ids := e.leave()
	e.sync()
	e.now = e.now.Add(29 * 24 * time.Hour)
	if res := e.sync(); len(res.Deleted) != 0 {
		t.Fatalf("deleted within the grace period: %v", res.Deleted)
	}
	e.now = e.now.Add(24 * time.Hour)
	// bert, expired but still read, was put into a group meanwhile.
	e.reader.set(people, Group{Name: "rat", Members: []string{"uuid-anna", "uuid-bert", "uuid-dora"}})
	res := e.sync()
	wantChanges(t, "Deleted", res.Deleted, "person:anna", "person:bert", "person:cora")
	for _, n := range []string{"anna", "bert", "cora"} {
		if _, err := e.store.GetUser(t.Context(), ids[n]); !errors.Is(err, authn.ErrNotFound) {
			t.Errorf("%s after the grace period: %v", n, err)
		}
		if e.keys(ids[n]) != 0 {
			t.Errorf("%s's key outlived her", n)
		}
	}
	evs := e.audit("directory.sync")
	last := evs[len(evs)-1]
	if last.Details["deleted"] != "3" || len(e.audit("credential.create")) != 4 {
		t.Errorf("audit after the delete: %+v; credential.create events %d", last.Details, len(e.audit("credential.create")))
	}
	// Back after the grace period: a new person, without factors.
	e.reader.set(append(people, dirPerson("cora")))
	res = e.sync()
	wantChanges(t, "Created", res.Created, "person:cora")
	if c := e.user("cora"); c.ID == ids["cora"] || e.keys(c.ID) != 0 {
		t.Errorf("cora came back after the grace period as %+v", c)
	}
}

func testRecreatedSameName(t *testing.T, e *syncEnv) {
	people := append(staffPeople(20), dirPerson("anna"))
	e.reader.set(people)
	e.sync()
	old := e.user("anna")
	h := e.signIn(old)
	e.now = e.now.Add(time.Hour)
	again := dirPerson("anna")
	again.ExternalID = "uuid-anna-2"
	e.reader.set(append(withoutPerson(people, "anna"), again))
	res := e.sync()
	wantChanges(t, "Created", res.Created, "person:anna")
	if len(res.Disabled) != 1 || res.Disabled[0].ID != old.ID {
		t.Errorf("Disabled = %+v, want the old anna", res.Disabled)
	}
	anna := e.user("anna")
	if anna.ID == old.ID || anna.ExternalID != "uuid-anna-2" || e.keys(anna.ID) != 0 {
		t.Errorf("the new anna is %+v with %d keys", anna, e.keys(anna.ID))
	}
	gone := e.userByID(old.ID)
	if gone.Status != authn.StatusDisabled || gone.Username == "anna" || e.keys(old.ID) != 1 || e.sessionUsable(h) {
		t.Errorf("the old anna is %+v", gone)
	}
}

// The old person is still read, disabled and with a new display name,
// when a new one takes her username.
func testRecreatedOldStillRead(t *testing.T, e *syncEnv) {
	people := append(staffPeople(20), dirPerson("anna"))
	e.reader.set(people)
	e.sync()
	old := e.user("anna")
	e.now = e.now.Add(time.Hour)
	people = withPerson(people, "anna", func(p *Person) { p.Disabled, p.DisplayName = true, "Anna (alt)" })
	again := dirPerson("anna")
	again.ExternalID = "uuid-anna-2"
	e.reader.set(append(people, again))
	res := e.sync()
	wantChanges(t, "Created", res.Created, "person:anna")
	if anna := e.user("anna"); anna.ID == old.ID {
		t.Error("the old anna kept the name")
	}
	if gone := e.userByID(old.ID); gone.Status != authn.StatusDisabled || gone.DisplayName != "Anna (alt)" {
		t.Errorf("the old anna is %+v", gone)
	}
}

func testLocalConflict(t *testing.T, e *syncEnv) {
	ctx := t.Context()
	lena := authn.User{ID: authn.NewID(), Username: "lena", DisplayName: "Lena (lokal)", Status: authn.StatusActive,
		Source: authn.SourceLocal, CreatedAt: syncT0, UpdatedAt: syncT0}
	if err := e.store.CreateUser(ctx, lena, authn.AuditEvent{Time: syncT0, Actor: "cli:root", Action: "user.create"}); err != nil {
		t.Fatal(err)
	}
	admins := authn.Group{ID: authn.NewID(), Name: "admins", DisplayName: "admins", Source: authn.SourceLocal, CreatedAt: syncT0}
	if err := e.store.CreateGroup(ctx, admins, authn.AuditEvent{Time: syncT0, Actor: "cli:root", Action: "group.create"}); err != nil {
		t.Fatal(err)
	}
	people := append(staffPeople(3), dirPerson("lena"), dirPerson("bert"))
	e.reader.set(people, Group{Name: "admins", Members: []string{"uuid-bert"}})
	res := e.sync()
	wantChanges(t, "Conflicts", res.Conflicts, "person:lena", "group:admins")
	wantChanges(t, "Created", res.Created, "person:staff01", "person:staff02", "person:staff03", "person:bert")
	got := e.user("lena")
	if got.ID != lena.ID || got.Source != authn.SourceLocal || got.Directory != "" || got.DisplayName != "Lena (lokal)" {
		t.Errorf("the local lena became %+v", got)
	}
	if m := e.members("admins"); len(m) != 0 {
		t.Errorf("the directory put %v into the local group admins", m)
	}
	// A directory person renamed onto the local name: neither changes.
	bert := e.user("bert")
	people = withPerson(people, "bert", func(p *Person) { p.Username, p.DisplayName = "lena", "Bert Neu" })
	e.reader.set(people)
	res = e.sync()
	if len(res.Conflicts) != 2 || len(res.Renamed) != 0 {
		t.Errorf("Conflicts %+v Renamed %+v", res.Conflicts, res.Renamed)
	}
	if b := e.userByID(bert.ID); b.Username != "bert" || b.DisplayName != bert.DisplayName {
		t.Errorf("bert became %+v", b)
	}
	if got := e.user("lena"); got.ID != lena.ID || got.DisplayName != "Lena (lokal)" {
		t.Errorf("the local lena became %+v", got)
	}
}

// The first sync of a city brings many new people at once (the names are
// checked against one read of everybody): a local name is a conflict too.
func testLocalConflictManyNew(t *testing.T, e *syncEnv) {
	lena := authn.User{ID: authn.NewID(), Username: "lena", DisplayName: "Lena (lokal)", Status: authn.StatusActive,
		Source: authn.SourceLocal, CreatedAt: syncT0, UpdatedAt: syncT0}
	if err := e.store.CreateUser(t.Context(), lena, authn.AuditEvent{Time: syncT0, Actor: "cli:root", Action: "user.create"}); err != nil {
		t.Fatal(err)
	}
	e.reader.set(append(staffPeople(300), dirPerson("lena")))
	res := e.sync()
	wantChanges(t, "Conflicts", res.Conflicts, "person:lena")
	if len(res.Created) != 300 {
		t.Errorf("created %d, want 300", len(res.Created))
	}
	if got := e.user("lena"); got.ID != lena.ID || got.Source != authn.SourceLocal {
		t.Errorf("the local lena became %+v", got)
	}
}

func testOtherDirectoryConflict(t *testing.T, e *syncEnv) {
	e.reader.set(append(staffPeople(3), dirPerson("anna")))
	e.sync()
	anna := e.user("anna")
	kreis := &syncEnv{t: t, store: e.store, reader: &snapReader{}, now: e.now, cfg: e.cfg}
	kreis.cfg.Name = "kreis"
	other := dirPerson("anna")
	other.ExternalID = "uuid-kreis-anna"
	kreis.reader.set([]Person{other, dirPerson("karl")})
	kreis.reader.snap.Directory = "kreis"
	res := kreis.sync()
	wantChanges(t, "Conflicts", res.Conflicts, "person:anna")
	wantChanges(t, "Created", res.Created, "person:karl")
	if got := e.user("anna"); got.ID != anna.ID || got.Directory != "rathaus" {
		t.Errorf("anna became %+v", got)
	}
	// The two directories do not see each other's people as leavers.
	if res := e.sync(); len(res.Disabled) != 0 {
		t.Errorf("rathaus disabled %v", res.Disabled)
	}
	if e.user("karl").Status != authn.StatusActive {
		t.Error("karl of the kreis was disabled")
	}
}

// valveSetup syncs 20 people and signs in staff01.
func (e *syncEnv) valveSetup() ([]Person, authn.SessionHash) {
	e.t.Helper()
	people := staffPeople(20)
	e.reader.set(people)
	e.sync()
	return people, e.signIn(e.user("staff01"))
}

// nothingChanged checks that the aborted run left everyone as she was and
// recorded the abort.
func (e *syncEnv) nothingChanged(h authn.SessionHash, n int) {
	e.t.Helper()
	if c := e.count(); c != n {
		e.t.Errorf("%d people after the abort, want %d", c, n)
	}
	list, err := e.store.ListDirectoryUsers(e.t.Context(), "rathaus")
	if err != nil {
		e.t.Fatal(err)
	}
	for _, u := range list {
		if u.Status != authn.StatusActive {
			e.t.Errorf("%s was disabled by an aborted run", u.Username)
		}
	}
	if !e.sessionUsable(h) {
		e.t.Error("an aborted run ended a session")
	}
	st := e.state()
	if st.LastOutcome != "aborted" || st.LastError == "" || st.LastGoodPeople != 20 {
		e.t.Errorf("state after the abort: %+v", st)
	}
	if len(e.audit("directory.sync.abort")) == 0 {
		e.t.Error("no audit event of the abort")
	}
	if len(e.disabled) != 0 {
		e.t.Errorf("OnDisabled(%v) after an abort", e.disabled)
	}
}

func testValveReadError(t *testing.T, e *syncEnv) {
	_, h := e.valveSetup()
	e.reader.fail(errors.New("LDAP Result Code 4 \"Size Limit Exceeded\""))
	res := e.aborted(RunOptions{AllowMassChange: true})
	if len(res.Created)+len(res.Disabled) != 0 {
		t.Errorf("aborted run reports changes: %+v", res)
	}
	e.nothingChanged(h, 20)
}

func testValveEmpty(t *testing.T, e *syncEnv) {
	_, h := e.valveSetup()
	e.reader.set(nil)
	e.aborted(RunOptions{AllowMassChange: true})
	e.nothingChanged(h, 20)
}

func testValveFewer(t *testing.T, e *syncEnv) {
	people, h := e.valveSetup()
	e.reader.set(append(people[4:], dirPerson("neu"))) // 17 of 20
	e.aborted(RunOptions{})
	e.nothingChanged(h, 20)
	if e.state().LastSuccessAt != syncT0 {
		t.Error("the abort moved the last success")
	}
	// Still the same after the abort: the last good count is kept.
	e.aborted(RunOptions{})
	// An administrator who knows it is right lets it pass.
	res := e.run(RunOptions{AllowMassChange: true, Actor: "cli:root"})
	if len(res.Disabled) != 4 || len(res.Created) != 1 {
		t.Errorf("allowed run: disabled %v created %v", res.Disabled, res.Created)
	}
	if st := e.state(); st.LastGoodPeople != 17 || st.LastOutcome != "ok" {
		t.Errorf("state after the allowed run: %+v", st)
	}
}

// A directory that stops answering fails the run at the deadline, and
// nobody is disabled.
func testValveDeadline(t *testing.T, e *syncEnv) {
	_, h := e.valveSetup()
	e.cfg.SyncDeadline = 300 * time.Millisecond
	e.reader.release = make(chan struct{}) // never closed: the read hangs
	done := make(chan error, 1)
	start := time.Now()
	go func() {
		_, err := e.syncer().Run(context.WithoutCancel(t.Context()), RunOptions{})
		done <- err
	}()
	select {
	case err := <-done:
		if !errors.Is(err, ErrAborted) || !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("Run: %v, want aborted at the deadline", err)
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("the run took %v", d)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the run hangs on a directory that does not answer")
	}
	e.nothingChanged(h, 20)
}

func testMassChange(t *testing.T, e *syncEnv) {
	e.cfg.MaxDisableFraction = 0.10
	people, h := e.valveSetup()
	e.now = e.now.Add(time.Hour)
	for _, n := range []string{"staff01", "staff02", "staff03"} { // 3 of 20 = 15 %
		people = withPerson(people, n, func(p *Person) { p.Disabled = true })
	}
	people = withPerson(people, "staff04", func(p *Person) { p.DisplayName = "Neuer Name" })
	e.reader.set(append(people, dirPerson("neu")))
	res := e.sync()
	if res.HeldBack != 3 || res.HeldBackReason == "" || len(res.Disabled) != 0 {
		t.Errorf("HeldBack %d (%q), Disabled %v", res.HeldBack, res.HeldBackReason, res.Disabled)
	}
	wantChanges(t, "Created", res.Created, "person:neu")
	wantChanges(t, "Updated", res.Updated, "person:staff04")
	if e.user("staff04").DisplayName != "Neuer Name" || e.user("neu").Status != authn.StatusActive {
		t.Error("the rest of the held-back run was not applied")
	}
	if e.user("staff01").Status != authn.StatusActive || !e.sessionUsable(h) {
		t.Error("a held-back person was disabled")
	}
	if st := e.state(); st.LastOutcome != "held_back" {
		t.Errorf("state = %+v", st)
	}
	res = e.run(RunOptions{AllowMassChange: true, Actor: "cli:root"})
	wantChanges(t, "Disabled", res.Disabled, "person:staff01", "person:staff02", "person:staff03")
	if e.sessionUsable(h) {
		t.Error("staff01's session outlived the allowed run")
	}
	evs := e.audit("directory.mass_change")
	if len(evs) != 1 || evs[0].Actor != "cli:root" || evs[0].Details["disabled"] != "3" {
		t.Errorf("mass change audit: %+v", evs)
	}
}

func testMassChangeCount(t *testing.T, e *syncEnv) {
	e.cfg.MaxDisableFraction, e.cfg.MaxDisableCount = 1, 2
	people, _ := e.valveSetup()
	for _, n := range []string{"staff01", "staff02", "staff03"} {
		people = withPerson(people, n, func(p *Person) { p.Disabled = true })
	}
	e.reader.set(people)
	if res := e.sync(); res.HeldBack != 3 || len(res.Disabled) != 0 {
		t.Errorf("HeldBack %d, Disabled %v: more than MaxDisableCount passed", res.HeldBack, res.Disabled)
	}
	e.cfg.MaxDisableCount = 3
	if res := e.sync(); len(res.Disabled) != 3 {
		t.Errorf("Disabled %v, want 3 (at the limit)", res.Disabled)
	}
}

func testAdminDisabledStays(t *testing.T, e *syncEnv) {
	people := append(staffPeople(20), dirPerson("anna"), dirPerson("bert"))
	e.reader.set(people)
	e.sync()
	anna := e.user("anna")
	_, err := e.store.UpdateUser(t.Context(), anna.ID, func(u authn.User) (authn.User, error) {
		u.Status, u.UpdatedAt = authn.StatusDisabled, e.now
		return u, nil
	}, authn.AuditEvent{Time: e.now, Actor: "cli:root", Action: "user.disable"})
	if err != nil {
		t.Fatal(err)
	}
	res := e.sync()
	if len(res.Enabled) != 0 || e.user("anna").Status != authn.StatusDisabled {
		t.Errorf("the sync enabled a person an administrator disabled: %+v", res.Enabled)
	}
	// Nor after she left the directory and came back, nor is she deleted.
	e.reader.set(withoutPerson(people, "anna"))
	e.sync()
	e.now = e.now.Add(40 * 24 * time.Hour)
	e.reader.set(people)
	res = e.sync()
	if len(res.Enabled)+len(res.Deleted) != 0 || e.user("anna").Status != authn.StatusDisabled {
		t.Errorf("Enabled %v Deleted %v", res.Enabled, res.Deleted)
	}
}

func testDryRun(t *testing.T, e *syncEnv) {
	e.reader.set(append(staffPeople(20), dirPerson("anna")), Group{Name: "rat", Members: []string{"uuid-anna"}})
	res := e.run(RunOptions{DryRun: true})
	if !res.DryRun || len(res.Created) != 22 {
		t.Errorf("dry run: %+v", res)
	}
	if n := e.count(); n != 0 {
		t.Errorf("a dry run created %d people", n)
	}
	if st := e.state(); st.LastRunAt != (time.Time{}) || len(e.audit("directory.sync")) != 0 {
		t.Errorf("a dry run left state %+v or audit", st)
	}
	e.sync()
	h := e.signIn(e.user("anna"))
	e.reader.set(staffPeople(20))
	res = e.run(RunOptions{DryRun: true})
	wantChanges(t, "Disabled (dry)", res.Disabled, "person:anna")
	if e.user("anna").Status != authn.StatusActive || !e.sessionUsable(h) || len(e.disabled) != 0 {
		t.Error("a dry run disabled anna")
	}
	if m := e.members("rat"); !slices.Equal(m, []string{"anna"}) {
		t.Errorf("a dry run changed rat: %v", m)
	}
}

// Two processes (two Stores on one database) sync at once: exactly one
// runs, the other gets ErrBusy and changes nothing.
func testOneSyncAtATime(t *testing.T, e *syncEnv) {
	e.reader.set(staffPeople(5))
	e.reader.reading, e.reader.release = make(chan struct{}), make(chan struct{})
	other := &syncEnv{t: t, store: openSyncStore(t, e.url), reader: &snapReader{}, now: e.now, cfg: e.cfg}
	other.reader.set(staffPeople(7))

	type outcome struct {
		res Result
		err error
	}
	first := make(chan outcome, 1)
	go func() {
		res, err := e.syncer().Run(context.WithoutCancel(t.Context()), RunOptions{})
		first <- outcome{res, err}
	}()
	<-e.reader.reading // the first holds the lock and reads
	_, err := other.syncer().Run(t.Context(), RunOptions{})
	if !errors.Is(err, ErrBusy) {
		t.Errorf("the second sync: %v, want ErrBusy", err)
	}
	close(e.reader.release)
	got := <-first
	if got.err != nil || len(got.res.Created) != 5 {
		t.Fatalf("the first sync: %v, %+v", got.err, got.res)
	}
	if n := e.count(); n != 5 {
		t.Errorf("%d people, want the first sync's 5", n)
	}
	// Once the first is done, the other may sync.
	if res, err := other.syncer().Run(t.Context(), RunOptions{}); err != nil || len(res.Created) != 2 {
		t.Errorf("the second sync afterwards: %v, %+v", err, res)
	}
}
