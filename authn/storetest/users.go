package storetest

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/keyhall/keyhall/authn"
)

func testUsers(t *testing.T, s authn.Store) {
	ctx := t.Context()
	anna := mkUser(t, s, "Anna.Müller")

	got, err := s.GetUser(ctx, anna.ID)
	must(t, "GetUser", err)
	same(t, "GetUser", got, anna, normUser)
	got, err = s.GetUserByUsername(ctx, "anna.müller")
	must(t, "GetUserByUsername", err)
	same(t, "GetUserByUsername", got, anna, normUser)

	dir := newUser(t, "bernd")
	dir.Source, dir.ExternalID = authn.SourceDirectory, "5f0c-entry-uuid"
	must(t, "CreateUser directory", s.CreateUser(ctx, dir, ev("user.create", "user:"+dir.ID)))
	got, err = s.GetUserByExternalID(ctx, authn.SourceDirectory, "5f0c-entry-uuid")
	must(t, "GetUserByExternalID", err)
	same(t, "GetUserByExternalID", got, dir, normUser)

	n, err := s.CountUsers(ctx)
	must(t, "CountUsers", err)
	if n != 2 {
		t.Errorf("CountUsers = %d, want 2", n)
	}
	_, err = s.GetUser(ctx, authn.NewID())
	wantErr(t, "GetUser(unknown)", err, authn.ErrNotFound)
	_, err = s.GetUserByUsername(ctx, "nobody")
	wantErr(t, "GetUserByUsername(unknown)", err, authn.ErrNotFound)
	_, err = s.GetUserByExternalID(ctx, authn.SourceLocal, "5f0c-entry-uuid")
	wantErr(t, "GetUserByExternalID(other source)", err, authn.ErrNotFound)
	_, err = s.GetUserByExternalID(ctx, authn.SourceLocal, "")
	wantErr(t, "GetUserByExternalID(empty)", err, authn.ErrNotFound)

	events := verifyAudit(t, s, 100)
	if len(events) != 2 || events[0].Action != "user.create" || events[0].Subject != "user:"+anna.ID {
		t.Errorf("audit after two CreateUser: %+v", events)
	}
}

func testUserUniqueness(t *testing.T, s authn.Store) {
	ctx := t.Context()
	anna := mkUser(t, s, "Anna.Müller")
	dir := newUser(t, "carla")
	dir.Source, dir.ExternalID = authn.SourceDirectory, "guid-1"
	must(t, "CreateUser", s.CreateUser(ctx, dir, ev("user.create", "")))

	sameID := newUser(t, "other")
	sameID.ID = anna.ID
	// "ANNA.MU\u0308LLER" is another spelling of anna.müller.
	sameName := newUser(t, "ANNA.MU\u0308LLER")
	sameExt := newUser(t, "dora")
	sameExt.Source, sameExt.ExternalID = authn.SourceDirectory, "guid-1"
	for what, u := range map[string]authn.User{"same id": sameID, "same canonical username": sameName, "same external id": sameExt} {
		err := s.CreateUser(ctx, u, ev("user.create", ""))
		wantErr(t, "CreateUser("+what+")", err, authn.ErrAlreadyExists)
	}
	// Local people have no external id: many may share "".
	mkUser(t, s, "emil")
	mkUser(t, s, "frida")
	if n := auditCount(t, s); n != 4 {
		t.Errorf("%d audit events, want 4 (refused creations write none)", n)
	}
}

var errVeto = errors.New("veto")

