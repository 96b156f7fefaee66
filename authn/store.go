package authn

import (
	"context"
	"time"
)

// Store keeps Keyhall's state. Implementations must be safe for concurrent
// use by many goroutines and, for PostgreSQL, by several processes on one
// database: nothing a request needs may live only in one process's memory,
// except caches that are dropped on change and live at most SessionCacheTTL.
//
// Writes that return nil are durable: committed with the database's full
// durability settings, so they survive a crash or power loss.
type Store interface {
	UserStore
	GroupStore
	SessionStore
	InvitationStore
	ThrottleStore
	AuditStore
	CredentialStore
	KeyModelStore
	PendingStore
	FreezeStore
	EnrollStore
	OIDCStore
	DirectoryStore
	DeskStore
	SearchStore
	NoticeLetterStore
	EraseStore
	PersonDataStore
	RetentionStore
	RecoveryStore

	// Ping reports whether the database answers.
	Ping(ctx context.Context) error
	// Close flushes pending writes and releases the database.
	Close() error
}

// UserStore keeps people. Every change an administrator makes carries the
// AuditEvent that records it, written in the same transaction.
type UserStore interface {
	// CreateUser stores u (u.ID set by the caller with NewID, u.Username
	// canonical). ErrAlreadyExists if the ID, username or (Source,
	// Directory, ExternalID) is taken.
	CreateUser(ctx context.Context, u User, ev AuditEvent) error
	GetUser(ctx context.Context, id string) (User, error)
	// GetUserByUsername finds a person by canonical username.
	GetUserByUsername(ctx context.Context, username string) (User, error)
	GetUserByExternalID(ctx context.Context, source Source, externalID string) (User, error)
	ListUsers(ctx context.Context, f UserFilter) ([]User, error)
	CountUsers(ctx context.Context) (int, error)
	// UpdateUser reads the person, applies fn and stores its result, all in
	// one transaction, with ev. fn must not change ID; an error from fn
	// aborts the update and is returned as is.
	UpdateUser(ctx context.Context, id string, fn func(User) (User, error), ev AuditEvent) (User, error)
	// DisableUser marks the person disabled by an administrator at at, with
	// ev, in one transaction: also a person the directory sync disabled
	// already (DisabledByAdminAndDirectory, her DisabledAt kept), so that
	// the sync never enables her again and the administrator's enable does
	// not lift the directory's disable. It returns false, storing nothing,
	// when an administrator had disabled her already; ErrNotFound when
	// there is no such person.
	DisableUser(ctx context.Context, id string, at time.Time, ev AuditEvent) (bool, error)
}

// GroupStore keeps groups and memberships.
type GroupStore interface {
	// CreateGroup stores g. ErrAlreadyExists if the ID or name is taken.
	CreateGroup(ctx context.Context, g Group, ev AuditEvent) error
	GetGroupByName(ctx context.Context, name string) (Group, error)
	ListGroups(ctx context.Context) ([]Group, error)
	// AddMember: ErrNotFound if either does not exist, ErrAlreadyExists if
	// the person is a member already.
	AddMember(ctx context.Context, groupID, userID string, ev AuditEvent) error
	// RemoveMember: ErrNotFound if the person is not a member.
	RemoveMember(ctx context.Context, groupID, userID string, ev AuditEvent) error
	// UserGroups lists the groups of a person, by name.
	UserGroups(ctx context.Context, userID string) ([]Group, error)
	// GroupMembers lists the members of a group, by username.
	GroupMembers(ctx context.Context, groupID string) ([]User, error)
}

// SessionCacheTTL is the longest a Store may answer GetSession from a cache
// in one process after another process changed the session.
const SessionCacheTTL = time.Second

