package authn

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"errors"
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"
)

// maxUnknownName bounds what is kept of a username that cannot be
// canonical (it names nobody, but the flow must look the same).
const maxUnknownName = 4 * MaxNameLength

// Start begins a sign-in for username. An unknown username gets the same
// Progress as a person with a security key (Next is StepKey, every
// alternative offered), after comparable work, so the answer does not tell
// whether the name exists. A disabled person is told only after a correct
// possession factor.
func (s *SignIn) Start(ctx context.Context, username, returnTo string, c ClientInfo) (Progress, error) {
	name, err := CanonicalName(username)
	if err != nil {
		name = strings.ToValidUTF8(strings.TrimSpace(username), "")
		for len(name) > maxUnknownName {
			_, n := utf8.DecodeLastRuneInString(name)
			name = name[:len(name)-n]
		}
	}
	p := Pending{Username: name, Next: StepKey, ReturnTo: returnTo}
	var rec SignInRecord
	if err == nil {
		rec, err = s.store.GetSignInRecordByUsername(ctx, name)
	} else {
		// No such person can exist: the same read, for the same time.
		rec, err = s.store.GetSignInRecord(ctx, "")
	}
	switch {
	case err == nil:
		p.UserID = rec.User.ID
	case !errors.Is(err, ErrNotFound):
		return Progress{}, fmt.Errorf("start sign-in: %w", err)
	}
	creds := rec.Credentials
	if p.UserID != "" {
		p.Next = firstStep(creds)
	} else {
		p.Next = fakeFirstStep(s.fakeKey, name)
	}
	// The key's ceremony opens now, sealed into the pending sign-in, so
	// that the key page's request for its options only opens it (BeginKey).
	if p.Next == StepKey {
		if _, err := s.openCeremony(&p, creds); err != nil {
			return Progress{}, err
		}
	}
	return s.put(ctx, p)
}

// fakeFirstStep is the first step shown for an unknown username: the
// security key for most names and the app for some, always the same for the
// same name. A known person without a key starts at the app; were unknown
// names always sent to the key, that difference would tell which names
// exist (WebAuthn L3 §14.6.2).
func fakeFirstStep(key []byte, username string) Step {
	h := hmac.New(sha256.New, key)
	h.Write([]byte("first step\x00"))
	h.Write([]byte(username))
	if h.Sum(nil)[0]%4 == 0 {
		return StepTOTP
	}
	return StepKey
}

// SwitchTo moves a pending sign-in that has no factor yet to another
// possession factor (StepKey, StepTOTP or StepRecovery).
func (s *SignIn) SwitchTo(ctx context.Context, pendingID []byte, next Step) (Progress, error) {
	if next != StepKey && next != StepTOTP && next != StepRecovery {
		return Progress{}, fmt.Errorf("switch sign-in to %q: not a possession factor", next)
	}
	p, err := s.take(ctx, pendingID)
	if err != nil {
		return Progress{}, err
	}
	if len(p.AMR) > 0 {
		return s.retry(ctx, p, refuse(ReasonPolicy, "switch to %s after %v", next, p.AMR))
	}
	p.Next, p.Ceremony = next, nil
	return s.put(ctx, p)
}

// Restart returns the Progress for the step of a pending sign-in without
// changing it, for showing its page again.
func (s *SignIn) Restart(ctx context.Context, pendingID []byte) (Progress, error) {
	p, err := s.read(ctx, pendingID)
	if err != nil {
		return Progress{}, err
	}
	return s.progress(p, pendingID), nil
}

// read opens the pending sign-in with id without using it: ReasonExpired
// when it cannot be opened or has expired. An id used before still opens:
// every step that acts on it uses it in the store, and is refused there.
func (s *SignIn) read(_ context.Context, pendingID []byte) (Pending, error) {
	p, err := s.openPending(pendingID, s.now())
	if err != nil {
		return Pending{}, &SignInError{Reason: ReasonExpired, Err: err}
	}
	return p, nil
}

// take opens the pending sign-in with id and uses it up (one write):
// ReasonExpired when it cannot be opened, has expired or was used before.
func (s *SignIn) take(ctx context.Context, pendingID []byte) (Pending, error) {
	p, err := s.read(ctx, pendingID)
	if err != nil {
		return Pending{}, err
	}
	if err := s.use(ctx, p); err != nil {
		return Pending{}, err
	}
	return p, nil
}

