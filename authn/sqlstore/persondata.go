package sqlstore

import (
	"context"
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
