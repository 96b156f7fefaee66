package storetest

import (
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/keyhall/keyhall/authn"
)

// RunDirectory runs the conformance tests of authn.DirectoryStore (directory
// sync): newStore must return a fresh, empty store and close it at t's
// cleanup.
func RunDirectory(t *testing.T, newStore func(t *testing.T) authn.Store) {
	tests := []struct {
		name string
		run  func(t *testing.T, s authn.Store)
	}{
		{"DirectoryFieldsStored", testDirectoryFieldsStored},
		{"DirectoryApply", testDirectoryApply},
		{"DirectoryRenameSwap", testDirectoryRenameSwap},
		{"DirectoryDisable", testDirectoryDisable},
		{"DirectoryEnableDelete", testDirectoryEnableDelete},
		{"DirectoryOthersUntouched", testDirectoryOthersUntouched},
		{"DirectoryAllOrNothing", testDirectoryAllOrNothing},
		{"DirectoryState", testDirectoryState},
		{"DirectoryLock", testDirectoryLock},
		{"DirectoryLockConcurrent", testDirectoryLockConcurrent},
		{"DirectoryAdminDisable", testDirectoryAdminDisable},
		{"DirectoryEachUser", testDirectoryEachUser},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.run(t, newStore(t))
		})
	}
}

const testDir = "rathaus"

// dirUser returns a new person of testDir named name.
func dirUser(t *testing.T, name string) authn.User {
	t.Helper()
	u := newUser(t, name)
	u.Source, u.Directory, u.ExternalID, u.Phone = authn.SourceDirectory, testDir, "ext-"+u.Username, "+49 251 492-0"
	return u
}

func dirGroup(name string) authn.Group {
	return authn.Group{ID: authn.NewID(), ExternalID: "ext-" + name, Name: name, DisplayName: name,
		Source: authn.SourceDirectory, Directory: testDir, CreatedAt: t0}
}

func syncEv() authn.AuditEvent { return ev("directory.sync", "directory:"+testDir) }

// apply applies ch to testDir and fails t on an error.
func apply(t *testing.T, s authn.Store, ch authn.DirectoryChanges) authn.DirectoryApplied {
	t.Helper()
	if ch.At.IsZero() {
		ch.At = t0
	}
	done, err := s.ApplyDirectorySync(t.Context(), testDir, ch, syncEv())
	must(t, "ApplyDirectorySync", err)
	return done
}

// dirUsers returns the people of testDir by id.
func dirUsers(t *testing.T, s authn.Store) map[string]authn.DirectoryUser {
	t.Helper()
	list, err := s.ListDirectoryUsers(t.Context(), testDir)
	must(t, "ListDirectoryUsers", err)
	out := map[string]authn.DirectoryUser{}
	for _, u := range list {
		out[u.ID] = u
	}
	return out
}

// The new fields of a person (Directory, Phone) and a group (Directory)
// are stored and read back by every read.
func testDirectoryFieldsStored(t *testing.T, s authn.Store) {
	ctx := t.Context()
	anna := dirUser(t, "anna")
	must(t, "CreateUser", s.CreateUser(ctx, anna, ev("user.create", "")))
	want := normUser(anna)
	got, err := s.GetUser(ctx, anna.ID)
	must(t, "GetUser", err)
	same(t, "GetUser", got, want, normUser)
	got, err = s.GetUserByUsername(ctx, "anna")
	must(t, "GetUserByUsername", err)
	same(t, "GetUserByUsername", got, want, normUser)
	rec, err := s.GetSignInRecord(ctx, anna.ID)
	must(t, "GetSignInRecord", err)
	same(t, "GetSignInRecord", rec.User, want, normUser)
	list, err := s.ListUsers(ctx, authn.UserFilter{})
	must(t, "ListUsers", err)
	if len(list) != 1 {
		t.Fatalf("ListUsers: %d people", len(list))
	}
	same(t, "ListUsers", list[0], want, normUser)

	g := dirGroup("rat")
	must(t, "CreateGroup", s.CreateGroup(ctx, g, ev("group.create", "")))
	gg, err := s.GetGroupByName(ctx, "rat")
	must(t, "GetGroupByName", err)
	same(t, "GetGroupByName", gg, g, normGroup)
	must(t, "AddMember", s.AddMember(ctx, g.ID, anna.ID, ev("group.add", "")))
	members, err := s.GroupMembers(ctx, g.ID)
	must(t, "GroupMembers", err)
	if len(members) != 1 {
		t.Fatalf("GroupMembers: %d", len(members))
	}
	same(t, "GroupMembers", members[0], want, normUser)

	got, err = s.UpdateUser(ctx, anna.ID, func(u authn.User) (authn.User, error) {
		u.Phone = "+49 251 1"
		return u, nil
	}, ev("user.update", ""))
	must(t, "UpdateUser", err)
	if got.Phone != "+49 251 1" || got.Directory != testDir {
		t.Errorf("UpdateUser gave phone %q directory %q", got.Phone, got.Directory)
	}
	got, err = s.GetUser(ctx, anna.ID)
	must(t, "GetUser", err)
	if got.Phone != "+49 251 1" || got.Directory != testDir {
		t.Errorf("after UpdateUser stored phone %q directory %q", got.Phone, got.Directory)
	}
}

