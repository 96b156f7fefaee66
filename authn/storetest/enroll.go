package storetest

import (
	"errors"
	"fmt"
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
		{"CompleteEnrollStep", testCompleteEnrollStep},
		{"CompleteEnrollStepConcurrent", testCompleteEnrollStepConcurrent},
		{"DeleteCredential", testDeleteCredential},
		{"DeleteCredentialEndsEnrollments", testDeleteCredentialEndsEnrollments},
		{"NewInvitationEndsEnrollments", testNewInvitationEndsEnrollments},
		{"RemoveCredential", testRemoveCredential},
		{"RemoveCredentialConcurrent", testRemoveCredentialConcurrent},
		{"ResetUser", testResetUser},
		{"InvitationRequiresPassword", testInvitationRequiresPassword},
		{"SessionsEndedWhileCached", testSessionsEndedWhileCached},
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
	got, h, err = e.OpenInvitation(ctx, anna.ID)
	must(t, "OpenInvitation", err)
	if got.ID != second.ID || h != codeHash(2) {
		t.Errorf("after a second invitation OpenInvitation = %s (%x), want the second", got.ID, h)
	}
	old, err := s.GetInvitation(ctx, first.TokenHash)
	must(t, "GetInvitation", err)
	if old.VoidedAt.IsZero() {
		t.Error("the first invitation was not voided")
	}
	plain := newInvitation(anna, "plain", t0.Add(2*time.Hour))
	must(t, "CreateInvitation", s.CreateInvitation(ctx, plain, ev("invitation.create", "")))
	got, h, err = e.OpenInvitation(ctx, anna.ID)
	must(t, "OpenInvitation", err)
	if got.ID != plain.ID || h != (authn.TokenHash{}) {
		t.Errorf("an invitation without a code: OpenInvitation = %s (%x)", got.ID, h)
	}
	dup := newInvitation(anna, "plain", t0)
	err = e.CreateInvitationWithCode(ctx, dup, codeHash(3), ev("invitation.create", ""))
	wantErr(t, "CreateInvitationWithCode(same token)", err, authn.ErrAlreadyExists)
}

