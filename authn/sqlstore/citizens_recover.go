package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/keyhall/keyhall/authn"
)

var _ authn.RecoveryStore = (*Store)(nil)

const recoveryCols = `id, user_id, link_hash, binding_hash, email, created_at, link_expires_at,
	started_at, since_at, cancel_hash, due_at, ended_at, outcome`

func scanRecovery(row interface{ Scan(...any) error }) (authn.Recovery, error) {
	var r authn.Recovery
	err := row.Scan(&r.ID, &r.UserID, hashCol{(*[32]byte)(&r.Link)}, hashCol{(*[32]byte)(&r.Binding)}, &r.Email,
		timeCol{&r.CreatedAt}, timeCol{&r.LinkExpiresAt}, timeCol{&r.StartedAt}, timeCol{&r.Since},
		nullHashCol{(*[32]byte)(&r.Cancel)}, timeCol{&r.DueAt}, timeCol{&r.EndedAt}, &r.Outcome)
	return r, err
}

// sqlUsersByEmail finds the people with an address, in any case
// (prepared; index users_email_lower).
const sqlUsersByEmail = "SELECT " + userCols + " FROM users WHERE lower(email) = lower($1) ORDER BY created_at, id"

// UsersByEmail lists the people whose address is email, without regard to
// case (the index users_email_lower).
func (s *Store) UsersByEmail(ctx context.Context, email string) ([]authn.User, error) {
	if email == "" {
		return []authn.User{}, nil
	}
	rows, err := s.stmt.usersByEmail.QueryContext(ctx, email)
	return collect("find people by address", scanUser, rows, err)
}

