package authn_test

import (
	"context"
	"strings"
	"testing"

	"github.com/keyhall/keyhall/authn"
)

func withPolicy(groups map[string]authn.GroupPolicy) func(*authn.SignInConfig) {
	return func(c *authn.SignInConfig) { c.Policy = authn.Policy{Groups: groups} }
}

func (e *env) member(u authn.User, group string) {
	e.t.Helper()
	g, err := e.store.GetGroupByName(e.ctx(), group)
	if err != nil {
		g = authn.Group{ID: authn.NewID(), Name: group, DisplayName: group, Source: authn.SourceLocal, CreatedAt: t0}
		if err := e.store.CreateGroup(e.ctx(), g, audit("group.create", "")); err != nil {
			e.t.Fatal(err)
		}
	}
	if err := e.store.AddMember(e.ctx(), g.ID, u.ID, audit("group.add", u.ID)); err != nil {
		e.t.Fatal(err)
	}
}

func TestGroupPolicy(t *testing.T) {
	e := newEnv(t, withPolicy(map[string]authn.GroupPolicy{
		"rat":   {Level: authn.LevelPhrh, UserVerification: true},
		"stadt": {Level: authn.LevelMFA, AllowTOTP: true},
	}))
	anna := e.user("anna", authn.SourceLocal)
	e.member(anna, "rat")
	e.member(anna, "stadt")
	synced := e.addKey(anna, true, true, 0)
	noUV := e.addAttestedKey(anna, false, nil)
	secret, _ := e.addApp(anna)

	try := func(d *device) (authn.Progress, error) {
		opts, p := e.beginKey(e.start("anna", authn.StepKey))
		return e.si.FinishKey(e.ctx(), p.PendingID, e.sign(d, replaceAllow(t, opts, d.cred.ID), 1), client)
	}
	p, err := try(synced)
	wantRefused(t, "synced passkey where phrh is required", p, err, authn.ReasonKeyNotAdmitted)
	p, err = try(noUV)
	wantRefused(t, "key without UV where UV is required", p, err, authn.ReasonUVRequired)
	p, err = e.si.VerifyTOTP(e.ctx(), e.start("anna", authn.StepKey).PendingID, e.code(secret, t0), client)
	wantRefused(t, "app code where phrh is required", p, err, authn.ReasonPolicy)

	// A member of "stadt" only may use her app.
	bernd := e.user("bernd", authn.SourceLocal)
	e.member(bernd, "stadt")
	bs, _ := e.addApp(bernd)
	e.setPassword(bernd, "korrekt Pferd Batterie", cheapArgon2) // the app needs a password after it
	if _, err := e.si.VerifyTOTP(e.ctx(), e.start("bernd", authn.StepTOTP).PendingID, e.code(bs, t0), client); err != nil {
		t.Errorf("app code for a member of stadt: %v", err)
	}
}

func TestLevelMeets(t *testing.T) {
	levels := []authn.Level{authn.LevelNone, authn.LevelMFA, authn.LevelPhr, authn.LevelPhrh}
	for i, have := range levels {
		for j, need := range levels {
			if got := have.Meets(need); got != (i >= j) {
				t.Errorf("%q.Meets(%q) = %t", have, need, got)
			}
		}
		if authn.Level("phrhh").Meets(have) || have.Meets("phrhh") {
			t.Errorf("an unknown level meets or is met by %q", have)
		}
	}
}

func TestDisabledOnlyAfterPossession(t *testing.T) {
	e := newEnv(t)
	anna := e.user("anna", authn.SourceLocal)
	d := e.addKey(anna, false, true, 0)
	e.store.UpdateUser(e.ctx(), anna.ID, func(u authn.User) (authn.User, error) {
		u.Status = authn.StatusDisabled
		return u, nil
	}, audit("user.disable", anna.ID))
	p := e.start("anna", authn.StepKey) // looks like anyone else
	opts, p := e.beginKey(p)
	p, err := e.si.FinishKey(e.ctx(), p.PendingID, e.sign(d, opts, 1), client)
	wantRefused(t, "disabled person with her key", p, err, authn.ReasonDisabled)
	// A wrong key says nothing about the status.
	other := e.addKey(e.user("bernd", authn.SourceLocal), false, true, 0)
	opts, p = e.beginKey(e.start("anna", authn.StepKey))
	p, err = e.si.FinishKey(e.ctx(), p.PendingID, e.sign(other, replaceAllow(t, opts, other.cred.ID), 1), client)
	wantRefused(t, "disabled person, a foreign key", p, err, authn.ReasonKeyRefused)
}

