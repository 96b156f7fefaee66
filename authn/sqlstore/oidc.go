package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/keyhall/keyhall/authn"
)

var _ authn.OIDCStore = (*Store)(nil)

// joinList stores a list of tokens without spaces (scopes, amr values) as
// one space-separated column.
func joinList(what string, l []string) (string, error) {
	for _, v := range l {
		if v == "" || strings.ContainsAny(v, " \t\r\n") {
			return "", fmt.Errorf("%s value %q is empty or holds white space", what, v)
		}
	}
	return strings.Join(l, " "), nil
}

// splitList reads what joinList stored.
func splitList(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(s, " ")
}

// nullHashCol scans a nullable 32-byte column: NULL is the zero hash.
type nullHashCol struct{ h *[32]byte }

// Scan implements sql.Scanner.
func (c nullHashCol) Scan(v any) error {
	if v == nil {
		*c.h = [32]byte{}
		return nil
	}
	return hashCol(c).Scan(v)
}

// hashOrNull is a query argument for a nullable hash column.
func hashOrNull(h [32]byte) any {
	if h == ([32]byte{}) {
		return nil
	}
	return h[:]
}

const authRequestCols = `id, client_id, redirect_uri, scopes, state, nonce, response_mode, code_challenge,
	challenge_method, prompt, max_age_seconds, acr_values, login_hint, binding, created_at, expires_at,
	user_id, amr, acr, auth_time, session_hash, done_at, code_hash, code_expires_at, code_used_at, hint_subject`

// The token endpoint's statements, prepared at Open: the request of a code
// with its person (one read), and its redemption (which marks an unused,
// unexpired code used, once).
var sqlAuthRequestByCode = "SELECT " + qualify("r.", authRequestCols) + ", " + userColsOrEmpty + `
	FROM oidc_auth_requests r LEFT JOIN users u ON u.id = r.user_id WHERE r.code_hash = $1`

const sqlRedeemCode = `UPDATE oidc_auth_requests SET code_used_at = $2
	WHERE code_hash = $1 AND code_used_at IS NULL AND code_expires_at > $2`

// sqlUseUpCode marks an unused code used whatever its expiry and returns
// the expiry: when sqlRedeemCode changed nothing, an expired code is used
// up all the same.
const sqlUseUpCode = `UPDATE oidc_auth_requests SET code_used_at = $2
	WHERE code_hash = $1 AND code_used_at IS NULL RETURNING code_expires_at`

// userColsOrEmpty are userCols of the person "u" of a LEFT JOIN: empty
// strings and NULL times when there is none.
const userColsOrEmpty = `COALESCE(u.id, ''), COALESCE(u.external_id, ''), COALESCE(u.username, ''),
	COALESCE(u.display_name, ''), COALESCE(u.email, ''), COALESCE(u.status, ''), COALESCE(u.source, ''),
	u.created_at, u.updated_at, COALESCE(u.postal_address, ''), COALESCE(u.verified_email, ''),
	COALESCE(u.directory, ''), COALESCE(u.phone, '')`

// qualify puts prefix before each column of the comma-separated cols.
func qualify(prefix, cols string) string {
	parts := strings.Split(cols, ",")
	for i, c := range parts {
		parts[i] = prefix + strings.TrimSpace(c)
	}
	return strings.Join(parts, ", ")
}

func scanAuthRequest(row interface{ Scan(...any) error }) (authn.OIDCAuthRequest, error) {
	var x authRequestRow
	err := row.Scan(x.dest()...)
	return x.request(), err
}

// authRequestRow is what a row of authRequestCols is scanned into.
type authRequestRow struct {
	r                        authn.OIDCAuthRequest
	scopes, prompt, acr, amr string
	maxAge                   int64
}

func (x *authRequestRow) dest() []any {
	r := &x.r
	return []any{&r.ID, &r.ClientID, &r.RedirectURI, &x.scopes, &r.State, &r.Nonce, &r.ResponseMode,
		&r.CodeChallenge, &r.CodeChallengeMethod, &x.prompt, &x.maxAge, &x.acr, &r.LoginHint, hashCol{&r.Binding},
		timeCol{&r.CreatedAt}, timeCol{&r.ExpiresAt}, &r.UserID, &x.amr, &r.ACR, timeCol{&r.AuthTime},
		nullHashCol{(*[32]byte)(&r.Session)}, timeCol{&r.DoneAt}, nullHashCol{(*[32]byte)(&r.CodeHash)},
		timeCol{&r.CodeExpiresAt}, timeCol{&r.CodeUsedAt}, &r.HintSubject}
}

