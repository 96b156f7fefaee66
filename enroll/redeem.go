package enroll

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"time"

	"github.com/keyhall/keyhall/authn"
)

// Redemption is what a person brings to start enrolling: the token from her
// link, or her username and the code; a directory person also her directory
// password.
type Redemption struct {
	Token    string // from the link /enroll/{token}
	Username string // as typed, with Code
	Code     string
	Password string
	Client   authn.ClientInfo
}

// Redeem checks an invitation and opens an enrollment for its person. The
// invitation stays open: the first factor stored consumes it, in the same
// transaction (see FinishKey, ConfirmTOTP). A wrong or unknown link or code
// and a wrong directory password count as failed tries against the client
// address and the person (throttleLimit in throttleWindow, see tries); a
// right one, and a real link that is used or expired (its holder reloaded
// it), count nothing.
func (s *Service) Redeem(ctx context.Context, r Redemption) (Progress, error) {
	keys := []string{"enroll:ip:" + r.Client.Addr}
	var username string
	if r.Token == "" {
		username, _ = authn.CanonicalName(r.Username)
		keys = append(keys, throttleCodeUser+username)
	}
	a, err := s.try(ctx, keys...)
	if err != nil {
		return Progress{}, err
	}
	u, inv, err := s.redeemer(ctx, r, username)
	if err = a.end(ctx, err); err != nil {
		return Progress{}, err
	}
	p := authn.EnrollPending{UserID: u.ID, InvitationID: inv.ID, Scope: authn.ScopeAll}
	return s.put(ctx, p, IdleTTL, inv.ExpiresAt)
}

// redeemer finds the open invitation of r and checks its person.
func (s *Service) redeemer(ctx context.Context, r Redemption, username string) (authn.User, authn.Invitation, error) {
	inv, err := s.findInvitation(ctx, r, username)
	if err != nil {
		return authn.User{}, inv, err
	}
	u, err := s.cfg.Store.GetUser(ctx, inv.UserID)
	if err != nil {
		return u, inv, fmt.Errorf("redeem invitation: %w", err)
	}
	return u, inv, s.checkRedeemer(ctx, u, r.Password)
}

// findInvitation finds the invitation by token, or by username and code,
// and checks that it is open: single use, expiry checked at use.
func (s *Service) findInvitation(ctx context.Context, r Redemption, username string) (authn.Invitation, error) {
	var inv authn.Invitation
	var err error
	if r.Token != "" {
		inv, err = s.cfg.Store.GetInvitation(ctx, authn.HashToken(NormalizeToken(r.Token)))
	} else {
		inv, err = s.invitationByCode(ctx, username, r.Code)
	}
	switch {
	case errors.Is(err, authn.ErrNotFound):
		return inv, refuseMsg(ReasonWrongCode, msgInvitationWrong, err)
	case err != nil:
		return inv, fmt.Errorf("redeem invitation: %w", err)
	case !inv.UsedAt.IsZero() || !inv.VoidedAt.IsZero():
		return inv, refuseMsg(ReasonUsed, msgInvitationUsed, fmt.Errorf("invitation %s: %w", inv.ID, authn.ErrUsed))
	case !s.now().Before(inv.ExpiresAt):
		return inv, refuseMsg(ReasonExpired, msgInvitationExpired, fmt.Errorf("invitation %s: %w", inv.ID, authn.ErrExpired))
	}
	return inv, nil
}

// invitationByCode finds the person's open invitation and compares the
// code's hash in constant time. An unknown person, a malformed code and a
// wrong one all give ErrNotFound.
func (s *Service) invitationByCode(ctx context.Context, username, code string) (authn.Invitation, error) {
	canonical, cerr := NormalizeCode(code)
	u, err := s.cfg.Store.GetUserByUsername(ctx, username)
	if err != nil && !errors.Is(err, authn.ErrNotFound) {
		return authn.Invitation{}, err
	}
	var inv authn.Invitation
	var stored authn.TokenHash
	if err == nil {
		inv, stored, err = s.cfg.Store.OpenInvitation(ctx, u.ID)
		if err != nil && !errors.Is(err, authn.ErrNotFound) {
			return authn.Invitation{}, err
		}
	}
	got := hashCode(u.ID, canonical)
	match := subtle.ConstantTimeCompare(got[:], stored[:]) == 1
	if err != nil || cerr != nil || !match || stored == (authn.TokenHash{}) {
		return authn.Invitation{}, fmt.Errorf("no open invitation of %q with this code: %w", username, authn.ErrNotFound)
	}
	return inv, nil
}

