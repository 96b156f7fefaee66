package authn

import (
	"context"
	"errors"
	"time"
)

// Refused steps of known people are audited as "signin.refused", with the
// reason (SignInError.Reason) and the step in Details, for the IT console
// (a person's last sign-ins and refusals, the refusals of the last day).
//
// Only people who exist are recorded: a refusal for an unknown username
// writes nothing, so the log can neither be flooded with made-up names nor
// tell which names exist. A step of a known person is not made slower
// either: the event is written beside the answer, not before it (a write
// that only known names wait for would tell them apart by time). Of the
// throttled tries of a window only the first is recorded (the one that took
// a counter over its limit). An expired or out-of-order step is no refusal
// of the person (the page starts again) and is not recorded. The success
// path is untouched: it writes its "signin" event with the session, as
// before.

// refusalWriteTimeout bounds the write of one refusal's event.
const refusalWriteTimeout = 10 * time.Second

// A flood of refusals for one known person (a made-up key signature sent
// in a loop: the key step has no throttle, a wrong signature costs the
// sender nothing) must not fill the audit log or pile up writes: of one
// person's refusals at most refusalsAudited a window are recorded (as many
// as the app-code throttle lets through; the "throttled" one that follows
// them is recorded all the same, once a window), and at most refusalWrites
// are written at once; beyond that they are logged only.
const (
	refusalsAudited = 10
	refusalWindow   = 10 * time.Minute
	refusalWrites   = 32
)

// VerifyTOTP checks an app code (see verifyTOTP) and audits a refusal of a
// known person.
func (s *SignIn) VerifyTOTP(ctx context.Context, pendingID []byte, code string, c ClientInfo) (Progress, error) {
	p, err := s.verifyTOTP(ctx, pendingID, code, c)
	s.noteRefusal(ctx, pendingID, StepTOTP, c, err)
	return p, err
}

// VerifyRecoveryCode checks a recovery code (see verifyRecoveryCode) and
// audits a refusal of a known person.
func (s *SignIn) VerifyRecoveryCode(ctx context.Context, pendingID []byte, code string, c ClientInfo) (Progress, error) {
	p, err := s.verifyRecoveryCode(ctx, pendingID, code, c)
	s.noteRefusal(ctx, pendingID, StepRecovery, c, err)
	return p, err
}

// VerifyPassword checks the password (see verifyPassword) and audits a
// refusal of a known person.
func (s *SignIn) VerifyPassword(ctx context.Context, pendingID []byte, password string, c ClientInfo) (Progress, error) {
	p, err := s.verifyPassword(ctx, pendingID, password, c)
	s.noteRefusal(ctx, pendingID, StepPassword, c, err)
	return p, err
}

// FinishKey verifies a key's assertion (see finishKey) and audits a
// refusal of a known person: the one the username named, or the owner of
// a passkey whose assertion was right.
func (s *SignIn) FinishKey(ctx context.Context, pendingID, response []byte, c ClientInfo) (Progress, error) {
	p, err := s.finishKey(ctx, pendingID, response, c)
	s.noteRefusal(ctx, pendingID, StepKey, c, err)
	return p, err
}

// RefusalThrottleKey is the counter of a person's refused sign-ins whose
// audit events are written (refusalsAudited a window); it names her id,
// so her erasure removes it.
func RefusalThrottleKey(userID string) string { return "signin-refused:" + userID }

// WaitRefusals waits until the events of the refusals answered so far are
// written (for a clean shutdown, and for tests that read them back).
func (s *SignIn) WaitRefusals() { s.refusals.Wait() }

// refusalOf marks se as a refusal of u, found by the step itself.
func refusalOf(u User, err error) error {
	var se *SignInError
	if errors.As(err, &se) && se.who == "" {
		se.who = u.ID
	}
	return err
}

// noteRefusal writes the event "signin.refused" for err, a refusal of the
// step of the pending sign-in with pendingID, when it names a known person
// (see the top of this file). The write runs beside the answer; a failure
// is logged.
func (s *SignIn) noteRefusal(ctx context.Context, pendingID []byte, step Step, c ClientInfo, err error) {
	var se *SignInError
	if !errors.As(err, &se) || se.quiet || se.Reason == ReasonExpired {
		return
	}
	who := se.who
	if who == "" {
		// The step opened it a moment ago; only its person is read.
		p, err := s.openPending(pendingID, s.now().Add(-time.Minute))
		if err != nil {
			return
		}
		who = p.UserID
	}
	if who == "" {
		return
	}
	ev := AuditEvent{Time: s.now(), Actor: "user:" + who, Action: "signin.refused", Subject: "user:" + who,
		ClientAddr: c.Addr, Details: map[string]string{"reason": string(se.Reason), "step": string(step)}}
	select {
	case s.refusalSlots <- struct{}{}:
	default:
		s.log.Warn("refused sign-in not audited: too many being written", "user", who, "reason", se.Reason)
		return
	}
	s.refusals.Add(1)
	go func() {
		defer func() { <-s.refusalSlots; s.refusals.Done() }()
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), refusalWriteTimeout)
		defer cancel()
		n := 0
		var err error
		if se.Reason != ReasonThrottled {
			n, err = s.store.HitThrottle(ctx, RefusalThrottleKey(who), ev.Time, refusalWindow)
		}
		if err == nil && n > refusalsAudited {
			s.log.Warn("refused sign-in not audited: too many for this person", "user", who, "reason", se.Reason)
			return
		}
		if err == nil {
			err = s.store.AppendAudit(ctx, ev)
		}
		if err != nil {
			s.log.Warn("could not audit a refused sign-in", "user", who, "reason", se.Reason, "err", err)
		}
	}()
}