// Creates, updates, groups and memberships are applied; lists and the state
// show them; the audit events are appended.
func testDirectoryApply(t *testing.T, s authn.Store) {
	ctx := t.Context()
	anna, bert := dirUser(t, "anna"), dirUser(t, "bert")
	rat := dirGroup("rat")
	before := auditCount(t, s)
	apply(t, s, authn.DirectoryChanges{
		Create: []authn.User{anna, bert}, CreateGroups: []authn.Group{rat},
		AddMembers: []authn.Membership{{GroupID: rat.ID, UserID: anna.ID}, {GroupID: rat.ID, UserID: bert.ID}},
		State:      &authn.DirectoryState{LastGoodPeople: 2, LastSuccessAt: t0, LastRunAt: t0, LastOutcome: "ok"},
	})
	if n := auditCount(t, s); n != before+1 {
		t.Errorf("%d audit events appended, want 1", n-before)
	}
	users := dirUsers(t, s)
	if len(users) != 2 {
		t.Fatalf("ListDirectoryUsers: %d people, want 2", len(users))
	}
	same(t, "anna listed", users[anna.ID].User, anna, normUser)
	groups, err := s.ListDirectoryGroups(ctx, testDir)
	must(t, "ListDirectoryGroups", err)
	want := slices.Sorted(slices.Values([]string{anna.ID, bert.ID}))
	if len(groups) != 1 || groups[0].Name != "rat" || !slices.Equal(groups[0].Members, want) {
		t.Fatalf("ListDirectoryGroups = %+v, want rat with %v", groups, want)
	}
	st, err := s.GetDirectoryState(ctx, testDir)
	must(t, "GetDirectoryState", err)
	if st.Directory != testDir || st.LastGoodPeople != 2 || !st.LastSuccessAt.Equal(micro(t0)) || st.LastOutcome != "ok" {
		t.Errorf("state = %+v", st)
	}

	// Update: attributes change; membership removed; group renamed display.
	anna.DisplayName, anna.Email, anna.Phone, anna.PostalAddress = "Anna Schmidt", "anna.schmidt@example.org", "+49 1", []string{"Neue Straße 1", "48143 Münster"}
	anna.UpdatedAt = t0.Add(time.Hour)
	rat.DisplayName = "Rat der Stadt"
	apply(t, s, authn.DirectoryChanges{
		Update: []authn.User{anna}, UpdateGroups: []authn.Group{rat},
		RemoveMembers: []authn.Membership{{GroupID: rat.ID, UserID: bert.ID}},
	})
	got, err := s.GetUser(ctx, anna.ID)
	must(t, "GetUser", err)
	same(t, "anna after update", got, anna, normUser)
	found, err := s.ListUsers(ctx, authn.UserFilter{Query: "schmidt"})
	must(t, "ListUsers", err)
	if len(found) != 1 || found[0].ID != anna.ID {
		t.Errorf("ListUsers(schmidt) = %v: the search text was not updated", found)
	}
	groups, err = s.ListDirectoryGroups(ctx, testDir)
	must(t, "ListDirectoryGroups", err)
	if len(groups) != 1 || groups[0].DisplayName != "Rat der Stadt" || !slices.Equal(groups[0].Members, []string{anna.ID}) {
		t.Errorf("after update: %+v", groups)
	}
}

