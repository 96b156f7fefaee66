package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/keyhall/keyhall/authn"
)

// The IT console's reads (authn.SearchStore). A person's search words
// (authn.SearchTerms) are rows of user_search, written in the transaction
// that stores her: insertSearchTerms for new people, reindexUser for a
// changed one. A prefix of a word is then one range of the primary key:
// term >= p AND term < p+maxRune, in byte order (SQLite's BINARY, the C
// collation on PostgreSQL).

// termEnd is appended to a prefix for the upper end of its range: it sorts
// after every character a search word holds.
const termEnd = "\U0010FFFF"

// insertSearchTerms stores the search words of new people.
func insertSearchTerms(ctx context.Context, tx *sql.Tx, users ...authn.User) error {
	type row struct{ term, id string }
	var rows []row
	for _, u := range users {
		for _, t := range authn.SearchTerms(u) {
			rows = append(rows, row{t, u.ID})
		}
	}
	err := insertRows(ctx, tx, "INSERT INTO user_search (term, user_id) VALUES ", 2, len(rows),
		func(i int) []any { return []any{rows[i].term, rows[i].id} }, "")
	if err != nil {
		return fmt.Errorf("store search words: %w", err)
	}
	return nil
}

// reindexUser replaces the search words of a stored person.
func reindexUser(ctx context.Context, tx *sql.Tx, u authn.User) error {
	if _, err := tx.ExecContext(ctx, "DELETE FROM user_search WHERE user_id = $1", u.ID); err != nil {
		return fmt.Errorf("replace search words of %s: %w", u.ID, err)
	}
	return insertSearchTerms(ctx, tx, u)
}

// indexUnindexed stores the search words of every person who has none:
// those stored before schema version 15. Run at open; one transaction of
// at most a few thousand people at a time.
func (s *Store) indexUnindexed(ctx context.Context) error {
	for {
		rows, err := s.wdb.QueryContext(ctx, "SELECT "+userCols+` FROM users u
			WHERE NOT EXISTS (SELECT 1 FROM user_search t WHERE t.user_id = u.id) LIMIT 2000`)
		if err != nil {
			return fmt.Errorf("find people without search words: %w", err)
		}
		users, err := collectUsers(rows)
		if err != nil || len(users) == 0 {
			return err
		}
		tx, err := s.wdb.BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		if err := insertSearchTerms(ctx, tx, users...); err != nil {
			tx.Rollback()
			return err
		}
		if err := tx.Commit(); err != nil {
			return fmt.Errorf("store search words: %w", err)
		}
	}
}

// SearchUsers finds people by the start of their words (see
// authn.SearchStore).
func (s *Store) SearchUsers(ctx context.Context, q, after string, limit int) ([]authn.User, error) {
	if limit <= 0 {
		limit = 50
	}
	var b strings.Builder
	args := []any{after}
	b.WriteString("SELECT " + userCols + " FROM users WHERE username > $1")
	for _, spellings := range authn.SearchWords(q) {
		b.WriteString(" AND id IN (SELECT user_id FROM user_search WHERE ")
		for i, p := range spellings {
			if i > 0 {
				b.WriteString(" OR ")
			}
			args = append(args, p, p+termEnd)
			fmt.Fprintf(&b, "(term >= $%d AND term < $%d)", len(args)-1, len(args))
		}
		b.WriteString(")")
	}
	args = append(args, limit)
	fmt.Fprintf(&b, " ORDER BY username LIMIT $%d", len(args))
	rows, err := s.rdb.QueryContext(ctx, b.String(), args...)
	if err != nil {
		return nil, fmt.Errorf("search users: %w", err)
	}
	return collectUsers(rows)
}

// FactorCounts counts the active people per group by their factors (see
// authn.SearchStore).
func (s *Store) FactorCounts(ctx context.Context) ([]authn.FactorCount, error) {
	const q = `WITH f AS (
		SELECT u.id AS id,
			MAX(CASE WHEN c.kind = 'webauthn' THEN 1 ELSE 0 END) AS k,
			MAX(CASE WHEN c.kind = 'totp' THEN 1 ELSE 0 END) AS a
		FROM users u LEFT JOIN credentials c ON c.user_id = u.id
		WHERE u.status = 'active' GROUP BY u.id)
	SELECT '' AS name, COALESCE(SUM(k), 0), COALESCE(SUM(CASE WHEN k = 0 AND a = 1 THEN 1 ELSE 0 END), 0),
		COALESCE(SUM(CASE WHEN k = 0 AND a = 0 THEN 1 ELSE 0 END), 0) FROM f
	UNION ALL
	SELECT g.name, SUM(k), SUM(CASE WHEN k = 0 AND a = 1 THEN 1 ELSE 0 END),
		SUM(CASE WHEN k = 0 AND a = 0 THEN 1 ELSE 0 END)
	FROM f JOIN memberships m ON m.user_id = f.id JOIN groups g ON g.id = m.group_id
	GROUP BY g.name
	ORDER BY 1`
	rows, err := s.rdb.QueryContext(ctx, q)
	if err != nil {
		return nil, fmt.Errorf("count factors: %w", err)
	}
	defer rows.Close()
	var out []authn.FactorCount
	for rows.Next() {
		var c authn.FactorCount
		if err := rows.Scan(&c.Group, &c.Key, &c.AppOnly, &c.None); err != nil {
			return nil, fmt.Errorf("count factors: %w", err)
		}
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("count factors: %w", err)
	}
	return out, nil
}

