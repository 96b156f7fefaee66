package storetest

import (
	"errors"
	"sync"
	"testing"

	"github.com/keyhall/keyhall/authn"
)

// testEraseKeepsLastMember: an erasure with KeepMember refuses the last
// active member of those groups and erases nothing; of two members erased
// at once, one stays.
func testEraseKeepsLastMember(t *testing.T, s authn.Store) {
	ctx := t.Context()
	admins := authn.Group{ID: authn.NewID(), Name: "keyhall-admins", Source: authn.SourceLocal, CreatedAt: t0}
	must(t, "CreateGroup", s.CreateGroup(ctx, admins, ev("group.create", "group:"+admins.ID)))
	anna, bert, carl, dora := mkUser(t, s, "anna"), mkUser(t, s, "bert"), mkUser(t, s, "carl"), mkUser(t, s, "dora")
	for _, u := range []authn.User{anna, bert, carl} {
		must(t, "AddMember", s.AddMember(ctx, admins.ID, u.ID, ev("group.add_member", "group:"+admins.ID)))
	}
	_, err := s.UpdateUser(ctx, carl.ID, func(u authn.User) (authn.User, error) {
		u.Status = authn.StatusDisabled
		return u, nil
	}, ev("user.disable", "user:"+carl.ID))
	must(t, "UpdateUser", err)
	erase := func(u authn.User) error {
		_, err := s.EraseUser(ctx, authn.Erasure{UserID: u.ID, At: t0, KeepMember: []string{"keyhall-admins", "other-admins"},
			Audit: ev("user.erase", authn.Pseudonym(u.ID))})
		return err
	}
	// dora is in no such group.
	must(t, "EraseUser(dora)", erase(dora))

	// anna and bert at once: one of them must stay (carl is disabled).
	errs := make([]error, 2)
	var wg sync.WaitGroup
	for i, u := range []authn.User{anna, bert} {
		wg.Go(func() { errs[i] = erase(u) })
	}
	wg.Wait()
	refused, stays := 0, authn.User{}
	for i, err := range errs {
		switch {
		case errors.Is(err, authn.ErrLastMember):
			refused++
			stays = []authn.User{anna, bert}[i]
		case err != nil:
			t.Fatalf("EraseUser: %v", err)
		}
	}
	if refused != 1 {
		t.Fatalf("two admins erased at once: %d refused, want exactly 1 (errors %v)", refused, errs)
	}
	before, err := s.ListAudit(ctx, authn.AuditFilter{Limit: 1000})
	must(t, "ListAudit", err)
	if err := erase(stays); !errors.Is(err, authn.ErrLastMember) {
		t.Errorf("erasing the last admin: %v, want ErrLastMember", err)
	}
	if _, err := s.GetUser(ctx, stays.ID); err != nil {
		t.Errorf("the last admin after the refusal: %v", err)
	}
	after, err := s.ListAudit(ctx, authn.AuditFilter{Limit: 1000})
	must(t, "ListAudit", err)
	if len(after) != len(before) || after[len(after)-1].Redacted != before[len(before)-1].Redacted {
		t.Errorf("a refused erasure changed the audit log (%d events before, %d after)", len(before), len(after))
	}
	// Without KeepMember, nothing holds her.
	if _, err := s.EraseUser(ctx, authn.Erasure{UserID: stays.ID, At: t0, Audit: ev("user.erase", authn.Pseudonym(stays.ID))}); err != nil {
		t.Errorf("EraseUser without KeepMember: %v", err)
	}
}
