package enroll

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/keyhall/keyhall/authn"
)

func codesAD(userID string) []byte { return []byte("enroll-codes:" + userID) }

// pendingCodes opens the recovery codes waiting in p; nil if there are none.
func (s *Service) pendingCodes(p authn.EnrollPending) ([]string, error) {
	if p.CodesSealed == nil {
		return nil, nil
	}
	b, err := authn.Open(s.cfg.EncryptionKey, p.CodesSealed, codesAD(p.UserID))
	if err != nil {
		return nil, fmt.Errorf("open recovery codes: %w", err)
	}
	return strings.Split(string(b), "\n"), nil
}

// ShowRecoveryCodes returns the recovery codes NewRecoveryCodes made and
// the person has not yet confirmed, the same ones, under a new id. Refused
// (ReasonExpired) when none are waiting.
func (s *Service) ShowRecoveryCodes(ctx context.Context, id []byte) ([]string, Progress, error) {
	p, pr, err := s.step(ctx, id, authn.ScopeRecoveryCodes)
	if err != nil {
		return nil, pr, err
	}
	codes, err := s.pendingCodes(p)
	if err != nil {
		return nil, Progress{}, err
	}
	if codes == nil {
		pr, err := s.retry(ctx, p, refuseMsg(ReasonExpired, msgStepExpired, fmt.Errorf("no recovery codes waiting")))
		return nil, pr, err
	}
	pr, err = s.put(ctx, p, IdleTTL, time.Time{})
	return codes, pr, err
}

// KeepRecoveryCodes is the person's word that she stored the codes shown:
// they replace her old ones now (only their hashes, authn.HashRecoveryCode,
// are stored). The enrollment goes on under a new id; with no codes
// waiting nothing changes.
func (s *Service) KeepRecoveryCodes(ctx context.Context, id []byte) (Progress, error) {
	p, pr, err := s.step(ctx, id, authn.ScopeRecoveryCodes)
	if err != nil {
		return pr, err
	}
	codes, err := s.pendingCodes(p)
	if err != nil {
		return Progress{}, err
	}
	if codes != nil {
		hashes := make([]authn.TokenHash, len(codes))
		for i, c := range codes {
			hashes[i] = authn.HashRecoveryCode(c)
		}
		ev := authn.AuditEvent{Time: s.now(), Actor: "user:" + p.UserID, Action: "recovery_codes.replace",
			Subject: "user:" + p.UserID, Details: map[string]string{"count": fmt.Sprint(len(codes))}}
		// The codes and the next step are one write (CompleteEnrollStep).
		next := p
		next.Ceremony, next.TOTPSealed, next.CodesSealed = nil, nil, nil
		nextID, next := s.nextStep(next, IdleTTL, time.Time{})
		if err := s.cfg.Store.CompleteEnrollStep(ctx, authn.EnrollStep{UserID: p.UserID, At: s.now(), RecoveryCodes: hashes,
			Event: ev, Next: next}); err != nil {
			return s.keepOn(ctx, p, fmt.Errorf("store recovery codes: %w", err))
		}
		return s.progress(ctx, nextID, next)
	}
	return s.put(ctx, p, IdleTTL, time.Time{})
}
