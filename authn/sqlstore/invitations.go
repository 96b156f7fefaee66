package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/keyhall/keyhall/authn"
)

const invitationCols = "id, user_id, token_hash, purpose, created_by, created_at, expires_at, used_at, voided_at, require_password"

func scanInvitation(row interface{ Scan(...any) error }) (authn.Invitation, error) {
	var inv authn.Invitation
	err := row.Scan(&inv.ID, &inv.UserID, hashCol{(*[32]byte)(&inv.TokenHash)}, &inv.Purpose, &inv.CreatedBy,
		timeCol{&inv.CreatedAt}, timeCol{&inv.ExpiresAt}, timeCol{&inv.UsedAt}, timeCol{&inv.VoidedAt}, &inv.RequirePassword)
	return inv, err
}

// insertInvitation voids the person's open invitations, ends her
// enrollments in progress (a tab left open, even one whose invitation was
// used, adds nothing after a new letter), and stores inv.
func (s *Store) insertInvitation(ctx context.Context, tx *sql.Tx, inv authn.Invitation) error {
	voidAt := inv.CreatedAt
	if voidAt.IsZero() {
		voidAt = time.Now()
	}
	_, err := tx.ExecContext(ctx, `UPDATE invitations SET voided_at = $2
		WHERE user_id = $1 AND used_at IS NULL AND voided_at IS NULL`, inv.UserID, s.tv(voidAt))
	if err != nil {
		return fmt.Errorf("void older invitations: %w", err)
	}
	if _, err := tx.ExecContext(ctx, "DELETE FROM pending_enrollments WHERE user_id = $1", inv.UserID); err != nil {
		return fmt.Errorf("end enrollments in progress: %w", err)
	}
	_, err = tx.ExecContext(ctx, "INSERT INTO invitations ("+invitationCols+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
		inv.ID, inv.UserID, inv.TokenHash[:], inv.Purpose, inv.CreatedBy, s.tv(inv.CreatedAt),
		s.tv(inv.ExpiresAt), s.tvNull(inv.UsedAt), s.tvNull(inv.VoidedAt), inv.RequirePassword)
	return dbErr(err)
}

// CreateInvitation stores inv and voids every open invitation of the same
// person, in one transaction with ev.
func (s *Store) CreateInvitation(ctx context.Context, inv authn.Invitation, ev authn.AuditEvent) error {
	err := s.adminTx(ctx, ev, func(tx *sql.Tx) error { return s.insertInvitation(ctx, tx, inv) })
	if err != nil {
		return fmt.Errorf("create invitation for user %s: %w", inv.UserID, err)
	}
	return nil
}

// GetInvitation finds an invitation by token hash, whatever its state.
func (s *Store) GetInvitation(ctx context.Context, h authn.TokenHash) (authn.Invitation, error) {
	inv, err := scanInvitation(s.rdb.QueryRowContext(ctx,
		"SELECT "+invitationCols+" FROM invitations WHERE token_hash = $1", h[:]))
	if err != nil {
		return authn.Invitation{}, fmt.Errorf("get invitation: %w", dbErr(err))
	}
	return inv, nil
}

// LatestInvitation returns the person's newest invitation, whatever its
// state.
func (s *Store) LatestInvitation(ctx context.Context, userID string) (authn.Invitation, error) {
	inv, err := scanInvitation(s.rdb.QueryRowContext(ctx,
		"SELECT "+invitationCols+" FROM invitations WHERE user_id = $1 ORDER BY created_at DESC, id DESC LIMIT 1", userID))
	if err != nil {
		return authn.Invitation{}, fmt.Errorf("get latest invitation: %w", dbErr(err))
	}
	return inv, nil
}

// ConsumeInvitation marks the invitation used at now, in one conditional
// statement: of many concurrent calls exactly one changes the row. When none
// changes, a second read tells why.
func (s *Store) ConsumeInvitation(ctx context.Context, h authn.TokenHash, now time.Time) (authn.Invitation, error) {
	inv, err := scanInvitation(s.wdb.QueryRowContext(ctx, `UPDATE invitations SET used_at = $2
		WHERE token_hash = $1 AND used_at IS NULL AND voided_at IS NULL AND expires_at > $2
		RETURNING `+invitationCols, h[:], s.tv(now)))
	if err == nil {
		return inv, nil
	}
	if !errors.Is(err, sql.ErrNoRows) {
		return authn.Invitation{}, fmt.Errorf("consume invitation: %w", err)
	}
	inv, err = s.GetInvitation(ctx, h)
	switch {
	case err != nil:
		return authn.Invitation{}, fmt.Errorf("consume invitation: %w", err)
	case !inv.UsedAt.IsZero() || !inv.VoidedAt.IsZero():
		return authn.Invitation{}, fmt.Errorf("consume invitation: %w", authn.ErrUsed)
	}
	return authn.Invitation{}, fmt.Errorf("consume invitation: %w", authn.ErrExpired)
}

// Bootstrap, on a database without any person, creates admin, the group
// admins with admin in it, and inv, in one transaction with ev. Processes
// that call it at once take turns (PostgreSQL: an advisory lock; SQLite: the
// writer lock), so exactly one finds the database empty.
func (s *Store) Bootstrap(ctx context.Context, admin authn.User, admins authn.Group, inv authn.Invitation, ev authn.AuditEvent) (bool, error) {
	tx, err := s.wdb.BeginTx(ctx, nil)
	if err != nil {
		return false, fmt.Errorf("bootstrap: %w", err)
	}
	defer tx.Rollback()
	created, err := s.bootstrapTx(ctx, tx, admin, admins, inv, ev)
	if err != nil {
		return false, fmt.Errorf("bootstrap: %w", err)
	}
	if !created {
		return false, nil
	}
	if err := tx.Commit(); err != nil {
		return false, fmt.Errorf("bootstrap: commit: %w", err)
	}
	return true, nil
}

func (s *Store) bootstrapTx(ctx context.Context, tx *sql.Tx, admin authn.User, admins authn.Group, inv authn.Invitation, ev authn.AuditEvent) (bool, error) {
	if s.dialect == dialectPostgres {
		if _, err := tx.ExecContext(ctx, "SELECT pg_advisory_xact_lock($1)", lockBootstrap); err != nil {
			return false, fmt.Errorf("lock: %w", err)
		}
	}
	if err := s.lockAuditHead(ctx, tx); err != nil {
		return false, err
	}
	var exists bool
	if err := tx.QueryRowContext(ctx, "SELECT EXISTS (SELECT 1 FROM users)").Scan(&exists); err != nil {
		return false, fmt.Errorf("count users: %w", err)
	}
	if exists {
		return false, nil
	}
	if err := s.insertUser(ctx, tx, admin); err != nil {
		return false, fmt.Errorf("create user %s: %w", admin.Username, err)
	}
	if err := s.insertGroup(ctx, tx, admins); err != nil {
		return false, fmt.Errorf("create group %s: %w", admins.Name, err)
	}
	_, err := tx.ExecContext(ctx, "INSERT INTO memberships (group_id, user_id) VALUES ($1, $2)", admins.ID, admin.ID)
	if err != nil {
		return false, fmt.Errorf("add user to group: %w", dbErr(err))
	}
	if err := s.insertInvitation(ctx, tx, inv); err != nil {
		return false, fmt.Errorf("create invitation: %w", err)
	}
	return true, s.appendAudit(ctx, tx, ev)
}
