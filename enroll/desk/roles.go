package desk

import (
	"context"
	"fmt"
	"slices"

	"github.com/keyhall/keyhall/authn"
)

// RoleOf returns the highest role of the person userID ("" for none):
// admin for members of the bootstrap administrators' group or a group
// Roles names for admin, else helpdesk for members of a group Roles names
// for helpdesk. Only an enabled person has a role.
func (s *Service) RoleOf(ctx context.Context, userID string) (Role, error) {
	u, err := s.cfg.Store.GetUser(ctx, userID)
	if err != nil {
		return "", fmt.Errorf("role of %s: %w", userID, err)
	}
	if u.Status != authn.StatusActive {
		return "", nil
	}
	groups, err := s.cfg.Store.UserGroups(ctx, userID)
	if err != nil {
		return "", fmt.Errorf("role of %s: %w", userID, err)
	}
	names := make([]string, len(groups))
	for i, g := range groups {
		names[i] = g.Name
	}
	return s.roleByGroups(names), nil
}

// roleByGroups is the highest role the groups give, whatever the person's
// status.
func (s *Service) roleByGroups(groups []string) Role {
	role := Role("")
	for _, g := range groups {
		switch {
		case g == s.cfg.AdminGroup && s.cfg.AdminGroup != "", slices.Contains(s.cfg.Roles[RoleAdmin], g):
			return RoleAdmin
		case slices.Contains(s.cfg.Roles[RoleHelpdesk], g):
			role = RoleHelpdesk
		}
	}
	return role
}
