package sqlstore

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/keyhall/keyhall/authn"
)

var _ authn.EnrollStore = (*Store)(nil)

// CreateInvitationWithCode stores inv and the hash of its code, voiding the
// person's open invitations, in one transaction with ev.
func (s *Store) CreateInvitationWithCode(ctx context.Context, inv authn.Invitation, codeHash authn.TokenHash, ev authn.AuditEvent) error {
	err := s.adminTx(ctx, ev, func(tx *sql.Tx) error { return s.insertInvitationWithCode(ctx, tx, inv, codeHash) })
	if err != nil {
		return fmt.Errorf("create invitation for user %s: %w", inv.UserID, err)
	}
	return nil
}

func (s *Store) insertInvitationWithCode(ctx context.Context, tx *sql.Tx, inv authn.Invitation, codeHash authn.TokenHash) error {
	if err := s.insertInvitation(ctx, tx, inv); err != nil {
		return err
	}
	_, err := tx.ExecContext(ctx, "INSERT INTO invitation_codes (invitation_id, code_hash) VALUES ($1, $2)", inv.ID, codeHash[:])
	return dbErr(err)
}

// OpenInvitation returns the person's newest invitation that is neither
// used nor voided, and its code hash (zero when it has no code).
func (s *Store) OpenInvitation(ctx context.Context, userID string) (authn.Invitation, authn.TokenHash, error) {
	var code []byte
	cols := "i." + strings.ReplaceAll(invitationCols, ", ", ", i.")
	row := s.rdb.QueryRowContext(ctx, "SELECT "+cols+`, c.code_hash
		FROM invitations i LEFT JOIN invitation_codes c ON c.invitation_id = i.id
		WHERE i.user_id = $1 AND i.used_at IS NULL AND i.voided_at IS NULL
		ORDER BY i.created_at DESC LIMIT 1`, userID)
	var inv authn.Invitation
	err := row.Scan(&inv.ID, &inv.UserID, hashCol{(*[32]byte)(&inv.TokenHash)}, &inv.Purpose, &inv.CreatedBy,
		timeCol{&inv.CreatedAt}, timeCol{&inv.ExpiresAt}, timeCol{&inv.UsedAt}, timeCol{&inv.VoidedAt}, &inv.RequirePassword, &code)
	if err != nil {
		return authn.Invitation{}, authn.TokenHash{}, fmt.Errorf("open invitation of user %s: %w", userID, dbErr(err))
	}
	var h authn.TokenHash
	copy(h[:], code)
	return inv, h, nil
}

const enrollPendingData = "user_id, invitation_id, ceremony, totp_sealed, factors, created_at, expires_at, scope, session_hash, ends_at, codes_sealed"

// PutEnrollPending stores p; ErrAlreadyExists if its hash is taken. Now and
// then it also deletes enrollments that expired over an hour ago.
func (s *Store) PutEnrollPending(ctx context.Context, p authn.EnrollPending) error {
	err := s.batch.do(&writeOp{ctx: ctx, run: func(ctx context.Context, tx *sql.Tx) error {
		if s.purgeTick.Add(1)%purgeEvery == 0 {
			if _, err := tx.ExecContext(ctx, "DELETE FROM pending_enrollments WHERE expires_at < $1",
				s.tv(p.CreatedAt.Add(-purgeAfter))); err != nil {
				return err
			}
		}
		return s.insertEnrollPendingTx(ctx, tx, p, soft(authn.ErrAlreadyExists))
	}})
	if err != nil {
		return fmt.Errorf("put enrollment: %w", dbErr(err))
	}
	return nil
}

