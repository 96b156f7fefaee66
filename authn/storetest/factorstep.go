package storetest

import (
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/keyhall/keyhall/authn"
)

// factorFixture is a person with a key (sign count 7) and an app (last
// step 100), and a pending sign-in of hers.
type factorFixture struct {
	anna     authn.User
	key, app authn.Credential
	pending  authn.Pending
	at       time.Time
}

func newFactorFixture(t *testing.T, s authn.Store) factorFixture {
	f := factorFixture{anna: mkUser(t, s, "anna"), at: t0.Add(time.Minute)}
	f.key = mkCredential(t, s, newKey(f.anna, t0))
	f.app = mkCredential(t, s, newApp(f.anna, t0))
	f.pending = newPending(t0)
	return f
}

// keyStep ends the fixture's pending sign-in with the key at count and a
// new session, audited.
func (f factorFixture) keyStep(count uint32) (authn.FactorStep, authn.Session) {
	sess := newSession(f.anna, f.at)
	return authn.FactorStep{
		Pending: f.pending.Hash, PendingExpires: f.pending.ExpiresAt, At: f.at,
		Credential: f.key.ID, Kind: authn.KindWebAuthn, SignCount: count,
		Session: &sess, Audit: []authn.AuditEvent{ev("signin", "user:"+f.anna.ID)},
	}, sess
}

// nothingStored checks that a refused step left the key's count, the log
// and the session store as they were. (That it left the pending sign-in
// unused shows when a later step uses it.)
func (f factorFixture) nothingStored(t *testing.T, s authn.Store, what string, audit int, sess authn.Session) {
	t.Helper()
	ctx := t.Context()
	if got := credByID(t, s, f.anna.ID, f.key.ID); got.SignCount != f.key.SignCount || !got.LastUsedAt.IsZero() {
		t.Errorf("%s: key count %d, last used %v; want %d, never", what, got.SignCount, got.LastUsedAt, f.key.SignCount)
	}
	if n := auditCount(t, s); n != audit {
		t.Errorf("%s: %d audit events, want %d", what, n, audit)
	}
	_, err := s.GetSession(ctx, sess.Hash)
	wantErr(t, what+": session", err, authn.ErrNotFound)
}

// testCompleteFactorStep: a key step that is refused stores nothing; one
// that passes takes the pending sign-in, moves the count and stores the
// session and its audit event, together and once.
func testCompleteFactorStep(t *testing.T, s authn.Store) {
	ctx := t.Context()
	f := newFactorFixture(t, s)
	audit := auditCount(t, s)

	st, sess := f.keyStep(7) // = stored
	wantErr(t, "CompleteFactorStep(stale count)", s.CompleteFactorStep(ctx, st), authn.ErrNotForward)
	f.nothingStored(t, s, "stale count", audit, sess)
	st, sess = f.keyStep(3)
	wantErr(t, "CompleteFactorStep(count back)", s.CompleteFactorStep(ctx, st), authn.ErrNotForward)
	f.nothingStored(t, s, "count back", audit, sess)

	st, sess = f.keyStep(8)
	st.Credential = "unknown"
	wantErr(t, "CompleteFactorStep(unknown key)", s.CompleteFactorStep(ctx, st), authn.ErrNotFound)
	st.Credential, st.Kind = f.app.ID, authn.KindWebAuthn
	wantErr(t, "CompleteFactorStep(an app as a key)", s.CompleteFactorStep(ctx, st), authn.ErrNotFound)
	f.nothingStored(t, s, "unknown key", audit, sess)

	taken := mkSession(t, s, f.anna, t0)
	st, _ = f.keyStep(8)
	st.Session = &taken
	wantErr(t, "CompleteFactorStep(session hash taken)", s.CompleteFactorStep(ctx, st), authn.ErrAlreadyExists)
	f.nothingStored(t, s, "session hash taken", audit, newSession(f.anna, t0))

	st, sess = f.keyStep(8)
	must(t, "CompleteFactorStep(after the refusals)", s.CompleteFactorStep(ctx, st))
	wantErr(t, "UsePending(after the step)", s.UsePending(ctx, f.pending.Hash, f.pending.ExpiresAt), authn.ErrUsed)
	if got := credByID(t, s, f.anna.ID, f.key.ID); got.SignCount != 8 || !got.LastUsedAt.Equal(micro(f.at)) {
		t.Errorf("after the step: count %d, last used %v; want 8, %v", got.SignCount, got.LastUsedAt, micro(f.at))
	}
	same(t, "GetSession", getSession(t, s, sess.Hash), sess, normSession)
	events := verifyAudit(t, s, 100)
	if len(events) != audit+1 || events[len(events)-1].Action != "signin" {
		t.Errorf("audit after the step: %d events, want %d ending with signin", len(events), audit+1)
	}

	st, sess = f.keyStep(9)
	wantErr(t, "CompleteFactorStep(again)", s.CompleteFactorStep(ctx, st), authn.ErrUsed)
	if got := credByID(t, s, f.anna.ID, f.key.ID); got.SignCount != 8 {
		t.Errorf("a step on a taken pending sign-in moved the count to %d", got.SignCount)
	}
	_, err := s.GetSession(ctx, sess.Hash)
	wantErr(t, "GetSession(step refused)", err, authn.ErrNotFound)
}