// directory is a PasswordVerifier with one right password.
type directory struct{ pw string }

func (d directory) VerifyPassword(_ context.Context, _ authn.User, pw string) error {
	if pw != d.pw {
		return authn.ErrWrongPassword
	}
	return nil
}

func TestDirectoryPassword(t *testing.T) {
	for _, tc := range []struct {
		name string
		dir  authn.PasswordVerifier
		want authn.Reason // "" for success
	}{
		{"no directory configured", nil, authn.ReasonNoPassword},
		{"directory says yes", directory{"Geheim!2025"}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, func(c *authn.SignInConfig) { c.Directory = tc.dir })
			anna := e.user("anna", authn.SourceDirectory)
			d := e.addKey(anna, false, false, 0)
			opts, p := e.beginKey(e.start("anna", authn.StepKey))
			p, err := e.si.FinishKey(e.ctx(), p.PendingID, e.sign(d, opts, 1), client)
			if tc.want == authn.ReasonNoPassword { // told after the key, not at a password page
				wantRefused(t, tc.name, p, err, tc.want)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			p, err = e.si.VerifyPassword(e.ctx(), p.PendingID, "Geheim!2025", client)
			if tc.want == "" {
				e.wantDone(p, err, []string{"pop", "pwd", "mfa"}, authn.LevelPhr)
				return
			}
			wantRefused(t, tc.name, p, err, tc.want)
		})
	}
}

func TestPasswordRehashedWhenParametersChange(t *testing.T) {
	e := newEnv(t)
	anna := e.user("anna", authn.SourceLocal)
	d := e.addKey(anna, false, false, 0)
	old := authn.Argon2Params{MemoryKiB: 32, Time: 1, Threads: 1}
	e.setPassword(anna, "korrekt Pferd Batterie", old)
	opts, p := e.beginKey(e.start("anna", authn.StepKey))
	p, err := e.si.FinishKey(e.ctx(), p.PendingID, e.sign(d, opts, 1), client)
	if err != nil {
		t.Fatal(err)
	}
	p, err = e.si.VerifyPassword(e.ctx(), p.PendingID, "korrekt Pferd Batterie", client)
	e.wantDone(p, err, []string{"pop", "pwd", "mfa"}, authn.LevelPhr)
	phc, _ := e.store.GetPasswordHash(e.ctx(), anna.ID)
	if !strings.HasPrefix(phc, "$argon2id$v=19$m=64,t=1,p=1$") {
		t.Errorf("hash after sign-in %q, want the configured parameters", phc)
	}
}

// TestNoPasswordGroups: where every group of hers with a policy sets
// NoPassword (the citizens' group), an app code alone signs in a local
// person (one factor, level none); where another group of hers has a
// policy without it, or she is in none, the password stays after the app.
func TestNoPasswordGroups(t *testing.T) {
	e := newEnv(t, withPolicy(map[string]authn.GroupPolicy{
		"buerger": {AllowTOTP: true, NoPassword: true},
		"stadt":   {Level: authn.LevelMFA, AllowTOTP: true},
		"verein":  {AllowTOTP: true},
	}))
	try := func(name string, groups ...string) (authn.Progress, error) {
		t.Helper()
		u := e.user(name, authn.SourceLocal)
		for _, g := range groups {
			e.member(u, g)
		}
		secret, _ := e.addApp(u)
		return e.si.VerifyTOTP(e.ctx(), e.start(name, authn.StepTOTP).PendingID, e.code(secret, t0), client)
	}
	p, err := try("anna@example.org", "buerger")
	e.wantDone(p, err, []string{"otp"}, authn.LevelNone)

	for name, groups := range map[string][]string{
		"carla": {"buerger", "stadt"}, "dora": {"buerger", "verein"}, "erna": nil, "frida": {"verein"},
		"gerda": {"buerger", "keyhall-admins"}, // a group without a policy keeps the password (review of #15)
	} {
		p, err := try(name, groups...)
		wantRefused(t, name+" in "+strings.Join(groups, "+"), p, err, authn.ReasonNoPassword)
	}
}
