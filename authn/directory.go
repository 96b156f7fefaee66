package authn

import (
	"context"
	"errors"
	"time"
)

// Who disabled a disabled person (DirectoryUser.DisabledBy).
const (
	// DisabledByAdmin: an administrator (UpdateUser setting StatusDisabled).
	DisabledByAdmin = "admin"
	// DisabledByDirectory: the directory sync, for a leaver. Only such a
	// person is enabled again by the sync, or deleted after its grace period.
	DisabledByDirectory = "directory"
	// DisabledByAdminAndDirectory: both, each for her own reason. An
	// administrator's enable does not lift the directory's disable
	// (EnableUser refuses, ErrAccountDisabled): IT enables her in the
	// directory, whose sync then leaves her disabled by the administrator.
	// Nor does the directory's enabling her lift the administrator's.
	DisabledByAdminAndDirectory = "admin+directory"
)

// ErrNotLocked: the caller does not hold the directory's sync lease (it
// expired and another process took it); nothing was stored.
var ErrNotLocked = errors.New("directory sync lease not held")

// DirectoryUser is a person of a directory with the state the sync needs.
type DirectoryUser struct {
	User
	DisabledBy string    // "", DisabledByAdmin, DisabledByDirectory or DisabledByAdminAndDirectory
	DisabledAt time.Time // zero while active
}

// DirectoryGroup is a group of a directory with its members.
type DirectoryGroup struct {
	Group
	Members []string // user ids, sorted
}

// DirectoryState is what the runs of one directory's sync left.
type DirectoryState struct {
	Directory string
	// LastGoodPeople is how many people the last good read found: the
	// safety valve's measure for the next one.
	LastGoodPeople int
	LastSuccessAt  time.Time
	LastRunAt      time.Time
	LastOutcome    string // "ok", "aborted", "held_back", "failed"
	LastError      string
	// Markers are the change markers of the incremental sync (JSON).
	Markers string
}

// DirectoryDisable disables one person of the directory.
type DirectoryDisable struct {
	UserID string
	Reason string // "disabled in directory", "expired", "not found"
}

// Membership is one person in one group.
type Membership struct {
	GroupID string
	UserID  string
}

// DirectoryChanges is one sync run's difference, applied in one
// transaction by ApplyDirectorySync. Every change is limited to people and
// groups of the directory named there: a person of another directory or a
// local one is never changed.
type DirectoryChanges struct {
	// Holder, if set, must hold the directory's lease (TryLockDirectory) at
	// At, checked in the transaction; else ErrNotLocked and nothing stored.
	Holder string
	At     time.Time
	// Release renames these people (of the directory, disabled or being
	// disabled) to "~"+ID, so that a new person may take the username.
	Release []string
	// Create stores new people (Source SourceDirectory, Directory set).
	Create []User
	// Update stores the mapped attributes of people: Username (a rename),
	// DisplayName, Email, Phone, PostalAddress, ExternalID, UpdatedAt.
	// Renames may swap names among themselves.
	Update []User
	// Disable sets active people disabled (DisabledByDirectory, at At) and
	// revokes their sessions and OIDC tokens. A person an administrator
	// disabled becomes DisabledByAdminAndDirectory (DisabledAt At), so that
	// the administrator's enable does not lift the directory's disable.
	Disable []DirectoryDisable
	// Enable sets active again the people the directory disabled (others
	// are left as they are); a person disabled by both stays disabled, by
	// the administrator (DisabledByAdmin).
	Enable []string
	// Delete removes people the directory disabled before DeleteBefore,
	// with their factors, sessions and tokens (others are left; the audit
	// log keeps them).
	Delete       []string
	DeleteBefore time.Time
	// CreateGroups stores new groups (Source SourceDirectory, Directory
	// set); UpdateGroups their DisplayName and ExternalID.
	CreateGroups  []Group
	UpdateGroups  []Group
	AddMembers    []Membership
	RemoveMembers []Membership
	// State, if set, is stored as the directory's state.
	State *DirectoryState
}

// DirectoryApplied is what ApplyDirectorySync did.
type DirectoryApplied struct {
	Disabled []string // the ids it disabled
	Enabled  []string
	Deleted  []string
	// Logouts are the OIDC clients and sessions whose tokens it revoked
	// with the disabled people's: whom to tell by back-channel logout.
	Logouts []OIDCGrantRef
}

// DirectoryStore keeps what directory sync (package ldapsync) needs.
type DirectoryStore interface {
	// ListDirectoryUsers lists every person of directory dir, whatever her
	// status, by username.
	ListDirectoryUsers(ctx context.Context, dir string) ([]DirectoryUser, error)
	// EachDirectoryUser calls each with every person of directory dir,
	// whatever her status, by username, as they are read (a sync of a large
	// directory keeps only what it needs of each). With attrs false only ID,
	// ExternalID, Username, Status, Source, Directory, DisabledBy and
	// DisabledAt are read (an incremental sync compares the attributes of the
	// few people it read only). An error from each ends the listing and is
	// returned.
	EachDirectoryUser(ctx context.Context, dir string, attrs bool, each func(DirectoryUser) error) error
	// ListDirectoryGroups lists the groups of directory dir, by name, with
	// their members.
	ListDirectoryGroups(ctx context.Context, dir string) ([]DirectoryGroup, error)
	// GetDirectoryState returns the directory's state; the zero state (with
	// Directory set) for one never synced.
	GetDirectoryState(ctx context.Context, dir string) (DirectoryState, error)
	// PutDirectoryState stores st, with ev, in one transaction (an aborted
	// run's record).
	PutDirectoryState(ctx context.Context, st DirectoryState, ev AuditEvent) error
	// ApplyDirectorySync applies ch to directory dir and appends events, all
	// in ONE transaction: creates, renames and updates, group changes,
	// disables (each with her sessions and OIDC tokens revoked), enables,
	// deletes and the state. Either all of it is stored or nothing.
	// ErrAlreadyExists if a username is taken (the caller checks names
	// first).
	ApplyDirectorySync(ctx context.Context, dir string, ch DirectoryChanges, events ...AuditEvent) (DirectoryApplied, error)
	// TryLockDirectory takes the lease on syncing dir for holder until
	// now+ttl, or extends holder's own: true if holder has it now. Of
	// several processes, also on one PostgreSQL database, at most one holds
	// an unexpired lease. Leases compare the callers' clocks.
	TryLockDirectory(ctx context.Context, dir, holder string, now time.Time, ttl time.Duration) (bool, error)
	// UnlockDirectory ends holder's lease (none: no error).
	UnlockDirectory(ctx context.Context, dir, holder string) error
}