// testCompleteFactorStepApp: an app step leading to the next pending
// sign-in, with its throttle counters (seven, so more than one statement's
// worth): a step refused in the store counts as a failed try, a stored one
// does not, and a try over a limit is counted and refused with nothing
// else stored.
func testCompleteFactorStepApp(t *testing.T, s authn.Store) {
	ctx := t.Context()
	f := newFactorFixture(t, s)
	keys := []string{"2fa:u:anna", "2fa:u:anna/1d", "2fa:u:anna/30d", "ip:192.0.2.7", "ip:192.0.2.7/1d", "other", "other/2"}
	var tk []authn.ThrottleKey
	for _, k := range keys {
		tk = append(tk, authn.ThrottleKey{Key: k, Window: time.Hour})
	}
	for range 3 {
		_, err := s.HitThrottles(ctx, tk, f.at)
		must(t, "HitThrottles", err)
	}
	hits := func(what string, want int, keys ...string) {
		t.Helper()
		for _, k := range keys {
			n, err := s.ThrottleCount(ctx, k, f.at, time.Hour)
			must(t, "ThrottleCount", err)
			if n != want {
				t.Errorf("%s: throttle %s at %d, want %d", what, k, n, want)
			}
		}
	}
	limits := func(limit int) []authn.ThrottleLimit {
		var l []authn.ThrottleLimit
		for i, k := range tk {
			l = append(l, authn.ThrottleLimit{ThrottleKey: k, Limit: 100})
			if i == 4 {
				l[i].Limit, l[i].Window = limit, 2*time.Hour
			}
		}
		return l
	}
	st := authn.FactorStep{
		Pending: f.pending.Hash, PendingExpires: f.pending.ExpiresAt, At: f.at,
		Credential: f.app.ID, Kind: authn.KindTOTP, TOTPStep: 100, Throttle: limits(10),
	}
	wantErr(t, "CompleteFactorStep(step used)", s.CompleteFactorStep(ctx, st), authn.ErrNotForward)
	hits("after a reused step", 4, keys...)
	st.Kind = authn.KindWebAuthn
	wantErr(t, "CompleteFactorStep(an app as a key)", s.CompleteFactorStep(ctx, st), authn.ErrNotFound)
	hits("after an app as a key", 5, keys...)

	st.Kind, st.TOTPStep = authn.KindTOTP, 101
	must(t, "CompleteFactorStep", s.CompleteFactorStep(ctx, st))
	hits("after a stored step", 5, keys...)
	if c := credByID(t, s, f.anna.ID, f.app.ID); c.LastStep != 101 {
		t.Errorf("last step %d, want 101", c.LastStep)
	}
	st.TOTPStep = 102
	wantErr(t, "CompleteFactorStep(again)", s.CompleteFactorStep(ctx, st), authn.ErrUsed)
	hits("after a step on a taken pending sign-in", 6, keys...)

	// At its limit (6 + this try > 6): counted, refused, nothing else
	// stored (the pending sign-in stays unused: the last step uses it).
	next := newPending(f.at)
	st = authn.FactorStep{
		Pending: next.Hash, PendingExpires: next.ExpiresAt, At: f.at,
		Credential: f.app.ID, Kind: authn.KindTOTP, TOTPStep: 102, Throttle: limits(6),
	}
	err := s.CompleteFactorStep(ctx, st)
	var te *authn.ThrottledError
	if !errors.As(err, &te) || te.Wait != 2*time.Hour {
		t.Fatalf("CompleteFactorStep(over a limit) = %v, want a ThrottledError of 2h", err)
	}
	hits("after a throttled step", 7, keys...)
	if c := credByID(t, s, f.anna.ID, f.app.ID); c.LastStep != 101 {
		t.Errorf("a throttled step moved the last step to %d", c.LastStep)
	}
	// Under the limit (7 + this try ≤ 8), and past the window of another
	// (whose count, 7, is over its limit of 1 no more).
	st.Throttle, st.At = limits(8), f.at.Add(2*time.Minute)
	st.Throttle[0].Limit, st.Throttle[0].Window = 1, time.Minute
	must(t, "CompleteFactorStep(under the limits)", s.CompleteFactorStep(ctx, st))
	hits("after a stored step", 7, keys[1:]...)
}