// Two people who swap usernames in one run keep their ids.
func testDirectoryRenameSwap(t *testing.T, s authn.Store) {
	anna, bert := dirUser(t, "anna"), dirUser(t, "bert")
	apply(t, s, authn.DirectoryChanges{Create: []authn.User{anna, bert}})
	anna.Username, bert.Username = "bert", "anna"
	apply(t, s, authn.DirectoryChanges{Update: []authn.User{anna, bert}})
	users := dirUsers(t, s)
	if users[anna.ID].Username != "bert" || users[bert.ID].Username != "anna" {
		t.Errorf("after the swap: %q and %q", users[anna.ID].Username, users[bert.ID].Username)
	}
}

// Disabling a person ends her sessions and OIDC tokens in the same
// transaction and names the clients to tell; a caller that asks the OIDC
// store for her grants afterwards (web's OIDCUserSignedOut) still finds
// them, so the back-channel logouts go out.
func testDirectoryDisable(t *testing.T, s authn.Store) {
	ctx := t.Context()
	o := s.(authn.OIDCStore)
	anna, bert := dirUser(t, "anna"), dirUser(t, "bert")
	apply(t, s, authn.DirectoryChanges{Create: []authn.User{anna, bert}})
	sa, sb := mkSession(t, s, anna, t0), mkSession(t, s, bert, t0)
	getSession(t, s, sa.Hash) // in the cache, if the store has one
	r := signedIn(t, o, anna, "code")
	toks := newTokens(r, "rt")
	must(t, "CreateOIDCTokens", o.CreateOIDCTokens(ctx, toks...))
	key := mkCredential(t, s, newKey(anna, t0))

	at := t0.Add(time.Minute)
	done := apply(t, s, authn.DirectoryChanges{At: at, Disable: []authn.DirectoryDisable{{UserID: anna.ID, Reason: "not found"}}})
	if !slices.Equal(done.Disabled, []string{anna.ID}) {
		t.Errorf("Disabled = %v", done.Disabled)
	}
	wantRef := authn.OIDCGrantRef{ClientID: "wiki", UserID: anna.ID, Session: r.Session}
	if len(done.Logouts) != 1 || done.Logouts[0] != wantRef {
		t.Errorf("Logouts = %+v, want [%+v]", done.Logouts, wantRef)
	}
	u := dirUsers(t, s)[anna.ID]
	if u.Status != authn.StatusDisabled || u.DisabledBy != authn.DisabledByDirectory || !u.DisabledAt.Equal(micro(at)) {
		t.Errorf("anna after disable: status %s by %q at %v", u.Status, u.DisabledBy, u.DisabledAt)
	}
	if got := getSession(t, s, sa.Hash); got.Usable(at, 0) {
		t.Error("anna's session is usable after she was disabled")
	}
	if got := getSession(t, s, sb.Hash); !got.Usable(at, 0) {
		t.Error("bert's session ended with anna's")
	}
	for _, tok := range toks {
		if !revoked(t, o, tok.ID) {
			t.Errorf("anna's %s token not revoked", tok.Kind)
		}
	}
	refs, err := o.RevokeOIDCUserTokens(ctx, anna.ID, at)
	must(t, "RevokeOIDCUserTokens", err)
	if len(refs) != 1 || refs[0] != wantRef {
		t.Errorf("RevokeOIDCUserTokens after the sync = %+v: the back-channel logout would not be sent", refs)
	}
	creds, err := s.ListCredentials(ctx, anna.ID)
	must(t, "ListCredentials", err)
	if len(creds) != 1 || creds[0].ID != key.ID {
		t.Errorf("credentials after disable: %v", creds)
	}
	// A second disable changes nothing and names nobody.
	done = apply(t, s, authn.DirectoryChanges{At: at.Add(time.Hour), Disable: []authn.DirectoryDisable{{UserID: anna.ID}}})
	if len(done.Disabled) != 0 || !dirUsers(t, s)[anna.ID].DisabledAt.Equal(micro(at)) {
		t.Errorf("a second disable: %v, disabled at %v", done.Disabled, dirUsers(t, s)[anna.ID].DisabledAt)
	}
}

