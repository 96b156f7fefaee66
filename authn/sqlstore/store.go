package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/keyhall/keyhall/authn"
)

var _ authn.Store = (*Store)(nil)

// Options tunes Open. The zero value is ready to use.
type Options struct {
	Logger       *slog.Logger // nil: slog.Default()
	MaxOpenConns int          // 0: a sensible default per backend (SQLite: the readers; it always has one writer)
	Password     string       // PostgreSQL password read from a secret file; overrides one in the URL when non-empty
	// Existing opens only a database that keyhall serve has set up: a
	// SQLite file that is not there, or a schema older than this binary's,
	// is an error instead of a new file or a migration (for the admin
	// commands, which must not set up a database of their own somewhere).
	Existing bool
	// Installed says the installation was set up before (serve found its
	// key file): a SQLite file that is missing or empty is then an error
	// wrapping ErrNoDatabase instead of a new database.
	Installed bool
	// Unlocked leaves out the shared lock beside the SQLite file (see
	// lockFile): for Restore, which opens a copy not yet in place while it
	// holds the target's lock itself.
	Unlocked bool
}

// Store implements authn.Store on database/sql, for SQLite and PostgreSQL.
// It is safe for concurrent use. Create it with Open and release it with
// Close.
type Store struct {
	existing  bool // Options.Existing
	installed bool // Options.Installed
	dialect   string
	log       *slog.Logger
	wdb       *sql.DB // writer pool: on SQLite one connection (BEGIN IMMEDIATE); on PostgreSQL the only pool
	rdb       *sql.DB // reader pool: on SQLite read-only connections; on PostgreSQL the same as wdb
	forUpdate string  // " FOR UPDATE" on PostgreSQL, "" on SQLite (its writer lock serialises writes)
	// forNoKeyUpdate locks a row to change columns other than its key: unlike
	// FOR UPDATE it does not wait for the FOR KEY SHARE lock that every
	// foreign-key check (a new session of the person) takes.
	forNoKeyUpdate string
	location       string     // the file or host, for error messages
	guard          *fileGuard // SQLite: whether the file is still the one opened; nil on PostgreSQL
	uri            string     // SQLite: the file: URI, ending in "&", for Backup's connection
	lock           *os.File   // SQLite: the shared lock beside the file (lockFile); nil if Unlocked
	ready          readiness  // the last readiness probe (Ready)

	stmt      statements
	batch     *batcher
	purgeTick atomic.Uint64 // counts the writes that purge old rows now and then (purgeEvery)
	cache     *sessionCache // nil when disabled (benchmarks of the database path)
	closed    sync.Once
}

// statements are the hot queries, prepared once at Open.
type statements struct {
	getSession    *sql.Stmt // on rdb
	createSession *sql.Stmt // on wdb, used inside batches
	touchSession  *sql.Stmt // on wdb, used inside batches
	sessionExists *sql.Stmt // on wdb, used inside batches
	hitThrottle   *sql.Stmt // on wdb
	undoThrottle  *sql.Stmt // on wdb

	listCredentials *sql.Stmt // on rdb
	getCredentialBy *sql.Stmt // on rdb
	countRecovery   *sql.Stmt // on rdb
	recordKeyUse    *sql.Stmt // on wdb, used inside batches
	acceptTOTPStep  *sql.Stmt // on wdb, used inside batches
	credentialKind  *sql.Stmt // on wdb, used inside batches
	usePending      *sql.Stmt // on wdb, used inside batches
	unusePending    *sql.Stmt // on wdb, used inside batches
	purgeUsed       *sql.Stmt // on wdb, used inside batches

	getUser           *sql.Stmt // on rdb
	getUserByUsername *sql.Stmt // on rdb
	// hitThrottles[n-1] counts n keys (sqlHitThrottles); on wdb.
	hitThrottles [maxHitBatch]*sql.Stmt
	// getSignInRecord and getSignInRecordByName: signinread.go.
	getSignInRecord, getSignInRecordByName *sql.Stmt // on rdb
	userGroups                             *sql.Stmt // on rdb
	readAuditHead                          *sql.Stmt // on wdb, used inside transactions
	insertAudit                            *sql.Stmt // on wdb, used inside transactions
	moveAuditHead                          *sql.Stmt // on wdb, used inside transactions
	throttleCounts                         *sql.Stmt // on wdb, used inside batches

	authRequestByCode *sql.Stmt // on rdb
	redeemCode        *sql.Stmt // on wdb, used inside batches
	insertToken       *sql.Stmt // on wdb, used inside batches
	refreshToken      *sql.Stmt // on rdb
	rotateRefresh     *sql.Stmt // on wdb, used inside batches

	// usersByEmail and getRegistration: each registration's mail reads
	// them (citizens_recover.go, citizens_register.go).
	usersByEmail, getRegistration *sql.Stmt // on rdb
}