func (x *authRequestRow) request() authn.OIDCAuthRequest {
	r := x.r
	r.Scopes, r.Prompt, r.ACRValues, r.AMR = splitList(x.scopes), splitList(x.prompt), splitList(x.acr), splitList(x.amr)
	r.MaxAge = -1
	if x.maxAge >= 0 {
		r.MaxAge = time.Duration(x.maxAge) * time.Second
	}
	return r
}

// CreateOIDCAuthRequest stores r.
func (s *Store) CreateOIDCAuthRequest(ctx context.Context, r authn.OIDCAuthRequest) error {
	lists := make([]string, 4)
	for i, l := range [][]string{r.Scopes, r.Prompt, r.ACRValues, r.AMR} {
		var err error
		if lists[i], err = joinList("auth request list", l); err != nil {
			return fmt.Errorf("create oidc auth request: %w", err)
		}
	}
	maxAge := int64(-1)
	if r.MaxAge >= 0 {
		maxAge = int64(r.MaxAge / time.Second)
	}
	_, err := s.wdb.ExecContext(ctx, "INSERT INTO oidc_auth_requests ("+authRequestCols+`) VALUES
		($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23, $24, $25, $26)`,
		r.ID, r.ClientID, r.RedirectURI, lists[0], r.State, r.Nonce, r.ResponseMode, r.CodeChallenge,
		r.CodeChallengeMethod, lists[1], maxAge, lists[2], r.LoginHint, r.Binding[:], s.tv(r.CreatedAt),
		s.tv(r.ExpiresAt), r.UserID, lists[3], r.ACR, s.tvNull(r.AuthTime), hashOrNull(r.Session),
		s.tvNull(r.DoneAt), hashOrNull(r.CodeHash), s.tvNull(r.CodeExpiresAt), s.tvNull(r.CodeUsedAt), r.HintSubject)
	if err != nil {
		return fmt.Errorf("create oidc auth request: %w", dbErr(err))
	}
	return nil
}

// GetOIDCAuthRequest returns the request, whatever its state.
func (s *Store) GetOIDCAuthRequest(ctx context.Context, id string) (authn.OIDCAuthRequest, error) {
	r, err := scanAuthRequest(s.rdb.QueryRowContext(ctx,
		"SELECT "+authRequestCols+" FROM oidc_auth_requests WHERE id = $1", id))
	if err != nil {
		return authn.OIDCAuthRequest{}, fmt.Errorf("get oidc auth request: %w", dbErr(err))
	}
	return r, nil
}

// CompleteOIDCAuthRequest records the sign-in in one conditional statement;
// when it changes nothing, a second read tells why.
func (s *Store) CompleteOIDCAuthRequest(ctx context.Context, id string, in authn.OIDCSignIn, now time.Time) error {
	amr, err := joinList("amr", in.AMR)
	if err != nil {
		return fmt.Errorf("complete oidc auth request: %w", err)
	}
	res, err := s.wdb.ExecContext(ctx, `UPDATE oidc_auth_requests
		SET user_id = $2, amr = $3, acr = $4, auth_time = $5, session_hash = $6, done_at = $7
		WHERE id = $1 AND done_at IS NULL AND expires_at > $7`,
		id, in.UserID, amr, in.ACR, s.tv(in.AuthTime), in.Session[:], s.tv(now))
	if err != nil {
		return fmt.Errorf("complete oidc auth request: %w", err)
	}
	if n, err := rowsAffected(res); err != nil || n == 1 {
		return err
	}
	r, err := s.GetOIDCAuthRequest(ctx, id)
	switch {
	case err != nil:
		return fmt.Errorf("complete oidc auth request: %w", err)
	case r.Done():
		return fmt.Errorf("complete oidc auth request: %w", authn.ErrUsed)
	}
	return fmt.Errorf("complete oidc auth request: %w", authn.ErrExpired)
}

