package enroll

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/keyhall/keyhall/authn"
)

// InvitationState is where a person's newest invitation stands.
type InvitationState string

const (
	InvitationNone    InvitationState = "none"    // she never had one
	InvitationPending InvitationState = "pending" // open until its expiry
	InvitationExpired InvitationState = "expired" // not used before its expiry
	InvitationUsed    InvitationState = "used"    // she enrolled with it
	InvitationVoided  InvitationState = "voided"  // replaced or withdrawn unused
)

// State is how far a person's enrollment got, for IT: her newest
// invitation and what she has to sign in with.
type State struct {
	Invitation InvitationState
	// Issued, Expires and Used are the newest invitation's times (zero
	// when there is none, or it was not used).
	Issued, Expires, Used time.Time
	Keys, Apps            int // her security keys and authenticator apps
	RecoveryCodes         int // her unused recovery codes
	// PasswordRequired: the newest invitation requires that she chooses
	// a password (Terms.RequirePassword); HasPassword: she has a local one.
	PasswordRequired, HasPassword bool
}

// StateOf reads the enrollment state of the person with userID at now.
func StateOf(ctx context.Context, st authn.Store, userID string, now time.Time) (State, error) {
	var s State
	inv, err := st.LatestInvitation(ctx, userID)
	switch {
	case errors.Is(err, authn.ErrNotFound):
		s.Invitation = InvitationNone
	case err != nil:
		return State{}, err
	default:
		s.Issued, s.Expires, s.Used = inv.CreatedAt, inv.ExpiresAt, inv.UsedAt
		s.PasswordRequired = inv.RequirePassword
		switch {
		case !inv.UsedAt.IsZero():
			s.Invitation = InvitationUsed
		case !inv.VoidedAt.IsZero():
			s.Invitation = InvitationVoided
		case !now.Before(inv.ExpiresAt):
			s.Invitation = InvitationExpired
		default:
			s.Invitation = InvitationPending
		}
	}
	creds, err := st.ListCredentials(ctx, userID)
	if err != nil {
		return State{}, fmt.Errorf("list credentials: %w", err)
	}
	for _, c := range creds {
		switch c.Kind {
		case authn.KindWebAuthn:
			s.Keys++
		case authn.KindTOTP:
			s.Apps++
		}
	}
	if s.RecoveryCodes, err = st.CountRecoveryCodes(ctx, userID); err != nil {
		return State{}, fmt.Errorf("count recovery codes: %w", err)
	}
	switch _, err := st.GetPasswordHash(ctx, userID); {
	case err == nil:
		s.HasPassword = true
	case !errors.Is(err, authn.ErrNotFound):
		return State{}, fmt.Errorf("look up password: %w", err)
	}
	return s, nil
}
