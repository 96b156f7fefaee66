package desk_test

import (
	"errors"
	"log/slog"
	"testing"

	"github.com/keyhall/keyhall/authn"
	"github.com/keyhall/keyhall/enroll/desk"
)

// TestChangeRole: an admin asks to give anna the helpdesk role; nothing
// changes until a second admin approves (not the requester, not her other
// account, not anna); then anna is a member, audited with the approval.
// The helpdesk may not ask, no one changes her own role, a reason is
// required, a group that gives no role is refused, and a removal works
// the same way.
func TestChangeRole(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	must(t, f.setDirectoryID(t, "adam", "ad", "guid-adam"))
	adam, anja, helga := f.console(t, "adam"), f.console(t, "anja"), f.console(t, "helga")

	_, err := f.desk.ChangeRole(ctx, helga, f.id("anna"), "it-helpdesk", true, "ticket 7")
	wantErr(t, "a role change asked by the helpdesk", err, desk.ErrForbidden)
	_, err = f.desk.ChangeRole(ctx, adam, f.id("anna"), "it-helpdesk", true, " ")
	wantErr(t, "a role change without a reason", err, desk.ErrInvalid)
	_, err = f.desk.ChangeRole(ctx, adam, f.id("adam"), "admins", true, "ticket 7")
	wantErr(t, "a role change of herself", err, desk.ErrForbidden)
	_, err = f.desk.ChangeRole(ctx, adam, f.id("anna"), "rat", true, "ticket 7")
	wantErr(t, "a group that gives no role", err, desk.ErrInvalid)

	before := f.lastSeq(t)
	ap, err := f.desk.ChangeRole(ctx, adam, f.id("anna"), "IT-Helpdesk", true, "ticket 7")
	must(t, err)
	if role, _ := f.desk.RoleOf(ctx, f.id("anna")); role != "" {
		t.Fatalf("a pending role change gave her the role %q", role)
	}
	if got := actions(f.events(t, "anna", before)); len(got) != 1 || got[0] != "role.requested" {
		t.Errorf("a pending role change audited %v, want role.requested", got)
	}
	pending, err := f.desk.Approvals(ctx, anja)
	must(t, err)
	if len(pending) != 1 || pending[0].ID != ap.ID || pending[0].Kind != authn.ApprovalRole ||
		pending[0].Group != "it-helpdesk" || !pending[0].Add {
		t.Fatalf("Approvals = %+v, want the role change", pending)
	}
	twin, err := f.desk.ChangeRole(ctx, adam, f.id("anna"), "it-helpdesk", true, "ticket 7, again")
	must(t, err)
	adamOther := adam
	adamOther.UserID, adamOther.Audit = "adam-other", "user:adam-other"
	annaAdmin := anja
	annaAdmin.UserID, annaAdmin.Audit = f.id("anna"), "user:"+f.id("anna")
	for name, a := range map[string]desk.Actor{"the requester": adam, "her other account": adamOther,
		"a helpdesk person": helga, "the person herself": annaAdmin} {
		_, err := f.desk.Approve(ctx, a, ap.ID)
		wantErr(t, "approval by "+name, err, desk.ErrForbidden)
	}
	if role, _ := f.desk.RoleOf(ctx, f.id("anna")); role != "" {
		t.Fatalf("a refused approval gave her the role %q", role)
	}
	before = f.lastSeq(t)
	_, err = f.desk.Approve(ctx, anja, ap.ID)
	must(t, err)
	if role, _ := f.desk.RoleOf(ctx, f.id("anna")); role != desk.RoleHelpdesk {
		t.Errorf("after approval her role is %q, want helpdesk", role)
	}
	evs := f.events(t, "anna", before)
	if got := actions(evs); len(got) != 1 || got[0] != "role.approved" || evs[0].Actor != anja.Audit {
		t.Errorf("approval audited %v", got)
	}
	groupEvs, err := f.actionEvents(t, "group.add_member", before)
	must(t, err)
	if len(groupEvs) != 1 || groupEvs[0].Details["approval_id"] != ap.ID || groupEvs[0].Details["requested_by"] != adam.Audit ||
		groupEvs[0].Details["user_id"] != f.id("anna") || groupEvs[0].Actor != anja.Audit {
		t.Errorf("group.add_member events: %+v", groupEvs)
	}
	_, err = f.desk.Approve(ctx, f.console(t, "albert"), ap.ID)
	wantErr(t, "a second approval", err, authn.ErrUsed)
	_, err = f.desk.Approve(ctx, f.console(t, "albert"), twin.ID)
	wantErr(t, "approval of a change already made", err, desk.ErrInvalid)
	if still, err := f.desk.Approvals(ctx, anja); err != nil || len(still) != 1 || still[0].ID != twin.ID {
		t.Errorf("a refused approval of a change already made was used up: pending %+v, %v", still, err)
	}

	// Removal: anja asks, adam approves.
	ap, err = f.desk.ChangeRole(ctx, anja, f.id("anna"), "it-helpdesk", false, "ticket 8")
	must(t, err)
	_, err = f.desk.Approve(ctx, adam, ap.ID)
	must(t, err)
	if role, _ := f.desk.RoleOf(ctx, f.id("anna")); role != "" {
		t.Errorf("after the approved removal her role is %q", role)
	}
}