// all lists the prepared statements, for Close.
func (st *statements) all() []*sql.Stmt {
	list := []*sql.Stmt{st.getSession, st.createSession, st.touchSession, st.sessionExists, st.hitThrottle,
		st.undoThrottle, st.listCredentials, st.getCredentialBy, st.countRecovery, st.recordKeyUse,
		st.acceptTOTPStep, st.credentialKind, st.usePending, st.unusePending, st.purgeUsed,
		st.getUser, st.getUserByUsername, st.userGroups, st.readAuditHead, st.insertAudit, st.moveAuditHead,
		st.throttleCounts, st.getSignInRecord,
		st.getSignInRecordByName, st.authRequestByCode, st.redeemCode, st.insertToken, st.refreshToken,
		st.rotateRefresh, st.usersByEmail, st.getRegistration}
	list = append(list, st.hitThrottles[:]...)
	return list
}

// Open connects, applies embedded migrations (refusing with an error
// wrapping authn.ErrSchemaTooNew if the database's schema version is newer
// than this binary knows), and returns a ready Store.
//
// url is "sqlite://keyhall.db" (a path relative to the working directory),
// "sqlite:///var/lib/keyhall/keyhall.db" (absolute), or "postgres://…" /
// "postgresql://…" (see pgx for the parameters). A corrupt or unreadable
// SQLite file, or an unreachable PostgreSQL server, gives an error naming the
// file or host.
func Open(ctx context.Context, url string, opts Options) (*Store, error) {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	var (
		s   *Store
		err error
	)
	switch {
	case strings.HasPrefix(url, "sqlite://"):
		s, err = openSQLite(ctx, strings.TrimPrefix(url, "sqlite://"), opts)
	case strings.HasPrefix(url, "postgres://"), strings.HasPrefix(url, "postgresql://"):
		s, err = openPostgres(ctx, url, opts)
	default:
		scheme, _, _ := strings.Cut(url, ":")
		return nil, fmt.Errorf("open store: unsupported storage URL scheme %q: want sqlite:///path/keyhall.db or postgres://…", scheme)
	}
	if err != nil {
		return nil, err
	}
	s.existing = opts.Existing
	s.installed = opts.Installed
	if err := s.start(ctx); err != nil {
		s.closeDBs()
		return nil, err
	}
	return s, nil
}

// start migrates the schema, prepares the hot statements and starts the
// batcher and the caches.
func (s *Store) start(ctx context.Context) error {
	if err := s.migrate(ctx); err != nil {
		return fmt.Errorf("migrate %s database %s: %w", s.dialect, s.location, err)
	}
	if err := s.indexUnindexed(ctx); err != nil {
		return fmt.Errorf("index people for search on %s: %w", s.location, err)
	}
	if err := s.prepare(ctx); err != nil {
		return fmt.Errorf("prepare statements on %s: %w", s.location, err)
	}
	s.batch = newBatcher(s.wdb, s.dialect == dialectSQLite, s.lockAuditHead, s.flushAuditTail)
	s.cache = newSessionCache(defaultCacheTTL, defaultCacheSize)
	if s.guard != nil {
		go s.guard.watch(fileCheckInterval)
	}
	return nil
}

func (s *Store) prepare(ctx context.Context) error {
	var err error
	p := func(db *sql.DB, query string) *sql.Stmt {
		if err != nil {
			return nil
		}
		var st *sql.Stmt
		st, err = db.PrepareContext(ctx, query)
		return st
	}
	s.stmt = statements{
		getSession:    p(s.rdb, sqlGetSession),
		createSession: p(s.wdb, sqlCreateSession),
		touchSession:  p(s.wdb, sqlTouchSession),
		sessionExists: p(s.wdb, sqlSessionExists),
		hitThrottle:   p(s.wdb, sqlHitThrottle),
		undoThrottle:  p(s.wdb, sqlUndoThrottle),

		listCredentials: p(s.rdb, sqlListCredentials),
		getCredentialBy: p(s.rdb, sqlGetCredentialBy),
		countRecovery:   p(s.rdb, sqlCountRecovery),
		recordKeyUse:    p(s.wdb, sqlRecordKeyUse),
		acceptTOTPStep:  p(s.wdb, sqlAcceptTOTPStep),
		credentialKind:  p(s.wdb, sqlCredentialKind),
		usePending:      p(s.wdb, sqlUsePending),
		unusePending:    p(s.wdb, sqlUnusePending),
		purgeUsed:       p(s.wdb, sqlPurgeUsed),

		getUser:               p(s.rdb, sqlGetUser),
		getUserByUsername:     p(s.rdb, sqlGetUserByUsername),
		getSignInRecord:       p(s.rdb, signInRecordQuery(s.dialect, "id")),
		getSignInRecordByName: p(s.rdb, signInRecordQuery(s.dialect, "username")),
		userGroups:            p(s.rdb, sqlUserGroups),
		readAuditHead:         p(s.wdb, sqlReadAuditHead+s.forUpdate),
		insertAudit:           p(s.wdb, sqlInsertAudit),
		moveAuditHead:         p(s.wdb, sqlMoveAuditHead),
		throttleCounts:        p(s.wdb, sqlThrottleCounts),

		authRequestByCode: p(s.rdb, sqlAuthRequestByCode),
		redeemCode:        p(s.wdb, sqlRedeemCode),
		insertToken:       p(s.wdb, sqlInsertToken),
		refreshToken:      p(s.rdb, sqlRefreshToken),
		rotateRefresh:     p(s.wdb, sqlRotateRefresh),

		usersByEmail:    p(s.rdb, sqlUsersByEmail),
		getRegistration: p(s.rdb, sqlGetRegistration),
	}
	for n := range maxHitBatch {
		s.stmt.hitThrottles[n] = p(s.wdb, sqlHitThrottles(s.dialect, n+1))
	}
	return err
}

