package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/keyhall/keyhall/authn"
)

var _ authn.DeskStore = (*Store)(nil)

const approvalCols = `id, user_id, requested_by, requester_id, requester_directory, requester_external, reason,
	check_method, check_text, delivery, validity_seconds, require_password, created_at, expires_at, decided_at,
	decided_by, decision, kind, role_group, role_add, role`

func scanApproval(row interface{ Scan(...any) error }) (authn.Approval, error) {
	var a authn.Approval
	var secs int64
	err := row.Scan(&a.ID, &a.UserID, &a.RequestedBy, &a.RequesterID, &a.RequesterDirectory, &a.RequesterExternal,
		&a.Reason, &a.CheckMethod, &a.CheckText, &a.Delivery, &secs, &a.RequirePassword,
		timeCol{&a.CreatedAt}, timeCol{&a.ExpiresAt}, timeCol{&a.DecidedAt}, &a.DecidedBy, &a.Decision,
		&a.Kind, &a.Group, &a.Add, &a.Role)
	a.Validity = time.Duration(secs) * time.Second
	return a, err
}

// approvalKind is k, ApprovalReset for "".
func approvalKind(k string) string {
	if k == "" {
		return authn.ApprovalReset
	}
	return k
}

// CreateApproval stores a with ev.
func (s *Store) CreateApproval(ctx context.Context, a authn.Approval, ev authn.AuditEvent) error {
	err := s.adminTx(ctx, ev, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, "INSERT INTO approvals ("+approvalCols+`)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21)`,
			a.ID, a.UserID, a.RequestedBy, a.RequesterID, a.RequesterDirectory, a.RequesterExternal, a.Reason,
			a.CheckMethod, a.CheckText, a.Delivery, int64(a.Validity/time.Second), a.RequirePassword,
			s.tv(a.CreatedAt), s.tv(a.ExpiresAt), s.tvNull(a.DecidedAt), a.DecidedBy, a.Decision,
			approvalKind(a.Kind), a.Group, a.Add, a.Role)
		return dbErr(err)
	})
	if err != nil {
		return fmt.Errorf("create approval for user %s: %w", a.UserID, err)
	}
	return nil
}

// GetApproval returns the approval id, decided or not.
func (s *Store) GetApproval(ctx context.Context, id string) (authn.Approval, error) {
	a, err := scanApproval(s.rdb.QueryRowContext(ctx, "SELECT "+approvalCols+" FROM approvals WHERE id = $1", id))
	if err != nil {
		return authn.Approval{}, fmt.Errorf("get approval %s: %w", id, dbErr(err))
	}
	return a, nil
}

// PendingApprovals lists the approvals neither decided nor expired at now,
// oldest first.
func (s *Store) PendingApprovals(ctx context.Context, now time.Time) ([]authn.Approval, error) {
	return queryAll(ctx, s, "list pending approvals", scanApproval, "SELECT "+approvalCols+` FROM approvals
		WHERE decided_at IS NULL AND expires_at > $1 ORDER BY created_at, id`, s.tv(now))
}

// DecideApproval records the decision in one conditional statement (a
// second read tells why it changed nothing), with ev, in one transaction.
func (s *Store) DecideApproval(ctx context.Context, id, by, decision string, now time.Time, ev authn.AuditEvent) (authn.Approval, error) {
	var a authn.Approval
	err := s.adminTx(ctx, ev, func(tx *sql.Tx) error {
		var err error
		a, err = scanApproval(tx.QueryRowContext(ctx, `UPDATE approvals SET decided_at = $2, decided_by = $3, decision = $4
			WHERE id = $1 AND decided_at IS NULL AND expires_at > $2 RETURNING `+approvalCols,
			id, s.tv(now), by, decision))
		if errors.Is(err, sql.ErrNoRows) {
			old, err := scanApproval(tx.QueryRowContext(ctx, "SELECT "+approvalCols+" FROM approvals WHERE id = $1", id))
			switch {
			case err != nil:
				return dbErr(err)
			case !old.DecidedAt.IsZero():
				return authn.ErrUsed
			}
			return authn.ErrExpired
		}
		return err
	})
	if err != nil {
		return authn.Approval{}, fmt.Errorf("decide approval %s: %w", id, err)
	}
	return a, nil
}

// EnableUser sets active a person an administrator disabled, in one
// conditional statement with ev; not one the directory disables too.
func (s *Store) EnableUser(ctx context.Context, id string, at time.Time, ev authn.AuditEvent) (bool, error) {
	err := s.adminTxEv(ctx, &ev, func(tx *sql.Tx) error {
		// Frozen again if she was: only an admin's unfreeze lifts that.
		res, err := tx.ExecContext(ctx, `UPDATE users SET status = CASE WHEN frozen_at IS NULL THEN $2 ELSE $6 END,
			disabled_by = '', disabled_at = NULL, updated_at = $4
			WHERE id = $1 AND status = $3 AND disabled_by = $5`,
			id, authn.StatusActive, authn.StatusDisabled, s.tv(at), authn.DisabledByAdmin, authn.StatusFrozen)
		if err != nil {
			return dbErr(err)
		}
		if n, err := rowsAffected(res); err != nil {
			return err
		} else if n == 1 {
			// Disabled before a disable cancelled it: her pending recovery
			// ends now, before the job could finish it.
			return s.cancelPendingRecoveryTx(ctx, tx, id, at, &ev)
		}
		var by string
		if err := tx.QueryRowContext(ctx, "SELECT disabled_by FROM users WHERE id = $1", id).Scan(&by); err != nil {
			return dbErr(err)
		}
		if by == authn.DisabledByAdminAndDirectory {
			return authn.ErrAccountDisabled // the directory's disable stays
		}
		return errUnchanged
	})
	switch {
	case errors.Is(err, errUnchanged):
		return false, nil
	case err != nil:
		return false, fmt.Errorf("enable user %s: %w", id, err)
	}
	if s.cache != nil {
		s.cache.dropUser(id)
	}
	return true, nil
}
