package sqlstore

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/keyhall/keyhall/authn"
)

// sessionData are the columns of a session but its hash; sessionCols all.
const (
	sessionData = `user_id, amr, acr, auth_time, created_at, last_seen_at, expires_at,
	revoked_at, client_addr, user_agent, recovery_only`
	sessionCols = "hash, " + sessionData
)

// The hot session statements, prepared at Open.
const (
	sqlGetSession    = "SELECT " + sessionData + " FROM sessions WHERE hash = $1"
	sqlCreateSession = "INSERT INTO sessions (" + sessionCols + `)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) ON CONFLICT (hash) DO NOTHING`
	sqlTouchSession  = "UPDATE sessions SET last_seen_at = $2 WHERE hash = $1 AND last_seen_at < $2"
	sqlSessionExists = "SELECT 1 FROM sessions WHERE hash = $1"
)

// scanSession reads one row of sessionCols.
func scanSession(row interface{ Scan(...any) error }) (authn.Session, error) {
	var s authn.Session
	return s, scanSessionData(row, &s, hashCol{(*[32]byte)(&s.Hash)})
}

// scanSessionData reads the columns before (if any) and sessionData into s.
func scanSessionData(row interface{ Scan(...any) error }, s *authn.Session, before ...any) error {
	var amr string
	dest := append(before, &s.UserID, &amr, &s.ACR, timeCol{&s.AuthTime}, timeCol{&s.CreatedAt},
		timeCol{&s.LastSeenAt}, timeCol{&s.ExpiresAt}, timeCol{&s.RevokedAt}, &s.ClientAddr, &s.UserAgent,
		&s.RecoveryOnly)
	err := row.Scan(dest...)
	if amr != "" {
		s.AMR = strings.Split(amr, " ")
	}
	return err
}

// CreateSession stores sess durably. It goes through the batcher, so
// concurrent calls share one commit.
func (s *Store) CreateSession(ctx context.Context, sess authn.Session) error {
	args, err := s.sessionArgs(sess)
	if err != nil {
		return fmt.Errorf("create session: %w", err)
	}
	err = s.batch.do(&writeOp{ctx: ctx, run: func(ctx context.Context, tx *sql.Tx) error {
		res, err := tx.StmtContext(ctx, s.stmt.createSession).ExecContext(ctx, args...)
		if err != nil {
			return err
		}
		if n, err := rowsAffected(res); err != nil || n == 0 {
			return cmp.Or(err, soft(authn.ErrAlreadyExists))
		}
		return nil
	}})
	if err != nil {
		return fmt.Errorf("create session: %w", dbErr(err))
	}
	return nil
}

// sessionArgs checks sess and returns the arguments of sqlCreateSession.
func (s *Store) sessionArgs(sess authn.Session) ([]any, error) {
	for _, m := range sess.AMR {
		if m == "" || strings.ContainsAny(m, " \t\n") {
			return nil, fmt.Errorf("amr value %q is not an RFC 8176 method name", m)
		}
	}
	h := sess.Hash
	return []any{h[:], sess.UserID, strings.Join(sess.AMR, " "), sess.ACR, s.tv(sess.AuthTime),
		s.tv(sess.CreatedAt), s.tv(sess.LastSeenAt), s.tv(sess.ExpiresAt), s.tvNull(sess.RevokedAt),
		sess.ClientAddr, sess.UserAgent, sess.RecoveryOnly}, nil
}

// GetSession returns the session with hash h, from the cache if it was read
// less than defaultCacheTTL ago and not changed through this Store since.
func (s *Store) GetSession(ctx context.Context, h authn.SessionHash) (authn.Session, error) {
	if s.cache == nil {
		return s.readSession(ctx, h)
	}
	sess, err := s.cache.load(ctx, h, s.readSession)
	if err != nil {
		return authn.Session{}, err
	}
	sess.AMR = slices.Clone(sess.AMR) // the cached slice is shared
	return sess, nil
}

// readSession reads the session with hash h from the database.
func (s *Store) readSession(ctx context.Context, h authn.SessionHash) (authn.Session, error) {
	sess := authn.Session{Hash: h}
	err := scanSessionData(s.stmt.getSession.QueryRowContext(s.quick(ctx), h[:]), &sess)
	if err != nil {
		return authn.Session{}, fmt.Errorf("get session: %w", dbErr(err))
	}
	return sess, nil
}

