package sqlstore

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"sync"
	"time"

	"modernc.org/sqlite"
)

// ErrNoDatabase reports that an installation set up before (Options.Installed)
// has no database: its SQLite file is missing or empty. Setting up a new one
// would lose every person and make a new first administrator.
var ErrNoDatabase = errors.New("the database is missing")

// errFileGone is what every database call answers once the SQLite file was
// deleted or replaced under the running process.
var errFileGone = errors.New("the database file was deleted or replaced while Keyhall ran")

// fileCheckInterval is how often a SQLite store looks whether its file is
// still the one it opened, when no commit did so meanwhile.
const fileCheckInterval = 2 * time.Second

// readyCacheTTL is how long a readiness probe's answer holds, so that a load
// balancer polling /readyz cannot make Keyhall write more than this often.
const readyCacheTTL = 2 * time.Second

// fileGuard watches that the SQLite file at path is still the one opened:
// a file deleted or replaced under a running process would take every
// write acknowledged afterwards with it (into the unlinked file), and new
// connections would open a new, empty one.
type fileGuard struct {
	path   string
	opened os.FileInfo // the file as opened; os.SameFile compares its device and inode
	gone   sync.Once
	err    error         // set in gone, then read only; nil while the file is the one opened
	broken chan struct{} // closed when err is set
	stop   chan struct{} // closed by Close: ends watch
	onGone func(error)   // called once, in gone
}

func newFileGuard(path string, opened os.FileInfo) *fileGuard {
	return &fileGuard{path: path, opened: opened, broken: make(chan struct{}), stop: make(chan struct{})}
}

// check returns an error wrapping errFileGone if the file at path is not
// the one opened any more (it marks the guard broken for good then: a
// process that wrote into a deleted file cannot tell what it lost).
func (g *fileGuard) check() error {
	select {
	case <-g.broken:
		return g.err
	default:
	}
	fi, err := os.Stat(g.path)
	switch {
	case err != nil && !errors.Is(err, fs.ErrNotExist):
		// Not known to be gone (a permission or network file system error):
		// this check fails, the next may pass.
		return fmt.Errorf("check database file %s: %w", g.path, err)
	case err != nil:
		err = fmt.Errorf("%w: %s: %v", errFileGone, g.path, err)
	case !os.SameFile(fi, g.opened):
		err = fmt.Errorf("%w: %s is another file now", errFileGone, g.path)
	default:
		return nil
	}
	g.gone.Do(func() {
		g.err = err
		close(g.broken)
		if g.onGone != nil {
			g.onGone(err)
		}
	})
	return g.err
}

// watch checks the file every interval until Close.
func (g *fileGuard) watch(interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-g.stop:
			return
		case <-g.broken:
			return
		case <-t.C:
			g.check()
		}
	}
}

// guardedConnector opens SQLite connections only while the file is the one
// opened, and on the writer gives each one a commit hook that turns a
// commit into a rollback once it is not: nothing is acknowledged into a
// deleted file.
type guardedConnector struct {
	driver.Connector
	guard  *fileGuard
	writer bool
}

func (c guardedConnector) Connect(ctx context.Context) (driver.Conn, error) {
	if err := c.guard.check(); err != nil {
		return nil, err
	}
	conn, err := c.Connector.Connect(ctx)
	if err != nil || !c.writer {
		return conn, err
	}
	hc, ok := conn.(interface{ RegisterCommitHook(sqlite.CommitHookFn) })
	if !ok {
		conn.Close()
		return nil, errors.New("the sqlite driver offers no commit hook")
	}
	hc.RegisterCommitHook(func() int32 {
		if c.guard.check() != nil {
			return 1 // SQLite rolls back instead
		}
		return 0
	})
	return conn, nil
}

// fileGone marks the store broken: it logs, and drops the pooled
// connections, which would go on reading the deleted file. Only a restart
// opens the database again.
func (s *Store) fileGone(err error) {
	s.log.Error("the database file was deleted or replaced while Keyhall ran: every request that needs the database "+
		"now gets 503 and nothing more is written; stop Keyhall, restore the database from the backup "+
		"(keyhall admin restore; docs/backup.md), then start Keyhall again (it does not take the file up again by itself)", "file", s.location, "err", err)
	go func() {
		s.wdb.SetMaxIdleConns(0)
		s.rdb.SetMaxIdleConns(0)
	}()
}

// readiness caches the last readiness probe.
type readiness struct {
	mu  sync.Mutex // guards at and err, and makes callers wait for one probe
	at  time.Time
	err error
}

// Ready reports whether the store can serve: that a read and a small write
// (one settings row, rewritten in place: the database does not grow)
// succeed. It probes at most every two seconds and answers from the last
// probe in between; a SQLite file deleted or replaced is seen at once.
func (s *Store) Ready(ctx context.Context) error {
	if s.guard != nil {
		if err := s.guard.check(); err != nil {
			return err
		}
	}
	s.ready.mu.Lock()
	defer s.ready.mu.Unlock()
	if !s.ready.at.IsZero() && time.Since(s.ready.at) < readyCacheTTL {
		return s.ready.err
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
	defer cancel()
	s.ready.err = s.probe(ctx)
	s.ready.at = time.Now()
	return s.ready.err
}

// probe reads the schema version and rewrites the "ready_probe" setting.
func (s *Store) probe(ctx context.Context) error {
	var v int
	if err := s.rdb.QueryRowContext(ctx, "SELECT MAX(version) FROM schema_version").Scan(&v); err != nil {
		return fmt.Errorf("read from %s: %w", s.location, err)
	}
	if _, err := s.wdb.ExecContext(ctx, "INSERT INTO settings (name, value) VALUES ('ready_probe', $1) "+
		"ON CONFLICT (name) DO UPDATE SET value = excluded.value", time.Now().UTC().Format(time.RFC3339)); err != nil {
		return fmt.Errorf("write to %s: %w", s.location, err)
	}
	return nil
}
