package storetest

import (
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/keyhall/keyhall/authn"
)

// RunEnroll runs the conformance cases of authn.EnrollStore. newStore must
// return a fresh, empty store that also implements authn.EnrollStore.
func RunEnroll(t *testing.T, newStore func(t *testing.T) authn.Store) {
	tests := []struct {
		name string
		run  func(t *testing.T, s authn.Store, e authn.EnrollStore)
	}{
		{"InvitationCodes", testInvitationCodes},
		{"EnrollPending", testEnrollPending},
		{"EnrollPendingConcurrent", testEnrollPendingConcurrent},
		{"EnrollFirstCredential", testEnrollFirstCredential},
		{"EnrollFirstCredentialConcurrent", testEnrollFirstCredentialConcurrent},
		{"DeleteCredential", testDeleteCredential},
		{"DeleteCredentialEndsEnrollments", testDeleteCredentialEndsEnrollments},
		{"RemoveCredential", testRemoveCredential},
		{"RemoveCredentialConcurrent", testRemoveCredentialConcurrent},
		{"ResetUser", testResetUser},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := newStore(t)
			e, ok := s.(authn.EnrollStore)
			if !ok {
				t.Fatalf("%T does not implement authn.EnrollStore", s)
			}
			tc.run(t, s, e)
		})
	}
}

func codeHash(b byte) authn.TokenHash { return authn.TokenHash{b, 1, 2, 3} }

func testInvitationCodes(t *testing.T, s authn.Store, e authn.EnrollStore) {
	ctx := t.Context()
	anna := mkUser(t, s, "anna")
	_, _, err := e.OpenInvitation(ctx, anna.ID)
	wantErr(t, "OpenInvitation(none)", err, authn.ErrNotFound)
	first := newInvitation(anna, "first", t0)
	must(t, "CreateInvitationWithCode", e.CreateInvitationWithCode(ctx, first, codeHash(1), ev("invitation.create", "")))
	got, h, err := e.OpenInvitation(ctx, anna.ID)
	must(t, "OpenInvitation", err)
	same(t, "OpenInvitation", got, first, normInvitation)
	if h != codeHash(1) {
		t.Errorf("code hash %x, want %x", h, codeHash(1))
	}
	second := newInvitation(anna, "second", t0.Add(time.Hour))
	must(t, "CreateInvitationWithCode", e.CreateInvitationWithCode(ctx, second, codeHash(2), ev("invitation.create", "")))
	if got, h, _ := e.OpenInvitation(ctx, anna.ID); got.ID != second.ID || h != codeHash(2) {
		t.Errorf("after a second invitation OpenInvitation = %s (%x), want the second", got.ID, h)
	}
	if old, _ := s.GetInvitation(ctx, first.TokenHash); old.VoidedAt.IsZero() {
		t.Error("the first invitation was not voided")
	}
	plain := newInvitation(anna, "plain", t0.Add(2*time.Hour))
	must(t, "CreateInvitation", s.CreateInvitation(ctx, plain, ev("invitation.create", "")))
	if got, h, _ := e.OpenInvitation(ctx, anna.ID); got.ID != plain.ID || h != (authn.TokenHash{}) {
		t.Errorf("an invitation without a code: OpenInvitation = %s (%x)", got.ID, h)
	}
	dup := newInvitation(anna, "plain", t0)
	err = e.CreateInvitationWithCode(ctx, dup, codeHash(3), ev("invitation.create", ""))
	wantErr(t, "CreateInvitationWithCode(same token)", err, authn.ErrAlreadyExists)
}

func newEnrollPending(u authn.User, key string, expires time.Time) authn.EnrollPending {
	return authn.EnrollPending{Hash: authn.HashPendingID([]byte(key)), UserID: u.ID, InvitationID: "inv-1",
		Ceremony: []byte(`{"challenge":"x"}`), TOTPSealed: []byte("sealed"), CodesSealed: []byte("codes"), Factors: 2, CreatedAt: t0, ExpiresAt: expires,
		Scope: authn.ScopeAll}
}

