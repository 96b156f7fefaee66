package authn

import (
	"context"
	"time"
)

// FreezeTokenTTL is how long a "this was not me" link in a notice works.
const FreezeTokenTTL = 30 * 24 * time.Hour

// FreezeToken is the "this was not me" link of one notice (an IT reset, a
// factor added): its holder may freeze the person's account, once, before
// ExpiresAt. The store keeps only the SHA-256 of its secret.
type FreezeToken struct {
	Hash      TokenHash
	UserID    string
	CreatedAt time.Time
	ExpiresAt time.Time
	UsedAt    time.Time // zero until used
}

// FreezeReport tells what freezing an account ended.
type FreezeReport struct {
	UserID      string
	Sessions    int // sessions revoked
	Invitations int // open invitations voided
	// Already: she was frozen before; nothing else changed.
	Already bool
}

// FrozenUser is a frozen person, for the desk's overview.
type FrozenUser struct {
	User     User
	FrozenAt time.Time
}

// FreezeStore keeps what the "this was not me" links need, and the factors
// an IT reset suspended.
//
// A frozen person has StatusFrozen: every check that asks for StatusActive
// (sign-in, enrollment, tokens) refuses her. Freezing revokes her sessions,
// voids her open invitations and ends her enrollments in progress, and
// cancels her pending recovery by e-mail as RecoveryStore.CancelRecovery
// does (the keys and apps added since it began go, her recovery codes from
// before it come back; the audit event's details name it), in one
// transaction with its audit event; her OIDC tokens are the caller's to end
// (web.Server.OIDCUserSignedOut), which also tells the tools.
//
// An IT reset (EnrollStore.ResetUser) suspends her keys and apps: no sign-in
// and no listing of her credentials (ListCredentials, GetSignInRecord,
// GetCredentialByWebAuthnID) sees them, and storing a new key or app
// (CompleteEnrollStep, CreateCredential) deletes them in its transaction.
type FreezeStore interface {
	// CreateFreezeToken stores t. ErrAlreadyExists if its hash is taken,
	// ErrNotFound if the person does not exist.
	CreateFreezeToken(ctx context.Context, t FreezeToken) error
	// GetFreezeToken returns the token with hash h (used or not, expired or
	// not). ErrNotFound if there is none.
	GetFreezeToken(ctx context.Context, h TokenHash) (FreezeToken, error)
	// FreezeWithToken uses the token with hash h at at and freezes its
	// person, in one transaction with ev, whose Actor and Subject it sets to
	// "user:<her id>". ErrNotFound if there is no such token, ErrUsed if it
	// was used, ErrExpired if at is not before its expiry; then nothing
	// changes. Of two concurrent uses one succeeds.
	FreezeWithToken(ctx context.Context, h TokenHash, at time.Time, ev AuditEvent) (FreezeReport, error)
	// FreezeUser freezes a person (an administrator's freeze), with ev.
	// ErrNotFound if the person does not exist. A disabled person stays
	// disabled (her sessions and invitations end all the same).
	FreezeUser(ctx context.Context, userID string, at time.Time, ev AuditEvent) (FreezeReport, error)
	// UnfreezeUser lifts the freeze: StatusActive again, with ev.
	// ErrNotFound if the person does not exist or is not frozen.
	UnfreezeUser(ctx context.Context, userID string, ev AuditEvent) error
	// ListFrozen lists the frozen people, the most recently frozen first.
	ListFrozen(ctx context.Context) ([]FrozenUser, error)
	// ListSuspendedCredentials lists the keys and apps an IT reset
	// suspended and no new factor has deleted yet, oldest first.
	ListSuspendedCredentials(ctx context.Context, userID string) ([]Credential, error)
	// RestoreSuspendedCredentials gives the person her suspended keys and
	// apps back (a reset found to be an attack), with ev, and returns how
	// many. ErrNotFound if she has none suspended.
	RestoreSuspendedCredentials(ctx context.Context, userID string, ev AuditEvent) (int, error)
}
