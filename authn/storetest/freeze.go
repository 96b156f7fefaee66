package storetest

import (
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/keyhall/keyhall/authn"
)

// RunFreeze runs the conformance cases of authn.FreezeStore and of the
// reset's suspended factors. newStore must return a fresh, empty store.
func RunFreeze(t *testing.T, newStore func(t *testing.T) authn.Store) {
	tests := []struct {
		name string
		run  func(t *testing.T, s authn.Store)
	}{
		{"ResetSuspendsFactors", testResetSuspendsFactors},
		{"NewFactorDeletesSuspended", testNewFactorDeletesSuspended},
		{"RestoreSuspended", testRestoreSuspended},
		{"FreezeWithToken", testFreezeWithToken},
		{"FreezeTokenRefused", testFreezeTokenRefused},
		{"FreezeWithTokenConcurrent", testFreezeWithTokenConcurrent},
		{"FreezeUser", testFreezeUser},
		{"FreezeOutlivesDirectory", testFreezeOutlivesDirectory},
		{"ResetAndFreezeEndTokens", testResetAndFreezeEndTokens},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.run(t, newStore(t)) })
	}
}

// resetAnna gives anna a key, an app and recovery codes, and resets her.
func resetAnna(t *testing.T, s authn.Store) (anna authn.User, key, app authn.Credential, rep authn.ResetReport) {
	ctx := t.Context()
	anna = mkUser(t, s, "anna")
	key, app = mkCredential(t, s, newKey(anna, t0)), mkCredential(t, s, newApp(anna, t0.Add(time.Second)))
	must(t, "ReplaceRecoveryCodes", s.ReplaceRecoveryCodes(ctx, anna.ID, []authn.TokenHash{{1}, {2}}, ev("recovery_codes.replace", "")))
	rep, err := s.ResetUser(ctx, anna.ID, t0.Add(time.Hour), newInvitation(anna, "reset", t0.Add(time.Hour)), codeHash(4),
		ev("user.reset", "user:"+anna.ID))
	must(t, "ResetUser", err)
	return anna, key, app, rep
}

// testResetSuspendsFactors: after a reset her key and app are kept, but no
// read that a sign-in or her account page makes finds them, and no counter
// of theirs moves; the report still counts what was taken.
func testResetSuspendsFactors(t *testing.T, s authn.Store) {
	ctx := t.Context()
	anna, key, app, rep := resetAnna(t, s)
	if rep.Keys != 1 || rep.Apps != 1 || rep.RecoveryCodes != 2 || len(rep.CredentialIDs) != 2 {
		t.Errorf("report %+v, want 1 key, 1 app, 2 codes", rep)
	}
	creds, err := s.ListCredentials(ctx, anna.ID)
	must(t, "ListCredentials", err)
	if len(creds) != 0 {
		t.Errorf("ListCredentials after a reset: %d credentials", len(creds))
	}
	_, err = s.GetCredentialByWebAuthnID(ctx, key.WebAuthnID)
	wantErr(t, "GetCredentialByWebAuthnID(suspended key)", err, authn.ErrNotFound)
	for name, get := range map[string]func() (authn.SignInRecord, error){
		"GetSignInRecord":           func() (authn.SignInRecord, error) { return s.GetSignInRecord(ctx, anna.ID) },
		"GetSignInRecordByUsername": func() (authn.SignInRecord, error) { return s.GetSignInRecordByUsername(ctx, anna.Username) },
	} {
		r, err := get()
		must(t, name, err)
		if len(r.Credentials) != 0 {
			t.Errorf("%s after a reset: %d credentials", name, len(r.Credentials))
		}
	}
	wantErr(t, "RecordKeyUse(suspended key)", s.RecordKeyUse(ctx, key.ID, 100, t0.Add(2*time.Hour)), authn.ErrNotFound)
	wantErr(t, "AcceptTOTPStep(suspended app)", s.AcceptTOTPStep(ctx, app.ID, 1000, t0.Add(2*time.Hour)), authn.ErrNotFound)
	if n, err := s.CountRecoveryCodes(ctx, anna.ID); err != nil || n != 0 {
		t.Errorf("recovery codes after a reset: %d, %v", n, err)
	}
	st, err := s.KeyStats(ctx)
	must(t, "KeyStats", err)
	if len(st.PerPerson) != 0 {
		t.Errorf("KeyStats counts suspended keys: %+v", st)
	}
	sus, err := s.ListSuspendedCredentials(ctx, anna.ID)
	must(t, "ListSuspendedCredentials", err)
	if len(sus) != 2 || sus[0].ID != key.ID || sus[1].ID != app.ID {
		t.Fatalf("suspended: %+v", sus)
	}
	same(t, "suspended key", sus[0], key, normCredential)
}

