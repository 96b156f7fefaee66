package storetest

import (
	"strings"
	"testing"
	"time"

	"github.com/keyhall/keyhall/authn"
)

// RunRegistrations runs the conformance cases of authn.RegistrationStore
// (citizens' self-registrations) against stores made by newStore.
func RunRegistrations(t *testing.T, newStore func(t *testing.T) authn.Store) {
	tests := []struct {
		name string
		run  func(t *testing.T, s authn.Store, r authn.RegistrationStore)
	}{
		{"Registrations", testRegistrations},
		{"EraseRegistration", testEraseRegistration},
		{"CountCitizensGroup", testCountCitizensGroup},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := newStore(t)
			r, ok := s.(authn.RegistrationStore)
			if !ok {
				t.Fatalf("%T does not implement authn.RegistrationStore", s)
			}
			tc.run(t, s, r)
		})
	}
}

// testRegistrations: a registration is stored before its person exists,
// once; finishing it keeps the first time; the unfinished ones older than
// a time are listed oldest first, at most limit.
func testRegistrations(t *testing.T, s authn.Store, r authn.RegistrationStore) {
	ctx := t.Context()
	ids := []string{authn.NewID(), authn.NewID(), authn.NewID()}
	for i, id := range ids {
		must(t, "CreateRegistration", r.CreateRegistration(ctx, authn.Registration{UserID: id,
			Email: name("citizen", i) + "@example.org", CreatedAt: t0.Add(time.Duration(i) * time.Hour)}))
	}
	wantErr(t, "CreateRegistration(again)", r.CreateRegistration(ctx, authn.Registration{UserID: ids[0], Email: "x@example.org", CreatedAt: t0}), authn.ErrAlreadyExists)
	got, err := r.GetRegistration(ctx, ids[1])
	must(t, "GetRegistration", err)
	if got.UserID != ids[1] || got.Email != "citizen01@example.org" || !got.CreatedAt.Equal(micro(t0.Add(time.Hour))) || !got.FinishedAt.IsZero() {
		t.Errorf("GetRegistration = %+v", got)
	}
	_, err = r.GetRegistration(ctx, authn.NewID())
	wantErr(t, "GetRegistration(unknown)", err, authn.ErrNotFound)
	wantErr(t, "FinishRegistration(unknown)", r.FinishRegistration(ctx, authn.NewID(), t0), authn.ErrNotFound)

	must(t, "FinishRegistration", r.FinishRegistration(ctx, ids[1], t0.Add(2*time.Hour)))
	must(t, "FinishRegistration(again)", r.FinishRegistration(ctx, ids[1], t0.Add(5*time.Hour)))
	if got, _ := r.GetRegistration(ctx, ids[1]); !got.FinishedAt.Equal(micro(t0.Add(2 * time.Hour))) {
		t.Errorf("finished at %v, want the first time %v", got.FinishedAt, t0.Add(2*time.Hour))
	}
	list, err := r.UnfinishedRegistrations(ctx, t0.Add(3*time.Hour), 10)
	must(t, "UnfinishedRegistrations", err)
	if len(list) != 2 || list[0].UserID != ids[0] || list[1].UserID != ids[2] {
		t.Errorf("unfinished = %+v, want %s and %s", list, ids[0], ids[2])
	}
	if list, _ := r.UnfinishedRegistrations(ctx, t0.Add(3*time.Hour), 1); len(list) != 1 || list[0].UserID != ids[0] {
		t.Errorf("unfinished, limit 1 = %+v", list)
	}
	if list, _ := r.UnfinishedRegistrations(ctx, t0, 10); len(list) != 0 {
		t.Errorf("unfinished before the first = %+v", list)
	}
}

