package main

import (
	"strings"
	"testing"
)

// TestRotateEncryptionWaitsForOldProcesses: while a serve process with
// only the old keys runs, rotate-encryption is refused, naming that
// process's fingerprint, and changes nothing; once it stopped, it goes
// ahead.
func TestRotateEncryptionWaitsForOldProcesses(t *testing.T) {
	t.Chdir(t.TempDir())
	s := newBackupSite(t)
	p := s.serve(t) // with the old keys, made in its key file
	old := s.readKeys(t)
	rotated := randomKeys()
	rotated.Cookie, rotated.OIDC, rotated.PreviousEncryption = old.Cookie, old.OIDC, old.Encryption
	env := keysEnv([]string{s.env[0]}, rotated)
	e := mustRun(t, env, 1, "admin", "keys", "rotate-encryption", "--reason", "test")
	if !strings.Contains(e, "serve process runs with other keys") || !strings.Contains(e, old.Fingerprint()) || !strings.Contains(e, "nothing was changed") {
		t.Errorf("rotate-encryption while a process with the old keys runs: %q", e)
	}
	p.stop(t)
	mustRun(t, env, 0, "admin", "keys", "rotate-encryption", "--reason", "test")
}