// Dialect reports the backend: "sqlite" or "postgres".
func (s *Store) Dialect() string { return s.dialect }

// DB returns the writer pool, for tests and integrity checks.
func (s *Store) DB() *sql.DB { return s.wdb }

// Ping reports whether the database answers (and, on SQLite, its file is
// still the one opened).
func (s *Store) Ping(ctx context.Context) error {
	if s.guard != nil {
		if err := s.guard.check(); err != nil {
			return err
		}
	}
	if err := s.rdb.PingContext(ctx); err != nil {
		return fmt.Errorf("ping %s: %w", s.location, err)
	}
	return nil
}

// Close waits for pending batched writes to commit, then releases the
// database. Calls after the first return nil.
func (s *Store) Close() error {
	var err error
	s.closed.Do(func() {
		if s.guard != nil {
			close(s.guard.stop)
		}
		if s.batch != nil {
			s.batch.close()
		}
		for _, st := range s.stmt.all() {
			if st != nil {
				st.Close()
			}
		}
		err = s.closeDBs()
	})
	return err
}

func (s *Store) closeDBs() error {
	var errs []error
	if s.rdb != s.wdb {
		errs = append(errs, s.rdb.Close())
	}
	errs = append(errs, s.wdb.Close())
	if s.lock != nil {
		errs = append(errs, s.lock.Close()) // after the connections: then nobody uses the file
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("close %s: %w", s.location, err)
	}
	return nil
}

// IntegrityCheck checks the database: on SQLite, PRAGMA integrity_check
// must report "ok"; on PostgreSQL, a trivial query must answer.
func (s *Store) IntegrityCheck(ctx context.Context) error {
	if s.dialect == dialectPostgres {
		var one int
		if err := s.wdb.QueryRowContext(ctx, "SELECT 1").Scan(&one); err != nil {
			return fmt.Errorf("check %s: %w", s.location, err)
		}
		return nil
	}
	rows, err := s.rdb.QueryContext(ctx, "PRAGMA integrity_check") // a reader: writes go on meanwhile
	if err != nil {
		return fmt.Errorf("check integrity of %s: %w", s.location, err)
	}
	defer rows.Close()
	var problems []string
	for rows.Next() {
		var line string
		if err := rows.Scan(&line); err != nil {
			return fmt.Errorf("check integrity of %s: %w", s.location, err)
		}
		problems = append(problems, line)
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("check integrity of %s: %w", s.location, err)
	}
	if len(problems) != 1 || problems[0] != "ok" {
		return fmt.Errorf("check integrity of %s: %s", s.location, strings.Join(problems, "; "))
	}
	return nil
}

// DurabilitySettings reads the settings that make a commit durable from a
// live writer connection: on SQLite "synchronous" (2 is FULL) and
// "journal_mode"; on PostgreSQL "synchronous_commit", "fsync" and
// "full_page_writes".
func (s *Store) DurabilitySettings(ctx context.Context) (map[string]string, error) {
	var queries map[string]string
	if s.dialect == dialectSQLite {
		queries = map[string]string{
			"synchronous":  "PRAGMA synchronous",
			"journal_mode": "PRAGMA journal_mode",
			"foreign_keys": "PRAGMA foreign_keys",
		}
	} else {
		queries = map[string]string{
			"synchronous_commit": "SHOW synchronous_commit",
			"fsync":              "SHOW fsync",
			"full_page_writes":   "SHOW full_page_writes",
		}
	}
	out := make(map[string]string, len(queries))
	for name, q := range queries {
		var v string
		if err := s.wdb.QueryRowContext(ctx, q).Scan(&v); err != nil {
			return nil, fmt.Errorf("read %s of %s: %w", name, s.location, err)
		}
		out[name] = strings.ToLower(v)
	}
	return out, nil
}
