package sqlstore

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/keyhall/keyhall/authn"
)

var _ authn.OIDCKeyStore = (*Store)(nil)

const oidcKeyCols = `id, algorithm, public_key, private_sealed, created_at, activated_at, retired_at`

func scanOIDCKey(row interface{ Scan(...any) error }) (authn.OIDCSigningKey, error) {
	var k authn.OIDCSigningKey
	err := row.Scan(&k.ID, &k.Algorithm, &k.PublicKey, &k.PrivateSealed,
		timeCol{&k.CreatedAt}, timeCol{&k.ActivatedAt}, timeCol{&k.RetiredAt})
	return k, err
}

// EnsureOIDCSigningKey inserts k as the active key unless there is one (the
// partial unique index oidc_keys_one_active admits one), then reads the
// active key back: every caller gets the key that won.
func (s *Store) EnsureOIDCSigningKey(ctx context.Context, k authn.OIDCSigningKey) (authn.OIDCSigningKey, error) {
	if k.ActivatedAt.IsZero() {
		k.ActivatedAt = k.CreatedAt
	}
	_, err := s.wdb.ExecContext(ctx, `INSERT INTO oidc_keys (`+oidcKeyCols+`)
		VALUES ($1, $2, $3, $4, $5, $6, NULL) ON CONFLICT DO NOTHING`,
		k.ID, k.Algorithm, k.PublicKey, k.PrivateSealed, s.tv(k.CreatedAt), s.tv(k.ActivatedAt))
	if err != nil {
		return authn.OIDCSigningKey{}, fmt.Errorf("store oidc signing key: %w", err)
	}
	return s.OIDCSigningKey(ctx)
}

// OIDCSigningKey reads the active key without creating one:
// authn.ErrNotFound when there is none.
func (s *Store) OIDCSigningKey(ctx context.Context) (authn.OIDCSigningKey, error) {
	k, err := scanOIDCKey(s.wdb.QueryRowContext(ctx, `SELECT `+oidcKeyCols+` FROM oidc_keys WHERE retired_at IS NULL`))
	if err != nil {
		return authn.OIDCSigningKey{}, fmt.Errorf("read oidc signing key: %w", dbErr(err))
	}
	return k, nil
}

// ActiveOIDCSigningKeyID reads the active key's ID: one row of the partial
// index, no sealed bytes.
func (s *Store) ActiveOIDCSigningKeyID(ctx context.Context) (string, error) {
	var id string
	err := s.rdb.QueryRowContext(s.quick(ctx), `SELECT id FROM oidc_keys WHERE retired_at IS NULL`).Scan(&id)
	if err != nil {
		return "", fmt.Errorf("read oidc signing key id: %w", dbErr(err))
	}
	return id, nil
}

// OIDCSigningKeys reads every key, the most recently activated first.
func (s *Store) OIDCSigningKeys(ctx context.Context) ([]authn.OIDCSigningKey, error) {
	rows, err := s.rdb.QueryContext(ctx, `SELECT `+oidcKeyCols+` FROM oidc_keys ORDER BY activated_at DESC, id`)
	if err != nil {
		return nil, fmt.Errorf("list oidc signing keys: %w", err)
	}
	defer rows.Close()
	var keys []authn.OIDCSigningKey
	for rows.Next() {
		k, err := scanOIDCKey(rows)
		if err != nil {
			return nil, fmt.Errorf("list oidc signing keys: %w", err)
		}
		keys = append(keys, k)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list oidc signing keys: %w", err)
	}
	return keys, nil
}

// RotateOIDCSigningKey retires the active key at k.ActivatedAt and stores k
// as the active one, with ev, in one transaction.
func (s *Store) RotateOIDCSigningKey(ctx context.Context, k authn.OIDCSigningKey, ev authn.AuditEvent) (authn.OIDCSigningKey, error) {
	if k.ActivatedAt.IsZero() {
		return authn.OIDCSigningKey{}, fmt.Errorf("rotate oidc signing key: activation time missing")
	}
	var old authn.OIDCSigningKey
	err := s.adminTx(ctx, ev, func(tx *sql.Tx) error {
		var err error
		old, err = scanOIDCKey(tx.QueryRowContext(ctx, `UPDATE oidc_keys SET retired_at = $1
			WHERE retired_at IS NULL RETURNING `+oidcKeyCols, s.tv(k.ActivatedAt)))
		if err != nil && err != sql.ErrNoRows {
			return err
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO oidc_keys (`+oidcKeyCols+`) VALUES ($1, $2, $3, $4, $5, $6, NULL)`,
			k.ID, k.Algorithm, k.PublicKey, k.PrivateSealed, s.tv(k.CreatedAt), s.tv(k.ActivatedAt))
		return err
	})
	if err != nil {
		return authn.OIDCSigningKey{}, fmt.Errorf("rotate oidc signing key: %w", dbErr(err))
	}
	return old, nil
}
