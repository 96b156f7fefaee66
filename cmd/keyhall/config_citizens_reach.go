package main

import (
	"fmt"
	"slices"
	"strings"
)

// citizensReach names the OIDC clients and forward-auth rules citizens may
// use: with citizens on, a member of citizens.group passes only a client
// or rule whose groups name her group; one without groups ("everyone") is
// for every other person (web's Server.admits). Nil with citizens off.
func (c Config) citizensReach() []string {
	if !c.Citizens.Enabled {
		return nil
	}
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
// "ok": today, with citizens on, the tools citizens may use.
func (c Config) Notes() []string {
	if reach := c.citizensReach(); len(reach) > 0 {
		return []string{fmt.Sprintf("citizens (citizens.group %s) may use %s, and no tool without groups", c.Citizens.Group, strings.Join(reach, ", "))}
	}
	return nil
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
