package main

import (
	"testing"

	"github.com/keyhall/keyhall/authn"
)

// TestEmailRecoveryRule: a person may recover by e-mail only when every
// group of hers allows it; a group without a policy (the admin group)
// refuses it (review of #15).
func TestEmailRecoveryRule(t *testing.T) {
	rule := emailRecoveryRule(map[string]GroupPolicy{
		"buerger": {EmailRecovery: true, AllowTOTP: true},
		"verein":  {EmailRecovery: true},
		"rat":     {Level: "phrh"},
	})
	for _, c := range []struct {
		groups []string
		want   bool
	}{
		{[]string{"buerger"}, true},
		{[]string{"buerger", "verein"}, true},
		{[]string{"buerger", "verein", "sport"}, false},
		{[]string{"buerger", "keyhall-admins"}, false},
		{[]string{"buerger", "rat"}, false},
		{[]string{"rat", "buerger"}, false},
		{[]string{"sport"}, false},
		{nil, false},
	} {
		if got := rule(c.groups); got != c.want {
			t.Errorf("rule(%v) = %t, want %t", c.groups, got, c.want)
		}
	}
}

// TestCitizensSignIn: with citizens enabled, the citizens' group signs in
// with an app code alone, unless its policy asks a level or refuses apps;
// other groups are untouched; without citizens nothing changes.
func TestCitizensSignIn(t *testing.T) {
	cfg := defaultConfig()
	cfg.Policy.Groups = map[string]GroupPolicy{"rat": {Level: "phrh"}}
	if p := signInPolicy(cfg); p.Groups["buerger"].NoPassword || len(p.Groups) != 1 {
		t.Errorf("citizens off: %+v", p.Groups)
	}
	cfg.Citizens.Enabled = true
	p := signInPolicy(cfg)
	if g := p.Groups["buerger"]; !g.NoPassword || !g.AllowTOTP || p.Groups["rat"].NoPassword {
		t.Errorf("citizens on: %+v", p.Groups)
	}
	cfg.Policy.Groups["buerger"] = GroupPolicy{Level: "mfa", AllowTOTP: true}
	if g := signInPolicy(cfg).Groups["buerger"]; g.NoPassword || g.Level != authn.LevelMFA {
		t.Errorf("a citizens' group that asks mfa: %+v", g)
	}
}
