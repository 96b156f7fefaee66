package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/keyhall/keyhall/authn"
)

// ReplaceRecoveryCodes replaces every recovery code of a person with hashes,
// in one transaction with ev.
func (s *Store) ReplaceRecoveryCodes(ctx context.Context, userID string, hashes []authn.TokenHash, ev authn.AuditEvent) error {
	err := s.adminTx(ctx, ev, func(tx *sql.Tx) error { return s.replaceRecoveryCodesTx(ctx, tx, userID, hashes) })
	if err != nil {
		return fmt.Errorf("replace recovery codes of user %s: %w", userID, err)
	}
	return nil
}

// replaceRecoveryCodesTx replaces the person's recovery codes in tx;
// ErrNotFound if she does not exist.
func (s *Store) replaceRecoveryCodesTx(ctx context.Context, tx *sql.Tx, userID string, hashes []authn.TokenHash) error {
	var exists bool
	if err := tx.QueryRowContext(ctx, "SELECT EXISTS (SELECT 1 FROM users WHERE id = $1)", userID).Scan(&exists); err != nil {
		return err
	}
	if !exists {
		return authn.ErrNotFound
	}
	// The codes a pending recovery by e-mail holds stay until it is
	// finished (review of #15): with them she signs in to cancel.
	if _, err := tx.ExecContext(ctx, `DELETE FROM recovery_codes WHERE user_id = $1 AND hash NOT IN (
		SELECT k.hash FROM recovery_kept_codes k JOIN recoveries r ON r.id = k.recovery_id
		WHERE r.user_id = $1 AND r.started_at IS NOT NULL AND r.ended_at IS NULL)`, userID); err != nil {
		return err
	}
	for _, h := range hashes {
		_, err := tx.ExecContext(ctx, "INSERT INTO recovery_codes (user_id, hash) VALUES ($1, $2)", userID, h[:])
		if err != nil {
			return dbErr(err)
		}
	}
	return nil
}

// UseRecoveryCode marks one unused code used, in one conditional statement:
// of many concurrent calls exactly one changes the row.
func (s *Store) UseRecoveryCode(ctx context.Context, userID string, h authn.TokenHash, at time.Time, ev authn.AuditEvent) error {
	err := s.auditedExec(ctx, ev, sqlUseRecoveryCode, userID, h[:], s.tv(at))
	if err != nil {
		return fmt.Errorf("use recovery code of user %s: %w", userID, err)
	}
	return nil
}

// sqlUseRecoveryCode marks one unused code used: of many concurrent
// statements exactly one changes the row.
const sqlUseRecoveryCode = `UPDATE recovery_codes SET used_at = $3
			WHERE user_id = $1 AND hash = $2 AND used_at IS NULL`

// HasRecoveryCode reports whether the person has an unused code with hash
// h.
func (s *Store) HasRecoveryCode(ctx context.Context, userID string, h authn.TokenHash) (bool, error) {
	var ok bool
	err := s.rdb.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM recovery_codes
			WHERE user_id = $1 AND hash = $2 AND used_at IS NULL)`, userID, h[:]).Scan(&ok)
	if err != nil {
		return false, fmt.Errorf("look up recovery code of user %s: %w", userID, err)
	}
	return ok, nil
}

// CountRecoveryCodes returns how many unused codes a person has.
func (s *Store) CountRecoveryCodes(ctx context.Context, userID string) (int, error) {
	var n int
	err := s.stmt.countRecovery.QueryRowContext(ctx, userID).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("count recovery codes of user %s: %w", userID, err)
	}
	return n, nil
}

const sqlCountRecovery = "SELECT COUNT(*) FROM recovery_codes WHERE user_id = $1 AND used_at IS NULL"

// SetPasswordHash stores a person's local password hash, with ev.
func (s *Store) SetPasswordHash(ctx context.Context, userID, phc string, ev authn.AuditEvent) error {
	at := ev.Time
	if at.IsZero() {
		at = time.Now()
	}
	err := s.adminTx(ctx, ev, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO passwords (user_id, phc, updated_at) VALUES ($1, $2, $3)
			ON CONFLICT (user_id) DO UPDATE SET phc = excluded.phc, updated_at = excluded.updated_at`,
			userID, phc, s.tv(at))
		return dbErr(err)
	})
	if err != nil {
		return fmt.Errorf("set password of user %s: %w", userID, err)
	}
	return nil
}

// GetPasswordHash returns a person's local password hash.
func (s *Store) GetPasswordHash(ctx context.Context, userID string) (string, error) {
	var phc string
	err := s.rdb.QueryRowContext(ctx, "SELECT phc FROM passwords WHERE user_id = $1", userID).Scan(&phc)
	if err != nil {
		return "", fmt.Errorf("get password of user %s: %w", userID, dbErr(err))
	}
	return phc, nil
}
