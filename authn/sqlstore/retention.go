package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/keyhall/keyhall/authn"
)

var _ authn.RetentionStore = (*Store)(nil)

// checkpointSetting is the Seq of the newest audit checkpoint that was
// signed and logged (NoteCheckpoint): the furthest retention may cut.
const checkpointSetting = "audit_checkpoint_seq"

// NoteCheckpoint records seq as the newest signed and logged checkpoint,
// if it is later than the one recorded, in one statement.
func (s *Store) NoteCheckpoint(ctx context.Context, seq int64) error {
	v := strconv.FormatInt(seq, 10)
	// Compared as numbers: the value is text in the settings table.
	q := "INSERT INTO settings (name, value) VALUES ($1, $2) ON CONFLICT (name) DO UPDATE SET value = excluded.value " +
		"WHERE CAST(settings.value AS BIGINT) < CAST(excluded.value AS BIGINT)"
	if _, err := s.execRetry(ctx, q, checkpointSetting, v); err != nil {
		return fmt.Errorf("note audit checkpoint %d: %w", seq, err)
	}
	return nil
}

// NotedCheckpoint returns the Seq NoteCheckpoint recorded last, 0 if none.
func (s *Store) NotedCheckpoint(ctx context.Context) (int64, error) {
	return s.notedCheckpoint(ctx, s.wdb)
}

func (s *Store) notedCheckpoint(ctx context.Context, q interface {
	QueryRowContext(context.Context, string, ...any) *sql.Row
}) (int64, error) {
	var v string
	err := q.QueryRowContext(ctx, "SELECT value FROM settings WHERE name = $1", checkpointSetting).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("read noted audit checkpoint: %w", err)
	}
	seq, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("noted audit checkpoint %q is not a number", v)
	}
	return seq, nil
}

// redactBatch is how many people's (distinct actors' and subjects')
// sign-in records one transaction of RedactSignins redacts: on SQLite the
// writer lock is held for one batch, not the whole run, so sign-ins of
// others go on in between.
const redactBatch = 10

// RedactSignins redacts old sign-in records up to the newest noted
// checkpoint (see authn.RetentionStore). The pseudonyms are computed here
// (SQLite has no SHA-256): one UPDATE for each distinct actor and subject
// among the events, that is about one for each person, redactBatch people
// to a transaction, each transaction with its own record ev (its count).
func (s *Store) RedactSignins(ctx context.Context, before time.Time, actions []string, ev authn.AuditEvent) (authn.SigninRedaction, error) {
	var out authn.SigninRedaction
	if len(actions) == 0 {
		return out, nil
	}
	for {
		n, seq, err := s.redactSigninBatch(ctx, before, actions, ev)
		out.Redacted += n
		if seq != 0 {
			out.Checkpoint = seq
		}
		if err != nil || n == 0 {
			return out, err
		}
	}
}

