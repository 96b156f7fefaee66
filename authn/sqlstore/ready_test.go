package sqlstore

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/keyhall/keyhall/authn"
)

// TestInstalledRefusesMissingOrEmptyFile: an installation set up before
// gets an error wrapping ErrNoDatabase for a SQLite file that is missing or
// empty, and no file is made; a new installation still gets a new file.
func TestInstalledRefusesMissingOrEmptyFile(t *testing.T) {
	dir := t.TempDir()
	missing := filepath.Join(dir, "missing.db")
	if _, err := Open(context.Background(), "sqlite://"+missing, Options{Installed: true}); !errors.Is(err, ErrNoDatabase) {
		t.Errorf("missing file: %v, want ErrNoDatabase", err)
	}
	if _, err := os.Stat(missing); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the refused open left a file behind: %v", err)
	}
	empty := filepath.Join(dir, "empty.db")
	os.WriteFile(empty, nil, 0o600)
	if _, err := Open(context.Background(), "sqlite://"+empty, Options{Installed: true}); !errors.Is(err, ErrNoDatabase) {
		t.Errorf("empty file: %v, want ErrNoDatabase", err)
	}
	if fi, err := os.Stat(empty); err != nil || fi.Size() != 0 {
		t.Errorf("the refused open changed the empty file: %v, %v", fi, err)
	}
	// A SQLite file with no schema that is not 0 bytes (emptied by a tool,
	// or a fresh one put in place) is no new installation either.
	blank := filepath.Join(dir, "blank.db")
	db, err := sql.Open("sqlite", blank)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec("CREATE TABLE t (x INTEGER); DROP TABLE t"); err != nil {
		t.Fatal(err)
	}
	db.Close()
	if _, err := Open(context.Background(), "sqlite://"+blank, Options{Installed: true}); !errors.Is(err, ErrNoDatabase) {
		t.Errorf("a SQLite file with no schema: %v, want ErrNoDatabase", err)
	}
	s, err := Open(context.Background(), "sqlite://"+empty, Options{})
	if err != nil {
		t.Fatalf("a first start on an empty file: %v", err)
	}
	s.Close()
	s, err = Open(context.Background(), "sqlite://"+empty, Options{Installed: true})
	if err != nil {
		t.Fatalf("the database set up before: %v", err)
	}
	s.Close()
}

// TestDeletedFileRefusesWrites: once the SQLite file is deleted under an
// open store, nothing more is acknowledged (it would be written into the
// unlinked file and lost), reads fail too, no new file appears, Ready
// fails, and an ERROR is logged once.
func TestDeletedFileRefusesWrites(t *testing.T) {
	for _, how := range []string{"deleted", "replaced"} {
		t.Run(how, func(t *testing.T) {
			ctx := context.Background()
			path := filepath.Join(t.TempDir(), "keyhall.db")
			var log lockedLog
			s, err := Open(ctx, "sqlite://"+path, Options{Logger: slog.New(slog.NewTextHandler(&log, nil))})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			if err := s.CreateUser(ctx, newTestUser("anna"), authn.AuditEvent{Time: time.Now(), Actor: "test", Action: "user.create"}); err != nil {
				t.Fatal(err)
			}
			if err := s.Ready(ctx); err != nil {
				t.Fatalf("Ready before: %v", err)
			}
			if _, err := s.GetUserByUsername(ctx, "anna"); err != nil {
				t.Fatal(err)
			}
			os.Remove(path + "-wal")
			os.Remove(path + "-shm")
			if err := os.Remove(path); err != nil {
				t.Fatal(err)
			}
			if how == "replaced" {
				os.WriteFile(path, []byte("another file"), 0o600)
			}
			if err := s.CreateUser(ctx, newTestUser("bert"), authn.AuditEvent{Time: time.Now(), Actor: "test", Action: "user.create"}); err == nil {
				t.Error("a write after the file was " + how + " was acknowledged")
			}
			if err := s.Ready(ctx); err == nil {
				t.Error("Ready after the file was " + how + ": nil")
			}
			if err := s.Ping(ctx); err == nil {
				t.Error("Ping after the file was " + how + ": nil")
			}
			// The pooled readers are dropped; new ones cannot open.
			time.Sleep(100 * time.Millisecond)
			if _, err := s.GetUserByUsername(ctx, "anna"); err == nil {
				t.Error("a read after the file was " + how + " answered from the old file")
			}
			if how == "deleted" {
				if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
					t.Errorf("a new database file appeared: %v", err)
				}
			}
			if n := strings.Count(log.String(), "level=ERROR msg=\"the database file was deleted or replaced"); n != 1 {
				t.Errorf("%d ERROR lines about the file, want 1:\n%s", n, log.String())
			}
		})
	}
}

// TestReadyProbesAWrite: Ready fails when a write fails though the
// database answers reads (here a trigger makes the settings row unwritable),
// answers from its cache for two seconds, and does not grow the database.
func TestReadyProbesAWrite(t *testing.T) {
	ctx := context.Background()
	s := openURL(t, sqliteURL(t))
	if err := s.Ready(ctx); err != nil {
		t.Fatal(err)
	}
	var before int
	s.DB().QueryRow("PRAGMA page_count").Scan(&before)
	if _, err := s.DB().Exec(`CREATE TRIGGER no_writes BEFORE UPDATE ON settings BEGIN SELECT RAISE(ABORT, 'no writes'); END`); err != nil {
		t.Fatal(err)
	}
	if err := s.Ready(ctx); err != nil {
		t.Errorf("Ready within the cache time probed again: %v", err)
	}
	time.Sleep(readyCacheTTL + 100*time.Millisecond)
	if err := s.Ready(ctx); err == nil || !strings.Contains(err.Error(), "no writes") {
		t.Errorf("Ready with writes failing: %v, want the write's error", err)
	}
	s.DB().Exec(`DROP TRIGGER no_writes`)
	time.Sleep(readyCacheTTL + 100*time.Millisecond)
	for range 3 {
		if err := s.Ready(ctx); err != nil {
			t.Fatalf("Ready after writes work again: %v", err)
		}
		time.Sleep(readyCacheTTL + 100*time.Millisecond)
	}
	var after int
	s.DB().QueryRow("PRAGMA page_count").Scan(&after)
	if after != before {
		t.Errorf("the probes grew the database from %d to %d pages", before, after)
	}
}

func newTestUser(name string) authn.User {
	now := time.Now().UTC()
	return authn.User{ID: authn.NewID(), Username: name, Status: authn.StatusActive, Source: authn.SourceLocal,
		CreatedAt: now, UpdatedAt: now}
}

// lockedLog is a log buffer that goroutines may write while the test reads.
type lockedLog struct {
	mu  sync.Mutex // guards buf
	buf bytes.Buffer
}

func (l *lockedLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *lockedLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}
