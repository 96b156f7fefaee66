package authn

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"unicode"
)

// dummySecret stands in for an app's secret where a person has none, so the
// work done does not tell.
var dummySecret = make([]byte, 20)

// throttled counts one try under keys, before anything is compared. While
// any counter is over its limit it returns the refusal, for right and wrong
// answers alike (the caller must not compare).
func (s *SignIn) throttled(ctx context.Context, keys []hitKey) (*SignInError, error) {
	wait, first, err := s.hitThrottle(ctx, keys)
	if err != nil {
		return nil, err
	}
	if wait > 0 {
		return &SignInError{Reason: ReasonThrottled, RetryAfter: wait, Err: errors.New("too many tries"), quiet: !first}, nil
	}
	return nil, nil
}

// verifyTOTP checks a code from the person's authenticator app (RFC 6238:
// SHA-1, 6 digits, 30-second steps, one step of drift either way). A time
// step at or below the last one accepted is refused (RFC 6238 §5.2: "the
// verifier MUST NOT accept the second attempt of the OTP"), in the store's
// one conditional update, so also when two processes race.
//
// Tries are counted per account and address, and no answer is given
// before its try is counted: a wrong code is counted, then answered (as
// throttled if a counter is over its limit); a right one goes to the store
// with its counters (FactorStep.Throttle), which refuses it as throttled,
// and counts it, when a counter is at its limit. So parallel guesses are
// all counted, and while throttled right and wrong codes get the same
// answer.
//
// The pending sign-in is read, not used, while the code is checked; then
// one write (CompleteFactorStep) uses it up, exactly once, with the time
// step.
func (s *SignIn) verifyTOTP(ctx context.Context, pendingID []byte, code string, c ClientInfo) (Progress, error) {
	p, err := s.peekFor(ctx, pendingID, StepTOTP)
	if err != nil {
		return Progress{}, err
	}
	keys, err := s.codeKeys(ctx, throttle2FA, p, c)
	if err != nil {
		return Progress{}, fmt.Errorf("verify app code: %w", err)
	}
	// The person and her apps, in one read; for an unknown username ("")
	// the same read finds no one.
	rec, err := s.store.GetSignInRecord(ctx, p.UserID)
	if err != nil && !errors.Is(err, ErrNotFound) {
		return Progress{}, fmt.Errorf("verify app code: %w", err)
	}
	cred, step, err := s.matchApp(p, rec.Credentials, code)
	user, pol := rec.User, s.policyOf(rec.Groups)
	right := err == nil
	if right && (!pol.allowTOTP || !LevelMFA.Meets(pol.level)) {
		err = refuse(ReasonPolicy, "policy (level %q, app allowed %t) refuses app codes", pol.level, pol.allowTOTP)
	}
	if right && err == nil && statusRefusal(user) == nil && !pol.codeAlone(user) {
		se, perr := s.needPassword(ctx, user)
		if perr != nil {
			return Progress{}, fmt.Errorf("verify app code: %w", perr)
		}
		if se != nil {
			err = se // the code is not used: nothing follows from it
		}
	}
	if err != nil {
		// Counted before it is answered; a right code that the policy
		// refuses takes its try back.
		if se, terr := s.throttled(ctx, keys); se != nil || terr != nil {
			return s.failPeeked(ctx, p, errors.Join(asErr(se), terr))
		}
		if right {
			s.undo(ctx, keys)
		}
		return s.failPeeked(ctx, p, err)
	}
	st := FactorStep{Credential: cred.ID, Kind: KindTOTP, TOTPStep: step}
	for _, k := range keys {
		st.Throttle = append(st.Throttle, ThrottleLimit{ThrottleKey{k.key, k.rule.window}, k.rule.limit})
	}
	next := p
	var refusal *SignInError
	var done *User // the person, when the code alone signs her in
	switch r := statusRefusal(user); {
	case r != nil:
		// The code was right: its time step is used up, and the same step
		// is offered again.
		refusal, next.Ceremony = r, nil
	case pol.codeAlone(user):
		next.AMR, done = []string{"otp"}, &user
	default:
		next.AMR, next.Next = []string{"otp"}, StepPassword
	}
	prog, err := s.commitFactor(ctx, st, next, done, c)
	var te *ThrottledError
	switch {
	case errors.As(err, &te):
		// Refused by the store's counters, which the wrong tries before took
		// over their limit (and audited then): not audited again.
		return s.failPeeked(ctx, p, &SignInError{Reason: ReasonThrottled, RetryAfter: te.Wait, Err: err, quiet: true})
	case errors.Is(err, ErrNotForward):
		return s.failPeeked(ctx, p, refuse(ReasonCodeReused, "app %s: step %d used before", cred.ID, step))
	case errors.Is(err, ErrNotFound): // the app was removed meanwhile
		return s.failPeeked(ctx, p, refuse(ReasonWrongCode, "app %s removed during its sign-in", cred.ID))
	case err != nil:
		return Progress{}, err
	case refusal != nil:
		return prog, refusal
	}
	return prog, nil
}

// asErr turns a nil *SignInError into a nil error.
func asErr(se *SignInError) error {
	if se == nil {
		return nil
	}
	return se
}

