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

var _ authn.FreezeStore = (*Store)(nil)

// suspendCredentialsTx moves the person's keys and apps to
// suspended_credentials (an IT reset), where nothing that signs in reads
// them, and counts them into rep.
func (s *Store) suspendCredentialsTx(ctx context.Context, tx *sql.Tx, userID string, at time.Time, rep *authn.ResetReport) error {
	if _, err := tx.ExecContext(ctx, "INSERT INTO suspended_credentials ("+credentialCols+`, suspended_at)
		SELECT `+credentialCols+`, $2 FROM credentials WHERE user_id = $1`, userID, s.tv(at)); err != nil {
		return err
	}
	rows, err := tx.QueryContext(ctx, "DELETE FROM credentials WHERE user_id = $1 RETURNING id, kind", userID)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var id string
		var kind authn.CredentialKind
		if err := rows.Scan(&id, &kind); err != nil {
			return err
		}
		rep.CredentialIDs = append(rep.CredentialIDs, id)
		if kind == authn.KindTOTP {
			rep.Apps++
		} else {
			rep.Keys++
		}
	}
	return rows.Err()
}

// deleteSuspendedTx deletes the keys and apps a reset suspended: she has
// stored a new one.
func deleteSuspendedTx(ctx context.Context, tx *sql.Tx, userID string) error {
	_, err := tx.ExecContext(ctx, "DELETE FROM suspended_credentials WHERE user_id = $1", userID)
	return err
}

// ListSuspendedCredentials lists the person's suspended keys and apps,
// oldest first.
func (s *Store) ListSuspendedCredentials(ctx context.Context, userID string) ([]authn.Credential, error) {
	return queryAll(ctx, s, "list suspended credentials of user "+userID, scanCredential,
		"SELECT "+credentialCols+" FROM suspended_credentials WHERE user_id = $1 ORDER BY created_at, id", userID)
}

// RestoreSuspendedCredentials moves the person's suspended keys and apps
// back, with ev.
func (s *Store) RestoreSuspendedCredentials(ctx context.Context, userID string, ev authn.AuditEvent) (int, error) {
	var n int
	err := s.adminTx(ctx, ev, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, "INSERT INTO credentials ("+credentialCols+") SELECT "+credentialCols+
			" FROM suspended_credentials WHERE user_id = $1", userID)
		if err != nil {
			return dbErr(err)
		}
		if n, err = rowsAffected(res); err != nil || n == 0 {
			return cmp.Or(err, authn.ErrNotFound)
		}
		return deleteSuspendedTx(ctx, tx, userID)
	})
	if err != nil {
		return 0, fmt.Errorf("restore suspended credentials of user %s: %w", userID, err)
	}
	return n, nil
}

const freezeTokenCols = "hash, user_id, created_at, expires_at, used_at"

// CreateFreezeToken stores t, and deletes the person's tokens that expired
// before t was made.
func (s *Store) CreateFreezeToken(ctx context.Context, t authn.FreezeToken) error {
	err := s.batch.do(&writeOp{ctx: ctx, run: func(ctx context.Context, tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, "DELETE FROM freeze_tokens WHERE user_id = $1 AND expires_at < $2",
			t.UserID, s.tv(t.CreatedAt)); err != nil {
			return err
		}
		var exists bool
		if err := tx.QueryRowContext(ctx, "SELECT EXISTS (SELECT 1 FROM users WHERE id = $1)", t.UserID).Scan(&exists); err != nil {
			return err
		}
		if !exists {
			return soft(authn.ErrNotFound)
		}
		return insertedOne(tx.ExecContext(ctx, "INSERT INTO freeze_tokens ("+freezeTokenCols+`)
			VALUES ($1, $2, $3, $4, NULL) ON CONFLICT (hash) DO NOTHING`,
			t.Hash[:], t.UserID, s.tv(t.CreatedAt), s.tv(t.ExpiresAt)))
	}})
	if err != nil {
		return fmt.Errorf("create freeze token for user %s: %w", t.UserID, dbErr(err))
	}
	return nil
}

// GetFreezeToken returns the token with hash h.
func (s *Store) GetFreezeToken(ctx context.Context, h authn.TokenHash) (authn.FreezeToken, error) {
	t := authn.FreezeToken{Hash: h}
	var hash []byte
	err := s.rdb.QueryRowContext(ctx, "SELECT "+freezeTokenCols+" FROM freeze_tokens WHERE hash = $1", h[:]).
		Scan(&hash, &t.UserID, timeCol{&t.CreatedAt}, timeCol{&t.ExpiresAt}, timeCol{&t.UsedAt})
	if err != nil {
		return authn.FreezeToken{}, fmt.Errorf("get freeze token: %w", dbErr(err))
	}
	return t, nil
}

