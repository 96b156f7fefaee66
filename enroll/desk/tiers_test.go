package desk_test

import (
	"testing"

	"github.com/keyhall/keyhall/authn"
	"github.com/keyhall/keyhall/enroll/desk"
)

// TestTiers: a helpdesk person may not act on herself, on another helpdesk
// person, on an admin or on a member of a protected group; disable and
// enable are for admins; nobody without a role acts. Each refusal changes
// nothing and is audited (desk.refused, with what was tried).
func TestTiers(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	helga := f.console(t, "helga")
	adam := f.console(t, "adam")
	nobody := f.console(t, "nora")
	// helga's second account: another person record with her directory
	// id (a directory user and a local admin account, say).
	helgaOther := helga
	helgaOther.UserID, helgaOther.Audit, helgaOther.Directory, helgaOther.ExternalID = "other", "user:other", "ad", "guid-helga"
	must(t, f.setDirectoryID(t, "helga", "ad", "guid-helga"))
	// helga's own account without a role, by her directory id: helga
	// signed in with it in her Actor.
	must(t, f.setDirectoryID(t, "nora", "ad2", "guid-helga2"))
	helgaDir := helga
	helgaDir.Directory, helgaDir.ExternalID = "ad2", "guid-helga2"

	type try struct {
		name   string
		actor  desk.Actor
		action string // end_sessions, invite, reset, revoke_factor, lift_throttle, disable, enable, freeze, unfreeze
		whom   string
		want   error // nil: allowed
	}
	tries := []try{
		{"no role", nobody, "end_sessions", "anna", desk.ErrForbidden},
		{"no role invites", nobody, "invite", "anna", desk.ErrForbidden},
		{"helpdesk on herself", helga, "end_sessions", "helga", desk.ErrForbidden},
		{"helpdesk on herself, other account", helgaOther, "lift_throttle", "helga", desk.ErrForbidden},
		{"helpdesk on her account without a role", helgaDir, "end_sessions", "nora", desk.ErrForbidden},
		{"helpdesk on helpdesk", helga, "reset", "hanna", desk.ErrForbidden},
		{"helpdesk on admin", helga, "reset", "adam", desk.ErrForbidden},
		{"helpdesk on bootstrap admin", helga, "revoke_factor", "anja", desk.ErrForbidden},
		{"helpdesk on protected", helga, "reset", "rita", desk.ErrForbidden},
		{"helpdesk invites protected", helga, "invite", "rita", desk.ErrForbidden},
		{"helpdesk disables", helga, "disable", "anna", desk.ErrForbidden},
		{"helpdesk enables", helga, "enable", "anna", desk.ErrForbidden},
		{"helpdesk ends sessions", helga, "end_sessions", "anna", nil},
		{"helpdesk lifts throttle", helga, "lift_throttle", "anna", nil},
		{"helpdesk invites", helga, "invite", "ina", nil},
		{"helpdesk invites a person with a key", helga, "invite", "anna", desk.ErrForbidden},
		{"admin invites a person with a key", adam, "invite", "bert", nil},
		{"admin invites a dual-control person with a key", adam, "invite", "kurt", desk.ErrForbidden},
		{"helpdesk revokes a key", helga, "revoke_factor", "anna", nil},
		{"helpdesk resets", helga, "reset", "anna", nil},
		{"admin on protected", adam, "end_sessions", "rita", nil},
		{"admin on helpdesk", adam, "revoke_factor", "hanna", nil},
		{"admin disables", adam, "disable", "bert", nil},
		{"admin enables", adam, "enable", "bert", nil},
		{"helpdesk freezes", helga, "freeze", "anna", desk.ErrForbidden},
		{"admin freezes", adam, "freeze", "bert", nil},
		{"helpdesk unfreezes", helga, "unfreeze", "bert", desk.ErrForbidden},
		{"admin unfreezes", adam, "unfreeze", "bert", nil},
	}
	for _, tc := range tries {
		before := f.lastSeq(t)
		session := f.signIn(t, tc.whom)
		key := ""
		if tc.whom != "ina" { // ina has no factor: her first invitation
			key = f.addKey(t, tc.whom)
		}
		uid := f.id(tc.whom)
		var err error
		switch tc.action {
		case "end_sessions":
			_, err = f.desk.EndSessions(ctx, tc.actor, uid, "ticket 1")
		case "invite":
			_, err = f.desk.Invite(ctx, tc.actor, uid, desk.InviteRequest{Reason: "ticket 1", Delivery: desk.DeliverDesk})
		case "reset":
			_, err = f.desk.Reset(ctx, tc.actor, uid, resetReq("ticket 1"))
		case "revoke_factor":
			_, err = f.desk.RevokeFactor(ctx, tc.actor, uid, key, "ticket 1")
		case "lift_throttle":
			err = f.desk.LiftThrottle(ctx, tc.actor, uid, "ticket 1")
		case "disable":
			err = f.desk.Disable(ctx, tc.actor, uid, "ticket 1")
		case "enable":
			err = f.desk.Enable(ctx, tc.actor, uid, "ticket 1")
		case "freeze":
			_, err = f.desk.Freeze(ctx, tc.actor, uid, "ticket 1")
		case "unfreeze":
			_, err = f.desk.Unfreeze(ctx, tc.actor, uid, "ticket 1", false)
		}
		evs := f.events(t, tc.whom, before)
		if tc.want == nil {
			if err != nil {
				t.Errorf("%s: %v, want it allowed", tc.name, err)
			}
			if len(evs) == 0 || evs[0].Action == "desk.refused" {
				t.Errorf("%s: audited %v, want the action", tc.name, actions(evs))
			}
			continue
		}
		wantErr(t, tc.name, err, tc.want)
		if got := actions(evs); len(got) != 1 || got[0] != "desk.refused" || evs[0].Details["tried"] != tc.action ||
			evs[0].Actor != tc.actor.Audit || evs[0].Reason != "ticket 1" {
			t.Errorf("%s: audited %v %v, want one desk.refused by %s naming %s", tc.name, got, evs, tc.actor.Audit, tc.action)
		}
		if !f.sessionLive(t, session) {
			t.Errorf("%s: refused, but her session ended", tc.name)
		}
		creds, err := f.st.ListCredentials(ctx, uid)
		must(t, err)
		if !containsCred(creds, key) {
			t.Errorf("%s: refused, but her key is gone", tc.name)
		}
	}
}

