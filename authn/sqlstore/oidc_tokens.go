package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/keyhall/keyhall/authn"
)

const tokenCols = `id, kind, hash, grant_id, client_id, user_id, session_hash, scopes, amr, acr,
	auth_time, created_at, expires_at, used_at, revoked_at`

// The token endpoint's statements, prepared at Open: storing a token,
// finding a refresh token, and using one up (once).
const (
	sqlInsertToken = "INSERT INTO oidc_tokens (" + tokenCols + `)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)`
	sqlRefreshToken  = "SELECT " + tokenCols + " FROM oidc_tokens WHERE hash = $1 AND kind = 'refresh'"
	sqlRotateRefresh = `UPDATE oidc_tokens SET used_at = $2
		WHERE hash = $1 AND kind = 'refresh' AND used_at IS NULL AND revoked_at IS NULL AND expires_at > $2
		RETURNING grant_id`
)

func scanToken(row interface{ Scan(...any) error }) (authn.OIDCToken, error) {
	var (
		t           authn.OIDCToken
		scopes, amr string
	)
	err := row.Scan(&t.ID, &t.Kind, nullHashCol{(*[32]byte)(&t.Hash)}, &t.GrantID, &t.ClientID, &t.UserID,
		hashCol{(*[32]byte)(&t.Session)}, &scopes, &amr, &t.ACR, timeCol{&t.AuthTime}, timeCol{&t.CreatedAt},
		timeCol{&t.ExpiresAt}, timeCol{&t.UsedAt}, timeCol{&t.RevokedAt})
	t.Scopes, t.AMR = splitList(scopes), splitList(amr)
	return t, err
}

// insertTokens stores tokens in tx.
func (s *Store) insertTokens(ctx context.Context, tx *sql.Tx, tokens []authn.OIDCToken) error {
	if len(tokens) == 0 {
		return nil
	}
	insert := tx.StmtContext(ctx, s.stmt.insertToken)
	for _, t := range tokens {
		scopes, err := joinList("scope", t.Scopes)
		if err != nil {
			return err
		}
		amr, err := joinList("amr", t.AMR)
		if err != nil {
			return err
		}
		_, err = insert.ExecContext(ctx,
			t.ID, t.Kind, hashOrNull(t.Hash), t.GrantID, t.ClientID, t.UserID, t.Session[:], scopes, amr, t.ACR,
			s.tv(t.AuthTime), s.tv(t.CreatedAt), s.tv(t.ExpiresAt), s.tvNull(t.UsedAt), s.tvNull(t.RevokedAt))
		if err != nil {
			return dbErr(err)
		}
	}
	return nil
}

// CreateOIDCTokens stores tokens in one transaction.
func (s *Store) CreateOIDCTokens(ctx context.Context, tokens ...authn.OIDCToken) error {
	err := s.writeTx(ctx, func(tx *sql.Tx) error { return s.insertTokens(ctx, tx, tokens) })
	if err != nil {
		return fmt.Errorf("create oidc tokens: %w", err)
	}
	return nil
}

// GetOIDCToken returns a token by ID, whatever its state.
func (s *Store) GetOIDCToken(ctx context.Context, id string) (authn.OIDCToken, error) {
	t, err := scanToken(s.rdb.QueryRowContext(ctx, "SELECT "+tokenCols+" FROM oidc_tokens WHERE id = $1", id))
	if err != nil {
		return authn.OIDCToken{}, fmt.Errorf("get oidc token: %w", dbErr(err))
	}
	return t, nil
}

// GetOIDCRefreshToken returns a refresh token by hash, whatever its state.
func (s *Store) GetOIDCRefreshToken(ctx context.Context, h authn.TokenHash) (authn.OIDCToken, error) {
	t, err := scanToken(s.stmt.refreshToken.QueryRowContext(ctx, h[:]))
	if err != nil {
		return authn.OIDCToken{}, fmt.Errorf("get oidc refresh token: %w", dbErr(err))
	}
	return t, nil
}

