package sqlstore

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
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

// knownSchemaVersion is the newest schema version this binary knows.
func knownSchemaVersion(dialect string) int {
	ms, _ := migrations(dialect)
	return len(ms)
}