// undo takes back the tries of a right answer; a failure only makes the
// count stricter, so it is logged, not returned.
func (s *SignIn) undo(ctx context.Context, keys []hitKey) {
	if err := s.undoThrottle(ctx, keys); err != nil {
		s.log.Warn("could not take back a right answer's try", "err", err)
	}
}

// undoBeside takes back the tries of a right answer while next runs, so
// that the store commits both writes together, and returns next's result.
func (s *SignIn) undoBeside(ctx context.Context, keys []hitKey, next func() (Progress, error)) (Progress, error) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		s.undo(ctx, keys)
	}()
	p, err := next()
	<-done
	return p, err
}

// matchApp finds the app among creds (the person's) whose code for a step
// within the drift window is code, and that step. An unknown person's code
// is checked against a dummy secret, for the same work; it never matches.
func (s *SignIn) matchApp(p Pending, creds []Credential, code string) (Credential, int64, error) {
	digits, ok := parseTOTPCode(code)
	if !ok {
		return Credential{}, 0, refuse(ReasonWrongCode, "not a %d-digit code", TOTPDigits)
	}
	now := s.now()
	checked := false
	for _, cr := range creds {
		if cr.Kind != KindTOTP {
			continue
		}
		checked = true
		secret, err := OpenRotated(s.sealKey, s.prevKey, cr.SecretSealed, []byte(cr.ID))
		if err != nil {
			s.log.Error("cannot open an app's secret: it is sealed under an encryption key this process does not have; "+
				"if keyhall admin keys rotate-encryption ran, restart this process with the new keys.encryption_key (docs/keys.md)",
				"credential", cr.ID, "err", err)
			continue
		}
		step, ok, err := matchTOTP(secret, digits, now)
		if err != nil {
			return Credential{}, 0, err
		}
		if ok {
			return cr, step, nil
		}
	}
	if !checked {
		if _, _, err := matchTOTP(dummySecret, digits, now); err != nil {
			return Credential{}, 0, err
		}
	}
	return Credential{}, 0, refuse(ReasonWrongCode, "no app of %q has this code now", p.Username)
}

// NormalizeRecoveryCode returns the form of a recovery code that is hashed:
// letters and digits only, lower case, so "ABCD-efgh 1234" and
// "abcdefgh1234" are one code.
func NormalizeRecoveryCode(code string) string {
	var b strings.Builder
	for _, r := range code {
		if unicode.IsLetter(r) || unicode.IsDigit(r) {
			b.WriteRune(unicode.ToLower(r))
		}
	}
	return b.String()
}

// HashRecoveryCode returns the hash under which a recovery code is stored:
// SHA-256 of its normal form. Recovery codes carry about 79 random bits
// (16 symbols of 31: enroll.NewCode), so a fast hash suffices; their tries
// are throttled like app codes, under counters of their own (a stranger's
// wrong app codes do not block them).
func HashRecoveryCode(code string) TokenHash { return HashToken(NormalizeRecoveryCode(code)) }

// verifyRecoveryCode checks one of the person's recovery codes. It is a
// possession factor: the password follows, and the session is RecoveryOnly
// (it may only enroll a new factor and never meets a phishing-resistant
// policy). The code is not used up here: the pending sign-in carries its
// hash, and the step that completes the sign-in uses it up, once, in the
// same write as the session and the audit event "recovery_code.use"
// (VerifyPassword). So a wrong password leaves the code as it was, and of
// two sign-ins with one code at most one completes.
func (s *SignIn) verifyRecoveryCode(ctx context.Context, pendingID []byte, code string, c ClientInfo) (Progress, error) {
	p, err := s.takeFor(ctx, pendingID, StepRecovery)
	if err != nil {
		return Progress{}, err
	}
	keys, err := s.codeKeys(ctx, throttleRecovery, p, c)
	if err != nil {
		return Progress{}, fmt.Errorf("check recovery code: %w", err)
	}
	if se, err := s.throttled(ctx, keys); se != nil || err != nil {
		return s.failStep(ctx, p, errors.Join(asErr(se), err))
	}
	norm := NormalizeRecoveryCode(code)
	if len(norm) > 256 {
		norm = "" // no code is that long, and "" never matches one
	}
	h := HashToken(norm)
	ok, err := s.store.HasRecoveryCode(ctx, p.UserID, h)
	switch {
	case err != nil:
		return Progress{}, fmt.Errorf("check recovery code: %w", err)
	case !ok:
		return s.retry(ctx, p, refuse(ReasonWrongCode, "no unused recovery code of %q matches", p.Username))
	}
	s.undo(ctx, keys)
	rec, err := s.store.GetSignInRecord(ctx, p.UserID)
	if err != nil {
		return Progress{}, fmt.Errorf("check recovery code: %w", err)
	}
	user := rec.User
	if r := statusRefusal(user); r != nil {
		return s.retry(ctx, p, r)
	}
	if s.policyOf(rec.Groups).codeAlone(user) {
		return s.codeAlone(ctx, p, user, h, c)
	}
	if se, err := s.needPassword(ctx, user); se != nil || err != nil {
		return s.failStep(ctx, p, errors.Join(asErr(se), err))
	}
	p.AMR, p.Next, p.RecoveryOnly, p.RecoveryCode = []string{"otp"}, StepPassword, true, h
	return s.put(ctx, p)
}
