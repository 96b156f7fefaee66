package sqlstore

import (
	"context"
	"database/sql"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/keyhall/keyhall/authn/sqlstore/pgtest"
)

func TestMain(m *testing.M) {
	if url := os.Getenv(crashChildEnv); url != "" {
		crashChild(url) // never returns: the parent kills it
	}
	defer pgtest.StopShared()
	m.Run() // since Go 1.15 TestMain may return; the test binary exits with m.Run's code
}

var quiet = Options{Logger: slog.New(slog.DiscardHandler)}

// openURL opens url and closes the store at tb's cleanup.
func openURL(tb testing.TB, url string) *Store {
	tb.Helper()
	s, err := Open(context.Background(), url, quiet)
	if err != nil {
		tb.Fatalf("Open: %v", err)
	}
	tb.Cleanup(func() {
		if err := s.Close(); err != nil {
			tb.Errorf("Close: %v", err)
		}
	})
	return s
}

func sqliteURL(tb testing.TB) string {
	return "sqlite://" + filepath.Join(tb.TempDir(), "keyhall.db")
}

func postgresURL(tb testing.TB) string {
	return pgtest.Shared(tb).NewDatabase(tb)
}

// backends are the two dialects, each giving a URL of a fresh database.
var backends = []struct {
	name string
	url  func(tb testing.TB) string
}{
	{"sqlite", sqliteURL},
	{"postgres", postgresURL},
}

// openAtVersion makes the fresh database at url (of dialect) as a binary
// that knew only the first version migrations left it, and returns a plain
// connection to it: an upgrade test stores rows as that version did, then
// opens it with Open.
func openAtVersion(tb testing.TB, dialect, url string, version int) *sql.DB {
	tb.Helper()
	ms, err := migrations(dialect)
	if err != nil {
		tb.Fatal(err)
	}
	var db *sql.DB
	if dialect == dialectSQLite {
		db, err = sql.Open("sqlite", strings.TrimPrefix(url, "sqlite://"))
	} else {
		db, err = sql.Open("pgx", url)
	}
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	for _, m := range ms[:version] {
		if _, err := db.Exec(m.sql); err != nil {
			tb.Fatalf("apply %s: %v", m.name, err)
		}
	}
	if _, err := db.Exec("CREATE TABLE schema_version (version INTEGER NOT NULL)"); err != nil {
		tb.Fatal(err)
	}
	if _, err := db.Exec("INSERT INTO schema_version (version) VALUES ($1)", version); err != nil {
		tb.Fatal(err)
	}
	return db
}

// knownSchemaVersion is the newest schema version this binary knows.
func knownSchemaVersion(dialect string) int {
	ms, _ := migrations(dialect)
	return len(ms)
}
