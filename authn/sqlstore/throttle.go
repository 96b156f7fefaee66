package sqlstore

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/keyhall/keyhall/authn"
)

// sqlHitThrottle counts one attempt and returns the count, in one atomic
// statement: $2 is now, $3 is now minus the window; a window that started at
// or before $3 is over, and the attempt starts a new one at 1.
const sqlHitThrottle = `INSERT INTO throttle (key, hits, window_start) VALUES ($1, 1, $2)
	ON CONFLICT (key) DO UPDATE SET
		hits = CASE WHEN throttle.window_start <= $3 THEN 1 ELSE throttle.hits + 1 END,
		window_start = CASE WHEN throttle.window_start <= $3 THEN $2 ELSE throttle.window_start END
	RETURNING hits`

// sqlUndoThrottle takes back one hit, never below 0.
const sqlUndoThrottle = "UPDATE throttle SET hits = hits - 1 WHERE key = $1 AND hits > 0"

// HitThrottle counts one attempt under key and returns the count in the
// current window, this attempt included. On SQLite it goes through the
// batcher; on PostgreSQL it is one statement of its own.
func (s *Store) HitThrottle(ctx context.Context, key string, now time.Time, window time.Duration) (int, error) {
	args := []any{key, s.tv(now), s.tv(now.Add(-window))}
	var n int
	var err error
	if s.dialect == dialectPostgres {
		err = s.stmt.hitThrottle.QueryRowContext(ctx, args...).Scan(&n)
	} else {
		err = s.batch.do(&writeOp{ctx: ctx, run: func(ctx context.Context, tx *sql.Tx) error {
			return tx.StmtContext(ctx, s.stmt.hitThrottle).QueryRowContext(ctx, args...).Scan(&n)
		}})
	}
	if err != nil {
		return 0, fmt.Errorf("hit throttle %q: %w", key, err)
	}
	return n, nil
}

// ThrottleCount returns the count in the current window without counting.
func (s *Store) ThrottleCount(ctx context.Context, key string, now time.Time, window time.Duration) (int, error) {
	var (
		n     int
		start time.Time
	)
	err := s.rdb.QueryRowContext(ctx, "SELECT hits, window_start FROM throttle WHERE key = $1", key).
		Scan(&n, timeCol{&start})
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return 0, nil
	case err != nil:
		return 0, fmt.Errorf("read throttle %q: %w", key, err)
	case !windowLive(start, now, window):
		return 0, nil
	}
	return n, nil
}

// ResetThrottle forgets the counter under key.
func (s *Store) ResetThrottle(ctx context.Context, key string) error {
	if _, err := s.wdb.ExecContext(ctx, "DELETE FROM throttle WHERE key = $1", key); err != nil {
		return fmt.Errorf("reset throttle %q: %w", key, err)
	}
	return nil
}

// ResetThrottlePrefix forgets every counter whose key begins with prefix.
func (s *Store) ResetThrottlePrefix(ctx context.Context, prefix string) error {
	q, args, err := s.throttlePrefixCond(prefix)
	if err != nil {
		return err
	}
	if _, err := s.wdb.ExecContext(ctx, "DELETE FROM throttle WHERE "+q, args...); err != nil {
		return fmt.Errorf("reset throttles %q…: %w", prefix, err)
	}
	return nil
}

// throttlePrefixCond is the condition "key begins with prefix", as a range
// of keys (key >= prefix AND key < the next string after every key with
// that prefix), not LIKE: no % or _ to escape, and SQLite's LIKE ignores
// case. PostgreSQL compares bytewise only under the "C" collation.
func (s *Store) throttlePrefixCond(prefix string) (string, []any, error) {
	r, size := utf8.DecodeLastRuneInString(prefix)
	if prefix == "" || r == utf8.RuneError || r == unicode.MaxRune {
		return "", nil, fmt.Errorf("reset throttles: unusable key prefix %q", prefix)
	}
	next := r + 1
	if next == 0xD800 { // surrogates are no runes
		next = 0xE000
	}
	end := prefix[:len(prefix)-size] + string(next)
	if s.dialect == dialectPostgres {
		return `key COLLATE "C" >= $1 AND key COLLATE "C" < $2`, []any{prefix, end}, nil
	}
	return "key >= $1 AND key < $2", []any{prefix, end}, nil
}

