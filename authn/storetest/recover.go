package storetest

import (
	crand "crypto/rand"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/keyhall/keyhall/authn"
)

// RunRecovery runs the conformance tests of authn.RecoveryStore.
func RunRecovery(t *testing.T, newStore func(t *testing.T) authn.Store) {
	t.Run("UsersByEmail", func(t *testing.T) { testUsersByEmail(t, newStore(t)) })
	t.Run("StartRecovery", func(t *testing.T) { testStartRecovery(t, newStore(t)) })
	t.Run("StartRecoveryConcurrent", func(t *testing.T) { testStartRecoveryConcurrent(t, newStore(t)) })
	t.Run("CancelRecovery", func(t *testing.T) { testCancelRecovery(t, newStore(t)) })
	t.Run("FinishRecovery", func(t *testing.T) { testFinishRecovery(t, newStore(t)) })
	t.Run("FinishRecoveryNothingAdded", func(t *testing.T) { testFinishRecoveryNothingAdded(t, newStore(t)) })
	t.Run("ResetEndsRecovery", func(t *testing.T) { testResetEndsRecovery(t, newStore(t)) })
	t.Run("RecoverySuperseded", func(t *testing.T) { testRecoverySuperseded(t, newStore(t)) })
	t.Run("RecoverySupersededCancelFollows", func(t *testing.T) { testRecoverySupersededCancelFollows(t, newStore(t)) })
	t.Run("RecoverySupersededChainEnded", func(t *testing.T) { testRecoverySupersededChainEnded(t, newStore(t)) })
	t.Run("FreezeCancelsRecovery", func(t *testing.T) { testFreezeCancelsRecovery(t, newStore(t), false) })
	t.Run("FreezeWithTokenCancelsRecovery", func(t *testing.T) { testFreezeCancelsRecovery(t, newStore(t), true) })
	t.Run("FinishRecoveryNotActive", func(t *testing.T) { testFinishRecoveryNotActive(t, newStore(t)) })
	t.Run("DisableCancelsRecovery", func(t *testing.T) { testDisableCancelsRecovery(t, newStore(t)) })
}

func randHash() authn.TokenHash {
	var h authn.TokenHash
	crand.Read(h[:])
	return h
}

// mkRecovery stores an unstarted recovery of u made at at.
func mkRecovery(t *testing.T, s authn.Store, u authn.User, at time.Time) authn.Recovery {
	t.Helper()
	r := authn.Recovery{ID: authn.NewID(), UserID: u.ID, Link: randHash(), Binding: randHash(), Email: u.Email,
		CreatedAt: at, LinkExpiresAt: at.Add(30 * time.Minute)}
	must(t, "CreateRecovery", s.CreateRecovery(t.Context(), r))
	return r
}

// recoveryStart is the start of r at at.
func recoveryStart(r authn.Recovery, at time.Time) authn.RecoveryStart {
	return authn.RecoveryStart{Link: r.Link, At: at, DueAt: at.Add(72 * time.Hour), Cancel: randHash(),
		Invitation: authn.Invitation{ID: authn.NewID(), UserID: r.UserID, TokenHash: randHash(), Purpose: authn.PurposeEnroll,
			CreatedBy: "user:" + r.UserID, CreatedAt: at, ExpiresAt: at.Add(30 * time.Minute)},
		Event: ev("recovery.start", "user:"+r.UserID)}
}

func normRecovery(r authn.Recovery) authn.Recovery {
	for _, p := range []*time.Time{&r.CreatedAt, &r.LinkExpiresAt, &r.StartedAt, &r.Since, &r.DueAt, &r.EndedAt} {
		if !p.IsZero() {
			*p = micro(*p)
		}
	}
	return r
}

// testUsersByEmail: people are found by address whatever its case; an
// unknown or empty address finds nobody.
func testUsersByEmail(t *testing.T, s authn.Store) {
	ctx := t.Context()
	anna := mkUser(t, s, "anna")
	mkUser(t, s, "berta")
	for _, email := range []string{"anna@example.org", "Anna@Example.ORG"} {
		got, err := s.UsersByEmail(ctx, email)
		must(t, "UsersByEmail", err)
		if len(got) != 1 || got[0].ID != anna.ID {
			t.Errorf("UsersByEmail(%q) = %+v, want anna", email, got)
		}
	}
	for _, email := range []string{"", "nobody@example.org", "anna@example.or"} {
		got, err := s.UsersByEmail(ctx, email)
		must(t, "UsersByEmail", err)
		if len(got) != 0 {
			t.Errorf("UsersByEmail(%q) = %+v, want nobody", email, got)
		}
	}
}

