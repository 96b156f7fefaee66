package storetest

import (
	"sync"
	"testing"
	"time"

	"github.com/keyhall/keyhall/authn"
)

// RunDesk runs the conformance suite of authn.DeskStore: approvals (dual
// control) and enabling a person. newStore must return a fresh, empty
// store, closed at t's cleanup.
func RunDesk(t *testing.T, newStore func(t *testing.T) authn.Store) {
	tests := []struct {
		name string
		run  func(t *testing.T, s authn.Store)
	}{
		{"Approvals", testApprovals},
		{"DecideApprovalOnce", testDecideApprovalOnce},
		{"DecideApprovalConcurrent", testDecideApprovalConcurrent},
		{"EnableUser", testEnableUser},
		{"RoleApproval", testRoleApproval},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.run(t, newStore(t))
		})
	}
}

func mkApproval(t *testing.T, s authn.Store, u authn.User, created time.Time) authn.Approval {
	t.Helper()
	a := authn.Approval{ID: authn.NewID(), UserID: u.ID, RequestedBy: "user:helper", RequesterID: "helper",
		RequesterDirectory: "ad", RequesterExternal: "guid-1", Reason: "ticket 4711",
		CheckMethod: "other", CheckText: "knew the code word", Delivery: "letter", Validity: 14 * 24 * time.Hour,
		RequirePassword: true, CreatedAt: created, ExpiresAt: created.Add(24 * time.Hour), Kind: authn.ApprovalReset}
	before := auditCount(t, s)
	must(t, "CreateApproval", s.CreateApproval(t.Context(), a, ev("reset.requested", "user:"+u.ID)))
	if n := auditCount(t, s); n != before+1 {
		t.Errorf("CreateApproval wrote %d audit events, want 1", n-before)
	}
	return a
}

func normApproval(a authn.Approval) authn.Approval {
	for _, p := range []*time.Time{&a.CreatedAt, &a.ExpiresAt, &a.DecidedAt} {
		if !p.IsZero() {
			*p = micro(*p)
		}
	}
	return a
}

func testApprovals(t *testing.T, s authn.Store) {
	ctx := t.Context()
	anna, bert := mkUser(t, s, "anna"), mkUser(t, s, "bert")
	a := mkApproval(t, s, anna, t0)
	b := mkApproval(t, s, bert, t0.Add(time.Hour))
	got, err := s.GetApproval(ctx, a.ID)
	must(t, "GetApproval", err)
	same(t, "GetApproval", got, a, normApproval)
	_, err = s.GetApproval(ctx, "nope")
	wantErr(t, "GetApproval of none", err, authn.ErrNotFound)

	pending, err := s.PendingApprovals(ctx, t0.Add(2*time.Hour))
	must(t, "PendingApprovals", err)
	if len(pending) != 2 || pending[0].ID != a.ID || pending[1].ID != b.ID {
		t.Fatalf("PendingApprovals = %+v, want a then b", pending)
	}
	// a expires 24 h after t0; b an hour later.
	pending, err = s.PendingApprovals(ctx, t0.Add(24*time.Hour+time.Minute))
	must(t, "PendingApprovals", err)
	if len(pending) != 1 || pending[0].ID != b.ID {
		t.Errorf("PendingApprovals after a expired = %+v, want only b", pending)
	}
	decided, err := s.DecideApproval(ctx, b.ID, "user:second", "approved", t0.Add(2*time.Hour), ev("reset.approved", "user:"+bert.ID))
	must(t, "DecideApproval", err)
	want := b
	want.DecidedAt, want.DecidedBy, want.Decision = t0.Add(2*time.Hour), "user:second", "approved"
	same(t, "DecideApproval", decided, want, normApproval)
	pending, err = s.PendingApprovals(ctx, t0.Add(2*time.Hour))
	must(t, "PendingApprovals", err)
	if len(pending) != 1 || pending[0].ID != a.ID {
		t.Errorf("PendingApprovals after b was decided = %+v, want only a", pending)
	}
	_, err = s.DecideApproval(ctx, a.ID, "user:second", "approved", t0.Add(25*time.Hour), ev("reset.approved", "user:"+anna.ID))
	wantErr(t, "DecideApproval after expiry", err, authn.ErrExpired)
	_, err = s.DecideApproval(ctx, "nope", "user:second", "approved", t0, ev("reset.approved", "user:x"))
	wantErr(t, "DecideApproval of none", err, authn.ErrNotFound)
}