// SetOIDCCode attaches a code hash to a completed request, once.
func (s *Store) SetOIDCCode(ctx context.Context, id string, h authn.TokenHash, expires time.Time) error {
	res, err := s.wdb.ExecContext(ctx, `UPDATE oidc_auth_requests SET code_hash = $2, code_expires_at = $3
		WHERE id = $1 AND done_at IS NOT NULL AND code_hash IS NULL`, id, h[:], s.tv(expires))
	if err != nil {
		return fmt.Errorf("set oidc code: %w", dbErr(err))
	}
	if n, err := rowsAffected(res); err != nil || n == 1 {
		return err
	}
	r, err := s.GetOIDCAuthRequest(ctx, id)
	switch {
	case err != nil:
		return fmt.Errorf("set oidc code: %w", err)
	case !r.Done():
		return fmt.Errorf("set oidc code: request not completed: %w", authn.ErrNotFound)
	}
	return fmt.Errorf("set oidc code: %w", authn.ErrUsed)
}

// GetOIDCAuthRequestByCode returns the request whose code has hash h and
// its person, in one query.
func (s *Store) GetOIDCAuthRequestByCode(ctx context.Context, h authn.TokenHash) (authn.OIDCAuthRequest, authn.User, error) {
	var (
		r authRequestRow
		u userRow
	)
	row := s.stmt.authRequestByCode.QueryRowContext(s.quick(ctx), h[:])
	if err := row.Scan(append(r.dest(), u.dest()...)...); err != nil {
		return authn.OIDCAuthRequest{}, authn.User{}, fmt.Errorf("get oidc auth request by code: %w", dbErr(err))
	}
	return r.request(), u.user(), nil
}

// RedeemOIDCCode marks an unused, unexpired code used in one conditional
// statement and stores the tokens in the same transaction. If no row
// changed, the code was expired (and is used up all the same), unknown or
// used before; a reused code revokes its tokens in the same transaction.
func (s *Store) RedeemOIDCCode(ctx context.Context, h authn.TokenHash, now time.Time, tokens ...authn.OIDCToken) error {
	err := s.writeTx(ctx, func(tx *sql.Tx) error {
		qctx := s.quick(ctx)
		res, err := tx.StmtContext(qctx, s.stmt.redeemCode).ExecContext(qctx, h[:], s.tv(now))
		if err != nil {
			return err
		}
		switch n, err := rowsAffected(res); {
		case err != nil:
			return err
		case n == 1:
			return s.insertTokens(qctx, tx, tokens)
		}
		var expires time.Time
		err = tx.QueryRowContext(qctx, sqlUseUpCode, h[:], s.tv(now)).Scan(timeCol{&expires})
		switch {
		case err == nil:
			return soft(authn.ErrExpired)
		case !errors.Is(err, sql.ErrNoRows):
			return err
		}
		var grant string
		err = tx.QueryRowContext(qctx, "SELECT id FROM oidc_auth_requests WHERE code_hash = $1", h[:]).Scan(&grant)
		if err != nil {
			return softIfSentinel(dbErr(err))
		}
		if _, err := s.revokeGrantTx(qctx, tx, grant, now); err != nil {
			return err
		}
		return soft(authn.ErrUsed)
	})
	if err != nil {
		return fmt.Errorf("redeem oidc code: %w", err)
	}
	return nil
}

// writeTx runs fn through the batcher, so that concurrent token requests
// share one commit. fn may run twice (see writeOp.run); a soft error is
// its result and is committed with the rest.
func (s *Store) writeTx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	return s.batch.do(&writeOp{ctx: ctx, run: func(_ context.Context, tx *sql.Tx) error { return fn(tx) }})
}

// softIfSentinel marks the authn sentinels as soft: a statement that found
// nothing leaves the batch's transaction usable.
func softIfSentinel(err error) error {
	if errors.Is(err, authn.ErrNotFound) || errors.Is(err, authn.ErrExpired) || errors.Is(err, authn.ErrUsed) {
		return soft(err)
	}
	return err
}

// DeleteOIDCBefore removes requests whose sign-in window and code expired
// before t, and tokens that expired before t.
func (s *Store) DeleteOIDCBefore(ctx context.Context, t time.Time) (int, error) {
	n1, err := s.execRetry(ctx, `DELETE FROM oidc_auth_requests WHERE expires_at < $1
		AND (code_expires_at IS NULL OR code_expires_at < $1)`, s.tv(t))
	if err != nil {
		return 0, fmt.Errorf("delete old oidc auth requests: %w", err)
	}
	n2, err := s.execRetry(ctx, "DELETE FROM oidc_tokens WHERE expires_at < $1", s.tv(t))
	if err != nil {
		return n1, fmt.Errorf("delete old oidc tokens: %w", err)
	}
	return n1 + n2, nil
}
