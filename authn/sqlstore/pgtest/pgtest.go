// Package pgtest starts throwaway PostgreSQL clusters for tests: on
// 127.0.0.1, on a free port, in a temporary directory, with trust
// authentication for the user postgres.
//
// The binaries come from the newest /usr/lib/postgresql/*/bin (Debian's
// postgresql package). When the test runs as root, initdb and pg_ctl run as
// the user postgres (initdb refuses root). If PostgreSQL is not installed a
// test is skipped, or fails when the environment variable CI is "true".
//
// Start gives a test its own cluster, stopped at the test's cleanup. Shared
// gives every test of a test binary one cluster, started on first use; a
// package that uses Shared must stop it in TestMain, or the server outlives
// the test binary:
//
//	func TestMain(m *testing.M) {
//		defer pgtest.StopShared()
//		m.Run()
//	}
//
// (TestMain may return instead of calling os.Exit, which would skip the
// deferred call.) Each test then takes a database of its own with
// Server.NewDatabase.
package pgtest

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" driver
)

// Option changes how Start sets up a cluster.
type Option func(*config)

type config struct {
	fsync bool
}

// WithFsync turns fsync on, for tests and benchmarks of durability. By
// default it is off, which is faster and loses data only in an OS crash.
func WithFsync() Option { return func(c *config) { c.fsync = true } }

// Server is a running (or stopped) PostgreSQL cluster.
type Server struct {
	bin   string // directory of initdb, pg_ctl
	dir   string // temporary directory: data/, pg.log, the socket
	port  int
	cfg   config
	asPG  bool // run commands as the user postgres (we are root)
	dbSeq atomic.Int64

	mu      sync.Mutex // guards running
	running bool
}

// errNotInstalled means no PostgreSQL binaries were found.
var errNotInstalled = errors.New("postgresql not installed; install it with: apt-get install -y postgresql")

// Start starts a new cluster, stopped and removed at tb's cleanup.
func Start(tb testing.TB, opts ...Option) *Server {
	tb.Helper()
	s, err := start(opts...)
	if err != nil {
		skipOrFatal(tb, err)
	}
	tb.Cleanup(s.destroy)
	return s
}

func skipOrFatal(tb testing.TB, err error) {
	tb.Helper()
	if errors.Is(err, errNotInstalled) && os.Getenv("CI") != "true" {
		tb.Skip(err)
	}
	tb.Fatal(err)
}

var shared struct {
	mu  sync.Mutex // guards srv and err
	srv *Server
	err error
}

// Shared returns the test binary's shared cluster, started on first use.
// The test binary's TestMain must call StopShared after m.Run.
func Shared(tb testing.TB) *Server {
	tb.Helper()
	shared.mu.Lock()
	defer shared.mu.Unlock()
	if shared.srv == nil && shared.err == nil {
		shared.srv, shared.err = start()
	}
	if shared.err != nil {
		skipOrFatal(tb, shared.err)
	}
	return shared.srv
}

// StopShared stops and removes the shared cluster, if one was started.
func StopShared() {
	shared.mu.Lock()
	defer shared.mu.Unlock()
	if shared.srv != nil {
		shared.srv.destroy()
		shared.srv = nil
	}
}

// findBin returns the bin directory of the newest installed PostgreSQL.
func findBin() (string, error) {
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	var best string
	bestV := -1.0
	for _, d := range dirs {
		v, err := strconv.ParseFloat(filepath.Base(filepath.Dir(d)), 64)
		if err != nil {
			continue
		}
		if _, err := os.Stat(filepath.Join(d, "initdb")); err == nil && v > bestV {
			best, bestV = d, v
		}
	}
	if best == "" {
		return "", errNotInstalled
	}
	return best, nil
}

func start(opts ...Option) (*Server, error) {
	bin, err := findBin()
	if err != nil {
		return nil, err
	}
	s := &Server{bin: bin, asPG: os.Geteuid() == 0}
	for _, o := range opts {
		o(&s.cfg)
	}
	if err := s.makeDir(); err != nil {
		return nil, err
	}
	if err := s.run("initdb", "-D", s.data(), "-U", "postgres", "--auth=trust",
		"-E", "UTF8", "--locale=C.UTF-8", "--no-sync"); err != nil {
		os.RemoveAll(s.dir)
		return nil, err
	}
	// A port found free may be taken before the server binds it: try a few.
	for range 3 {
		if s.port, err = freePort(); err != nil {
			break
		}
		if err = s.pgStart(); err == nil {
			return s, nil
		}
	}
	os.RemoveAll(s.dir)
	return nil, err
}

