package main

import (
	"errors"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/keyhall/keyhall/authn"
	"github.com/keyhall/keyhall/authn/sqlstore/pgtest"
)

// firstStart runs keyhall serve once in dir (a new installation), makes a
// session for the first administrator, and returns the running process
// and the session's cookie.
func firstStart(t *testing.T, dir string) (*proc, string) {
	t.Helper()
	p := startKeyhall(t, dir, nil, "serve", "--listen", "127.0.0.1:0")
	p.listening(t)
	p.waitFor(t, linkRx, 30*time.Second)
	eventually(t, 30*time.Second, wantStatus(t, p.url("/readyz"), "", 200))
	st := openSQLite(t, filepath.Join(dir, "keyhall.db"))
	cookie, _ := newSession(t, st, "admin")
	st.Close()
	eventually(t, 5*time.Second, wantStatus(t, p.url("/api/session"), cookie, 200))
	return p, cookie
}

// wantRefusedStart starts keyhall serve in dir and wants it to stop with
// status 1 and a message to restore the backup or move the key file away,
// without making a database or printing an enrollment link.
func wantRefusedStart(t *testing.T, dir string) {
	t.Helper()
	p := startKeyhall(t, dir, nil, "serve", "--listen", "127.0.0.1:0")
	select {
	case <-p.exited:
	case <-time.After(30 * time.Second):
		t.Fatal("keyhall kept running on a lost database of an installation set up before")
	}
	out := p.out.String()
	if p.code != 1 || !strings.Contains(out, "Restore the database") || !strings.Contains(out, "move the key file away") {
		t.Errorf("exit status %d, output %q; want 1 and a message to restore the backup or move the key file away", p.code, out)
	}
	if regexp.MustCompile(linkRx).MatchString(out) || strings.Contains(out, "created the first administrator") {
		t.Errorf("a start on a lost database made a new administrator:\n%s", out)
	}
	if fi, err := os.Stat(filepath.Join(dir, "keyhall.db")); err == nil && fi.Size() > 0 {
		t.Errorf("the refused start set up a new database (%d bytes)", fi.Size())
	}
}

// TestServeDatabaseDeleted: the database file deleted under a running
// serve makes it log an ERROR and answer 503 (to /readyz and to a signed-in
// person) instead of writing on into the deleted file or making a new,
// empty one; started again, serve refuses to set up a new installation
// beside the key file.
func TestServeDatabaseDeleted(t *testing.T) {
	dir := t.TempDir()
	p, cookie := firstStart(t, dir)
	db := filepath.Join(dir, "keyhall.db")
	for _, f := range []string{db, db + "-wal", db + "-shm"} {
		if err := os.Remove(f); err != nil && !errors.Is(err, os.ErrNotExist) {
			t.Fatal(err)
		}
	}
	eventually(t, 5*time.Second, wantStatus(t, p.url("/readyz"), "", 503))
	p.waitFor(t, `level=ERROR msg="the database file was deleted or replaced`, 5*time.Second)
	time.Sleep(authn.SessionCacheTTL)
	for range 3 {
		if code, body := get(t, p.url("/api/session"), cookie); code != 503 {
			t.Fatalf("session check with the database file deleted: %d %s, want 503", code, body)
		}
	}
	if code, _ := get(t, p.url("/healthz"), ""); code != 200 {
		t.Errorf("/healthz: %d, want 200 (the process runs)", code)
	}
	if _, err := os.Stat(db); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a new database file appeared under the running process: %v", err)
	}
	if code := p.stop(t); code != 0 {
		t.Errorf("exit status after SIGTERM: %d", code)
	}
	wantRefusedStart(t, dir)
}

// TestServeEmptyDatabase: an installation whose database file is empty
// (zero bytes) at start is refused, not set up afresh.
func TestServeEmptyDatabase(t *testing.T) {
	dir := t.TempDir()
	p, _ := firstStart(t, dir)
	if code := p.stop(t); code != 0 {
		t.Fatalf("first start: exit status %d", code)
	}
	db := filepath.Join(dir, "keyhall.db")
	os.Remove(db + "-wal")
	os.Remove(db + "-shm")
	if err := os.Truncate(db, 0); err != nil {
		t.Fatal(err)
	}
	wantRefusedStart(t, dir)
	if fi, err := os.Stat(db); err != nil || fi.Size() != 0 {
		t.Errorf("the refused start changed the empty file: %v, %v", fi, err)
	}
}

// TestServePlacesChecked: a SQLite file or key file in a directory that
// does not exist, or a listen address in use, fails check-config naming the
// setting, and stops serve before it writes anything.
func TestServePlacesChecked(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	dir := t.TempDir()
	none := filepath.Join(dir, "none")
	base := "public_url: http://localhost:8080\nlisten: 127.0.0.1:0\n"
	tests := []struct {
		name, yaml, want string
		serveCode        int
	}{
		{"storage", base + "storage: sqlite://" + none + "/keyhall.db\n", "storage: the directory " + none, 2},
		{"keys.file", base + "keys:\n  file: " + none + "/keyhall.keys\n", "keys.file: the directory " + none, 2},
		{"listen", "public_url: http://localhost:8080\nlisten: " + busy.Addr().String() + "\n", "listen: cannot listen on " + busy.Addr().String(), 1},
		{"metrics_listen", base + "metrics_listen: " + busy.Addr().String() + "\n", "metrics_listen: cannot listen on " + busy.Addr().String(), 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wd := t.TempDir()
			cfg := writeFile(t, wd, "keyhall.yaml", tt.yaml)
			code, _, errOut := runKeyhall(t, nil, "check-config", cfg)
			if code != 2 || !strings.Contains(errOut, cfg+": "+tt.want) {
				t.Errorf("check-config: exit %d, stderr %q; want 2 and %q", code, errOut, tt.want)
			}
			p := startKeyhall(t, wd, nil, "serve", "--config", cfg)
			select {
			case <-p.exited:
			case <-time.After(30 * time.Second):
				t.Fatal("serve kept running")
			}
			if p.code != tt.serveCode || !strings.Contains(p.out.String(), tt.name) {
				t.Errorf("serve: exit %d, output %q; want %d naming %s", p.code, p.out.String(), tt.serveCode, tt.name)
			}
			entries, _ := os.ReadDir(wd)
			for _, e := range entries {
				if e.Name() != "keyhall.yaml" {
					t.Errorf("serve wrote %s before stopping", e.Name())
				}
			}
		})
	}
}

// TestServePostgresEmptyWithKeys: on PostgreSQL the administrator makes
// the database, and the processes of a new installation may all start with
// the key file copied to them beforehand; so an empty database beside an
// existing key file is set up (one link), but with a warning that says to
// restore the backup if this installation had people.
func TestServePostgresEmptyWithKeys(t *testing.T) {
	pg := pgtest.Shared(t)
	dir := t.TempDir()
	p := startKeyhall(t, dir, []string{"KEYHALL_STORAGE=" + pg.NewDatabase(t)}, "serve", "--listen", "127.0.0.1:0")
	p.waitFor(t, linkRx, 30*time.Second)
	if code := p.stop(t); code != 0 {
		t.Fatalf("first start: exit status %d", code)
	}
	p = startKeyhall(t, dir, []string{"KEYHALL_STORAGE=" + pg.NewDatabase(t)}, "serve", "--listen", "127.0.0.1:0")
	p.waitFor(t, `level=WARN msg="the database is empty although the key file existed before this start.*restore the database from the backup`, 30*time.Second)
	p.waitFor(t, linkRx, 30*time.Second)
	if code := p.stop(t); code != 0 {
		t.Errorf("exit status %d", code)
	}
}
