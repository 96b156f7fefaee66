package storetest

import (
	"slices"
	"testing"
	"time"

	"github.com/keyhall/keyhall/authn"
)

// RunSearch runs the conformance tests of authn.SearchStore (the IT
// console's reads): newStore must return a fresh, empty store and close it
// at t's cleanup.
func RunSearch(t *testing.T, newStore func(t *testing.T) authn.Store) {
	tests := []struct {
		name string
		run  func(t *testing.T, s authn.Store)
	}{
		{"SearchUsers", testSearchUsers},
		{"SearchFollowsWrites", testSearchFollowsWrites},
		{"FactorCounts", testFactorCounts},
		{"OpenInvitationAges", testOpenInvitationAges},
		{"SearchAudit", testSearchAudit},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.run(t, newStore(t))
		})
	}
}

// found returns the usernames SearchUsers finds for q.
func found(t *testing.T, s authn.Store, q, after string, limit int) []string {
	t.Helper()
	list, err := s.SearchUsers(t.Context(), q, after, limit)
	must(t, "SearchUsers("+q+")", err)
	var names []string
	for _, u := range list {
		names = append(names, u.Username)
	}
	return names
}

func wantFound(t *testing.T, s authn.Store, q string, want ...string) {
	t.Helper()
	if got := found(t, s, q, "", 0); !slices.Equal(got, want) {
		t.Errorf("SearchUsers(%q) = %q, want %q", q, got, want)
	}
}

// mkPerson creates a person with a display name and e-mail.
func mkPerson(t *testing.T, s authn.Store, username, display, email string) authn.User {
	t.Helper()
	u := newUser(t, username)
	u.DisplayName, u.Email = display, email
	must(t, "CreateUser", s.CreateUser(t.Context(), u, ev("user.create", "user:"+u.ID)))
	return u
}

// The console finds people by the start of a word of their name, username
// or e-mail, whatever the case and umlauts: "muller", "müller", "mueller"
// find Müller; every word of the query must match.
func testSearchUsers(t *testing.T, s authn.Store) {
	mkPerson(t, s, "amue", "Anna Müller", "anna.mueller@stadt.example")
	mkPerson(t, s, "bmuel", "Bernd Mülheim", "b.m@stadt.example")
	mkPerson(t, s, "carla", "Carla Schmidt", "CARLA@Example.org")
	mkPerson(t, s, "dora", "Dora Straße", "dora@x.example")
	mkPerson(t, s, "erik", "Érik Ørsted", "erik@x.example")
	wantFound(t, s, "muller", "amue")
	wantFound(t, s, "Müller", "amue")
	wantFound(t, s, "MUELLER", "amue")
	wantFound(t, s, "mül", "amue", "bmuel")
	wantFound(t, s, "anna mü", "amue")
	wantFound(t, s, "schmidt carla", "carla")
	wantFound(t, s, "carla@example", "carla")
	wantFound(t, s, "strasse", "dora")
	wantFound(t, s, "erik", "erik")
	wantFound(t, s, "ller")   // a word's start, not its middle
	wantFound(t, s, "zzz")    // nobody
	wantFound(t, s, "anna z") // every word must match
	wantFound(t, s, "%", "amue", "bmuel", "carla", "dora", "erik")
	wantFound(t, s, "", "amue", "bmuel", "carla", "dora", "erik")
	// Pages: after the last username of the page before.
	if got := found(t, s, "", "", 2); !slices.Equal(got, []string{"amue", "bmuel"}) {
		t.Errorf("first page of 2: %q", got)
	}
	if got := found(t, s, "", "bmuel", 2); !slices.Equal(got, []string{"carla", "dora"}) {
		t.Errorf("second page of 2: %q", got)
	}
}

// A changed name is found by its new words and no longer by its old ones,
// whoever wrote it: UpdateUser and the directory sync.
func testSearchFollowsWrites(t *testing.T, s authn.Store) {
	ctx := t.Context()
	anna := mkPerson(t, s, "anna", "Anna Meier", "anna@x.example")
	_, err := s.UpdateUser(ctx, anna.ID, func(u authn.User) (authn.User, error) {
		u.DisplayName = "Anna Müller"
		return u, nil
	}, ev("user.update", "user:"+anna.ID))
	must(t, "UpdateUser", err)
	wantFound(t, s, "muller", "anna")
	wantFound(t, s, "meier")

	rolf := dirUser(t, "rolf")
	rolf.DisplayName = "Rolf Jünger"
	apply(t, s, authn.DirectoryChanges{Create: []authn.User{rolf}})
	wantFound(t, s, "junger", "rolf")
	rolf.DisplayName, rolf.UpdatedAt = "Rolf Öztürk", t0.Add(time.Hour)
	apply(t, s, authn.DirectoryChanges{Update: []authn.User{rolf}})
	wantFound(t, s, "oezt", "rolf")
	wantFound(t, s, "junger")
}

// The overview counts active people per group by their strongest factor.
func testFactorCounts(t *testing.T, s authn.Store) {
	ctx := t.Context()
	anna, bernd, carla := mkUser(t, s, "anna"), mkUser(t, s, "bernd"), mkUser(t, s, "carla")
	dora := mkUser(t, s, "dora")
	mkCredential(t, s, newKey(anna, t0))
	mkCredential(t, s, newApp(anna, t0))
	mkCredential(t, s, newApp(bernd, t0))
	mkCredential(t, s, newApp(bernd, t0.Add(time.Second)))
	_, err := s.DisableUser(ctx, dora.ID, t0, ev("user.disable", "user:"+dora.ID))
	must(t, "DisableUser", err)
	rat := authn.Group{ID: authn.NewID(), Name: "rat", DisplayName: "Rat", Source: authn.SourceLocal, CreatedAt: t0}
	must(t, "CreateGroup", s.CreateGroup(ctx, rat, ev("group.create", "")))
	for _, u := range []authn.User{anna, carla, dora} {
		must(t, "AddMember", s.AddMember(ctx, rat.ID, u.ID, ev("group.add", "")))
	}
	got, err := s.FactorCounts(ctx, "rat", "nope")
	must(t, "FactorCounts", err)
	want := []authn.FactorCount{{Group: "", Key: 1, AppOnly: 1, None: 1}, {Group: "rat", Key: 1, AppOnly: 0, None: 1}, {Group: "nope"}}
	if !slices.Equal(got, want) {
		t.Errorf("FactorCounts = %+v, want %+v", got, want)
	}
}

