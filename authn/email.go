package authn

import (
	"context"
	"errors"
	"time"
)

// EmailConfirmation is a link mailed to a person's address: opening it
// (and confirming on the page it leads to) proves that she receives mail
// there, which makes her e-mail verified (User.EmailVerified, the OIDC
// claim email_verified). Only the SHA-256 of its token is stored. An
// address IT enters is not verified by that alone: IT may mistype it, and
// a tool that trusts email_verified would give its owner the person's
// data.
type EmailConfirmation struct {
	TokenHash TokenHash
	UserID    string
	Email     string // the address it was mailed to
	CreatedAt time.Time
	ExpiresAt time.Time
	UsedAt    time.Time // zero until used
}

// ErrEmailChanged: the person's address is no longer the one the
// confirmation was mailed to.
var ErrEmailChanged = errors.New("the e-mail address changed since the confirmation was sent")

// EmailStore keeps e-mail confirmations. It is composed into no other
// interface; a Store that implements it is asserted to it.
type EmailStore interface {
	// CreateEmailConfirmation stores c with ev.
	CreateEmailConfirmation(ctx context.Context, c EmailConfirmation, ev AuditEvent) error
	// ConfirmEmail uses the confirmation with hash h, exactly once, and
	// records its address as the person's verified one, in one
	// transaction with ev; it returns the person as stored then.
	// ErrNotFound if there is none, ErrUsed if it was used, ErrExpired if
	// now is not before its expiry, ErrEmailChanged if the person's address
	// is another now; nothing is recorded then.
	ConfirmEmail(ctx context.Context, h TokenHash, now time.Time, ev AuditEvent) (User, error)
}