// testStartRecovery: a link is stored for an existing person only, once;
// using it revokes her sessions, stores the invitation and is audited;
// a used, expired or unknown link changes nothing.
func testStartRecovery(t *testing.T, s authn.Store) {
	ctx := t.Context()
	anna := mkUser(t, s, "anna")
	at := micro(time.Now())
	r := mkRecovery(t, s, anna, at)
	got, err := s.GetRecovery(ctx, r.Link)
	must(t, "GetRecovery", err)
	same(t, "stored recovery", got, r, normRecovery)
	if got.Pending() {
		t.Error("an unstarted recovery is pending")
	}
	wantErr(t, "CreateRecovery with a taken link", s.CreateRecovery(ctx, r), authn.ErrAlreadyExists)
	nobody := r
	nobody.ID, nobody.UserID, nobody.Link = authn.NewID(), "nobody", randHash()
	wantErr(t, "CreateRecovery for nobody", s.CreateRecovery(ctx, nobody), authn.ErrNotFound)
	_, err = s.GetRecovery(ctx, randHash())
	wantErr(t, "GetRecovery unknown", err, authn.ErrNotFound)
	_, err = s.PendingRecovery(ctx, anna.ID)
	wantErr(t, "PendingRecovery before start", err, authn.ErrNotFound)

	sess := mkSession(t, s, anna, at.Add(-time.Hour))
	expired := mkRecovery(t, s, anna, at)
	_, _, err = s.StartRecovery(ctx, recoveryStart(expired, at.Add(30*time.Minute)))
	wantErr(t, "StartRecovery expired", err, authn.ErrExpired)
	_, _, err = s.StartRecovery(ctx, recoveryStart(authn.Recovery{Link: randHash(), UserID: anna.ID}, at))
	wantErr(t, "StartRecovery unknown", err, authn.ErrNotFound)
	if !getSession(t, s, sess.Hash).RevokedAt.IsZero() {
		t.Fatal("a refused start revoked her session")
	}

	before := auditCount(t, s)
	st := recoveryStart(r, at.Add(time.Minute))
	started, n, err := s.StartRecovery(ctx, st)
	must(t, "StartRecovery", err)
	if n != 1 || getSession(t, s, sess.Hash).RevokedAt.IsZero() {
		t.Errorf("StartRecovery revoked %d sessions; her session revoked at %v", n, getSession(t, s, sess.Hash).RevokedAt)
	}
	if !started.Pending() || !started.Since.Equal(st.At) || !started.DueAt.Equal(st.DueAt) || started.Cancel != st.Cancel {
		t.Errorf("started recovery %+v does not match the start %+v", started, st)
	}
	pending, err := s.PendingRecovery(ctx, anna.ID)
	must(t, "PendingRecovery", err)
	same(t, "pending recovery", pending, started, normRecovery)
	inv, err := s.GetInvitation(ctx, st.Invitation.TokenHash)
	must(t, "GetInvitation of the recovery", err)
	if inv.UserID != anna.ID || !inv.UsedAt.IsZero() || !inv.VoidedAt.IsZero() {
		t.Errorf("the recovery's invitation: %+v", inv)
	}
	if c := auditCount(t, s); c != before+1 {
		t.Errorf("audit events %d after the start, want %d", c, before+1)
	}
	_, _, err = s.StartRecovery(ctx, recoveryStart(r, at.Add(2*time.Minute)))
	wantErr(t, "StartRecovery again", err, authn.ErrUsed)
}

// testStartRecoveryConcurrent: of many uses of one link, one starts.
func testStartRecoveryConcurrent(t *testing.T, s authn.Store) {
	anna := mkUser(t, s, "anna")
	at := micro(time.Now())
	r := mkRecovery(t, s, anna, at)
	var wg sync.WaitGroup
	var mu sync.Mutex
	ok, used := 0, 0
	for range 8 {
		wg.Go(func() {
			_, _, err := s.StartRecovery(t.Context(), recoveryStart(r, at.Add(time.Second)))
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				ok++
			case errors.Is(err, authn.ErrUsed):
				used++
			default:
				t.Errorf("StartRecovery: %v", err)
			}
		})
	}
	wg.Wait()
	if ok != 1 || used != 7 {
		t.Errorf("8 concurrent starts: %d succeeded, %d used; want 1 and 7", ok, used)
	}
}

// recoveryScene is a person with an old key, app and recovery codes and a
// started recovery, after which she added a new key and new codes and
// signed in twice.
type recoveryScene struct {
	anna               authn.User
	r                  authn.Recovery
	oldKey, oldApp     authn.Credential
	newKey             authn.Credential
	oldCode, newCode   authn.TokenHash
	newSess, otherSess authn.Session
}

func mkRecoveryScene(t *testing.T, s authn.Store, at time.Time) recoveryScene {
	t.Helper()
	ctx := t.Context()
	var sc recoveryScene
	sc.anna = mkUser(t, s, "anna")
	sc.oldKey = mkCredential(t, s, newKey(sc.anna, at.Add(-48*time.Hour)))
	sc.oldApp = mkCredential(t, s, newApp(sc.anna, at.Add(-24*time.Hour)))
	sc.oldCode, sc.newCode = randHash(), randHash()
	must(t, "ReplaceRecoveryCodes", s.ReplaceRecoveryCodes(ctx, sc.anna.ID, []authn.TokenHash{sc.oldCode, randHash()}, ev("codes", "")))
	must(t, "UseRecoveryCode", s.UseRecoveryCode(ctx, sc.anna.ID, sc.oldCode, at.Add(-time.Hour), ev("code.use", "")))
	mkSession(t, s, sc.anna, at.Add(-time.Hour))
	r := mkRecovery(t, s, sc.anna, at)
	var err error
	sc.r, _, err = s.StartRecovery(ctx, recoveryStart(r, at.Add(time.Minute)))
	must(t, "StartRecovery", err)
	sc.newKey = mkCredential(t, s, newKey(sc.anna, at.Add(2*time.Minute)))
	must(t, "ReplaceRecoveryCodes", s.ReplaceRecoveryCodes(ctx, sc.anna.ID, []authn.TokenHash{sc.newCode}, ev("codes", "")))
	sc.newSess = mkSession(t, s, sc.anna, at.Add(3*time.Minute))
	sc.otherSess = mkSession(t, s, sc.anna, at.Add(4*time.Minute))
	return sc
}

// credentialIDs lists the ids of the person's keys and apps.
func credentialIDs(t *testing.T, s authn.Store, userID string) map[string]bool {
	t.Helper()
	cs, err := s.ListCredentials(t.Context(), userID)
	must(t, "ListCredentials", err)
	out := map[string]bool{}
	for _, c := range cs {
		out[c.ID] = true
	}
	return out
}

