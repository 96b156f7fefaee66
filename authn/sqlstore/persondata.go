package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/keyhall/keyhall/authn"
)

// ListUserOIDCTokens lists every OIDC token of the person, oldest first.
func (s *Store) ListUserOIDCTokens(ctx context.Context, userID string) ([]authn.OIDCToken, error) {
	return queryAll(ctx, s, "list oidc tokens of "+userID, scanToken,
		"SELECT "+tokenCols+" FROM oidc_tokens WHERE user_id = $1 ORDER BY created_at, id", userID)
}

// ListUserInvitations lists the person's invitations, oldest first.
func (s *Store) ListUserInvitations(ctx context.Context, userID string) ([]authn.Invitation, error) {
	return queryAll(ctx, s, "list invitations of "+userID, scanInvitation,
		"SELECT "+invitationCols+" FROM invitations WHERE user_id = $1 ORDER BY created_at, id", userID)
}

// ListPersonAudit lists the audit events that name u, by the condition the
// erasure redacts with (personAudit), in order of Seq.
func (s *Store) ListPersonAudit(ctx context.Context, u authn.User, afterSeq int64, limit int) ([]authn.AuditEvent, error) {
	if limit <= 0 {
		limit = 1000
	}
	cond, args, err := s.personAudit(u)
	if err != nil {
		return nil, fmt.Errorf("list audit events of %s: %w", u.ID, err)
	}
	args = append(args, afterSeq, limit)
	rows, err := s.rdb.QueryContext(ctx, fmt.Sprintf(`SELECT seq, time, actor, action, subject, reason, client_addr, details, prev_hash, hash, redacted
		FROM audit_events WHERE %s AND seq > $%d ORDER BY seq LIMIT $%d`, cond, len(args)-1, len(args)), args...)
	if err != nil {
		return nil, fmt.Errorf("list audit events of %s: %w", u.ID, err)
	}
	out, err := scanAudit(rows)
	if err != nil {
		return nil, fmt.Errorf("list audit events of %s: %w", u.ID, err)
	}
	if out == nil {
		out = []authn.AuditEvent{}
	}
	return out, nil
}

// ListEndedSessions lists the person's revoked or expired sessions, newest
// first.
func (s *Store) ListEndedSessions(ctx context.Context, userID string, now time.Time) ([]authn.Session, error) {
	rows, err := s.rdb.QueryContext(ctx, "SELECT "+sessionCols+` FROM sessions
		WHERE user_id = $1 AND (revoked_at IS NOT NULL OR expires_at <= $2)
		ORDER BY created_at DESC, hash`, userID, s.tv(now))
	if err != nil {
		return nil, fmt.Errorf("list ended sessions of %s: %w", userID, err)
	}
	defer rows.Close()
	out := []authn.Session{}
	for rows.Next() {
		sess, err := scanSession(rows)
		if err != nil {
			return nil, fmt.Errorf("list ended sessions of %s: %w", userID, err)
		}
		out = append(out, sess)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list ended sessions of %s: %w", userID, err)
	}
	return out, nil
}

// ListPersonRecords reads the person's registration, recoveries, notice
// of deletion, e-mail confirmations, notice letters and freeze links,
// without their hashes.
func (s *Store) ListPersonRecords(ctx context.Context, userID string) (authn.PersonRecords, error) {
	fail := func(err error) (authn.PersonRecords, error) {
		return authn.PersonRecords{}, fmt.Errorf("list records of %s: %w", userID, err)
	}
	out := authn.PersonRecords{Registration: authn.Registration{UserID: userID}}
	err := s.rdb.QueryRowContext(ctx, "SELECT email, created_at, finished_at FROM registrations WHERE user_id = $1", userID).
		Scan(&out.Registration.Email, timeCol{&out.Registration.CreatedAt}, timeCol{&out.Registration.FinishedAt})
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return fail(err)
	}
	err = s.rdb.QueryRowContext(ctx, "SELECT noticed_at FROM inactive_notices WHERE user_id = $1", userID).
		Scan(timeCol{&out.InactiveNotice})
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return fail(err)
	}
	if out.Recoveries, err = queryAll(ctx, s, "list recoveries", func(r row) (authn.Recovery, error) {
		x, err := scanRecovery(r)
		x.Link, x.Binding, x.Cancel = authn.TokenHash{}, authn.TokenHash{}, authn.TokenHash{}
		return x, err
	}, "SELECT "+recoveryCols+" FROM recoveries WHERE user_id = $1 ORDER BY created_at, id", userID); err != nil {
		return fail(err)
	}
	if out.EmailConfirmations, err = queryAll(ctx, s, "list e-mail confirmations", func(r row) (authn.EmailConfirmation, error) {
		c := authn.EmailConfirmation{UserID: userID}
		return c, r.Scan(&c.Email, timeCol{&c.CreatedAt}, timeCol{&c.ExpiresAt}, timeCol{&c.UsedAt})
	}, "SELECT email, created_at, expires_at, used_at FROM email_confirmations WHERE user_id = $1 ORDER BY created_at", userID); err != nil {
		return fail(err)
	}
	if out.NoticeLetters, err = queryAll(ctx, s, "list notice letters", func(r row) (authn.NoticeLetter, error) {
		l := authn.NoticeLetter{UserID: userID}
		return l, r.Scan(&l.ID, &l.Kind, &l.Detail, timeCol{&l.CreatedAt}, timeCol{&l.PrintedAt})
	}, "SELECT id, kind, detail, created_at, printed_at FROM notice_letters WHERE user_id = $1 ORDER BY created_at, id", userID); err != nil {
		return fail(err)
	}
	if out.FreezeTokens, err = queryAll(ctx, s, "list freeze links", func(r row) (authn.FreezeToken, error) {
		f := authn.FreezeToken{UserID: userID}
		return f, r.Scan(timeCol{&f.CreatedAt}, timeCol{&f.ExpiresAt}, timeCol{&f.UsedAt})
	}, "SELECT created_at, expires_at, used_at FROM freeze_tokens WHERE user_id = $1 ORDER BY created_at", userID); err != nil {
		return fail(err)
	}
	return out, nil
}
