package authn

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// errNoDirectory is the logged cause when a directory person's password
// cannot be checked.
var errNoDirectory = errors.New("no directory is configured to check the password of a directory person")

// verifyPassword checks the password, which is asked only after a
// possession factor (so nobody can guess passwords, or run up the
// directory's lockout counter, without the key or app in hand). Directory
// people are checked by the Directory; local people against their argon2id
// hash, which is replaced when the configured parameters changed. Tries are
// counted per account and address before the check.
//
// After a recovery code, the right password completes the sign-in in one
// write that uses up the pending sign-in and the code and stores the
// session (CompleteFactorStep): a code used meanwhile by another sign-in
// sends this one back to the recovery step, and a wrong password uses
// nothing up but the pending id.
func (s *SignIn) verifyPassword(ctx context.Context, pendingID []byte, password string, c ClientInfo) (Progress, error) {
	if p, err := s.read(ctx, pendingID); err == nil && p.RecoveryOnly {
		return s.passwordAfterCode(ctx, pendingID, password, c)
	}
	p, err := s.takeFor(ctx, pendingID, StepPassword)
	if err != nil {
		return Progress{}, err
	}
	user, keys, refused, err := s.tryPassword(ctx, p, password, c)
	switch {
	case err != nil:
		return Progress{}, err
	case refused != nil:
		return s.failStep(ctx, p, refused)
	}
	return s.undoBeside(ctx, keys, func() (Progress, error) {
		if r := statusRefusal(user); r != nil {
			return s.retry(ctx, p, r)
		}
		p.AMR = append(p.AMR, "pwd")
		return s.complete(ctx, p, user, c)
	})
}

// tryPassword counts a password try of p under its throttle keys and
// checks the password: the person and the keys it counted under, or
// refused (a throttle or a wrong password; a try the directory never got
// is taken back), or err when the person cannot be read.
func (s *SignIn) tryPassword(ctx context.Context, p Pending, password string, c ClientInfo) (user User, keys []hitKey, refused, err error) {
	keys = s.passwordKeys(p.Username, c.Addr)
	if se, err := s.throttled(ctx, keys); se != nil || err != nil {
		return User{}, keys, errors.Join(asErr(se), err), nil
	}
	user, err = s.store.GetUser(ctx, p.UserID)
	if err != nil {
		return User{}, keys, nil, fmt.Errorf("verify password: %w", err)
	}
	if err := s.checkPassword(ctx, user, password); err != nil {
		if notTried(err) {
			s.undo(ctx, keys)
		}
		return user, keys, err, nil
	}
	return user, keys, nil, nil
}

// passwordAfterCode is VerifyPassword after a recovery code: the pending
// sign-in is read, not used, while the password is checked; then one
// write uses it up with the code and stores the session.
func (s *SignIn) passwordAfterCode(ctx context.Context, pendingID []byte, password string, c ClientInfo) (Progress, error) {
	p, err := s.peekFor(ctx, pendingID, StepPassword)
	if err != nil {
		return Progress{}, err
	}
	user, keys, refused, err := s.tryPassword(ctx, p, password, c)
	switch {
	case err != nil:
		return Progress{}, err
	case refused != nil:
		return s.failPeeked(ctx, p, refused)
	}
	s.undo(ctx, keys)
	if r := statusRefusal(user); r != nil {
		return s.failPeeked(ctx, p, r)
	}
	done := p
	done.AMR = append(slices.Clone(p.AMR), "pwd")
	st := FactorStep{Credential: user.ID, Kind: KindRecoveryCode, RecoveryCode: p.RecoveryCode}
	use := AuditEvent{Time: s.now(), Actor: "user:" + user.ID, Action: "recovery_code.use", Subject: "user:" + user.ID, ClientAddr: c.Addr}
	st.Audit = append(st.Audit, use)
	st.At = s.now()
	st.Pending, st.PendingExpires = p.Hash, p.ExpiresAt
	sess, ev, prog := s.newSession(ctx, done, user, c)
	st.Session, st.Audit = &sess, append(st.Audit, ev)
	err = s.store.CompleteFactorStep(ctx, st)
	switch {
	case errors.Is(err, ErrUsed):
		return Progress{}, &SignInError{Reason: ReasonExpired, Err: err}
	case errors.Is(err, ErrNotFound):
		// Another sign-in used the code meanwhile: back to the codes.
		again := p
		again.AMR, again.Next, again.RecoveryOnly, again.RecoveryCode = nil, StepRecovery, false, TokenHash{}
		prog, err := s.put(ctx, again)
		if err != nil {
			return Progress{}, err
		}
		if err := s.use(ctx, p); err != nil {
			return Progress{}, err
		}
		return prog, refuse(ReasonWrongCode, "recovery code of %s used meanwhile", user.ID)
	case err != nil:
		return Progress{}, fmt.Errorf("complete sign-in with a recovery code: %w", err)
	}
	return prog, nil
}

// needPassword returns a ReasonNoPassword refusal when a right possession
// factor of u needs a password after it and u has none Keyhall can check;
// nil when she has one.
func (s *SignIn) needPassword(ctx context.Context, u User) (*SignInError, error) {
	if u.Source == SourceDirectory {
		if s.directory == nil {
			return refuse(ReasonNoPassword, "directory person %s, and no directory is configured", u.ID), nil
		}
		return nil, nil
	}
	_, err := s.store.GetPasswordHash(ctx, u.ID)
	switch {
	case errors.Is(err, ErrNotFound):
		return refuse(ReasonNoPassword, "local person %s has no password", u.ID), nil
	case err != nil:
		return nil, fmt.Errorf("look up password: %w", err)
	}
	return nil, nil
}

