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

// The IT console's reads (authn.SearchStore). A person's search words
// (authn.SearchTerms) are rows of user_search, written in the transaction
// that stores her: insertSearchTerms for new people, reindexUser for a
// changed one. A prefix of a word is then one range of the primary key:
// term >= p AND term < p+maxRune, in byte order (SQLite's BINARY, the C
// collation on PostgreSQL).

// termEnd is appended to a prefix for the upper end of its range: it sorts
// after every character a search word holds.
const termEnd = "\U0010FFFF"

// insertSearchTerms stores the search words of new people (a word stored
// already is skipped).
func insertSearchTerms(ctx context.Context, tx *sql.Tx, users ...authn.User) error {
	type row struct{ term, id string }
	var rows []row
	for _, u := range users {
		for _, t := range authn.SearchTerms(u) {
			rows = append(rows, row{t, u.ID})
		}
	}
	err := insertRows(ctx, tx, "INSERT INTO user_search (term, user_id) VALUES ", 2, len(rows),
		func(i int) []any { return []any{rows[i].term, rows[i].id} }, " ON CONFLICT DO NOTHING")
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
// those stored before the migration that made user_search. Run at open,
// one transaction of at most 2,000 people at a time; several processes
// opening one database at once may do it together (a word stored twice
// is skipped).
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

// searchCap is how many word rows a search reads as candidates, at most:
// a query with a word matched by fewer sorts its candidates; one whose
// every word is that common walks the people in order of username and
// stops at the page's end, which comes soon for common words.
var searchCap = 5000 // a variable for the tests of both plans

// SearchUsers finds people by the start of their words (see
// authn.SearchStore).
func (s *Store) SearchUsers(ctx context.Context, q, after string, limit int) ([]authn.User, error) {
	if limit <= 0 {
		limit = 50
	}
	words := authn.SearchWords(q)
	// The word with the fewest rows, if it has fewer than searchCap.
	best, bestN := -1, searchCap
	for i, spellings := range words {
		args := []any{}
		cond := termCond(spellings, &args)
		var n int
		err := s.rdb.QueryRowContext(ctx, fmt.Sprintf("SELECT COUNT(*) FROM (SELECT 1 FROM user_search WHERE %s LIMIT %d) c",
			cond, searchCap), args...).Scan(&n)
		if err != nil {
			return nil, fmt.Errorf("search users: %w", err)
		}
		if n < bestN {
			best, bestN = i, n
		}
	}
	args := []any{after}
	var b strings.Builder
	switch {
	case best >= 0 && s.dialect == dialectSQLite:
		// Few candidates: read them, check the other words, sort.
		fmt.Fprintf(&b, "WITH c AS MATERIALIZED (SELECT DISTINCT user_id FROM user_search WHERE %s) SELECT %s FROM c JOIN users u ON u.id = c.user_id WHERE u.username > $1",
			termCond(words[best], &args), prefixed("u.", userCols))
	case best >= 0:
		// The same on PostgreSQL, where an array of ids makes the planner
		// look each up by its key instead of hashing all people.
		fmt.Fprintf(&b, "SELECT %s FROM users u WHERE u.id = ANY(ARRAY(SELECT DISTINCT user_id FROM user_search WHERE %s)) AND u.username > $1",
			prefixed("u.", userCols), termCond(words[best], &args))
	default:
		fmt.Fprintf(&b, "SELECT %s FROM users u WHERE u.username > $1", prefixed("u.", userCols))
	}
	for i, spellings := range words {
		if i == best {
			continue
		}
		fmt.Fprintf(&b, " AND EXISTS (SELECT 1 FROM user_search t WHERE t.user_id = u.id AND %s)", termCond(spellings, &args))
	}
	args = append(args, limit)
	if best >= 0 {
		fmt.Fprintf(&b, " ORDER BY u.username || '' LIMIT $%d", len(args)) // sort the candidates, not walk the index
	} else {
		fmt.Fprintf(&b, " ORDER BY u.username LIMIT $%d", len(args))
	}
	rows, err := s.rdb.QueryContext(ctx, b.String(), args...)
	if err != nil {
		return nil, fmt.Errorf("search users: %w", err)
	}
	return collectUsers(rows)
}

// termCond returns the condition that term starts with one of spellings,
// appending its arguments to args.
func termCond(spellings []string, args *[]any) string {
	var b strings.Builder
	b.WriteString("(")
	for i, p := range spellings {
		if i > 0 {
			b.WriteString(" OR ")
		}
		*args = append(*args, p, p+termEnd)
		fmt.Fprintf(&b, "(term >= $%d AND term < $%d)", len(*args)-1, len(*args))
	}
	b.WriteString(")")
	return b.String()
}

// prefixed returns the comma-separated columns cols, each with prefix.
func prefixed(prefix, cols string) string {
	parts := strings.Split(cols, ", ")
	for i, c := range parts {
		parts[i] = prefix + c
	}
	return strings.Join(parts, ", ")
}

// FactorCounts counts the active people of groups by their factors (see
// authn.SearchStore). The counts read index ranges only: the credentials
// by (kind, user_id), a group's members by its key, and the few people who
// are not active by a partial index, which are taken away; no person is
// looked up one by one.
func (s *Store) FactorCounts(ctx context.Context, groups ...string) ([]authn.FactorCount, error) {
	const inactive = "(SELECT id FROM users WHERE status <> 'active')"
	out := make([]authn.FactorCount, 0, len(groups)+1)
	for i, g := range append([]string{""}, groups...) {
		var q string
		var args []any
		if i == 0 {
			q = "SELECT (SELECT COUNT(*) FROM users WHERE status = 'active'), "
		} else {
			var gid string
			err := s.rdb.QueryRowContext(ctx, "SELECT id FROM groups WHERE name = $1", g).Scan(&gid)
			if errors.Is(err, sql.ErrNoRows) {
				out = append(out, authn.FactorCount{Group: g})
				continue
			}
			if err != nil {
				return nil, fmt.Errorf("count factors of %q: %w", g, err)
			}
			args = []any{gid}
			q = "SELECT (SELECT COUNT(*) FROM memberships WHERE group_id = $1 AND user_id NOT IN " + inactive + "), "
		}
		member := ""
		if i > 0 {
			member = " AND c.user_id IN (SELECT user_id FROM memberships WHERE group_id = $1)"
		}
		q += `(SELECT COUNT(DISTINCT c.user_id) FROM credentials c
				WHERE c.kind = 'webauthn' AND c.user_id NOT IN ` + inactive + member + `),
			(SELECT COUNT(DISTINCT c.user_id) FROM credentials c
				WHERE c.kind = 'totp' AND c.user_id NOT IN ` + inactive + member + `
				AND NOT EXISTS (SELECT 1 FROM credentials k WHERE k.kind = 'webauthn' AND k.user_id = c.user_id))`
		var all int
		c := authn.FactorCount{Group: g}
		if err := s.rdb.QueryRowContext(ctx, q, args...).Scan(&all, &c.Key, &c.AppOnly); err != nil {
			return nil, fmt.Errorf("count factors of %q: %w", g, err)
		}
		c.None = all - c.Key - c.AppOnly
		out = append(out, c)
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
	b.WriteString(`SELECT seq, time, actor, action, subject, reason, client_addr, details, prev_hash, hash, redacted
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
		// One range of the (action, time) index, [a, a+"/"): the action
		// and those below it ("a.…"; '/' follows '.'), byte order on
		// both dialects; then the exact test.
		r := strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)
		col := "action"
		if s.dialect != dialectSQLite {
			col = `action COLLATE "C"`
		}
		cond(col+" >= $%d AND "+col+" < $%d", f.Action, f.Action+"/")
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
	out, err := scanAudit(rows)
	if err != nil {
		return nil, fmt.Errorf("search audit: %w", err)
	}
	return out, nil
}

// CountAudit counts events by action since a time (see authn.SearchStore).
func (s *Store) CountAudit(ctx context.Context, since time.Time, actions ...string) (map[string]int, error) {
	out := make(map[string]int, len(actions))
	col := "action" // as the (action, time) index has it
	if s.dialect != dialectSQLite {
		col = `action COLLATE "C"`
	}
	for _, a := range actions {
		var n int
		err := s.rdb.QueryRowContext(ctx, "SELECT COUNT(*) FROM audit_events WHERE "+col+" = $1 AND time >= $2",
			a, s.tv(since)).Scan(&n)
		if err != nil {
			return nil, fmt.Errorf("count audit %s: %w", a, err)
		}
		out[a] = n
	}
	return out, nil
}