// testNewFactorDeletesSuspended: the first key or app she stores after a
// reset deletes the suspended ones in its transaction; a step that fails
// leaves them.
func testNewFactorDeletesSuspended(t *testing.T, s authn.Store) {
	ctx := t.Context()
	e := s.(authn.EnrollStore)
	anna, key, _, _ := resetAnna(t, s)
	inv, _, err := e.OpenInvitation(ctx, anna.ID)
	must(t, "OpenInvitation", err)
	bernd := mkUser(t, s, "bernd")
	bKey := mkCredential(t, s, newKey(bernd, t0))
	// A step refused (the key id is bernd's) deletes nothing.
	dup := newKey(anna, t0.Add(2*time.Hour))
	dup.WebAuthnID = bKey.WebAuthnID
	err = e.CompleteEnrollStep(ctx, authn.EnrollStep{UserID: anna.ID, InvitationID: inv.ID, At: t0.Add(2 * time.Hour),
		Credential: &dup, Event: ev("credential.create", "user:"+anna.ID), Next: newEnrollPending(anna, "next-0", t0.Add(3*time.Hour))})
	wantErr(t, "CompleteEnrollStep(taken key id)", err, authn.ErrAlreadyExists)
	if sus, err := s.ListSuspendedCredentials(ctx, anna.ID); err != nil || len(sus) != 2 {
		t.Fatalf("suspended after a failed step: %d, %v", len(sus), err)
	}
	// Her old key again (not lost after all) is a new factor too.
	again := newKey(anna, t0.Add(2*time.Hour))
	again.WebAuthnID = key.WebAuthnID
	must(t, "CompleteEnrollStep", e.CompleteEnrollStep(ctx, authn.EnrollStep{UserID: anna.ID, InvitationID: inv.ID,
		At: t0.Add(2 * time.Hour), Credential: &again, Event: ev("credential.create", "user:"+anna.ID),
		Next: newEnrollPending(anna, "next-1", t0.Add(3*time.Hour))}))
	if sus, err := s.ListSuspendedCredentials(ctx, anna.ID); err != nil || len(sus) != 0 {
		t.Errorf("suspended after a new key: %d, %v", len(sus), err)
	}
	creds, err := s.ListCredentials(ctx, anna.ID)
	must(t, "ListCredentials", err)
	if len(creds) != 1 || creds[0].ID != again.ID {
		t.Errorf("credentials after a new key: %+v", creds)
	}
	if sus, err := s.ListSuspendedCredentials(ctx, bernd.ID); err != nil || len(sus) != 0 {
		t.Errorf("bernd: %d suspended, %v", len(sus), err)
	}
}

func newFreezeToken(u authn.User, b byte, created time.Time) authn.FreezeToken {
	return authn.FreezeToken{Hash: authn.TokenHash{b, 0xf7}, UserID: u.ID, CreatedAt: created, ExpiresAt: created.Add(authn.FreezeTokenTTL)}
}

// frozenAnna is anna with two sessions, an open invitation and an
// enrollment in progress, and bernd with a session.
type frozenAnna struct {
	anna, bernd     authn.User
	sessions        []authn.Session
	berndSession    authn.Session
	inv             authn.Invitation
	enroll          authn.EnrollPending
	freezeAt, later time.Time
}

