package enroll

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/keyhall/keyhall/authn"
)

// ErrNoReason: an IT action was asked for without a reason.
var ErrNoReason = errors.New("a reason is required")

// ErrDirectoryPassword: IT asked to require a password of a directory
// person, whose password is the directory's (Terms.RequirePassword).
var ErrDirectoryPassword = errors.New("a directory person's password is the directory's: Keyhall cannot require her to choose one")

// Reset is IT's answer to a lost or stolen set of factors: every key and
// app of the person is suspended (no sign-in sees them; they are deleted
// when she stores a new one), her recovery codes removed, every session
// revoked, and a new invitation issued (voiding older ones), in one
// transaction with ONE audit event that says who (actor), whom, why
// (reason) and what was taken. The report carries her "this was not me"
// link (FreezeLink) for the notice (Notices.Reset).
func (s *Service) Reset(ctx context.Context, userID string, validity time.Duration, actor, reason string) (Invitation, authn.ResetReport, error) {
	return s.ResetWith(ctx, userID, Terms{Validity: validity}, actor, reason)
}

// ResetWith is Reset with IT's terms for the new invitation.
func (s *Service) ResetWith(ctx context.Context, userID string, t Terms, actor, reason string) (Invitation, authn.ResetReport, error) {
	if strings.TrimSpace(reason) == "" {
		return Invitation{}, authn.ResetReport{}, fmt.Errorf("reset: %w", ErrNoReason)
	}
	u, err := s.cfg.Store.GetUser(ctx, userID)
	if err != nil {
		return Invitation{}, authn.ResetReport{}, fmt.Errorf("reset: %w", err)
	}
	inv, out, codeHash, err := s.newInvitation(u, t, actor)
	if err != nil {
		return Invitation{}, authn.ResetReport{}, err
	}
	ev := authn.AuditEvent{
		Time: inv.CreatedAt, Actor: actor, Action: "user.reset", Subject: "user:" + u.ID, Reason: reason,
		ClientAddr: t.ClientAddr,
		Details: t.withAudit(map[string]string{"username": u.Username, "invitation_id": inv.ID,
			"invitation_expires_at": inv.ExpiresAt.Format(time.RFC3339)}),
	}
	if inv.RequirePassword {
		ev.Details["require_password"] = "true"
	}
	// The link first: a reset whose notice could not carry one does not
	// happen (an unused token is harmless).
	link, err := s.freezeLink(ctx, u.ID)
	if err != nil {
		return Invitation{}, authn.ResetReport{}, fmt.Errorf("reset %s: %w", u.Username, err)
	}
	rep, err := s.cfg.Store.ResetUser(ctx, u.ID, inv.CreatedAt, inv, codeHash, ev)
	if err != nil {
		return Invitation{}, authn.ResetReport{}, fmt.Errorf("reset %s: %w", u.Username, err)
	}
	rep.FreezeLink = link
	s.log.Info("factors reset", "user", u.Username, "actor", actor, "keys", rep.Keys, "apps", rep.Apps,
		"recovery_codes", rep.RecoveryCodes, "sessions", rep.Sessions)
	return out, rep, nil
}

// RevokeCredential removes one key or app of a person (a lost key); she
// keeps the others. ErrNotFound if she has no credential credID.
func (s *Service) RevokeCredential(ctx context.Context, userID, credID, actor, reason string) error {
	if strings.TrimSpace(reason) == "" {
		return fmt.Errorf("revoke credential: %w", ErrNoReason)
	}
	ev := authn.AuditEvent{Time: s.now(), Actor: actor, Action: "credential.revoke", Subject: "user:" + userID,
		Reason: reason, Details: map[string]string{"credential_id": credID}}
	if err := s.cfg.Store.DeleteCredential(ctx, userID, credID, ev); err != nil {
		return fmt.Errorf("revoke credential: %w", err)
	}
	return nil
}

// Throttle key prefixes of the enrollment: wrong codes per username
// (Redeem without a link) and wrong app codes per person (ConfirmTOTP).
const (
	throttleCodeUser = "enroll:u:"
	throttleTOTPUser = "enroll:totp:"
)

// ThrottleKeys returns the enrollment's throttle keys of one person, for
// the IT desk's lifting of a throttle (ResetThrottle on each); sign-in's
// are authn.ThrottleKeys.
func ThrottleKeys(userID, username string) []string {
	return []string{throttleCodeUser + username, throttleTOTPUser + userID}
}
