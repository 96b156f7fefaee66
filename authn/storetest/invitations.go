package storetest

import (
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/keyhall/keyhall/authn"
)

func newInvitation(u authn.User, token string, created time.Time) authn.Invitation {
	return authn.Invitation{
		ID: authn.NewID(), UserID: u.ID, TokenHash: authn.HashToken(token), Purpose: authn.PurposeEnroll,
		CreatedBy: "cli:root", CreatedAt: created, ExpiresAt: created.Add(72 * time.Hour),
	}
}

func mkInvitation(t *testing.T, s authn.Store, u authn.User, token string, created time.Time) authn.Invitation {
	t.Helper()
	inv := newInvitation(u, token, created)
	must(t, "CreateInvitation", s.CreateInvitation(t.Context(), inv, ev("invitation.create", "user:"+u.ID)))
	return inv
}

func testInvitations(t *testing.T, s authn.Store) {
	ctx := t.Context()
	anna, bernd := mkUser(t, s, "anna"), mkUser(t, s, "bernd")
	first := mkInvitation(t, s, anna, "first", t0)
	other := mkInvitation(t, s, bernd, "other", t0)
	got, err := s.GetInvitation(ctx, first.TokenHash)
	must(t, "GetInvitation", err)
	same(t, "GetInvitation", got, first, normInvitation)

	second := mkInvitation(t, s, anna, "second", t0.Add(time.Hour))
	got, err = s.GetInvitation(ctx, first.TokenHash)
	must(t, "GetInvitation", err)
	if !got.VoidedAt.Equal(micro(second.CreatedAt)) {
		t.Errorf("older invitation's VoidedAt = %v, want the newer one's creation %v", got.VoidedAt, micro(second.CreatedAt))
	}
	_, err = s.ConsumeInvitation(ctx, first.TokenHash, t0.Add(2*time.Hour))
	wantErr(t, "ConsumeInvitation(voided)", err, authn.ErrUsed)

	now := t0.Add(2 * time.Hour)
	got, err = s.ConsumeInvitation(ctx, second.TokenHash, now)
	must(t, "ConsumeInvitation", err)
	want := second
	want.UsedAt = now
	same(t, "ConsumeInvitation result", got, want, normInvitation)
	_, err = s.ConsumeInvitation(ctx, second.TokenHash, now.Add(time.Minute))
	wantErr(t, "ConsumeInvitation(again)", err, authn.ErrUsed)
	_, err = s.ConsumeInvitation(ctx, authn.HashToken("unknown"), now)
	wantErr(t, "ConsumeInvitation(unknown)", err, authn.ErrNotFound)
	_, err = s.GetInvitation(ctx, authn.HashToken("unknown"))
	wantErr(t, "GetInvitation(unknown)", err, authn.ErrNotFound)

	_, err = s.ConsumeInvitation(ctx, other.TokenHash, other.ExpiresAt.Add(time.Second))
	wantErr(t, "ConsumeInvitation(expired)", err, authn.ErrExpired)
	got, err = s.GetInvitation(ctx, other.TokenHash)
	must(t, "GetInvitation", err)
	if !got.UsedAt.IsZero() {
		t.Errorf("an expired invitation was marked used: %+v", got)
	}

	latest, err := s.LatestInvitation(ctx, anna.ID)
	must(t, "LatestInvitation", err)
	want = second
	want.UsedAt = now
	same(t, "LatestInvitation", latest, want, normInvitation)
	latest, err = s.LatestInvitation(ctx, bernd.ID)
	must(t, "LatestInvitation", err)
	same(t, "LatestInvitation(bernd)", latest, other, normInvitation)
	_, err = s.LatestInvitation(ctx, mkUser(t, s, "carla").ID)
	wantErr(t, "LatestInvitation(none)", err, authn.ErrNotFound)

	dup := newInvitation(bernd, "other", t0)
	err = s.CreateInvitation(ctx, dup, ev("invitation.create", ""))
	wantErr(t, "CreateInvitation(same token)", err, authn.ErrAlreadyExists)
	got, err = s.GetInvitation(ctx, other.TokenHash)
	must(t, "GetInvitation", err)
	if !got.VoidedAt.IsZero() {
		t.Errorf("a refused CreateInvitation voided the person's invitation: %+v", got)
	}
}

func testConsumeInvitationConcurrent(t *testing.T, s authn.Store) {
	ctx := t.Context()
	anna := mkUser(t, s, "anna")
	inv := mkInvitation(t, s, anna, "token", t0)
	const n = 20
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			_, errs[i] = s.ConsumeInvitation(ctx, inv.TokenHash, t0.Add(time.Duration(i+1)*time.Second))
		})
	}
	wg.Wait()
	ok := 0
	for _, err := range errs {
		switch {
		case err == nil:
			ok++
		case !errors.Is(err, authn.ErrUsed):
			t.Errorf("ConsumeInvitation: %v, want nil or ErrUsed", err)
		}
	}
	if ok != 1 {
		t.Errorf("%d of %d concurrent ConsumeInvitation succeeded, want exactly 1", ok, n)
	}
}