func newFrozenAnna(t *testing.T, s authn.Store) frozenAnna {
	f := frozenAnna{anna: mkUser(t, s, "anna"), bernd: mkUser(t, s, "bernd"), freezeAt: t0.Add(time.Hour), later: t0.Add(2 * time.Hour)}
	f.sessions = []authn.Session{mkSession(t, s, f.anna, t0), mkSession(t, s, f.anna, t0.Add(time.Second))}
	f.berndSession = mkSession(t, s, f.bernd, t0)
	f.inv = mkInvitation(t, s, f.anna, "open", t0)
	f.enroll = newEnrollPending(f.anna, "enrolling", t0.Add(3*time.Hour))
	must(t, "PutEnrollPending", s.(authn.EnrollStore).PutEnrollPending(t.Context(), f.enroll))
	return f
}

// check fails t unless anna is frozen and lost her sessions, invitation and
// enrollment, and bernd lost nothing.
func (f frozenAnna) check(t *testing.T, s authn.Store, rep authn.FreezeReport) {
	t.Helper()
	ctx := t.Context()
	if rep.UserID != f.anna.ID || rep.Sessions != 2 || rep.Invitations != 1 || rep.Already {
		t.Errorf("report %+v", rep)
	}
	u, err := s.GetUser(ctx, f.anna.ID)
	must(t, "GetUser", err)
	if u.Status != authn.StatusFrozen {
		t.Errorf("anna's status %q, want frozen", u.Status)
	}
	for _, ss := range f.sessions {
		if got := getSession(t, s, ss.Hash); got.RevokedAt.IsZero() {
			t.Error("a session of anna's is not revoked")
		}
	}
	if got := getSession(t, s, f.berndSession.Hash); !got.RevokedAt.IsZero() {
		t.Error("bernd's session is revoked")
	}
	inv, err := s.GetInvitation(ctx, f.inv.TokenHash)
	must(t, "GetInvitation", err)
	if inv.VoidedAt.IsZero() {
		t.Error("anna's invitation is not voided")
	}
	_, err = s.(authn.EnrollStore).TakeEnrollPending(ctx, f.enroll.Hash, f.later)
	wantErr(t, "TakeEnrollPending after the freeze", err, authn.ErrNotFound)
	frozen, err := s.ListFrozen(ctx)
	must(t, "ListFrozen", err)
	if len(frozen) != 1 || frozen[0].User.ID != f.anna.ID || !frozen[0].FrozenAt.Equal(micro(f.freezeAt)) ||
		frozen[0].User.Status != authn.StatusFrozen {
		t.Errorf("ListFrozen: %+v", frozen)
	}
}

func testFreezeWithToken(t *testing.T, s authn.Store) {
	ctx := t.Context()
	f := newFrozenAnna(t, s)
	tok := newFreezeToken(f.anna, 1, t0)
	must(t, "CreateFreezeToken", s.CreateFreezeToken(ctx, tok))
	wantErr(t, "CreateFreezeToken(same hash)", s.CreateFreezeToken(ctx, tok), authn.ErrAlreadyExists)
	wantErr(t, "CreateFreezeToken(nobody)", s.CreateFreezeToken(ctx, authn.FreezeToken{Hash: authn.TokenHash{9}, UserID: "nobody",
		CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)}), authn.ErrNotFound)
	got, err := s.GetFreezeToken(ctx, tok.Hash)
	must(t, "GetFreezeToken", err)
	same(t, "GetFreezeToken", got, tok, func(x authn.FreezeToken) authn.FreezeToken {
		x.CreatedAt, x.ExpiresAt = micro(x.CreatedAt), micro(x.ExpiresAt)
		return x
	})
	before := auditCount(t, s)
	rep, err := s.FreezeWithToken(ctx, tok.Hash, f.freezeAt, authn.AuditEvent{Time: f.freezeAt, Action: "user.frozen",
		ClientAddr: "192.0.2.7", Details: map[string]string{"via": "link"}})
	must(t, "FreezeWithToken", err)
	f.check(t, s, rep)
	events := verifyAudit(t, s, 100)
	if len(events) != before+1 {
		t.Fatalf("%d audit events, want %d", len(events), before+1)
	}
	last := events[len(events)-1]
	if last.Action != "user.frozen" || last.Actor != "user:"+f.anna.ID || last.Subject != "user:"+f.anna.ID ||
		last.ClientAddr != "192.0.2.7" || last.Details["via"] != "link" || last.Details["revoked_sessions"] != "2" {
		t.Errorf("freeze event %+v", last)
	}
	got, err = s.GetFreezeToken(ctx, tok.Hash)
	must(t, "GetFreezeToken", err)
	if !got.UsedAt.Equal(micro(f.freezeAt)) {
		t.Errorf("token used at %v", got.UsedAt)
	}
	_, err = s.FreezeWithToken(ctx, tok.Hash, f.later, authn.AuditEvent{Time: f.later, Action: "user.frozen"})
	wantErr(t, "FreezeWithToken(used)", err, authn.ErrUsed)

	// Lifted by an administrator: active again, not listed; once.
	must(t, "UnfreezeUser", s.UnfreezeUser(ctx, f.anna.ID, ev("user.unfrozen", "user:"+f.anna.ID)))
	if u, err := s.GetUser(ctx, f.anna.ID); err != nil || u.Status != authn.StatusActive {
		t.Errorf("after UnfreezeUser: %q, %v", u.Status, err)
	}
	if frozen, err := s.ListFrozen(ctx); err != nil || len(frozen) != 0 {
		t.Errorf("ListFrozen after UnfreezeUser: %+v, %v", frozen, err)
	}
	wantErr(t, "UnfreezeUser(again)", s.UnfreezeUser(ctx, f.anna.ID, ev("user.unfrozen", "")), authn.ErrNotFound)
	wantErr(t, "UnfreezeUser(bernd)", s.UnfreezeUser(ctx, f.bernd.ID, ev("user.unfrozen", "")), authn.ErrNotFound)
}

