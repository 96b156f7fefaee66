package authn

import (
	"context"
	"time"
)

// Approval is a reset that waits for a second person's approval (dual
// control), as the IT desk (enroll/desk) records it.
type Approval struct {
	ID     string
	UserID string // whom
	// RequestedBy is the requester as the audit log names her;
	// RequesterID her user id ("" for the command line), with her
	// directory and stable id there, if any.
	RequestedBy, RequesterID              string
	RequesterDirectory, RequesterExternal string
	Reason                                string
	CheckMethod, CheckText                string // how her identity was checked
	Delivery                              string // "letter" or "desk"
	Validity                              time.Duration
	RequirePassword                       bool
	CreatedAt, ExpiresAt                  time.Time
	// DecidedAt is zero while pending; DecidedBy names the approver as the
	// audit log does; Decision is "approved".
	DecidedAt           time.Time
	DecidedBy, Decision string
	// Kind is what waits: ApprovalReset ("" in rows from before) or
	// ApprovalRole; for a role change, Group is the local group (canonical
	// name) and Add whether she is added to it (else removed); Role is
	// the role the group gave when it was asked for ("helpdesk", "admin").
	Kind  string
	Group string
	Add   bool
	Role  string
}

// Kinds of approval.
const (
	ApprovalReset = "reset"
	ApprovalRole  = "role"
)

// DeskStore keeps what the IT desk needs beyond the other stores: pending
// approvals, and enabling a person an administrator disabled.
type DeskStore interface {
	// CreateApproval stores a (pending) with ev in one transaction.
	CreateApproval(ctx context.Context, a Approval, ev AuditEvent) error
	// GetApproval returns the approval id, decided or not. ErrNotFound if
	// there is none.
	GetApproval(ctx context.Context, id string) (Approval, error)
	// PendingApprovals lists the approvals neither decided nor expired at
	// now, oldest first.
	PendingApprovals(ctx context.Context, now time.Time) ([]Approval, error)
	// DecideApproval records the decision on approval id at now by by, in
	// one conditional statement with ev: of many concurrent calls, one
	// succeeds. ErrNotFound if there is none, ErrUsed if it was decided,
	// ErrExpired if now is past its expiry.
	DecideApproval(ctx context.Context, id, by, decision string, now time.Time, ev AuditEvent) (Approval, error)
	// EnableUser sets active a person an administrator disabled, with ev.
	// It returns false, storing nothing, when she is not disabled by an
	// administrator (active, or disabled by the directory sync only);
	// ErrAccountDisabled, storing nothing, when the directory disables her
	// too (DisabledByAdminAndDirectory: she is enabled in the directory
	// first); ErrNotFound when there is no such person.
	EnableUser(ctx context.Context, id string, at time.Time, ev AuditEvent) (bool, error)
}