// SessionStore keeps signed-in sessions by the hash of their id.
type SessionStore interface {
	// CreateSession stores s durably. Concurrent calls are committed
	// together (group commit), so this is cheap under load.
	CreateSession(ctx context.Context, s Session) error
	// GetSession returns the session with hash h, revoked or not (callers
	// check Session.Usable). ErrNotFound if there is none. A revocation made
	// through this Store is seen at once; one made by another process within
	// SessionCacheTTL.
	GetSession(ctx context.Context, h SessionHash) (Session, error)
	// TouchSession sets last_seen to at if at is later than the stored
	// value, in one conditional statement; otherwise ErrNotForward and
	// nothing is stored. ErrNotFound if there is no such session.
	TouchSession(ctx context.Context, h SessionHash, at time.Time) error
	// RevokeSession marks the session revoked at at. ErrNotFound if none.
	// Revoking a revoked session keeps the first time and returns nil.
	RevokeSession(ctx context.Context, h SessionHash, at time.Time) error
	// RevokeUserSessions revokes every unrevoked session of a person and
	// returns how many it revoked; when it revoked any, it appends ev, with
	// the number under Details["count"], in the same transaction.
	RevokeUserSessions(ctx context.Context, userID string, at time.Time, ev AuditEvent) (int, error)
	// ListUserSessions lists a person's unrevoked, unexpired sessions, newest first.
	ListUserSessions(ctx context.Context, userID string, now time.Time) ([]Session, error)
	// DeleteSessionsBefore removes sessions that expired or were revoked
	// before t, and returns how many.
	DeleteSessionsBefore(ctx context.Context, t time.Time) (int, error)
}

// InvitationStore keeps invitations. Only a token's hash is ever stored.
type InvitationStore interface {
	// CreateInvitation stores inv, voids every open invitation of the
	// same person and deletes her enrollments in progress (EnrollPending:
	// a tab left open adds nothing after a new letter), in one transaction
	// with ev.
	CreateInvitation(ctx context.Context, inv Invitation, ev AuditEvent) error
	// GetInvitation finds an invitation by token hash, whatever its state.
	GetInvitation(ctx context.Context, h TokenHash) (Invitation, error)
	// LatestInvitation returns the person's newest invitation, whatever
	// its state; ErrNotFound if she never had one.
	LatestInvitation(ctx context.Context, userID string) (Invitation, error)
	// ConsumeInvitation marks the invitation used at now, exactly once:
	// of many concurrent calls, one succeeds. ErrNotFound if there is none,
	// ErrUsed if it was used or voided, ErrExpired if now is past its expiry.
	ConsumeInvitation(ctx context.Context, h TokenHash, now time.Time) (Invitation, error)
	// Bootstrap, on a database without any person, creates admin, the group
	// admins with admin in it, and inv for admin, in one transaction with ev.
	// It returns false and changes nothing if any person exists, also when
	// several processes call it at once: exactly one of them creates.
	Bootstrap(ctx context.Context, admin User, admins Group, inv Invitation, ev AuditEvent) (bool, error)
}

// ThrottleStore keeps counters of failed attempts at guessable secrets.
type ThrottleStore interface {
	// HitThrottle counts one attempt under key and returns the count in the
	// current window, this attempt included. A window starts at the first
	// attempt and lasts window; an attempt after it starts a new one at 1.
	// The increment and read are one atomic statement, so n concurrent hits
	// on a fresh key return 1…n, each once.
	HitThrottle(ctx context.Context, key string, now time.Time, window time.Duration) (int, error)
	// HitThrottles counts one attempt under each key, as HitThrottle does,
	// in one transaction, and returns the counts in the order of keys.
	HitThrottles(ctx context.Context, keys []ThrottleKey, now time.Time) ([]int, error)
	// ThrottleCount returns the count in the current window without counting.
	ThrottleCount(ctx context.Context, key string, now time.Time, window time.Duration) (int, error)
	// ResetThrottle forgets the counter under key.
	ResetThrottle(ctx context.Context, key string) error
	// ResetThrottlePrefix forgets every counter whose key begins with
	// prefix (not empty: an empty prefix is an error), e.g. all of one
	// person's device counters (DeviceThrottlePrefixes).
	ResetThrottlePrefix(ctx context.Context, prefix string) error
	// UndoThrottle takes back one hit (count-1, never below 0): used after
	// a right answer, so only failures count. A missing key is no error.
	UndoThrottle(ctx context.Context, key string) error
	// UndoThrottles takes back one hit under each key, as UndoThrottle
	// does, in one transaction.
	UndoThrottles(ctx context.Context, keys []string) error
	// PurgeThrottles deletes up to limit counters whose window started
	// before before (ThrottleKeep ago: none counts any more) and returns
	// how many it deleted; serve calls it until fewer come back.
	PurgeThrottles(ctx context.Context, before time.Time, limit int) (int, error)
}