// testFreezeTokenRefused: an unknown or expired token changes nothing.
func testFreezeTokenRefused(t *testing.T, s authn.Store) {
	ctx := t.Context()
	f := newFrozenAnna(t, s)
	tok := newFreezeToken(f.anna, 2, t0)
	must(t, "CreateFreezeToken", s.CreateFreezeToken(ctx, tok))
	before := auditCount(t, s)
	_, err := s.GetFreezeToken(ctx, authn.TokenHash{3})
	wantErr(t, "GetFreezeToken(unknown)", err, authn.ErrNotFound)
	_, err = s.FreezeWithToken(ctx, authn.TokenHash{3}, f.freezeAt, authn.AuditEvent{Time: f.freezeAt, Action: "user.frozen"})
	wantErr(t, "FreezeWithToken(unknown)", err, authn.ErrNotFound)
	_, err = s.FreezeWithToken(ctx, tok.Hash, tok.ExpiresAt, authn.AuditEvent{Time: tok.ExpiresAt, Action: "user.frozen"})
	wantErr(t, "FreezeWithToken(expired)", err, authn.ErrExpired)
	if u, err := s.GetUser(ctx, f.anna.ID); err != nil || u.Status != authn.StatusActive {
		t.Errorf("anna after refused tokens: %q, %v", u.Status, err)
	}
	if got := getSession(t, s, f.sessions[0].Hash); !got.RevokedAt.IsZero() {
		t.Error("a refused token revoked a session")
	}
	if n := auditCount(t, s); n != before {
		t.Errorf("refused tokens wrote %d audit events", n-before)
	}
	// A new token for her deletes her expired ones.
	must(t, "CreateFreezeToken", s.CreateFreezeToken(ctx, newFreezeToken(f.anna, 5, tok.ExpiresAt.Add(time.Second))))
	_, err = s.GetFreezeToken(ctx, tok.Hash)
	wantErr(t, "GetFreezeToken(expired, after a new one)", err, authn.ErrNotFound)
}

// testFreezeWithTokenConcurrent: of many uses of one token at once, one
// freezes.
func testFreezeWithTokenConcurrent(t *testing.T, s authn.Store) {
	ctx := t.Context()
	anna := mkUser(t, s, "anna")
	tok := newFreezeToken(anna, 4, t0)
	must(t, "CreateFreezeToken", s.CreateFreezeToken(ctx, tok))
	const n = 8
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			_, errs[i] = s.FreezeWithToken(ctx, tok.Hash, t0.Add(time.Minute), authn.AuditEvent{Time: t0, Action: "user.frozen"})
		})
	}
	wg.Wait()
	ok := 0
	for _, err := range errs {
		switch {
		case err == nil:
			ok++
		case !errors.Is(err, authn.ErrUsed):
			t.Errorf("FreezeWithToken: %v", err)
		}
	}
	if ok != 1 {
		t.Errorf("%d uses of one token succeeded, want 1", ok)
	}
}