// TouchSession sets last_seen to at if at is later than the stored value,
// in one conditional statement (through the batcher).
func (s *Store) TouchSession(ctx context.Context, h authn.SessionHash, at time.Time) error {
	err := s.batch.do(&writeOp{
		ctx: ctx,
		run: func(ctx context.Context, tx *sql.Tx) error {
			res, err := tx.StmtContext(ctx, s.stmt.touchSession).ExecContext(ctx, h[:], s.tv(at))
			if err != nil {
				return err
			}
			if n, err := rowsAffected(res); err != nil || n == 1 {
				return err
			}
			var one int
			err = tx.StmtContext(ctx, s.stmt.sessionExists).QueryRowContext(ctx, h[:]).Scan(&one)
			switch {
			case errors.Is(err, sql.ErrNoRows):
				return soft(authn.ErrNotFound)
			case err != nil:
				return err
			}
			return soft(authn.ErrNotForward)
		},
		onCommit: func() { s.dropSession(h) },
	})
	if err != nil {
		return fmt.Errorf("touch session: %w", err)
	}
	return nil
}

func (s *Store) dropSession(h authn.SessionHash) {
	if s.cache != nil {
		s.cache.drop(h)
	}
}

// RevokeSession marks the session revoked at at, keeping an earlier
// revocation's time.
func (s *Store) RevokeSession(ctx context.Context, h authn.SessionHash, at time.Time) error {
	res, err := s.wdb.ExecContext(ctx,
		"UPDATE sessions SET revoked_at = COALESCE(revoked_at, $2) WHERE hash = $1", h[:], s.tv(at))
	s.dropSession(h) // also on error: the outcome may be unknown
	if err != nil {
		return fmt.Errorf("revoke session: %w", err)
	}
	n, err := rowsAffected(res)
	if err != nil {
		return fmt.Errorf("revoke session: %w", err)
	}
	if n == 0 {
		return fmt.Errorf("revoke session: %w", authn.ErrNotFound)
	}
	return nil
}

// RevokeUserSessions revokes every unrevoked session of a person and,
// when it revoked any, appends ev with their number, in one transaction.
func (s *Store) RevokeUserSessions(ctx context.Context, userID string, at time.Time, ev authn.AuditEvent) (int, error) {
	n, err := s.revokeUserSessions(ctx, userID, at, ev)
	if s.cache != nil {
		s.cache.dropUser(userID)
	}
	if err != nil {
		return 0, fmt.Errorf("revoke sessions of user %s: %w", userID, dbErr(err))
	}
	return n, nil
}

func (s *Store) revokeUserSessions(ctx context.Context, userID string, at time.Time, ev authn.AuditEvent) (int, error) {
	tx, err := s.wdb.BeginTx(ctx, nil)
	if err != nil {
		return 0, err
	}
	defer tx.Rollback()
	if err := s.lockAuditHead(ctx, tx); err != nil {
		return 0, err
	}
	res, err := tx.ExecContext(ctx, "UPDATE sessions SET revoked_at = $2 WHERE user_id = $1 AND revoked_at IS NULL", userID, s.tv(at))
	if err != nil {
		return 0, err
	}
	n, err := rowsAffected(res)
	if err != nil || n == 0 {
		return 0, err // nothing changed: nothing to audit
	}
	ev.Details = maps.Clone(ev.Details)
	if ev.Details == nil {
		ev.Details = map[string]string{}
	}
	ev.Details["count"] = strconv.Itoa(n)
	if err := s.appendAudit(ctx, tx, ev); err != nil {
		return 0, err
	}
	return n, tx.Commit()
}

// ListUserSessions lists a person's unrevoked, unexpired sessions, newest
// first.
func (s *Store) ListUserSessions(ctx context.Context, userID string, now time.Time) ([]authn.Session, error) {
	rows, err := s.rdb.QueryContext(ctx, "SELECT "+sessionCols+` FROM sessions
		WHERE user_id = $1 AND revoked_at IS NULL AND expires_at > $2
		ORDER BY created_at DESC, hash`, userID, s.tv(now))
	if err != nil {
		return nil, fmt.Errorf("list sessions of user %s: %w", userID, err)
	}
	defer rows.Close()
	var out []authn.Session
	for rows.Next() {
		sess, err := scanSession(rows)
		if err != nil {
			return nil, fmt.Errorf("list sessions of user %s: %w", userID, err)
		}
		out = append(out, sess)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list sessions of user %s: %w", userID, err)
	}
	return out, nil
}

// DeleteSessionsBefore removes sessions that expired or were revoked before
// t.
func (s *Store) DeleteSessionsBefore(ctx context.Context, t time.Time) (int, error) {
	n, err := s.execRetry(ctx, "DELETE FROM sessions WHERE expires_at < $1 OR revoked_at < $1", s.tv(t))
	if err != nil {
		return 0, fmt.Errorf("delete old sessions: %w", err)
	}
	return n, nil
}
