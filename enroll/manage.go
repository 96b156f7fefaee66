package enroll

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/keyhall/keyhall/authn"
)

// MaxNicknameLength is the longest nickname of a key or app, in characters.
const MaxNicknameLength = 64 // authn.TextNickname.MaxChars

// InvitationInfo is what the page behind an invitation link shows before
// anything is redeemed: whom it is for, until when, and whether the
// directory password will be asked.
type InvitationInfo struct {
	User          authn.User
	ExpiresAt     time.Time
	NeedsPassword bool
}

// Inspect looks at the invitation of a link without using it up, with
// Redeem's refusals (ReasonWrongCode for an unknown token, ReasonUsed,
// ReasonExpired) and its throttling: a lookup counts as a try against the
// client address, taken back when the invitation is open, so following
// links cannot be used to guess tokens faster than redeeming them.
func (s *Service) Inspect(ctx context.Context, token string, client authn.ClientInfo) (InvitationInfo, error) {
	a, err := s.try(ctx, "enroll:ip:"+client.Addr)
	if err != nil {
		return InvitationInfo{}, err
	}
	inv, err := s.findInvitation(ctx, Redemption{Token: token}, "")
	if err = a.end(ctx, err); err != nil {
		return InvitationInfo{}, err
	}
	u, err := s.cfg.Store.GetUser(ctx, inv.UserID)
	if err != nil {
		return InvitationInfo{}, fmt.Errorf("inspect invitation: %w", err)
	}
	need := u.Source == authn.SourceDirectory && s.cfg.Directory != nil
	return InvitationInfo{User: u, ExpiresAt: inv.ExpiresAt, NeedsPassword: need}, nil
}

// CheckNickname returns the nickname trimmed, or a refusal (ReasonNickname)
// when it is empty, longer than MaxNicknameLength characters, not UTF-8, or
// holds control characters (authn.TextNickname).
func CheckNickname(nickname string) (string, error) {
	n := strings.TrimSpace(nickname)
	if n == "" {
		return "", refuseMsg(ReasonNickname, msgNickname, errors.New("nickname is empty"))
	}
	if err := authn.CheckText(authn.TextNickname, n); err != nil {
		return "", refuseMsg(ReasonNickname, msgNickname, err)
	}
	return n, nil
}

// optionalNickname is CheckNickname for the nickname given with a new key
// or app, where none ("") means a default.
func optionalNickname(nickname string) (string, error) {
	if strings.TrimSpace(nickname) == "" {
		return "", nil
	}
	return CheckNickname(nickname)
}

// Rename gives one of her own keys or apps a new nickname
// (CheckNickname), for the person signed in with sess (mayChange). An
// error wrapping authn.ErrNotFound when she has no credential credID.
func (s *Service) Rename(ctx context.Context, sess authn.Session, credID, nickname string) error {
	if err := s.mayChange(sess, "rename"); err != nil {
		return err
	}
	n, err := CheckNickname(nickname)
	if err != nil {
		return err
	}
	userID := sess.UserID
	ev := authn.AuditEvent{Time: s.now(), Actor: "user:" + userID, Action: "credential.rename", Subject: "user:" + userID,
		Details: map[string]string{"credential_id": credID, "nickname": n}}
	if err := s.cfg.Store.RenameCredential(ctx, userID, credID, n, ev); err != nil {
		return fmt.Errorf("rename credential: %w", err)
	}
	return nil
}

// mayChange is the rule for renaming or removing one's own factor: a
// fresh sign-in (SignInFresh, ReasonSignIn) that did not come from a
// recovery code (ReasonScope): with one she may only add a key or an app
// (ScopeOf), lest a stolen code and password lock the owner out.
func (s *Service) mayChange(sess authn.Session, what string) error {
	if err := signInFresh(sess, s.now()); err != nil {
		return err
	}
	if sess.RecoveryOnly {
		return refuseMsg(ReasonScope, msgCodesNotFromCode, errors.New("a recovery-only session tried to "+what+" a factor"))
	}
	return nil
}