// CreateRecovery stores r, unstarted, and deletes the person's recoveries
// whose links expired unused before r was made.
func (s *Store) CreateRecovery(ctx context.Context, r authn.Recovery) error {
	err := s.batch.do(&writeOp{ctx: ctx, run: func(ctx context.Context, tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM recoveries
			WHERE user_id = $1 AND started_at IS NULL AND link_expires_at < $2`, r.UserID, s.tv(r.CreatedAt)); err != nil {
			return err
		}
		var exists bool
		if err := tx.QueryRowContext(ctx, "SELECT EXISTS (SELECT 1 FROM users WHERE id = $1)", r.UserID).Scan(&exists); err != nil {
			return err
		}
		if !exists {
			return soft(authn.ErrNotFound)
		}
		return insertedOne(tx.ExecContext(ctx, `INSERT INTO recoveries (id, user_id, link_hash, binding_hash, email, created_at, link_expires_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING`,
			r.ID, r.UserID, r.Link[:], r.Binding[:], r.Email, s.tv(r.CreatedAt), s.tv(r.LinkExpiresAt)))
	}})
	if err != nil {
		return fmt.Errorf("create recovery for user %s: %w", r.UserID, dbErr(err))
	}
	return nil
}

// GetRecovery returns the recovery whose link has hash link.
func (s *Store) GetRecovery(ctx context.Context, link authn.TokenHash) (authn.Recovery, error) {
	r, err := scanRecovery(s.rdb.QueryRowContext(ctx, "SELECT "+recoveryCols+" FROM recoveries WHERE link_hash = $1", link[:]))
	if err != nil {
		return authn.Recovery{}, fmt.Errorf("get recovery: %w", dbErr(err))
	}
	return r, nil
}

// PendingRecovery returns the person's pending recovery.
func (s *Store) PendingRecovery(ctx context.Context, userID string) (authn.Recovery, error) {
	r, err := scanRecovery(s.rdb.QueryRowContext(ctx, "SELECT "+recoveryCols+` FROM recoveries
		WHERE user_id = $1 AND started_at IS NOT NULL AND ended_at IS NULL ORDER BY started_at DESC, id LIMIT 1`, userID))
	if err != nil {
		return authn.Recovery{}, fmt.Errorf("get pending recovery of user %s: %w", userID, dbErr(err))
	}
	return r, nil
}

// DueRecoveries lists the pending recoveries of active people due at at,
// oldest first.
func (s *Store) DueRecoveries(ctx context.Context, at time.Time, limit int) ([]authn.Recovery, error) {
	return queryAll(ctx, s, "list due recoveries", scanRecovery, "SELECT "+recoveryCols+` FROM recoveries
		WHERE started_at IS NOT NULL AND ended_at IS NULL AND due_at <= $1
		AND EXISTS (SELECT 1 FROM users WHERE users.id = recoveries.user_id AND users.status = 'active')
		ORDER BY due_at, id LIMIT $2`, s.tv(at), limit)
}

// StartRecovery uses the link and starts its recovery, with st.Event.
func (s *Store) StartRecovery(ctx context.Context, st authn.RecoveryStart) (authn.Recovery, int, error) {
	var r authn.Recovery
	var sessions int
	err := s.recoveryTx(ctx, func(tx *sql.Tx) (string, error) {
		var err error
		r, err = scanRecovery(tx.QueryRowContext(ctx, "SELECT "+recoveryCols+" FROM recoveries WHERE link_hash = $1"+s.forNoKeyUpdate, st.Link[:]))
		switch {
		case err != nil:
			return "", dbErr(err)
		case !r.StartedAt.IsZero() || !r.EndedAt.IsZero():
			return "", authn.ErrUsed
		case !st.At.Before(r.LinkExpiresAt):
			return "", authn.ErrExpired
		}
		if err := s.lockUserTx(ctx, tx, r.UserID); err != nil {
			return "", err
		}
		r.StartedAt, r.Since, r.DueAt, r.Cancel = st.At, st.At, st.DueAt, st.Cancel
		// A recovery of hers still pending ends: the new one keeps its cut,
		// so that her factors from before the first stay "old".
		prev, err := scanRecovery(tx.QueryRowContext(ctx, "SELECT "+recoveryCols+` FROM recoveries
			WHERE user_id = $1 AND started_at IS NOT NULL AND ended_at IS NULL`, r.UserID))
		switch {
		case err == nil:
			r.Since = prev.Since
			if _, err := tx.ExecContext(ctx, "UPDATE recoveries SET ended_at = $2, outcome = $3 WHERE id = $1",
				prev.ID, s.tv(st.At), authn.RecoverySuperseded); err != nil {
				return "", err
			}
			// Her codes from before the first recovery are kept with the new one.
			if _, err := tx.ExecContext(ctx, "UPDATE recovery_kept_codes SET recovery_id = $2 WHERE recovery_id = $1", prev.ID, r.ID); err != nil {
				return "", err
			}
		case errors.Is(err, sql.ErrNoRows):
			if _, err := tx.ExecContext(ctx, `INSERT INTO recovery_kept_codes (recovery_id, hash, used_at)
				SELECT $2, hash, used_at FROM recovery_codes WHERE user_id = $1`, r.UserID, r.ID); err != nil {
				return "", err
			}
		default:
			return "", err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE recoveries SET started_at = $2, since_at = $3, due_at = $4, cancel_hash = $5
			WHERE id = $1`, r.ID, s.tv(r.StartedAt), s.tv(r.Since), s.tv(r.DueAt), r.Cancel[:]); err != nil {
			return "", dbErr(err)
		}
		res, err := tx.ExecContext(ctx, "UPDATE sessions SET revoked_at = $2 WHERE user_id = $1 AND revoked_at IS NULL", r.UserID, s.tv(st.At))
		if err != nil {
			return "", err
		}
		if sessions, err = rowsAffected(res); err != nil {
			return "", err
		}
		if err := s.insertInvitation(ctx, tx, st.Invitation); err != nil {
			return "", err
		}
		ev := st.Event
		ev.Details = withDetails(ev.Details, map[string]string{"recovery_id": r.ID, "revoked_sessions": fmt.Sprint(sessions),
			"invitation_id": st.Invitation.ID, "due_at": r.DueAt.UTC().Format(time.RFC3339)})
		return r.UserID, s.appendAudit(ctx, tx, ev)
	})
	if err != nil {
		return authn.Recovery{}, 0, fmt.Errorf("start recovery: %w", err)
	}
	return r, sessions, nil
}

// CancelRecovery ends a pending recovery: its new factors go, the old stay.
func (s *Store) CancelRecovery(ctx context.Context, cancel authn.TokenHash, userID string, keep authn.SessionHash, at time.Time, ev authn.AuditEvent) (authn.RecoveryReport, error) {
	var rep authn.RecoveryReport
	err := s.recoveryTx(ctx, func(tx *sql.Tx) (string, error) {
		var r authn.Recovery
		var err error
		if cancel != (authn.TokenHash{}) {
			r, err = scanRecovery(tx.QueryRowContext(ctx, "SELECT "+recoveryCols+" FROM recoveries WHERE cancel_hash = $1"+s.forNoKeyUpdate, cancel[:]))
		} else {
			r, err = scanRecovery(tx.QueryRowContext(ctx, "SELECT "+recoveryCols+` FROM recoveries
				WHERE user_id = $1 AND started_at IS NOT NULL AND ended_at IS NULL`+s.forNoKeyUpdate, userID))
		}
		if err != nil {
			return "", dbErr(err)
		}
		var superseded authn.Recovery
		if r.Outcome == authn.RecoverySuperseded && !r.StartedAt.IsZero() {
			// A newer recovery of hers took over its cut (StartRecovery):
			// the link cancels the newest of that chain if it is pending,
			// so that a takeover is not told over while it goes on. A reset
			// (ResetUser) ends the chain: what begins after it has its own
			// cut.
			next, err := scanRecovery(tx.QueryRowContext(ctx, "SELECT "+recoveryCols+` FROM recoveries
				WHERE user_id = $1 AND since_at = $2 AND started_at > $3 AND ended_at IS NULL`+s.forNoKeyUpdate,
				r.UserID, s.tv(r.Since), s.tv(r.StartedAt)))
			switch {
			case err == nil:
				superseded, r = r, next
			case !errors.Is(err, sql.ErrNoRows):
				return "", err
			}
		}
		if !r.Pending() {
			rep.Recovery = r // how it ended, for the answer to a second cancel
			return "", authn.ErrUsed
		}
		if err := s.lockUserTx(ctx, tx, r.UserID); err != nil {
			return "", err
		}
		n, err := s.cancelRecoveryTx(ctx, tx, r, keep, at)
		if err != nil {
			return "", err
		}
		r.EndedAt, r.Outcome = at, authn.RecoveryCancelled
		if ev.Actor == "" {
			ev.Actor = "user:" + r.UserID // the holder of her cancel link
		}
		if ev.Subject == "" {
			ev.Subject = "user:" + r.UserID
		}
		rep = authn.RecoveryReport{Recovery: r, Credentials: n[0], RecoveryCodes: n[2], Sessions: n[3], Superseded: superseded}
		details := map[string]string{"recovery_id": r.ID, "removed_credentials": fmt.Sprint(n[0]),
			"restored_recovery_codes": fmt.Sprint(n[2]), "revoked_sessions": fmt.Sprint(n[3])}
		if superseded.ID != "" {
			details["superseded_recovery_id"] = superseded.ID // the recovery whose cancel link was used
		}
		ev.Details = withDetails(ev.Details, details)
		return r.UserID, s.appendAudit(ctx, tx, ev)
	})
	if err != nil {
		return authn.RecoveryReport{Recovery: rep.Recovery}, fmt.Errorf("cancel recovery: %w", err)
	}
	return rep, nil
}

// FinishRecovery removes the old factors of a due recovery and ends it.
func (s *Store) FinishRecovery(ctx context.Context, id string, at time.Time, ev authn.AuditEvent) (authn.RecoveryReport, error) {
	var rep authn.RecoveryReport
	err := s.recoveryTx(ctx, func(tx *sql.Tx) (string, error) {
		r, err := scanRecovery(tx.QueryRowContext(ctx, "SELECT "+recoveryCols+" FROM recoveries WHERE id = $1"+s.forNoKeyUpdate, id))
		switch {
		case err != nil:
			return "", dbErr(err)
		case !r.Pending():
			return "", authn.ErrUsed
		case at.Before(r.DueAt):
			return "", authn.ErrExpired
		}
		if err := s.lockUserTx(ctx, tx, r.UserID); err != nil {
			return "", err
		}
		// Nothing of a person who is not active goes (review of #15: a
		// frozen account kept only a mailbox thief's key).
		var status authn.UserStatus
		if err := tx.QueryRowContext(ctx, "SELECT status FROM users WHERE id = $1", r.UserID).Scan(&status); err != nil {
			return "", dbErr(err)
		}
		if status != authn.StatusActive {
			return "", fmt.Errorf("%w: account is %s", authn.ErrNotActive, status)
		}
		var added int
		if err := tx.QueryRowContext(ctx, "SELECT COUNT(*) FROM credentials WHERE user_id = $1 AND created_at >= $2",
			r.UserID, s.tv(r.Since)).Scan(&added); err != nil {
			return "", err
		}
		if added == 0 {
			// Nothing replaced her factors: they stay.
			abandon := []struct {
				n     *int
				query string
				args  []any
			}{
				{new(int), "DELETE FROM recovery_kept_codes WHERE recovery_id = $1", []any{r.ID}},
				{new(int), "UPDATE recoveries SET ended_at = $2, outcome = $3 WHERE id = $1", []any{r.ID, s.tv(at), authn.RecoveryAbandoned}},
			}
			if err := runSteps(ctx, tx, abandon); err != nil {
				return "", err
			}
			r.EndedAt, r.Outcome = at, authn.RecoveryAbandoned
			rep = authn.RecoveryReport{Recovery: r}
			ev.Action = "recovery.abandoned"
			ev.Details = withDetails(ev.Details, map[string]string{"recovery_id": r.ID})
			return r.UserID, s.appendAudit(ctx, tx, ev)
		}
		var n [2]int
		steps := []struct {
			n     *int
			query string
			args  []any
		}{
			{&n[0], "DELETE FROM credentials WHERE user_id = $1 AND created_at < $2", []any{r.UserID, s.tv(r.Since)}},
			{new(int), "DELETE FROM suspended_credentials WHERE user_id = $1 AND created_at < $2", []any{r.UserID, s.tv(r.Since)}},
			{&n[1], `DELETE FROM recovery_codes WHERE user_id = $1
				AND hash IN (SELECT hash FROM recovery_kept_codes WHERE recovery_id = $2)`, []any{r.UserID, r.ID}},
			{new(int), "DELETE FROM recovery_kept_codes WHERE recovery_id = $1", []any{r.ID}},
			{new(int), "UPDATE recoveries SET ended_at = $2, outcome = $3 WHERE id = $1", []any{r.ID, s.tv(at), authn.RecoveryFinished}},
		}
		if err := runSteps(ctx, tx, steps); err != nil {
			return "", err
		}
		r.EndedAt, r.Outcome = at, authn.RecoveryFinished
		rep = authn.RecoveryReport{Recovery: r, Credentials: n[0], RecoveryCodes: n[1]}
		ev.Details = withDetails(ev.Details, map[string]string{"recovery_id": r.ID, "removed_credentials": fmt.Sprint(n[0]),
			"removed_recovery_codes": fmt.Sprint(n[1])})
		return r.UserID, s.appendAudit(ctx, tx, ev)
	})
	if err != nil {
		return authn.RecoveryReport{}, fmt.Errorf("finish recovery %s: %w", id, err)
	}
	return rep, nil
}

// cancelRecoveryTx ends the pending recovery r as cancelled at at: the
// keys and apps created since its cut go, her recovery codes are those
// from before it, her sessions since the cut but keep are revoked, her
// open invitations and enrollments end. It returns how many credentials
// it deleted, codes it deleted, codes it restored, sessions it revoked and
// invitations it voided.
func (s *Store) cancelRecoveryTx(ctx context.Context, tx *sql.Tx, r authn.Recovery, keep authn.SessionHash, at time.Time) ([5]int, error) {
	var n [5]int
	steps := []struct {
		n     *int
		query string
		args  []any
	}{
		{&n[0], "DELETE FROM credentials WHERE user_id = $1 AND created_at >= $2", []any{r.UserID, s.tv(r.Since)}},
		{&n[1], "DELETE FROM recovery_codes WHERE user_id = $1", []any{r.UserID}},
		{&n[2], `INSERT INTO recovery_codes (user_id, hash, used_at)
			SELECT $1, hash, used_at FROM recovery_kept_codes WHERE recovery_id = $2`, []any{r.UserID, r.ID}},
		{&n[3], "UPDATE sessions SET revoked_at = $2 WHERE user_id = $1 AND revoked_at IS NULL AND created_at >= $3 AND hash <> $4",
			[]any{r.UserID, s.tv(at), s.tv(r.Since), keep[:]}},
		{&n[4], "UPDATE invitations SET voided_at = $2 WHERE user_id = $1 AND used_at IS NULL AND voided_at IS NULL",
			[]any{r.UserID, s.tv(at)}},
		{new(int), "DELETE FROM pending_enrollments WHERE user_id = $1", []any{r.UserID}},
		{new(int), "DELETE FROM recovery_kept_codes WHERE recovery_id = $1", []any{r.ID}},
		{new(int), "UPDATE recoveries SET ended_at = $2, outcome = $3 WHERE id = $1", []any{r.ID, s.tv(at), authn.RecoveryCancelled}},
	}
	err := runSteps(ctx, tx, steps)
	return n, err
}

// recoveryTx runs fn in a transaction that holds the audit head, commits,
// and drops the cached sessions of the person fn returns.
func (s *Store) recoveryTx(ctx context.Context, fn func(tx *sql.Tx) (string, error)) error {
	tx, err := s.wdb.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if err := s.lockAuditHead(ctx, tx); err != nil {
		return err
	}
	userID, err := fn(tx)
	if err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	if s.cache != nil {
		s.cache.dropUser(userID)
	}
	return nil
}

// runSteps runs each statement and stores how many rows it changed.
func runSteps(ctx context.Context, tx *sql.Tx, steps []struct {
	n     *int
	query string
	args  []any
}) error {
	for _, st := range steps {
		res, err := tx.ExecContext(ctx, st.query, st.args...)
		if err != nil {
			return err
		}
		if *st.n, err = rowsAffected(res); err != nil {
			return err
		}
	}
	return nil
}

// withDetails returns d with more added, as a new map.
func withDetails(d, more map[string]string) map[string]string {
	out := make(map[string]string, len(d)+len(more))
	for k, v := range d {
		out[k] = v
	}
	for k, v := range more {
		out[k] = v
	}
	return out
}
