package sqlstore

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"golang.org/x/text/cases"
	"golang.org/x/text/unicode/norm"

	"github.com/keyhall/keyhall/authn"
)

const userCols = "id, external_id, username, display_name, email, status, source, created_at, updated_at, postal_address, verified_email, directory, phone"

// The hot user statements, prepared at Open.
const (
	sqlGetUser           = "SELECT " + userCols + " FROM users WHERE id = $1"
	sqlGetUserByUsername = "SELECT " + userCols + " FROM users WHERE username = $1"
)

// auditedExec runs one statement that must change a row, and appends ev,
// in one writer transaction (adminTx); authn.ErrNotFound when it changed
// none.
func (s *Store) auditedExec(ctx context.Context, ev authn.AuditEvent, query string, args ...any) error {
	return s.adminTx(ctx, ev, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, query, args...)
		if err != nil {
			return err
		}
		if n, err := rowsAffected(res); err != nil || n == 0 {
			return cmp.Or(err, authn.ErrNotFound)
		}
		return nil
	})
}

// adminTx runs fn and appends ev in one writer transaction. The audit head
// is locked first, as every appending transaction does (see lockAuditHead).
func (s *Store) adminTx(ctx context.Context, ev authn.AuditEvent, fn func(tx *sql.Tx) error) error {
	return s.adminTxEv(ctx, &ev, fn)
}

// adminTxEv is adminTx for an fn that adds to the event (its details).
func (s *Store) adminTxEv(ctx context.Context, ev *authn.AuditEvent, fn func(tx *sql.Tx) error) error {
	tx, err := s.wdb.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if err := s.lockAuditHead(ctx, tx); err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		return err
	}
	if err := s.appendAudit(ctx, tx, *ev); err != nil {
		return err
	}
	return tx.Commit()
}

// checkCanonical refuses a name that is not in canonical form: stored
// unchecked, it would slip past the uniqueness of canonical names.
func checkCanonical(what, name string) error {
	c, err := authn.CanonicalName(name)
	if err != nil {
		return fmt.Errorf("%s %q: %w", what, name, err)
	}
	if c != name {
		return fmt.Errorf("%s %q is not canonical (want %q)", what, name, c)
	}
	return nil
}

// searchText is what ListUsers matches a query against: username, display
// name and e-mail, case-folded.
func searchText(u authn.User) string {
	return foldText(u.Username + "\n" + u.DisplayName + "\n" + u.Email)
}

func foldText(s string) string { return norm.NFKC.String(cases.Fold().String(s)) }

func scanUser(row interface{ Scan(...any) error }) (authn.User, error) {
	var x userRow
	err := row.Scan(x.dest()...)
	return x.user(), err
}

// userRow is what a row of userCols is scanned into, for queries that read
// a person with something else.
type userRow struct {
	u       authn.User
	address string
}

func (x *userRow) dest() []any {
	u := &x.u
	return []any{&u.ID, &u.ExternalID, &u.Username, &u.DisplayName, &u.Email, &u.Status, &u.Source,
		timeCol{&u.CreatedAt}, timeCol{&u.UpdatedAt}, &x.address, &u.VerifiedEmail, &u.Directory, &u.Phone}
}

func (x *userRow) user() authn.User {
	u := x.u
	if x.address != "" {
		u.PostalAddress = strings.Split(x.address, "\n")
	}
	return u
}

func (s *Store) insertUser(ctx context.Context, tx *sql.Tx, u authn.User) error {
	if err := checkCanonical("username", u.Username); err != nil {
		return err
	}
	_, err := tx.ExecContext(ctx, "INSERT INTO users ("+userCols+`, search_text)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)`,
		u.ID, u.ExternalID, u.Username, u.DisplayName, u.Email, u.Status, u.Source,
		s.tv(u.CreatedAt), s.tv(u.UpdatedAt), strings.Join(u.PostalAddress, "\n"), u.VerifiedEmail,
		u.Directory, u.Phone, searchText(u))
	if err != nil {
		return dbErr(err)
	}
	return insertSearchTerms(ctx, tx, u)
}

