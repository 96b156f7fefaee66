package enroll

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/keyhall/keyhall/authn"
)

// Timing of a self-service enrollment.
const (
	// FreshSignIn is how recent the sign-in must be that opens a
	// self-service enrollment, renames or removes a factor, or changes
	// the password (SignInFresh).
	FreshSignIn = 5 * time.Minute
	// SelfServiceTTL is the absolute lifetime of a self-service
	// enrollment, counted from the sign-in that opened it: no step renews
	// it. Opened at the end of the fresh window, it still leaves the
	// person ten minutes for a key ceremony; a step does not ask for a
	// fresh sign-in again, which would end her ceremony in the middle.
	SelfServiceTTL = 15 * time.Minute
)

// ScopeOf is the one rule for what a self-service enrollment may add,
// from the sign-in of the session that opens it:
//
//   - with a key (level phr or phrh): a key, an app, new recovery codes;
//   - with a recovery code (RecoveryOnly): a key or an app, which is what
//     the codes are for, but not new codes, which would outlive the
//     recovery;
//   - with an app code and the password (mfa): an app only. A key would
//     sign in at a level this sign-in never reached, and new recovery codes
//     would lead to a recovery sign-in, which may add a key: a phished
//     password and app code add no key, not even in two steps.
//   - with an app code alone (a citizen's group without passwords,
//     authn.GroupPolicy.NoPassword: amr otp, no level): a key or an app,
//     as a recovery code does. Her app is all she has; she adds a passkey
//     to sign in phishing-resistant from then on (review of #15: she could
//     not). Whoever phished such a code got her account already; the key
//     added is told to her by mail with its "this was not me" link.
//   - anything else: nothing.
func ScopeOf(sess authn.Session) authn.EnrollScope {
	level := authn.Level(sess.ACR)
	switch {
	case sess.RecoveryOnly:
		return authn.ScopeKey | authn.ScopeApp
	case level.Meets(authn.LevelPhr):
		return authn.ScopeAll
	case level.Meets(authn.LevelMFA):
		return authn.ScopeApp
	case level == authn.LevelNone && len(sess.AMR) == 1 && sess.AMR[0] == "otp":
		return authn.ScopeKey | authn.ScopeApp
	}
	return 0
}

// Open starts an enrollment without an invitation for the person signed in
// with sess, to add want (one or more of authn.ScopeKey, ScopeApp,
// ScopeRecoveryCodes): BeginKey, BeginTOTP, NewRecoveryCodes. It is
// refused (ReasonScope) when ScopeOf(sess) does not include want, and
// (ReasonSignIn) when sess is not live or its sign-in is older than
// FreshSignIn. The enrollment keeps want and the session's hash: every
// step checks again that it adds only what want includes, that the
// session is still live, and that the person is active; it ends
// SelfServiceTTL after the session's sign-in at the latest.
func (s *Service) Open(ctx context.Context, sess authn.Session, want authn.EnrollScope) (Progress, error) {
	u, err := s.cfg.Store.GetUser(ctx, sess.UserID)
	if err != nil {
		return Progress{}, fmt.Errorf("open enrollment: %w", err)
	}
	if err := statusRefusal(u); err != nil {
		return Progress{}, err
	}
	live, err := s.liveSession(ctx, sess.Hash, u.ID)
	if err != nil {
		return Progress{}, err
	}
	if err := signInFresh(live, s.now()); err != nil {
		return Progress{}, err
	}
	if !ScopeOf(live).Has(want) {
		return Progress{}, scopeRefusal(live, want)
	}
	s.log.Debug("self-service enrollment opened", "user", u.Username, "scope", want, "acr", live.ACR,
		"recovery_only", live.RecoveryOnly)
	from := s.now()
	if live.AuthTime.Before(from) {
		from = live.AuthTime
	}
	p := authn.EnrollPending{UserID: u.ID, Scope: want, Session: sess.Hash, EndsAt: from.Add(SelfServiceTTL)}
	return s.put(ctx, p, IdleTTL, time.Time{})
}

