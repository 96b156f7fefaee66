package sqlstore

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/keyhall/keyhall/authn"
)

const groupCols = "id, external_id, name, display_name, source, created_at, directory"

func scanGroup(row interface{ Scan(...any) error }) (authn.Group, error) {
	var g authn.Group
	err := row.Scan(&g.ID, &g.ExternalID, &g.Name, &g.DisplayName, &g.Source, timeCol{&g.CreatedAt}, &g.Directory)
	return g, err
}

func (s *Store) insertGroup(ctx context.Context, tx *sql.Tx, g authn.Group) error {
	if err := checkCanonical("group name", g.Name); err != nil {
		return err
	}
	_, err := tx.ExecContext(ctx, "INSERT INTO groups ("+groupCols+") VALUES ($1, $2, $3, $4, $5, $6, $7)",
		g.ID, g.ExternalID, g.Name, g.DisplayName, g.Source, s.tv(g.CreatedAt), g.Directory)
	return dbErr(err)
}

// CreateGroup stores g with ev.
func (s *Store) CreateGroup(ctx context.Context, g authn.Group, ev authn.AuditEvent) error {
	err := s.adminTx(ctx, ev, func(tx *sql.Tx) error { return s.insertGroup(ctx, tx, g) })
	if err != nil {
		return fmt.Errorf("create group %s: %w", g.Name, err)
	}
	return nil
}

// GetGroupByName finds a group by canonical name.
func (s *Store) GetGroupByName(ctx context.Context, name string) (authn.Group, error) {
	g, err := scanGroup(s.rdb.QueryRowContext(ctx, "SELECT "+groupCols+" FROM groups WHERE name = $1", name))
	if err != nil {
		return authn.Group{}, fmt.Errorf("get group %s: %w", name, dbErr(err))
	}
	return g, nil
}

// ListGroups lists every group, by name.
func (s *Store) ListGroups(ctx context.Context) ([]authn.Group, error) {
	rows, err := s.rdb.QueryContext(ctx, "SELECT "+groupCols+" FROM groups ORDER BY name")
	if err != nil {
		return nil, fmt.Errorf("list groups: %w", err)
	}
	return collectGroups(rows)
}

func collectGroups(rows *sql.Rows) ([]authn.Group, error) {
	defer rows.Close()
	var out []authn.Group
	for rows.Next() {
		g, err := scanGroup(rows)
		if err != nil {
			return nil, fmt.Errorf("list groups: %w", err)
		}
		out = append(out, g)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list groups: %w", err)
	}
	return out, nil
}

// AddMember adds a person to a group, with ev. ErrNotFound if either does
// not exist (the foreign keys say so), ErrAlreadyExists if she is a member.
func (s *Store) AddMember(ctx context.Context, groupID, userID string, ev authn.AuditEvent) error {
	err := s.adminTx(ctx, ev, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, "INSERT INTO memberships (group_id, user_id) VALUES ($1, $2)", groupID, userID)
		return dbErr(err)
	})
	if err != nil {
		return fmt.Errorf("add user %s to group %s: %w", userID, groupID, err)
	}
	return nil
}

// RemoveMember removes a person from a group, with ev.
func (s *Store) RemoveMember(ctx context.Context, groupID, userID string, ev authn.AuditEvent) error {
	err := s.auditedExec(ctx, ev, "DELETE FROM memberships WHERE group_id = $1 AND user_id = $2", groupID, userID)
	if err != nil {
		return fmt.Errorf("remove user %s from group %s: %w", userID, groupID, err)
	}
	return nil
}

// sqlUserGroups lists a person's groups by name; prepared at Open.
const sqlUserGroups = `SELECT g.id, g.external_id, g.name, g.display_name, g.source, g.created_at, g.directory
	FROM groups g JOIN memberships m ON m.group_id = g.id
	WHERE m.user_id = $1 ORDER BY g.name`

// UserGroups lists the groups of a person, by name.
func (s *Store) UserGroups(ctx context.Context, userID string) ([]authn.Group, error) {
	rows, err := s.stmt.userGroups.QueryContext(ctx, userID)
	if err != nil {
		return nil, fmt.Errorf("list groups of user %s: %w", userID, err)
	}
	return collectGroups(rows)
}

// GroupMembers lists the members of a group, by username.
func (s *Store) GroupMembers(ctx context.Context, groupID string) ([]authn.User, error) {
	rows, err := s.rdb.QueryContext(ctx, `SELECT u.id, u.external_id, u.username, u.display_name, u.email,
		u.status, u.source, u.created_at, u.updated_at, u.postal_address, u.verified_email, u.directory, u.phone
		FROM users u JOIN memberships m ON m.user_id = u.id
		WHERE m.group_id = $1 ORDER BY u.username`, groupID)
	if err != nil {
		return nil, fmt.Errorf("list members of group %s: %w", groupID, err)
	}
	return collectUsers(rows)
}
