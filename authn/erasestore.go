package authn

import (
	"context"
	"errors"
	"time"
)

// ErrLastMember: the person is the last active member of the groups an
// Erasure must keep a member of (Erasure.KeepMember); nothing was erased.
var ErrLastMember = errors.New("the last active member of a group that must keep one")

// ErrUsedSince: the person used her account after Erasure.UnusedAfter;
// nothing was erased.
var ErrUsedSince = errors.New("the account was used since")

// Erasure is what EraseStore.EraseUser removes: a person, as she asked
// (DSGVO Art. 17) or as retention ends her account.
type Erasure struct {
	UserID string
	At     time.Time
	// ThrottleKeys are the counters named after her (ThrottleKeys of her
	// username, enrollment's), removed with her.
	ThrottleKeys []string
	// ThrottlePrefixes name more of her counters by the start of their
	// keys (DeviceThrottlePrefixes: her browsers' device counters).
	ThrottlePrefixes []string
	// Audit is appended after her events are redacted, in the same
	// transaction; it must name her only by Pseudonym(UserID).
	Audit AuditEvent
	// KeepMember names groups (canonical names) that must keep an active
	// member: if she is in one of them and no other active person is in
	// any, EraseUser returns ErrLastMember and erases nothing. It is
	// checked in the erasure's transaction: two people erased at once
	// cannot both pass as "there is another".
	KeepMember []string
	// UnusedAfter, when set, erases her only if her account was not used
	// after it (InactiveUser.LastUsed, read in the erasure's transaction
	// with her rows locked): a sign-in or a tool's refresh that lands
	// between retention's read and its erasure keeps her, and EraseUser
	// returns ErrUsedSince.
	UnusedAfter time.Time
}

// ErasedUser is what an erasure removed, for the caller to tell the tools
// and the person.
type ErasedUser struct {
	User     User           // as she was stored
	Grants   []OIDCGrantRef // the OIDC grants whose tokens ended, for back-channel logout
	Redacted int            // audit events redacted
}

// EraseStore removes people with everything stored about them.
type EraseStore interface {
	// EraseUser removes the person e.UserID and every row about her, in
	// one transaction: her profile, group memberships, keys, apps,
	// recovery codes, password, sessions, OIDC tokens and requests,
	// invitations, enrollments, pending sign-ins, e-mail confirmations,
	// freeze tokens, approvals about her, notice letters, search words and
	// the throttle counters e.ThrottleKeys. Every audit event that names
	// her (actor or subject "user:<id>", or her id, username or e-mail
	// address as a value of its details) is redacted (AuditEvent.Redacted:
	// actor and subject that are hers become Pseudonym, reason, client
	// address and details are emptied), so the chain still verifies. Then
	// e.Audit is appended. ErrNotFound if there is no such person;
	// ErrLastMember and ErrUsedSince as Erasure says.
	EraseUser(ctx context.Context, e Erasure) (ErasedUser, error)
}
