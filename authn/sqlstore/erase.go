package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"maps"
	"slices"

	"github.com/keyhall/keyhall/authn"
)

// EraseUser removes a person and every row about her, and redacts the
// audit events that name her, in one transaction (see authn.EraseStore).
// Rows with a foreign key to users go with her row (ON DELETE CASCADE);
// the rest are removed or rewritten here by name.
func (s *Store) EraseUser(ctx context.Context, e authn.Erasure) (authn.ErasedUser, error) {
	var out authn.ErasedUser
	err := s.adminTx(ctx, e.Audit, func(tx *sql.Tx) error {
		u, err := scanUser(tx.QueryRowContext(ctx, "SELECT "+userCols+" FROM users WHERE id = $1"+s.forNoKeyUpdate, e.UserID))
		if err != nil {
			return dbErr(err)
		}
		out.User = u
		if !e.UnusedAfter.IsZero() {
			last, err := s.lastUsedTx(ctx, tx, u.ID, u.CreatedAt)
			if err != nil {
				return err
			}
			if last.After(e.UnusedAfter) {
				return authn.ErrUsedSince
			}
		}
		if err := s.keepMemberTx(ctx, tx, u.ID, e.KeepMember); err != nil {
			return err
		}
		if out.Grants, err = s.revokeUserTokensTx(ctx, tx, u.ID, e.At); err != nil {
			return fmt.Errorf("revoke tokens: %w", err)
		}
		if out.Redacted, err = s.redactPersonTx(ctx, tx, u); err != nil {
			return fmt.Errorf("redact audit events: %w", err)
		}
		actor, pseudonym := "user:"+u.ID, authn.Pseudonym(u.ID)
		for _, st := range []struct {
			q    string
			args []any
		}{
			{"DELETE FROM oidc_auth_requests WHERE user_id = $1 OR hint_subject = $1 OR login_hint = $2", []any{u.ID, u.Username}},
			// What she did to others stays, naming her by pseudonym.
			{"UPDATE invitations SET created_by = $2 WHERE created_by = $1", []any{actor, pseudonym}},
			{"UPDATE approvals SET requested_by = $2, requester_id = '', requester_directory = '', requester_external = '' WHERE requester_id = $3 OR requested_by = $1", []any{actor, pseudonym, u.ID}},
			{"UPDATE approvals SET decided_by = $2 WHERE decided_by = $1", []any{actor, pseudonym}},
			{"DELETE FROM registrations WHERE user_id = $1", []any{u.ID}}, // no foreign key: made before her row
			{"DELETE FROM users WHERE id = $1", []any{u.ID}},
		} {
			if _, err := tx.ExecContext(ctx, st.q, st.args...); err != nil {
				return fmt.Errorf("%s: %w", st.q, err)
			}
		}
		for _, k := range e.ThrottleKeys {
			if _, err := tx.ExecContext(ctx, "DELETE FROM throttle WHERE key = $1", k); err != nil {
				return fmt.Errorf("remove throttle counter: %w", err)
			}
		}
		for _, p := range e.ThrottlePrefixes {
			q, args, err := s.throttlePrefixCond(p)
			if err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, "DELETE FROM throttle WHERE "+q, args...); err != nil {
				return fmt.Errorf("remove throttle counters: %w", err)
			}
		}
		return nil
	})
	if err != nil {
		return authn.ErasedUser{}, fmt.Errorf("erase user %s: %w", e.UserID, err)
	}
	s.cache.dropUser(e.UserID)
	return out, nil
}

// redactPersonTx redacts every audit event that names u (personAudit).
// Her actor and subject become her pseudonym; reason, client address and
// details are emptied; Seq, Time, Action and the hashes stay, so the chain
// still verifies.
func (s *Store) redactPersonTx(ctx context.Context, tx *sql.Tx, u authn.User) (int, error) {
	truth := "1"
	if s.dialect == dialectPostgres {
		truth = "TRUE"
	}
	cond, args, err := s.personAudit(u, authn.Pseudonym(u.ID))
	if err != nil {
		return 0, err
	}
	res, err := tx.ExecContext(ctx, `UPDATE audit_events SET redacted = `+truth+`,
		actor = CASE WHEN actor = $1 THEN $2 ELSE actor END,
		subject = CASE WHEN subject = $1 THEN $2 ELSE subject END,
		reason = '', client_addr = '', details = '{}'
		WHERE `+cond, args...)
	if err != nil {
		return 0, err
	}
	n, err := res.RowsAffected()
	return int(n), err
}

// personAudit is the condition on audit_events that finds the events
// naming u: by "user:<id>" as actor or subject, or in the details that
// name a person, by key: her id (or "user:<id>") under personKeys, her
// username under username and user, her address under email and to. Its arguments begin with "user:<id>" ($1), then extra, then
// the values; more may be appended after them.
func (s *Store) personAudit(u authn.User, extra ...any) (string, []any, error) {
	// A detail is read by its key, never searched as text: a username such
	// as "admin" or "acr" is also another event's value or key.
	field := "json_extract(details, '$.%s')"
	if s.dialect == dialectPostgres {
		field = "(details::jsonb ->> '%s')"
	}
	args := append([]any{"user:" + u.ID}, extra...)
	cond := "(actor = $1 OR subject = $1"
	values := map[string][]string{}
	add := func(v string, keys ...string) {
		if v == "" {
			return
		}
		for _, k := range keys {
			values[k] = append(values[k], v)
		}
	}
	add(u.ID, personKeys...)
	add("user:"+u.ID, personKeys...)
	add(u.Username, "username", "user")
	add(u.Email, "email", "to")
	if u.VerifiedEmail != u.Email {
		add(u.VerifiedEmail, "email", "to")
	}
	for _, k := range slices.Sorted(maps.Keys(values)) {
		for _, v := range values[k] {
			args = append(args, v)
			cond += fmt.Sprintf(" OR "+field+" = $%d", k, len(args))
		}
	}
	return cond + ")", args, nil
}

// personKeys are the audit details that name a person by her id (or as
// "user:<id>"): the person acted on, who asked for it, who decided.
var personKeys = []string{"user_id", "user", "requested_by", "decided_by", "approved_by", "requester"}

// keepMemberTx returns authn.ErrLastMember when the person is in one of
// the groups and no other active person is in any. adminTx holds the
// audit head, which every erasure takes first, so erasures run one after
// the other and each sees the ones before it.
func (s *Store) keepMemberTx(ctx context.Context, tx *sql.Tx, userID string, groups []string) error {
	if len(groups) == 0 {
		return nil
	}
	in, args := "", []any{userID}
	for i, g := range groups {
		if i > 0 {
			in += ", "
		}
		args = append(args, g)
		in += fmt.Sprintf("$%d", len(args))
	}
	var hers, others int
	err := tx.QueryRowContext(ctx, `SELECT
		(SELECT count(*) FROM memberships m JOIN groups g ON g.id = m.group_id
			WHERE m.user_id = $1 AND g.name IN (`+in+`)),
		(SELECT count(*) FROM memberships m JOIN groups g ON g.id = m.group_id JOIN users u ON u.id = m.user_id
			WHERE m.user_id <> $1 AND u.status = 'active' AND g.name IN (`+in+`))`, args...).Scan(&hers, &others)
	if err != nil {
		return fmt.Errorf("count the members that must remain: %w", err)
	}
	if hers > 0 && others == 0 {
		return authn.ErrLastMember
	}
	return nil
}