func containsCred(creds []authn.Credential, id string) bool {
	for _, c := range creds {
		if c.ID == id {
			return true
		}
	}
	return false
}

// TestReasonAndCheck: every action needs a reason, a reset an identity
// check (with words for "other").
func TestReasonAndCheck(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	adam := f.console(t, "adam")
	anna := f.id("anna")
	key := f.addKey(t, "anna")
	_, err := f.desk.Invite(ctx, adam, anna, desk.InviteRequest{Reason: " ", Delivery: desk.DeliverDesk})
	wantErr(t, "invite without reason", err, desk.ErrInvalid)
	_, err = f.desk.Reset(ctx, adam, anna, resetReq(""))
	wantErr(t, "reset without reason", err, desk.ErrInvalid)
	_, err = f.desk.RevokeFactor(ctx, adam, anna, key, "")
	wantErr(t, "revoke without reason", err, desk.ErrInvalid)
	_, err = f.desk.EndSessions(ctx, adam, anna, "")
	wantErr(t, "end sessions without reason", err, desk.ErrInvalid)
	wantErr(t, "lift throttle without reason", f.desk.LiftThrottle(ctx, adam, anna, ""), desk.ErrInvalid)
	wantErr(t, "disable without reason", f.desk.Disable(ctx, adam, anna, ""), desk.ErrInvalid)
	wantErr(t, "enable without reason", f.desk.Enable(ctx, adam, anna, ""), desk.ErrInvalid)
	for _, c := range []desk.IdentityCheck{{}, {Method: "phoned her"}, {Method: desk.CheckOther, Text: "  "}} {
		_, err = f.desk.Reset(ctx, adam, anna, desk.ResetRequest{Reason: "ticket 2", Check: c, Delivery: desk.DeliverDesk})
		wantErr(t, "reset with check "+c.Method, err, desk.ErrInvalid)
	}
	creds, err := f.st.ListCredentials(ctx, anna)
	must(t, err)
	if len(creds) != 1 {
		t.Errorf("after refused actions she has %d keys, want 1", len(creds))
	}
	out, err := f.desk.Reset(ctx, adam, anna, desk.ResetRequest{Reason: "ticket 2",
		Check: desk.IdentityCheck{Method: desk.CheckOther, Text: "knew her staff number"}, Delivery: desk.DeliverDesk})
	must(t, err)
	evs := f.events(t, "anna", 0)
	last := evs[len(evs)-1]
	if out.Pending != nil || last.Action != "user.reset" || last.Details["identity_check"] != "other" ||
		last.Details["identity_check_text"] != "knew her staff number" || last.Details["via"] != "console" ||
		last.ClientAddr != "192.0.2.7" || last.Actor != adam.Audit {
		t.Errorf("reset audited as %+v", last)
	}
}

