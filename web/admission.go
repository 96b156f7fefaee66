package web

import (
	"context"
	"fmt"
	"slices"

	"github.com/keyhall/keyhall/authn"
)

// admits reports whether a person in groups (names) may use a tool limited
// to want: an OIDC client's groups or a forward-auth rule's. She must be
// in one of want; empty want admits every person — but not a citizen (a
// member of citizens.group, "buerger" by default): anyone may register, so
// a citizen uses only the tools that name her group. A tool for the city's
// staff written with no groups ("everyone") stays closed to her. This holds
// whether or not registration is open (citizens.enabled): closing it
// leaves the citizens who registered. The OIDC provider asks at each
// authorization and each refresh, forward-auth at each request.
func (s *Server) admits(want, groups []string) bool {
	if len(want) == 0 {
		return !slices.Contains(groups, s.citizensGroup)
	}
	return slices.ContainsFunc(groups, func(g string) bool { return slices.Contains(want, g) })
}

// groupNames reads the names of the person's groups.
func groupNames(ctx context.Context, st authn.Store, userID string) ([]string, error) {
	groups, err := st.UserGroups(ctx, userID)
	if err != nil {
		return nil, fmt.Errorf("read groups: %w", err)
	}
	names := make([]string, len(groups))
	for i, g := range groups {
		names[i] = g.Name
	}
	return names, nil
}
