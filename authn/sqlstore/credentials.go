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

const credentialCols = `id, user_id, kind, nickname, created_at, last_used_at, webauthn_id, public_key,
	sign_count, aaguid, transports, backup_eligible, attestation_fmt, cloned, secret_sealed, last_step,
	attested, attestation_chain`

// The hot credential statements, prepared at Open. sqlRecordKeyUse and
// sqlAcceptTOTPStep are the one conditional statement that moves a counter
// forward (WebAuthn L3 §7.2 step 22; RFC 6238 §5.2).
const (
	sqlListCredentials = "SELECT " + credentialCols + " FROM credentials WHERE user_id = $1 ORDER BY created_at, id"
	sqlGetCredentialBy = "SELECT " + credentialCols + " FROM credentials WHERE webauthn_id = $1"
	sqlRecordKeyUse    = `UPDATE credentials SET sign_count = $2, last_used_at = $3
		WHERE id = $1 AND kind = 'webauthn' AND (sign_count < $2 OR (sign_count = 0 AND $2 = 0))`
	sqlAcceptTOTPStep = `UPDATE credentials SET last_step = $2, last_used_at = $3
		WHERE id = $1 AND kind = 'totp' AND last_step < $2`
	sqlCredentialKind = "SELECT kind FROM credentials WHERE id = $1"
)

func scanCredential(row interface{ Scan(...any) error }) (authn.Credential, error) {
	var (
		c          authn.Credential
		signCount  int64
		transports string
	)
	err := row.Scan(&c.ID, &c.UserID, &c.Kind, &c.Nickname, timeCol{&c.CreatedAt}, timeCol{&c.LastUsedAt},
		&c.WebAuthnID, &c.PublicKey, &signCount, &c.AAGUID, &transports, &c.BackupEligible,
		&c.AttestationFmt, &c.Cloned, &c.SecretSealed, &c.LastStep, &c.Attested, &c.AttestationChain)
	c.SignCount = uint32(signCount)
	if transports != "" {
		c.Transports = strings.Split(transports, " ")
	}
	return c, err
}

// nullBytes is b as a query argument, NULL when empty.
func nullBytes(b []byte) any {
	if len(b) == 0 {
		return nil
	}
	return b
}

// checkCredential refuses a credential that the columns could not give back
// as it is.
func checkCredential(c authn.Credential) error {
	switch c.Kind {
	case authn.KindWebAuthn:
		if len(c.WebAuthnID) == 0 || len(c.WebAuthnID) > authn.MaxWebAuthnIDLength {
			return fmt.Errorf("credential id of %d bytes (want 1…%d)", len(c.WebAuthnID), authn.MaxWebAuthnIDLength)
		}
	case authn.KindTOTP:
		if len(c.SecretSealed) == 0 || len(c.WebAuthnID) != 0 {
			return errors.New("an app needs a sealed secret and no credential id")
		}
	default:
		return fmt.Errorf("unknown credential kind %q", c.Kind)
	}
	for _, t := range c.Transports {
		if t == "" || strings.ContainsAny(t, " \t\n") {
			return fmt.Errorf("transport %q is not a WebAuthn transport name", t)
		}
	}
	return nil
}

// CreateCredential stores c with ev.
func (s *Store) CreateCredential(ctx context.Context, c authn.Credential, ev authn.AuditEvent) error {
	if err := checkCredential(c); err != nil {
		return fmt.Errorf("create credential for user %s: %w", c.UserID, err)
	}
	err := s.adminTx(ctx, ev, func(tx *sql.Tx) error { return s.insertCredentialTx(ctx, tx, c) })
	if err != nil {
		return fmt.Errorf("create credential for user %s: %w", c.UserID, err)
	}
	return nil
}

// ListCredentials lists a person's credentials, oldest first.
func (s *Store) ListCredentials(ctx context.Context, userID string) ([]authn.Credential, error) {
	rows, err := s.stmt.listCredentials.QueryContext(s.quick(ctx), userID) // on the key sign-in's path (BeginKey)
	if err != nil {
		return nil, fmt.Errorf("list credentials of user %s: %w", userID, err)
	}
	defer rows.Close()
	out := []authn.Credential{}
	for rows.Next() {
		c, err := scanCredential(rows)
		if err != nil {
			return nil, fmt.Errorf("list credentials of user %s: %w", userID, err)
		}
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list credentials of user %s: %w", userID, err)
	}
	return out, nil
}

