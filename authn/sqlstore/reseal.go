package sqlstore

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/keyhall/keyhall/authn"
)

// sealedColumns are the columns that hold secrets sealed under the
// encryption key: the table, its key column, the column whose value the
// seal's additional data names, the sealed column, and the kind ResealSecrets
// reports.
var sealedColumns = []struct{ table, key, adCol, col, kind string }{
	{"credentials", "id", "id", "secret_sealed", authn.SealedCredential},
	{"suspended_credentials", "id", "id", "secret_sealed", authn.SealedCredential},
	{"pending_enrollments", "hash", "user_id", "totp_sealed", authn.SealedEnrollApp},
	{"pending_enrollments", "hash", "user_id", "codes_sealed", authn.SealedEnrollCodes},
	{"oidc_keys", "id", "id", "private_sealed", authn.SealedSigningKey},
	{"oidc_signing_keys", "slot", "id", "private_sealed", authn.SealedSigningKey}, // before 0025
}

// SealedSecrets calls fn with every stored secret sealed under the
// encryption key: its kind, where it is (table and key), the id its seal's
// additional data names, and the sealed bytes; it stops at fn's first
// error. Read only: admin restore checks with it that the key file opens
// a backup's secrets.
func (s *Store) SealedSecrets(ctx context.Context, fn func(kind, table, key, id string, sealed []byte) error) error {
	for _, c := range sealedColumns {
		rows, err := s.rdb.QueryContext(ctx, fmt.Sprintf("SELECT %s, %s, %s FROM %s WHERE %s IS NOT NULL",
			c.key, c.adCol, c.col, c.table, c.col))
		if err != nil {
			return fmt.Errorf("read %s.%s: %w", c.table, c.col, err)
		}
		for rows.Next() {
			var key any
			var id string
			var sealed []byte
			if err := rows.Scan(&key, &id, &sealed); err != nil {
				rows.Close()
				return err
			}
			if err := fn(c.kind, c.table, fmt.Sprint(key), id, sealed); err != nil {
				rows.Close()
				return err
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
	}
	return nil
}

// ResealSecrets re-seals every stored secret in one transaction: reseal
// gets each one's kind, the id its additional data names and its sealed
// bytes, and returns them sealed anew. The stored keys fingerprint, if it
// is fromFP or toFP, becomes toFP; any other is refused and nothing
// changes. ev is audited in the same transaction. It
// returns how many secrets it re-sealed.
func (s *Store) ResealSecrets(ctx context.Context, reseal func(kind, id string, sealed []byte) ([]byte, error),
	fromFP, toFP string, ev authn.AuditEvent) (int, error) {
	n := 0
	err := s.adminTx(ctx, ev, func(tx *sql.Tx) error {
		var fp string
		err := tx.QueryRowContext(ctx, "SELECT value FROM settings WHERE name = 'keys_fingerprint'").Scan(&fp)
		if err != nil && err != sql.ErrNoRows {
			return err
		}
		if err == nil && fp != fromFP && fp != toFP {
			return fmt.Errorf("the database was set up with other keys (fingerprint %s; the previous keys have %s, the new ones %s)",
				fp, fromFP, toFP)
		}
		for _, c := range sealedColumns {
			rows, err := tx.QueryContext(ctx, fmt.Sprintf("SELECT %s, %s, %s FROM %s WHERE %s IS NOT NULL",
				c.key, c.adCol, c.col, c.table, c.col))
			if err != nil {
				return fmt.Errorf("read %s.%s: %w", c.table, c.col, err)
			}
			type row struct {
				key    any
				id     string
				sealed []byte
			}
			var all []row
			for rows.Next() {
				var r row
				if err := rows.Scan(&r.key, &r.id, &r.sealed); err != nil {
					rows.Close()
					return err
				}
				all = append(all, r)
			}
			rows.Close()
			if err := rows.Err(); err != nil {
				return err
			}
			for _, r := range all {
				// Compare and swap: a process may replace the secret
				// meanwhile (an app enrolled anew); then the newer one is
				// read and re-sealed, not overwritten.
				for try := 0; ; try++ {
					b, err := reseal(c.kind, r.id, r.sealed)
					if err != nil {
						return fmt.Errorf("%s %s (table %s, row %v, column %s): %w", c.kind, r.id, c.table, r.key, c.col, err)
					}
					res, err := tx.ExecContext(ctx, fmt.Sprintf("UPDATE %s SET %s = $1 WHERE %s = $2 AND %s = $3",
						c.table, c.col, c.key, c.col), b, r.key, r.sealed)
					if err != nil {
						return err
					}
					if k, err := res.RowsAffected(); err != nil || k == 1 {
						n++
						break
					}
					if try == 10 {
						return fmt.Errorf("%s %s (table %s, row %v): it keeps changing while it is re-sealed", c.kind, r.id, c.table, r.key)
					}
					err = tx.QueryRowContext(ctx, fmt.Sprintf("SELECT %s FROM %s WHERE %s = $1", c.col, c.table, c.key), r.key).Scan(&r.sealed)
					if err == sql.ErrNoRows || err == nil && r.sealed == nil {
						break // gone meanwhile (taken, deleted): nothing to re-seal
					}
					if err != nil {
						return err
					}
				}
			}
		}
		_, err = tx.ExecContext(ctx, "INSERT INTO settings (name, value) VALUES ('keys_fingerprint', $1) "+
			"ON CONFLICT (name) DO UPDATE SET value = excluded.value", toFP)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("reseal secrets: %w", err)
	}
	return n, nil
}