// Enable and Delete touch only people the directory disabled; a delete
// waits for DeleteBefore and keeps the audit log.
func testDirectoryEnableDelete(t *testing.T, s authn.Store) {
	ctx := t.Context()
	anna, bert, cora := dirUser(t, "anna"), dirUser(t, "bert"), dirUser(t, "cora")
	apply(t, s, authn.DirectoryChanges{Create: []authn.User{anna, bert, cora}})
	mkCredential(t, s, newKey(anna, t0))
	// cora is disabled by an administrator.
	_, err := s.UpdateUser(ctx, cora.ID, func(u authn.User) (authn.User, error) {
		u.Status, u.UpdatedAt = authn.StatusDisabled, t0
		return u, nil
	}, ev("user.disable", ""))
	must(t, "UpdateUser", err)
	if u := dirUsers(t, s)[cora.ID]; u.DisabledBy != authn.DisabledByAdmin {
		t.Errorf("disabled by UpdateUser: DisabledBy %q, want admin", u.DisabledBy)
	}
	at := t0.Add(time.Hour)
	apply(t, s, authn.DirectoryChanges{At: at, Disable: []authn.DirectoryDisable{{UserID: anna.ID}, {UserID: bert.ID}}})

	done := apply(t, s, authn.DirectoryChanges{At: at.Add(time.Hour), Enable: []string{anna.ID, cora.ID}})
	if !slices.Equal(done.Enabled, []string{anna.ID}) {
		t.Errorf("Enabled = %v, want only anna", done.Enabled)
	}
	users := dirUsers(t, s)
	if users[anna.ID].Status != authn.StatusActive || users[anna.ID].DisabledBy != "" || !users[anna.ID].DisabledAt.IsZero() {
		t.Errorf("anna after enable: %+v", users[anna.ID])
	}
	if users[cora.ID].Status != authn.StatusDisabled {
		t.Error("the sync enabled a person an administrator disabled")
	}
	creds, err := s.ListCredentials(ctx, anna.ID)
	must(t, "ListCredentials", err)
	if len(creds) != 1 {
		t.Errorf("anna came back with %d credentials, want her key", len(creds))
	}

	// Too early: bert was disabled at `at`, after DeleteBefore.
	done = apply(t, s, authn.DirectoryChanges{Delete: []string{bert.ID, cora.ID, anna.ID}, DeleteBefore: at.Add(-time.Second)})
	if len(done.Deleted) != 0 || len(dirUsers(t, s)) != 3 {
		t.Fatalf("deleted %v before the grace period", done.Deleted)
	}
	done = apply(t, s, authn.DirectoryChanges{Delete: []string{bert.ID, cora.ID, anna.ID}, DeleteBefore: at})
	if !slices.Equal(done.Deleted, []string{bert.ID}) {
		t.Errorf("Deleted = %v, want only bert (anna is active, cora was disabled by an admin)", done.Deleted)
	}
	_, err = s.GetUser(ctx, bert.ID)
	wantErr(t, "GetUser(deleted)", err, authn.ErrNotFound)
	evs, err := s.ListAudit(ctx, authn.AuditFilter{Limit: 1000})
	must(t, "ListAudit", err)
	if len(evs) == 0 {
		t.Error("the audit log is gone")
	}
}