// Open invitations are counted by age; used, voided and expired ones not.
func testOpenInvitationAges(t *testing.T, s authn.Store) {
	ctx := t.Context()
	now := t0.Add(48 * time.Hour)
	anna, bernd, carla, dora := mkUser(t, s, "anna"), mkUser(t, s, "bernd"), mkUser(t, s, "carla"), mkUser(t, s, "dora")
	mkInvitation(t, s, anna, "young", now.Add(-time.Hour))
	mkInvitation(t, s, bernd, "day", now.Add(-30*time.Hour))
	mkInvitation(t, s, carla, "old", now.Add(-70*time.Hour))
	mkInvitation(t, s, dora, "expired", now.Add(-80*time.Hour)) // 72 h
	mkInvitation(t, s, dora, "used", now.Add(-2*time.Hour))
	_, err := s.ConsumeInvitation(ctx, authn.HashToken("used"), now.Add(-time.Hour))
	must(t, "ConsumeInvitation", err)
	voided := mkInvitation(t, s, anna, "voided", now.Add(-3*time.Hour)) // voids "young"
	_ = voided
	got, err := s.OpenInvitationAges(ctx, now, []time.Duration{24 * time.Hour, 48 * time.Hour})
	must(t, "OpenInvitationAges", err)
	// Open: anna's "voided" (3 h; it voided "young"), bernd's 30 h, carla's 70 h.
	if want := []int{1, 1, 1}; !slices.Equal(got, want) {
		t.Errorf("OpenInvitationAges = %v, want %v", got, want)
	}
}

// The audit page filters by person, actor, action (and the actions below
// it) and time, newest first, in pages.
func testSearchAudit(t *testing.T, s authn.Store) {
	ctx := t.Context()
	mk := func(min int, actor, action, subject string) authn.AuditEvent {
		e := ev(action, subject)
		e.Time, e.Actor = t0.Add(time.Duration(min)*time.Minute), actor
		return e
	}
	must(t, "AppendAudit", s.AppendAudit(ctx,
		mk(0, "cli:root", "user.create", "user:a"),
		mk(1, "user:h", "user.reset", "user:a"),
		mk(2, "user:h", "session.revoke_all", "user:b"),
		mk(3, "user:x", "username", "user:a"), // not below "user"
		mk(3, "user:x", "user-x", "user:a"),   // nor this
		mk(4, "user:h", "admin.refused", "")))
	all, err := s.SearchAudit(ctx, authn.AuditQuery{})
	must(t, "SearchAudit", err)
	actions := func(evs []authn.AuditEvent) []string {
		var out []string
		for _, e := range evs {
			out = append(out, e.Action)
		}
		return out
	}
	if got := actions(all); !slices.Equal(got, []string{"admin.refused", "user-x", "username", "session.revoke_all", "user.reset", "user.create"}) {
		t.Errorf("SearchAudit{} = %q, want all, newest first", got)
	}
	for _, tc := range []struct {
		q    authn.AuditQuery
		want []string
	}{
		{authn.AuditQuery{Subject: "user:a"}, []string{"user-x", "username", "user.reset", "user.create"}},
		{authn.AuditQuery{Actor: "user:h"}, []string{"admin.refused", "session.revoke_all", "user.reset"}},
		{authn.AuditQuery{Action: "user"}, []string{"user.reset", "user.create"}},
		{authn.AuditQuery{Action: "user.reset"}, []string{"user.reset"}},
		{authn.AuditQuery{Action: "us%"}, nil},
		{authn.AuditQuery{From: t0.Add(time.Minute), To: t0.Add(3 * time.Minute)}, []string{"session.revoke_all", "user.reset"}},
		{authn.AuditQuery{Actor: "user:h", Subject: "user:a"}, []string{"user.reset"}},
		{authn.AuditQuery{Limit: 2}, []string{"admin.refused", "user-x"}},
		{authn.AuditQuery{Limit: 2, BeforeSeq: all[2].Seq}, []string{"session.revoke_all", "user.reset"}},
	} {
		got, err := s.SearchAudit(ctx, tc.q)
		must(t, "SearchAudit", err)
		if !slices.Equal(actions(got), tc.want) {
			t.Errorf("SearchAudit(%+v) = %q, want %q", tc.q, actions(got), tc.want)
		}
		// The exports filter a streamed log with Match: the same rule.
		if tc.q.Limit == 0 {
			var matched []authn.AuditEvent
			for _, e := range all {
				if tc.q.Match(e) {
					matched = append(matched, e)
				}
			}
			if !slices.Equal(actions(matched), tc.want) {
				t.Errorf("AuditQuery(%+v).Match selects %q, SearchAudit %q", tc.q, actions(matched), tc.want)
			}
		}
	}
	n, err := s.CountAudit(ctx, t0.Add(time.Minute), "user.reset", "user.create", "admin.refused")
	must(t, "CountAudit", err)
	if n["user.reset"] != 1 || n["user.create"] != 0 || n["admin.refused"] != 1 {
		t.Errorf("CountAudit = %v", n)
	}
}
