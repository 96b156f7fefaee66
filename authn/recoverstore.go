package authn

import (
	"context"
	"time"
)

// Recovery is one recovery by e-mail (issue #15): a person who lost every
// factor asked for a link to her verified address; using the link (from
// the browser that asked) starts the recovery: her sessions end and an
// enrollment opens for a new factor. Her old factors keep working until
// DueAt, when they are removed (FinishRecovery) unless she cancels
// (CancelRecovery): then the recovery's new factors go and the old stay.
//
// The store keeps only hashes of the link, the browser binding and the
// cancel link.
type Recovery struct {
	ID      string
	UserID  string
	Link    TokenHash // the mailed link's token
	Binding TokenHash // the binding cookie of the browser that asked
	// Email is the address the link went to.
	Email         string
	CreatedAt     time.Time
	LinkExpiresAt time.Time
	// StartedAt: the link was used (zero until then). Since is the cut:
	// factors created before it are her old ones; a recovery started while
	// another was pending keeps that one's cut.
	StartedAt time.Time
	Since     time.Time
	Cancel    TokenHash // the notice's cancel link (zero until started)
	DueAt     time.Time // when the old factors are removed
	// EndedAt and Outcome: how it ended (RecoveryCancelled,
	// RecoveryFinished, RecoverySuperseded); zero and "" while open.
	EndedAt time.Time
	Outcome string
}

// Outcomes of a recovery.
const (
	RecoveryCancelled  = "cancelled"
	RecoveryFinished   = "finished"
	RecoverySuperseded = "superseded" // a newer recovery of hers started
	// RecoveryAbandoned: due, but no key or app was added since it began:
	// her old factors stay (review of #15: else a mailbox thief who only
	// clicks the link would leave her with none).
	RecoveryAbandoned = "abandoned"
)

// Pending reports whether the recovery is started and neither cancelled
// nor finished: her old and new factors both work.
func (r Recovery) Pending() bool { return !r.StartedAt.IsZero() && r.EndedAt.IsZero() }

// RecoveryStart is what StartRecovery stores besides marking the link used.
type RecoveryStart struct {
	Link   TokenHash
	At     time.Time
	DueAt  time.Time
	Cancel TokenHash
	// Invitation opens her enrollment (voiding her other open ones).
	Invitation Invitation
	Event      AuditEvent
}

// RecoveryReport tells what a cancel or a finish removed.
type RecoveryReport struct {
	Recovery      Recovery
	Credentials   int // keys and apps removed
	RecoveryCodes int // recovery codes removed (finish) or given back (cancel)
	Sessions      int // sessions revoked (cancel)
	// Superseded: the recovery whose cancel link was used, when a newer
	// recovery of hers (Recovery, the one cancelled) had superseded it;
	// zero otherwise.
	Superseded Recovery
}

// RecoveryStore keeps recoveries by e-mail.
type RecoveryStore interface {
	// UsersByEmail lists the people whose address is email, compared
	// without regard to case; empty when there is none.
	UsersByEmail(ctx context.Context, email string) ([]User, error)
	// CreateRecovery stores r, unstarted. ErrNotFound if her person does
	// not exist, ErrAlreadyExists if the link's hash is taken.
	CreateRecovery(ctx context.Context, r Recovery) error
	// GetRecovery returns the recovery whose link has hash link, whatever
	// its state. ErrNotFound if there is none.
	GetRecovery(ctx context.Context, link TokenHash) (Recovery, error)
	// StartRecovery uses the link, exactly once under concurrency, and in
	// one transaction with st.Event: revokes every session of hers, keeps
	// a copy of her recovery codes (given back on cancel), stores
	// st.Invitation, and ends a recovery of hers still pending as
	// superseded, whose Since the new one takes. ErrNotFound if there is no
	// such link, ErrUsed if it was used (or its recovery ended), ErrExpired
	// if st.At is not before its expiry; then nothing changes. It returns
	// the recovery as stored and how many sessions it revoked.
	StartRecovery(ctx context.Context, st RecoveryStart) (Recovery, int, error)
	// PendingRecovery returns the person's pending recovery; ErrNotFound
	// if she has none.
	PendingRecovery(ctx context.Context, userID string) (Recovery, error)
	// CancelRecovery ends the pending recovery whose cancel link has hash
	// cancel (or, with a zero hash, the person userID's pending one) at at,
	// in one transaction with ev: the keys and apps created since its cut
	// are deleted, her recovery codes are those she had before it, her
	// sessions created since the cut are revoked except keep (the session
	// that cancels, if any), her open invitations are voided and her
	// enrollments in progress end. The cancel link of a recovery that a
	// newer one superseded cancels the newest of the chain (the one that
	// kept its cut) if that is pending; the report's Superseded is then the
	// link's recovery. ErrNotFound if there is no such recovery, ErrUsed if
	// it is not pending and nothing pending follows it (the report's
	// Recovery then says how it ended, nothing else). An ev without Actor
	// or Subject gets "user:<her id>".
	CancelRecovery(ctx context.Context, cancel TokenHash, userID string, keep SessionHash, at time.Time, ev AuditEvent) (RecoveryReport, error)
	// FinishRecovery ends the recovery with id if it is pending and due at
	// at, in one transaction with ev: the keys and apps created before its
	// cut are deleted, and so are her recovery codes from before it.
	// ErrNotFound if there is none, ErrUsed if it is not pending, ErrExpired
	// if it is not due yet, ErrNotActive if her account is not active (it
	// stays pending).
	FinishRecovery(ctx context.Context, id string, at time.Time, ev AuditEvent) (RecoveryReport, error)
	// DueRecoveries lists the pending recoveries due at at of people who
	// are active, oldest first, at most limit.
	DueRecoveries(ctx context.Context, at time.Time, limit int) ([]Recovery, error)
}
