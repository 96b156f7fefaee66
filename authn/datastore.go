package authn

import (
	"context"
	"time"
)

// PersonDataStore reads what is stored about one person beyond her
// profile, factors and sessions, so that she can be given all of it
// (DSGVO Art. 15, 20). Together with UserStore, GroupStore,
// CredentialStore and SessionStore it covers every row EraseStore removes
// that outlives a sign-in.
type PersonDataStore interface {
	// ListUserOIDCTokens lists every OIDC token issued to the person,
	// whatever its state, until DeleteOIDCBefore removes it; oldest first.
	ListUserOIDCTokens(ctx context.Context, userID string) ([]OIDCToken, error)
	// ListEndedSessions lists the person's sessions that ended (revoked
	// or expired by now) and are still stored (until
	// DeleteSessionsBefore removes them), newest first.
	ListEndedSessions(ctx context.Context, userID string, now time.Time) ([]Session, error)
	// ListUserInvitations lists the person's invitations, whatever their
	// state, oldest first.
	ListUserInvitations(ctx context.Context, userID string) ([]Invitation, error)
	// ListPersonAudit lists the audit events that name u as EraseUser
	// finds them (actor or subject "user:<id>", or her id, username or
	// e-mail address as a value of the details), with a Seq above
	// afterSeq, in order of Seq, at most limit (≤ 0 means 1000).
	ListPersonAudit(ctx context.Context, u User, afterSeq int64, limit int) ([]AuditEvent, error)
	// ListPersonRecords reads the rest of what is stored about the
	// person (PersonRecords), each list oldest first; empty for a person
	// with none.
	ListPersonRecords(ctx context.Context, userID string) (PersonRecords, error)
}

// PersonRecords are the smaller records about a person (review of #15:
// her Art. 15 copy lacked them). Their hashes (links, tokens, bindings)
// are left empty: she gets that they exist, when, and their state.
type PersonRecords struct {
	// Registration is her self-registration (zero CreatedAt: none).
	Registration Registration
	// Recoveries are her recoveries by e-mail, whatever their state.
	Recoveries []Recovery
	// InactiveNotice is when she was told that her unused account will
	// be deleted (zero: not told).
	InactiveNotice time.Time
	// EmailConfirmations are the links mailed to confirm her address.
	EmailConfirmations []EmailConfirmation
	// NoticeLetters are the notice letters queued or printed for her.
	NoticeLetters []NoticeLetter
	// FreezeTokens are her "this was not me" links.
	FreezeTokens []FreezeToken
}