// redactSigninBatch redacts the records of up to redactBatch people in one
// transaction and returns how many it redacted and the checkpoint.
func (s *Store) redactSigninBatch(ctx context.Context, before time.Time, actions []string, ev authn.AuditEvent) (int, int64, error) {
	tx, err := s.wdb.BeginTx(ctx, nil)
	if err != nil {
		return 0, 0, err
	}
	defer tx.Rollback()
	if err := s.lockAuditHead(ctx, tx); err != nil {
		return 0, 0, err
	}
	checkpoint, err := s.notedCheckpoint(ctx, tx)
	if err != nil || checkpoint == 0 {
		return 0, 0, err
	}
	truth, falsity := "1", "0"
	if s.dialect == dialectPostgres {
		truth, falsity = "TRUE", "FALSE"
	}
	args := []any{checkpoint, s.tv(before)}
	marks := make([]string, len(actions))
	for i, a := range actions {
		args = append(args, a)
		marks[i] = "$" + strconv.Itoa(len(args))
	}
	where := "seq <= $1 AND time < $2 AND action IN (" + strings.Join(marks, ", ") + ") AND redacted = " + falsity
	rows, err := tx.QueryContext(ctx, "SELECT DISTINCT actor, subject FROM audit_events WHERE "+where+
		" LIMIT "+strconv.Itoa(redactBatch), args...)
	if err != nil {
		return 0, checkpoint, fmt.Errorf("find old sign-in records: %w", err)
	}
	type pair struct{ actor, subject string }
	var pairs []pair
	for rows.Next() {
		var p pair
		if err := rows.Scan(&p.actor, &p.subject); err != nil {
			rows.Close()
			return 0, checkpoint, err
		}
		pairs = append(pairs, p)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, checkpoint, err
	}
	n := len(args)
	update, err := tx.PrepareContext(ctx, fmt.Sprintf(`UPDATE audit_events SET redacted = %s, actor = $%d, subject = $%d,
		reason = '', client_addr = '', details = '{}' WHERE %s AND actor = $%d AND subject = $%d`,
		truth, n+1, n+2, where, n+3, n+4))
	if err != nil {
		return 0, checkpoint, err
	}
	defer update.Close()
	redacted := 0
	for _, p := range pairs {
		res, err := update.ExecContext(ctx, append(args, pseudonymOf(p.actor), pseudonymOf(p.subject), p.actor, p.subject)...)
		if err != nil {
			return 0, checkpoint, fmt.Errorf("redact old sign-in records: %w", err)
		}
		k, err := res.RowsAffected()
		if err != nil {
			return 0, checkpoint, err
		}
		redacted += int(k)
	}
	if redacted == 0 {
		return 0, checkpoint, nil
	}
	ev.Details = mergeDetails(ev.Details, map[string]string{
		"count": strconv.Itoa(redacted), "checkpoint": strconv.FormatInt(checkpoint, 10)})
	if err := s.appendAudit(ctx, tx, ev); err != nil {
		return 0, checkpoint, err
	}
	if err := tx.Commit(); err != nil {
		return 0, checkpoint, fmt.Errorf("redact old sign-in records: %w", err)
	}
	return redacted, checkpoint, nil
}

// pseudonymOf is how a redacted event names who it named: a person
// ("user:<id>") by authn.Pseudonym, anything else as it was.
func pseudonymOf(who string) string {
	if id, ok := strings.CutPrefix(who, "user:"); ok {
		return authn.Pseudonym(id)
	}
	return who
}

// mergeDetails returns a copy of a with b's entries added.
func mergeDetails(a, b map[string]string) map[string]string {
	m := make(map[string]string, len(a)+len(b))
	for k, v := range a {
		m[k] = v
	}
	for k, v := range b {
		m[k] = v
	}
	return m
}

// InactiveMembers lists the group's local members unused since before,
// or noticed (see authn.RetentionStore). lastUsedTx reads the same for
// one person in a transaction.
func (s *Store) InactiveMembers(ctx context.Context, groupID string, before time.Time, limit int) ([]authn.InactiveUser, error) {
	greatest := "max"
	if s.dialect == dialectPostgres {
		greatest = "GREATEST"
	}
	// Every term falls back to created_at: SQLite's max() of a NULL is NULL.
	q := `SELECT ` + "u." + strings.ReplaceAll(userCols, ", ", ", u.") + `, x.last_used, n.noticed_at
		FROM (SELECT u.id, ` + greatest + `(u.created_at,
			COALESCE((SELECT MAX(COALESCE(c.last_used_at, c.created_at)) FROM credentials c WHERE c.user_id = u.id), u.created_at),
			COALESCE((SELECT MAX(COALESCE(c.last_used_at, c.created_at)) FROM suspended_credentials c WHERE c.user_id = u.id), u.created_at),
			COALESCE((SELECT MAX(r.used_at) FROM recovery_codes r WHERE r.user_id = u.id), u.created_at),
			COALESCE((SELECT MAX(e.last_seen_at) FROM sessions e WHERE e.user_id = u.id), u.created_at),
			COALESCE((SELECT MAX(t.created_at) FROM oidc_tokens t WHERE t.user_id = u.id), u.created_at)) AS last_used
			FROM users u JOIN memberships m ON m.user_id = u.id
			WHERE m.group_id = $1 AND u.source = $2) x
		JOIN users u ON u.id = x.id
		LEFT JOIN inactive_notices n ON n.user_id = u.id
		WHERE x.last_used < $3 OR n.user_id IS NOT NULL
		ORDER BY x.last_used, u.id LIMIT $4`
	rows, err := s.wdb.QueryContext(ctx, q, groupID, authn.SourceLocal, s.tv(before), limit)
	if err != nil {
		return nil, fmt.Errorf("list inactive members: %w", err)
	}
	defer rows.Close()
	var out []authn.InactiveUser
	for rows.Next() {
		var x userRow
		var iu authn.InactiveUser
		if err := rows.Scan(append(x.dest(), timeCol{&iu.LastUsed}, timeCol{&iu.NoticeAt})...); err != nil {
			return nil, fmt.Errorf("list inactive members: %w", err)
		}
		iu.User = x.user()
		out = append(out, iu)
	}
	return out, rows.Err()
}

