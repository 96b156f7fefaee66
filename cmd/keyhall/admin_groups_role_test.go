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
	// A group that gives no role changes alone, with a reason.
	run(0, "admin", "groups", "add", "bauausschuss")
	run(0, "admin", "groups", "add-member", "bauausschuss", "helga", "--reason", "ticket 4710")
	run(0, "admin", "groups", "remove-member", "bauausschuss", "helga", "--reason", "ticket 4710")
}

// TestGroupsMemberReason: every membership change needs a reason, which
// the audit event keeps. Taking a councillor out of rat (protected, resets
// under dual control) lowers the protection of her account: it is refused
// without --break-glass, and with it audited as break-glass. Putting her in
// raises it and needs only the reason.
func TestGroupsMemberReason(t *testing.T) {
	env, url, cfgPath := deskEnv(t)
	run := func(want int, args ...string) string {
		return mustRun(t, env, want, append(args, "--config", cfgPath)...)
	}
	run(0, "admin", "users", "add", "rita")
	run(0, "admin", "groups", "add", "rat")
	run(0, "admin", "groups", "add", "bauausschuss")
	st := openTestStore(t, url)
	u, err := st.GetUserByUsername(t.Context(), "rita")
	if err != nil {
		t.Fatal(err)
	}
	groups := func() int {
		gs, err := st.UserGroups(t.Context(), u.ID)
		if err != nil {
			t.Fatal(err)
		}
		return len(gs)
	}
	for _, g := range []string{"rat", "bauausschuss"} {
		if e := run(2, "admin", "groups", "add-member", g, "rita"); !strings.Contains(e, "--reason") {
			t.Errorf("add-member %s without a reason: %q", g, e)
		}
	}
	if groups() != 0 {
		t.Fatal("add-member without a reason changed her groups")
	}
	run(0, "admin", "groups", "add-member", "rat", "rita", "--reason", "ticket 4711 add")
	run(0, "admin", "groups", "add-member", "bauausschuss", "rita", "--reason", "ticket 4711 committee")
	run(2, "admin", "groups", "remove-member", "bauausschuss", "rita")
	run(0, "admin", "groups", "remove-member", "bauausschuss", "rita", "--reason", "ticket 4712 committee")
	if e := run(1, "admin", "groups", "remove-member", "rat", "rita", "--reason", "ticket 4712 remove"); !strings.Contains(e, "--break-glass") ||
		!strings.Contains(e, "protection") {
		t.Errorf("remove-member rat without --break-glass: %q", e)
	}
	if groups() != 1 {
		t.Fatalf("a refused remove-member changed her groups (%d)", groups())
	}
	run(2, "admin", "groups", "remove-member", "rat", "rita", "--break-glass")
	run(0, "admin", "groups", "remove-member", "rat", "rita", "--break-glass", "--reason", "ticket 4712 remove")
	if groups() != 0 {
		t.Fatal("remove-member --break-glass left her in rat")
	}
	want := map[string]struct{ reason, breakGlass string }{
		"rat group.add_member":             {"ticket 4711 add", ""},
		"rat group.remove_member":          {"ticket 4712 remove", "true"},
		"bauausschuss group.add_member":    {"ticket 4711 committee", ""},
		"bauausschuss group.remove_member": {"ticket 4712 committee", ""},
	}
	for _, name := range []string{"rat", "bauausschuss"} {
		g, err := st.GetGroupByName(t.Context(), name)
		if err != nil {
			t.Fatal(err)
		}
		evs, err := st.ListAudit(t.Context(), authn.AuditFilter{Subject: "group:" + g.ID})
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range evs {
			w, ok := want[name+" "+e.Action]
			if !ok {
				continue
			}
			delete(want, name+" "+e.Action)
			if e.Reason != w.reason || e.Details["break_glass"] != w.breakGlass || e.Details["user_id"] != u.ID {
				t.Errorf("%s %s audited reason %q, break_glass %q; want %q, %q (%+v)", name, e.Action, e.Reason,
					e.Details["break_glass"], w.reason, w.breakGlass, e)
			}
		}
	}
	if len(want) != 0 {
		t.Errorf("membership changes not audited: %v", want)
	}
}