// checkRedeemer refuses a disabled person and, for a directory person when
// a directory is configured, a wrong or empty directory password (an empty
// one counts as a wrong try and never reaches the directory).
func (s *Service) checkRedeemer(ctx context.Context, u authn.User, password string) error {
	if err := statusRefusal(u); err != nil {
		return err
	}
	if u.Source != authn.SourceDirectory || s.cfg.Directory == nil {
		return nil
	}
	a, err := s.try(ctx, passwordKey+u.Username)
	if err != nil {
		return err
	}
	return a.end(ctx, s.verifyDirectory(ctx, u, password))
}

// verifyDirectory asks the directory whether password is u's.
func (s *Service) verifyDirectory(ctx context.Context, u authn.User, password string) error {
	if password == "" {
		// An LDAP bind with an empty password is an anonymous bind, which
		// succeeds (RFC 4513 §5.1.2): never ask the directory.
		return refuseMsg(ReasonWrongPassword, msgWrongPassword, fmt.Errorf("empty directory password for %s", u.Username))
	}
	err := s.cfg.Directory.VerifyPassword(ctx, u, password)
	switch {
	case errors.Is(err, authn.ErrWrongPassword):
		return refuseMsg(ReasonWrongPassword, msgWrongPassword, err)
	case errors.Is(err, authn.ErrDirectoryUnavailable) && errors.Is(err, authn.ErrPasswordSent):
		// The directory may have counted it: so does the throttle.
		e := refuseMsg(ReasonWrongPassword, msgDirectoryUnavailable, err)
		return e
	case errors.Is(err, authn.ErrDirectoryUnavailable):
		return refuseMsg(ReasonDirectoryUnavailable, msgDirectoryUnavailable, err)
	case errors.Is(err, authn.ErrAccountDisabled):
		return refuseMsg(ReasonDisabled, msgDisabled, err)
	case errors.Is(err, authn.ErrAccountExpired):
		return refuseMsg(ReasonDirectoryAccount, msgAccountExpired, err)
	case errors.Is(err, authn.ErrPasswordMustChange):
		return refuseMsg(ReasonDirectoryAccount, msgPasswordMustChange, err)
	case errors.Is(err, authn.ErrAccountLocked):
		return refuseMsg(ReasonDirectoryAccount, msgAccountLocked, err)
	case err != nil:
		return fmt.Errorf("verify directory password of %s: %w", u.Username, err)
	}
	return nil
}

// Resume takes up the enrollment with id where it stands, for a browser
// that comes back to it with its invitation link (token): a reload, or
// after an error that followed a stored factor. The link must be one of
// the enrollment's person: another person's used link leads nowhere. The
// enrollment goes on under a new id (Progress.ID, also with a refusal),
// with a key registration or app setup it had open closed. Refused as
// any step is (see step).
func (s *Service) Resume(ctx context.Context, id []byte, token string) (Progress, error) {
	p, pr, err := s.step(ctx, id, 0)
	if err != nil {
		return pr, err
	}
	p.TOTPSealed = nil
	inv, err := s.cfg.Store.GetInvitation(ctx, authn.HashToken(NormalizeToken(token)))
	switch {
	case err != nil && !errors.Is(err, authn.ErrNotFound):
		return s.keepOn(ctx, p, fmt.Errorf("resume enrollment: %w", err))
	case err != nil || inv.UserID != p.UserID || p.Session != (authn.SessionHash{}):
		return s.retry(ctx, p, refuseMsg(ReasonUsed, msgInvitationUsed, errors.New("the link is not the enrollment's")))
	}
	return s.retry(ctx, p, nil)
}

// Current returns where the enrollment with id stands, under a new id,
// for a page that shows it (the password page names her). Refused as any
// step is (see step).
func (s *Service) Current(ctx context.Context, id []byte) (Progress, error) {
	p, pr, err := s.step(ctx, id, 0)
	if err != nil {
		return pr, err
	}
	return s.put(ctx, p, IdleTTL, time.Time{})
}

// Finish ends an enrollment: its id can no longer be used. An
// invitation's enrollment whose invitation requires a password
// (Terms.RequirePassword) does not end while the local person has none:
// it is refused (ReasonPasswordNeeded) and goes on under Progress.ID, for
// her to set it (SetPassword).
func (s *Service) Finish(ctx context.Context, id []byte) (Progress, error) {
	p, err := s.take(ctx, id)
	switch {
	case IsReason(err, ReasonExpired):
		return Progress{}, nil
	case err != nil:
		return Progress{}, err
	case p.Session != (authn.SessionHash{}):
		return Progress{}, nil
	}
	need, err := s.passwordMissing(ctx, p)
	switch {
	case err != nil:
		return s.keepOn(ctx, p, err)
	case need:
		return s.retry(ctx, p, refuseMsg(ReasonPasswordNeeded, msgPasswordRequired,
			errors.New("the invitation requires a password and she has none")))
	}
	return Progress{}, nil
}
