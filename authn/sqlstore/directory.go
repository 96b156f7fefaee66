package sqlstore

import (
	"cmp"
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/keyhall/keyhall/authn"
)

// ListDirectoryUsers lists every person of directory dir, by username.
func (s *Store) ListDirectoryUsers(ctx context.Context, dir string) ([]authn.DirectoryUser, error) {
	out := []authn.DirectoryUser{}
	err := s.EachDirectoryUser(ctx, dir, true, func(u authn.DirectoryUser) error {
		out = append(out, u)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// EachDirectoryUser calls each with every person of directory dir, by
// username, row by row; with attrs false, from fewer columns.
func (s *Store) EachDirectoryUser(ctx context.Context, dir string, attrs bool, each func(authn.DirectoryUser) error) error {
	if dir == "" {
		return fmt.Errorf("list users of a directory: no directory named")
	}
	cols := userCols
	if !attrs {
		cols = "id, external_id, username, status, source, directory"
	}
	rows, err := s.rdb.QueryContext(ctx, "SELECT "+cols+`, disabled_by, disabled_at
		FROM users WHERE directory = $1 ORDER BY username`, dir)
	if err != nil {
		return fmt.Errorf("list users of directory %s: %w", dir, err)
	}
	defer rows.Close()
	for rows.Next() {
		var (
			x    userRow
			du   authn.DirectoryUser
			dest []any
		)
		if attrs {
			dest = x.dest()
		} else {
			u := &x.u
			dest = []any{&u.ID, &u.ExternalID, &u.Username, &u.Status, &u.Source, &u.Directory}
		}
		if err := rows.Scan(append(dest, &du.DisabledBy, timeCol{&du.DisabledAt})...); err != nil {
			return fmt.Errorf("list users of directory %s: %w", dir, err)
		}
		du.User = x.user()
		if err := each(du); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("list users of directory %s: %w", dir, err)
	}
	return nil
}

// ListDirectoryGroups lists the groups of directory dir, by name, with
// their members.
func (s *Store) ListDirectoryGroups(ctx context.Context, dir string) ([]authn.DirectoryGroup, error) {
	if dir == "" {
		return nil, fmt.Errorf("list groups of a directory: no directory named")
	}
	rows, err := s.rdb.QueryContext(ctx, "SELECT "+groupCols+" FROM groups WHERE directory = $1 ORDER BY name", dir)
	if err != nil {
		return nil, fmt.Errorf("list groups of directory %s: %w", dir, err)
	}
	groups, err := collectGroups(rows)
	if err != nil {
		return nil, fmt.Errorf("list groups of directory %s: %w", dir, err)
	}
	out := make([]authn.DirectoryGroup, len(groups))
	index := make(map[string]int, len(groups))
	for i, g := range groups {
		out[i] = authn.DirectoryGroup{Group: g, Members: []string{}}
		index[g.ID] = i
	}
	// One row per group with its members' ids joined by U+001F (which no id
	// holds): a directory of 50,000 people in three groups each has 150,000
	// memberships, and a row costs more than its id.
	agg := "group_concat(m.user_id, char(31))"
	if s.dialect == dialectPostgres {
		agg = "string_agg(m.user_id, chr(31))"
	}
	rows, err = s.rdb.QueryContext(ctx, `SELECT m.group_id, `+agg+` FROM memberships m
		JOIN groups g ON g.id = m.group_id WHERE g.directory = $1 GROUP BY m.group_id`, dir)
	if err != nil {
		return nil, fmt.Errorf("list members of directory %s: %w", dir, err)
	}
	defer rows.Close()
	for rows.Next() {
		var gid, ids string
		if err := rows.Scan(&gid, &ids); err != nil {
			return nil, fmt.Errorf("list members of directory %s: %w", dir, err)
		}
		if i, ok := index[gid]; ok {
			out[i].Members = strings.Split(ids, "\x1f")
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list members of directory %s: %w", dir, err)
	}
	for i := range out {
		slices.Sort(out[i].Members)
	}
	return out, nil
}

const directoryStateCols = "directory, last_good_people, last_success_at, last_run_at, last_outcome, last_error, markers"

// GetDirectoryState returns the directory's state; the zero state for one
// never synced.
func (s *Store) GetDirectoryState(ctx context.Context, dir string) (authn.DirectoryState, error) {
	var st authn.DirectoryState
	err := s.rdb.QueryRowContext(ctx, "SELECT "+directoryStateCols+" FROM directory_state WHERE directory = $1", dir).
		Scan(&st.Directory, &st.LastGoodPeople, timeCol{&st.LastSuccessAt}, timeCol{&st.LastRunAt},
			&st.LastOutcome, &st.LastError, &st.Markers)
	switch {
	case err == sql.ErrNoRows:
		return authn.DirectoryState{Directory: dir}, nil
	case err != nil:
		return authn.DirectoryState{}, fmt.Errorf("get state of directory %s: %w", dir, err)
	}
	return st, nil
}

func (s *Store) putDirectoryState(ctx context.Context, tx *sql.Tx, st authn.DirectoryState) error {
	_, err := tx.ExecContext(ctx, "INSERT INTO directory_state ("+directoryStateCols+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7)
		ON CONFLICT (directory) DO UPDATE SET last_good_people = excluded.last_good_people,
		last_success_at = excluded.last_success_at, last_run_at = excluded.last_run_at,
		last_outcome = excluded.last_outcome, last_error = excluded.last_error, markers = excluded.markers`,
		st.Directory, st.LastGoodPeople, s.tvNull(st.LastSuccessAt), s.tvNull(st.LastRunAt),
		st.LastOutcome, st.LastError, cmp.Or(st.Markers, "{}"))
	return err
}

// PutDirectoryState stores st with ev.
func (s *Store) PutDirectoryState(ctx context.Context, st authn.DirectoryState, ev authn.AuditEvent) error {
	err := s.adminTx(ctx, ev, func(tx *sql.Tx) error { return s.putDirectoryState(ctx, tx, st) })
	if err != nil {
		return fmt.Errorf("put state of directory %s: %w", st.Directory, err)
	}
	return nil
}

// TryLockDirectory takes or extends holder's lease on syncing dir, in one
// conditional statement: of concurrent callers, also in several processes,
// one wins.
func (s *Store) TryLockDirectory(ctx context.Context, dir, holder string, now time.Time, ttl time.Duration) (bool, error) {
	if holder == "" {
		return false, fmt.Errorf("lock directory %s: empty holder", dir)
	}
	n, err := s.execRetry(ctx, `INSERT INTO directory_locks (directory, holder, expires_at) VALUES ($1, $2, $3)
		ON CONFLICT (directory) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at
		WHERE directory_locks.expires_at <= $4 OR directory_locks.holder = excluded.holder`,
		dir, holder, s.tv(now.Add(ttl)), s.tv(now))
	if err != nil {
		return false, fmt.Errorf("lock directory %s: %w", dir, err)
	}
	return n == 1, nil
}

// UnlockDirectory ends holder's lease on dir.
func (s *Store) UnlockDirectory(ctx context.Context, dir, holder string) error {
	if _, err := s.execRetry(ctx, "DELETE FROM directory_locks WHERE directory = $1 AND holder = $2", dir, holder); err != nil {
		return fmt.Errorf("unlock directory %s: %w", dir, err)
	}
	return nil
}

// ApplyDirectorySync applies ch to directory dir and appends events, in one
// transaction.
func (s *Store) ApplyDirectorySync(ctx context.Context, dir string, ch authn.DirectoryChanges, events ...authn.AuditEvent) (authn.DirectoryApplied, error) {
	var done authn.DirectoryApplied
	if dir == "" {
		return done, fmt.Errorf("apply directory sync: no directory named")
	}
	tx, err := s.wdb.BeginTx(ctx, nil)
	if err != nil {
		return done, fmt.Errorf("apply sync of directory %s: %w", dir, err)
	}
	defer tx.Rollback()
	err = s.applyDirectorySync(ctx, tx, dir, ch, &done)
	if err == nil {
		err = s.appendAudit(ctx, tx, events...)
	}
	if err == nil {
		err = tx.Commit()
	}
	if s.cache != nil {
		for _, id := range slices.Concat(done.Disabled, done.Deleted) {
			s.cache.dropUser(id)
		}
	}
	if err != nil {
		return authn.DirectoryApplied{}, fmt.Errorf("apply sync of directory %s: %w", dir, dbErr(err))
	}
	return done, nil
}

func (s *Store) applyDirectorySync(ctx context.Context, tx *sql.Tx, dir string, ch authn.DirectoryChanges, done *authn.DirectoryApplied) error {
	if err := s.lockAuditHead(ctx, tx); err != nil {
		return err
	}
	if ch.Holder != "" {
		var holder string
		err := tx.QueryRowContext(ctx, "SELECT holder FROM directory_locks WHERE directory = $1 AND holder = $2 AND expires_at > $3"+s.forUpdate,
			dir, ch.Holder, s.tv(ch.At)).Scan(&holder)
		if err == sql.ErrNoRows {
			return authn.ErrNotLocked
		}
		if err != nil {
			return err
		}
	}
	// exec runs a statement that must change one row of the directory.
	exec := func(what, id, query string, args ...any) error {
		res, err := tx.ExecContext(ctx, query, args...)
		if err != nil {
			return fmt.Errorf("%s %s: %w", what, id, dbErr(err))
		}
		if n, err := rowsAffected(res); err != nil || n != 1 {
			return fmt.Errorf("%s %s: %w", what, id, cmp.Or(err, error(authn.ErrNotFound)))
		}
		return nil
	}

	// Disable first: the people who leave (and whose names may be released).
	for _, d := range ch.Disable {
		// A frozen leaver too: she keeps her freeze (frozen_at), which
		// comes back if the directory enables her again.
		res, err := tx.ExecContext(ctx, `UPDATE users SET status = $3, disabled_by = $4, disabled_at = $5, updated_at = $5
			WHERE id = $1 AND directory = $2 AND status IN ($6, $7)`,
			d.UserID, dir, authn.StatusDisabled, authn.DisabledByDirectory, s.tv(ch.At), authn.StatusActive, authn.StatusFrozen)
		if err != nil {
			return fmt.Errorf("disable %s: %w", d.UserID, err)
		}
		if n, err := rowsAffected(res); err != nil || n == 0 {
			if err != nil {
				return err
			}
			// Not active (any more): nothing to end. Disabled by an
			// administrator: by both, from now on the directory's grace.
			if _, err := tx.ExecContext(ctx, `UPDATE users SET disabled_by = $4, disabled_at = $5
				WHERE id = $1 AND directory = $2 AND status = $3 AND disabled_by = $6`,
				d.UserID, dir, authn.StatusDisabled, authn.DisabledByAdminAndDirectory, s.tv(ch.At), authn.DisabledByAdmin); err != nil {
				return fmt.Errorf("disable %s: %w", d.UserID, err)
			}
			continue
		}
		if _, err := tx.ExecContext(ctx, "UPDATE sessions SET revoked_at = $2 WHERE user_id = $1 AND revoked_at IS NULL",
			d.UserID, s.tv(ch.At)); err != nil {
			return fmt.Errorf("revoke sessions of %s: %w", d.UserID, err)
		}
		refs, err := s.revokeUserTokensTx(ctx, tx, d.UserID, ch.At)
		if err != nil {
			return fmt.Errorf("revoke oidc tokens of %s: %w", d.UserID, err)
		}
		done.Disabled = append(done.Disabled, d.UserID)
		done.Logouts = append(done.Logouts, refs...)
		if err := s.endRecoveryByDirectoryTx(ctx, tx, dir, d.UserID, ch.At, "the directory disabled her"); err != nil {
			return err
		}
	}
	for _, id := range ch.Release {
		var u authn.User
		u, err := scanUser(tx.QueryRowContext(ctx, "SELECT "+userCols+" FROM users WHERE id = $1 AND directory = $2 AND status = $3",
			id, dir, authn.StatusDisabled))
		if err != nil {
			return fmt.Errorf("release the username of %s: %w", id, dbErr(err))
		}
		u.Username = "~" + u.ID
		if err := exec("release the username of", id, "UPDATE users SET username = $2, search_text = $3 WHERE id = $1",
			id, u.Username, searchText(u)); err != nil {
			return err
		}
		if err := reindexUser(ctx, tx, u); err != nil {
			return err
		}
	}
	// Renames may swap names: every renamed person lets go of her old name
	// before anyone takes a new one.
	for _, u := range ch.Update {
		if _, err := tx.ExecContext(ctx, "UPDATE users SET username = '~' || id WHERE id = $1 AND directory = $2 AND username <> $3",
			u.ID, dir, u.Username); err != nil {
			return fmt.Errorf("rename %s: %w", u.ID, err)
		}
	}
	for _, u := range ch.Update {
		if err := checkCanonical("username", u.Username); err != nil {
			return err
		}
		if err := exec("update", u.Username, `UPDATE users SET external_id = $3, username = $4, display_name = $5, email = $6,
			phone = $7, postal_address = $8, search_text = $9, updated_at = $10 WHERE id = $1 AND directory = $2`,
			u.ID, dir, u.ExternalID, u.Username, u.DisplayName, u.Email, u.Phone, strings.Join(u.PostalAddress, "\n"),
			searchText(u), s.tv(u.UpdatedAt)); err != nil {
			return err
		}
		if err := reindexUser(ctx, tx, u); err != nil {
			return err
		}
	}
	for _, u := range ch.Create {
		if u.Directory != dir || u.Source != authn.SourceDirectory {
			return fmt.Errorf("create %s: not a person of directory %s", u.Username, dir)
		}
		if err := checkCanonical("username", u.Username); err != nil {
			return err
		}
	}
	// Many rows per statement: the first sync of a city creates tens of
	// thousands.
	err := insertRows(ctx, tx, "INSERT INTO users ("+userCols+", search_text) VALUES ", 14, len(ch.Create),
		func(i int) []any {
			u := ch.Create[i]
			return []any{u.ID, u.ExternalID, u.Username, u.DisplayName, u.Email, u.Status, u.Source,
				s.tv(u.CreatedAt), s.tv(u.UpdatedAt), strings.Join(u.PostalAddress, "\n"), u.VerifiedEmail,
				u.Directory, u.Phone, searchText(u)}
		}, "")
	if err != nil {
		return fmt.Errorf("create people: %w", dbErr(err))
	}
	if err := insertSearchTerms(ctx, tx, ch.Create...); err != nil {
		return err
	}
	for _, id := range ch.Enable {
		// Enabled again: frozen again if she was (the freeze is Keyhall's
		// and only an admin lifts it).
		res, err := tx.ExecContext(ctx, `UPDATE users SET status = CASE WHEN frozen_at IS NULL THEN $3 ELSE $7 END,
			disabled_by = '', disabled_at = NULL, updated_at = $4
			WHERE id = $1 AND directory = $2 AND status = $5 AND disabled_by = $6`,
			id, dir, authn.StatusActive, s.tv(ch.At), authn.StatusDisabled, authn.DisabledByDirectory, authn.StatusFrozen)
		if err != nil {
			return fmt.Errorf("enable %s: %w", id, err)
		}
		if n, err := rowsAffected(res); err != nil {
			return err
		} else if n == 1 {
			done.Enabled = append(done.Enabled, id)
			// Disabled before a directory's disable cancelled it: her
			// recovery ends now, before the job could finish it.
			if err := s.endRecoveryByDirectoryTx(ctx, tx, dir, id, ch.At, "the directory enabled her; the recovery began before she was disabled"); err != nil {
				return err
			}
			continue
		}
		// Disabled by both: the administrator's disable stays.
		if _, err := tx.ExecContext(ctx, `UPDATE users SET disabled_by = $5
			WHERE id = $1 AND directory = $2 AND status = $3 AND disabled_by = $4`,
			id, dir, authn.StatusDisabled, authn.DisabledByAdminAndDirectory, authn.DisabledByAdmin); err != nil {
			return fmt.Errorf("enable %s: %w", id, err)
		}
	}
	for _, id := range ch.Delete {
		// A leaver an administrator disabled too goes as well: disabled_at
		// is the directory's disable in either order.
		res, err := tx.ExecContext(ctx, `DELETE FROM users WHERE id = $1 AND directory = $2 AND status = $3
			AND disabled_by IN ($4, $6) AND disabled_at <= $5`,
			id, dir, authn.StatusDisabled, authn.DisabledByDirectory, s.tv(ch.DeleteBefore), authn.DisabledByAdminAndDirectory)
		if err != nil {
			return fmt.Errorf("delete %s: %w", id, err)
		}
		if n, err := rowsAffected(res); err != nil {
			return err
		} else if n == 1 {
			done.Deleted = append(done.Deleted, id)
		}
	}
	for _, g := range ch.CreateGroups {
		if g.Directory != dir || g.Source != authn.SourceDirectory {
			return fmt.Errorf("create group %s: not a group of directory %s", g.Name, dir)
		}
		if err := s.insertGroup(ctx, tx, g); err != nil {
			return fmt.Errorf("create group %s: %w", g.Name, err)
		}
	}
	for _, g := range ch.UpdateGroups {
		if err := exec("update group", g.Name, "UPDATE groups SET display_name = $3, external_id = $4 WHERE id = $1 AND directory = $2",
			g.ID, dir, g.DisplayName, g.ExternalID); err != nil {
			return err
		}
	}
	for _, m := range ch.RemoveMembers {
		if _, err := tx.ExecContext(ctx, `DELETE FROM memberships WHERE group_id = $1 AND user_id = $2
			AND group_id IN (SELECT id FROM groups WHERE directory = $3)`, m.GroupID, m.UserID, dir); err != nil {
			return fmt.Errorf("remove %s from group %s: %w", m.UserID, m.GroupID, err)
		}
	}
	ours := map[string]bool{}
	if len(ch.AddMembers) > 0 {
		rows, err := tx.QueryContext(ctx, "SELECT id FROM groups WHERE directory = $1", dir)
		if err != nil {
			return err
		}
		for rows.Next() {
			var id string
			if err := rows.Scan(&id); err != nil {
				rows.Close()
				return err
			}
			ours[id] = true
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
	}
	add := slices.DeleteFunc(slices.Clone(ch.AddMembers), func(m authn.Membership) bool { return !ours[m.GroupID] })
	err = insertRows(ctx, tx, "INSERT INTO memberships (group_id, user_id) VALUES ", 2, len(add),
		func(i int) []any { return []any{add[i].GroupID, add[i].UserID} },
		" ON CONFLICT (group_id, user_id) DO NOTHING")
	if err != nil {
		return fmt.Errorf("add members: %w", dbErr(err))
	}
	if ch.State != nil {
		st := *ch.State
		st.Directory = dir
		if err := s.putDirectoryState(ctx, tx, st); err != nil {
			return fmt.Errorf("put state: %w", err)
		}
	}
	return nil
}

// revokeUserTokensTx revokes every OIDC token of a person in tx and returns
// the clients and sessions concerned (as RevokeOIDCUserTokens does).
func (s *Store) revokeUserTokensTx(ctx context.Context, tx *sql.Tx, userID string, at time.Time) ([]authn.OIDCGrantRef, error) {
	rows, err := tx.QueryContext(ctx, `SELECT DISTINCT client_id, user_id, session_hash FROM oidc_tokens
		WHERE user_id = $1 AND revoked_at IS NULL ORDER BY client_id, user_id, session_hash`, userID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var refs []authn.OIDCGrantRef
	for rows.Next() {
		var r authn.OIDCGrantRef
		if err := rows.Scan(&r.ClientID, &r.UserID, hashCol{(*[32]byte)(&r.Session)}); err != nil {
			return nil, err
		}
		refs = append(refs, r)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	rows.Close()
	_, err = tx.ExecContext(ctx, "UPDATE oidc_tokens SET revoked_at = $2 WHERE user_id = $1 AND revoked_at IS NULL", userID, s.tv(at))
	return refs, err
}

// insertRows inserts n rows of cols values each (row(i) gives them) with
// prefix ("INSERT INTO t (…) VALUES ") and suffix, many rows per statement.
func insertRows(ctx context.Context, tx *sql.Tx, prefix string, cols, n int, row func(i int) []any, suffix string) error {
	per := max(1, 900/cols) // well below either dialect's limit of parameters
	for start := 0; start < n; start += per {
		end := min(n, start+per)
		var q strings.Builder
		q.WriteString(prefix)
		args := make([]any, 0, (end-start)*cols)
		for i := start; i < end; i++ {
			if i > start {
				q.WriteString(", ")
			}
			q.WriteString("(")
			for c := range cols {
				if c > 0 {
					q.WriteString(", ")
				}
				fmt.Fprintf(&q, "$%d", len(args)+c+1)
			}
			q.WriteString(")")
			args = append(args, row(i)...)
		}
		q.WriteString(suffix)
		if _, err := tx.ExecContext(ctx, q.String(), args...); err != nil {
			return err
		}
	}
	return nil
}

// endRecoveryByDirectoryTx cancels the person's pending recovery by e-mail,
// if she has one, as an administrator's disable does (a directory's disable
// may be IT's answer to a takeover), audited about her as recovery.cancel.
func (s *Store) endRecoveryByDirectoryTx(ctx context.Context, tx *sql.Tx, dir, userID string, at time.Time, reason string) error {
	d, err := s.endRecoveryOnFreezeTx(ctx, tx, userID, at)
	if err != nil || d == nil {
		return err
	}
	return s.appendAudit(ctx, tx, authn.AuditEvent{Time: at, Actor: "directory:" + dir, Action: "recovery.cancel",
		Subject: "user:" + userID, Reason: reason, Details: d})
}
