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
	// ErrSchemaTooNew: the database was migrated by a newer Keyhall.
	ErrSchemaTooNew = errors.New("database schema is newer than this binary")
)

// ThrottledError is a try refused because a throttle counter is over its
// limit (PendingStore.CompleteFactorStep): it was counted, and nothing else
// was stored. Wait is the longest window over its limit.
type ThrottledError struct{ Wait time.Duration }

func (e *ThrottledError) Error() string { return fmt.Sprintf("too many tries: wait up to %v", e.Wait) }