// A local person, or one of another directory, is never changed by a
// directory's sync; an update of one fails the whole run.
func testDirectoryOthersUntouched(t *testing.T, s authn.Store) {
	ctx := t.Context()
	local := mkUser(t, s, "lena")
	other := newUser(t, "otto")
	other.Source, other.Directory, other.ExternalID = authn.SourceDirectory, "kreis", "ext-otto"
	must(t, "CreateUser", s.CreateUser(ctx, other, ev("user.create", "")))
	sess := mkSession(t, s, local, t0)
	done := apply(t, s, authn.DirectoryChanges{
		Disable: []authn.DirectoryDisable{{UserID: local.ID}, {UserID: other.ID}},
		Delete:  []string{local.ID, other.ID}, DeleteBefore: t0.Add(time.Hour),
	})
	if len(done.Disabled)+len(done.Deleted) != 0 {
		t.Errorf("disabled %v deleted %v of other sources", done.Disabled, done.Deleted)
	}
	for _, id := range []string{local.ID, other.ID} {
		u, err := s.GetUser(ctx, id)
		must(t, "GetUser", err)
		if u.Status != authn.StatusActive {
			t.Errorf("%s disabled by another directory's sync", u.Username)
		}
	}
	if !getSession(t, s, sess.Hash).Usable(t0, 0) {
		t.Error("a local person's session ended")
	}
	upd := local
	upd.DisplayName = "Taken Over"
	_, err := s.ApplyDirectorySync(ctx, testDir, authn.DirectoryChanges{At: t0, Update: []authn.User{upd}}, syncEv())
	wantErr(t, "ApplyDirectorySync(update of a local person)", err, authn.ErrNotFound)
	if got, _ := s.GetUser(ctx, local.ID); got.DisplayName != local.DisplayName {
		t.Error("a local person was updated")
	}
	// Group memberships of a local group are not changed either.
	admins := authn.Group{ID: authn.NewID(), Name: "admins", DisplayName: "admins", Source: authn.SourceLocal, CreatedAt: t0}
	must(t, "CreateGroup", s.CreateGroup(ctx, admins, ev("group.create", "")))
	apply(t, s, authn.DirectoryChanges{AddMembers: []authn.Membership{{GroupID: admins.ID, UserID: other.ID}}})
	if m, _ := s.GroupMembers(ctx, admins.ID); len(m) != 0 {
		t.Error("a directory sync added a member to a local group")
	}
}

// A run that fails stores nothing of it.
func testDirectoryAllOrNothing(t *testing.T, s authn.Store) {
	ctx := t.Context()
	anna := dirUser(t, "anna")
	apply(t, s, authn.DirectoryChanges{Create: []authn.User{anna}})
	sess := mkSession(t, s, anna, t0)
	mkUser(t, s, "lena")
	clash := dirUser(t, "lena") // a local person holds the name
	before := auditCount(t, s)
	_, err := s.ApplyDirectorySync(ctx, testDir, authn.DirectoryChanges{
		At:      t0,
		Disable: []authn.DirectoryDisable{{UserID: anna.ID}},
		Create:  []authn.User{dirUser(t, "bert"), clash},
		State:   &authn.DirectoryState{LastGoodPeople: 9, LastOutcome: "ok"},
	}, syncEv())
	wantErr(t, "ApplyDirectorySync(taken name)", err, authn.ErrAlreadyExists)
	users := dirUsers(t, s)
	if len(users) != 1 || users[anna.ID].Status != authn.StatusActive {
		t.Errorf("a failed run left %d people, anna %s", len(users), users[anna.ID].Status)
	}
	if !getSession(t, s, sess.Hash).Usable(t0, 0) {
		t.Error("a failed run ended a session")
	}
	if st, _ := s.GetDirectoryState(ctx, testDir); st.LastGoodPeople != 0 {
		t.Errorf("a failed run stored the state %+v", st)
	}
	if n := auditCount(t, s); n != before {
		t.Errorf("a failed run appended %d audit events", n-before)
	}
}

func testDirectoryState(t *testing.T, s authn.Store) {
	ctx := t.Context()
	st, err := s.GetDirectoryState(ctx, testDir)
	must(t, "GetDirectoryState", err)
	if st != (authn.DirectoryState{Directory: testDir}) {
		t.Errorf("state of a directory never synced: %+v", st)
	}
	want := authn.DirectoryState{Directory: testDir, LastGoodPeople: 120, LastSuccessAt: micro(t0), LastRunAt: micro(t0.Add(time.Hour)),
		LastOutcome: "aborted", LastError: "fewer than 90 %", Markers: `{"usn":"17"}`}
	before := auditCount(t, s)
	must(t, "PutDirectoryState", s.PutDirectoryState(ctx, want, ev("directory.sync.abort", "directory:"+testDir)))
	must(t, "PutDirectoryState", s.PutDirectoryState(ctx, want, ev("directory.sync.abort", "directory:"+testDir)))
	st, err = s.GetDirectoryState(ctx, testDir)
	must(t, "GetDirectoryState", err)
	if st != want {
		t.Errorf("state:\n got %+v\nwant %+v", st, want)
	}
	if n := auditCount(t, s); n != before+2 {
		t.Errorf("%d audit events, want 2", n-before)
	}
	if other, _ := s.GetDirectoryState(ctx, "kreis"); other.LastGoodPeople != 0 {
		t.Error("directories share their state")
	}
}

