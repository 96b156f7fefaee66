package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	"github.com/keyhall/keyhall/authn"
)

// joinedCredentialCols are credentialCols of the credentials c joined to a
// person: NULL (no credential) read as empty values, so that a person
// without any gives one row, whose credential id is "".
const joinedCredentialCols = `COALESCE(c.id, ''), COALESCE(c.user_id, ''), COALESCE(c.kind, ''),
	COALESCE(c.nickname, ''), c.created_at, c.last_used_at, c.webauthn_id, c.public_key,
	COALESCE(c.sign_count, 0), c.aaguid, COALESCE(c.transports, ''), COALESCE(c.backup_eligible, FALSE),
	COALESCE(c.attestation_fmt, ''), COALESCE(c.cloned, FALSE), c.secret_sealed, COALESCE(c.last_step, 0)`

// The statements of GetUserCredentials, prepared at Open: a person and her
// credentials in one read, the sign-in path's.
const (
	sqlUserCredentials = `SELECT u.id, u.external_id, u.username, u.display_name, u.email, u.status, u.source,
		u.created_at, u.updated_at, u.postal_address, ` + joinedCredentialCols + `
		FROM users u LEFT JOIN credentials c ON c.user_id = u.id`
	sqlGetUserCredentials           = sqlUserCredentials + " WHERE u.id = $1 ORDER BY c.created_at, c.id"
	sqlGetUserCredentialsByUsername = sqlUserCredentials + " WHERE u.username = $1 ORDER BY c.created_at, c.id"
)

// GetUserCredentials returns the person with id and her credentials,
// oldest first, in one read.
func (s *Store) GetUserCredentials(ctx context.Context, id string) (authn.User, []authn.Credential, error) {
	u, creds, err := scanUserCredentials(ctx, s.stmt.getUserCredentials, id)
	if err != nil {
		return authn.User{}, nil, fmt.Errorf("get user %s and credentials: %w", id, dbErr(err))
	}
	return u, creds, nil
}

// GetUserCredentialsByUsername is GetUserCredentials by canonical username.
func (s *Store) GetUserCredentialsByUsername(ctx context.Context, username string) (authn.User, []authn.Credential, error) {
	u, creds, err := scanUserCredentials(ctx, s.stmt.getUserCredentialsByName, username)
	if err != nil {
		return authn.User{}, nil, fmt.Errorf("get user %s and credentials: %w", username, dbErr(err))
	}
	return u, creds, nil
}

// scanUserCredentials runs stmt with arg and reads the person of its
// first row and the credential of each.
func scanUserCredentials(ctx context.Context, stmt *sql.Stmt, arg string) (authn.User, []authn.Credential, error) {
	rows, err := stmt.QueryContext(ctx, arg)
	if err != nil {
		return authn.User{}, nil, err
	}
	defer rows.Close()
	var (
		person userRow
		found  bool
	)
	creds := []authn.Credential{}
	for rows.Next() {
		var (
			c          authn.Credential
			signCount  int64
			transports string
		)
		dest := append(person.dest(), &c.ID, &c.UserID, &c.Kind, &c.Nickname, timeCol{&c.CreatedAt},
			timeCol{&c.LastUsedAt}, &c.WebAuthnID, &c.PublicKey, &signCount, &c.AAGUID, &transports,
			&c.BackupEligible, &c.AttestationFmt, &c.Cloned, &c.SecretSealed, &c.LastStep)
		if err := rows.Scan(dest...); err != nil {
			return authn.User{}, nil, err
		}
		found = true
		if c.ID == "" {
			continue // no credential: the one row of the LEFT JOIN
		}
		c.SignCount = uint32(signCount)
		if transports != "" {
			c.Transports = strings.Split(transports, " ")
		}
		creds = append(creds, c)
	}
	if err := rows.Err(); err != nil {
		return authn.User{}, nil, err
	}
	if !found {
		return authn.User{}, nil, sql.ErrNoRows
	}
	return person.user(), creds, nil
}
