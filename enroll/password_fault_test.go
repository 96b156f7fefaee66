package enroll_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"

	"github.com/keyhall/keyhall/authn"
	"github.com/keyhall/keyhall/enroll"
)

// passwordFault fails the next password write while fail is set.
type passwordFault struct {
	enroll.Store
	fail atomic.Bool
}

func (s *passwordFault) SetPasswordHash(ctx context.Context, userID, phc string, ev authn.AuditEvent) error {
	if s.fail.CompareAndSwap(true, false) {
		return errors.New("injected: database failed")
	}
	return s.Store.SetPasswordHash(ctx, userID, phc, ev)
}

// TestFailedPasswordWriteKeepsEnrollment: a password that could not be
// stored ends nothing: the enrollment goes on under a new id, and the
// password is set with it (else a person whose first factor needs a
// password could not sign in and would need IT).
func TestFailedPasswordWriteKeepsEnrollment(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	anna := f.user(t, "anna")
	fs := &passwordFault{Store: f.store}
	svc := f.serviceOn(t, fs)
	pr := f.redeemOn(t, svc, anna)
	var err error
	_, pr, err = f.registerOn(t, svc, pr.ID, keyReg{fmt: "none"}, "")
	must(t, err)
	fs.fail.Store(true)
	pr, err = svc.SetPassword(ctx, pr.ID, "Rathaus am Prinzipalmarkt", authn.ClientInfo{})
	if err == nil || len(pr.ID) == 0 {
		t.Fatalf("SetPassword with a failing write: %v, next id %x; want an error and an id", err, pr.ID)
	}
	if _, err := svc.SetPassword(ctx, pr.ID, "Rathaus am Prinzipalmarkt", authn.ClientInfo{}); err != nil {
		t.Fatalf("the password again after the fault: %v", err)
	}
	if _, err := f.store.GetPasswordHash(ctx, anna.ID); err != nil {
		t.Fatalf("no password stored: %v", err)
	}
}