// testCancelRecovery: cancel by the notice's link removes the new key,
// gives back the old recovery codes (the used one still used), revokes the
// sessions since the recovery but the one kept, ends her enrollments and
// invitations; once. Cancel by her id finds her pending recovery.
func testCancelRecovery(t *testing.T, s authn.Store) {
	ctx := t.Context()
	at := micro(time.Now())
	sc := mkRecoveryScene(t, s, at)
	_, err := s.CancelRecovery(ctx, randHash(), "", authn.SessionHash{}, at.Add(time.Hour), ev("recovery.cancel", ""))
	wantErr(t, "CancelRecovery unknown link", err, authn.ErrNotFound)
	before := auditCount(t, s)
	rep, err := s.CancelRecovery(ctx, sc.r.Cancel, "", sc.otherSess.Hash, at.Add(time.Hour), ev("recovery.cancel", "user:"+sc.anna.ID))
	must(t, "CancelRecovery", err)
	if rep.Credentials != 1 || rep.Sessions != 1 || rep.RecoveryCodes != 2 || rep.Recovery.Outcome != authn.RecoveryCancelled {
		t.Errorf("CancelRecovery report %+v, want 1 credential, 1 session, 2 codes, cancelled", rep)
	}
	if c := auditCount(t, s); c != before+1 {
		t.Errorf("audit events %d after the cancel, want %d", c, before+1)
	}
	ids := credentialIDs(t, s, sc.anna.ID)
	if !ids[sc.oldKey.ID] || !ids[sc.oldApp.ID] || ids[sc.newKey.ID] || len(ids) != 2 {
		t.Errorf("after the cancel she has %v; want her old key and app only", ids)
	}
	if ok, _ := s.HasRecoveryCode(ctx, sc.anna.ID, sc.newCode); ok {
		t.Error("the recovery's new code survived the cancel")
	}
	if ok, _ := s.HasRecoveryCode(ctx, sc.anna.ID, sc.oldCode); ok {
		t.Error("an old code used before the recovery is unused again")
	}
	if n, err := s.CountRecoveryCodes(ctx, sc.anna.ID); err != nil || n != 1 {
		t.Errorf("after the cancel %d unused codes (%v), want her one old unused code", n, err)
	}
	if getSession(t, s, sc.newSess.Hash).RevokedAt.IsZero() || !getSession(t, s, sc.otherSess.Hash).RevokedAt.IsZero() {
		t.Error("the cancel did not revoke the recovery's session, or revoked the one that cancelled")
	}
	inv, err := s.GetInvitation(ctx, recoveryStartInvitation(t, s, sc.anna.ID))
	must(t, "GetInvitation", err)
	if inv.VoidedAt.IsZero() {
		t.Error("the recovery's invitation is still open after the cancel")
	}
	rep, err = s.CancelRecovery(ctx, sc.r.Cancel, "", authn.SessionHash{}, at.Add(2*time.Hour), ev("recovery.cancel", ""))
	wantErr(t, "CancelRecovery again", err, authn.ErrUsed)
	if rep.Recovery.ID != sc.r.ID || rep.Recovery.Outcome != authn.RecoveryCancelled || rep.Credentials != 0 || rep.Sessions != 0 {
		t.Errorf("CancelRecovery again reports %+v, want the recovery, cancelled, and nothing done", rep)
	}
	_, err = s.PendingRecovery(ctx, sc.anna.ID)
	wantErr(t, "PendingRecovery after cancel", err, authn.ErrNotFound)
	_, err = s.FinishRecovery(ctx, sc.r.ID, at.Add(100*time.Hour), ev("recovery.finish", ""))
	wantErr(t, "FinishRecovery after cancel", err, authn.ErrUsed)

	// By her id, from her account.
	berta := mkUser(t, s, "berta")
	r := mkRecovery(t, s, berta, at)
	_, _, err = s.StartRecovery(ctx, recoveryStart(r, at.Add(time.Minute)))
	must(t, "StartRecovery", err)
	_, err = s.CancelRecovery(ctx, authn.TokenHash{}, sc.anna.ID, authn.SessionHash{}, at.Add(time.Hour), ev("recovery.cancel", ""))
	wantErr(t, "CancelRecovery of anna, who has none pending", err, authn.ErrNotFound)
	rep, err = s.CancelRecovery(ctx, authn.TokenHash{}, berta.ID, authn.SessionHash{}, at.Add(time.Hour), ev("recovery.cancel", ""))
	must(t, "CancelRecovery by id", err)
	if rep.Recovery.ID != r.ID {
		t.Errorf("CancelRecovery by id cancelled %s, want %s", rep.Recovery.ID, r.ID)
	}
}

// recoveryStartInvitation returns the hash of the person's newest invitation.
func recoveryStartInvitation(t *testing.T, s authn.Store, userID string) authn.TokenHash {
	t.Helper()
	inv, err := s.LatestInvitation(t.Context(), userID)
	must(t, "LatestInvitation", err)
	return inv.TokenHash
}