func testDirectoryLock(t *testing.T, s authn.Store) {
	ctx := t.Context()
	lock := func(holder string, now time.Time) bool {
		t.Helper()
		ok, err := s.TryLockDirectory(ctx, testDir, holder, now, time.Minute)
		must(t, "TryLockDirectory", err)
		return ok
	}
	if !lock("a", t0) {
		t.Fatal("a did not get a free lock")
	}
	if lock("b", t0.Add(30*time.Second)) {
		t.Fatal("b got a's lock")
	}
	if ok, _ := s.TryLockDirectory(ctx, "kreis", "b", t0, time.Minute); !ok {
		t.Error("the lock of one directory holds another")
	}
	if !lock("a", t0.Add(50*time.Second)) {
		t.Fatal("a could not extend its lease")
	}
	if lock("b", t0.Add(100*time.Second)) {
		t.Fatal("b got a's extended lease")
	}
	anna := dirUser(t, "anna")
	_, err := s.ApplyDirectorySync(ctx, testDir, authn.DirectoryChanges{Holder: "b", At: t0.Add(100 * time.Second), Create: []authn.User{anna}}, syncEv())
	wantErr(t, "ApplyDirectorySync by a non-holder", err, authn.ErrNotLocked)
	if len(dirUsers(t, s)) != 0 {
		t.Error("a non-holder's run was stored")
	}
	apply(t, s, authn.DirectoryChanges{Holder: "a", At: t0.Add(100 * time.Second), Create: []authn.User{anna}})
	if !lock("b", t0.Add(111*time.Second)) {
		t.Fatal("b did not get an expired lease")
	}
	_, err = s.ApplyDirectorySync(ctx, testDir, authn.DirectoryChanges{Holder: "a", At: t0.Add(112 * time.Second)}, syncEv())
	wantErr(t, "ApplyDirectorySync after the lease expired", err, authn.ErrNotLocked)
	must(t, "UnlockDirectory(a, not holder)", s.UnlockDirectory(ctx, testDir, "a"))
	if lock("c", t0.Add(113*time.Second)) {
		t.Fatal("a's unlock ended b's lease")
	}
	must(t, "UnlockDirectory", s.UnlockDirectory(ctx, testDir, "b"))
	if !lock("c", t0.Add(114*time.Second)) {
		t.Fatal("c did not get the lock b gave up")
	}
}

func testDirectoryLockConcurrent(t *testing.T, s authn.Store) {
	const n = 12
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		won  []int
		errs []error
	)
	for i := range n {
		wg.Go(func() {
			ok, err := s.TryLockDirectory(t.Context(), testDir, "holder-"+string(rune('a'+i)), t0, time.Minute)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, err)
			}
			if ok {
				won = append(won, i)
			}
		})
	}
	wg.Wait()
	if len(errs) > 0 {
		t.Fatalf("TryLockDirectory: %v", errs)
	}
	if len(won) != 1 {
		t.Errorf("%d holders got the lock at once: %v", len(won), won)
	}
}

