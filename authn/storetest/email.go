package storetest

import (
	"sync"
	"testing"
	"time"

	"github.com/keyhall/keyhall/authn"
)

// RunEmail runs the conformance suite of authn.EmailStore. newStore must
// return a fresh, empty store that implements it, closed at t's cleanup.
func RunEmail(t *testing.T, newStore func(t *testing.T) authn.Store) {
	tests := []struct {
		name string
		run  func(t *testing.T, s authn.Store, e authn.EmailStore)
	}{
		{"Confirm", testEmailConfirm},
		{"ConfirmConcurrent", testEmailConfirmConcurrent},
		{"AddressChanges", testEmailAddressChanges},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := newStore(t)
			e, ok := s.(authn.EmailStore)
			if !ok {
				t.Fatalf("%T does not implement authn.EmailStore", s)
			}
			tc.run(t, s, e)
		})
	}
}

// confirmation stores a confirmation of u's address, mailed at t0 and
// valid for a day.
func confirmation(t *testing.T, e authn.EmailStore, u authn.User, token string) authn.EmailConfirmation {
	t.Helper()
	c := authn.EmailConfirmation{TokenHash: hashOf(token), UserID: u.ID, Email: u.Email,
		CreatedAt: t0, ExpiresAt: t0.Add(24 * time.Hour)}
	must(t, "CreateEmailConfirmation", e.CreateEmailConfirmation(t.Context(), c, ev("email.confirmation.create", "user:"+u.ID)))
	return c
}

func testEmailConfirm(t *testing.T, s authn.Store, e authn.EmailStore) {
	ctx := t.Context()
	anna := mkUser(t, s, "anna")
	if anna.EmailVerified() {
		t.Fatal("a new person's address is verified")
	}
	confirmation(t, e, anna, "link")
	expired := confirmation(t, e, anna, "old link")
	got, err := e.ConfirmEmail(ctx, hashOf("link"), t0.Add(time.Hour), ev("email.confirm", "user:"+anna.ID))
	must(t, "ConfirmEmail", err)
	if !got.EmailVerified() || got.VerifiedEmail != anna.Email {
		t.Errorf("ConfirmEmail returned %+v, want the address verified", got)
	}
	if read, err := s.GetUser(ctx, anna.ID); err != nil || !read.EmailVerified() {
		t.Errorf("GetUser after ConfirmEmail: %+v, %v", read, err)
	}
	_, err = e.ConfirmEmail(ctx, hashOf("link"), t0.Add(time.Hour), ev("email.confirm", "user:"+anna.ID))
	wantErr(t, "ConfirmEmail twice", err, authn.ErrUsed)
	_, err = e.ConfirmEmail(ctx, hashOf("nope"), t0, ev("email.confirm", ""))
	wantErr(t, "ConfirmEmail(unknown)", err, authn.ErrNotFound)
	_, err = e.ConfirmEmail(ctx, expired.TokenHash, expired.ExpiresAt, ev("email.confirm", "user:"+anna.ID))
	wantErr(t, "ConfirmEmail at expiry", err, authn.ErrExpired)
}

func testEmailConfirmConcurrent(t *testing.T, s authn.Store, e authn.EmailStore) {
	anna := mkUser(t, s, "anna")
	confirmation(t, e, anna, "link")
	const n = 8
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			_, errs[i] = e.ConfirmEmail(t.Context(), hashOf("link"), t0.Add(time.Minute), ev("email.confirm", "user:"+anna.ID))
		})
	}
	wg.Wait()
	ok := 0
	for _, err := range errs {
		if err == nil {
			ok++
		} else {
			wantErr(t, "concurrent ConfirmEmail", err, authn.ErrUsed)
		}
	}
	if ok != 1 {
		t.Errorf("%d of %d concurrent ConfirmEmail succeeded, want 1", ok, n)
	}
}

// testEmailAddressChanges: a new address is not verified, and a link
// mailed to the old one does not verify it.
func testEmailAddressChanges(t *testing.T, s authn.Store, e authn.EmailStore) {
	ctx := t.Context()
	anna := mkUser(t, s, "anna")
	confirmation(t, e, anna, "first")
	confirmation(t, e, anna, "second")
	_, err := e.ConfirmEmail(ctx, hashOf("first"), t0, ev("email.confirm", "user:"+anna.ID))
	must(t, "ConfirmEmail", err)
	moved, err := s.UpdateUser(ctx, anna.ID, func(u authn.User) (authn.User, error) {
		u.Email = "anna@neu.example"
		return u, nil
	}, ev("user.update", "user:"+anna.ID))
	must(t, "UpdateUser", err)
	if read, err := s.GetUser(ctx, anna.ID); err != nil || read.EmailVerified() || moved.EmailVerified() {
		t.Errorf("after the address changed: %+v (update returned %+v), %v; want it not verified", read, moved, err)
	}
	_, err = e.ConfirmEmail(ctx, hashOf("second"), t0, ev("email.confirm", "user:"+anna.ID))
	wantErr(t, "ConfirmEmail of the old address", err, authn.ErrEmailChanged)
	if read, err := s.GetUser(ctx, anna.ID); err != nil || read.EmailVerified() {
		t.Errorf("after confirming the old address: %+v, %v; want the new one not verified", read, err)
	}
}