// testFinishRecovery: not before it is due; then her old key, app and
// codes go and the recovery's stay; once.
func testFinishRecovery(t *testing.T, s authn.Store) {
	ctx := t.Context()
	at := micro(time.Now())
	sc := mkRecoveryScene(t, s, at)
	due, err := s.DueRecoveries(ctx, sc.r.DueAt.Add(-time.Second), 10)
	must(t, "DueRecoveries", err)
	if len(due) != 0 {
		t.Errorf("DueRecoveries before it is due: %+v", due)
	}
	_, err = s.FinishRecovery(ctx, sc.r.ID, sc.r.DueAt.Add(-time.Second), ev("recovery.finish", ""))
	wantErr(t, "FinishRecovery early", err, authn.ErrExpired)
	_, err = s.FinishRecovery(ctx, "nothing", sc.r.DueAt, ev("recovery.finish", ""))
	wantErr(t, "FinishRecovery unknown", err, authn.ErrNotFound)
	due, err = s.DueRecoveries(ctx, sc.r.DueAt, 10)
	must(t, "DueRecoveries", err)
	if len(due) != 1 || due[0].ID != sc.r.ID {
		t.Fatalf("DueRecoveries when due: %+v", due)
	}
	// The recovery's enrollment shows new codes: her old ones stay until
	// the finish (review of #15: with them she signs in to cancel).
	must(t, "ReplaceRecoveryCodes", s.ReplaceRecoveryCodes(ctx, sc.anna.ID, []authn.TokenHash{sc.newCode}, ev("codes", "")))
	if n, _ := s.CountRecoveryCodes(ctx, sc.anna.ID); n != 2 {
		t.Errorf("during the recovery %d unused codes, want her old unused one and the new one", n)
	}
	before := auditCount(t, s)
	rep, err := s.FinishRecovery(ctx, sc.r.ID, sc.r.DueAt, ev("recovery.finish", "user:"+sc.anna.ID))
	must(t, "FinishRecovery", err)
	if rep.Credentials != 2 || rep.RecoveryCodes != 2 || rep.Recovery.Outcome != authn.RecoveryFinished {
		t.Errorf("FinishRecovery report %+v, want 2 credentials and her 2 old codes removed", rep)
	}
	if c := auditCount(t, s); c != before+1 {
		t.Errorf("audit events %d after the finish, want %d", c, before+1)
	}
	ids := credentialIDs(t, s, sc.anna.ID)
	if len(ids) != 1 || !ids[sc.newKey.ID] {
		t.Errorf("after the finish she has %v; want the recovery's key only", ids)
	}
	if ok, _ := s.HasRecoveryCode(ctx, sc.anna.ID, sc.newCode); !ok {
		t.Error("the recovery's code went with the finish")
	}
	if n, _ := s.CountRecoveryCodes(ctx, sc.anna.ID); n != 1 {
		t.Errorf("after the finish %d codes, want the recovery's one", n)
	}
	_, err = s.FinishRecovery(ctx, sc.r.ID, sc.r.DueAt.Add(time.Hour), ev("recovery.finish", ""))
	wantErr(t, "FinishRecovery again", err, authn.ErrUsed)
	_, err = s.CancelRecovery(ctx, sc.r.Cancel, "", authn.SessionHash{}, sc.r.DueAt.Add(time.Hour), ev("recovery.cancel", ""))
	wantErr(t, "CancelRecovery after finish", err, authn.ErrUsed)
	if !getSession(t, s, sc.newSess.Hash).RevokedAt.IsZero() {
		t.Error("the finish revoked the session of her new factor")
	}
}

// testRecoverySuperseded: a second recovery started while one is pending
// ends it and keeps its cut, so the factors from before the first stay
// old, and a cancel gives back the codes from before the first.
func testRecoverySuperseded(t *testing.T, s authn.Store) {
	ctx := t.Context()
	at := micro(time.Now())
	sc := mkRecoveryScene(t, s, at)
	r2 := mkRecovery(t, s, sc.anna, at.Add(time.Hour))
	second, _, err := s.StartRecovery(ctx, recoveryStart(r2, at.Add(time.Hour+time.Minute)))
	must(t, "StartRecovery second", err)
	if !second.Since.Equal(sc.r.Since) {
		t.Errorf("the second recovery's cut %v, want the first's %v", second.Since, sc.r.Since)
	}
	first, err := s.GetRecovery(ctx, sc.r.Link)
	must(t, "GetRecovery first", err)
	if first.Outcome != authn.RecoverySuperseded || first.Pending() {
		t.Errorf("the first recovery after the second started: %+v", first)
	}
	rep, err := s.CancelRecovery(ctx, second.Cancel, "", authn.SessionHash{}, at.Add(2*time.Hour), ev("recovery.cancel", ""))
	must(t, "CancelRecovery second", err)
	ids := credentialIDs(t, s, sc.anna.ID)
	if rep.Credentials != 1 || len(ids) != 2 || !ids[sc.oldKey.ID] || !ids[sc.oldApp.ID] {
		t.Errorf("after cancelling the second recovery she has %v (%+v); want her old key and app", ids, rep)
	}
	if n, _ := s.CountRecoveryCodes(ctx, sc.anna.ID); n != 1 {
		t.Errorf("after the cancel %d unused codes, want her old one", n)
	}
}