// makeDir creates the temporary directory, owned by postgres when we are
// root; the postgres user must be able to reach it.
func (s *Server) makeDir() error {
	dir, err := os.MkdirTemp("", "pgtest-")
	if err != nil {
		return fmt.Errorf("pgtest: %w", err)
	}
	s.dir = dir
	if err := os.Chmod(dir, 0o755); err != nil {
		return fmt.Errorf("pgtest: %w", err)
	}
	if !s.asPG {
		return nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		return fmt.Errorf("pgtest: running as root, but there is no user postgres to run the server: %w", err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	if err := os.Chown(dir, uid, gid); err != nil {
		return fmt.Errorf("pgtest: %w", err)
	}
	for p := filepath.Dir(dir); ; p = filepath.Dir(p) {
		if fi, err := os.Stat(p); err != nil || fi.Mode().Perm()&0o001 == 0 {
			return fmt.Errorf("pgtest: the user postgres cannot enter %s (chmod o+x it, or set TMPDIR elsewhere)", p)
		}
		if p == filepath.Dir(p) {
			return nil
		}
	}
}

func (s *Server) data() string { return filepath.Join(s.dir, "data") }

// run runs a PostgreSQL program, as the user postgres when we are root.
func (s *Server) run(prog string, args ...string) error {
	path := filepath.Join(s.bin, prog)
	var cmd *exec.Cmd
	switch _, err := exec.LookPath("runuser"); {
	case s.asPG && err == nil:
		cmd = exec.Command("runuser", slices.Concat([]string{"-u", "postgres", "--", path}, args)...)
	case s.asPG:
		quoted := []string{shellQuote(path)}
		for _, a := range args {
			quoted = append(quoted, shellQuote(a))
		}
		cmd = exec.Command("su", "postgres", "-c", strings.Join(quoted, " "))
	default:
		cmd = exec.Command(path, args...)
	}
	cmd.Dir = s.dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("pgtest: %s: %w\n%s", prog, err, out)
	}
	return nil
}

func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("pgtest: find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func (s *Server) pgStart() error {
	fsync := "off"
	if s.cfg.fsync {
		fsync = "on"
	}
	o := strings.Join([]string{
		"-c listen_addresses=127.0.0.1", "-p " + strconv.Itoa(s.port), "-k " + s.dir,
		"-c fsync=" + fsync, "-c full_page_writes=" + fsync, "-c synchronous_commit=on",
		"-c max_connections=300", "-c shared_buffers=64MB",
	}, " ")
	if err := s.run("pg_ctl", "-D", s.data(), "-l", filepath.Join(s.dir, "pg.log"), "-w", "-t", "60", "-o", o, "start"); err != nil {
		log, _ := os.ReadFile(filepath.Join(s.dir, "pg.log"))
		return fmt.Errorf("%w\nserver log:\n%s", err, log)
	}
	s.mu.Lock()
	s.running = true
	s.mu.Unlock()
	return nil
}

// Stop stops the server (pg_ctl stop -m fast), as if the database went away.
func (s *Server) Stop(tb testing.TB) {
	tb.Helper()
	if err := s.pgStop("fast"); err != nil {
		tb.Fatal(err)
	}
}

// Start starts the server again, on the same port and data directory.
func (s *Server) Start(tb testing.TB) {
	tb.Helper()
	if err := s.pgStart(); err != nil {
		tb.Fatal(err)
	}
}

func (s *Server) pgStop(mode string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.running {
		return nil
	}
	if err := s.run("pg_ctl", "-D", s.data(), "-m", mode, "-w", "stop"); err != nil {
		return err
	}
	s.running = false
	return nil
}

// destroy stops the server at once and removes its directory.
func (s *Server) destroy() {
	s.pgStop("immediate")
	os.RemoveAll(s.dir)
}

// URL returns the postgres:// URL of database name on this server.
func (s *Server) URL(name string) string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/%s?sslmode=disable", s.port, name)
}

// NewDatabase creates a database with a unique name and returns its URL
// (user postgres, trust authentication, sslmode=disable). It is dropped at
// tb's cleanup.
func (s *Server) NewDatabase(tb testing.TB) string {
	tb.Helper()
	name := fmt.Sprintf("test_%d_%d", os.Getpid(), s.dbSeq.Add(1))
	if err := s.exec(fmt.Sprintf("CREATE DATABASE %s", name)); err != nil {
		tb.Fatalf("pgtest: create database: %v", err)
	}
	tb.Cleanup(func() {
		s.mu.Lock()
		running := s.running
		s.mu.Unlock()
		if running {
			s.exec(fmt.Sprintf("DROP DATABASE IF EXISTS %s WITH (FORCE)", name))
		}
	})
	return s.URL(name)
}

// exec runs one statement in the postgres database.
func (s *Server) exec(stmt string) error {
	db, err := sql.Open("pgx", s.URL("postgres"))
	if err != nil {
		return err
	}
	defer db.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	_, err = db.ExecContext(ctx, stmt)
	return err
}
