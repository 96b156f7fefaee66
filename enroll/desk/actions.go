package desk

import (
	"context"
	"errors"
	"time"

	"github.com/keyhall/keyhall/authn"
	"github.com/keyhall/keyhall/enroll"
)

// errNotBuilt marks an action whose body is being written this session.
var errNotBuilt = errors.New("desk: not built yet")

// Delivery is how a new invitation reaches the person.
type Delivery string

const (
	// DeliverLetter: a letter (PDF) to her postal address; valid at most
	// 30 days from the console.
	DeliverLetter Delivery = "letter"
	// DeliverDesk: link and code read out or shown at the desk; valid 10
	// minutes from the console.
	DeliverDesk Delivery = "desk"
	// DeliverMail: mailed to her known address (invitations only, never
	// for a reset).
	DeliverMail Delivery = "mail"
)

// InviteRequest asks for a new invitation for a person.
type InviteRequest struct {
	Reason   string
	Delivery Delivery
	Terms    enroll.Terms
	// Address (command line only) is stored as her postal address first,
	// audited.
	Address []string
}

// ResetRequest asks to reset all of a person's factors.
type ResetRequest struct {
	Reason   string
	Check    IdentityCheck
	Delivery Delivery // DeliverLetter or DeliverDesk
	Terms    enroll.Terms
	Address  []string // command line only, as InviteRequest.Address
}

// Issued is a new invitation and what became of it.
type Issued struct {
	Invitation enroll.Invitation
	// Letter is the letter's PDF (DeliverLetter), nil otherwise.
	Letter []byte
	// MailedTo is the address the invitation was mailed to (DeliverMail).
	MailedTo string
	MailErr  error
}

// ResetOutcome is what a reset did, or that it waits for approval.
type ResetOutcome struct {
	// Pending is set when the reset waits for a second person's approval;
	// then nothing else happened.
	Pending *Approval
	Issued
	Report authn.ResetReport
	// Notified is the address told of the reset; NoticeErr why not.
	Notified  string
	NoticeErr error
	// ToolsErr: the tools were not all told that her sessions ended.
	ToolsErr error
}

// Approval is a reset that waits for a second person (dual control).
type Approval struct {
	ID                   string
	UserID, Username     string // whom
	RequestedBy          string // the requester as the audit log names her
	RequesterID          string // her user id ("" for the command line)
	Reason               string
	Check                IdentityCheck
	Delivery             Delivery
	CreatedAt, ExpiresAt time.Time
	DecidedAt            time.Time
	DecidedBy, Decision  string
	RequesterDirectory   string
	RequesterExternalID  string
	Terms                enroll.Terms
}

// Invite issues a new invitation for the person userID.
func (s *Service) Invite(ctx context.Context, a Actor, userID string, in InviteRequest) (Issued, error) {
	return Issued{}, errNotBuilt
}

// Reset suspends all of the person's factors, ends her sessions and
// tokens, tells the tools, issues a new invitation and tells her; or,
// where policy asks for dual control, records a pending Approval.
func (s *Service) Reset(ctx context.Context, a Actor, userID string, in ResetRequest) (ResetOutcome, error) {
	return ResetOutcome{}, errNotBuilt
}

// Approve carries out a pending reset as a second person.
func (s *Service) Approve(ctx context.Context, a Actor, approvalID string) (ResetOutcome, error) {
	return ResetOutcome{}, errNotBuilt
}

// Approvals lists the pending (not decided, not expired) approvals.
func (s *Service) Approvals(ctx context.Context, a Actor) ([]Approval, error) {
	return nil, errNotBuilt
}

// RevokeFactor removes one key or app of the person and tells her; it
// returns the factor's label.
func (s *Service) RevokeFactor(ctx context.Context, a Actor, userID, credID, reason string) (string, error) {
	return "", errNotBuilt
}

// EndSessions ends all of the person's sessions and tokens and tells the
// tools; it returns how many sessions ended.
func (s *Service) EndSessions(ctx context.Context, a Actor, userID, reason string) (int, error) {
	return 0, errNotBuilt
}

// LiftThrottle clears the person's sign-in and password throttles.
func (s *Service) LiftThrottle(ctx context.Context, a Actor, userID, reason string) error {
	return errNotBuilt
}

// Disable disables the person (admins only), ends her sessions and tells
// the tools.
func (s *Service) Disable(ctx context.Context, a Actor, userID, reason string) error {
	return errNotBuilt
}

// Enable enables a person an administrator disabled (admins only).
func (s *Service) Enable(ctx context.Context, a Actor, userID, reason string) error {
	return errNotBuilt
}
