package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/keyhall/keyhall/authn"
)

// The statements of used pending sign-ins, prepared at Open. A pending
// sign-in is used with one INSERT … ON CONFLICT DO NOTHING, so of many
// concurrent uses exactly one inserts the mark.
const (
	sqlUsePending   = "INSERT INTO used_pendings (expires_at, hash) VALUES ($1, $2) ON CONFLICT DO NOTHING"
	sqlUnusePending = "DELETE FROM used_pendings WHERE expires_at = $1 AND hash = $2"
	sqlPurgeUsed    = "DELETE FROM used_pendings WHERE expires_at < $1"
)

// purgeEvery: every so many uses also delete the marks that expired more
// than purgeAfter before (a margin for clocks that differ between
// processes: a mark must outlive every process's acceptance of its id).
const (
	purgeEvery = 1024
	purgeAfter = time.Hour
)

// UsePending marks the pending sign-in h used, as one op of the batcher.
func (s *Store) UsePending(ctx context.Context, h authn.PendingHash, expires time.Time) error {
	if err := s.batch.do(&writeOp{ctx: ctx, run: s.usePending(h, expires)}); err != nil {
		return fmt.Errorf("use pending sign-in: %w", dbErr(err))
	}
	return nil
}

// usePending returns the write that marks h used, or soft authn.ErrUsed if
// it was (and, every purgeEvery calls, first deletes the old marks).
func (s *Store) usePending(h authn.PendingHash, expires time.Time) func(ctx context.Context, tx *sql.Tx) error {
	purge := s.purgeTick.Add(1)%purgeEvery == 0
	return func(ctx context.Context, tx *sql.Tx) error {
		if purge {
			if _, err := tx.StmtContext(ctx, s.stmt.purgeUsed).ExecContext(ctx, s.tv(expires.Add(-authn.PendingLifetime-purgeAfter))); err != nil {
				return err
			}
		}
		res, err := tx.StmtContext(ctx, s.stmt.usePending).ExecContext(ctx, s.tv(expires), h[:])
		if err != nil {
			return err
		}
		if n, err := rowsAffected(res); err != nil || n == 0 {
			if err != nil {
				return err
			}
			return soft(authn.ErrUsed)
		}
		return nil
	}
}