// TestChangeRoleDirectoryGroup: a directory group that gives a role is
// changed in the directory, not on the desk.
func TestChangeRoleDirectoryGroup(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	g := authn.Group{ID: authn.NewID(), Name: "ad-admins", Source: authn.SourceDirectory, CreatedAt: f.clock.now()}
	must(t, f.st.CreateGroup(ctx, g, ev("group.create")))
	d, err := desk.New(desk.Config{Store: f.st, Enroll: f.enr, Logger: slog.New(slog.DiscardHandler), Now: f.clock.now,
		Roles: map[desk.Role][]string{desk.RoleAdmin: {"it-admins", "ad-admins"}}})
	must(t, err)
	_, err = d.ChangeRole(ctx, f.console(t, "adam"), f.id("anna"), "ad-admins", true, "ticket 9")
	var de *desk.Error
	wantErr(t, "a directory group", err, desk.ErrInvalid)
	if errors.As(err, &de) && de.En != "This group comes from the directory: change its members there." {
		t.Errorf("refusal says %q", de.En)
	}
}

// TestChangeRoleBreakGlass: on the server's command line with break-glass
// the change happens at once, audited as break-glass.
func TestChangeRoleBreakGlass(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	before := f.lastSeq(t)
	_, err := f.desk.ChangeRole(ctx, desk.CLI("cli:root", true), f.id("anna"), "admins", true, "incident 12")
	must(t, err)
	if role, _ := f.desk.RoleOf(ctx, f.id("anna")); role != desk.RoleAdmin {
		t.Errorf("break-glass: her role is %q, want admin", role)
	}
	evs, err := f.actionEvents(t, "group.add_member", before)
	must(t, err)
	if len(evs) != 1 || evs[0].Details["break_glass"] != "true" || evs[0].Actor != "cli:root" || evs[0].Reason != "incident 12" {
		t.Errorf("break-glass audited %+v", evs)
	}
	// Without break-glass the command line asks for approval too.
	ap, err := f.desk.ChangeRole(ctx, desk.CLI("cli:root", false), f.id("bert"), "admins", true, "incident 13")
	must(t, err)
	if role, _ := f.desk.RoleOf(ctx, f.id("bert")); role != "" || ap.ID == "" {
		t.Errorf("without break-glass: role %q, approval %q", role, ap.ID)
	}
}

// actionEvents lists the events action after the sequence number after.
func (f *fixture) actionEvents(t *testing.T, action string, after int64) ([]authn.AuditEvent, error) {
	t.Helper()
	evs, err := f.st.ListAudit(t.Context(), authn.AuditFilter{AfterSeq: after, Limit: 500})
	var out []authn.AuditEvent
	for _, e := range evs {
		if e.Action == action {
			out = append(out, e)
		}
	}
	return out, err
}