// testNewInvitationEndsEnrollments: a new invitation for a person (with
// a code or without) deletes her enrollments in progress, an invitation's
// whose invitation was used as well as a self-service one, and nobody
// else's, in its audited transaction.
func testNewInvitationEndsEnrollments(t *testing.T, s authn.Store, e authn.EnrollStore) {
	ctx := t.Context()
	anna, bert := mkUser(t, s, "anna"), mkUser(t, s, "bert")
	for i, create := range []func(inv authn.Invitation) error{
		func(inv authn.Invitation) error {
			return e.CreateInvitationWithCode(ctx, inv, codeHash(10), ev("invitation.create", "user:"+inv.UserID))
		},
		func(inv authn.Invitation) error {
			return s.CreateInvitation(ctx, inv, ev("invitation.create", "user:"+inv.UserID))
		},
	} {
		used := newEnrollPending(anna, fmt.Sprint("used", i), t0.Add(time.Hour))
		used.InvitationID, used.EndsAt = "", t0.Add(time.Hour)
		self := newSelfService(anna, fmt.Sprint("self", i), t0.Add(time.Hour))
		others := newEnrollPending(bert, fmt.Sprint("bert", i), t0.Add(time.Hour))
		for _, p := range []authn.EnrollPending{used, self, others} {
			must(t, "PutEnrollPending", e.PutEnrollPending(ctx, p))
		}
		before := auditCount(t, s)
		must(t, "create invitation", create(newInvitation(anna, fmt.Sprint("new", i), t0.Add(time.Minute))))
		if n := auditCount(t, s); n != before+1 {
			t.Errorf("create %d: %d audit events added, want 1", i, n-before)
		}
		for _, p := range []authn.EnrollPending{used, self} {
			_, err := e.TakeEnrollPending(ctx, p.Hash, t0.Add(2*time.Minute))
			wantErr(t, fmt.Sprintf("create %d: her enrollment after a new invitation", i), err, authn.ErrNotFound)
		}
		_, err := e.TakeEnrollPending(ctx, others.Hash, t0.Add(2*time.Minute))
		must(t, fmt.Sprintf("create %d: another person's enrollment", i), err)
	}
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
	got, err = e.TakeEnrollPending(ctx, old.Hash, t0.Add(5*time.Minute))
	wantErr(t, "TakeEnrollPending(expired)", err, authn.ErrExpired)
	same(t, "TakeEnrollPending(expired) returns what ended", got, old, norm)
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
	creds, err := s.ListCredentials(ctx, anna.ID)
	must(t, "ListCredentials", err)
	if len(creds) != 0 {
		t.Errorf("%d credentials left", len(creds))
	}
	creds, err = s.ListCredentials(ctx, bernd.ID)
	must(t, "ListCredentials", err)
	if len(creds) != 1 || creds[0].ID != other.ID {
		t.Errorf("another person's credentials changed: %+v", creds)
	}
	n, err := s.CountRecoveryCodes(ctx, anna.ID)
	must(t, "CountRecoveryCodes", err)
	if n != 0 {
		t.Errorf("%d recovery codes left", n)
	}
	if got := getSession(t, s, sess.Hash); got.RevokedAt.IsZero() {
		t.Error("session not revoked")
	}
	oldInv, err := s.GetInvitation(ctx, old.TokenHash)
	must(t, "GetInvitation", err)
	if oldInv.VoidedAt.IsZero() {
		t.Error("old invitation not voided")
	}
	got, h, err := e.OpenInvitation(ctx, anna.ID)
	must(t, "OpenInvitation", err)
	if got.ID != inv.ID || h != codeHash(7) {
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

// testInvitationRequiresPassword: IT's requirement of a password, made at
// invitation (CreateInvitationWithCode) or at a reset (ResetUser), is kept
// with the invitation and read back by every read (GetInvitation,
// LatestInvitation, OpenInvitation, ConsumeInvitation), and an invitation
// made without it does not require one.
func testInvitationRequiresPassword(t *testing.T, s authn.Store, e authn.EnrollStore) {
	ctx := t.Context()
	anna := mkUser(t, s, "anna")
	plain := newInvitation(anna, "plain", t0)
	must(t, "CreateInvitationWithCode", e.CreateInvitationWithCode(ctx, plain, codeHash(1), ev("invitation.create", "")))
	got, _, err := e.OpenInvitation(ctx, anna.ID)
	must(t, "OpenInvitation", err)
	if got.RequirePassword {
		t.Error("an invitation made without --require-password requires a password")
	}
	strict := newInvitation(anna, "strict", t0.Add(time.Minute))
	strict.RequirePassword = true
	must(t, "CreateInvitationWithCode", e.CreateInvitationWithCode(ctx, strict, codeHash(2), ev("invitation.create", "")))
	read := func(what string) {
		t.Helper()
		got, _, err := e.OpenInvitation(ctx, anna.ID)
		must(t, what+": OpenInvitation", err)
		same(t, what+": OpenInvitation", got, strict, normInvitation)
		got, err = s.GetInvitation(ctx, strict.TokenHash)
		must(t, what+": GetInvitation", err)
		same(t, what+": GetInvitation", got, strict, normInvitation)
		got, err = s.LatestInvitation(ctx, anna.ID)
		must(t, what+": LatestInvitation", err)
		same(t, what+": LatestInvitation", got, strict, normInvitation)
	}
	read("invite")
	strict = newInvitation(anna, "reset", t0.Add(2*time.Minute))
	strict.RequirePassword = true
	_, err = e.ResetUser(ctx, anna.ID, strict.CreatedAt, strict, codeHash(3), ev("user.reset", "user:"+anna.ID))
	must(t, "ResetUser", err)
	read("reset")
	used, err := s.ConsumeInvitation(ctx, strict.TokenHash, t0.Add(3*time.Minute))
	must(t, "ConsumeInvitation", err)
	if !used.RequirePassword {
		t.Error("ConsumeInvitation lost the requirement of a password")
	}
}

// testSessionsEndedWhileCached: every change that ends a person's sessions
// (revoking one, revoking all as disabling does, resetting her) is seen by
// the next GetSession, however often her sessions were read just before
// (a warm session cache); another person's session stays usable.
func testSessionsEndedWhileCached(t *testing.T, s authn.Store, e authn.EnrollStore) {
	ctx := t.Context()
	at := t0.Add(time.Hour)
	for i, tc := range []struct {
		name string
		end  func(u authn.User, sess authn.Session) error
		all  bool // every session of hers ends, not only sess
	}{
		{"revoke one", func(_ authn.User, sess authn.Session) error { return s.RevokeSession(ctx, sess.Hash, at) }, false},
		{"revoke all (disable)", func(u authn.User, _ authn.Session) error {
			_, err := s.RevokeUserSessions(ctx, u.ID, at, ev("user.revoke_sessions", "user:"+u.ID))
			return err
		}, true},
		{"reset", func(u authn.User, _ authn.Session) error {
			_, err := e.ResetUser(ctx, u.ID, at, newInvitation(u, "reset-"+u.Username, at), codeHash(8), ev("user.reset", "user:"+u.ID))
			return err
		}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			u, other := mkUser(t, s, fmt.Sprintf("anna%d", i)), mkUser(t, s, fmt.Sprintf("bernd%d", i))
			mine := []authn.Session{mkSession(t, s, u, t0), mkSession(t, s, u, t0)}
			theirs := mkSession(t, s, other, t0)
			for range 3 { // warm any cache
				for _, sess := range append(mine, theirs) {
					if got := getSession(t, s, sess.Hash); !got.Usable(at, 0) {
						t.Fatalf("session %x not usable before the change: %+v", sess.Hash[:4], got)
					}
				}
			}
			must(t, tc.name, tc.end(u, mine[0]))
			for i, sess := range mine {
				ended := i == 0 || tc.all
				if got := getSession(t, s, sess.Hash); got.Usable(at, 0) == ended {
					t.Errorf("session %d right after %s: revoked at %v, want ended %t", i, tc.name, got.RevokedAt, ended)
				}
			}
			if got := getSession(t, s, theirs.Hash); !got.Usable(at, 0) {
				t.Errorf("another person's session right after %s: %+v, want usable", tc.name, got)
			}
		})
	}
}

// nextStep is the enrollment after a stored factor: under a new id, the
// invitation consumed.
func nextStep(u authn.User, key string, expires time.Time) authn.EnrollPending {
	p := newEnrollPending(u, key, expires)
	p.InvitationID, p.Ceremony, p.TOTPSealed = "", nil, nil
	return p
}

// testCompleteEnrollStep: a factor (consuming the invitation) or new
// recovery codes are stored together with the enrollment's next step, or
// neither is: a refused step leaves the invitation open, no credential, no
// codes changed and no next step.
func testCompleteEnrollStep(t *testing.T, s authn.Store, e authn.EnrollStore) {
	ctx := t.Context()
	anna, bernd := mkUser(t, s, "anna"), mkUser(t, s, "bernd")
	inv := mkInvitation(t, s, anna, "anna", t0)
	now := t0.Add(time.Hour)
	later := now.Add(30 * time.Minute)
	taken := mkCredential(t, s, newKey(bernd, now))
	binv := mkInvitation(t, s, bernd, "bernd", t0) // before his enrollment: a new invitation ends it
	busy := newEnrollPending(bernd, "busy", later)
	must(t, "PutEnrollPending", e.PutEnrollPending(ctx, busy))
	first := func(c authn.Credential, next authn.EnrollPending) authn.EnrollStep {
		return authn.EnrollStep{UserID: anna.ID, InvitationID: inv.ID, At: now, Credential: &c,
			Event: ev("credential.create", "user:"+anna.ID), Next: next}
	}
	noTrace := func(what string, next authn.EnrollPending) {
		t.Helper()
		if got, err := s.GetInvitation(ctx, inv.TokenHash); err != nil || !got.UsedAt.IsZero() {
			t.Fatalf("%s consumed the invitation (read: %v)", what, err)
		}
		if creds, err := s.ListCredentials(ctx, anna.ID); err != nil || len(creds) != 0 {
			t.Fatalf("%s stored %d credentials (read: %v)", what, len(creds), err)
		}
		if next.Hash != busy.Hash {
			if _, err := e.TakeEnrollPending(ctx, next.Hash, now); !errors.Is(err, authn.ErrNotFound) {
				t.Fatalf("%s stored the next step: %v", what, err)
			}
		}
	}

	dup := newKey(anna, now)
	dup.WebAuthnID = taken.WebAuthnID
	next := nextStep(anna, "dup", later)
	wantErr(t, "CompleteEnrollStep(taken key)", e.CompleteEnrollStep(ctx, first(dup, next)), authn.ErrAlreadyExists)
	noTrace("a step with a taken key", next)
	clash := nextStep(anna, "busy", later)
	wantErr(t, "CompleteEnrollStep(taken next id)", e.CompleteEnrollStep(ctx, first(newKey(anna, now), clash)), authn.ErrAlreadyExists)
	noTrace("a step whose next id is taken", clash)
	expired := first(newKey(anna, now), nextStep(anna, "expired", later))
	expired.At = inv.ExpiresAt
	wantErr(t, "CompleteEnrollStep(expired invitation)", e.CompleteEnrollStep(ctx, expired), authn.ErrExpired)
	noTrace("a step after the invitation expired", expired.Next)
	foreign := first(newKey(anna, now), nextStep(bernd, "foreign", later))
	if err := e.CompleteEnrollStep(ctx, foreign); err == nil {
		t.Fatal("CompleteEnrollStep stored a next step of another person")
	}
	noTrace("a step with another person's next step", foreign.Next)
	theirs := first(newKey(anna, now), nextStep(anna, "theirs", later))
	theirs.InvitationID = binv.ID
	wantErr(t, "CompleteEnrollStep(another person's invitation)", e.CompleteEnrollStep(ctx, theirs), authn.ErrNotFound)
	noTrace("a step with another person's invitation", theirs.Next)
	if got, err := s.GetInvitation(ctx, binv.TokenHash); err != nil || !got.UsedAt.IsZero() {
		t.Fatalf("a step of anna consumed bernd's invitation (%v)", err)
	}

	key := newKey(anna, now)
	next = nextStep(anna, "after-key", later)
	before := auditCount(t, s)
	must(t, "CompleteEnrollStep(first key)", e.CompleteEnrollStep(ctx, first(key, next)))
	if got, err := s.GetInvitation(ctx, inv.TokenHash); err != nil || !got.UsedAt.Equal(micro(now)) {
		t.Errorf("invitation UsedAt = %v, want %v (read: %v)", got.UsedAt, micro(now), err)
	}
	creds, err := s.ListCredentials(ctx, anna.ID)
	must(t, "ListCredentials", err)
	same(t, "credentials", creds, []authn.Credential{key}, normCredentials)
	if n := auditCount(t, s); n != before+1 {
		t.Errorf("%d audit events, want %d", n, before+1)
	}
	got, err := e.TakeEnrollPending(ctx, next.Hash, now)
	must(t, "TakeEnrollPending(the next step)", err)
	if got.UserID != anna.ID || got.InvitationID != "" || got.Factors != next.Factors {
		t.Errorf("next step %+v", got)
	}
	wantErr(t, "CompleteEnrollStep(invitation again)", e.CompleteEnrollStep(ctx, first(newApp(anna, now), nextStep(anna, "again", later))), authn.ErrUsed)

	app := newApp(anna, now)
	next = nextStep(anna, "after-app", later)
	must(t, "CompleteEnrollStep(an app, no invitation)", e.CompleteEnrollStep(ctx, authn.EnrollStep{UserID: anna.ID, At: now,
		Credential: &app, Event: ev("credential.create", ""), Next: next}))
	if _, err := e.TakeEnrollPending(ctx, next.Hash, now); err != nil {
		t.Errorf("TakeEnrollPending(after the app): %v", err)
	}
	codes := []authn.TokenHash{{1}, {2}, {3}}
	next = nextStep(anna, "after-codes", later)
	must(t, "CompleteEnrollStep(recovery codes)", e.CompleteEnrollStep(ctx, authn.EnrollStep{UserID: anna.ID, At: now,
		RecoveryCodes: codes, Event: ev("recovery_codes.replace", ""), Next: next}))
	if n, err := s.CountRecoveryCodes(ctx, anna.ID); err != nil || n != 3 {
		t.Errorf("%d recovery codes, want 3 (read: %v)", n, err)
	}
	clash = nextStep(anna, "busy", later)
	wantErr(t, "CompleteEnrollStep(codes, taken next id)", e.CompleteEnrollStep(ctx, authn.EnrollStep{UserID: anna.ID, At: now,
		RecoveryCodes: codes[:1], Event: ev("recovery_codes.replace", ""), Next: clash}), authn.ErrAlreadyExists)
	if n, err := s.CountRecoveryCodes(ctx, anna.ID); err != nil || n != 3 {
		t.Errorf("a refused step replaced the recovery codes: %d, want 3 (read: %v)", n, err)
	}
	if creds, err := s.ListCredentials(ctx, anna.ID); err != nil || len(creds) != 2 {
		t.Errorf("%d credentials, want 2 (read: %v)", len(creds), err)
	}
}

// testCompleteEnrollStepConcurrent: of concurrent first factors of one
// invitation one is stored, with its next step only.
func testCompleteEnrollStepConcurrent(t *testing.T, s authn.Store, e authn.EnrollStore) {
	anna := mkUser(t, s, "anna")
	inv := mkInvitation(t, s, anna, "anna", t0)
	const n = 10
	errs := make([]error, n)
	nexts := make([]authn.EnrollPending, n)
	var wg sync.WaitGroup
	for i := range n {
		nexts[i] = nextStep(anna, fmt.Sprint("next-", i), t0.Add(time.Hour))
		wg.Go(func() {
			c := newKey(anna, t0)
			errs[i] = e.CompleteEnrollStep(t.Context(), authn.EnrollStep{UserID: anna.ID, InvitationID: inv.ID,
				At: t0.Add(time.Minute), Credential: &c, Event: ev("credential.create", ""), Next: nexts[i]})
		})
	}
	wg.Wait()
	if ok := countOK(t, errs, authn.ErrUsed); ok != 1 {
		t.Errorf("%d of %d concurrent first factors stored, want 1", ok, n)
	}
	if creds, err := s.ListCredentials(t.Context(), anna.ID); err != nil || len(creds) != 1 {
		t.Errorf("%d credentials stored, want 1 (read: %v)", len(creds), err)
	}
	for i := range n {
		_, err := e.TakeEnrollPending(t.Context(), nexts[i].Hash, t0)
		if (err == nil) != (errs[i] == nil) {
			t.Errorf("step %d: stored %v, its next step taken: %v", i, errs[i], err)
		}
	}
}
