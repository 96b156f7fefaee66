package main

import (
	"bytes"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/keyhall/keyhall/authn"
	"github.com/keyhall/keyhall/enroll/desk"
)

// TestAdminAuditExportSameAsConsole: "keyhall admin audit export" and the
// console's export are one desk action: the same events exported for the
// same filters, and the same "audit.export" event (only the actor, via and
// address differ); the desk refuses the export to a helpdesk person.
func TestAdminAuditExportSameAsConsole(t *testing.T) {
	env, url, cfgPath := deskEnv(t)
	run := func(want int, args ...string) string {
		return mustRun(t, env, want, append(args, "--config", cfgPath)...)
	}
	run(0, "admin", "users", "add", "anna")
	run(0, "admin", "users", "add", "helga")
	run(0, "admin", "users", "disable", "anna", "--reason", "INC-1")
	cli := run(0, "admin", "audit", "export", "--format", "jsonl", "--action", "user", "--user", "anna")

	st := openTestStore(t, url)
	d := consoleDesk(t, env, cfgPath, st)
	anna, _ := st.GetUserByUsername(t.Context(), "anna")
	helga, _ := st.GetUserByUsername(t.Context(), "helga")
	q := authn.AuditQuery{Subject: "user:" + anna.ID, Action: "user"}
	console := desk.Actor{Audit: "user:" + helga.ID, UserID: helga.ID, Username: "helga", Role: desk.RoleAdmin, Via: "console", ClientAddr: "192.0.2.1"}
	var buf bytes.Buffer
	if n, err := d.ExportAudit(t.Context(), console, &buf, desk.FormatJSONL, q); err != nil || n != 3 {
		t.Fatalf("console export: %d events, %v\n%s", n, err, buf.String())
	}
	if buf.String() != cli || !strings.Contains(cli, `"action":"user.disable"`) {
		t.Errorf("the console exported\n%s\nthe command line\n%s", buf.String(), cli)
	}
	helpdesk := console
	helpdesk.Role = desk.RoleHelpdesk
	if _, err := d.ExportAudit(t.Context(), helpdesk, &buf, desk.FormatCSV, q); !errorsIsForbidden(err) {
		t.Errorf("a helpdesk person's export: %v, want forbidden", err)
	}

	evs, err := st.SearchAudit(t.Context(), authn.AuditQuery{Action: "audit.export"})
	if err != nil || len(evs) != 2 {
		t.Fatalf("audit.export events: %d, %v; want the command line's and the console's", len(evs), err)
	}
	con, cl := evs[0], evs[1] // newest first
	if !slices.Equal(detailKeys(con), detailKeys(cl)) || con.Subject != cl.Subject || cl.Subject != "user:"+anna.ID {
		t.Errorf("audit.export: command line %+v, console %+v", cl, con)
	}
	for k, v := range cl.Details {
		if k != "via" && con.Details[k] != v {
			t.Errorf("audit.export detail %s: command line %q, console %q", k, v, con.Details[k])
		}
	}
	if !strings.HasPrefix(cl.Actor, "cli:") || cl.Details["via"] != "cli" || con.Actor != "user:"+helga.ID ||
		con.Details["via"] != "console" || con.ClientAddr != "192.0.2.1" || cl.Details["events"] != "3" {
		t.Errorf("who exported: command line %+v, console %+v", cl, con)
	}
}

func errorsIsForbidden(err error) bool {
	var de *desk.Error
	return errors.As(err, &de) && errors.Is(err, desk.ErrForbidden)
}