// OpenInvitationAges counts the open invitations by age (see
// authn.SearchStore).
func (s *Store) OpenInvitationAges(ctx context.Context, now time.Time, bounds []time.Duration) ([]int, error) {
	var b strings.Builder
	args := []any{s.tv(now)}
	b.WriteString("SELECT ")
	for i, d := range bounds {
		args = append(args, s.tv(now.Add(-d)))
		fmt.Fprintf(&b, "COALESCE(SUM(CASE WHEN created_at > $%d", len(args))
		if i > 0 {
			fmt.Fprintf(&b, " AND created_at <= $%d", len(args)-1)
		}
		b.WriteString(" THEN 1 ELSE 0 END), 0), ")
	}
	if len(bounds) > 0 {
		fmt.Fprintf(&b, "COALESCE(SUM(CASE WHEN created_at <= $%d THEN 1 ELSE 0 END), 0)", len(args))
	} else {
		b.WriteString("COUNT(*)")
	}
	b.WriteString(" FROM invitations WHERE used_at IS NULL AND voided_at IS NULL AND expires_at > $1")
	out := make([]int, len(bounds)+1)
	dest := make([]any, len(out))
	for i := range out {
		dest[i] = &out[i]
	}
	if err := s.rdb.QueryRowContext(ctx, b.String(), args...).Scan(dest...); err != nil {
		return nil, fmt.Errorf("count open invitations: %w", err)
	}
	return out, nil
}

// SearchAudit returns the events that match f, newest first (see
// authn.SearchStore).
func (s *Store) SearchAudit(ctx context.Context, f authn.AuditQuery) ([]authn.AuditEvent, error) {
	limit := f.Limit
	if limit <= 0 {
		limit = 100
	}
	var b strings.Builder
	var args []any
	b.WriteString(`SELECT seq, time, actor, action, subject, reason, client_addr, details, prev_hash, hash
		FROM audit_events WHERE 1 = 1`)
	cond := func(c string, vals ...any) {
		args = append(args, vals...)
		n := make([]any, len(vals))
		for i := range vals {
			n[i] = len(args) - len(vals) + i + 1
		}
		fmt.Fprintf(&b, " AND "+c, n...)
	}
	if f.Subject != "" {
		cond("subject = $%d", f.Subject)
	}
	if f.Actor != "" {
		cond("actor = $%d", f.Actor)
	}
	if f.Action != "" {
		r := strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)
		cond(`(action = $%d OR action LIKE $%d ESCAPE '\')`, f.Action, r.Replace(f.Action)+".%")
	}
	if !f.From.IsZero() {
		cond("time >= $%d", s.tv(f.From))
	}
	if !f.To.IsZero() {
		cond("time < $%d", s.tv(f.To))
	}
	if f.BeforeSeq > 0 {
		cond("seq < $%d", f.BeforeSeq)
	}
	args = append(args, limit)
	fmt.Fprintf(&b, " ORDER BY seq DESC LIMIT $%d", len(args))
	rows, err := s.rdb.QueryContext(ctx, b.String(), args...)
	if err != nil {
		return nil, fmt.Errorf("search audit: %w", err)
	}
	defer rows.Close()
	var out []authn.AuditEvent
	for rows.Next() {
		var (
			ev      authn.AuditEvent
			details string
		)
		err := rows.Scan(&ev.Seq, timeCol{&ev.Time}, &ev.Actor, &ev.Action, &ev.Subject, &ev.Reason,
			&ev.ClientAddr, &details, hashCol{&ev.PrevHash}, hashCol{&ev.Hash})
		if err != nil {
			return nil, fmt.Errorf("search audit: %w", err)
		}
		if details != "{}" {
			if err := json.Unmarshal([]byte(details), &ev.Details); err != nil {
				return nil, fmt.Errorf("search audit: decode details of event %d: %w", ev.Seq, err)
			}
		}
		out = append(out, ev)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("search audit: %w", err)
	}
	return out, nil
}

// CountAudit counts events by action since a time (see authn.SearchStore).
func (s *Store) CountAudit(ctx context.Context, since time.Time, actions ...string) (map[string]int, error) {
	out := make(map[string]int, len(actions))
	for _, a := range actions {
		var n int
		err := s.rdb.QueryRowContext(ctx, "SELECT COUNT(*) FROM audit_events WHERE action = $1 AND time >= $2",
			a, s.tv(since)).Scan(&n)
		if err != nil {
			return nil, fmt.Errorf("count audit %s: %w", a, err)
		}
		out[a] = n
	}
	return out, nil
}