// bootstrapArgs returns distinct arguments for Bootstrap call i.
func bootstrapArgs(t *testing.T, i int) (authn.User, authn.Group, authn.Invitation, authn.AuditEvent) {
	admin := newUser(t, name("admin", i))
	admins := authn.Group{ID: authn.NewID(), Name: name("admins", i), Source: authn.SourceLocal, CreatedAt: t0}
	inv := newInvitation(admin, name("token", i), t0)
	inv.Purpose, inv.CreatedBy = authn.PurposeBootstrap, "system"
	return admin, admins, inv, ev("bootstrap", "user:"+admin.ID)
}

func testBootstrap(t *testing.T, s authn.Store) {
	ctx := t.Context()
	admin, admins, inv, e := bootstrapArgs(t, 1)
	created, err := s.Bootstrap(ctx, admin, admins, inv, e)
	must(t, "Bootstrap", err)
	if !created {
		t.Fatal("Bootstrap on an empty store returned false")
	}
	checkBootstrapped(t, s, admin, admins, inv)

	admin2, admins2, inv2, e2 := bootstrapArgs(t, 2)
	created, err = s.Bootstrap(ctx, admin2, admins2, inv2, e2)
	must(t, "Bootstrap(again)", err)
	if created {
		t.Error("a second Bootstrap returned true")
	}
	checkBootstrapped(t, s, admin, admins, inv)
}

// checkBootstrapped checks that the store holds exactly what one Bootstrap
// made.
func checkBootstrapped(t *testing.T, s authn.Store, admin authn.User, admins authn.Group, inv authn.Invitation) {
	t.Helper()
	ctx := t.Context()
	users, err := s.ListUsers(ctx, authn.UserFilter{})
	must(t, "ListUsers", err)
	same(t, "users", users, []authn.User{admin}, func(us []authn.User) []authn.User { return slicesMap(us, normUser) })
	groups, err := s.ListGroups(ctx)
	must(t, "ListGroups", err)
	same(t, "groups", groups, []authn.Group{admins}, func(gs []authn.Group) []authn.Group { return slicesMap(gs, normGroup) })
	members, err := s.GroupMembers(ctx, admins.ID)
	must(t, "GroupMembers", err)
	if len(members) != 1 || members[0].ID != admin.ID {
		t.Errorf("members of %s = %+v, want the admin", admins.Name, members)
	}
	got, err := s.GetInvitation(ctx, inv.TokenHash)
	must(t, "GetInvitation", err)
	same(t, "invitation", got, inv, normInvitation)
	events := verifyAudit(t, s, 10)
	if len(events) != 1 || events[0].Action != "bootstrap" || events[0].Subject != "user:"+admin.ID {
		t.Errorf("audit after Bootstrap = %+v, want its one event", events)
	}
}

func testBootstrapNotEmpty(t *testing.T, s authn.Store) {
	ctx := t.Context()
	mkUser(t, s, "someone")
	admin, admins, inv, e := bootstrapArgs(t, 1)
	created, err := s.Bootstrap(ctx, admin, admins, inv, e)
	must(t, "Bootstrap", err)
	if created {
		t.Error("Bootstrap with a person present returned true")
	}
	n, err := s.CountUsers(ctx)
	must(t, "CountUsers", err)
	if n != 1 {
		t.Errorf("CountUsers = %d, want 1", n)
	}
	gs, err := s.ListGroups(ctx)
	must(t, "ListGroups", err)
	if len(gs) != 0 {
		t.Errorf("groups after a refused Bootstrap: %+v", gs)
	}
	if _, err := s.GetInvitation(ctx, inv.TokenHash); !errors.Is(err, authn.ErrNotFound) {
		t.Errorf("GetInvitation after a refused Bootstrap: %v, want ErrNotFound", err)
	}
	if n := auditCount(t, s); n != 1 {
		t.Errorf("%d audit events, want 1 (a refused Bootstrap writes none)", n)
	}
}

func testBootstrapConcurrent(t *testing.T, s authn.Store) {
	ctx := t.Context()
	const n = 10
	type args struct {
		admin  authn.User
		admins authn.Group
		inv    authn.Invitation
		ev     authn.AuditEvent
	}
	all := make([]args, n)
	for i := range all {
		a := &all[i]
		a.admin, a.admins, a.inv, a.ev = bootstrapArgs(t, i)
	}
	created := make([]bool, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			a := all[i]
			created[i], errs[i] = s.Bootstrap(ctx, a.admin, a.admins, a.inv, a.ev)
		})
	}
	wg.Wait()
	winner := -1
	for i := range n {
		if errs[i] != nil {
			t.Errorf("Bootstrap %d: %v", i, errs[i])
		}
		if created[i] {
			if winner >= 0 {
				t.Fatalf("Bootstrap %d and %d both returned true", winner, i)
			}
			winner = i
		}
	}
	if winner < 0 {
		t.Fatal("no concurrent Bootstrap returned true")
	}
	w := all[winner]
	checkBootstrapped(t, s, w.admin, w.admins, w.inv)
}