// PutInactiveNotice records her notice at at, replacing an older one.
func (s *Store) PutInactiveNotice(ctx context.Context, userID string, at time.Time) error {
	_, err := s.execRetry(ctx, "INSERT INTO inactive_notices (user_id, noticed_at) VALUES ($1, $2) "+
		"ON CONFLICT (user_id) DO UPDATE SET noticed_at = excluded.noticed_at", userID, s.tv(at))
	if err != nil {
		return fmt.Errorf("store inactive notice: %w", dbErr(err))
	}
	return nil
}

// DeleteInactiveNotice forgets her notice.
func (s *Store) DeleteInactiveNotice(ctx context.Context, userID string) error {
	if _, err := s.execRetry(ctx, "DELETE FROM inactive_notices WHERE user_id = $1", userID); err != nil {
		return fmt.Errorf("forget inactive notice: %w", err)
	}
	return nil
}

// lastUsedTx is InactiveUser.LastUsed of the person userID, read in tx
// with the rows a use writes locked (on PostgreSQL; SQLite's writer lock
// serialises writes): a sign-in (her factor's or code's row, her
// session's), a session's activity or a tool's refresh (its old token's
// row) either committed before and is seen here, or waits for tx and
// finds her gone. Her own row is not locked more than for no key update,
// so a sign-in that holds her factor's row and then adds a session (a key
// share of her row) does not wait for tx while tx waits for it. created
// is her account's creation.
func (s *Store) lastUsedTx(ctx context.Context, tx *sql.Tx, userID string, created time.Time) (time.Time, error) {
	last := created
	for _, q := range []string{
		"SELECT COALESCE(last_used_at, created_at) FROM credentials WHERE user_id = $1",
		"SELECT COALESCE(last_used_at, created_at) FROM suspended_credentials WHERE user_id = $1",
		"SELECT COALESCE(used_at, $2) FROM recovery_codes WHERE user_id = $1", // unused ones locked too
		"SELECT last_seen_at FROM sessions WHERE user_id = $1",
		"SELECT created_at FROM oidc_tokens WHERE user_id = $1",
	} {
		args := []any{userID}
		if strings.Contains(q, "$2") {
			args = append(args, s.tv(created))
		}
		rows, err := tx.QueryContext(ctx, q+s.forUpdate, args...)
		if err != nil {
			return time.Time{}, fmt.Errorf("read last use: %w", err)
		}
		for rows.Next() {
			var t time.Time
			if err := rows.Scan(timeCol{&t}); err != nil {
				rows.Close()
				return time.Time{}, fmt.Errorf("read last use: %w", err)
			}
			if t.After(last) {
				last = t
			}
		}
		if err := rows.Close(); err != nil {
			return time.Time{}, err
		}
		if err := rows.Err(); err != nil {
			return time.Time{}, fmt.Errorf("read last use: %w", err)
		}
	}
	return last, nil
}