func testUpdateUser(t *testing.T, s authn.Store) {
	ctx := t.Context()
	anna := mkUser(t, s, "anna")
	mkUser(t, s, "bernd")
	later := t0.Add(time.Hour)

	got, err := s.UpdateUser(ctx, anna.ID, func(u authn.User) (authn.User, error) {
		same(t, "UpdateUser sees", u, anna, normUser)
		u.Username, u.DisplayName, u.Status, u.UpdatedAt = "anna.schmidt", "Anna Schmidt", authn.StatusDisabled, later
		return u, nil
	}, ev("user.update", "user:"+anna.ID))
	must(t, "UpdateUser", err)
	want := anna
	want.Username, want.DisplayName, want.Status, want.UpdatedAt = "anna.schmidt", "Anna Schmidt", authn.StatusDisabled, later
	same(t, "UpdateUser result", got, want, normUser)
	stored, err := s.GetUserByUsername(ctx, "anna.schmidt")
	must(t, "GetUserByUsername(new name)", err)
	same(t, "stored after UpdateUser", stored, want, normUser)
	_, err = s.GetUserByUsername(ctx, "anna")
	wantErr(t, "GetUserByUsername(old name)", err, authn.ErrNotFound)

	_, err = s.UpdateUser(ctx, anna.ID, func(u authn.User) (authn.User, error) {
		return u, errVeto
	}, ev("user.update", ""))
	if err != errVeto {
		t.Errorf("UpdateUser with failing fn: got %v, want the fn's error as is", err)
	}
	_, err = s.UpdateUser(ctx, anna.ID, func(u authn.User) (authn.User, error) {
		u.Username = "bernd"
		return u, nil
	}, ev("user.update", ""))
	wantErr(t, "UpdateUser(taken username)", err, authn.ErrAlreadyExists)
	_, err = s.UpdateUser(ctx, anna.ID, func(u authn.User) (authn.User, error) {
		u.ID = authn.NewID()
		return u, nil
	}, ev("user.update", ""))
	if err == nil {
		t.Error("UpdateUser changing the ID: no error")
	}
	_, err = s.UpdateUser(ctx, authn.NewID(), func(u authn.User) (authn.User, error) { return u, nil }, ev("user.update", ""))
	wantErr(t, "UpdateUser(unknown)", err, authn.ErrNotFound)

	stored, err = s.GetUser(ctx, anna.ID)
	must(t, "GetUser", err)
	same(t, "stored after refused updates", stored, want, normUser)
	if n := auditCount(t, s); n != 3 {
		t.Errorf("%d audit events, want 3 (refused updates write none)", n)
	}
}

func testListUsers(t *testing.T, s authn.Store) {
	ctx := t.Context()
	for _, n := range []string{"Zoe", "Anna.Müller", "bernd", "Carla_X", "dora", "Gabx"} {
		mkUser(t, s, n)
	}
	names := func(f authn.UserFilter) []string {
		t.Helper()
		us, err := s.ListUsers(ctx, f)
		must(t, "ListUsers", err)
		var out []string
		for _, u := range us {
			out = append(out, u.Username)
		}
		return out
	}
	cases := []struct {
		f    authn.UserFilter
		want []string
	}{
		{authn.UserFilter{}, []string{"anna.müller", "bernd", "carla_x", "dora", "gabx", "zoe"}},
		{authn.UserFilter{Limit: 2}, []string{"anna.müller", "bernd"}},
		{authn.UserFilter{After: "bernd", Limit: 2}, []string{"carla_x", "dora"}},
		{authn.UserFilter{Query: "MÜLLER"}, []string{"anna.müller"}},                               // display name, any case
		{authn.UserFilter{Query: "dora@EXAMPLE"}, []string{"dora"}},                                // e-mail
		{authn.UserFilter{Query: "a_x"}, []string{"carla_x"}},                                      // _ is no wildcard (gabx does not match)
		{authn.UserFilter{Query: "%"}, nil},                                                        // nor is %
		{authn.UserFilter{Query: "o", After: "bernd"}, []string{"carla_x", "dora", "gabx", "zoe"}}, // "o" is in every e-mail's ".org"
	}
	for _, c := range cases {
		if got := names(c.f); !slices.Equal(got, c.want) {
			t.Errorf("ListUsers(%+v) = %q, want %q", c.f, got, c.want)
		}
	}
}

