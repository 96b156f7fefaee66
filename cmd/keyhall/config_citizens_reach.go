package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"

	"github.com/keyhall/keyhall/authn"
	"github.com/keyhall/keyhall/authn/sqlstore"
)

// citizensReach names the OIDC clients and forward-auth rules citizens may
// use: a member of citizens.group passes only a client or rule whose
// groups name her group; one without groups ("everyone") is for every
// other person (web's Server.admits). This holds whether or not citizens
// are enabled: closing registration leaves the citizens who registered.
func (c Config) citizensReach() []string {
	var reach []string
	for i, cl := range c.OIDC.Clients {
		if slices.Contains(cl.Groups, c.Citizens.Group) {
			reach = append(reach, fmt.Sprintf("oidc.clients[%d] (%s)", i, cl.ID))
		}
	}
	for i, r := range c.ForwardAuth.Rules {
		if slices.Contains(r.Groups, c.Citizens.Group) {
			reach = append(reach, fmt.Sprintf("forward_auth.rules[%d] (%s%s)", i, r.Host, r.PathPrefix))
		}
	}
	return reach
}

// Notes are what check-config tells of a valid configuration besides
// "ok": today, the tools citizens may use, when citizens are on or the
// citizens' group has members (n, read from the database; the zero count
// when there is none).
func (c Config) Notes(n authn.CitizensGroupCount) []string {
	if !c.Citizens.Enabled && n.Members == 0 {
		return nil
	}
	reach := "no tool"
	if r := c.citizensReach(); len(r) > 0 {
		reach = strings.Join(r, ", ")
	} else if c.Citizens.Enabled {
		return nil // citizensWarnings says it
	}
	return []string{fmt.Sprintf("citizens (citizens.group %s) may use %s, and no tool without groups", c.Citizens.Group, reach)}
}

// citizensWarnings warns when citizens are on but no tool names their group:
// they can register and sign in, and use nothing but their account.
func (c Config) citizensWarnings() []string {
	if !c.Citizens.Enabled || len(c.citizensReach()) > 0 {
		return nil
	}
	return []string{fmt.Sprintf("citizens.enabled: no oidc.clients[].groups and no forward_auth.rules[].groups names citizens.group %s: "+
		"citizens can register and sign in but use no tool (a client or rule without groups is not for them); "+
		"add %s to the groups of the tools meant for them", c.Citizens.Group, c.Citizens.Group)}
}

// citizensGroupWarnings warns when the citizens' group and the people who
// registered themselves (n, from the database) disagree: check-config
// prints them, serve logs them at start. Members of citizens.group are
// treated as citizens (they use only the tools that name it), so
//   - people who registered and are not members (citizens.group was
//     renamed) pass every tool without groups, the staff's;
//   - members who did not register (a directory group that happens to
//     bear the name, e.g. "buerger" for the sachkundige Bürger) lose every
//     tool without groups.
func (c Config) citizensGroupWarnings(n authn.CitizensGroupCount) []string {
	g := c.Citizens.Group
	var out []string
	if n.Outside > 0 {
		out = append(out, fmt.Sprintf("citizens.group: %d people who registered themselves are not members of %s (was citizens.group renamed?): "+
			"they pass every oidc client and forward_auth rule without groups, the staff's; move them into %s "+
			"(keyhall admin groups add-member %s USERNAME) or set citizens.group back to the group they are in", n.Outside, g, g, g))
	}
	if n.Unregistered > 0 {
		out = append(out, fmt.Sprintf("citizens.group: %d of the %d members of %s did not register themselves (a directory group of the same name?): "+
			"as members of the citizens' group they use only the tools whose groups name %s, none without groups; "+
			"if %s is another group (e.g. sachkundige Bürger), rename it in the directory or set citizens.group to another name", n.Unregistered, n.Members, g, g, g))
	}
	return out
}

// countCitizensGroup reads from the database cfg names how the citizens'
// group and the people who registered themselves compare, opening only a
// database serve set up (nothing is created or migrated). ok is false,
// with no error, when there is no database yet.
func countCitizensGroup(ctx context.Context, a *app, cfg Config) (n authn.CitizensGroupCount, ok bool, err error) {
	err = withConfigStore(ctx, a, cfg, func(st authn.Store) error {
		rs, is := st.(authn.RegistrationStore)
		if !is {
			return nil
		}
		var err error
		n, err = rs.CountCitizensGroup(ctx, cfg.Citizens.Group)
		ok = err == nil
		return err
	})
	if errors.Is(err, sqlstore.ErrNoDatabase) {
		return authn.CitizensGroupCount{}, false, nil
	}
	return n, ok, err
}

// warnCitizensGroup logs citizensGroupWarnings at serve start.
func warnCitizensGroup(ctx context.Context, st authn.Store, cfg Config, logger *slog.Logger) {
	rs, ok := st.(authn.RegistrationStore)
	if !ok {
		return
	}
	n, err := rs.CountCitizensGroup(ctx, cfg.Citizens.Group)
	if err != nil {
		logger.Warn("could not compare the citizens' group with the people who registered themselves", "err", err)
		return
	}
	for _, w := range cfg.citizensGroupWarnings(n) {
		logger.Warn(w)
	}
}
