//go:build !unix

package sqlstore

import "os"

// lockFile does nothing where flock(2) is missing: there, Restore cannot
// tell whether a process uses the database, and the person restoring must
// stop Keyhall first (docs/backup.md).
func lockFile(dbPath string, exclusive bool) (*os.File, error) { return nil, nil }
