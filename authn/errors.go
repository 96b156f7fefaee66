package authn

import (
	"errors"
	"fmt"
	"time"
)

// Sentinel errors reported by a Store. Match them with errors.Is; any other
// error from a Store means the storage is unavailable or broken, and a caller
// must fail closed.
var (
	// ErrNotFound: no such record (or, for a session, none that is usable).
	ErrNotFound = errors.New("not found")
	// ErrAlreadyExists: a record with the same unique key exists.
	ErrAlreadyExists = errors.New("already exists")
	// ErrNotForward: a value that may only move forward was at or below the
	// stored one; nothing was stored.
	ErrNotForward = errors.New("value does not move forward")
	// ErrExpired: the record exists but its time is up.
	ErrExpired = errors.New("expired")
	// ErrUsed: a single-use record was used or voided before.
	ErrUsed = errors.New("already used")
	// ErrLastFactor: removing a credential would leave the person without
	// the key or app she must keep (EnrollStore.RemoveCredential); nothing
	// was removed.
	ErrLastFactor = errors.New("the last factor that must remain")
	// ErrNotActive: the person is frozen or disabled, and what was asked
	// would change her factors (RecoveryStore.FinishRecovery); nothing
	// changed.
	ErrNotActive = errors.New("account not active")
	// ErrSchemaTooNew: the database was migrated by a newer Keyhall.
	ErrSchemaTooNew = errors.New("database schema is newer than this binary")
)

// ThrottledError is a try refused because a throttle counter is over its
// limit (PendingStore.CompleteFactorStep): it was counted, and nothing else
// was stored. Wait is the longest window over its limit.
type ThrottledError struct{ Wait time.Duration }

func (e *ThrottledError) Error() string { return fmt.Sprintf("too many tries: wait up to %v", e.Wait) }

// Errors of a directory (PasswordVerifier, AccountChecker), for a directory
// person. Each has its own message on the sign-in page.
var (
	// ErrDirectoryUnavailable: the directory did not answer (or not in
	// time). It is not a wrong password, and the try is not counted,
	// unless it is joined with ErrPasswordSent.
	ErrDirectoryUnavailable = errors.New("the directory does not answer")
	// ErrPasswordSent, joined with ErrDirectoryUnavailable: the password
	// reached the directory before its answer was lost, so the directory
	// may have counted it; so does the throttle.
	ErrPasswordSent = errors.New("the password was sent to the directory")
	// ErrAccountDisabled: the directory says the account is disabled
	// (AD 533) or no longer there.
	ErrAccountDisabled = errors.New("account disabled in the directory")
	// ErrAccountExpired: the account's end date has passed (AD 701).
	ErrAccountExpired = errors.New("account expired in the directory")
	// ErrPasswordMustChange: the password is right but must be changed
	// first, or has expired (AD 773, 532).
	ErrPasswordMustChange = errors.New("the password must be changed first")
	// ErrAccountLocked: the directory locked the account after too many
	// wrong passwords (AD 775).
	ErrAccountLocked = errors.New("account locked by the directory")
)