// FreezeWithToken uses the token and freezes its person, with ev.
func (s *Store) FreezeWithToken(ctx context.Context, h authn.TokenHash, at time.Time, ev authn.AuditEvent) (authn.FreezeReport, error) {
	var rep authn.FreezeReport
	err := s.freezeTx(ctx, func(tx *sql.Tx) (string, error) {
		var userID string
		err := tx.QueryRowContext(ctx, `UPDATE freeze_tokens SET used_at = $2
			WHERE hash = $1 AND used_at IS NULL AND expires_at > $2 RETURNING user_id`, h[:], s.tv(at)).Scan(&userID)
		if !errors.Is(err, sql.ErrNoRows) {
			return userID, err
		}
		var used, expires time.Time
		err = tx.QueryRowContext(ctx, "SELECT used_at, expires_at FROM freeze_tokens WHERE hash = $1", h[:]).
			Scan(timeCol{&used}, timeCol{&expires})
		switch {
		case err != nil:
			return "", dbErr(err)
		case !used.IsZero():
			return "", authn.ErrUsed
		}
		return "", authn.ErrExpired
	}, at, &ev, &rep)
	if err != nil {
		return authn.FreezeReport{}, fmt.Errorf("freeze with token: %w", err)
	}
	return rep, nil
}

// FreezeUser freezes the person, with ev.
func (s *Store) FreezeUser(ctx context.Context, userID string, at time.Time, ev authn.AuditEvent) (authn.FreezeReport, error) {
	var rep authn.FreezeReport
	err := s.freezeTx(ctx, func(*sql.Tx) (string, error) { return userID, nil }, at, &ev, &rep)
	if err != nil {
		return authn.FreezeReport{}, fmt.Errorf("freeze user %s: %w", userID, err)
	}
	return rep, nil
}