// newSelfService is an enrollment a signed-in person opened: it keeps the
// session it belongs to, what it may add and its absolute end.
func newSelfService(u authn.User, key string, expires time.Time) authn.EnrollPending {
	p := newEnrollPending(u, key, expires)
	p.InvitationID, p.Factors = "", 0
	p.Scope, p.Session, p.EndsAt = authn.ScopeApp|authn.ScopeRecoveryCodes, authn.SessionHash{7, 1, 2}, expires.Add(10*time.Minute)
	return p
}

func testEnrollPending(t *testing.T, s authn.Store, e authn.EnrollStore) {
	ctx := t.Context()
	anna := mkUser(t, s, "anna")
	p := newEnrollPending(anna, "one", t0.Add(5*time.Minute))
	must(t, "PutEnrollPending", e.PutEnrollPending(ctx, p))
	wantErr(t, "PutEnrollPending(same hash)", e.PutEnrollPending(ctx, p), authn.ErrAlreadyExists)
	got, err := e.TakeEnrollPending(ctx, p.Hash, t0.Add(time.Minute))
	must(t, "TakeEnrollPending", err)
	norm := func(p authn.EnrollPending) authn.EnrollPending {
		p.CreatedAt, p.ExpiresAt, p.EndsAt = micro(p.CreatedAt), micro(p.ExpiresAt), micro(p.EndsAt)
		return p
	}
	same(t, "TakeEnrollPending", got, p, norm)
	_, err = e.TakeEnrollPending(ctx, p.Hash, t0.Add(time.Minute))
	wantErr(t, "TakeEnrollPending(again)", err, authn.ErrNotFound)

	self := newSelfService(anna, "self", t0.Add(5*time.Minute))
	must(t, "PutEnrollPending(self-service)", e.PutEnrollPending(ctx, self))
	got, err = e.TakeEnrollPending(ctx, self.Hash, t0.Add(time.Minute))
	must(t, "TakeEnrollPending(self-service)", err)
	same(t, "TakeEnrollPending(self-service)", got, self, norm)

	old := newEnrollPending(anna, "old", t0.Add(5*time.Minute))
	old.Ceremony, old.TOTPSealed, old.CodesSealed = nil, nil, nil
	must(t, "PutEnrollPending", e.PutEnrollPending(ctx, old))
	_, err = e.TakeEnrollPending(ctx, old.Hash, t0.Add(5*time.Minute))
	wantErr(t, "TakeEnrollPending(expired)", err, authn.ErrExpired)
	_, err = e.TakeEnrollPending(ctx, old.Hash, t0)
	wantErr(t, "TakeEnrollPending(after expiry)", err, authn.ErrNotFound)
}

func testEnrollPendingConcurrent(t *testing.T, s authn.Store, e authn.EnrollStore) {
	anna := mkUser(t, s, "anna")
	p := newEnrollPending(anna, "one", t0.Add(5*time.Minute))
	must(t, "PutEnrollPending", e.PutEnrollPending(t.Context(), p))
	const n = 10
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { _, errs[i] = e.TakeEnrollPending(t.Context(), p.Hash, t0) })
	}
	wg.Wait()
	if ok := countOK(t, errs, authn.ErrNotFound); ok != 1 {
		t.Errorf("%d of %d concurrent takes succeeded, want 1", ok, n)
	}
}

// countOK counts nil errors and fails t for errors other than allowed.
func countOK(t *testing.T, errs []error, allowed error) int {
	t.Helper()
	ok := 0
	for _, err := range errs {
		switch {
		case err == nil:
			ok++
		case !errors.Is(err, allowed):
			t.Errorf("unexpected error %v", err)
		}
	}
	return ok
}

