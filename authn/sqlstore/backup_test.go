package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/keyhall/keyhall/authn"
)

// TestRestoreLock: Restore refuses (ErrInUse) while a Store has the target
// open and goes ahead once it is closed; while Restore holds the target, a
// Store cannot open it.
func TestRestoreLock(t *testing.T) {
	ctx := context.Background()
	src := openURL(t, sqliteURL(t))
	if _, err := src.EnsureSetting(ctx, "keys_fingerprint", "f"); err != nil {
		t.Fatal(err)
	}
	backup := filepath.Join(t.TempDir(), "b.db")
	if _, err := src.Backup(ctx, backup, false); err != nil {
		t.Fatal(err)
	}
	url := sqliteURL(t)
	target, err := Open(ctx, url, quiet)
	if err != nil {
		t.Fatal(err)
	}
	nop := func(context.Context, *Store) error { return nil }
	if err := Restore(ctx, backup, url, quiet, nop); !errors.Is(err, ErrInUse) {
		t.Fatalf("Restore while a Store has the target open: %v, want ErrInUse", err)
	}
	target.Close()
	err = Restore(ctx, backup, url, quiet, func(ctx context.Context, st *Store) error {
		if _, err := Open(ctx, url, quiet); !errors.Is(err, ErrInUse) {
			t.Errorf("Open while Restore holds the target: %v, want ErrInUse", err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	openURL(t, url)
}

// TestInspectBackupSchema: a backup of an older schema is accepted and
// migrated by Restore; one of a newer schema, or a SQLite file that is
// not Keyhall's, is refused.
func TestInspectBackupSchema(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	old := filepath.Join(dir, "old.db")
	db := openAtVersion(t, dialectSQLite, "sqlite://"+old, 20)
	if _, err := db.Exec("INSERT INTO settings (name, value) VALUES ('keys_fingerprint', 'f')"); err != nil {
		t.Fatal(err)
	}
	db.Close()
	info, err := InspectBackup(ctx, old)
	if err != nil || info.SchemaVersion != 20 || info.KeysFingerprint != "f" || info.Recorded {
		t.Fatalf("InspectBackup of a stopped database of schema 20: %+v, %v", info, err)
	}
	url := "sqlite://" + filepath.Join(dir, "restored.db")
	if err := Restore(ctx, old, url, quiet, func(context.Context, *Store) error { return nil }); err != nil {
		t.Fatal(err)
	}
	db, err = sql.Open("sqlite", strings.TrimPrefix(url, "sqlite://"))
	if err != nil {
		t.Fatal(err)
	}
	var v int
	if err := db.QueryRow("SELECT version FROM schema_version").Scan(&v); err != nil || v != knownSchemaVersion(dialectSQLite) {
		t.Errorf("restored schema version %d, %v; want it migrated to %d", v, err, knownSchemaVersion(dialectSQLite))
	}
	db.Close()
	// A database file copied while Keyhall was stopped is in WAL mode,
	// without a -wal file: a backup as good as one Backup wrote.
	if info, err := InspectBackup(ctx, strings.TrimPrefix(url, "sqlite://")); err != nil || info.SchemaVersion != v {
		t.Errorf("InspectBackup of a stopped database in WAL mode: %+v, %v", info, err)
	}

	newer := filepath.Join(dir, "newer.db")
	b, _ := os.ReadFile(old)
	os.WriteFile(newer, b, 0o600)
	db, _ = sql.Open("sqlite", newer)
	if _, err := db.Exec("UPDATE schema_version SET version = 999"); err != nil {
		t.Fatal(err)
	}
	db.Close()
	if _, err := InspectBackup(ctx, newer); !errors.Is(err, authn.ErrSchemaTooNew) || !strings.Contains(err.Error(), "999") {
		t.Errorf("InspectBackup of schema 999: %v, want ErrSchemaTooNew naming it", err)
	}

	other := filepath.Join(dir, "other.db")
	db, _ = sql.Open("sqlite", other)
	if _, err := db.Exec("CREATE TABLE notes (text TEXT)"); err != nil {
		t.Fatal(err)
	}
	db.Close()
	if _, err := InspectBackup(ctx, other); !errors.Is(err, ErrNotBackup) {
		t.Errorf("InspectBackup of another SQLite database: %v, want ErrNotBackup", err)
	}
}