// testRecoverySupersededCancelFollows (review of #15): the cancel link of
// a recovery superseded by a second one, still pending, cancels the second:
// whoever wants to stop a takeover from the first notice must not be told
// it is over while it goes on. The effects are those of a cancel of the
// second (its keys go, her codes from before the first come back, every
// session since the first began ends), audited once, naming both.
func testRecoverySupersededCancelFollows(t *testing.T, s authn.Store) {
	ctx := t.Context()
	at := micro(time.Now())
	sc := mkRecoveryScene(t, s, at)
	r2 := mkRecovery(t, s, sc.anna, at.Add(time.Hour))
	second, _, err := s.StartRecovery(ctx, recoveryStart(r2, at.Add(time.Hour+time.Minute)))
	must(t, "StartRecovery second", err)
	thiefKey := mkCredential(t, s, newKey(sc.anna, at.Add(time.Hour+2*time.Minute)))
	thiefSess := mkSession(t, s, sc.anna, at.Add(time.Hour+3*time.Minute))

	before := auditCount(t, s)
	rep, err := s.CancelRecovery(ctx, sc.r.Cancel, "", authn.SessionHash{}, at.Add(2*time.Hour), ev("recovery.cancel", ""))
	must(t, "CancelRecovery by the superseded one's link", err)
	if rep.Recovery.ID != second.ID || rep.Recovery.Outcome != authn.RecoveryCancelled || rep.Superseded.ID != sc.r.ID {
		t.Errorf("CancelRecovery by the first link reports %+v; want the second (%s) cancelled, reached from the first (%s)", rep, second.ID, sc.r.ID)
	}
	if _, err := s.PendingRecovery(ctx, sc.anna.ID); !errors.Is(err, authn.ErrNotFound) {
		t.Errorf("PendingRecovery after the first link cancelled: %v, want none", err)
	}
	got, err := s.GetRecovery(ctx, r2.Link)
	must(t, "GetRecovery second", err)
	if got.Outcome != authn.RecoveryCancelled {
		t.Errorf("the second recovery after the first link: %+v, want cancelled", got)
	}
	ids := credentialIDs(t, s, sc.anna.ID)
	if len(ids) != 2 || !ids[sc.oldKey.ID] || !ids[sc.oldApp.ID] || ids[thiefKey.ID] || ids[sc.newKey.ID] {
		t.Errorf("after the cancel she has %v; want her old key and app only", ids)
	}
	if n, _ := s.CountRecoveryCodes(ctx, sc.anna.ID); n != 1 {
		t.Errorf("after the cancel %d unused codes, want her old one", n)
	}
	for name, h := range map[string]authn.SessionHash{"after the first": sc.newSess.Hash, "after the second": thiefSess.Hash} {
		if getSession(t, s, h).RevokedAt.IsZero() {
			t.Errorf("the session signed in %s recovery began is alive after the cancel", name)
		}
	}
	events := verifyAudit(t, s, 500)
	if len(events) != before+1 {
		t.Fatalf("audit events %d after the cancel, want %d", len(events), before+1)
	}
	last := events[len(events)-1]
	if last.Action != "recovery.cancel" || last.Details["recovery_id"] != second.ID || last.Details["superseded_recovery_id"] != sc.r.ID {
		t.Errorf("the cancel is audited as %+v; want recovery.cancel of %s by the link of %s", last, second.ID, sc.r.ID)
	}
	_, err = s.CancelRecovery(ctx, sc.r.Cancel, "", authn.SessionHash{}, at.Add(3*time.Hour), ev("recovery.cancel", ""))
	wantErr(t, "CancelRecovery by the first link again", err, authn.ErrUsed)
	_, err = s.CancelRecovery(ctx, second.Cancel, "", authn.SessionHash{}, at.Add(3*time.Hour), ev("recovery.cancel", ""))
	wantErr(t, "CancelRecovery by the second link after", err, authn.ErrUsed)

	// A chain of three: the first link reaches the third.
	berta := mkUser(t, s, "berta")
	var chain []authn.Recovery
	for i := range 3 {
		r := mkRecovery(t, s, berta, at.Add(time.Duration(i)*time.Hour))
		started, _, err := s.StartRecovery(ctx, recoveryStart(r, at.Add(time.Duration(i)*time.Hour+time.Minute)))
		must(t, "StartRecovery", err)
		chain = append(chain, started)
	}
	rep, err = s.CancelRecovery(ctx, chain[0].Cancel, "", authn.SessionHash{}, at.Add(4*time.Hour), ev("recovery.cancel", ""))
	must(t, "CancelRecovery by the first of three", err)
	if rep.Recovery.ID != chain[2].ID || rep.Superseded.ID != chain[0].ID {
		t.Errorf("the first of three links cancelled %s (from %s), want the third %s", rep.Recovery.ID, rep.Superseded.ID, chain[2].ID)
	}
}

// testRecoverySupersededChainEnded: the cancel link of a superseded
// recovery whose successor ended (cancelled, finished), or that an IT reset
// ended, answers ErrUsed as before and changes nothing; it never reaches a
// recovery begun after the chain ended.
func testRecoverySupersededChainEnded(t *testing.T, s authn.Store) {
	ctx := t.Context()
	at := micro(time.Now())
	sc := mkRecoveryScene(t, s, at)
	r2 := mkRecovery(t, s, sc.anna, at.Add(time.Hour))
	second, _, err := s.StartRecovery(ctx, recoveryStart(r2, at.Add(time.Hour+time.Minute)))
	must(t, "StartRecovery second", err)
	_, err = s.CancelRecovery(ctx, second.Cancel, "", authn.SessionHash{}, at.Add(2*time.Hour), ev("recovery.cancel", ""))
	must(t, "CancelRecovery second", err)
	// A third recovery, begun after the chain ended, is not the first's.
	r3 := mkRecovery(t, s, sc.anna, at.Add(3*time.Hour))
	third, _, err := s.StartRecovery(ctx, recoveryStart(r3, at.Add(3*time.Hour+time.Minute)))
	must(t, "StartRecovery third", err)
	before := auditCount(t, s)
	rep, err := s.CancelRecovery(ctx, sc.r.Cancel, "", authn.SessionHash{}, at.Add(4*time.Hour), ev("recovery.cancel", ""))
	wantErr(t, "CancelRecovery by the first link of a cancelled chain", err, authn.ErrUsed)
	if rep.Recovery.ID != sc.r.ID || rep.Recovery.Outcome != authn.RecoverySuperseded {
		t.Errorf("CancelRecovery by the first link of a cancelled chain reports %+v, want the first, superseded", rep)
	}
	if p, err := s.PendingRecovery(ctx, sc.anna.ID); err != nil || p.ID != third.ID {
		t.Errorf("PendingRecovery after the first link: %+v, %v; want the third still pending", p, err)
	}
	if c := auditCount(t, s); c != before {
		t.Errorf("audit events %d after a refused cancel, want %d", c, before)
	}

	// Ended by an IT reset: nothing pending follows from it.
	berta := mkUser(t, s, "berta")
	rb := mkRecovery(t, s, berta, at)
	first, _, err := s.StartRecovery(ctx, recoveryStart(rb, at.Add(time.Minute)))
	must(t, "StartRecovery berta", err)
	_, err = s.ResetUser(ctx, berta.ID, at.Add(time.Hour), newInvitation(berta, "reset", at.Add(time.Hour)), codeHash(8),
		ev("user.reset", "user:"+berta.ID))
	must(t, "ResetUser", err)
	rb2 := mkRecovery(t, s, berta, at.Add(2*time.Hour))
	after, _, err := s.StartRecovery(ctx, recoveryStart(rb2, at.Add(2*time.Hour+time.Minute)))
	must(t, "StartRecovery berta after the reset", err)
	_, err = s.CancelRecovery(ctx, first.Cancel, "", authn.SessionHash{}, at.Add(3*time.Hour), ev("recovery.cancel", ""))
	wantErr(t, "CancelRecovery by a link that a reset ended", err, authn.ErrUsed)
	if p, err := s.PendingRecovery(ctx, berta.ID); err != nil || p.ID != after.ID {
		t.Errorf("PendingRecovery of berta: %+v, %v; want the one after the reset still pending", p, err)
	}

	// Finished: as today.
	carla := mkUser(t, s, "carla")
	rc := mkRecovery(t, s, carla, at)
	c1, _, err := s.StartRecovery(ctx, recoveryStart(rc, at.Add(time.Minute)))
	must(t, "StartRecovery carla", err)
	rc2 := mkRecovery(t, s, carla, at.Add(time.Hour))
	c2, _, err := s.StartRecovery(ctx, recoveryStart(rc2, at.Add(time.Hour+time.Minute)))
	must(t, "StartRecovery carla second", err)
	mkCredential(t, s, newKey(carla, at.Add(time.Hour+2*time.Minute)))
	_, err = s.FinishRecovery(ctx, c2.ID, c2.DueAt, ev("recovery.finish", "user:"+carla.ID))
	must(t, "FinishRecovery carla", err)
	_, err = s.CancelRecovery(ctx, c1.Cancel, "", authn.SessionHash{}, c2.DueAt.Add(time.Hour), ev("recovery.cancel", ""))
	wantErr(t, "CancelRecovery by the first link of a finished chain", err, authn.ErrUsed)
}