// PurgeThrottles deletes up to limit counters whose window started before
// before; the key is the primary key, so one batch is one short write.
func (s *Store) PurgeThrottles(ctx context.Context, before time.Time, limit int) (int, error) {
	n, err := s.execRetry(ctx, `DELETE FROM throttle WHERE key IN
		(SELECT key FROM throttle WHERE window_start < $1 ORDER BY key LIMIT $2)`, s.tv(before), limit)
	if err != nil {
		return 0, fmt.Errorf("purge throttles: %w", err)
	}
	return n, nil
}

// UndoThrottle takes back one hit under key (never below 0). On SQLite it
// goes through the batcher; on PostgreSQL it is one statement of its own.
func (s *Store) UndoThrottle(ctx context.Context, key string) error {
	var err error
	if s.dialect == dialectPostgres {
		_, err = s.stmt.undoThrottle.ExecContext(ctx, key)
	} else {
		err = s.batch.do(&writeOp{ctx: ctx, run: func(ctx context.Context, tx *sql.Tx) error {
			_, err := tx.StmtContext(ctx, s.stmt.undoThrottle).ExecContext(ctx, key)
			return err
		}})
	}
	if err != nil {
		return fmt.Errorf("undo throttle %q: %w", key, err)
	}
	return nil
}

// maxHitBatch is how many keys sqlHitThrottles counts in one statement.
const maxHitBatch = 6

// sqlHitThrottles is sqlHitThrottle for n distinct keys in one statement:
// $1 is now; key i is $(2i+2), the start of its window $(2i+3). It returns
// each key with its count. PostgreSQL inserts in the order of the keys, so
// that two such statements never wait for each other.
func sqlHitThrottles(dialect string, n int) string {
	vals := make([]string, n)
	now, cast := "$1", func(p int, typ string) string { return fmt.Sprintf("$%d", p) }
	if dialect == dialectPostgres {
		now, cast = "$1::timestamptz", func(p int, typ string) string { return fmt.Sprintf("$%d::%s", p, typ) }
	}
	for i := range vals {
		vals[i] = "(" + cast(2*i+2, "text") + ", " + cast(2*i+3, "timestamptz") + ")"
	}
	since := "(SELECT since FROM v WHERE v.k = excluded.key)"
	return "WITH v(k, since) AS (VALUES " + strings.Join(vals, ", ") + `)
	INSERT INTO throttle (key, hits, window_start) SELECT k, 1, ` + now + ` FROM v WHERE true ORDER BY k
	ON CONFLICT (key) DO UPDATE SET
		hits = CASE WHEN throttle.window_start <= ` + since + ` THEN 1 ELSE throttle.hits + 1 END,
		window_start = CASE WHEN throttle.window_start <= ` + since + ` THEN excluded.window_start ELSE throttle.window_start END
	RETURNING key, hits`
}

// HitThrottles counts one attempt under each key and returns the counts in
// the order of keys, in one transaction: on SQLite one op of the batcher,
// on PostgreSQL a transaction that takes the rows in the order of their
// keys, so that two of them never wait for each other. Distinct keys are
// counted maxHitBatch to a statement.
func (s *Store) HitThrottles(ctx context.Context, keys []authn.ThrottleKey, now time.Time) ([]int, error) {
	counts := make([]int, len(keys))
	err := s.throttleTx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		return s.hitThrottlesTx(ctx, tx, keys, now, counts)
	})
	if err != nil {
		return nil, fmt.Errorf("hit throttles: %w", err)
	}
	return counts, nil
}

// hitThrottlesTx counts one attempt under each key in tx, into counts (in
// the order of keys), taking the rows in the order of their keys.
func (s *Store) hitThrottlesTx(ctx context.Context, tx *sql.Tx, keys []authn.ThrottleKey, now time.Time, counts []int) error {
	order := make([]int, len(keys)) // indexes of keys, by key
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int { return cmp.Compare(keys[a].Key, keys[b].Key) })
	distinct := true
	for j := 1; j < len(order); j++ {
		distinct = distinct && keys[order[j-1]].Key != keys[order[j]].Key
	}
	if !distinct { // a key twice: one statement each, in order
		st := tx.StmtContext(ctx, s.stmt.hitThrottle)
		for _, i := range order {
			k := keys[i]
			if err := st.QueryRowContext(ctx, k.Key, s.tv(now), s.tv(now.Add(-k.Window))).Scan(&counts[i]); err != nil {
				return fmt.Errorf("%q: %w", k.Key, err)
			}
		}
		return nil
	}
	for lo := 0; lo < len(order); lo += maxHitBatch {
		if err := s.hitBatch(ctx, tx, keys, order[lo:min(lo+maxHitBatch, len(order))], now, counts); err != nil {
			return err
		}
	}
	return nil
}

