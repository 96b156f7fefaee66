package authn

import (
	"context"
	"time"
)

// SigninActions are the audit events that record a sign-in, a refused one,
// or a sign-in with a recovery code: the records retention.signins removes
// (RetentionStore.RedactSignins).
var SigninActions = []string{"signin", "signin.refused", "recovery_code.use"}

// SigninRedaction is what RetentionStore.RedactSignins did.
type SigninRedaction struct {
	Redacted   int   // events redacted
	Checkpoint int64 // the Seq of the signed checkpoint it cut at (0: none noted, nothing redacted)
}

// InactiveUser is a person retention looks at: when she last used her
// account and when she was told it will be deleted.
type InactiveUser struct {
	User User
	// LastUsed is the newest of her account's creation, her factors'
	// creation and last use, her used recovery codes, her sessions' last
	// activity, and the tokens issued to her tools (a sign-in's, and each
	// renewal with a refresh token).
	LastUsed time.Time
	// NoticeAt is when the notice of the coming deletion was recorded
	// (zero: none).
	NoticeAt time.Time
}

// RetentionStore keeps what retention needs: the signed checkpoints the
// audit log may be cut at, the redaction of old sign-in records, and the
// notices sent to people whose accounts are unused.
type RetentionStore interface {
	// NoteCheckpoint records that a checkpoint of the audit chain up to
	// event seq was signed and logged (it left the database), if seq is
	// later than the one recorded.
	NoteCheckpoint(ctx context.Context, seq int64) error
	// NotedCheckpoint returns the Seq of the newest noted checkpoint, 0
	// when none was.
	NotedCheckpoint(ctx context.Context) (int64, error)
	// RedactSignins redacts the audit events with an action in actions
	// written before before, but only those at or before the newest noted
	// checkpoint, so that everything after it is as the logged lines have
	// it and a checkpoint still vouches for the chain. A redacted event
	// keeps Seq, Time, Action and its hashes; an actor or subject
	// "user:<id>" becomes Pseudonym(id); reason, client address and
	// details are emptied. It works in transactions of a few people each,
	// so that sign-ins go on meanwhile; each transaction that redacted
	// any appends ev with the number it redacted under Details["count"]
	// and the checkpoint under Details["checkpoint"].
	RedactSignins(ctx context.Context, before time.Time, actions []string, ev AuditEvent) (SigninRedaction, error)
	// InactiveMembers lists the local members of the group whose account
	// was last used (InactiveUser.LastUsed) before before, or who have a
	// notice recorded, at most limit, oldest use first.
	InactiveMembers(ctx context.Context, groupID string, before time.Time, limit int) ([]InactiveUser, error)
	// PutInactiveNotice records that the person was told at at that her
	// unused account will be deleted. ErrNotFound if there is no such
	// person.
	PutInactiveNotice(ctx context.Context, userID string, at time.Time) error
	// DeleteInactiveNotice forgets the notice (she used her account
	// since). Nothing to forget is no error.
	DeleteInactiveNotice(ctx context.Context, userID string) error
}