// TestTiersHoldWhenNotActive (review of #14): a frozen or disabled admin is
// protected from the helpdesk as an active one is, and nobody resets or
// invites a frozen or disabled person (an invitation issued meanwhile
// would outlive the freeze); both refusals are audited.
func TestTiersHoldWhenNotActive(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	helga, adam := f.console(t, "helga"), f.console(t, "adam")
	glass := desk.CLI("cli:root", true) // admins are frozen or disabled only so
	_, err := f.desk.Freeze(ctx, glass, f.id("albert"), "ticket 2")
	must(t, err)
	must(t, f.desk.Disable(ctx, glass, f.id("anja"), "ticket 2"))
	_, err = f.desk.Freeze(ctx, adam, f.id("bert"), "ticket 2")
	must(t, err)
	for _, c := range []struct {
		name  string
		actor desk.Actor
		whom  string
		do    func(a desk.Actor, id string) error
		why   string
	}{
		{"helpdesk resets a frozen admin", helga, "albert", func(a desk.Actor, id string) error {
			_, err := f.desk.Reset(ctx, a, id, resetReq("ticket 3"))
			return err
		}, "subject has role admin"},
		{"helpdesk invites a disabled admin", helga, "anja", func(a desk.Actor, id string) error {
			_, err := f.desk.Invite(ctx, a, id, desk.InviteRequest{Reason: "ticket 3", Delivery: desk.DeliverLetter})
			return err
		}, "subject has role admin"},
		{"admin resets a frozen person", adam, "bert", func(a desk.Actor, id string) error {
			_, err := f.desk.Reset(ctx, a, id, resetReq("ticket 3"))
			return err
		}, "not active (frozen)"},
		{"admin invites a frozen person", adam, "bert", func(a desk.Actor, id string) error {
			_, err := f.desk.Invite(ctx, a, id, desk.InviteRequest{Reason: "ticket 3", Delivery: desk.DeliverLetter})
			return err
		}, "not active (frozen)"},
	} {
		before := f.lastSeq(t)
		wantErr(t, c.name, c.do(c.actor, f.id(c.whom)), desk.ErrForbidden)
		if evs := f.events(t, c.whom, before); len(evs) != 1 || evs[0].Action != "desk.refused" || evs[0].Details["why"] != c.why {
			t.Errorf("%s: audited %v, want desk.refused because %q", c.name, evs, c.why)
		}
	}
}