// ThrottleKeep is how long a throttle counter can count after its window
// started: the longest window of any counter (accountRules' 30 days) and
// a day more. PurgeThrottles is given now minus this.
const ThrottleKeep = 31 * 24 * time.Hour

// ThrottleKey names one throttle counter and the length of its window.
type ThrottleKey struct {
	Key    string
	Window time.Duration
}

// KeyStats is how an installation's security keys are spread, which the
// fake key ceremonies of unknown usernames follow.
type KeyStats struct {
	IDLengths map[int]int // how many keys have each credential id length, in bytes
	PerPerson map[int]int // how many people have each number of keys (1 or more)
}

// ThrottleLimit is a throttle counter with the most tries its window allows.
type ThrottleLimit struct {
	ThrottleKey
	Limit int
}

// SignInRecord is what a sign-in step reads about a person.
type SignInRecord struct {
	User        User
	Credentials []Credential // oldest first
	Groups      []string     // the names of her groups, sorted
}

// CredentialStore keeps security keys, authenticator apps, recovery codes
// and local passwords.
type CredentialStore interface {
	// CreateCredential stores c with ev. ErrAlreadyExists on a taken ID or
	// WebAuthnID, ErrNotFound if the person does not exist.
	CreateCredential(ctx context.Context, c Credential, ev AuditEvent) error
	// ListCredentials lists a person's credentials, oldest first.
	ListCredentials(ctx context.Context, userID string) ([]Credential, error)
	// GetSignInRecord returns the person with id, her credentials and her
	// groups in one read (the sign-in path's). ErrNotFound if there is no
	// such person.
	GetSignInRecord(ctx context.Context, id string) (SignInRecord, error)
	// GetSignInRecordByUsername is GetSignInRecord by canonical username.
	GetSignInRecordByUsername(ctx context.Context, username string) (SignInRecord, error)
	// GetCredentialByWebAuthnID finds a security key by its credential id.
	GetCredentialByWebAuthnID(ctx context.Context, id []byte) (Credential, error)
	// RecordKeyUse stores signCount and LastUsedAt if signCount > stored, or
	// both are 0 (keys without a counter), in ONE conditional statement;
	// else ErrNotForward and nothing stored (WebAuthn L3 §7.2 step 22).
	// ErrNotFound if there is no such security key.
	RecordKeyUse(ctx context.Context, id string, signCount uint32, at time.Time) error
	// FlagCloned marks the credential as possibly cloned, with ev.
	// ErrNotFound if there is none.
	FlagCloned(ctx context.Context, id string, ev AuditEvent) error
	// AcceptTOTPStep stores step (and LastUsedAt) if step > LastStep, in one
	// conditional statement; else ErrNotForward (RFC 6238 §5.2). ErrNotFound
	// if there is no such app.
	AcceptTOTPStep(ctx context.Context, id string, step int64, at time.Time) error
	// ReplaceRecoveryCodes replaces every recovery code of a person, used or
	// not, with hashes, in one transaction with ev.
	ReplaceRecoveryCodes(ctx context.Context, userID string, hashes []TokenHash, ev AuditEvent) error
	// UseRecoveryCode marks one unused code used, exactly once under
	// concurrency, with ev; ErrNotFound if no unused code has hash h.
	UseRecoveryCode(ctx context.Context, userID string, h TokenHash, at time.Time, ev AuditEvent) error
	// HasRecoveryCode reports whether the person has an unused code with
	// hash h, and changes nothing (sign-in uses the code up only with its
	// session: FactorStep with KindRecoveryCode).
	HasRecoveryCode(ctx context.Context, userID string, h TokenHash) (bool, error)
	// RenameCredential sets the nickname of one key or app of a person, with
	// ev. ErrNotFound if the person has no credential with that ID. The
	// caller checks the nickname.
	RenameCredential(ctx context.Context, userID, credentialID, nickname string, ev AuditEvent) error
	// KeyStats returns how the security keys not flagged as cloned are
	// spread; empty maps when there is none.
	KeyStats(ctx context.Context) (KeyStats, error)
	// CountRecoveryCodes returns how many unused codes a person has.
	CountRecoveryCodes(ctx context.Context, userID string) (unused int, err error)
	// SetPasswordHash stores a local password (PHC-format argon2id string),
	// with ev. ErrNotFound if the person does not exist.
	SetPasswordHash(ctx context.Context, userID, phc string, ev AuditEvent) error
	// GetPasswordHash returns the stored PHC string; ErrNotFound when the
	// person has none.
	GetPasswordHash(ctx context.Context, userID string) (string, error)
}

