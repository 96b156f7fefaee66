package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/keyhall/keyhall/authn"
)

var _ authn.EmailStore = (*Store)(nil)

// CreateEmailConfirmation stores c with ev.
func (s *Store) CreateEmailConfirmation(ctx context.Context, c authn.EmailConfirmation, ev authn.AuditEvent) error {
	err := s.adminTx(ctx, ev, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO email_confirmations
			(token_hash, user_id, email, created_at, expires_at, used_at) VALUES ($1, $2, $3, $4, $5, $6)`,
			c.TokenHash[:], c.UserID, c.Email, s.tv(c.CreatedAt), s.tv(c.ExpiresAt), s.tvNull(c.UsedAt))
		return dbErr(err)
	})
	if err != nil {
		return fmt.Errorf("create e-mail confirmation for user %s: %w", c.UserID, err)
	}
	return nil
}

// ConfirmEmail marks the confirmation used in one conditional statement
// (a second read tells why it changed nothing), then records its address
// as verified if it is still the person's, all in one transaction with ev
// (whose Subject, if empty, becomes the person).
func (s *Store) ConfirmEmail(ctx context.Context, h authn.TokenHash, now time.Time, ev authn.AuditEvent) (authn.User, error) {
	u, err := s.confirmEmail(ctx, h, now, ev)
	if err != nil {
		return authn.User{}, fmt.Errorf("confirm e-mail: %w", err)
	}
	return normUser(u), nil
}

func (s *Store) confirmEmail(ctx context.Context, h authn.TokenHash, now time.Time, ev authn.AuditEvent) (authn.User, error) {
	tx, err := s.wdb.BeginTx(ctx, nil)
	if err != nil {
		return authn.User{}, err
	}
	defer tx.Rollback()
	if err := s.lockAuditHead(ctx, tx); err != nil {
		return authn.User{}, err
	}
	var userID, email string
	err = tx.QueryRowContext(ctx, `UPDATE email_confirmations SET used_at = $2
		WHERE token_hash = $1 AND used_at IS NULL AND expires_at > $2 RETURNING user_id, email`,
		h[:], s.tv(now)).Scan(&userID, &email)
	if errors.Is(err, sql.ErrNoRows) {
		return authn.User{}, s.whyNotConfirmed(ctx, tx, h)
	}
	if err != nil {
		return authn.User{}, err
	}
	res, err := tx.ExecContext(ctx, `UPDATE users SET verified_email = $2 WHERE id = $1 AND email = $2`, userID, email)
	if err != nil {
		return authn.User{}, err
	}
	if n, err := rowsAffected(res); err != nil || n != 1 {
		return authn.User{}, cmpErr(err, authn.ErrEmailChanged)
	}
	u, err := scanUser(tx.QueryRowContext(ctx, "SELECT "+userCols+" FROM users WHERE id = $1", userID))
	if err != nil {
		return authn.User{}, dbErr(err)
	}
	if ev.Subject == "" {
		ev.Subject = "user:" + userID
	}
	if err := s.appendAudit(ctx, tx, ev); err != nil {
		return authn.User{}, err
	}
	return u, tx.Commit()
}

// whyNotConfirmed tells why the confirmation with hash h could not be used.
func (s *Store) whyNotConfirmed(ctx context.Context, tx *sql.Tx, h authn.TokenHash) error {
	var used time.Time
	err := tx.QueryRowContext(ctx, `SELECT used_at FROM email_confirmations WHERE token_hash = $1`, h[:]).Scan(timeCol{&used})
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return authn.ErrNotFound
	case err != nil:
		return err
	case !used.IsZero():
		return authn.ErrUsed
	}
	return authn.ErrExpired
}

// cmpErr returns err, or alt when err is nil.
func cmpErr(err, alt error) error {
	if err != nil {
		return err
	}
	return alt
}