// CreateUser stores u with ev.
func (s *Store) CreateUser(ctx context.Context, u authn.User, ev authn.AuditEvent) error {
	err := s.adminTx(ctx, ev, func(tx *sql.Tx) error { return s.insertUser(ctx, tx, u) })
	if err != nil {
		return fmt.Errorf("create user %s: %w", u.Username, err)
	}
	return nil
}

// GetUser finds a person by ID.
func (s *Store) GetUser(ctx context.Context, id string) (authn.User, error) {
	u, err := scanUser(s.stmt.getUser.QueryRowContext(ctx, id))
	if err != nil {
		return authn.User{}, fmt.Errorf("get user %s: %w", id, dbErr(err))
	}
	return u, nil
}

// GetUserByUsername finds a person by canonical username.
func (s *Store) GetUserByUsername(ctx context.Context, username string) (authn.User, error) {
	u, err := scanUser(s.stmt.getUserByUsername.QueryRowContext(ctx, username))
	if err != nil {
		return authn.User{}, fmt.Errorf("get user %s: %w", username, dbErr(err))
	}
	return u, nil
}

// GetUserByExternalID finds a person by the directory's stable id.
func (s *Store) GetUserByExternalID(ctx context.Context, source authn.Source, externalID string) (authn.User, error) {
	if externalID == "" {
		return authn.User{}, fmt.Errorf("get user by external id: %w", authn.ErrNotFound)
	}
	u, err := scanUser(s.rdb.QueryRowContext(ctx,
		"SELECT "+userCols+" FROM users WHERE source = $1 AND external_id = $2", source, externalID))
	if err != nil {
		return authn.User{}, fmt.Errorf("get user by external id %s: %w", externalID, dbErr(err))
	}
	return u, nil
}

// likePattern returns a LIKE pattern matching q anywhere, with LIKE's
// special characters escaped by a backslash.
func likePattern(q string) string {
	r := strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)
	return "%" + r.Replace(foldText(q)) + "%"
}

// ListUsers lists people in order of username.
func (s *Store) ListUsers(ctx context.Context, f authn.UserFilter) ([]authn.User, error) {
	limit := f.Limit
	if limit <= 0 {
		limit = 100
	}
	rows, err := s.rdb.QueryContext(ctx, "SELECT "+userCols+` FROM users
		WHERE username > $1 AND search_text LIKE $2 ESCAPE '\'
		ORDER BY username LIMIT $3`, f.After, likePattern(f.Query), limit)
	if err != nil {
		return nil, fmt.Errorf("list users: %w", err)
	}
	return collectUsers(rows)
}

func collectUsers(rows *sql.Rows) ([]authn.User, error) {
	defer rows.Close()
	var out []authn.User
	for rows.Next() {
		u, err := scanUser(rows)
		if err != nil {
			return nil, fmt.Errorf("list users: %w", err)
		}
		out = append(out, u)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list users: %w", err)
	}
	return out, nil
}

// CountUsers returns how many people there are.
func (s *Store) CountUsers(ctx context.Context) (int, error) {
	var n int
	if err := s.rdb.QueryRowContext(ctx, "SELECT COUNT(*) FROM users").Scan(&n); err != nil {
		return 0, fmt.Errorf("count users: %w", err)
	}
	return n, nil
}

