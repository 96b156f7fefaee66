package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	sqlite3 "modernc.org/sqlite/lib"
	"net"
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	"modernc.org/sqlite"
)

// SQLite connection settings, applied by the driver to every new connection.
// synchronous=FULL makes each commit durable (fsync of the WAL); WAL lets
// readers run beside the one writer.
const (
	sqliteCommonParams = "_pragma=busy_timeout(10000)&_pragma=foreign_keys(1)"
	sqliteWriterParams = sqliteCommonParams + "&_pragma=journal_mode(WAL)&_pragma=synchronous(FULL)&_pragma=wal_autocheckpoint(4000)&_pragma=journal_size_limit(67108864)&_txlock=immediate"
	sqliteReaderParams = sqliteCommonParams + "&_pragma=query_only(1)"
)

// openSQLite opens the file at path with a writer pool of one connection and
// a reader pool of read-only connections. Unless opts.Unlocked, it first
// takes the shared lock beside the file (lockFile), before it looks at the
// file, so that a file Restore puts in place is the one opened; it leaves
// out the lock (and makes no lock file) when the file is not there and
// must not be created.
func openSQLite(ctx context.Context, path string, opts Options) (*Store, error) {
	if path == "" || strings.ContainsAny(path, "?#") || strings.HasPrefix(path, ":memory:") {
		return nil, fmt.Errorf("open sqlite database: %q is not a file path (want sqlite:///path/keyhall.db)", path)
	}
	var lock *os.File
	if _, err := os.Lstat(path); !opts.Unlocked && (err == nil || !(opts.Existing || opts.Installed)) {
		if lock, err = lockFile(path, false); err != nil {
			return nil, fmt.Errorf("open sqlite database %s: %w: a restore is putting a database in its place; try again when it has finished", path, err)
		}
	}
	s, err := openSQLiteFile(ctx, path, opts)
	if err != nil {
		if lock != nil {
			lock.Close()
		}
		return nil, err
	}
	s.lock = lock
	return s, nil
}

// openSQLiteFile opens the file at path for openSQLite.
func openSQLiteFile(ctx context.Context, path string, opts Options) (*Store, error) {
	// Create the file ourselves so that it is private to this user; SQLite
	// gives its -wal and -shm files the same permissions. SQLite itself
	// never creates it (mode=rw below): a connection opened after the file
	// was deleted must fail, not start a new, empty database.
	flags := os.O_RDWR | os.O_CREATE
	if opts.Existing || opts.Installed {
		flags = os.O_RDWR
	}
	f, err := os.OpenFile(path, flags, 0o600)
	if pe := (*fs.PathError)(nil); errors.As(err, &pe) {
		err = pe.Err // the path is in our message already
	}
	if opts.Existing && errors.Is(err, fs.ErrNotExist) {
		return nil, noDatabase(fmt.Sprintf("open sqlite database %s: there is none (keyhall serve creates it: run this with the configuration serve uses, --config, or from its directory)", path))
	}
	if opts.Installed && errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("open sqlite database %s: %w: there is no file", path, ErrNoDatabase)
	}
	if err != nil {
		return nil, fmt.Errorf("open sqlite database %s: %w", path, err)
	}
	fi, err := f.Stat()
	f.Close()
	if err != nil {
		return nil, fmt.Errorf("open sqlite database %s: %w", path, err)
	}
	if opts.Installed && fi.Size() == 0 {
		return nil, fmt.Errorf("open sqlite database %s: %w: the file is empty (0 bytes)", path, ErrNoDatabase)
	}
	if fi.Mode().Perm()&0o077 != 0 {
		opts.Logger.Warn("the database file can be read by other users of this machine; it holds password hashes, "+
			"sealed secrets and the audit log: chmod 600 it", "file", path, "mode", fi.Mode().Perm().String())
	}
	guard := newFileGuard(path, fi)
	// The file: URI form makes SQLite read mode=rw; % is its escape character.
	uri := "file:" + strings.ReplaceAll(path, "%", "%25") + "?mode=rw&"

	wconn, err := sqlite.NewConnector(uri + sqliteWriterParams)
	if err != nil {
		return nil, fmt.Errorf("open sqlite database %s: %w", path, err)
	}
	wdb := sql.OpenDB(guardedConnector{Connector: wconn, guard: guard, writer: true})
	wdb.SetMaxOpenConns(1)
	wdb.SetMaxIdleConns(1)
	wdb.SetConnMaxIdleTime(0)
	wdb.SetConnMaxLifetime(0)
	if err := pingWriter(ctx, wdb); err != nil {
		wdb.Close()
		return nil, fmt.Errorf("open sqlite database %s: %w", path, sqliteHint(err))
	}

	rconn, err := sqlite.NewConnector(uri + sqliteReaderParams)
	if err != nil {
		wdb.Close()
		return nil, fmt.Errorf("open sqlite database %s: %w", path, err)
	}
	rdb := sql.OpenDB(guardedConnector{Connector: rconn, guard: guard})
	// Readers are cheap to keep and costly to reopen (modernc parses the
	// schema on every new connection): keep as many idle as may be open.
	n := opts.MaxOpenConns
	if n <= 0 {
		n = max(4, 2*runtime.GOMAXPROCS(0))
	}
	rdb.SetMaxOpenConns(n)
	rdb.SetMaxIdleConns(n)
	rdb.SetConnMaxIdleTime(0)
	rdb.SetConnMaxLifetime(0)

	s := &Store{
		dialect:  dialectSQLite,
		log:      opts.Logger,
		wdb:      wdb,
		rdb:      rdb,
		location: path,
		guard:    guard,
		uri:      uri,
	}
	guard.onGone = s.fileGone
	return s, nil
}