// use marks the id of p (read before) as used, exactly once under
// concurrency: ReasonExpired if it was used before.
func (s *SignIn) use(ctx context.Context, p Pending) error {
	err := s.store.UsePending(ctx, p.Hash, p.ExpiresAt)
	switch {
	case errors.Is(err, ErrUsed):
		return &SignInError{Reason: ReasonExpired, Err: err}
	case err != nil:
		return fmt.Errorf("use pending sign-in: %w", err)
	}
	return nil
}

// takeFor takes the pending sign-in for step want (inOrder, as peekFor);
// a step out of order ends the sign-in.
func (s *SignIn) takeFor(ctx context.Context, pendingID []byte, want Step) (Pending, error) {
	p, err := s.peekFor(ctx, pendingID, want)
	if err != nil {
		return Pending{}, err
	}
	if err := s.use(ctx, p); err != nil {
		return Pending{}, err
	}
	return p, nil
}

// inOrder reports whether step want may come now in p, and makes it p's
// next step: the step p waits for, or, while no factor is done, any
// possession factor (the person chose another on the page); the password
// only after a possession factor.
func inOrder(p *Pending, want Step) bool {
	switch {
	case p.Next == want && (want != StepPassword || len(p.AMR) > 0):
		return true
	case want != StepPassword && len(p.AMR) == 0 && p.Next != StepPassword:
		p.Next = want
		return true
	}
	return false
}

// peekFor reads the pending sign-in for step want without using it, for
// a step that leads to the next through replace or commitFactor (and for
// takeFor). A step out of order (inOrder) uses the pending sign-in up, and
// so ends it.
func (s *SignIn) peekFor(ctx context.Context, pendingID []byte, want Step) (Pending, error) {
	p, err := s.read(ctx, pendingID)
	if err != nil {
		return Pending{}, err
	}
	if !inOrder(&p, want) {
		if err := s.use(ctx, p); err != nil {
			return Pending{}, err
		}
		return Pending{}, refuse(ReasonExpired, "step %s out of order: waiting for %s after %v", want, p.Next, p.AMR)
	}
	return p, nil
}

// replace uses up the pending sign-in that p was read as (p.Hash,
// p.ExpiresAt: one write, so it is replaced exactly once) and returns p's
// Progress under a new id, sealed first, so that nothing is used up for a
// step that cannot go on.
func (s *SignIn) replace(ctx context.Context, p Pending) (Progress, error) {
	prog, err := s.put(ctx, p)
	if err != nil {
		return Progress{}, err
	}
	if err := s.use(ctx, p); err != nil {
		return Progress{}, err
	}
	return prog, nil
}

// put seals p, with a new expiry, into a new id and returns its Progress.
// Nothing is stored. A key ceremony goes along only to the key's step. A
// return address too long to fit the id (MaxPendingIDLen) is dropped, with
// a warning: the person then lands on her account page after signing in.
func (s *SignIn) put(_ context.Context, p Pending) (Progress, error) {
	for _, m := range p.AMR {
		if m == "" || strings.ContainsAny(m, " \t\n") {
			return Progress{}, fmt.Errorf("amr value %q is not an RFC 8176 method name", m)
		}
	}
	if p.Next != StepKey {
		p.Ceremony = nil
	}
	now := s.now()
	p.CreatedAt, p.ExpiresAt = now, now.Add(PendingLifetime)
	id, err := s.sealPending(p)
	if errors.Is(err, errPendingTooLong) && p.ReturnTo != "" {
		s.log.Warn("return address too long to keep through the sign-in: dropped", "user", p.UserID, "length", len(p.ReturnTo))
		p.ReturnTo = ""
		id, err = s.sealPending(p)
	}
	if err != nil {
		return Progress{}, err
	}
	p.Hash = HashPendingID(id)
	return s.progress(p, id), nil
}

// retry puts p back for the same step under a new id, so the person can try
// again, and returns its Progress with the refusal e.
func (s *SignIn) retry(ctx context.Context, p Pending, e *SignInError) (Progress, error) {
	p.Ceremony = nil // a challenge is single use
	prog, err := s.put(ctx, p)
	if err != nil {
		return Progress{}, err
	}
	return prog, e
}

// failPeeked is failStep for a pending sign-in read with peekFor (not yet
// used): a refusal uses it up and returns p under a new id for another try.
func (s *SignIn) failPeeked(ctx context.Context, p Pending, err error) (Progress, error) {
	var se *SignInError
	if !errors.As(err, &se) {
		return Progress{}, err
	}
	p.Ceremony = nil // a challenge is single use
	prog, err := s.replace(ctx, p)
	if err != nil {
		return Progress{}, err
	}
	return prog, se
}

