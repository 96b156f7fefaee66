// Package desk is the IT desk: every action IT takes on a person (invite,
// letters, reset, revoke one factor, end sessions, lift a throttle,
// disable, enable, approve) with its rules in one place (a reason, the
// identity check, tiers, dual control, notices, the audit event, the tools
// told), and the read model the console shows (search, a person's page,
// the overview). Both `keyhall admin …` and the /admin console call it;
// they only parse, call and show.
//
// The desk knows nothing of HTTP or flags. Who acts is an Actor: the
// server's command line (CLI, an administrator with a shell, the break-
// glass path) or a person signed in to the console with her roles.
package desk

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/keyhall/keyhall/authn"
	"github.com/keyhall/keyhall/enroll"
)

// Role is what a person may do on the desk. Roles come from groups named in
// the configuration (admin.roles), the bootstrap administrators' group
// included for RoleAdmin.
type Role string

const (
	// RoleHelpdesk finds people, sees their factors and sign-ins, issues
	// invitations and letters, resets factors, revokes one factor, ends
	// sessions, lifts a throttle, approves.
	RoleHelpdesk Role = "helpdesk"
	// RoleAdmin may all of that, and disable and enable people, change
	// roles, export the audit log, act on protected people.
	RoleAdmin Role = "admin"
)

// Actor is who acts.
type Actor struct {
	// Audit is the actor as the audit log names it: "cli:<os user>" or
	// "user:<id>".
	Audit string
	// UserID, Username: the person signed in to the console; "" for the
	// command line.
	UserID, Username string
	// Directory and ExternalID: her directory and stable id there, so that
	// two accounts of one person count as one (dual control).
	Directory, ExternalID string
	// Role is her highest role ("" for none).
	Role Role
	// Via is "cli" or "console".
	Via string
	// ClientAddr is the console's client address ("" on the command line).
	ClientAddr string
	// BreakGlass: the server's command line with --break-glass, which
	// skips dual control (audited, shown in red on the overview).
	BreakGlass bool
}

// CLI returns the actor of the server's command line: an administrator
// with a shell on the server.
func CLI(audit string, breakGlass bool) Actor {
	return Actor{Audit: audit, Role: RoleAdmin, Via: "cli", BreakGlass: breakGlass}
}

// Identity checks a helpdesk person may have made before a reset.
const (
	CheckInPerson = "in_person" // in person, with an ID card
	CheckCallback = "callback"  // call-back to the number from the directory
	CheckVideo    = "video"     // video call
	CheckOther    = "other"     // other: Text says what
)

// IdentityCheck is how the helpdesk made sure that the caller is the
// person: required for a reset.
type IdentityCheck struct {
	Method string // one of the Check… constants
	Text   string // what was done, required for CheckOther
}

// Tools tells the city's tools that a person's sessions ended (OIDC
// back-channel logout, tokens revoked). web.Server implements it.
type Tools interface {
	OIDCUserSignedOut(ctx context.Context, userID string) error
}

// Config is what the desk works with.
type Config struct {
	Store   authn.Store
	Enroll  *enroll.Service
	Mailer  enroll.Mailer
	Notices enroll.Notices
	// Tools is told when a person's sessions end; nil when no tool is
	// configured.
	Tools Tools
	// Roles maps each role to the groups (canonical names) that give it.
	Roles map[Role][]string
	// Protected are groups whose members only an admin may act on
	// (policy.groups[].protected).
	Protected []string
	// Approval are groups whose members' resets wait for a second person's
	// approval (policy.groups[].reset_approval); admins always do.
	Approval []string
	// AdminGroup is the bootstrap administrators' group (admin_group):
	// its members are admins whatever Roles says.
	AdminGroup string
	// Sender is who letters come from and where to get help.
	Sender enroll.Sender
	Logger *slog.Logger
	Now    func() time.Time
	// Policy is the sign-in policy: a person's page shows the level she
	// must reach (read.go).
	Policy authn.Policy
}

// Service is the IT desk.
type Service struct {
	cfg Config
	log *slog.Logger
}

// New returns the desk for cfg.
func New(cfg Config) (*Service, error) {
	if cfg.Store == nil || cfg.Enroll == nil {
		return nil, errors.New("desk: Store and Enroll are required")
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Service{cfg: cfg, log: cfg.Logger}, nil
}

func (s *Service) now() time.Time { return s.cfg.Now().UTC() }

// Errors the desk returns; each comes wrapped in an *Error with words for
// the person at the desk.
var (
	// ErrForbidden: the actor may not do this (role, tier, her own account).
	ErrForbidden = errors.New("not allowed")
	// ErrInvalid: a reason, identity check or other input is missing or
	// wrong.
	ErrInvalid = errors.New("invalid request")
)

// Error is a refusal with words for the person at the desk, German and
// English; Err is the cause (ErrForbidden, ErrInvalid, authn.ErrNotFound…).
type Error struct {
	De, En string
	Err    error
}

func (e *Error) Error() string { return e.En }
func (e *Error) Unwrap() error { return e.Err }