// testFreezeUser: an administrator's freeze; a second one reports Already;
// a disabled person stays disabled.
func testFreezeUser(t *testing.T, s authn.Store) {
	ctx := t.Context()
	f := newFrozenAnna(t, s)
	rep, err := s.FreezeUser(ctx, f.anna.ID, f.freezeAt, ev("user.frozen", ""))
	must(t, "FreezeUser", err)
	f.check(t, s, rep)
	rep, err = s.FreezeUser(ctx, f.anna.ID, f.later, ev("user.frozen", ""))
	must(t, "FreezeUser(again)", err)
	if !rep.Already {
		t.Errorf("second freeze: %+v", rep)
	}
	_, err = s.FreezeUser(ctx, "nobody", f.later, ev("user.frozen", ""))
	wantErr(t, "FreezeUser(nobody)", err, authn.ErrNotFound)

	cora := mkUser(t, s, "cora")
	if _, err := s.DisableUser(ctx, cora.ID, t0, ev("user.disable", "user:"+cora.ID)); err != nil {
		t.Fatal(err)
	}
	_, err = s.FreezeUser(ctx, cora.ID, f.later, ev("user.frozen", ""))
	must(t, "FreezeUser(disabled)", err)
	if u, err := s.GetUser(ctx, cora.ID); err != nil || u.Status != authn.StatusDisabled {
		t.Errorf("a disabled person frozen: %q, %v", u.Status, err)
	}
}

// testRestoreSuspended: IT gives back what a reset suspended (the reset was
// an attack): her key and app sign in again, as they were.
func testRestoreSuspended(t *testing.T, s authn.Store) {
	ctx := t.Context()
	anna, key, app, _ := resetAnna(t, s)
	bernd := mkUser(t, s, "bernd")
	_, err := s.RestoreSuspendedCredentials(ctx, bernd.ID, ev("credential.restore", "user:"+bernd.ID))
	wantErr(t, "RestoreSuspendedCredentials(none suspended)", err, authn.ErrNotFound)
	before := auditCount(t, s)
	n, err := s.RestoreSuspendedCredentials(ctx, anna.ID, ev("credential.restore", "user:"+anna.ID))
	must(t, "RestoreSuspendedCredentials", err)
	if n != 2 {
		t.Errorf("restored %d, want 2", n)
	}
	if got := auditCount(t, s); got != before+1 {
		t.Errorf("%d audit events for a restore, want 1", got-before)
	}
	creds, err := s.ListCredentials(ctx, anna.ID)
	must(t, "ListCredentials", err)
	if len(creds) != 2 {
		t.Fatalf("credentials after the restore: %+v", creds)
	}
	same(t, "restored key", creds[0], key, normCredential)
	same(t, "restored app", creds[1], app, normCredential)
	if c, err := s.GetCredentialByWebAuthnID(ctx, key.WebAuthnID); err != nil || c.ID != key.ID {
		t.Errorf("the restored key by its id: %+v, %v", c, err)
	}
	if sus, err := s.ListSuspendedCredentials(ctx, anna.ID); err != nil || len(sus) != 0 {
		t.Errorf("suspended after the restore: %d, %v", len(sus), err)
	}
}