// testFinishRecoveryNothingAdded (review of #15): a recovery that is due
// but added no key or app ends as abandoned, and her old factors stay:
// whoever clicked the link and enrolled nothing leaves her with them.
func testFinishRecoveryNothingAdded(t *testing.T, s authn.Store) {
	ctx := t.Context()
	at := micro(time.Now())
	sc := mkRecoveryScene(t, s, at)
	must(t, "DeleteCredential", s.DeleteCredential(ctx, sc.anna.ID, sc.newKey.ID, ev("credential.delete", "")))
	old := credentialIDs(t, s, sc.anna.ID)
	rep, err := s.FinishRecovery(ctx, sc.r.ID, sc.r.DueAt, ev("recovery.finish", "user:"+sc.anna.ID))
	must(t, "FinishRecovery", err)
	if rep.Recovery.Outcome != authn.RecoveryAbandoned || rep.Credentials != 0 {
		t.Errorf("FinishRecovery report %+v, want abandoned, nothing removed", rep)
	}
	if ids := credentialIDs(t, s, sc.anna.ID); len(ids) != len(old) || len(ids) == 0 {
		t.Errorf("after an abandoned recovery she has %v, want her old %v", ids, old)
	}
	_, err = s.FinishRecovery(ctx, sc.r.ID, sc.r.DueAt.Add(time.Hour), ev("recovery.finish", ""))
	wantErr(t, "FinishRecovery again", err, authn.ErrUsed)
}

// testResetEndsRecovery (review of #15): an IT reset ends a pending
// recovery, so that its cancel link cannot undo what the reset's
// invitation adds, nor its finish run.
func testResetEndsRecovery(t *testing.T, s authn.Store) {
	ctx := t.Context()
	at := micro(time.Now())
	sc := mkRecoveryScene(t, s, at)
	_, err := s.ResetUser(ctx, sc.anna.ID, at.Add(time.Hour), newInvitation(sc.anna, "reset", at.Add(time.Hour)), codeHash(9),
		ev("user.reset", "user:"+sc.anna.ID))
	must(t, "ResetUser", err)
	if _, err := s.PendingRecovery(ctx, sc.anna.ID); !errors.Is(err, authn.ErrNotFound) {
		t.Errorf("PendingRecovery after a reset: %v, want none", err)
	}
	_, err = s.CancelRecovery(ctx, sc.r.Cancel, "", authn.SessionHash{}, at.Add(2*time.Hour), ev("recovery.cancel", ""))
	wantErr(t, "CancelRecovery after a reset", err, authn.ErrUsed)
	_, err = s.FinishRecovery(ctx, sc.r.ID, sc.r.DueAt, ev("recovery.finish", ""))
	wantErr(t, "FinishRecovery after a reset", err, authn.ErrUsed)
}