// insertEnrollPendingTx inserts p in tx; taken is the error if its hash is.
func (s *Store) insertEnrollPendingTx(ctx context.Context, tx *sql.Tx, p authn.EnrollPending, taken error) error {
	res, err := tx.ExecContext(ctx, "INSERT INTO pending_enrollments (hash, "+enrollPendingData+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) ON CONFLICT (hash) DO NOTHING`,
		p.Hash[:], p.UserID, p.InvitationID, nullBytes(p.Ceremony), nullBytes(p.TOTPSealed), p.Factors,
		s.tv(p.CreatedAt), s.tv(p.ExpiresAt), int(p.Scope), nullSessionHash(p.Session), s.tvNull(p.EndsAt), nullBytes(p.CodesSealed))
	if err != nil {
		return err
	}
	if n, err := rowsAffected(res); err != nil || n == 0 {
		return cmp.Or(err, taken)
	}
	return nil
}

// CompleteEnrollStep stores the factor or the recovery codes of st and its
// next step in one transaction with its audit event.
func (s *Store) CompleteEnrollStep(ctx context.Context, st authn.EnrollStep) error {
	if err := checkEnrollStep(st); err != nil {
		return fmt.Errorf("complete enrollment step of user %s: %w", st.UserID, err)
	}
	err := s.adminTx(ctx, st.Event, func(tx *sql.Tx) error {
		if st.InvitationID != "" {
			if err := s.consumeInvitationTx(ctx, tx, st.InvitationID, st.UserID, st.At); err != nil {
				return err
			}
		}
		if st.Credential != nil {
			if err := s.insertCredentialTx(ctx, tx, *st.Credential); err != nil {
				return err
			}
		}
		if st.RecoveryCodes != nil {
			if err := s.replaceRecoveryCodesTx(ctx, tx, st.UserID, st.RecoveryCodes); err != nil {
				return err
			}
		}
		return s.insertEnrollPendingTx(ctx, tx, st.Next, authn.ErrAlreadyExists)
	})
	if err != nil {
		return fmt.Errorf("complete enrollment step of user %s: %w", st.UserID, dbErr(err))
	}
	return nil
}

// checkEnrollStep refuses a step whose parts belong to different people, or
// that stores nothing.
func checkEnrollStep(st authn.EnrollStep) error {
	switch {
	case st.UserID == "" || st.Next.UserID != st.UserID:
		return fmt.Errorf("next step of user %q", st.Next.UserID)
	case st.Credential == nil && st.RecoveryCodes == nil:
		return errors.New("neither a credential nor recovery codes")
	case st.InvitationID != "" && st.Credential == nil:
		return errors.New("an invitation is consumed only by a credential")
	case st.Credential != nil && st.Credential.UserID != st.UserID:
		return fmt.Errorf("credential of user %q", st.Credential.UserID)
	case st.Credential != nil:
		return checkCredential(*st.Credential)
	}
	return nil
}

// TakeEnrollPending deletes and returns the enrollment with hash h, in one
// DELETE … RETURNING, so of concurrent takes exactly one gets it.
func (s *Store) TakeEnrollPending(ctx context.Context, h authn.PendingHash, now time.Time) (authn.EnrollPending, error) {
	p := authn.EnrollPending{Hash: h}
	var scope int
	var session []byte
	err := s.batch.do(&writeOp{ctx: ctx, run: func(ctx context.Context, tx *sql.Tx) error {
		err := tx.QueryRowContext(ctx, "DELETE FROM pending_enrollments WHERE hash = $1 RETURNING "+enrollPendingData, h[:]).
			Scan(&p.UserID, &p.InvitationID, &p.Ceremony, &p.TOTPSealed, &p.Factors, timeCol{&p.CreatedAt}, timeCol{&p.ExpiresAt},
				&scope, &session, timeCol{&p.EndsAt}, &p.CodesSealed)
		if errors.Is(err, sql.ErrNoRows) {
			return soft(authn.ErrNotFound)
		}
		return err
	}})
	if err != nil {
		return authn.EnrollPending{}, fmt.Errorf("take enrollment: %w", err)
	}
	if len(session) != 0 && len(session) != len(p.Session) {
		return authn.EnrollPending{}, fmt.Errorf("take enrollment: session hash of %d bytes", len(session))
	}
	p.Scope = authn.EnrollScope(scope)
	copy(p.Session[:], session)
	if !now.Before(p.ExpiresAt) {
		return p, fmt.Errorf("take enrollment: %w", authn.ErrExpired)
	}
	return p, nil
}

// nullSessionHash is h for a column, NULL for the zero hash (an invitation).
func nullSessionHash(h authn.SessionHash) any {
	if h == (authn.SessionHash{}) {
		return nil
	}
	return h[:]
}

// consumeInvitationTx marks the person's invitation used at now; when no row
// changes, a second read tells why.
func (s *Store) consumeInvitationTx(ctx context.Context, tx *sql.Tx, id, userID string, now time.Time) error {
	res, err := tx.ExecContext(ctx, `UPDATE invitations SET used_at = $3
		WHERE id = $1 AND user_id = $2 AND used_at IS NULL AND voided_at IS NULL AND expires_at > $3`,
		id, userID, s.tv(now))
	if err != nil {
		return err
	}
	if n, err := rowsAffected(res); err != nil || n == 1 {
		return err
	}
	var used, voided, expires time.Time
	err = tx.QueryRowContext(ctx, "SELECT used_at, voided_at, expires_at FROM invitations WHERE id = $1 AND user_id = $2",
		id, userID).Scan(timeCol{&used}, timeCol{&voided}, timeCol{&expires})
	switch {
	case err != nil:
		return dbErr(err)
	case !used.IsZero() || !voided.IsZero():
		return authn.ErrUsed
	}
	return authn.ErrExpired
}

// insertCredentialTx stores c and deletes the keys and apps a reset
// suspended: she has a new one.
func (s *Store) insertCredentialTx(ctx context.Context, tx *sql.Tx, c authn.Credential) error {
	if err := deleteSuspendedTx(ctx, tx, c.UserID); err != nil {
		return err
	}
	_, err := tx.ExecContext(ctx, "INSERT INTO credentials ("+credentialCols+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18)`,
		c.ID, c.UserID, c.Kind, c.Nickname, s.tv(c.CreatedAt), s.tvNull(c.LastUsedAt),
		nullBytes(c.WebAuthnID), nullBytes(c.PublicKey), int64(c.SignCount), nullBytes(c.AAGUID),
		strings.Join(c.Transports, " "), c.BackupEligible, c.AttestationFmt, c.Cloned,
		nullBytes(c.SecretSealed), c.LastStep, c.Attested, nullBytes(c.AttestationChain))
	return dbErr(err)
}