// sqlThrottleCounts reads the counters under up to maxHitBatch keys (fewer
// are padded with the last).
const sqlThrottleCounts = "SELECT key, hits, window_start FROM throttle WHERE key IN ($1, $2, $3, $4, $5, $6)"

// overLimit reads the counters of limits in tx and returns the longest
// window whose count, with one more try, would be over its limit: 0 when
// the try may go ahead. In a transaction of the single writer no other
// write comes between this read and what the caller writes next.
func (s *Store) overLimit(ctx context.Context, tx *sql.Tx, limits []authn.ThrottleLimit, now time.Time) (time.Duration, error) {
	var wait time.Duration
	stmt := tx.StmtContext(ctx, s.stmt.throttleCounts)
	args := make([]any, maxHitBatch)
	for lo := 0; lo < len(limits); lo += maxHitBatch {
		chunk := limits[lo:min(lo+maxHitBatch, len(limits))]
		for i := range args {
			args[i] = chunk[min(i, len(chunk)-1)].Key
		}
		rows, err := stmt.QueryContext(ctx, args...)
		if err != nil {
			return 0, err
		}
		for rows.Next() {
			var (
				key   string
				hits  int
				start time.Time
			)
			if err := rows.Scan(&key, &hits, timeCol{&start}); err != nil {
				rows.Close()
				return 0, err
			}
			for _, l := range chunk {
				if l.Key == key && windowLive(start, now, l.Window) && hits+1 > l.Limit {
					wait = max(wait, l.Window)
				}
			}
		}
		if err := rows.Close(); err != nil {
			return 0, err
		}
		if err := rows.Err(); err != nil {
			return 0, err
		}
	}
	return wait, nil
}

// windowLive reports whether a counter whose window started at start still
// counts at now (as sqlHitThrottle decides: a window that started at or
// before now minus its length is over).
func windowLive(start, now time.Time, window time.Duration) bool {
	return start.After(now.Add(-window).Truncate(time.Microsecond))
}

// hitBatch counts one attempt under keys[i] for each i of batch (distinct
// keys) in one statement, into counts[i].
func (s *Store) hitBatch(ctx context.Context, tx *sql.Tx, keys []authn.ThrottleKey, batch []int, now time.Time, counts []int) error {
	args := []any{s.tv(now)}
	at := make(map[string]int, len(batch))
	for _, i := range batch {
		args = append(args, keys[i].Key, s.tv(now.Add(-keys[i].Window)))
		at[keys[i].Key] = i
	}
	rows, err := tx.StmtContext(ctx, s.stmt.hitThrottles[len(batch)-1]).QueryContext(ctx, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	got := 0
	for rows.Next() {
		var (
			key string
			n   int
		)
		if err := rows.Scan(&key, &n); err != nil {
			return err
		}
		i, ok := at[key]
		if !ok {
			return fmt.Errorf("counted a key not asked for: %q", key)
		}
		counts[i] = n
		got++
	}
	if err := rows.Err(); err != nil {
		return err
	}
	if got != len(batch) {
		return fmt.Errorf("counted %d of %d keys", got, len(batch))
	}
	return nil
}

// UndoThrottles takes back one hit under each key (never below 0), in one
// transaction, taking the rows in the order of their keys.
func (s *Store) UndoThrottles(ctx context.Context, keys []string) error {
	sorted := slices.Sorted(slices.Values(keys))
	err := s.throttleTx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		st := tx.StmtContext(ctx, s.stmt.undoThrottle)
		for _, k := range sorted {
			if _, err := st.ExecContext(ctx, k); err != nil {
				return fmt.Errorf("%q: %w", k, err)
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("undo throttles: %w", err)
	}
	return nil
}

// throttleTx runs fn in one transaction: on SQLite as an op of the
// batcher, on PostgreSQL in a transaction of its own.
func (s *Store) throttleTx(ctx context.Context, fn func(ctx context.Context, tx *sql.Tx) error) error {
	if s.dialect != dialectPostgres {
		return s.batch.do(&writeOp{ctx: ctx, run: fn})
	}
	tx, err := s.wdb.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if err := fn(ctx, tx); err != nil {
		return err
	}
	return tx.Commit()
}
