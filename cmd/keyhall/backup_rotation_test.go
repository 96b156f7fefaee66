package main

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/keyhall/keyhall/authn/sqlstore"
)

// TestRestoreBackupOfHalfRotatedKeys: a backup made during a rotation of
// the encryption key, after the restart with the new key and before
// rotate-encryption, holds secrets sealed under the old key. Restored with
// a key file that no longer has the old key, it is refused, saying which
// key is needed; with the old key as previous_encryption_key it goes ahead.
func TestRestoreBackupOfHalfRotatedKeys(t *testing.T) {
	t.Chdir(t.TempDir())
	ctx := context.Background()
	dir := t.TempDir()
	url := "sqlite://" + filepath.Join(dir, "keyhall.db")
	st := openTestStore(t, url).(*sqlstore.Store)
	old, _, _, _ := sealedInstallation(t, st)
	rotated := randomKeys()
	rotated.Cookie, rotated.OIDC, rotated.PreviousEncryption = old.Cookie, old.OIDC, old.Encryption
	if err := checkKeys(ctx, st, rotated); err != nil { // the restart with the new key: handed over
		t.Fatal(err)
	}
	st.Close()
	backup := filepath.Join(t.TempDir(), "keyhall.db.bak")
	mustRun(t, keysEnv([]string{"KEYHALL_STORAGE=" + url}, rotated), 0, "admin", "backup", backup)

	into := "sqlite://" + filepath.Join(t.TempDir(), "keyhall.db")
	target := []string{"KEYHALL_STORAGE=" + into}
	onlyNew := Keys{Cookie: rotated.Cookie, Encryption: rotated.Encryption, OIDC: rotated.OIDC}
	e := mustRun(t, keysEnv(target, onlyNew), 1, "admin", "restore", "--storage", into, backup)
	if !strings.Contains(e, "nothing was changed") || !strings.Contains(e, "previous_encryption_key") || !strings.Contains(e, "rotate-encryption") {
		t.Errorf("restore of a backup whose secrets the key file cannot open: %q, want it refused, naming the key needed", e)
	}
	mustRun(t, keysEnv(target, rotated), 0, "admin", "restore", "--storage", into, backup)
}