func testEnrollFirstCredential(t *testing.T, s authn.Store, e authn.EnrollStore) {
	ctx := t.Context()
	anna, bernd := mkUser(t, s, "anna"), mkUser(t, s, "bernd")
	inv := mkInvitation(t, s, anna, "anna", t0)
	binv := mkInvitation(t, s, bernd, "bernd", t0)
	now := t0.Add(time.Hour)
	err := e.EnrollFirstCredential(ctx, binv.ID, now, newKey(anna, now), ev("credential.create", ""))
	wantErr(t, "EnrollFirstCredential(foreign invitation)", err, authn.ErrNotFound)
	err = e.EnrollFirstCredential(ctx, inv.ID, inv.ExpiresAt, newKey(anna, now), ev("credential.create", ""))
	wantErr(t, "EnrollFirstCredential(expired)", err, authn.ErrExpired)
	taken := mkCredential(t, s, newKey(bernd, now))
	dup := newKey(anna, now)
	dup.WebAuthnID = taken.WebAuthnID
	err = e.EnrollFirstCredential(ctx, inv.ID, now, dup, ev("credential.create", ""))
	wantErr(t, "EnrollFirstCredential(taken key)", err, authn.ErrAlreadyExists)
	if got, _ := s.GetInvitation(ctx, inv.TokenHash); !got.UsedAt.IsZero() {
		t.Fatal("a refused EnrollFirstCredential consumed the invitation")
	}
	key := newKey(anna, now)
	must(t, "EnrollFirstCredential", e.EnrollFirstCredential(ctx, inv.ID, now, key, ev("credential.create", "")))
	if got, _ := s.GetInvitation(ctx, inv.TokenHash); !got.UsedAt.Equal(micro(now)) {
		t.Errorf("invitation UsedAt = %v, want %v", got.UsedAt, micro(now))
	}
	err = e.EnrollFirstCredential(ctx, inv.ID, now, newApp(anna, now), ev("credential.create", ""))
	wantErr(t, "EnrollFirstCredential(again)", err, authn.ErrUsed)
	creds, err := s.ListCredentials(ctx, anna.ID)
	must(t, "ListCredentials", err)
	same(t, "credentials", creds, []authn.Credential{key}, normCredentials)
}

func testEnrollFirstCredentialConcurrent(t *testing.T, s authn.Store, e authn.EnrollStore) {
	anna := mkUser(t, s, "anna")
	inv := mkInvitation(t, s, anna, "anna", t0)
	const n = 10
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			errs[i] = e.EnrollFirstCredential(t.Context(), inv.ID, t0.Add(time.Minute), newKey(anna, t0), ev("credential.create", ""))
		})
	}
	wg.Wait()
	if ok := countOK(t, errs, authn.ErrUsed); ok != 1 {
		t.Errorf("%d of %d concurrent first credentials stored, want 1", ok, n)
	}
	if creds, _ := s.ListCredentials(t.Context(), anna.ID); len(creds) != 1 {
		t.Errorf("%d credentials stored, want 1", len(creds))
	}
}

func testDeleteCredential(t *testing.T, s authn.Store, e authn.EnrollStore) {
	ctx := t.Context()
	anna, bernd := mkUser(t, s, "anna"), mkUser(t, s, "bernd")
	key, app := mkCredential(t, s, newKey(anna, t0)), mkCredential(t, s, newApp(anna, t0))
	wantErr(t, "DeleteCredential(other person)", e.DeleteCredential(ctx, bernd.ID, key.ID, ev("credential.revoke", "")), authn.ErrNotFound)
	must(t, "DeleteCredential", e.DeleteCredential(ctx, anna.ID, key.ID, ev("credential.revoke", "")))
	wantErr(t, "DeleteCredential(again)", e.DeleteCredential(ctx, anna.ID, key.ID, ev("credential.revoke", "")), authn.ErrNotFound)
	creds, err := s.ListCredentials(ctx, anna.ID)
	must(t, "ListCredentials", err)
	same(t, "credentials", creds, []authn.Credential{app}, normCredentials)
}

// testDeleteCredentialEndsEnrollments: revoking one of a person's
// credentials ends her enrollments in progress (an attacker's, maybe,
// opened with the key now revoked), and nobody else's; a refused
// revocation ends nothing.
func testDeleteCredentialEndsEnrollments(t *testing.T, s authn.Store, e authn.EnrollStore) {
	ctx := t.Context()
	anna, bernd := mkUser(t, s, "anna"), mkUser(t, s, "bernd")
	key := mkCredential(t, s, newKey(anna, t0))
	mkCredential(t, s, newApp(anna, t0))
	later := t0.Add(time.Hour)
	annas := []authn.EnrollPending{newSelfService(anna, "anna-self", later), newEnrollPending(anna, "anna-inv", later)}
	berndsOwn := newSelfService(bernd, "bernd-self", later)
	for _, p := range append(annas, berndsOwn) {
		must(t, "PutEnrollPending", e.PutEnrollPending(ctx, p))
	}
	wantErr(t, "DeleteCredential(bernd, anna's key)", e.DeleteCredential(ctx, bernd.ID, key.ID, ev("credential.revoke", "")), authn.ErrNotFound)
	must(t, "DeleteCredential", e.DeleteCredential(ctx, anna.ID, key.ID, ev("credential.revoke", "")))
	for _, p := range annas {
		_, err := e.TakeEnrollPending(ctx, p.Hash, t0)
		wantErr(t, "TakeEnrollPending(after her credential was revoked)", err, authn.ErrNotFound)
	}
	if _, err := e.TakeEnrollPending(ctx, berndsOwn.Hash, t0); err != nil {
		t.Errorf("bernd's enrollment ended with anna's revocation: %v", err)
	}
}

