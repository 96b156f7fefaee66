package authn

import (
	"crypto/sha256"
	"time"
)

// Source tells where a person or group comes from.
type Source string

const (
	// SourceLocal: created in Keyhall (CLI, console, self-registration).
	SourceLocal Source = "local"
	// SourceDirectory: synced from LDAP / Active Directory.
	SourceDirectory Source = "directory"
)

// UserStatus is whether a person may sign in at all.
type UserStatus string

const (
	StatusActive   UserStatus = "active"
	StatusDisabled UserStatus = "disabled"
	// StatusFrozen: the person said "this was not me" to a reset or a new
	// factor (FreezeStore); nobody signs in or enrolls until an
	// administrator lifts it.
	StatusFrozen UserStatus = "frozen"
)

// User is a person Keyhall knows.
type User struct {
	ID          string // stable, random, never reused (NewID); the OIDC "sub"
	ExternalID  string // the directory's stable id (entryUUID, objectGUID); "" for local people
	Username    string // canonical (CanonicalName), unique
	DisplayName string
	Email       string
	// PostalAddress holds the lines of the address enrollment letters go to
	// (street, postcode and town, …); kept locally now, from the directory
	// later. Lines hold no newline.
	PostalAddress []string
	Status        UserStatus
	Source        Source
	// Directory is the name of the configured directory (ldapsync.Config.Name)
	// a SourceDirectory person comes from; "" for local people.
	Directory string
	// Phone is the telephone number (from the directory), for IT's call-back.
	Phone     string
	CreatedAt time.Time
	UpdatedAt time.Time
	// VerifiedEmail is the address the person proved she receives mail at
	// (ConfirmEmail); see EmailVerified.
	VerifiedEmail string
}

// EmailVerified reports whether the person's address is verified: she
// proved it, and it has not changed since.
func (u User) EmailVerified() bool { return u.Email != "" && u.VerifiedEmail == u.Email }

// Group is a set of people, used by sign-in policy and passed to tools.
type Group struct {
	ID          string // stable, random (NewID)
	ExternalID  string // the directory's stable id; "" for local groups
	Name        string // canonical (CanonicalName), unique
	DisplayName string
	Source      Source
	// Directory is the configured directory a SourceDirectory group comes
	// from; "" for local groups.
	Directory string
	CreatedAt time.Time
}

// SessionHash is the SHA-256 of a session id. Only the hash is stored, so a
// copy of the database holds no usable session.
type SessionHash [32]byte

// HashSessionID returns the hash under which a session id is stored.
func HashSessionID(id []byte) SessionHash { return sha256.Sum256(id) }

// Session is a signed-in state: it exists only after every factor the
// person's policy requires has succeeded.
type Session struct {
	Hash       SessionHash
	UserID     string
	AMR        []string  // RFC 8176 methods, e.g. "hwk", "user", "pwd", "mfa"
	ACR        string    // the level reached, e.g. "phrh"
	AuthTime   time.Time // when the person last proved herself
	CreatedAt  time.Time
	LastSeenAt time.Time // written at most once a minute (see LastSeen)
	ExpiresAt  time.Time // absolute end
	RevokedAt  time.Time // zero while the session is valid
	ClientAddr string
	UserAgent  string
	// RecoveryOnly: signed in with a recovery code; the session may only
	// enroll a new factor.
	RecoveryOnly bool
}

// Usable reports whether the session may be honoured at now: not revoked, not
// past its absolute end, and seen within idle (idle ≤ 0 means no idle limit).
func (s Session) Usable(now time.Time, idle time.Duration) bool {
	if !s.RevokedAt.IsZero() || !now.Before(s.ExpiresAt) {
		return false
	}
	return idle <= 0 || now.Sub(s.LastSeenAt) < idle
}

// InvitationPurpose tells what an invitation leads to.
type InvitationPurpose string

const (
	// PurposeBootstrap: the first administrator's enrollment, made on an empty database.
	PurposeBootstrap InvitationPurpose = "bootstrap"
	// PurposeEnroll: a person's first (or, after a reset, new) factors.
	PurposeEnroll InvitationPurpose = "enroll"
)

// TokenHash is the SHA-256 of an invitation's secret token; only the hash is stored.
type TokenHash [32]byte

// HashToken returns the hash under which an invitation token is stored.
func HashToken(token string) TokenHash { return sha256.Sum256([]byte(token)) }

// Invitation lets one person enroll once, before it expires.
type Invitation struct {
	ID        string
	UserID    string
	TokenHash TokenHash
	Purpose   InvitationPurpose
	CreatedBy string // an audit actor, e.g. "system", "cli:root"
	CreatedAt time.Time
	ExpiresAt time.Time
	UsedAt    time.Time // zero until consumed
	VoidedAt  time.Time // set when a newer invitation for the same person replaces it
	// RequirePassword: IT requires that the person (a local one) chooses
	// a password in the enrollment this invitation opens; it does not
	// finish without one.
	RequirePassword bool
}

// UserFilter selects people for ListUsers.
type UserFilter struct {
	// Query matches a substring of the username, display name or e-mail,
	// case-insensitively; "" matches everyone.
	Query string
	// After returns only people whose username sorts after it (paging).
	After string
	// Limit caps the result; ≤ 0 means 100.
	Limit int
}

// AuditFilter selects audit events for ListAudit, in order of Seq.
type AuditFilter struct {
	AfterSeq int64  // only events with a larger Seq
	Subject  string // only events about this subject; "" for all
	Limit    int    // ≤ 0 means 100
}