func testGroups(t *testing.T, s authn.Store) {
	ctx := t.Context()
	anna, bernd := mkUser(t, s, "anna"), mkUser(t, s, "bernd")
	rat := authn.Group{ID: authn.NewID(), Name: "rat", DisplayName: "Rat der Stadt", Source: authn.SourceLocal, CreatedAt: t0}
	it := authn.Group{ID: authn.NewID(), Name: "it", DisplayName: "IT", Source: authn.SourceDirectory, ExternalID: "cn=it", CreatedAt: t0}
	for _, g := range []authn.Group{rat, it} {
		must(t, "CreateGroup", s.CreateGroup(ctx, g, ev("group.create", "group:"+g.ID)))
	}
	dup := authn.Group{ID: authn.NewID(), Name: "rat", Source: authn.SourceLocal, CreatedAt: t0}
	wantErr(t, "CreateGroup(same name)", s.CreateGroup(ctx, dup, ev("group.create", "")), authn.ErrAlreadyExists)
	dup = rat
	dup.Name = "rat2"
	wantErr(t, "CreateGroup(same id)", s.CreateGroup(ctx, dup, ev("group.create", "")), authn.ErrAlreadyExists)

	got, err := s.GetGroupByName(ctx, "rat")
	must(t, "GetGroupByName", err)
	same(t, "GetGroupByName", got, rat, normGroup)
	_, err = s.GetGroupByName(ctx, "none")
	wantErr(t, "GetGroupByName(unknown)", err, authn.ErrNotFound)
	all, err := s.ListGroups(ctx)
	must(t, "ListGroups", err)
	same(t, "ListGroups", all, []authn.Group{it, rat}, func(gs []authn.Group) []authn.Group {
		return slicesMap(gs, normGroup)
	})

	for _, u := range []authn.User{bernd, anna} {
		must(t, "AddMember", s.AddMember(ctx, rat.ID, u.ID, ev("group.add", "user:"+u.ID)))
	}
	must(t, "AddMember", s.AddMember(ctx, it.ID, anna.ID, ev("group.add", "")))
	wantErr(t, "AddMember(again)", s.AddMember(ctx, rat.ID, anna.ID, ev("group.add", "")), authn.ErrAlreadyExists)
	wantErr(t, "AddMember(unknown user)", s.AddMember(ctx, rat.ID, authn.NewID(), ev("group.add", "")), authn.ErrNotFound)
	wantErr(t, "AddMember(unknown group)", s.AddMember(ctx, authn.NewID(), anna.ID, ev("group.add", "")), authn.ErrNotFound)

	members, err := s.GroupMembers(ctx, rat.ID)
	must(t, "GroupMembers", err)
	same(t, "GroupMembers", members, []authn.User{anna, bernd}, func(us []authn.User) []authn.User { return slicesMap(us, normUser) })
	groups, err := s.UserGroups(ctx, anna.ID)
	must(t, "UserGroups", err)
	same(t, "UserGroups", groups, []authn.Group{it, rat}, func(gs []authn.Group) []authn.Group { return slicesMap(gs, normGroup) })

	must(t, "RemoveMember", s.RemoveMember(ctx, rat.ID, anna.ID, ev("group.remove", "")))
	wantErr(t, "RemoveMember(again)", s.RemoveMember(ctx, rat.ID, anna.ID, ev("group.remove", "")), authn.ErrNotFound)
	groups, err = s.UserGroups(ctx, anna.ID)
	must(t, "UserGroups", err)
	if len(groups) != 1 || groups[0].ID != it.ID {
		t.Errorf("UserGroups after RemoveMember = %+v, want [it]", groups)
	}
	// 2 users, 2 groups, 3 additions, 1 removal.
	if n := len(verifyAudit(t, s, 3)); n != 8 {
		t.Errorf("%d audit events, want 8", n)
	}
}

func slicesMap[T any](in []T, f func(T) T) []T {
	out := make([]T, len(in))
	for i, v := range in {
		out[i] = f(v)
	}
	return out
}