// An administrator's disable (DisableUser) of a person the directory
// disabled already makes her disabled by both: the sync's Enable no longer
// enables her, and the administrator's EnableUser does not lift the
// directory's disable (ErrAccountDisabled, nothing stored) until the
// directory enables her. The directory's Disable of a person an
// administrator disabled does the same. A second DisableUser stores
// nothing, not even an audit event; an unknown person is ErrNotFound.
func testDirectoryAdminDisable(t *testing.T, s authn.Store) {
	ctx := t.Context()
	anna, bert := dirUser(t, "anna"), dirUser(t, "bert")
	apply(t, s, authn.DirectoryChanges{Create: []authn.User{anna, bert}})
	at := t0.Add(time.Minute)
	apply(t, s, authn.DirectoryChanges{At: at, Disable: []authn.DirectoryDisable{{UserID: anna.ID, Reason: "disabled in directory"}}})

	changed, err := s.DisableUser(ctx, anna.ID, at.Add(time.Hour), ev("user.disable", "user:"+anna.ID))
	must(t, "DisableUser", err)
	u := dirUsers(t, s)[anna.ID]
	if !changed || u.Status != authn.StatusDisabled || u.DisabledBy != authn.DisabledByAdminAndDirectory || !u.DisabledAt.Equal(micro(at)) {
		t.Errorf("anna after DisableUser: changed %v, status %s by %q at %v", changed, u.Status, u.DisabledBy, u.DisabledAt)
	}
	enabled, err := s.EnableUser(ctx, anna.ID, at.Add(time.Hour), ev("user.enable", "user:"+anna.ID))
	wantErr(t, "EnableUser(disabled by both)", err, authn.ErrAccountDisabled)
	if u := dirUsers(t, s)[anna.ID]; enabled || u.Status != authn.StatusDisabled || u.DisabledBy != authn.DisabledByAdminAndDirectory {
		t.Errorf("anna after EnableUser: changed %v, %s by %q, want disabled by both", enabled, u.Status, u.DisabledBy)
	}
	apply(t, s, authn.DirectoryChanges{At: at.Add(2 * time.Hour), Enable: []string{anna.ID}})
	if u := dirUsers(t, s)[anna.ID]; u.Status != authn.StatusDisabled || u.DisabledBy != authn.DisabledByAdmin {
		t.Errorf("the sync's Enable of anna, whom an administrator disabled too: %s by %q, want disabled by admin", u.Status, u.DisabledBy)
	}

	before, err := s.ListAudit(ctx, authn.AuditFilter{Limit: 1000})
	must(t, "ListAudit", err)
	changed, err = s.DisableUser(ctx, anna.ID, at.Add(3*time.Hour), ev("user.disable", "user:"+anna.ID))
	must(t, "DisableUser again", err)
	after, err := s.ListAudit(ctx, authn.AuditFilter{Limit: 1000})
	must(t, "ListAudit", err)
	if changed || len(after) != len(before) {
		t.Errorf("a second DisableUser: changed %v, audit events %d → %d", changed, len(before), len(after))
	}

	changed, err = s.DisableUser(ctx, bert.ID, at, ev("user.disable", "user:"+bert.ID))
	must(t, "DisableUser(bert)", err)
	if u := dirUsers(t, s)[bert.ID]; !changed || u.Status != authn.StatusDisabled || u.DisabledBy != authn.DisabledByAdmin {
		t.Errorf("bert after DisableUser: changed %v, %s by %q", changed, u.Status, u.DisabledBy)
	}
	// The directory disables bert too: by both, from then on.
	later := at.Add(4 * time.Hour)
	apply(t, s, authn.DirectoryChanges{At: later, Disable: []authn.DirectoryDisable{{UserID: bert.ID, Reason: "disabled in directory"}}})
	if u := dirUsers(t, s)[bert.ID]; u.Status != authn.StatusDisabled || u.DisabledBy != authn.DisabledByAdminAndDirectory || !u.DisabledAt.Equal(micro(later)) {
		t.Errorf("bert after the directory's Disable: %s by %q at %v, want by both at %v", u.Status, u.DisabledBy, u.DisabledAt, micro(later))
	}
	_, err = s.EnableUser(ctx, bert.ID, later, ev("user.enable", "user:"+bert.ID))
	wantErr(t, "EnableUser(bert, disabled by both)", err, authn.ErrAccountDisabled)
	apply(t, s, authn.DirectoryChanges{At: later, Enable: []string{bert.ID}})
	if changed, err := s.EnableUser(ctx, bert.ID, later, ev("user.enable", "user:"+bert.ID)); err != nil || !changed {
		t.Errorf("EnableUser(bert) once the directory enabled him: changed %v, %v", changed, err)
	}
	if u := dirUsers(t, s)[bert.ID]; u.Status != authn.StatusActive || u.DisabledBy != "" {
		t.Errorf("bert enabled by both: %s by %q", u.Status, u.DisabledBy)
	}
	_, err = s.DisableUser(ctx, authn.NewID(), at, ev("user.disable", "user:x"))
	wantErr(t, "DisableUser(unknown)", err, authn.ErrNotFound)

	// A leaver an administrator disabled too is deleted after the grace
	// period, counted from the directory's disable.
	cora := dirUser(t, "cora")
	apply(t, s, authn.DirectoryChanges{At: at, Create: []authn.User{cora}})
	apply(t, s, authn.DirectoryChanges{At: at, Disable: []authn.DirectoryDisable{{UserID: cora.ID, Reason: "not found"}}})
	_, err = s.DisableUser(ctx, cora.ID, later, ev("user.disable", "user:"+cora.ID))
	must(t, "DisableUser(cora)", err)
	if done := apply(t, s, authn.DirectoryChanges{At: later, Delete: []string{cora.ID}, DeleteBefore: at.Add(-time.Second)}); len(done.Deleted) != 0 {
		t.Errorf("cora, disabled by both, deleted before her grace: %v", done.Deleted)
	}
	if done := apply(t, s, authn.DirectoryChanges{At: later, Delete: []string{cora.ID}, DeleteBefore: at}); !slices.Equal(done.Deleted, []string{cora.ID}) {
		t.Errorf("cora, disabled by both, after her grace: deleted %v, want her", done.Deleted)
	}
}

