package sqlstore

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/keyhall/keyhall/authn"
)

// CompleteFactorStep stores a verified key or app step as one op of the
// batcher, in as few statements as it can (the single writer runs them all):
// it uses up the pending sign-in (one INSERT of its mark), moves the
// counter (one conditional UPDATE), inserts the session if the step ends
// the sign-in, and appends the audit events. The pending sign-in is used
// first, so that the loser of a race for it gets ErrUsed, never
// ErrNotForward (which would flag the key). A refusal is a soft result that
// leaves the batch's transaction usable and changed nothing: a counter that
// does not move deletes the mark again.
func (s *Store) CompleteFactorStep(ctx context.Context, st authn.FactorStep) error {
	if err := s.completeFactorStep(ctx, st); err != nil {
		return fmt.Errorf("complete sign-in step with credential %s: %w", st.Credential, dbErr(err))
	}
	return nil
}

func (s *Store) completeFactorStep(ctx context.Context, st authn.FactorStep) error {
	var update func(ctx context.Context, tx *sql.Tx) (sql.Result, error)
	stmt := func(st *sql.Stmt, args ...any) func(ctx context.Context, tx *sql.Tx) (sql.Result, error) {
		return func(ctx context.Context, tx *sql.Tx) (sql.Result, error) {
			return tx.StmtContext(ctx, st).ExecContext(ctx, args...)
		}
	}
	switch st.Kind {
	case authn.KindWebAuthn:
		update = stmt(s.stmt.recordKeyUse, st.Credential, int64(st.SignCount), s.tv(st.At))
	case authn.KindTOTP:
		update = stmt(s.stmt.acceptTOTPStep, st.Credential, st.TOTPStep, s.tv(st.At))
	case authn.KindRecoveryCode:
		update = func(ctx context.Context, tx *sql.Tx) (sql.Result, error) {
			return tx.ExecContext(ctx, sqlUseRecoveryCode, st.Credential, st.RecoveryCode[:], s.tv(st.At))
		}
	default:
		return fmt.Errorf("credential kind %q has no counter", st.Kind)
	}
	var writeSession func(ctx context.Context, tx *sql.Tx) error
	if st.Session != nil {
		args, err := s.sessionArgs(*st.Session)
		if err != nil {
			return err
		}
		writeSession = func(ctx context.Context, tx *sql.Tx) error {
			res, err := tx.StmtContext(ctx, s.stmt.createSession).ExecContext(ctx, args...)
			if err != nil {
				return err
			}
			if n, err := rowsAffected(res); err != nil || n == 0 {
				return cmp.Or(err, authn.ErrAlreadyExists) // fails the op: the take is rolled back
			}
			return nil
		}
	}
	pending := st.Pending
	tries := make([]authn.ThrottleKey, len(st.Throttle))
	for i, l := range st.Throttle {
		tries[i] = l.ThrottleKey
	}
	inTx := len(tries) > 0 && s.dialect != dialectPostgres
	var undoAfter []string
	if len(tries) > 0 && !inTx {
		if err := s.countTry(ctx, st.Throttle, st.At); err != nil {
			return err
		}
		for _, k := range tries {
			undoAfter = append(undoAfter, k.Key)
		}
	}
	use := s.usePending(pending, st.PendingExpires)
	step := func(ctx context.Context, tx *sql.Tx) error {
		// 1. Use up the pending sign-in (one INSERT: of concurrent steps
		// one gets it, and the others are told it was used, whatever their
		// counter).
		if err := use(ctx, tx); err != nil {
			return err
		}
		// 2. Move the counter in one conditional statement. If it does not
		// move, delete the mark again, so that the op changed nothing, and
		// tell why.
		res, err := update(ctx, tx)
		if err != nil {
			return err
		}
		if n, err := rowsAffected(res); err != nil || n != 1 {
			if err != nil {
				return err
			}
			if _, err := tx.StmtContext(ctx, s.stmt.unusePending).ExecContext(ctx, s.tv(st.PendingExpires), pending[:]); err != nil {
				return fmt.Errorf("unmark pending sign-in: %w", err)
			}
			if st.Kind == authn.KindRecoveryCode {
				return soft(authn.ErrNotFound) // no such unused code (any more)
			}
			var k authn.CredentialKind
			err = tx.StmtContext(ctx, s.stmt.credentialKind).QueryRowContext(ctx, st.Credential).Scan(&k)
			switch {
			case errors.Is(err, sql.ErrNoRows) || (err == nil && k != st.Kind):
				return soft(authn.ErrNotFound)
			case err != nil:
				return err
			}
			return soft(authn.ErrNotForward)
		}
		// 3. The session, the audit events.
		if writeSession != nil {
			if err := writeSession(ctx, tx); err != nil {
				return err
			}
		}
		return s.appendAudit(ctx, tx, st.Audit...)
	}
	err := s.batch.do(&writeOp{ctx: ctx, head: len(st.Audit) > 0, run: func(ctx context.Context, tx *sql.Tx) error {
		if !inTx {
			return step(ctx, tx)
		}
		// 0. The counters: over a limit, the try is counted and refused.
		wait, err := s.overLimit(ctx, tx, st.Throttle, st.At)
		if err != nil {
			return err
		}
		if wait > 0 {
			if err := s.hitThrottlesTx(ctx, tx, tries, st.At, make([]int, len(tries))); err != nil {
				return err
			}
			return soft(&authn.ThrottledError{Wait: wait})
		}
		// A step refused in the store counts as a failed try.
		err = step(ctx, tx)
		if _, refused := errors.AsType[softError](err); refused {
			if herr := s.hitThrottlesTx(ctx, tx, tries, st.At, make([]int, len(tries))); herr != nil {
				return herr
			}
		}
		return err
	}})
	if err == nil && len(undoAfter) > 0 {
		if uerr := s.UndoThrottles(ctx, undoAfter); uerr != nil {
			s.log.Warn("could not take back a right answer's try", "err", uerr)
		}
	}
	return err
}

// countTry counts one try under each counter of limits in a transaction of
// its own, and returns a *authn.ThrottledError if any is then over its limit.
func (s *Store) countTry(ctx context.Context, limits []authn.ThrottleLimit, now time.Time) error {
	keys := make([]authn.ThrottleKey, len(limits))
	for i, l := range limits {
		keys[i] = l.ThrottleKey
	}
	counts, err := s.HitThrottles(ctx, keys, now)
	if err != nil {
		return err
	}
	var wait time.Duration
	for i, l := range limits {
		if counts[i] > l.Limit {
			wait = max(wait, l.Window)
		}
	}
	if wait > 0 {
		return &authn.ThrottledError{Wait: wait}
	}
	return nil
}
