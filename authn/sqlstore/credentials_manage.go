package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/keyhall/keyhall/authn"
)

// What a person does with her own factors from /account: rename one,
// remove one (never the last she must keep), and read her recent sign-ins.

// RenameCredential sets the nickname of one of the person's credentials,
// with ev.
func (s *Store) RenameCredential(ctx context.Context, userID, credentialID, nickname string, ev authn.AuditEvent) error {
	err := s.auditedExec(ctx, ev, "UPDATE credentials SET nickname = $3 WHERE id = $1 AND user_id = $2",
		credentialID, userID, nickname)
	if err != nil {
		return fmt.Errorf("rename credential %s of user %s: %w", credentialID, userID, err)
	}
	return nil
}

// sqlRemoveCredential deletes a credential only while another one of the
// person remains of a kind in ($3, 'webauthn'): $3 = 'totp' lets an app be
// what remains, $3 = 'webauthn' wants a key. One conditional statement,
// run while the person's row is held (lockUserTx).
const sqlRemoveCredential = `DELETE FROM credentials WHERE id = $1 AND user_id = $2
	AND EXISTS (SELECT 1 FROM credentials o WHERE o.user_id = $2 AND o.id <> $1 AND o.kind IN ($3, 'webauthn'))
	RETURNING ` + credentialCols

// RemoveCredential removes one credential of a person, with ev, unless
// she would be left without another key or app (another key when
// keep.Key): ErrLastFactor then, and nothing changes.
func (s *Store) RemoveCredential(ctx context.Context, userID, credentialID string, keep authn.Keep, ev authn.AuditEvent) (authn.Credential, error) {
	remaining := string(authn.KindTOTP)
	if keep.Key {
		remaining = string(authn.KindWebAuthn)
	}
	var c authn.Credential
	err := s.adminTx(ctx, ev, func(tx *sql.Tx) error {
		if err := s.lockUserTx(ctx, tx, userID); err != nil {
			return err
		}
		var err error
		c, err = scanCredential(tx.QueryRowContext(ctx, sqlRemoveCredential, credentialID, userID, remaining))
		if !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		var exists bool
		err = tx.QueryRowContext(ctx, "SELECT EXISTS (SELECT 1 FROM credentials WHERE id = $1 AND user_id = $2)",
			credentialID, userID).Scan(&exists)
		switch {
		case err != nil:
			return err
		case exists:
			return authn.ErrLastFactor
		}
		return authn.ErrNotFound
	})
	if err != nil {
		return authn.Credential{}, fmt.Errorf("remove credential %s of user %s: %w", credentialID, userID, err)
	}
	return c, nil
}

// lockUserTx holds the person's row until tx ends, so that checks on her
// credentials and the change they allow are not interleaved with another
// transaction's. SQLite has one writer at a time, which holds everything.
func (s *Store) lockUserTx(ctx context.Context, tx *sql.Tx, userID string) error {
	if s.dialect != dialectPostgres {
		return nil
	}
	var id string
	err := tx.QueryRowContext(ctx, "SELECT id FROM users WHERE id = $1 FOR UPDATE", userID).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return authn.ErrNotFound
	}
	return err
}

// RecentAudit returns the newest events about subject with action, newest
// first (by the index on subject and seq).
func (s *Store) RecentAudit(ctx context.Context, subject, action string, limit int) ([]authn.AuditEvent, error) {
	if limit <= 0 {
		limit = 10
	}
	rows, err := s.rdb.QueryContext(ctx, `SELECT seq, time, actor, action, subject, reason, client_addr, details, prev_hash, hash, redacted
		FROM audit_events WHERE subject = $1 AND action = $2 ORDER BY seq DESC LIMIT $3`, subject, action, limit)
	if err != nil {
		return nil, fmt.Errorf("list recent %s of %s: %w", action, subject, err)
	}
	out, err := scanAudit(rows)
	if err != nil {
		return nil, fmt.Errorf("list recent %s of %s: %w", action, subject, err)
	}
	if out == nil {
		out = []authn.AuditEvent{}
	}
	return out, nil
}
