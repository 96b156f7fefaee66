package sqlstore

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestDatabaseFilePermissions: a new database file is private to its
// owner; an existing one that others can read is opened with a warning.
func TestDatabaseFilePermissions(t *testing.T) {
	dir := t.TempDir()
	var log bytes.Buffer
	opts := Options{Logger: slog.New(slog.NewTextHandler(&log, nil))}
	fresh := filepath.Join(dir, "new.db")
	s, err := Open(context.Background(), "sqlite://"+fresh, opts)
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	if fi, err := os.Stat(fresh); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("new database file: %v, %v; want mode 0600", fi.Mode(), err)
	}
	if strings.Contains(log.String(), "other users") {
		t.Errorf("a private file was warned about:\n%s", log.String())
	}
	if err := os.Chmod(fresh, 0o644); err != nil {
		t.Fatal(err)
	}
	s, err = Open(context.Background(), "sqlite://"+fresh, opts)
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	if !strings.Contains(log.String(), "chmod 600") {
		t.Errorf("no warning for a database file readable by others:\n%s", log.String())
	}
}