// DeleteCredential removes one credential of a person with ev, and her
// enrollments in progress, in one transaction.
func (s *Store) DeleteCredential(ctx context.Context, userID, credentialID string, ev authn.AuditEvent) error {
	err := s.adminTx(ctx, ev, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, "DELETE FROM credentials WHERE id = $1 AND user_id = $2", credentialID, userID)
		if err != nil {
			return err
		}
		if n, err := rowsAffected(res); err != nil || n == 0 {
			return cmp.Or(err, authn.ErrNotFound)
		}
		_, err = tx.ExecContext(ctx, "DELETE FROM pending_enrollments WHERE user_id = $1", userID)
		return err
	})
	if err != nil {
		return fmt.Errorf("delete credential %s of user %s: %w", credentialID, userID, err)
	}
	return nil
}

// ResetUser suspends the person's keys and apps, removes her recovery codes, revokes her
// sessions and stores a new invitation, in one transaction with ev, whose
// Details name what was revoked.
func (s *Store) ResetUser(ctx context.Context, userID string, at time.Time, inv authn.Invitation, codeHash authn.TokenHash, ev authn.AuditEvent) (authn.ResetReport, error) {
	var rep authn.ResetReport
	tx, err := s.wdb.BeginTx(ctx, nil)
	if err != nil {
		return rep, fmt.Errorf("reset user %s: %w", userID, err)
	}
	defer tx.Rollback()
	if err := s.lockAuditHead(ctx, tx); err != nil {
		return rep, fmt.Errorf("reset user %s: %w", userID, err)
	}
	if rep, err = s.revokeFactorsTx(ctx, tx, userID, at); err != nil {
		return rep, fmt.Errorf("reset user %s: %w", userID, err)
	}
	// A reset ends her pending recovery by e-mail: its cancel link must
	// not take the factors IT's invitation adds, nor give back the codes
	// the reset revoked (review of #15).
	if _, err := tx.ExecContext(ctx, `UPDATE recoveries SET ended_at = $2, outcome = $3 WHERE user_id = $1 AND ended_at IS NULL`,
		userID, s.tv(at), authn.RecoverySuperseded); err != nil {
		return rep, fmt.Errorf("reset user %s: end pending recovery: %w", userID, err)
	}
	if err := s.insertInvitationWithCode(ctx, tx, inv, codeHash); err != nil {
		return rep, fmt.Errorf("reset user %s: create invitation: %w", userID, err)
	}
	ev.Details = withResetDetails(ev.Details, rep)
	if err := s.appendAudit(ctx, tx, ev); err != nil {
		return rep, fmt.Errorf("reset user %s: %w", userID, err)
	}
	if err := tx.Commit(); err != nil {
		return rep, fmt.Errorf("reset user %s: commit: %w", userID, err)
	}
	if s.cache != nil {
		s.cache.dropUser(userID)
	}
	return rep, nil
}