func testResetUser(t *testing.T, s authn.Store, e authn.EnrollStore) {
	ctx := t.Context()
	anna, bernd := mkUser(t, s, "anna"), mkUser(t, s, "bernd")
	old := mkInvitation(t, s, anna, "old", t0)
	mkCredential(t, s, newKey(anna, t0))
	mkCredential(t, s, newApp(anna, t0))
	other := mkCredential(t, s, newKey(bernd, t0))
	must(t, "ReplaceRecoveryCodes", s.ReplaceRecoveryCodes(ctx, anna.ID, []authn.TokenHash{{1}, {2}, {3}}, ev("recovery_codes.replace", "")))
	sess := authn.Session{Hash: authn.SessionHash{9}, UserID: anna.ID, AuthTime: t0, CreatedAt: t0, LastSeenAt: t0, ExpiresAt: t0.Add(time.Hour)}
	must(t, "CreateSession", s.CreateSession(ctx, sess))
	before := auditCount(t, s)

	inv := newInvitation(anna, "new", t0.Add(time.Hour))
	e1 := ev("user.reset", "user:"+anna.ID)
	e1.Details = map[string]string{"username": "anna"}
	rep, err := e.ResetUser(ctx, anna.ID, t0.Add(time.Hour), inv, codeHash(7), e1)
	must(t, "ResetUser", err)
	if rep.Keys != 1 || rep.Apps != 1 || rep.RecoveryCodes != 3 || rep.Sessions != 1 || len(rep.CredentialIDs) != 2 {
		t.Errorf("report %+v", rep)
	}
	if creds, _ := s.ListCredentials(ctx, anna.ID); len(creds) != 0 {
		t.Errorf("%d credentials left", len(creds))
	}
	if creds, _ := s.ListCredentials(ctx, bernd.ID); len(creds) != 1 || creds[0].ID != other.ID {
		t.Errorf("another person's credentials changed: %+v", creds)
	}
	if n, _ := s.CountRecoveryCodes(ctx, anna.ID); n != 0 {
		t.Errorf("%d recovery codes left", n)
	}
	if got, _ := s.GetSession(ctx, sess.Hash); got.RevokedAt.IsZero() {
		t.Error("session not revoked")
	}
	if got, _ := s.GetInvitation(ctx, old.TokenHash); got.VoidedAt.IsZero() {
		t.Error("old invitation not voided")
	}
	if got, h, _ := e.OpenInvitation(ctx, anna.ID); got.ID != inv.ID || h != codeHash(7) {
		t.Errorf("new invitation not open: %s", got.ID)
	}
	events := verifyAudit(t, s, 100)
	if len(events) != before+1 {
		t.Fatalf("%d audit events after a reset, want one more than %d", len(events), before)
	}
	last := events[len(events)-1]
	if last.Action != "user.reset" || last.Details["username"] != "anna" || last.Details["revoked_keys"] != "1" ||
		last.Details["revoked_apps"] != "1" || last.Details["revoked_sessions"] != "1" || last.Details["revoked_recovery_codes"] != "3" {
		t.Errorf("reset event %+v", last)
	}
	_, err = e.ResetUser(ctx, "nobody", t0, newInvitation(authn.User{ID: "nobody"}, "x", t0), codeHash(8), ev("user.reset", ""))
	wantErr(t, "ResetUser(nobody)", err, authn.ErrNotFound)
}