// testFreezeCancelsRecovery (review of #15): freezing her account ("that
// was not me") cancels her pending recovery: the key added since it began
// goes, her old key, app and codes stay, and nothing is left to finish.
func testFreezeCancelsRecovery(t *testing.T, s authn.Store, withToken bool) {
	ctx := t.Context()
	at := micro(time.Now())
	sc := mkRecoveryScene(t, s, at)
	freezeAt := at.Add(time.Hour)
	var err error
	if withToken {
		tok := authn.FreezeToken{Hash: randHash(), UserID: sc.anna.ID, CreatedAt: at, ExpiresAt: at.Add(authn.FreezeTokenTTL)}
		must(t, "CreateFreezeToken", s.CreateFreezeToken(ctx, tok))
		_, err = s.FreezeWithToken(ctx, tok.Hash, freezeAt, ev("user.frozen", ""))
	} else {
		_, err = s.FreezeUser(ctx, sc.anna.ID, freezeAt, ev("user.frozen", "user:"+sc.anna.ID))
	}
	must(t, "freeze", err)
	ids := credentialIDs(t, s, sc.anna.ID)
	if !ids[sc.oldKey.ID] || !ids[sc.oldApp.ID] || ids[sc.newKey.ID] || len(ids) != 2 {
		t.Errorf("after the freeze she has %v; want her old key and app only", ids)
	}
	if n, _ := s.CountRecoveryCodes(ctx, sc.anna.ID); n != 1 {
		t.Errorf("after the freeze %d unused codes, want her one old unused code", n)
	}
	if ok, _ := s.HasRecoveryCode(ctx, sc.anna.ID, sc.newCode); ok {
		t.Error("the recovery's new code survived the freeze")
	}
	r, err := s.GetRecovery(ctx, sc.r.Link)
	must(t, "GetRecovery", err)
	if r.Pending() || r.Outcome != authn.RecoveryCancelled {
		t.Errorf("the recovery after the freeze: %+v, want cancelled", r)
	}
	if _, err := s.PendingRecovery(ctx, sc.anna.ID); !errors.Is(err, authn.ErrNotFound) {
		t.Errorf("PendingRecovery after the freeze: %v, want none", err)
	}
	events, err := s.RecentAudit(ctx, "user:"+sc.anna.ID, "user.frozen", 1)
	must(t, "RecentAudit", err)
	if len(events) != 1 || events[0].Details["cancelled_recovery_id"] != sc.r.ID || events[0].Details["removed_credentials"] != "1" {
		t.Errorf("the freeze's audit event %+v does not name the cancelled recovery", events)
	}
	_, err = s.FinishRecovery(ctx, sc.r.ID, sc.r.DueAt, ev("recovery.finish", ""))
	wantErr(t, "FinishRecovery after the freeze", err, authn.ErrUsed)
	must(t, "UnfreezeUser", s.UnfreezeUser(ctx, sc.anna.ID, ev("user.unfrozen", "")))
	if ids := credentialIDs(t, s, sc.anna.ID); !ids[sc.oldKey.ID] || ids[sc.newKey.ID] {
		t.Errorf("after the unfreeze she has %v; want her old factors", ids)
	}
}

// testFinishRecoveryNotActive (review of #15): a due recovery of a person
// who is not active is not listed and not finished; her factors stay, and
// it finishes once she is active again.
func testFinishRecoveryNotActive(t *testing.T, s authn.Store) {
	ctx := t.Context()
	at := micro(time.Now())
	sc := mkRecoveryScene(t, s, at)
	setStatus := func(st authn.UserStatus) {
		t.Helper()
		_, err := s.UpdateUser(ctx, sc.anna.ID, func(u authn.User) (authn.User, error) { u.Status = st; return u, nil }, ev("user.update", ""))
		must(t, "UpdateUser", err)
	}
	setStatus(authn.StatusDisabled)
	due, err := s.DueRecoveries(ctx, sc.r.DueAt, 10)
	must(t, "DueRecoveries", err)
	if len(due) != 0 {
		t.Errorf("DueRecoveries lists the recovery of a disabled person: %+v", due)
	}
	_, err = s.FinishRecovery(ctx, sc.r.ID, sc.r.DueAt, ev("recovery.finish", ""))
	wantErr(t, "FinishRecovery of a disabled person", err, authn.ErrNotActive)
	if ids := credentialIDs(t, s, sc.anna.ID); !ids[sc.oldKey.ID] || !ids[sc.oldApp.ID] {
		t.Errorf("her old factors went while she was disabled: %v", ids)
	}
	if _, err := s.PendingRecovery(ctx, sc.anna.ID); err != nil {
		t.Errorf("PendingRecovery while disabled: %v, want it pending", err)
	}
	setStatus(authn.StatusActive)
	rep, err := s.FinishRecovery(ctx, sc.r.ID, sc.r.DueAt, ev("recovery.finish", ""))
	must(t, "FinishRecovery once active", err)
	if rep.Recovery.Outcome != authn.RecoveryFinished {
		t.Errorf("FinishRecovery once active: %+v", rep)
	}
}

// testDisableCancelsRecovery: an administrator's disable cancels her
// pending recovery by e-mail as a freeze does, in the disable's audit
// event: enabled again later, the job does not delete her own key and app
// and keep the new one, maybe a mailbox thief's.
func testDisableCancelsRecovery(t *testing.T, s authn.Store) {
	ctx := t.Context()
	at := micro(time.Now())
	sc := mkRecoveryScene(t, s, at)
	changed, err := s.DisableUser(ctx, sc.anna.ID, at.Add(time.Hour), ev("user.disable", "user:"+sc.anna.ID))
	if err != nil || !changed {
		t.Fatalf("DisableUser: %v %v", changed, err)
	}
	events, err := s.RecentAudit(ctx, "user:"+sc.anna.ID, "user.disable", 1)
	must(t, "RecentAudit", err)
	if len(events) != 1 || events[0].Details["cancelled_recovery_id"] != sc.r.ID || events[0].Details["removed_credentials"] != "1" {
		t.Errorf("the disable's audit event %+v does not name the cancelled recovery", events)
	}
	if _, err := s.PendingRecovery(ctx, sc.anna.ID); !errors.Is(err, authn.ErrNotFound) {
		t.Errorf("PendingRecovery after the disable: %v, want none", err)
	}
	later := sc.r.DueAt.Add(24 * time.Hour)
	enabled, err := s.(authn.DeskStore).EnableUser(ctx, sc.anna.ID, later, ev("user.enable", "user:"+sc.anna.ID))
	if err != nil || !enabled {
		t.Fatalf("EnableUser: %v %v", enabled, err)
	}
	finishDue(t, s, later)
	ids := credentialIDs(t, s, sc.anna.ID)
	if !ids[sc.oldKey.ID] || !ids[sc.oldApp.ID] || ids[sc.newKey.ID] {
		t.Errorf("disabled during her recovery and enabled after it was due, she has %v: old key %v, old app %v, the recovery's key %v",
			ids, ids[sc.oldKey.ID], ids[sc.oldApp.ID], ids[sc.newKey.ID])
	}
}