// revokeFactorsTx suspends the person's keys and apps (they are deleted
// when she stores a new one), deletes her recovery codes, revokes her
// sessions, and counts what it did.
func (s *Store) revokeFactorsTx(ctx context.Context, tx *sql.Tx, userID string, at time.Time) (authn.ResetReport, error) {
	var rep authn.ResetReport
	var exists bool
	if err := tx.QueryRowContext(ctx, "SELECT EXISTS (SELECT 1 FROM users WHERE id = $1)", userID).Scan(&exists); err != nil {
		return rep, err
	}
	if !exists {
		return rep, authn.ErrNotFound
	}
	if err := s.suspendCredentialsTx(ctx, tx, userID, at, &rep); err != nil {
		return rep, err
	}
	steps := []struct {
		n     *int
		query string
		args  []any
	}{
		{&rep.RecoveryCodes, "DELETE FROM recovery_codes WHERE user_id = $1 AND used_at IS NULL", []any{userID}},
		{new(int), "DELETE FROM recovery_codes WHERE user_id = $1", []any{userID}},
		{&rep.Sessions, "UPDATE sessions SET revoked_at = $2 WHERE user_id = $1 AND revoked_at IS NULL", []any{userID, s.tv(at)}},
		{new(int), "DELETE FROM pending_enrollments WHERE user_id = $1", []any{userID}},
	}
	for _, st := range steps {
		res, err := tx.ExecContext(ctx, st.query, st.args...)
		if err != nil {
			return rep, err
		}
		if *st.n, err = rowsAffected(res); err != nil {
			return rep, err
		}
	}
	// Her tools' tokens end in the same transaction: telling the tools
	// afterwards (web's OIDCUserSignedOut, which still finds the grants)
	// may fail, a stolen refresh token must not outlive the reset.
	if _, err := s.revokeUserTokensTx(ctx, tx, userID, at); err != nil {
		return rep, err
	}
	return rep, nil
}

func withResetDetails(d map[string]string, rep authn.ResetReport) map[string]string {
	out := make(map[string]string, len(d)+5)
	for k, v := range d {
		out[k] = v
	}
	out["revoked_keys"] = strconv.Itoa(rep.Keys)
	out["revoked_apps"] = strconv.Itoa(rep.Apps)
	out["revoked_recovery_codes"] = strconv.Itoa(rep.RecoveryCodes)
	out["revoked_sessions"] = strconv.Itoa(rep.Sessions)
	out["revoked_credential_ids"] = strings.Join(rep.CredentialIDs, " ")
	return out
}