// checkPassword returns nil for the right password, a ReasonWrongPassword
// refusal for a wrong one, or a storage error.
func (s *SignIn) checkPassword(ctx context.Context, u User, pw string) error {
	if len(pw) > MaxPasswordBytes {
		return refuse(ReasonWrongPassword, "password of %d bytes", len(pw))
	}
	if u.Source == SourceDirectory {
		if s.directory == nil {
			s.log.Error("cannot check a password", "user", u.ID, "err", errNoDirectory)
			return &SignInError{Reason: ReasonWrongPassword, Err: errNoDirectory}
		}
		err := s.directory.VerifyPassword(ctx, u, pw)
		if se := directoryRefusal(err); se != nil {
			if se.Reason == ReasonDirectoryUnavailable {
				s.log.Warn("the directory cannot check a password", "user", u.ID, "directory", u.Directory, "err", err)
			}
			return se
		}
		if err != nil {
			return fmt.Errorf("check directory password: %w", err)
		}
		return nil
	}
	stored, err := s.store.GetPasswordHash(ctx, u.ID)
	missing := errors.Is(err, ErrNotFound)
	switch {
	case missing:
		stored = s.dummyPHC // the same work as for a real hash
	case err != nil:
		return fmt.Errorf("load password hash: %w", err)
	}
	match, rehash, err := s.hasher.check(ctx, stored, pw)
	switch {
	case err != nil && ctx.Err() != nil: // gave up waiting for a slot
		return err
	case err != nil:
		s.log.Error("stored password hash is damaged", "user", u.ID, "err", err)
		return &SignInError{Reason: ReasonWrongPassword, Err: err}
	case missing || !match:
		return refuse(ReasonWrongPassword, "password of %s does not match (has one: %t)", u.ID, !missing)
	case rehash:
		s.rehash(ctx, u, pw)
	}
	return nil
}

// directoryRefusal is the refusal for an error of a directory
// (PasswordVerifier, AccountChecker); nil for nil or any other error.
func directoryRefusal(err error) *SignInError {
	var r Reason
	switch {
	case err == nil:
		return nil
	case errors.Is(err, ErrWrongPassword):
		r = ReasonWrongPassword
	case errors.Is(err, ErrDirectoryUnavailable):
		r = ReasonDirectoryUnavailable
	case errors.Is(err, ErrAccountDisabled):
		r = ReasonDisabled
	case errors.Is(err, ErrAccountExpired):
		r = ReasonAccountExpired
	case errors.Is(err, ErrPasswordMustChange):
		r = ReasonPasswordMustChange
	case errors.Is(err, ErrAccountLocked):
		r = ReasonAccountLocked
	default:
		return nil
	}
	return &SignInError{Reason: r, Err: err}
}

// notTried reports whether a password check failed before the password
// reached the directory (it did not answer): then the try is taken back.
func notTried(err error) bool {
	return errors.Is(err, ErrDirectoryUnavailable) && !errors.Is(err, ErrPasswordSent)
}

// rehash replaces a password hash made with other parameters. A failure
// leaves the old hash, which still works, so it is only logged.
func (s *SignIn) rehash(ctx context.Context, u User, pw string) {
	phc, err := s.hasher.hash(ctx, pw)
	if err == nil {
		ev := AuditEvent{Time: s.now(), Actor: "system", Action: "password.rehash", Subject: "user:" + u.ID}
		err = s.store.SetPasswordHash(ctx, u.ID, phc, ev)
	}
	if err != nil {
		s.log.Warn("could not re-hash a password with the configured parameters", "user", u.ID, "err", err)
	}
}

// complete ends a sign-in: it issues a new session (a new random 256-bit id,
// its SHA-256 stored) with the methods used as RFC 8176 amr values and the
// level reached as acr, and audits it. The session and the audit event are
// written side by side, so the store commits them together.
func (s *SignIn) complete(ctx context.Context, p Pending, u User, c ClientInfo) (Progress, error) {
	sess, ev, prog := s.newSession(ctx, p, u, c)
	errc := make(chan error, 1)
	go func() { errc <- s.store.AppendAudit(ctx, ev) }()
	err := s.store.CreateSession(ctx, sess)
	if err := errors.Join(err, <-errc); err != nil {
		return Progress{}, fmt.Errorf("issue session: %w", err)
	}
	return prog, nil
}

// newSession returns the session that ends sign-in p of u, the audit event
// that records it (with the methods, the level and the tool it is for) and
// the Progress to return once both are stored.
func (s *SignIn) newSession(ctx context.Context, p Pending, u User, c ClientInfo) (Session, AuditEvent, Progress) {
	amr, level := amrACR(p.AMR)
	now := s.now()
	id := newID()
	sess := Session{
		Hash: HashSessionID(id), UserID: u.ID, AMR: amr, ACR: string(level), AuthTime: now, CreatedAt: now,
		LastSeenAt: now, ExpiresAt: now.Add(s.sessionMax), ClientAddr: c.Addr, UserAgent: c.UserAgent,
		RecoveryOnly: p.RecoveryOnly,
	}
	details := map[string]string{"amr": strings.Join(amr, " "), "acr": string(level)}
	if p.RecoveryOnly {
		details["recovery_only"] = "true"
	}
	if s.toolOf != nil {
		if t := s.toolOf(ctx, p.ReturnTo); t != "" {
			details["tool"] = t
		}
	}
	ev := AuditEvent{Time: now, Actor: "user:" + u.ID, Action: "signin", Subject: "user:" + u.ID, ClientAddr: c.Addr, Details: details}
	return sess, ev, Progress{Next: StepDone, Session: sess, SessionID: id, User: u, Username: u.Username, ReturnTo: p.ReturnTo}
}