// DisableUser marks the person disabled by an administrator (see
// authn.UserStore).
func (s *Store) DisableUser(ctx context.Context, id string, at time.Time, ev authn.AuditEvent) (bool, error) {
	changed := false
	err := s.adminTxEv(ctx, &ev, func(tx *sql.Tx) error {
		// Disabled by the directory already: by both (the directory's
		// disable outlives the administrator's enable).
		res, err := tx.ExecContext(ctx, `UPDATE users SET status = $2,
			disabled_by = CASE WHEN status = $2 AND disabled_by = $5 THEN $6 ELSE $3 END,
			disabled_at = COALESCE(disabled_at, $4), updated_at = $4
			WHERE id = $1 AND NOT (status = $2 AND disabled_by IN ($3, $6))`,
			id, authn.StatusDisabled, authn.DisabledByAdmin, s.tv(at), authn.DisabledByDirectory, authn.DisabledByAdminAndDirectory)
		if err != nil {
			return dbErr(err)
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 1 {
			changed = true
			// A pending recovery by e-mail ends as a freeze ends it: else
			// her enable lets the job finish it, deleting her own factors
			// and keeping the new one, maybe a mailbox thief's.
			return s.cancelPendingRecoveryTx(ctx, tx, id, at, &ev)
		}
		var one int
		if err := tx.QueryRowContext(ctx, "SELECT 1 FROM users WHERE id = $1", id).Scan(&one); err != nil {
			return dbErr(err)
		}
		return errUnchanged // roll back: the audit event is not written
	})
	switch {
	case errors.Is(err, errUnchanged):
		return false, nil
	case err != nil:
		return false, fmt.Errorf("disable user %s: %w", id, err)
	}
	if s.cache != nil {
		s.cache.dropUser(id)
	}
	return changed, nil
}

// errUnchanged rolls back a transaction that found nothing to change.
var errUnchanged = errors.New("nothing to change")

// UpdateUser reads the person, applies fn and stores its result with ev, in
// one transaction. The row is locked (PostgreSQL: FOR NO KEY UPDATE; SQLite:
// the writer lock) from the read to the commit, so fn must not call the
// Store: on SQLite it would wait for the lock it is holding.
func (s *Store) UpdateUser(ctx context.Context, id string, fn func(authn.User) (authn.User, error), ev authn.AuditEvent) (authn.User, error) {
	var fnErr error
	var updated authn.User
	err := s.adminTx(ctx, ev, func(tx *sql.Tx) error {
		old, err := scanUser(tx.QueryRowContext(ctx, "SELECT "+userCols+" FROM users WHERE id = $1"+s.forNoKeyUpdate, id))
		if err != nil {
			return dbErr(err)
		}
		u, err := fn(old)
		if err != nil {
			fnErr = err
			return err
		}
		if u.ID != old.ID {
			return fmt.Errorf("the update changes the id to %q", u.ID)
		}
		if err := checkCanonical("username", u.Username); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `UPDATE users SET external_id = $2, username = $3, display_name = $4,
			email = $5, status = $6, source = $7, created_at = $8, updated_at = $9, search_text = $10,
			postal_address = $11, verified_email = $12, directory = $13, phone = $14
			WHERE id = $1`, u.ID, u.ExternalID, u.Username, u.DisplayName, u.Email, u.Status, u.Source,
			s.tv(u.CreatedAt), s.tv(u.UpdatedAt), searchText(u), strings.Join(u.PostalAddress, "\n"), u.VerifiedEmail,
			u.Directory, u.Phone)
		if err != nil {
			return dbErr(err)
		}
		if err := reindexUser(ctx, tx, u); err != nil {
			return err
		}
		updated = u
		if u.Status == old.Status {
			return nil
		}
		// Who disabled her: an administrator, through UpdateUser; enabled,
		// nobody (the directory sync enables only whom it disabled).
		by, at := "", any(nil)
		if u.Status == authn.StatusDisabled {
			by, at = authn.DisabledByAdmin, s.tv(u.UpdatedAt)
		}
		_, err = tx.ExecContext(ctx, "UPDATE users SET disabled_by = $2, disabled_at = $3 WHERE id = $1", u.ID, by, at)
		return err
	})
	switch {
	case fnErr != nil:
		return authn.User{}, fnErr
	case err != nil:
		return authn.User{}, fmt.Errorf("update user %s: %w", id, err)
	}
	return normUser(updated), nil
}

// normUser returns u as the store gives it back: times in UTC, to the
// microsecond.
func normUser(u authn.User) authn.User {
	u.CreatedAt = u.CreatedAt.UTC().Truncate(time.Microsecond)
	u.UpdatedAt = u.UpdatedAt.UTC().Truncate(time.Microsecond)
	return u
}