// pingWriter opens the writer's connection, which sets its pragmas. Turning
// a new database to WAL needs the file to itself, and SQLite answers
// SQLITE_BUSY there without waiting for busy_timeout: when several
// processes open a new database at once, the others try again for a while.
func pingWriter(ctx context.Context, wdb *sql.DB) error {
	deadline := time.Now().Add(10 * time.Second)
	for {
		err := wdb.PingContext(ctx)
		var se *sqlite.Error
		if err == nil || !errors.As(err, &se) || se.Code()&0xff != sqlite3.SQLITE_BUSY || time.Now().After(deadline) {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// sqliteHint adds a hint to the errors a person can act on.
func sqliteHint(err error) error {
	if strings.Contains(err.Error(), "file is not a database") {
		return fmt.Errorf("the file is not a SQLite database or is corrupt (restore it from a backup): %w", err)
	}
	return err
}

// openPostgres connects one pool to the server named by url, with
// synchronous_commit forced on for every connection.
func openPostgres(ctx context.Context, url string, opts Options) (*Store, error) {
	cfg, err := pgx.ParseConfig(url)
	if err != nil {
		// pgx's message may quote the URL, password included: do not wrap it.
		return nil, errors.New("open postgresql database: the storage URL is not valid (see https://www.postgresql.org/docs/current/libpq-connect.html#LIBPQ-CONNSTRING)")
	}
	if opts.Password != "" {
		cfg.Password = opts.Password
	}
	if cfg.ConnectTimeout == 0 {
		cfg.ConnectTimeout = 10 * time.Second
	}
	cfg.RuntimeParams["synchronous_commit"] = "on"
	cfg.RuntimeParams["application_name"] = "keyhall"
	location := net.JoinHostPort(cfg.Host, strconv.Itoa(int(cfg.Port))) + "/" + cfg.Database

	db := stdlib.OpenDB(*cfg)
	n := opts.MaxOpenConns
	if n <= 0 {
		n = max(8, 4*runtime.GOMAXPROCS(0))
	}
	db.SetMaxOpenConns(n)
	db.SetMaxIdleConns(n)
	db.SetConnMaxIdleTime(5 * time.Minute)
	db.SetConnMaxLifetime(time.Hour)
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("connect to postgresql at %s: %w", location, err)
	}
	s := &Store{
		dialect:        dialectPostgres,
		log:            opts.Logger,
		wdb:            db,
		rdb:            db,
		forUpdate:      " FOR UPDATE",
		forNoKeyUpdate: " FOR NO KEY UPDATE",
		location:       location,
	}
	if err := s.checkPostgresDurability(ctx); err != nil {
		db.Close()
		return nil, err
	}
	return s, nil
}

// checkPostgresDurability refuses a server where commits would not wait for
// the WAL flush, and warns when the server does not fsync at all.
func (s *Store) checkPostgresDurability(ctx context.Context) error {
	d, err := s.DurabilitySettings(ctx)
	if err != nil {
		return err
	}
	if d["synchronous_commit"] != "on" {
		return fmt.Errorf("open postgresql database %s: synchronous_commit is %q, want \"on\"", s.location, d["synchronous_commit"])
	}
	if d["fsync"] != "on" {
		s.log.Warn("postgresql runs with fsync off: committed data can be lost in a crash", "server", s.location)
	}
	return nil
}

// noDatabase is an error that reads as itself and is ErrNoDatabase.
type noDatabase string

func (e noDatabase) Error() string        { return string(e) }
func (e noDatabase) Is(target error) bool { return target == ErrNoDatabase }
