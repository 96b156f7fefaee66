package enroll

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/keyhall/keyhall/authn"
)

func codesAD(userID string) []byte { return []byte("enroll-codes:" + userID) }

// codesStored heads the sealed codes that are stored already (NewRecoveryCodes).
const codesStored = "stored"

// sealCodes seals codes for the enrollment of userID; stored says they are
// in the store already.
func (s *Service) sealCodes(userID string, codes []string, stored bool) ([]byte, error) {
	text := strings.Join(codes, "\n")
	if stored {
		text = codesStored + "\n" + text
	}
	b, err := authn.Seal(s.cfg.EncryptionKey, []byte(text), codesAD(userID))
	if err != nil {
		return nil, fmt.Errorf("seal recovery codes: %w", err)
	}
	return b, nil
}

// pendingCodes opens the recovery codes waiting in p, and whether they are
// stored already; nil if there are none.
func (s *Service) pendingCodes(p authn.EnrollPending) (codes []string, stored bool, err error) {
	if p.CodesSealed == nil {
		return nil, false, nil
	}
	b, err := authn.OpenRotated(s.cfg.EncryptionKey, s.cfg.PreviousEncryptionKey, p.CodesSealed, codesAD(p.UserID))
	if err != nil {
		return nil, false, fmt.Errorf("open recovery codes: %w", err)
	}
	codes = strings.Split(string(b), "\n")
	if codes[0] == codesStored {
		return codes[1:], true, nil
	}
	return codes, false, nil
}

// storeCodes stores codes as the person's recovery codes (replacing every
// other) together with the enrollment's next step, p as it is, in one
// write (CompleteEnrollStep). After a failed write the enrollment stays
// open under a new id (keepOn).
func (s *Service) storeCodes(ctx context.Context, p authn.EnrollPending, codes []string) (Progress, error) {
	hashes := make([]authn.TokenHash, len(codes))
	for i, c := range codes {
		hashes[i] = authn.HashRecoveryCode(c)
	}
	ev := authn.AuditEvent{Time: s.now(), Actor: "user:" + p.UserID, Action: "recovery_codes.replace",
		Subject: "user:" + p.UserID, Details: map[string]string{"count": fmt.Sprint(len(codes))}}
	next := p
	next.Ceremony, next.TOTPSealed = nil, nil
	nextID, next := s.nextStep(next, IdleTTL, time.Time{})
	if err := s.cfg.Store.CompleteEnrollStep(ctx, authn.EnrollStep{UserID: p.UserID, At: s.now(), RecoveryCodes: hashes,
		Event: ev, Next: next}); err != nil {
		return s.keepOn(ctx, p, fmt.Errorf("store recovery codes: %w", err))
	}
	return s.progress(ctx, nextID, next)
}

// ShowRecoveryCodes returns the recovery codes NewRecoveryCodes made and
// the person has not yet confirmed, the same ones, under a new id. Refused
// (ReasonExpired) when none are waiting.
func (s *Service) ShowRecoveryCodes(ctx context.Context, id []byte) ([]string, Progress, error) {
	p, pr, err := s.step(ctx, id, authn.ScopeRecoveryCodes)
	if err != nil {
		return nil, pr, err
	}
	codes, _, err := s.pendingCodes(p)
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
// are stored), in one write with the next step. The enrollment goes on
// under a new id; with no codes waiting, or codes stored already, nothing
// changes.
func (s *Service) KeepRecoveryCodes(ctx context.Context, id []byte) (Progress, error) {
	p, pr, err := s.step(ctx, id, authn.ScopeRecoveryCodes)
	if err != nil {
		return pr, err
	}
	codes, stored, err := s.pendingCodes(p)
	if err != nil {
		return Progress{}, err
	}
	p.CodesSealed = nil
	if codes == nil || stored {
		return s.put(ctx, p, IdleTTL, time.Time{})
	}
	return s.storeCodes(ctx, p, codes)
}

// SealAD returns the additional data enroll seals a person's waiting
// secrets with (kind authn.SealedEnrollApp or authn.SealedEnrollCodes),
// for re-sealing them under a new encryption key; nil for another kind.
func SealAD(kind, userID string) []byte {
	switch kind {
	case authn.SealedEnrollApp:
		return totpAD(userID)
	case authn.SealedEnrollCodes:
		return codesAD(userID)
	}
	return nil
}