// EachDirectoryUser yields the people ListDirectoryUsers lists, in its
// order, with their status; nobody else's; without attrs only the fields
// that match people and tell their status; an error of the callback ends
// it.
func testDirectoryEachUser(t *testing.T, s authn.Store) {
	ctx := t.Context()
	mkUser(t, s, "lena")
	other := newUser(t, "otto")
	other.Source, other.Directory, other.ExternalID = authn.SourceDirectory, "kreis", "ext-otto"
	must(t, "CreateUser", s.CreateUser(ctx, other, ev("user.create", "")))
	anna, bert, cora := dirUser(t, "anna"), dirUser(t, "bert"), dirUser(t, "cora")
	anna.PostalAddress = []string{"Prinzipalmarkt 10", "48143 Münster"}
	apply(t, s, authn.DirectoryChanges{Create: []authn.User{cora, anna, bert}})
	apply(t, s, authn.DirectoryChanges{Disable: []authn.DirectoryDisable{{UserID: bert.ID, Reason: "not found"}}})
	list, err := s.ListDirectoryUsers(ctx, testDir)
	must(t, "ListDirectoryUsers", err)
	var got []authn.DirectoryUser
	must(t, "EachDirectoryUser", s.EachDirectoryUser(ctx, testDir, true, func(u authn.DirectoryUser) error {
		got = append(got, u)
		return nil
	}))
	names := func(us []authn.DirectoryUser) (out []string) {
		for _, u := range us {
			out = append(out, u.Username)
		}
		return out
	}
	if !slices.Equal(names(got), []string{"anna", "bert", "cora"}) {
		t.Fatalf("EachDirectoryUser gave %v, want anna, bert, cora", names(got))
	}
	norm := func(us []authn.DirectoryUser) []authn.DirectoryUser {
		out := slices.Clone(us)
		for i := range out {
			out[i].User, out[i].DisabledAt = normUser(out[i].User), micro(out[i].DisabledAt)
		}
		return out
	}
	same(t, "EachDirectoryUser", got, list, norm)
	if got[1].DisabledBy != authn.DisabledByDirectory || got[1].DisabledAt.IsZero() || got[1].Status != authn.StatusDisabled {
		t.Errorf("bert: %+v, want disabled by the directory", got[1])
	}
	// Without the attributes: the fields that match people and tell their
	// status, and no others.
	var narrow []authn.DirectoryUser
	must(t, "EachDirectoryUser(attrs false)", s.EachDirectoryUser(ctx, testDir, false, func(u authn.DirectoryUser) error {
		narrow = append(narrow, u)
		return nil
	}))
	want := slices.Clone(list)
	for i, u := range want {
		want[i].User = authn.User{ID: u.ID, ExternalID: u.ExternalID, Username: u.Username, Status: u.Status,
			Source: u.Source, Directory: u.Directory}
	}
	same(t, "EachDirectoryUser(attrs false)", narrow, want, norm)
	stop := errors.New("stop")
	n := 0
	err = s.EachDirectoryUser(ctx, testDir, true, func(authn.DirectoryUser) error { n++; return stop })
	if !errors.Is(err, stop) || n != 1 {
		t.Errorf("EachDirectoryUser with a failing callback: %v after %d people, want stop after 1", err, n)
	}
}