// freezeTx finds the person with who and freezes her: status frozen (if
// active), her sessions revoked, her open invitations voided, her
// enrollments ended, her pending recovery by e-mail cancelled; in one
// transaction with ev. With an ev.Actor of "", she is the actor.
func (s *Store) freezeTx(ctx context.Context, who func(*sql.Tx) (string, error), at time.Time, ev *authn.AuditEvent, rep *authn.FreezeReport) error {
	tx, err := s.wdb.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if err := s.lockAuditHead(ctx, tx); err != nil {
		return err
	}
	userID, err := who(tx)
	if err != nil {
		return err
	}
	var status authn.UserStatus
	if err := tx.QueryRowContext(ctx, "SELECT status FROM users WHERE id = $1"+s.forNoKeyUpdate, userID).Scan(&status); err != nil {
		return dbErr(err)
	}
	rep.UserID, rep.Already = userID, status == authn.StatusFrozen
	if !rep.Already {
		if _, err := tx.ExecContext(ctx, `UPDATE users SET frozen_at = $2,
			status = CASE WHEN status = $3 THEN $4 ELSE status END WHERE id = $1`,
			userID, s.tv(at), authn.StatusActive, authn.StatusFrozen); err != nil {
			return err
		}
	}
	steps := []struct {
		n     *int
		query string
		args  []any
	}{
		{&rep.Sessions, "UPDATE sessions SET revoked_at = $2 WHERE user_id = $1 AND revoked_at IS NULL", []any{userID, s.tv(at)}},
		{&rep.Invitations, "UPDATE invitations SET voided_at = $2 WHERE user_id = $1 AND used_at IS NULL AND voided_at IS NULL",
			[]any{userID, s.tv(at)}},
		{new(int), "DELETE FROM pending_enrollments WHERE user_id = $1", []any{userID}},
	}
	for _, st := range steps {
		res, err := tx.ExecContext(ctx, st.query, st.args...)
		if err != nil {
			return err
		}
		if *st.n, err = rowsAffected(res); err != nil {
			return err
		}
	}
	// Her tools' tokens end with her sessions (the tools are told after).
	if _, err := s.revokeUserTokensTx(ctx, tx, userID, at); err != nil {
		return err
	}
	// A pending recovery by e-mail ends as a cancel ends it: a freeze is
	// "that was not me", and the recovery's finish must not delete her own
	// factors and keep the new one, maybe a mailbox thief's (review of #15).
	recovery, err := s.endRecoveryOnFreezeTx(ctx, tx, userID, at)
	if err != nil {
		return err
	}
	if ev.Actor == "" {
		ev.Actor = "user:" + userID
	}
	ev.Subject = "user:" + userID
	d := make(map[string]string, len(ev.Details)+3)
	for k, v := range ev.Details {
		d[k] = v
	}
	d["revoked_sessions"] = fmt.Sprint(rep.Sessions)
	d["voided_invitations"] = fmt.Sprint(rep.Invitations)
	if rep.Already {
		d["already_frozen"] = "true"
	}
	for k, v := range recovery {
		d[k] = v
	}
	ev.Details = d
	if err := s.appendAudit(ctx, tx, *ev); err != nil {
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

// endRecoveryOnFreezeTx cancels the person's pending recovery by e-mail,
// if she has one: the keys and apps added since it began go, her recovery
// codes from before it come back. It returns what to add to the freeze's
// audit details (nothing when none was pending).
func (s *Store) endRecoveryOnFreezeTx(ctx context.Context, tx *sql.Tx, userID string, at time.Time) (map[string]string, error) {
	r, err := scanRecovery(tx.QueryRowContext(ctx, "SELECT "+recoveryCols+` FROM recoveries
		WHERE user_id = $1 AND started_at IS NOT NULL AND ended_at IS NULL`+s.forNoKeyUpdate, userID))
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return nil, nil
	case err != nil:
		return nil, err
	}
	n, err := s.cancelRecoveryTx(ctx, tx, r, authn.SessionHash{}, at)
	if err != nil {
		return nil, err
	}
	return map[string]string{"cancelled_recovery_id": r.ID, "removed_credentials": fmt.Sprint(n[0]),
		"restored_recovery_codes": fmt.Sprint(n[2])}, nil
}

// cancelPendingRecoveryTx cancels the person's pending recovery by e-mail,
// if she has one, and names it in ev's details. A disable cancels it as a
// freeze does; an enable and an unfreeze cancel one that is still there
// (a person disabled or frozen before they did).
func (s *Store) cancelPendingRecoveryTx(ctx context.Context, tx *sql.Tx, userID string, at time.Time, ev *authn.AuditEvent) error {
	d, err := s.endRecoveryOnFreezeTx(ctx, tx, userID, at)
	if err != nil || d == nil {
		return err
	}
	ev.Details = withDetails(ev.Details, d)
	return nil
}

// UnfreezeUser lifts the freeze, with ev.
func (s *Store) UnfreezeUser(ctx context.Context, userID string, ev authn.AuditEvent) error {
	// A frozen person who is also disabled (by the directory or an admin)
	// stays disabled: only the freeze is lifted.
	err := s.adminTxEv(ctx, &ev, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE users SET status = CASE WHEN status = $3 THEN $2 ELSE status END, frozen_at = NULL
			WHERE id = $1 AND frozen_at IS NOT NULL`, userID, authn.StatusActive, authn.StatusFrozen)
		if err != nil {
			return err
		}
		if n, err := rowsAffected(res); err != nil || n == 0 {
			return cmp.Or(err, authn.ErrNotFound)
		}
		// Frozen before a freeze cancelled it: her recovery ends now,
		// before the job could finish it.
		at := ev.Time
		if at.IsZero() {
			at = time.Now()
		}
		return s.cancelPendingRecoveryTx(ctx, tx, userID, at, &ev)
	})
	if err != nil {
		return fmt.Errorf("unfreeze user %s: %w", userID, err)
	}
	if s.cache != nil {
		s.cache.dropUser(userID)
	}
	return nil
}

// ListFrozen lists the frozen people, the most recently frozen first.
func (s *Store) ListFrozen(ctx context.Context) ([]authn.FrozenUser, error) {
	// "status <> 'active'", a literal, lets the planner read the partial
	// index users_inactive instead of every person (the console's overview
	// asks this on every view).
	rows, err := s.rdb.QueryContext(ctx, "SELECT "+userCols+`, frozen_at FROM users
		WHERE status <> 'active' AND frozen_at IS NOT NULL ORDER BY frozen_at DESC, id`)
	if err != nil {
		return nil, fmt.Errorf("list frozen people: %w", err)
	}
	defer rows.Close()
	out := []authn.FrozenUser{}
	for rows.Next() {
		var x userRow
		var f authn.FrozenUser
		if err := rows.Scan(append(x.dest(), timeCol{&f.FrozenAt})...); err != nil {
			return nil, fmt.Errorf("list frozen people: %w", err)
		}
		f.User = x.user()
		out = append(out, f)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list frozen people: %w", err)
	}
	return out, nil
}