// commitFactor stores a verified possession step st (Credential and
// counter set by the caller) in one write with what it leads to: the step
// uses up the pending sign-in that p was read as; then the session of u
// ending sign-in p, and its audit event, are stored with it when u is not
// nil, else p is the next pending sign-in, under a new id. A pending
// sign-in used meanwhile is a ReasonExpired refusal; the store's other
// refusals (ErrNotForward, ErrNotFound, *ThrottledError) are returned
// wrapped, for the caller.
func (s *SignIn) commitFactor(ctx context.Context, st FactorStep, p Pending, u *User, c ClientInfo) (Progress, error) {
	st.At = s.now()
	st.Pending, st.PendingExpires = p.Hash, p.ExpiresAt
	var (
		prog Progress
		err  error
	)
	if u != nil {
		sess, ev, pr := s.newSession(ctx, p, *u, c)
		st.Session, st.Audit, prog = &sess, []AuditEvent{ev}, pr
	} else if prog, err = s.put(ctx, p); err != nil { // sealed before anything is used up
		return Progress{}, err
	}
	err = s.store.CompleteFactorStep(ctx, st)
	switch {
	case errors.Is(err, ErrUsed):
		return Progress{}, &SignInError{Reason: ReasonExpired, Err: err}
	case err != nil:
		return Progress{}, fmt.Errorf("store sign-in step: %w", err)
	}
	return prog, nil
}

// firstStep is the strongest factor of the person whose credentials are
// creds: her key, else her app, else the key step all the same. A person
// with nothing but recovery codes starts there too, with fake key options
// as an unknown username gets, and switches to a recovery code from its
// page (which offers every factor): were she sent to the recovery code at
// once, where no unknown name is ever sent, that would tell that she
// exists (WebAuthn L3 §14.6.2).
func firstStep(creds []Credential) Step {
	app := false
	for _, c := range creds {
		if c.Kind == KindWebAuthn && !c.Cloned {
			return StepKey
		}
		app = app || c.Kind == KindTOTP
	}
	if app {
		return StepTOTP
	}
	return StepKey
}

// progress describes pending sign-in p, stored under id.
func (s *SignIn) progress(p Pending, id []byte) Progress {
	return Progress{Next: p.Next, PendingID: id, Username: p.Username, ReturnTo: p.ReturnTo}
}

// effectivePolicy is what a person's groups ask, the strictest of each.
type effectivePolicy struct {
	level      Level
	uv         bool
	allowTOTP  bool
	noPassword bool // every group of hers has a policy with GroupPolicy.NoPassword (and she has one)
}

// policyOf combines the policies of the groups a person is in (their
// names).
// codeAlone reports whether a code signs u in alone: her groups say so
// (noPassword), and she is a local person; a directory person's password
// is checked by the directory, which a code alone would skip.
func (ep effectivePolicy) codeAlone(u User) bool { return ep.noPassword && u.Source == SourceLocal }

func (s *SignIn) policyOf(groups []string) effectivePolicy {
	ep := effectivePolicy{allowTOTP: true}
	first := true
	for _, g := range groups {
		gp, ok := s.policy.Groups[g]
		if !ok {
			// A group without a policy (the admin group) is no citizens'
			// group: its member keeps her password (review of #15).
			ep.noPassword, first = false, false
			continue
		}
		ep.noPassword = (first || ep.noPassword) && gp.NoPassword
		first = false
		if gp.Level.rank() > ep.level.rank() {
			ep.level = gp.Level
		}
		ep.uv = ep.uv || gp.UserVerification
		ep.allowTOTP = ep.allowTOTP && gp.AllowTOTP
	}
	return ep
}

// amrACR returns the RFC 8176 methods of a sign-in with the factors done
// ("mfa" added for two or more) and its level: phrh with an attested
// hardware key (hwk), phr with a synced passkey (swk) or another key (pop),
// none for a code alone (GroupPolicy.NoPassword), else mfa.
func amrACR(factors []string) ([]string, Level) {
	amr := slices.Clone(factors)
	if len(amr) >= 2 {
		amr = append(amr, "mfa")
	}
	switch {
	case len(amr) == 1 && amr[0] == "otp":
		// An app code or a recovery code alone (GroupPolicy.NoPassword):
		// one factor, not phishing-resistant.
		return amr, LevelNone
	case slices.Contains(amr, "hwk"):
		return amr, LevelPhrh
	case slices.Contains(amr, "swk"), slices.Contains(amr, "pop"):
		return amr, LevelPhr
	}
	return amr, LevelMFA
}