// testEraseRegistration: erasing an unfinished registration removes its
// person with her memberships, invitations and credentials, and her name
// from the audit log, whose chain still verifies; a finished one is
// refused with nothing changed; one whose person was never created goes
// alone.
func testEraseRegistration(t *testing.T, s authn.Store, r authn.RegistrationStore) {
	ctx := t.Context()
	anna, bert := mkUser(t, s, "anna"), mkUser(t, s, "bert")
	g := authn.Group{ID: authn.NewID(), Name: "buerger", DisplayName: "Bürger", Source: authn.SourceLocal, CreatedAt: t0}
	must(t, "CreateGroup", s.CreateGroup(ctx, g, ev("group.create", "group:"+g.ID)))
	for _, u := range []authn.User{anna, bert} {
		must(t, "CreateRegistration", r.CreateRegistration(ctx, authn.Registration{UserID: u.ID, Email: u.Email, CreatedAt: t0}))
		must(t, "AddMember", s.AddMember(ctx, g.ID, u.ID, authn.AuditEvent{Time: t0, Actor: "user:" + u.ID,
			Action: "group.member.add", Subject: "user:" + u.ID, ClientAddr: "192.0.2.1", Details: map[string]string{"name": u.Username}}))
		must(t, "CreateInvitation", s.CreateInvitation(ctx, authn.Invitation{ID: authn.NewID(), UserID: u.ID,
			TokenHash: authn.HashToken(u.ID), Purpose: authn.PurposeEnroll, CreatedBy: "user:" + u.ID, CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)},
			ev("invitation.create", "user:"+u.ID)))
	}
	must(t, "FinishRegistration", r.FinishRegistration(ctx, bert.ID, t0))
	before := auditCount(t, s)
	wantErr(t, "EraseRegistration(finished)", r.EraseRegistration(ctx, bert.ID, ev("registration.remove", authn.Pseudonym(bert.ID))), authn.ErrUsed)
	if _, err := s.GetUser(ctx, bert.ID); err != nil || auditCount(t, s) != before {
		t.Errorf("a refused erasure changed something: %v, %d events (was %d)", err, auditCount(t, s), before)
	}
	wantErr(t, "EraseRegistration(unknown)", r.EraseRegistration(ctx, authn.NewID(), ev("registration.remove", "x")), authn.ErrNotFound)

	must(t, "EraseRegistration", r.EraseRegistration(ctx, anna.ID, ev("registration.remove", authn.Pseudonym(anna.ID))))
	_, err := s.GetUser(ctx, anna.ID)
	wantErr(t, "GetUser(erased)", err, authn.ErrNotFound)
	_, err = r.GetRegistration(ctx, anna.ID)
	wantErr(t, "GetRegistration(erased)", err, authn.ErrNotFound)
	_, err = s.GetInvitation(ctx, authn.HashToken(anna.ID))
	wantErr(t, "GetInvitation(erased)", err, authn.ErrNotFound)
	members, err := s.GroupMembers(ctx, g.ID)
	must(t, "GroupMembers", err)
	if len(members) != 1 || members[0].ID != bert.ID {
		t.Errorf("members after the erasure: %+v", members)
	}
	events := verifyAudit(t, s, 7)
	redacted := 0
	for _, e := range events {
		all := e.Actor + " " + e.Subject + " " + e.Reason + " " + e.ClientAddr
		for k, v := range e.Details {
			all += " " + k + "=" + v
		}
		if strings.Contains(all, anna.ID) || strings.Contains(all, "anna") {
			t.Errorf("event %d still names her: %+v", e.Seq, e)
		}
		if e.Redacted {
			redacted++
			if e.Subject != authn.Pseudonym(anna.ID) {
				t.Errorf("redacted event %d is about %q, want her pseudonym", e.Seq, e.Subject)
			}
		}
		if strings.Contains(all, bert.ID) && e.Redacted {
			t.Errorf("bert's event %d was redacted", e.Seq)
		}
	}
	if redacted != 3 {
		t.Errorf("%d events redacted, want her 3 (created, joined, invited)", redacted)
	}
	// A registration whose person was never created goes alone.
	orphan := authn.NewID()
	must(t, "CreateRegistration(orphan)", r.CreateRegistration(ctx, authn.Registration{UserID: orphan, Email: "o@example.org", CreatedAt: t0}))
	must(t, "EraseRegistration(orphan)", r.EraseRegistration(ctx, orphan, ev("registration.remove", authn.Pseudonym(orphan))))
	if n, _ := s.CountUsers(ctx); n != 1 {
		t.Errorf("%d people left, want bert", n)
	}
}

// testCountCitizensGroup: the citizens' group is compared with the people
// who registered themselves: its members, those of them who did not
// register (a directory group of the same name), and those who registered
// and are not in it (the group was renamed); a person erased since does not
// count, and a group that does not exist has no members.
func testCountCitizensGroup(t *testing.T, s authn.Store, r authn.RegistrationStore) {
	ctx := t.Context()
	want := func(group string, c authn.CitizensGroupCount) {
		t.Helper()
		got, err := r.CountCitizensGroup(ctx, group)
		must(t, "CountCitizensGroup", err)
		if got != c {
			t.Errorf("CountCitizensGroup(%s) = %+v, want %+v", group, got, c)
		}
	}
	want("buerger", authn.CitizensGroupCount{})
	anna, bert, carl, dora := mkUser(t, s, "anna"), mkUser(t, s, "bert"), mkUser(t, s, "carl"), mkUser(t, s, "dora")
	g := authn.Group{ID: authn.NewID(), Name: "buerger", DisplayName: "Bürger", Source: authn.SourceLocal, CreatedAt: t0}
	other := authn.Group{ID: authn.NewID(), Name: "rat", DisplayName: "Rat", Source: authn.SourceLocal, CreatedAt: t0}
	must(t, "CreateGroup", s.CreateGroup(ctx, g, ev("group.create", "group:"+g.ID)))
	must(t, "CreateGroup", s.CreateGroup(ctx, other, ev("group.create", "group:"+other.ID)))
	for _, u := range []authn.User{anna, bert, carl} { // registered; carl not in the group
		must(t, "CreateRegistration", r.CreateRegistration(ctx, authn.Registration{UserID: u.ID, Email: u.Email, CreatedAt: t0}))
		must(t, "FinishRegistration", r.FinishRegistration(ctx, u.ID, t0))
	}
	must(t, "CreateRegistration(never created)", r.CreateRegistration(ctx, authn.Registration{UserID: authn.NewID(), Email: "x@example.org", CreatedAt: t0}))
	for _, u := range []authn.User{anna, bert, dora} { // dora did not register
		must(t, "AddMember", s.AddMember(ctx, g.ID, u.ID, ev("group.member.add", "user:"+u.ID)))
	}
	must(t, "AddMember", s.AddMember(ctx, other.ID, carl.ID, ev("group.member.add", "user:"+carl.ID)))
	want("buerger", authn.CitizensGroupCount{Members: 3, Unregistered: 1, Outside: 1})
	want("rat", authn.CitizensGroupCount{Members: 1, Outside: 2})
	want("einwohner", authn.CitizensGroupCount{Outside: 3})
}