// testCompleteFactorStepConcurrent: 20 goroutines finish one pending
// sign-in, each with its own session: exactly one succeeds, the others are
// told it was used (never ErrNotForward, which would flag the key), and only
// the winner's session and audit event are stored.
func testCompleteFactorStepConcurrent(t *testing.T, s authn.Store) {
	ctx := t.Context()
	f := newFactorFixture(t, s)
	audit := auditCount(t, s)
	const n = 20
	errs := make([]error, n)
	sessions := make([]authn.Session, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		st, sess := f.keyStep(8)
		sessions[i] = sess
		wg.Go(func() {
			<-start
			errs[i] = s.CompleteFactorStep(ctx, st)
		})
	}
	close(start)
	wg.Wait()
	won := 0
	for i, err := range errs {
		switch {
		case err == nil:
			won++
			same(t, "GetSession(winner)", getSession(t, s, sessions[i].Hash), sessions[i], normSession)
		case errors.Is(err, authn.ErrUsed):
			_, err := s.GetSession(ctx, sessions[i].Hash)
			wantErr(t, "GetSession(loser)", err, authn.ErrNotFound)
		default:
			t.Fatalf("CompleteFactorStep: %v", err)
		}
	}
	if won != 1 {
		t.Errorf("%d of %d finishes succeeded, want exactly 1", won, n)
	}
	if got := credByID(t, s, f.anna.ID, f.key.ID); got.SignCount != 8 {
		t.Errorf("sign count %d, want 8", got.SignCount)
	}
	if got := len(verifyAudit(t, s, 100)); got != audit+1 {
		t.Errorf("%d audit events, want %d", got, audit+1)
	}
}

// testCompleteFactorStepRecovery: a sign-in that ends with a recovery code
// uses the code up in the step's write, once: a code that is not (or no
// longer) unused stores nothing and leaves the pending sign-in unused;
// HasRecoveryCode only looks.
func testCompleteFactorStepRecovery(t *testing.T, s authn.Store) {
	ctx := t.Context()
	f := newFactorFixture(t, s)
	code := authn.HashToken("recovery")
	must(t, "ReplaceRecoveryCodes", s.ReplaceRecoveryCodes(ctx, f.anna.ID, []authn.TokenHash{code}, ev("recovery.replace", "")))
	has := func(h authn.TokenHash, want bool) {
		t.Helper()
		got, err := s.HasRecoveryCode(ctx, f.anna.ID, h)
		must(t, "HasRecoveryCode", err)
		if got != want {
			t.Errorf("HasRecoveryCode = %t, want %t", got, want)
		}
	}
	has(code, true)
	has(code, true) // looking uses nothing
	has(authn.HashToken("other"), false)
	step := func(h authn.TokenHash, p authn.Pending) (authn.FactorStep, authn.Session) {
		sess := newSession(f.anna, f.at)
		return authn.FactorStep{Pending: p.Hash, PendingExpires: p.ExpiresAt, At: f.at,
			Credential: f.anna.ID, Kind: authn.KindRecoveryCode, RecoveryCode: h, Session: &sess,
			Audit: []authn.AuditEvent{ev("recovery_code.use", "user:"+f.anna.ID), ev("signin", "user:"+f.anna.ID)}}, sess
	}
	audit := auditCount(t, s)
	st, sess := step(authn.HashToken("other"), f.pending)
	wantErr(t, "CompleteFactorStep(wrong code)", s.CompleteFactorStep(ctx, st), authn.ErrNotFound)
	f.nothingStored(t, s, "wrong code", audit, sess)

	// Many sign-ins with the one code: exactly one completes.
	const n = 8
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		p := f.pending
		if i > 0 {
			p = newPending(t0)
		}
		st, _ := step(code, p)
		wg.Go(func() { errs[i] = s.CompleteFactorStep(ctx, st) })
	}
	wg.Wait()
	won := 0
	for _, err := range errs {
		switch {
		case err == nil:
			won++
		case !errors.Is(err, authn.ErrNotFound):
			t.Errorf("loser: %v, want ErrNotFound", err)
		}
	}
	if won != 1 {
		t.Errorf("%d sign-ins used one recovery code, want 1", won)
	}
	has(code, false)
	if got := auditCount(t, s); got != audit+2 {
		t.Errorf("%d audit events, want %d", got, audit+2)
	}
}