// testFreezeOutlivesDirectory (review of #14): the freeze is Keyhall's. A
// frozen directory person who leaves is disabled all the same; when the
// directory enables her again she is frozen again, not active; lifting
// the freeze of a disabled person leaves her disabled; an admin's enable
// of a frozen person who was disabled leaves her frozen.
func testFreezeOutlivesDirectory(t *testing.T, s authn.Store) {
	ctx := t.Context()
	anna := dirUser(t, "anna")
	apply(t, s, authn.DirectoryChanges{Create: []authn.User{anna}})
	status := func(want authn.UserStatus, frozen int, when string) {
		t.Helper()
		u, err := s.GetUser(ctx, anna.ID)
		must(t, "GetUser", err)
		list, err := s.ListFrozen(ctx)
		must(t, "ListFrozen", err)
		if u.Status != want || len(list) != frozen {
			t.Errorf("%s: status %q, %d listed frozen; want %q, %d", when, u.Status, len(list), want, frozen)
		}
	}
	_, err := s.FreezeUser(ctx, anna.ID, t0, ev("user.frozen", ""))
	must(t, "FreezeUser", err)
	apply(t, s, authn.DirectoryChanges{At: t0.Add(time.Minute), Disable: []authn.DirectoryDisable{{UserID: anna.ID, Reason: "not found"}}})
	status(authn.StatusDisabled, 1, "a frozen leaver")
	apply(t, s, authn.DirectoryChanges{At: t0.Add(2 * time.Minute), Enable: []string{anna.ID}})
	status(authn.StatusFrozen, 1, "enabled again by the directory")
	apply(t, s, authn.DirectoryChanges{At: t0.Add(3 * time.Minute), Disable: []authn.DirectoryDisable{{UserID: anna.ID, Reason: "not found"}}})
	must(t, "UnfreezeUser", s.UnfreezeUser(ctx, anna.ID, ev("user.unfrozen", "user:"+anna.ID)))
	status(authn.StatusDisabled, 0, "a disabled leaver's freeze lifted")
	wantErr(t, "UnfreezeUser(not frozen)", s.UnfreezeUser(ctx, anna.ID, ev("user.unfrozen", "user:"+anna.ID)), authn.ErrNotFound)

	bert := mkUser(t, s, "bert")
	_, err = s.FreezeUser(ctx, bert.ID, t0, ev("user.frozen", ""))
	must(t, "FreezeUser", err)
	if _, err := s.DisableUser(ctx, bert.ID, t0, ev("user.disable", "user:"+bert.ID)); err != nil {
		t.Fatal(err)
	}
	if ok, err := s.EnableUser(ctx, bert.ID, t0, ev("user.enable", "user:"+bert.ID)); err != nil || !ok {
		t.Fatalf("EnableUser: %v, %v", ok, err)
	}
	if u, err := s.GetUser(ctx, bert.ID); err != nil || u.Status != authn.StatusFrozen {
		t.Errorf("a frozen person disabled and enabled by an admin: %q, %v; want frozen", u.Status, err)
	}
}

// testResetAndFreezeEndTokens (review of #14): a reset and a freeze end her
// OIDC tokens in their own transaction, so a stolen refresh token does not
// outlive them when telling the tools fails; the tools can still be told
// afterwards (RevokeOIDCUserTokens names the grants).
func testResetAndFreezeEndTokens(t *testing.T, s authn.Store) {
	ctx := t.Context()
	o := s.(authn.OIDCStore)
	for _, how := range []string{"reset", "freeze"} {
		anna := mkUser(t, s, "anna-"+how)
		r := signedIn(t, o, anna, "code-"+how)
		toks := newTokens(r, "rt-"+how)
		must(t, "CreateOIDCTokens", o.CreateOIDCTokens(ctx, toks...))
		var err error
		if how == "reset" {
			_, err = s.ResetUser(ctx, anna.ID, t0.Add(time.Hour), newInvitation(anna, "reset-"+how, t0.Add(time.Hour)), codeHash(9),
				ev("user.reset", "user:"+anna.ID))
		} else {
			_, err = s.FreezeUser(ctx, anna.ID, t0.Add(time.Hour), ev("user.frozen", ""))
		}
		must(t, how, err)
		for _, tok := range toks {
			if !revoked(t, o, tok.ID) {
				t.Errorf("after the %s her %s token is not revoked", how, tok.Kind)
			}
		}
		refs, err := o.RevokeOIDCUserTokens(ctx, anna.ID, t0.Add(time.Hour))
		must(t, "RevokeOIDCUserTokens", err)
		if len(refs) != 1 {
			t.Errorf("after the %s the tools could not be told: %+v", how, refs)
		}
	}
}
