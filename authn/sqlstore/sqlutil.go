package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/keyhall/keyhall/authn"
)

// Dialect names, as Store.Dialect reports them.
const (
	dialectSQLite   = "sqlite"
	dialectPostgres = "postgres"
)

// tv returns t as a query argument: microseconds since the epoch on SQLite,
// a UTC time.Time truncated to the microsecond on PostgreSQL.
func (s *Store) tv(t time.Time) any {
	if s.dialect == dialectSQLite {
		return t.UnixMicro()
	}
	return t.UTC().Truncate(time.Microsecond)
}

// quick returns the context for the short statements of the hot paths
// (sign-in reads, the token endpoint, the batcher's transactions). On
// SQLite it is ctx without its cancellation: database/sql and the driver
// each start a goroutine per statement to watch a context that can end,
// which cost as much as a short statement itself; these statements are
// short, and their waits for a lock are bounded by busy_timeout. (A statement of a batch cut off
// because its caller left would also fail the whole batch, to be run
// again op by op.) On PostgreSQL, over a network, ctx stays as it is.
func (s *Store) quick(ctx context.Context) context.Context {
	if s.dialect == dialectSQLite {
		return context.WithoutCancel(ctx)
	}
	return ctx
}

// tvNull is tv, with NULL for the zero time.
func (s *Store) tvNull(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return s.tv(t)
}

// timeCol scans a time column of either dialect into *t: NULL is the zero
// time, an integer is microseconds since the epoch.
type timeCol struct{ t *time.Time }

// Scan implements sql.Scanner.
func (c timeCol) Scan(v any) error {
	switch x := v.(type) {
	case nil:
		*c.t = time.Time{}
	case int64:
		*c.t = time.UnixMicro(x).UTC()
	case time.Time:
		*c.t = x.UTC()
	default:
		return fmt.Errorf("scan time: unexpected %T", v)
	}
	return nil
}

// hashCol scans a 32-byte BLOB/BYTEA column into *h.
type hashCol struct{ h *[32]byte }

// Scan implements sql.Scanner.
func (c hashCol) Scan(v any) error {
	b, ok := v.([]byte)
	if !ok || len(b) != len(c.h) {
		return fmt.Errorf("scan hash: want %d bytes, got %T of length %d", len(c.h), v, len(b))
	}
	copy(c.h[:], b)
	return nil
}

// dbErr maps a driver error to the authn sentinels: a unique or primary key
// violation is ErrAlreadyExists, a foreign key violation (a row that refers
// to a missing one) is ErrNotFound, sql.ErrNoRows is ErrNotFound. The
// driver's error stays in the chain for the log. Other errors pass as is.
func dbErr(err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, sql.ErrNoRows) {
		return authn.ErrNotFound
	}
	var se *sqlite.Error
	if errors.As(err, &se) {
		switch se.Code() {
		case sqlite3.SQLITE_CONSTRAINT_UNIQUE, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY:
			return fmt.Errorf("%w: %w", authn.ErrAlreadyExists, err)
		case sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY:
			return fmt.Errorf("%w: %w", authn.ErrNotFound, err)
		}
		return err
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch pe.Code {
		case "23505": // unique_violation
			return fmt.Errorf("%w: %w", authn.ErrAlreadyExists, err)
		case "23503": // foreign_key_violation
			return fmt.Errorf("%w: %w", authn.ErrNotFound, err)
		}
	}
	return err
}

// rowsAffected returns how many rows res changed.
func rowsAffected(res sql.Result) (int, error) {
	n, err := res.RowsAffected()
	return int(n), err
}

// insertedOne is the outcome of an INSERT … ON CONFLICT DO NOTHING of one
// row that res and err answered: soft ErrAlreadyExists when the row was
// there already.
func insertedOne(res sql.Result, err error) error {
	if err != nil {
		return err
	}
	n, err := rowsAffected(res)
	if err == nil && n == 0 {
		return soft(authn.ErrAlreadyExists)
	}
	return err
}

// execRetry runs a multi-row write on the writer pool. On PostgreSQL two
// transactions that lock the same rows in different orders (this one and a
// batch touching sessions, say) can deadlock, and the server aborts one;
// when this one is aborted, it tries again, up to three times.
func (s *Store) execRetry(ctx context.Context, query string, args ...any) (int, error) {
	for attempt := 1; ; attempt++ {
		res, err := s.wdb.ExecContext(ctx, query, args...)
		var pe *pgconn.PgError
		if errors.As(err, &pe) && pe.Code == "40P01" && attempt < 3 { // deadlock_detected
			continue
		}
		if err != nil {
			return 0, err
		}
		return rowsAffected(res)
	}
}

// row is what a scan function reads one row from: *sql.Row or *sql.Rows.
type row = interface{ Scan(...any) error }

// queryAll runs q with args on the read pool and scans every row with
// scan, in order: an empty slice, not nil, when there is none. Errors
// begin with what ("list due recoveries").
func queryAll[T any](ctx context.Context, s *Store, what string, scan func(row) (T, error), q string, args ...any) ([]T, error) {
	rows, err := s.rdb.QueryContext(ctx, q, args...)
	return collect(what, scan, rows, err)
}

// collect scans every row of rows (the answer of a query that returned
// err) into a list, closing rows; queryAll's loop, for prepared
// statements.
func collect[T any](what string, scan func(row) (T, error), rows *sql.Rows, err error) ([]T, error) {
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	defer rows.Close()
	out := []T{}
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", what, err)
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	return out, nil
}