// RotateOIDCRefreshToken marks the old token used in one conditional
// statement and stores next; if no row changed, a second read tells why,
// and a reused token revokes its family in the same transaction.
func (s *Store) RotateOIDCRefreshToken(ctx context.Context, old authn.TokenHash, now time.Time, next ...authn.OIDCToken) error {
	err := s.writeTx(ctx, func(tx *sql.Tx) error {
		var grant string
		err := tx.StmtContext(ctx, s.stmt.rotateRefresh).QueryRowContext(ctx, old[:], s.tv(now)).Scan(&grant)
		if err == nil {
			return s.insertTokens(ctx, tx, next)
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		t, err := scanToken(tx.QueryRowContext(ctx, sqlRefreshToken, old[:]))
		switch {
		case err != nil:
			return softIfSentinel(dbErr(err))
		case !t.UsedAt.IsZero():
			if _, err := s.revokeGrantTx(ctx, tx, t.GrantID, now); err != nil {
				return err
			}
			return soft(authn.ErrUsed)
		case !t.RevokedAt.IsZero():
			return soft(authn.ErrNotFound)
		}
		return soft(authn.ErrExpired)
	})
	if err != nil {
		return fmt.Errorf("rotate oidc refresh token: %w", err)
	}
	return nil
}

// revokeGrantTx revokes every unrevoked token of a family.
func (s *Store) revokeGrantTx(ctx context.Context, tx *sql.Tx, grantID string, at time.Time) (int, error) {
	res, err := tx.ExecContext(ctx, `UPDATE oidc_tokens SET revoked_at = $2
		WHERE grant_id = $1 AND revoked_at IS NULL`, grantID, s.tv(at))
	if err != nil {
		return 0, fmt.Errorf("revoke grant %s: %w", grantID, err)
	}
	return rowsAffected(res)
}

// RevokeOIDCGrant revokes every token of a family.
func (s *Store) RevokeOIDCGrant(ctx context.Context, grantID string, at time.Time) (int, error) {
	var n int
	err := s.writeTx(ctx, func(tx *sql.Tx) error {
		var err error
		n, err = s.revokeGrantTx(ctx, tx, grantID, at)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("revoke oidc grant: %w", err)
	}
	return n, nil
}

// RevokeOIDCToken revokes an access token, or a refresh token's family.
func (s *Store) RevokeOIDCToken(ctx context.Context, id string, at time.Time) error {
	err := s.writeTx(ctx, func(tx *sql.Tx) error {
		var kind, grant string
		err := tx.QueryRowContext(ctx, "SELECT kind, grant_id FROM oidc_tokens WHERE id = $1", id).Scan(&kind, &grant)
		if err != nil {
			return softIfSentinel(dbErr(err))
		}
		if authn.OIDCTokenKind(kind) == authn.OIDCRefreshToken {
			_, err = s.revokeGrantTx(ctx, tx, grant, at)
			return err
		}
		_, err = tx.ExecContext(ctx, `UPDATE oidc_tokens SET revoked_at = COALESCE(revoked_at, $2)
			WHERE id = $1`, id, s.tv(at))
		return err
	})
	if err != nil {
		return fmt.Errorf("revoke oidc token: %w", err)
	}
	return nil
}

// sqlVoidSessionCodes uses up the codes of a session not yet redeemed, so
// that none is redeemed into tokens after the session's tokens were
// revoked. Run before the tokens are read: a redemption that commits
// first has its tokens revoked, one that commits after finds its code
// used (ErrUsed).
const sqlVoidSessionCodes = `UPDATE oidc_auth_requests SET code_used_at = $2
	WHERE session_hash = $1 AND code_hash IS NOT NULL AND code_used_at IS NULL`

// RevokeOIDCSessionTokens revokes the tokens issued through a session, and
// uses up its codes not yet redeemed.
func (s *Store) RevokeOIDCSessionTokens(ctx context.Context, h authn.SessionHash, at time.Time) ([]authn.OIDCGrantRef, error) {
	refs, err := s.revokeTokensWhere(ctx, "session_hash = $1", h[:], at, sqlVoidSessionCodes)
	if err != nil {
		return nil, fmt.Errorf("revoke oidc tokens of a session: %w", err)
	}
	return refs, nil
}

// RevokeOIDCUserTokens revokes every token of a person.
func (s *Store) RevokeOIDCUserTokens(ctx context.Context, userID string, at time.Time) ([]authn.OIDCGrantRef, error) {
	refs, err := s.revokeTokensWhere(ctx, "user_id = $1", userID, at)
	if err != nil {
		return nil, fmt.Errorf("revoke oidc tokens of user %s: %w", userID, err)
	}
	return refs, nil
}

// revokeTokensWhere runs first (with $1 = arg, $2 = at), lists the clients
// and sessions of the tokens matching cond (with $1 = arg), then revokes
// those tokens, in one transaction.
func (s *Store) revokeTokensWhere(ctx context.Context, cond string, arg any, at time.Time, first ...string) ([]authn.OIDCGrantRef, error) {
	var refs []authn.OIDCGrantRef
	err := s.writeTx(ctx, func(tx *sql.Tx) error {
		for _, q := range first {
			if _, err := tx.ExecContext(ctx, q, arg, s.tv(at)); err != nil {
				return err
			}
		}
		rows, err := tx.QueryContext(ctx, `SELECT DISTINCT client_id, user_id, session_hash FROM oidc_tokens
			WHERE `+cond+" ORDER BY client_id, user_id, session_hash", arg)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var r authn.OIDCGrantRef
			if err := rows.Scan(&r.ClientID, &r.UserID, hashCol{(*[32]byte)(&r.Session)}); err != nil {
				return err
			}
			refs = append(refs, r)
		}
		if err := rows.Err(); err != nil {
			return err
		}
		rows.Close()
		_, err = tx.ExecContext(ctx, "UPDATE oidc_tokens SET revoked_at = $2 WHERE "+cond+
			" AND revoked_at IS NULL", arg, s.tv(at))
		return err
	})
	return refs, err
}