// PendingStore keeps which pending sign-ins were used. A pending sign-in
// itself travels sealed in its id (the login cookie); the store sees only
// the hash of the id.
type PendingStore interface {
	// UsePending marks the pending sign-in h as used, exactly once under
	// concurrency: ErrUsed if it was used before. The mark is kept at least
	// until expires (the pending sign-in's own expiry: after it, its id is
	// refused anyway).
	UsePending(ctx context.Context, h PendingHash, expires time.Time) error
	// CompleteFactorStep stores everything a verified security-key or app
	// step leads to, in ONE transaction (one write, one commit): it uses up
	// the pending sign-in st.Pending (as UsePending), moves the credential's
	// counter forward (as RecordKeyUse or AcceptTOTPStep does), and stores
	// st.Session and appends st.Audit if set. Either all of it is stored or
	// nothing. Of many concurrent calls for one pending sign-in, at most one
	// succeeds. The try is throttled under st.Throttle (see there).
	// Errors, with nothing stored:
	//   - ErrUsed if the pending sign-in was used before;
	//   - ErrNotForward if the counter does not move forward (the pending
	//     sign-in stays unused, for the caller to end);
	//   - ErrNotFound if there is no such credential of st.Kind (no such
	//     unused recovery code);
	//   - ErrAlreadyExists if the hash of st.Session is taken;
	//   - a *ThrottledError if a counter of st.Throttle is over its limit.
	CompleteFactorStep(ctx context.Context, st FactorStep) error
}

// FactorStep is the durable outcome of a verified possession factor: see
// PendingStore.CompleteFactorStep.
type FactorStep struct {
	Pending        PendingHash // the pending sign-in the step uses up
	PendingExpires time.Time   // its expiry, as UsePending's
	At             time.Time   // now: the credential's LastUsedAt

	Credential string         // the ID of the key or app used; with KindRecoveryCode the person's ID
	Kind       CredentialKind // KindWebAuthn: SignCount is stored; KindTOTP: TOTPStep; KindRecoveryCode: RecoveryCode is used up
	SignCount  uint32         // stored if above the stored count, or both 0 (WebAuthn L3 §7.2 step 22)
	TOTPStep   int64          // stored if above LastStep (RFC 6238 §5.2)
	// RecoveryCode is the hash of the person's recovery code to mark used,
	// in one conditional statement (ErrNotFound if no unused code has it).
	RecoveryCode TokenHash

	// Session, if set, is the session the step ends the sign-in with;
	// else a next step follows (the caller seals it into a new id).
	Session *Session
	Audit   []AuditEvent // appended to the chain, in order

	// Throttle are the counters of this try at a guessable secret (a right
	// answer, checked by the caller before) with their limits. No answer
	// leaves the store uncounted: if, with this try, any counter is over its
	// limit, the try is counted under each key, nothing else is stored, and
	// a *ThrottledError is returned (the caller answers as for a wrong code
	// while throttled); if the step is refused otherwise, the try is counted
	// too; if it is stored, it is not (only failures count). A store that
	// serialises its writes checks the counters in the step's transaction;
	// one that does not counts the try in a transaction of its own first
	// and takes it back once the step is stored (a failure there is logged,
	// not returned: it only makes the counts stricter).
	Throttle []ThrottleLimit
}

// AuditStore keeps the hash-chained audit log.
type AuditStore interface {
	// AppendAudit appends events, in order, to the chain: it assigns Seq,
	// PrevHash and Hash. Concurrent appends are committed together and
	// never break the chain, also across processes.
	AppendAudit(ctx context.Context, events ...AuditEvent) error
	// ListAudit returns events in order of Seq.
	ListAudit(ctx context.Context, f AuditFilter) ([]AuditEvent, error)
	// RecentAudit returns the newest events about subject with action, at
	// most limit (≤ 0 means 10), newest first: e.g. a person's last
	// sign-ins ("user:ID", "signin").
	RecentAudit(ctx context.Context, subject, action string, limit int) ([]AuditEvent, error)
}