// finishDue runs the periodic job's part: it finishes the recoveries due
// at at.
func finishDue(t *testing.T, s authn.Store, at time.Time) {
	t.Helper()
	due, err := s.DueRecoveries(t.Context(), at, 10)
	must(t, "DueRecoveries", err)
	for _, r := range due {
		if _, err := s.FinishRecovery(t.Context(), r.ID, at, ev("recovery.finish", "")); err != nil {
			t.Fatal(err)
		}
	}
}

// RecoveryPendingFromBeforeUpgrade: a person disabled by an administrator
// or frozen before a disable and a freeze cancelled a recovery by e-mail
// keeps a pending one; her enable and her unfreeze cancel it, in their
// audit event, so that the job does not finish it. mark sets her status as
// the old version did (frozen, or disabled by an administrator), without
// the store's methods.
func RecoveryPendingFromBeforeUpgrade(t *testing.T, newStore func(t *testing.T) authn.Store, mark func(t *testing.T, s authn.Store, userID string, frozen bool)) {
	for _, frozen := range []bool{false, true} {
		t.Run(map[bool]string{false: "disabled", true: "frozen"}[frozen], func(t *testing.T) {
			s := newStore(t)
			ctx := t.Context()
			at := micro(time.Now())
			sc := mkRecoveryScene(t, s, at)
			mark(t, s, sc.anna.ID, frozen)
			if _, err := s.PendingRecovery(ctx, sc.anna.ID); err != nil {
				t.Fatalf("PendingRecovery before the enable: %v", err)
			}
			later := sc.r.DueAt.Add(24 * time.Hour)
			action := "user.unfrozen"
			if frozen {
				must(t, "UnfreezeUser", s.UnfreezeUser(ctx, sc.anna.ID, authn.AuditEvent{Time: later, Actor: "user:admin", Action: action, Subject: "user:" + sc.anna.ID}))
			} else {
				action = "user.enable"
				enabled, err := s.(authn.DeskStore).EnableUser(ctx, sc.anna.ID, later, ev(action, "user:"+sc.anna.ID))
				if err != nil || !enabled {
					t.Fatalf("EnableUser: %v %v", enabled, err)
				}
			}
			events, err := s.RecentAudit(ctx, "user:"+sc.anna.ID, action, 1)
			must(t, "RecentAudit", err)
			if len(events) != 1 || events[0].Details["cancelled_recovery_id"] != sc.r.ID {
				t.Errorf("the %s event %+v does not name the cancelled recovery", action, events)
			}
			finishDue(t, s, later)
			ids := credentialIDs(t, s, sc.anna.ID)
			if !ids[sc.oldKey.ID] || !ids[sc.oldApp.ID] || ids[sc.newKey.ID] {
				t.Errorf("after %s she has %v: old key %v, old app %v, the recovery's key %v",
					action, ids, ids[sc.oldKey.ID], ids[sc.oldApp.ID], ids[sc.newKey.ID])
			}
		})
	}
}

// DirectoryDisableCancelsRecovery: a directory person with a pending
// recovery by e-mail whom the directory disables (she left, or IT
// disabled her there on suspicion) has the recovery cancelled at once, as
// an administrator's disable does, audited about her; when the directory
// enables her again after it was due, the job does not finish a thief's
// recovery. toDirectory makes the person one of directory dir, as a sync
// would have made her.
func DirectoryDisableCancelsRecovery(t *testing.T, s authn.Store, toDirectory func(t *testing.T, s authn.Store, userID, dir string)) {
	ctx := t.Context()
	at := micro(time.Now())
	sc := mkRecoveryScene(t, s, at)
	toDirectory(t, s, sc.anna.ID, "corp")
	ds := s.(authn.DirectoryStore)
	if _, err := ds.ApplyDirectorySync(ctx, "corp", authn.DirectoryChanges{At: at.Add(time.Hour),
		Disable: []authn.DirectoryDisable{{UserID: sc.anna.ID}}}, ev("directory.sync", "directory:corp")); err != nil {
		t.Fatal(err)
	}
	if _, err := s.PendingRecovery(ctx, sc.anna.ID); !errors.Is(err, authn.ErrNotFound) {
		t.Errorf("PendingRecovery after the directory disabled her: %v, want none", err)
	}
	events, err := s.RecentAudit(ctx, "user:"+sc.anna.ID, "recovery.cancel", 1)
	must(t, "RecentAudit", err)
	if len(events) != 1 || events[0].Details["cancelled_recovery_id"] != sc.r.ID {
		t.Errorf("the cancel by the directory's disable is audited as %+v", events)
	}
	later := sc.r.DueAt.Add(24 * time.Hour)
	if _, err := ds.ApplyDirectorySync(ctx, "corp", authn.DirectoryChanges{At: later, Enable: []string{sc.anna.ID}},
		ev("directory.sync", "directory:corp")); err != nil {
		t.Fatal(err)
	}
	finishDue(t, s, later)
	ids := credentialIDs(t, s, sc.anna.ID)
	if !ids[sc.oldKey.ID] || !ids[sc.oldApp.ID] || ids[sc.newKey.ID] {
		t.Errorf("disabled by the directory during her recovery and enabled after it was due, she has %v: old key %v, old app %v, the recovery's key %v",
			ids, ids[sc.oldKey.ID], ids[sc.oldApp.ID], ids[sc.newKey.ID])
	}
}
