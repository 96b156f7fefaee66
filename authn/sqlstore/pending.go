package sqlstore

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/keyhall/keyhall/authn"
)

const pendingData = "user_id, username, amr, ceremony, next, recovery_only, return_to, created_at, expires_at"

// The pending sign-in statements, prepared at Open. Taking is one DELETE …
// RETURNING, so of many concurrent takes exactly one gets the row.
const (
	sqlPutPending = "INSERT INTO pending_signins (hash, " + pendingData + `)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT (hash) DO NOTHING`
	sqlTakePending  = "DELETE FROM pending_signins WHERE hash = $1 RETURNING " + pendingData
	sqlPurgePending = "DELETE FROM pending_signins WHERE expires_at < $1"
	sqlGetPending   = "SELECT " + pendingData + " FROM pending_signins WHERE hash = $1"
	// sqlDropPending takes a pending sign-in that has not expired.
	sqlDropPending = "DELETE FROM pending_signins WHERE hash = $1 AND expires_at > $2"
)

// purgeEvery: every so many PutPending calls also delete the pending
// sign-ins that expired more than purgeAfter ago (abandoned ones).
const (
	purgeEvery = 256
	purgeAfter = time.Hour
)

// PutPending stores p through the batcher.
func (s *Store) PutPending(ctx context.Context, p authn.Pending) error {
	insert, err := s.insertPending(p)
	if err == nil {
		err = s.batch.do(&writeOp{ctx: ctx, run: func(ctx context.Context, tx *sql.Tx) error {
			err := insert(ctx, tx)
			if errors.Is(err, authn.ErrAlreadyExists) {
				return soft(err)
			}
			return err
		}, onCommit: func() { s.pending.put(p) }})
	}
	if err != nil {
		return fmt.Errorf("put pending sign-in: %w", dbErr(err))
	}
	return nil
}

// insertPending checks p and returns the write that stores it (and, every
// purgeEvery calls, deletes the abandoned pending sign-ins first). The write
// returns authn.ErrAlreadyExists, unwrapped, if p's hash is taken.
func (s *Store) insertPending(p authn.Pending) (func(ctx context.Context, tx *sql.Tx) error, error) {
	for _, m := range p.AMR {
		if m == "" || strings.ContainsAny(m, " \t\n") {
			return nil, fmt.Errorf("amr value %q is not an RFC 8176 method name", m)
		}
	}
	args := s.pendingArgs(p)
	purge := s.puts.Add(1)%purgeEvery == 0
	return func(ctx context.Context, tx *sql.Tx) error {
		if purge {
			if _, err := tx.StmtContext(ctx, s.stmt.purgePending).ExecContext(ctx, s.tv(p.CreatedAt.Add(-purgeAfter))); err != nil {
				return err
			}
		}
		res, err := tx.StmtContext(ctx, s.stmt.putPending).ExecContext(ctx, args...)
		if err != nil {
			return err
		}
		if n, err := rowsAffected(res); err != nil || n == 0 {
			return cmp.Or(err, authn.ErrAlreadyExists)
		}
		return nil
	}, nil
}

// pendingArgs are the arguments of sqlPutPending for p.
func (s *Store) pendingArgs(p authn.Pending) []any {
	return []any{p.Hash[:], p.UserID, p.Username, strings.Join(p.AMR, " "), nullBytes(p.Ceremony), p.Next,
		p.RecoveryOnly, p.ReturnTo, s.tv(p.CreatedAt), s.tv(p.ExpiresAt)}
}

// GetPending returns the pending sign-in with hash h without taking it:
// from memory if this process stored it, else from a reader.
func (s *Store) GetPending(ctx context.Context, h authn.PendingHash, now time.Time) (authn.Pending, error) {
	if p, ok := s.pending.get(h, now); ok {
		return p, nil
	}
	p := authn.Pending{Hash: h}
	if err := scanPending(s.stmt.getPending.QueryRowContext(ctx, h[:]), &p); err != nil {
		return authn.Pending{}, fmt.Errorf("get pending sign-in: %w", dbErr(err))
	}
	if !now.Before(p.ExpiresAt) {
		return authn.Pending{}, fmt.Errorf("get pending sign-in: %w", authn.ErrExpired)
	}
	return p, nil
}

// ReplacePending takes the pending sign-in old, if it has not expired at
// now, and stores p, as one op of the batcher: one write and one commit
// for a step that leads to the next.
func (s *Store) ReplacePending(ctx context.Context, old authn.PendingHash, now time.Time, p authn.Pending) error {
	insert, err := s.insertPending(p)
	if err == nil {
		s.pending.drop(old)
		err = s.batch.do(&writeOp{ctx: ctx, onCommit: func() { s.pending.put(p) }, run: func(ctx context.Context, tx *sql.Tx) error {
			res, err := tx.StmtContext(ctx, s.stmt.dropPending).ExecContext(ctx, old[:], s.tv(now))
			if err != nil {
				return err
			}
			if n, err := rowsAffected(res); err != nil || n == 0 {
				return cmp.Or(err, soft(authn.ErrNotFound)) // nothing changed
			}
			// A taken hash (of 256 random bits) fails the op, so the take
			// above is rolled back too.
			return insert(ctx, tx)
		}})
	}
	if err != nil {
		return fmt.Errorf("replace pending sign-in: %w", dbErr(err))
	}
	return nil
}

// scanPending reads one row of pendingData into p.
func scanPending(row interface{ Scan(...any) error }, p *authn.Pending) error {
	var amr string
	err := row.Scan(&p.UserID, &p.Username, &amr, &p.Ceremony, &p.Next, &p.RecoveryOnly, &p.ReturnTo,
		timeCol{&p.CreatedAt}, timeCol{&p.ExpiresAt})
	if amr != "" {
		p.AMR = strings.Split(amr, " ")
	}
	return err
}

// TakePending deletes and returns the pending sign-in with hash h, through
// the batcher; ErrExpired (after deleting it) if now is not before its
// expiry.
func (s *Store) TakePending(ctx context.Context, h authn.PendingHash, now time.Time) (authn.Pending, error) {
	p := authn.Pending{Hash: h}
	var amr string
	s.pending.drop(h)
	err := s.batch.do(&writeOp{ctx: ctx, run: func(ctx context.Context, tx *sql.Tx) error {
		err := tx.StmtContext(ctx, s.stmt.takePending).QueryRowContext(ctx, h[:]).Scan(&p.UserID, &p.Username,
			&amr, &p.Ceremony, &p.Next, &p.RecoveryOnly, &p.ReturnTo, timeCol{&p.CreatedAt}, timeCol{&p.ExpiresAt})
		if errors.Is(err, sql.ErrNoRows) {
			return soft(authn.ErrNotFound)
		}
		return err
	}})
	if err != nil {
		return authn.Pending{}, fmt.Errorf("take pending sign-in: %w", err)
	}
	if amr != "" {
		p.AMR = strings.Split(amr, " ")
	}
	if !now.Before(p.ExpiresAt) {
		return authn.Pending{}, fmt.Errorf("take pending sign-in: %w", authn.ErrExpired)
	}
	return p, nil
}