// step takes the enrollment with id (single use) for a step that adds
// need, and admits it: the person is active, for a self-service
// enrollment its session is live, and its absolute end (EndsAt: a
// self-service one's, or an invitation's once used) is not reached. Then it must include need (need 0: anything); if not, it is put
// back under a new id (Progress) for what it may do, with a refusal
// (ReasonScope). Any other refusal ends it.
func (s *Service) step(ctx context.Context, id []byte, need authn.EnrollScope) (authn.EnrollPending, Progress, error) {
	p, err := s.take(ctx, id)
	if err != nil {
		return p, Progress{}, err
	}
	u, err := s.cfg.Store.GetUser(ctx, p.UserID)
	if err != nil {
		return p, Progress{}, fmt.Errorf("read person: %w", err)
	}
	if err := statusRefusal(u); err != nil {
		return p, Progress{}, err
	}
	var sess authn.Session
	if p.Session != (authn.SessionHash{}) {
		if sess, err = s.liveSession(ctx, p.Session, p.UserID); err != nil {
			return p, Progress{}, err
		}
		if !s.now().Before(p.EndsAt) {
			return p, Progress{}, refuseMsg(ReasonExpired, msgSelfServiceEnded, fmt.Errorf("self-service enrollment ended at %v", p.EndsAt))
		}
	} else if !p.EndsAt.IsZero() && !s.now().Before(p.EndsAt) {
		// Past its end only the password her invitation requires may
		// still be set (need ScopeAll: SetPassword; 0: its page), while
		// she lacks it: without it her app does not sign her in.
		missing := false
		if need == 0 || need == authn.ScopeAll {
			if missing, err = s.passwordMissing(ctx, p); err != nil {
				return p, Progress{}, err
			}
		}
		if !missing {
			return p, Progress{}, s.ended(ctx, p, fmt.Errorf("invitation's enrollment ended at %v", p.EndsAt))
		}
	}
	if need != 0 && !p.Scope.Has(need) {
		cause := scopeRefusal(sess, need)
		if p.Session == (authn.SessionHash{}) || ScopeOf(sess).Has(need) {
			cause = refuseMsg(ReasonScope, msgNotThisEnrollment, nil)
		}
		cause.Err = fmt.Errorf("an enrollment for %s asked to add %s", p.Scope, need)
		pr, err := s.retry(ctx, p, cause)
		return p, pr, err
	}
	return p, Progress{}, nil
}

// liveSession reads the session with hash h of the person userID and
// refuses it (ReasonSignIn) unless it is live (not revoked, not expired,
// not idle longer than Config.SessionIdle).
func (s *Service) liveSession(ctx context.Context, h authn.SessionHash, userID string) (authn.Session, error) {
	sess, err := s.cfg.Store.GetSession(ctx, h)
	now := s.now()
	switch {
	case errors.Is(err, authn.ErrNotFound):
		return sess, refuseMsg(ReasonSignIn, msgSignInEnded, err)
	case err != nil:
		return sess, fmt.Errorf("read session: %w", err)
	case sess.UserID != userID:
		return sess, refuseMsg(ReasonSignIn, msgSignInEnded, errors.New("the session is another person's"))
	case !sess.Usable(now, s.cfg.SessionIdle):
		return sess, refuseMsg(ReasonSignIn, msgSignInEnded, fmt.Errorf("session revoked at %v, expires at %v, last seen at %v",
			sess.RevokedAt, sess.ExpiresAt, sess.LastSeenAt))
	}
	return sess, nil
}

// SignInFresh reports whether sess signed in at most FreshSignIn before
// now: the rule for opening an enrollment and for changing one's factors
// or password. A page may send a stale session to sign in again first.
func SignInFresh(sess authn.Session, now time.Time) bool {
	return now.Sub(sess.AuthTime) <= FreshSignIn
}

// signInFresh refuses a sign-in that is not fresh (SignInFresh).
func signInFresh(sess authn.Session, now time.Time) error {
	if !SignInFresh(sess, now) {
		return refuseMsg(ReasonSignIn, msgSignInEnded, fmt.Errorf("signed in at %v, more than %v ago", sess.AuthTime, FreshSignIn))
	}
	return nil
}

// scopeRefusal says why a sign-in like sess may not add want.
func scopeRefusal(sess authn.Session, want authn.EnrollScope) *Error {
	cause := fmt.Errorf("a session at %q (recovery only: %t) may add %s, not %s", sess.ACR, sess.RecoveryOnly, ScopeOf(sess), want)
	switch {
	case want&authn.ScopeKey != 0 && !ScopeOf(sess).Has(authn.ScopeKey):
		return refuseMsg(ReasonScope, msgKeyNeedsKey, cause)
	case want&authn.ScopeRecoveryCodes != 0 && sess.RecoveryOnly:
		return refuseMsg(ReasonScope, msgCodesNotFromCode, cause)
	case want&authn.ScopeRecoveryCodes != 0:
		return refuseMsg(ReasonScope, msgCodesNeedKey, cause)
	}
	return refuseMsg(ReasonScope, msgSignInTooWeak, cause)
}
