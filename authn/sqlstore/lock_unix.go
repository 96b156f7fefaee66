//go:build unix

package sqlstore

import (
	"errors"
	"fmt"
	"os"
	"syscall"
)

// lockFile takes a lock on the file beside the SQLite database (path +
// ".lock", created with mode 0600 if need be) and returns it open; closing
// it releases the lock. Every Store on the file holds a shared lock for as
// long as it is open; Restore takes an exclusive one, so it never replaces
// a database that a process is using, and no process opens one while it is
// being replaced. The lock is flock(2): the kernel drops it when its
// process ends, however it ends, so a crashed process leaves no stale lock
// behind. lockFile never waits: a lock held the other way is ErrInUse.
func lockFile(dbPath string, exclusive bool) (*os.File, error) {
	name := dbPath + lockSuffix
	f, err := os.OpenFile(name, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open lock file: %w", err)
	}
	how := syscall.LOCK_SH
	if exclusive {
		how = syscall.LOCK_EX
	}
	for {
		err = syscall.Flock(int(f.Fd()), how|syscall.LOCK_NB)
		if !errors.Is(err, syscall.EINTR) {
			break
		}
	}
	if err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("%w (%s is locked)", ErrInUse, name)
		}
		return nil, fmt.Errorf("lock %s: %w", name, err)
	}
	return f, nil
}
