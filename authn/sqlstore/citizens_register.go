package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/keyhall/keyhall/authn"
)

var _ authn.RegistrationStore = (*Store)(nil)

const registrationCols = "user_id, email, created_at, finished_at"

// sqlGetRegistration reads one person's registration (prepared).
const sqlGetRegistration = "SELECT " + registrationCols + " FROM registrations WHERE user_id = $1"

func scanRegistration(row interface{ Scan(...any) error }) (authn.Registration, error) {
	var r authn.Registration
	err := row.Scan(&r.UserID, &r.Email, timeCol{&r.CreatedAt}, timeCol{&r.FinishedAt})
	return r, err
}

// CreateRegistration stores r.
func (s *Store) CreateRegistration(ctx context.Context, r authn.Registration) error {
	_, err := s.wdb.ExecContext(ctx, `INSERT INTO registrations (user_id, email, created_at, finished_at)
		VALUES ($1, $2, $3, $4)`, r.UserID, r.Email, s.tv(r.CreatedAt), s.tvNull(r.FinishedAt))
	if err != nil {
		return fmt.Errorf("create registration of %s: %w", r.UserID, dbErr(err))
	}
	return nil
}

// GetRegistration returns the registration of the person with userID.
func (s *Store) GetRegistration(ctx context.Context, userID string) (authn.Registration, error) {
	r, err := scanRegistration(s.stmt.getRegistration.QueryRowContext(ctx, userID))
	if err != nil {
		return authn.Registration{}, fmt.Errorf("get registration of %s: %w", userID, dbErr(err))
	}
	return r, nil
}

// FinishRegistration marks the registration finished at at, once.
func (s *Store) FinishRegistration(ctx context.Context, userID string, at time.Time) error {
	res, err := s.wdb.ExecContext(ctx, `UPDATE registrations SET finished_at = COALESCE(finished_at, $2)
		WHERE user_id = $1`, userID, s.tv(at))
	if err == nil {
		var n int
		if n, err = rowsAffected(res); err == nil && n == 0 {
			err = authn.ErrNotFound
		}
	}
	if err != nil {
		return fmt.Errorf("finish registration of %s: %w", userID, err)
	}
	return nil
}

// UnfinishedRegistrations lists unfinished registrations created before
// before, oldest first, at most limit.
func (s *Store) UnfinishedRegistrations(ctx context.Context, before time.Time, limit int) ([]authn.Registration, error) {
	rows, err := s.rdb.QueryContext(ctx, "SELECT "+registrationCols+` FROM registrations
		WHERE finished_at IS NULL AND created_at < $1 ORDER BY created_at LIMIT $2`, s.tv(before), limit)
	if err != nil {
		return nil, fmt.Errorf("list unfinished registrations: %w", err)
	}
	defer rows.Close()
	var out []authn.Registration
	for rows.Next() {
		r, err := scanRegistration(rows)
		if err != nil {
			return nil, fmt.Errorf("list unfinished registrations: %w", err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list unfinished registrations: %w", err)
	}
	return out, nil
}

// EraseRegistration removes an unfinished registration, its person (the
// foreign keys' ON DELETE CASCADE take her memberships, invitations and
// their codes, enrollments, credentials, sessions, tokens and search terms
// with her) and her name from the audit log, in one transaction with ev.
func (s *Store) EraseRegistration(ctx context.Context, userID string, ev authn.AuditEvent) error {
	// A key or app stored finishes the registration, whether or not she
	// came to its last page (review of #15: the cleanup erased a citizen
	// who had closed the tab after her app).
	res, err := s.wdb.ExecContext(ctx, `UPDATE registrations SET finished_at = $2
		WHERE user_id = $1 AND finished_at IS NULL AND EXISTS (SELECT 1 FROM credentials WHERE user_id = $1)`,
		userID, s.tv(ev.Time))
	if err != nil {
		return fmt.Errorf("erase registration of %s: %w", userID, err)
	}
	if n, err := rowsAffected(res); err != nil {
		return fmt.Errorf("erase registration of %s: %w", userID, err)
	} else if n > 0 {
		return fmt.Errorf("erase registration of %s: she has a key or app: %w", userID, authn.ErrUsed)
	}
	err = s.adminTx(ctx, ev, func(tx *sql.Tx) error {
		var finished time.Time
		err := tx.QueryRowContext(ctx, "SELECT finished_at FROM registrations WHERE user_id = $1", userID).
			Scan(timeCol{&finished})
		switch {
		case errors.Is(err, sql.ErrNoRows):
			return authn.ErrNotFound
		case err != nil:
			return err
		case !finished.IsZero():
			return authn.ErrUsed
		}
		var factors int
		if err := tx.QueryRowContext(ctx, "SELECT COUNT(*) FROM credentials WHERE user_id = $1", userID).Scan(&factors); err != nil {
			return err
		} else if factors > 0 {
			return authn.ErrUsed // stored since the update above
		}
		u, err := scanUser(tx.QueryRowContext(ctx, "SELECT "+userCols+" FROM users WHERE id = $1", userID))
		switch {
		case errors.Is(err, sql.ErrNoRows):
			u = authn.User{ID: userID} // a registration whose person was never made
		case err != nil:
			return err
		}
		if _, err := s.redactPersonTx(ctx, tx, u); err != nil { // as an erasure does
			return fmt.Errorf("redact audit events: %w", err)
		}
		for _, q := range []string{"DELETE FROM users WHERE id = $1", "DELETE FROM registrations WHERE user_id = $1"} {
			if _, err := tx.ExecContext(ctx, q, userID); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("erase registration of %s: %w", userID, err)
	}
	return nil
}

// CountCitizensGroup compares the group named group with the people who
// registered themselves (those who still exist), in one statement.
func (s *Store) CountCitizensGroup(ctx context.Context, group string) (authn.CitizensGroupCount, error) {
	const members = "SELECT m.user_id FROM memberships m JOIN groups g ON g.id = m.group_id WHERE g.name = $1"
	var c authn.CitizensGroupCount
	err := s.rdb.QueryRowContext(ctx, `SELECT
		(SELECT COUNT(*) FROM (`+members+`) AS mm),
		(SELECT COUNT(*) FROM (`+members+`) AS mm WHERE NOT EXISTS (SELECT 1 FROM registrations r WHERE r.user_id = mm.user_id)),
		(SELECT COUNT(*) FROM registrations r JOIN users u ON u.id = r.user_id
			WHERE r.user_id NOT IN (`+members+`))`, group).Scan(&c.Members, &c.Unregistered, &c.Outside)
	if err != nil {
		return authn.CitizensGroupCount{}, fmt.Errorf("count citizens' group %s: %w", group, dbErr(err))
	}
	return c, nil
}
