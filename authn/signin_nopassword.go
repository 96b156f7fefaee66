package authn

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
)

// codeAlone completes the sign-in p of u, whose groups sign in without a
// password (GroupPolicy.NoPassword), with her recovery code (hash h)
// alone: one write uses the code up and stores the session, which is
// RecoveryOnly as after code and password. p was used up already (its
// step took it); the write marks a new random pending hash used instead.
// A code used meanwhile by another sign-in sends her back to the codes.
func (s *SignIn) codeAlone(ctx context.Context, p Pending, u User, h TokenHash, c ClientInfo) (Progress, error) {
	done := p
	done.AMR, done.RecoveryOnly, done.RecoveryCode = []string{"otp"}, true, h
	var id [32]byte
	rand.Read(id[:]) // never fails (crypto/rand, Go ≥ 1.24)
	st := FactorStep{Credential: u.ID, Kind: KindRecoveryCode, RecoveryCode: h, At: s.now(),
		Pending: HashPendingID(id[:]), PendingExpires: p.ExpiresAt}
	st.Audit = []AuditEvent{{Time: s.now(), Actor: "user:" + u.ID, Action: "recovery_code.use", Subject: "user:" + u.ID, ClientAddr: c.Addr}}
	sess, ev, prog := s.newSession(ctx, done, u, c)
	st.Session, st.Audit = &sess, append(st.Audit, ev)
	err := s.store.CompleteFactorStep(ctx, st)
	switch {
	case errors.Is(err, ErrNotFound):
		return s.retry(ctx, p, refuse(ReasonWrongCode, "recovery code of %s used meanwhile", u.ID))
	case err != nil:
		return Progress{}, fmt.Errorf("complete sign-in with a recovery code alone: %w", err)
	}
	return prog, nil
}
