package main

import (
	"strings"
	"testing"

	"github.com/keyhall/keyhall/authn"
)

// TestGroupsMemberRoleGroup: "admin groups add-member" and "remove-member"
// on a group that gives a role refuse without --break-glass (pointing to
// the console's role change) and need a reason with it; with both the
// change happens, audited as break-glass. Other groups change as before.
func TestGroupsMemberRoleGroup(t *testing.T) {
	env, url, cfgPath := deskEnv(t)
	run := func(want int, args ...string) string {
		return mustRun(t, env, want, append(args, "--config", cfgPath)...)
	}
	run(0, "admin", "users", "add", "helga")
	run(0, "admin", "groups", "add", "it-helpdesk")
	run(0, "admin", "groups", "add", "rat")
	if e := run(1, "admin", "groups", "add-member", "it-helpdesk", "helga"); !strings.Contains(e, "Rolle ändern") ||
		!strings.Contains(e, "--break-glass") {
		t.Errorf("add-member to a role group without --break-glass: %q", e)
	}
	if e := run(2, "admin", "groups", "add-member", "it-helpdesk", "helga", "--break-glass"); !strings.Contains(e, "--reason") {
		t.Errorf("--break-glass without a reason: %q", e)
	}
	st := openTestStore(t, url)
	u, err := st.GetUserByUsername(t.Context(), "helga")
	if err != nil {
		t.Fatal(err)
	}
	if gs, _ := st.UserGroups(t.Context(), u.ID); len(gs) != 0 {
		t.Fatalf("a refused add-member changed her groups: %v", gs)
	}
	run(0, "admin", "groups", "add-member", "it-helpdesk", "helga", "--break-glass", "--reason", "incident 12")
	g, err := st.GetGroupByName(t.Context(), "it-helpdesk")
	if err != nil {
		t.Fatal(err)
	}
	evs, err := st.ListAudit(t.Context(), authn.AuditFilter{Subject: "group:" + g.ID})
	if err != nil || len(evs) == 0 {
		t.Fatalf("events: %v, %v", evs, err)
	}
	last := evs[len(evs)-1]
	if last.Action != "group.add_member" || last.Details["break_glass"] != "true" || last.Reason != "incident 12" ||
		last.Details["user_id"] != u.ID || !strings.HasPrefix(last.Actor, "cli:") {
		t.Errorf("break-glass add-member audited %+v", last)
	}
	if gs, _ := st.UserGroups(t.Context(), u.ID); len(gs) != 1 {
		t.Errorf("after break-glass her groups are %v", gs)
	}
	run(1, "admin", "groups", "remove-member", "it-helpdesk", "helga")
	run(0, "admin", "groups", "remove-member", "it-helpdesk", "helga", "--break-glass", "--reason", "incident 12 over")
	if gs, _ := st.UserGroups(t.Context(), u.ID); len(gs) != 0 {
		t.Errorf("after remove-member her groups are %v", gs)
	}
	// A group that gives no role changes alone, as before.
	run(0, "admin", "groups", "add-member", "rat", "helga")
	run(0, "admin", "groups", "remove-member", "rat", "helga")
}