// GetCredentialByWebAuthnID finds a security key by its credential id.
func (s *Store) GetCredentialByWebAuthnID(ctx context.Context, id []byte) (authn.Credential, error) {
	if len(id) == 0 || len(id) > authn.MaxWebAuthnIDLength {
		return authn.Credential{}, fmt.Errorf("get credential: %w", authn.ErrNotFound)
	}
	c, err := scanCredential(s.stmt.getCredentialBy.QueryRowContext(ctx, id))
	if err != nil {
		return authn.Credential{}, fmt.Errorf("get credential: %w", dbErr(err))
	}
	return c, nil
}

// forward runs one conditional counter update through the batcher. When it
// changes no row, a second read in the same transaction tells a missing
// credential (ErrNotFound) from a value that does not move forward.
func (s *Store) forward(ctx context.Context, stmt *sql.Stmt, kind authn.CredentialKind, args ...any) error {
	return s.batch.do(&writeOp{ctx: ctx, run: func(ctx context.Context, tx *sql.Tx) error {
		res, err := tx.StmtContext(ctx, stmt).ExecContext(ctx, args...)
		if err != nil {
			return err
		}
		if n, err := rowsAffected(res); err != nil || n == 1 {
			return err
		}
		var k authn.CredentialKind
		err = tx.StmtContext(ctx, s.stmt.credentialKind).QueryRowContext(ctx, args[0]).Scan(&k)
		switch {
		case errors.Is(err, sql.ErrNoRows) || (err == nil && k != kind):
			return soft(authn.ErrNotFound)
		case err != nil:
			return err
		}
		return soft(authn.ErrNotForward)
	}})
}

// RecordKeyUse stores signCount and at if signCount is above the stored
// count, or both are 0, in one conditional statement (through the batcher).
func (s *Store) RecordKeyUse(ctx context.Context, id string, signCount uint32, at time.Time) error {
	if err := s.forward(ctx, s.stmt.recordKeyUse, authn.KindWebAuthn, id, int64(signCount), s.tv(at)); err != nil {
		return fmt.Errorf("record use of key %s: %w", id, err)
	}
	return nil
}

// AcceptTOTPStep stores step and at if step is above the last accepted
// one, in one conditional statement (through the batcher).
func (s *Store) AcceptTOTPStep(ctx context.Context, id string, step int64, at time.Time) error {
	if err := s.forward(ctx, s.stmt.acceptTOTPStep, authn.KindTOTP, id, step, s.tv(at)); err != nil {
		return fmt.Errorf("accept time step of app %s: %w", id, err)
	}
	return nil
}

// FlagCloned marks a security key as possibly cloned, with ev.
func (s *Store) FlagCloned(ctx context.Context, id string, ev authn.AuditEvent) error {
	err := s.auditedExec(ctx, ev, "UPDATE credentials SET cloned = $2 WHERE id = $1 AND kind = 'webauthn'", id, true)
	if err != nil {
		return fmt.Errorf("flag key %s as cloned: %w", id, err)
	}
	return nil
}

// KeyStats' queries; %s is the dialect's byte length.
const (
	sqlKeyIDLengths = `SELECT %s(webauthn_id), count(*) FROM credentials
	WHERE kind = 'webauthn' AND NOT cloned GROUP BY 1`
	sqlKeysPerPerson = `SELECT n, count(*) FROM (SELECT count(*) AS n FROM credentials
	WHERE kind = 'webauthn' AND NOT cloned GROUP BY user_id) AS per_person GROUP BY n`
)

// KeyStats counts the security keys by the length of their credential id,
// and the people by their number of keys: scans of the credentials, for
// the fake ceremonies of unknown usernames, which authn asks for now and
// then.
func (s *Store) KeyStats(ctx context.Context) (authn.KeyStats, error) {
	length := "length"
	if s.dialect == dialectPostgres {
		length = "octet_length"
	}
	var st authn.KeyStats
	var err error
	if st.IDLengths, err = s.countBy(ctx, fmt.Sprintf(sqlKeyIDLengths, length)); err != nil {
		return authn.KeyStats{}, fmt.Errorf("count security keys by id length: %w", err)
	}
	if st.PerPerson, err = s.countBy(ctx, sqlKeysPerPerson); err != nil {
		return authn.KeyStats{}, fmt.Errorf("count people by their number of keys: %w", err)
	}
	return st, nil
}

// countBy runs query, whose rows are a value and its count.
func (s *Store) countBy(ctx context.Context, query string) (map[int]int, error) {
	rows, err := s.rdb.QueryContext(ctx, query)
	if err != nil {
		return nil, dbErr(err)
	}
	defer rows.Close()
	counts := map[int]int{}
	for rows.Next() {
		var n, c int
		if err := rows.Scan(&n, &c); err != nil {
			return nil, dbErr(err)
		}
		counts[n] = c
	}
	if err := rows.Err(); err != nil {
		return nil, dbErr(err)
	}
	return counts, nil
}