// Remove is the removal of one of her own keys or apps by the person
// signed in with sess (mayChange: fresh, not from a recovery code). A key
// needs a sign-in at least at the level the key signs in at
// (authn.KeyLevel): an app and a password do not remove a hardware key,
// nor does a synced passkey (ReasonKeyLevel). It never takes the last
// factor that her policy requires: another key or app must remain, and a
// key where her groups admit no app alone. That is checked in the store's
// transaction (authn.EnrollStore.RemoveCredential), so two removals at
// once cannot both pass. A refusal is an *Error with ReasonLastFactor or
// ReasonKeyNeeded (or ReasonSignIn, ReasonScope, ReasonKeyLevel); an unknown credID wraps authn.ErrNotFound. The person
// is told by mail. (IT's RevokeCredential may remove the last one.)
func (s *Service) Remove(ctx context.Context, sess authn.Session, credID string) (authn.Credential, error) {
	userID, actor := sess.UserID, "user:"+sess.UserID
	u, rules, err := s.person(ctx, userID)
	if err != nil {
		return authn.Credential{}, err
	}
	if err := s.mayChange(sess, "remove"); err != nil {
		return authn.Credential{}, err
	}
	if err := s.mayRemove(ctx, sess, credID); err != nil {
		return authn.Credential{}, err
	}
	keep := authn.Keep{Key: !rules.TOTPAlone()}
	now := s.now()
	ev := authn.AuditEvent{Time: now, Actor: actor, Action: "credential.revoke", Subject: "user:" + userID,
		Reason: "self-service", Details: map[string]string{"credential_id": credID}}
	c, err := s.cfg.Store.RemoveCredential(ctx, userID, credID, keep, ev)
	if errors.Is(err, authn.ErrLastFactor) {
		return authn.Credential{}, s.lastFactorRefusal(ctx, userID, credID, keep, err)
	}
	if err != nil {
		return authn.Credential{}, fmt.Errorf("remove credential: %w", err)
	}
	s.tell(ctx, u, s.cfg.Notices.FactorRemoved(u, FactorLabel(c), now))
	return c, nil
}

// mayRemove refuses the removal of a key by a sign-in below the key's
// level. The level of a stored key does not change, so it is read before
// the removal's transaction.
func (s *Service) mayRemove(ctx context.Context, sess authn.Session, credID string) error {
	creds, err := s.cfg.Store.ListCredentials(ctx, sess.UserID)
	if err != nil {
		return fmt.Errorf("remove credential: %w", err)
	}
	for _, c := range creds {
		if c.ID != credID || c.Kind != authn.KindWebAuthn {
			continue
		}
		if need := authn.KeyLevel(c); !authn.Level(sess.ACR).Meets(need) {
			return refuseMsg(ReasonKeyLevel, msgRemoveNeedsLevel,
				fmt.Errorf("a session at %q asked to remove key %s, which signs in at %q", sess.ACR, c.ID, need))
		}
	}
	return nil
}

// lastFactorRefusal tells why a removal was refused: no other factor at
// all, or no other key where one is required.
func (s *Service) lastFactorRefusal(ctx context.Context, userID, credID string, keep authn.Keep, cause error) error {
	if !keep.Key {
		return refuseMsg(ReasonLastFactor, msgLastFactor, cause)
	}
	creds, err := s.cfg.Store.ListCredentials(ctx, userID)
	if err != nil {
		return fmt.Errorf("remove credential: %w", err)
	}
	for _, c := range creds {
		if c.ID != credID {
			return refuseMsg(ReasonKeyNeeded, msgKeyNeeded, cause)
		}
	}
	return refuseMsg(ReasonLastFactor, msgLastFactor, cause)
}

// RecoveryCodeUsed tells the person with the canonical username that one
// of her recovery codes was just used to sign in, and how many are left.
// Sign-in calls it after the code was accepted; nothing fails with it.
func (s *Service) RecoveryCodeUsed(ctx context.Context, username string) {
	if s.cfg.Mailer == nil {
		return
	}
	u, err := s.cfg.Store.GetUserByUsername(ctx, username)
	if err != nil {
		s.log.Warn("mail about a recovery code not sent", "user", username, "err", err)
		return
	}
	left, err := s.cfg.Store.CountRecoveryCodes(ctx, u.ID)
	if err != nil {
		s.log.Warn("mail about a recovery code not sent", "user", username, "err", err)
		return
	}
	s.tell(ctx, u, s.cfg.Notices.RecoveryCodeUsed(u, left, s.now()))
}

// tell sends m to u when a Mailer is configured and she has an address. A
// failure is logged (Notify) and never fails the action; the request's end
// does not cut the mail off.
func (s *Service) tell(ctx context.Context, u authn.User, m Message) {
	if s.cfg.Mailer == nil || u.Email == "" {
		return
	}
	Notify(context.WithoutCancel(ctx), s.cfg.Mailer, s.log, m)
}
