package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"

	"github.com/keyhall/keyhall/authn"
)

// joinedCredentialCols are credentialCols of the credentials c joined to a
// person: NULL (no credential) read as empty values, so that a person
// without any gives one row, whose credential id is "".
const joinedCredentialCols = `COALESCE(c.id, ''), COALESCE(c.user_id, ''), COALESCE(c.kind, ''),
	COALESCE(c.nickname, ''), c.created_at, c.last_used_at, c.webauthn_id, c.public_key,
	COALESCE(c.sign_count, 0), c.aaguid, COALESCE(c.transports, ''), COALESCE(c.backup_eligible, FALSE),
	COALESCE(c.attestation_fmt, ''), COALESCE(c.cloned, FALSE), c.secret_sealed, COALESCE(c.last_step, 0),
	COALESCE(c.attested, FALSE), c.attestation_chain`

// signInRecordQuery is the query of GetSignInRecord on dialect, by the
// column where: a person, her group names joined by newlines (group names
// are canonical: no newline), and one row per credential.
func signInRecordQuery(dialect, where string) string {
	agg := "group_concat(g.name, char(10))"
	if dialect == dialectPostgres {
		agg = "string_agg(g.name, E'\\n')"
	}
	return `SELECT u.id, u.external_id, u.username, u.display_name, u.email, u.status, u.source,
		u.created_at, u.updated_at, u.postal_address, u.verified_email, u.directory, u.phone,
		COALESCE((SELECT ` + agg + ` FROM memberships m JOIN groups g ON g.id = m.group_id WHERE m.user_id = u.id), ''),
		` + joinedCredentialCols + `
		FROM users u LEFT JOIN credentials c ON c.user_id = u.id
		WHERE u.` + where + ` = $1 ORDER BY c.created_at, c.id`
}

// GetSignInRecord returns the person with id, her credentials and her
// groups in one read.
func (s *Store) GetSignInRecord(ctx context.Context, id string) (authn.SignInRecord, error) {
	r, err := scanSignInRecord(s.quick(ctx), s.stmt.getSignInRecord, id)
	if err != nil {
		return authn.SignInRecord{}, fmt.Errorf("get user %s for sign-in: %w", id, dbErr(err))
	}
	return r, nil
}

// GetSignInRecordByUsername is GetSignInRecord by canonical username.
func (s *Store) GetSignInRecordByUsername(ctx context.Context, username string) (authn.SignInRecord, error) {
	r, err := scanSignInRecord(s.quick(ctx), s.stmt.getSignInRecordByName, username)
	if err != nil {
		return authn.SignInRecord{}, fmt.Errorf("get user %s for sign-in: %w", username, dbErr(err))
	}
	return r, nil
}

// scanSignInRecord runs stmt with arg and reads the person and her groups
// from its first row, and the credential of each.
func scanSignInRecord(ctx context.Context, stmt *sql.Stmt, arg string) (authn.SignInRecord, error) {
	rows, err := stmt.QueryContext(ctx, arg)
	if err != nil {
		return authn.SignInRecord{}, err
	}
	defer rows.Close()
	var (
		person userRow
		groups string
		found  bool
	)
	creds := []authn.Credential{}
	for rows.Next() {
		var (
			c          authn.Credential
			signCount  int64
			transports string
		)
		dest := append(person.dest(), &groups, &c.ID, &c.UserID, &c.Kind, &c.Nickname, timeCol{&c.CreatedAt},
			timeCol{&c.LastUsedAt}, &c.WebAuthnID, &c.PublicKey, &signCount, &c.AAGUID, &transports,
			&c.BackupEligible, &c.AttestationFmt, &c.Cloned, &c.SecretSealed, &c.LastStep, &c.Attested, &c.AttestationChain)
		if err := rows.Scan(dest...); err != nil {
			return authn.SignInRecord{}, err
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
		return authn.SignInRecord{}, err
	}
	if !found {
		return authn.SignInRecord{}, sql.ErrNoRows
	}
	r := authn.SignInRecord{User: person.user(), Credentials: creds, Groups: []string{}}
	if groups != "" {
		r.Groups = strings.Split(groups, "\n")
		slices.Sort(r.Groups)
	}
	return r, nil
}