// testDecideApprovalOnce: a decided approval is not decided again, and the
// refused decision writes no audit event.
func testDecideApprovalOnce(t *testing.T, s authn.Store) {
	ctx := t.Context()
	anna := mkUser(t, s, "anna")
	a := mkApproval(t, s, anna, t0)
	_, err := s.DecideApproval(ctx, a.ID, "user:second", "approved", t0.Add(time.Minute), ev("reset.approved", "user:"+anna.ID))
	must(t, "DecideApproval", err)
	before := auditCount(t, s)
	_, err = s.DecideApproval(ctx, a.ID, "user:third", "approved", t0.Add(2*time.Minute), ev("reset.approved", "user:"+anna.ID))
	wantErr(t, "second DecideApproval", err, authn.ErrUsed)
	if n := auditCount(t, s); n != before {
		t.Errorf("a refused DecideApproval wrote %d audit events", n-before)
	}
	got, err := s.GetApproval(ctx, a.ID)
	must(t, "GetApproval", err)
	if got.DecidedBy != "user:second" {
		t.Errorf("DecidedBy = %q after a second decision, want the first's", got.DecidedBy)
	}
}

func testDecideApprovalConcurrent(t *testing.T, s authn.Store) {
	anna := mkUser(t, s, "anna")
	a := mkApproval(t, s, anna, t0)
	const n = 8
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			_, errs[i] = s.DecideApproval(t.Context(), a.ID, "user:second", "approved", t0.Add(time.Minute),
				ev("reset.approved", "user:"+anna.ID))
		})
	}
	wg.Wait()
	ok := 0
	for _, err := range errs {
		if err == nil {
			ok++
		} else {
			wantErr(t, "concurrent DecideApproval", err, authn.ErrUsed)
		}
	}
	if ok != 1 {
		t.Errorf("%d of %d concurrent DecideApproval succeeded, want 1", ok, n)
	}
}

// testEnableUser: only whom an administrator disabled is enabled.
func testEnableUser(t *testing.T, s authn.Store) {
	ctx := t.Context()
	anna := mkUser(t, s, "anna")
	changed, err := s.EnableUser(ctx, anna.ID, t0, ev("user.enable", "user:"+anna.ID))
	must(t, "EnableUser of an active person", err)
	if changed {
		t.Error("EnableUser of an active person changed something")
	}
	_, err = s.DisableUser(ctx, anna.ID, t0, ev("user.disable", "user:"+anna.ID))
	must(t, "DisableUser", err)
	before := auditCount(t, s)
	changed, err = s.EnableUser(ctx, anna.ID, t0.Add(time.Minute), ev("user.enable", "user:"+anna.ID))
	must(t, "EnableUser", err)
	if !changed || auditCount(t, s) != before+1 {
		t.Errorf("EnableUser of a disabled person: changed %v, %d audit events", changed, auditCount(t, s)-before)
	}
	got, err := s.GetUser(ctx, anna.ID)
	must(t, "GetUser", err)
	if got.Status != authn.StatusActive {
		t.Errorf("after EnableUser her status is %s", got.Status)
	}
	_, err = s.EnableUser(ctx, "nope", t0, ev("user.enable", "user:nope"))
	wantErr(t, "EnableUser of none", err, authn.ErrNotFound)
}

// testRoleApproval: a role change waiting for approval keeps its kind,
// group and direction, pending and decided.
func testRoleApproval(t *testing.T, s authn.Store) {
	ctx := t.Context()
	anna := mkUser(t, s, "anna")
	for _, add := range []bool{true, false} {
		a := authn.Approval{ID: authn.NewID(), UserID: anna.ID, RequestedBy: "user:first", RequesterID: "first",
			Reason: "ticket 4712", CheckMethod: "", Delivery: "", CreatedAt: t0, ExpiresAt: t0.Add(24 * time.Hour),
			Kind: authn.ApprovalRole, Group: "keyhall-admins", Add: add}
		must(t, "CreateApproval", s.CreateApproval(ctx, a, ev("role.requested", "user:"+anna.ID)))
		got, err := s.GetApproval(ctx, a.ID)
		must(t, "GetApproval", err)
		same(t, "GetApproval of a role change", got, a, normApproval)
		pending, err := s.PendingApprovals(ctx, t0.Add(time.Hour))
		must(t, "PendingApprovals", err)
		if len(pending) != 1 || pending[0].Kind != authn.ApprovalRole || pending[0].Group != "keyhall-admins" || pending[0].Add != add {
			t.Errorf("PendingApprovals = %+v, want the role change only", pending)
		}
		decided, err := s.DecideApproval(ctx, a.ID, "user:second", "approved", t0.Add(time.Hour), ev("role.approved", "user:"+anna.ID))
		must(t, "DecideApproval", err)
		if decided.Kind != authn.ApprovalRole || decided.Group != "keyhall-admins" || decided.Add != add {
			t.Errorf("DecideApproval = %+v, want the role change", decided)
		}
	}
}
