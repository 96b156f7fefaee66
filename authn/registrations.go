package authn

import (
	"context"
	"time"
)

// Registration is a citizen's self-registration (issue #15): the person it
// created, the address she proved, and whether her enrollment finished.
// An unfinished one is removed, with everything it created, a day later.
type Registration struct {
	UserID     string
	Email      string // canonical, lower case: also her username
	CreatedAt  time.Time
	FinishedAt time.Time // zero while unfinished
}

// RegistrationStore keeps self-registrations. It is an optional ability of
// a Store (found by type assertion), used by enroll/citizens.
type RegistrationStore interface {
	// CreateRegistration stores r, before the person it names exists (so
	// that whatever a failure leaves behind is found and removed).
	// ErrAlreadyExists if there is one for r.UserID.
	CreateRegistration(ctx context.Context, r Registration) error
	// GetRegistration returns the registration of the person with
	// userID; ErrNotFound if she did not register herself.
	GetRegistration(ctx context.Context, userID string) (Registration, error)
	// FinishRegistration marks her registration finished at at, once (a
	// later call keeps the first time). ErrNotFound if there is none.
	FinishRegistration(ctx context.Context, userID string, at time.Time) error
	// UnfinishedRegistrations lists the unfinished registrations created
	// before before, oldest first, at most limit.
	UnfinishedRegistrations(ctx context.Context, before time.Time, limit int) ([]Registration, error)
	// EraseRegistration removes an unfinished registration and everything
	// it created, in one transaction with ev: the person (if she exists:
	// her memberships, invitations, enrollments, credentials, sessions go
	// with her) and her name in the audit log, whose events about her or by
	// her are redacted (AuditEvent.Redacted: actor and subject become
	// Pseudonym, reason, client address and details are emptied).
	// ErrNotFound if there is no such registration; ErrUsed (and nothing
	// changes) if it finished meanwhile.
	EraseRegistration(ctx context.Context, userID string, ev AuditEvent) error
	// CountCitizensGroup compares the group named group (the citizens'
	// group) with the people who registered themselves.
	CountCitizensGroup(ctx context.Context, group string) (CitizensGroupCount, error)
}

// CitizensGroupCount tells whether the citizens' group holds the people
// who registered themselves, and only them. Admission treats its members
// as citizens (they use only the tools that name it).
type CitizensGroupCount struct {
	Members      int // members of the group (0 if there is no such group)
	Unregistered int // of them, those who did not register themselves (from the directory, or added by IT)
	Outside      int // people who registered themselves and are not members: they pass every tool without groups
}
