package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/keyhall/keyhall/authn"
	"github.com/keyhall/keyhall/enroll"
	"github.com/keyhall/keyhall/enroll/desk"
)

// deskEnv is enrollEnvVars with a config file that gives the helpdesk role
// to it-helpdesk and marks rat protected, its resets needing approval.
func deskEnv(t *testing.T) (env []string, url, cfgPath string) {
	t.Helper()
	env, url = enrollEnvVars(t, nil)
	cfgPath = writeFile(t, t.TempDir(), "keyhall.yaml", `admin:
  roles:
    helpdesk: [it-helpdesk]
policy:
  groups:
    rat:
      protected: true
      reset_approval: true
`)
	return env, url, cfgPath
}

// consoleDesk builds the desk as serve will (deskConfig), on the
// database the commands use.
func consoleDesk(t *testing.T, env []string, cfgPath string, st authn.Store) *desk.Service {
	t.Helper()
	cfg, err := loadConfig(cfgPath, env)
	if err != nil {
		t.Fatal(err)
	}
	keys, err := loadKeys(cfg, discardLogger())
	if err != nil {
		t.Fatal(err)
	}
	svc, err := enrollService(cfg, keys, st, nil, discardLogger())
	if err != nil {
		t.Fatal(err)
	}
	dc, err := deskConfig(cfg, st, svc, enroll.LogMailer{Logger: discardLogger()}, nil, discardLogger())
	if err != nil {
		t.Fatal(err)
	}
	d, err := desk.New(dc)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// userEvents returns the audit events about username, in order.
func userEvents(t *testing.T, st authn.Store, username string) []authn.AuditEvent {
	t.Helper()
	u, err := st.GetUserByUsername(t.Context(), username)
	if err != nil {
		t.Fatal(err)
	}
	evs, err := st.ListAudit(t.Context(), authn.AuditFilter{Subject: "user:" + u.ID, Limit: 500})
	if err != nil {
		t.Fatal(err)
	}
	return evs
}

// detailKeys are an event's detail names, without the console's client
// address.
func detailKeys(e authn.AuditEvent) []string {
	var keys []string
	for k := range e.Details {
		if k != "client_addr" {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	return keys
}

// TestAdminResetSameEventAsConsole: "keyhall admin reset" writes the
// events the desk writes for a reset on the console: the same actions,
// the same details; only the actor, via and client address differ.
func TestAdminResetSameEventAsConsole(t *testing.T) {
	env, url, cfgPath := deskEnv(t)
	run := func(want int, args ...string) string {
		return mustRun(t, env, want, append(args, "--config", cfgPath)...)
	}
	for _, u := range []string{"anna", "bert", "helga"} {
		run(0, "admin", "users", "add", u, "--address", "Prinzipalmarkt 1|48143 Münster", "--email", u+"@stadt.example")
	}
	run(0, "admin", "groups", "add", "it-helpdesk")
	run(0, "admin", "groups", "add-member", "it-helpdesk", "helga", "--break-glass", "--reason", "setting up the helpdesk")
	st := openTestStore(t, url)
	for _, u := range []string{"anna", "bert"} {
		p, _ := st.GetUserByUsername(t.Context(), u)
		addCredentials(t, st, p.ID)
	}
	letter := filepath.Join(t.TempDir(), "anna.pdf")
	run(0, "admin", "reset", "anna", "--identity-check", "other:knew her staff number", "--reason", "ticket 4711", "--letter", letter)

	d := consoleDesk(t, env, cfgPath, st)
	helga, _ := st.GetUserByUsername(t.Context(), "helga")
	bert, _ := st.GetUserByUsername(t.Context(), "bert")
	role, err := d.RoleOf(t.Context(), helga.ID)
	if err != nil || role != desk.RoleHelpdesk {
		t.Fatalf("admin.roles.helpdesk gives helga %q, %v", role, err)
	}
	console := desk.Actor{Audit: "user:" + helga.ID, UserID: helga.ID, Username: "helga", Role: role, Via: "console", ClientAddr: "192.0.2.1"}
	out, err := d.Reset(t.Context(), console, bert.ID, desk.ResetRequest{Reason: "ticket 4711", Delivery: desk.DeliverLetter,
		Check: desk.IdentityCheck{Method: desk.CheckOther, Text: "knew her staff number"}})
	if err != nil || out.Pending != nil || !bytes.HasPrefix(out.Letter, []byte("%PDF")) {
		t.Fatalf("console reset: %+v, %v", out, err)
	}
	shape := func(username string) (acts []string, keys [][]string, evs []authn.AuditEvent) {
		for _, e := range userEvents(t, st, username) {
			if e.Action == "user.create" || e.Action == "credential.create" || e.Action == "user.set_address" {
				continue
			}
			acts, keys, evs = append(acts, e.Action), append(keys, detailKeys(e)), append(evs, e)
		}
		return
	}
	cliActs, cliKeys, cliEvs := shape("anna")
	conActs, conKeys, _ := shape("bert")
	if !slices.Equal(cliActs, []string{"user.reset"}) || !slices.Equal(cliActs, conActs) {
		t.Fatalf("the command line audited %v, the console %v; want user.reset from both", cliActs, conActs)
	}
	if !slices.Equal(cliKeys[0], conKeys[0]) {
		t.Errorf("user.reset details: command line %v, console %v", cliKeys[0], conKeys[0])
	}
	if e := cliEvs[0]; !strings.HasPrefix(e.Actor, "cli:") || e.Details["via"] != "cli" || e.Details["identity_check"] != "other" ||
		e.Details["identity_check_text"] != "knew her staff number" || e.Reason != "ticket 4711" {
		t.Errorf("the command line's reset audited as %+v", e)
	}
	if pdf, err := os.ReadFile(letter); err != nil || !bytes.HasPrefix(pdf, []byte("%PDF")) {
		t.Errorf("--letter wrote %.10q, %v", pdf, err)
	}
}

// TestAdminResetDualControl: a councillor's reset from the command line
// waits for approval on the console and changes nothing; --break-glass
// carries it out at once, audited as such.
func TestAdminResetDualControl(t *testing.T) {
	env, url, cfgPath := deskEnv(t)
	run := func(want int, args ...string) string {
		return mustRun(t, env, want, append(args, "--config", cfgPath)...)
	}
	run(0, "admin", "users", "add", "rita", "--address", "Prinzipalmarkt 1|48143 Münster")
	run(0, "admin", "groups", "add", "rat")
	run(0, "admin", "groups", "add-member", "rat", "rita", "--reason", "ticket 1")
	st := openTestStore(t, url)
	rita, _ := st.GetUserByUsername(t.Context(), "rita")
	addCredentials(t, st, rita.ID)

	out := run(0, "admin", "reset", "rita", "--identity-check", "in_person", "--reason", "ticket 1")
	pending, err := st.PendingApprovals(t.Context(), rita.CreatedAt)
	if err != nil || len(pending) != 1 || !strings.Contains(out, pending[0].ID) || !strings.Contains(out, "approve it on the console") {
		t.Fatalf("reset of a councillor printed %q; pending %+v, %v", out, pending, err)
	}
	var pj struct {
		Pending approvalJSON `json:"pending_approval"`
	}
	if err := json.Unmarshal([]byte(run(0, "admin", "reset", "rita", "--identity-check", "video", "--reason", "ticket 1", "--json")), &pj); err != nil ||
		pj.Pending.ID == "" || pj.Pending.Username != "rita" {
		t.Errorf("reset --json of a councillor: %+v, %v", pj, err)
	}
	if creds, _ := st.ListCredentials(t.Context(), rita.ID); len(creds) != 2 {
		t.Fatalf("a reset waiting for approval changed her factors: %d left", len(creds))
	}
	var rj resetJSON
	if err := json.Unmarshal([]byte(run(0, "admin", "reset", "rita", "--identity-check", "callback", "--reason", "council in an hour",
		"--break-glass", "--json")), &rj); err != nil || rj.Revoked.Keys != 1 || rj.Invitation.Code == "" {
		t.Fatalf("break-glass reset: %+v, %v", rj, err)
	}
	evs := userEvents(t, st, "rita")
	last := evs[len(evs)-1]
	if last.Action != "user.reset" || last.Details["break_glass"] != "true" || last.Details["identity_check"] != "callback" {
		t.Errorf("break-glass reset audited as %+v", last)
	}
}

// TestAdminIdentityCheckFlag: a reset needs --identity-check, one of the
// known ways, other with words.
func TestAdminIdentityCheckFlag(t *testing.T) {
	env, _ := enrollEnvVars(t, nil)
	mustRun(t, env, 0, "admin", "users", "add", "anna")
	for check, want := range map[string]string{"": "--identity-check is required", "phone": `"phone" is not`,
		"other:": `"other:" is not`, "callback:x": `"callback:x" is not`} {
		args := []string{"admin", "reset", "anna", "--reason", "x"}
		if check != "" {
			args = append(args, "--identity-check", check)
		}
		if e := mustRun(t, env, 2, args...); !strings.Contains(e, want) {
			t.Errorf("--identity-check %q: %q, want %q", check, e, want)
		}
	}
}

// TestAdminInviteGroupLetters: one PDF with a letter for each member of a
// group without a factor (--all: every member), each her own invitation.
func TestAdminInviteGroupLetters(t *testing.T) {
	env, url, cfgPath := deskEnv(t)
	run := func(want int, args ...string) string {
		return mustRun(t, env, want, append(args, "--config", cfgPath)...)
	}
	run(0, "admin", "groups", "add", "ausschuss")
	for _, u := range []string{"anna", "bert", "carl"} {
		run(0, "admin", "users", "add", u, "--address", "Prinzipalmarkt 1|48143 Münster")
		run(0, "admin", "groups", "add-member", "ausschuss", u, "--reason", "ticket 1")
	}
	st := openTestStore(t, url)
	carl, _ := st.GetUserByUsername(t.Context(), "carl")
	addCredentials(t, st, carl.ID)
	file := filepath.Join(t.TempDir(), "ausschuss.pdf")
	if e := run(2, "admin", "invite", "--group", "ausschuss", "--letters", file); !strings.Contains(e, "--reason is required") {
		t.Errorf("letters without a reason: %q", e)
	}
	var j groupLettersJSON
	if err := json.Unmarshal([]byte(run(0, "admin", "invite", "--group", "ausschuss", "--letters", file, "--reason", "elected", "--json")), &j); err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, inv := range j.Invitations {
		names = append(names, inv.Username)
	}
	pdf, err := os.ReadFile(file)
	if !slices.Equal(names, []string{"anna", "bert"}) || !slices.Equal(j.Skipped, []string{"carl"}) || err != nil ||
		bytes.Count(pdf, []byte("/Type /Page\n")) != 2 || j.Invitations[0].Code == j.Invitations[1].Code {
		t.Errorf("letters: %+v, %d pages, %v", j, bytes.Count(pdf, []byte("/Type /Page\n")), err)
	}
	if out := run(0, "admin", "invite", "--group", "ausschuss", "--letters", file, "--reason", "elected", "--all"); !strings.Contains(out, "Wrote 3 letter(s)") {
		t.Errorf("--all: %q", out)
	}
}

// TestConfigRoles: admin.roles takes canonical group names, from the file
// or the environment; unknown keys are named.
func TestConfigRoles(t *testing.T) {
	dir := t.TempDir()
	cfg, err := loadConfig("", []string{"KEYHALL_ADMIN_ROLES_HELPDESK=it-helpdesk,servicedesk", "KEYHALL_ADMIN_ROLES_ADMIN=it-admins"})
	if err != nil || !slices.Equal(cfg.Admin.Roles.Helpdesk, []string{"it-helpdesk", "servicedesk"}) ||
		!slices.Equal(cfg.Admin.Roles.Admin, []string{"it-admins"}) {
		t.Errorf("roles from the environment: %+v, %v", cfg.Admin.Roles, err)
	}
	_, err = loadConfig(writeFile(t, dir, "bad.yaml", "admin:\n  roles:\n    helpdesk: [\"IT Helpdesk\"]\n    auditor: [x]\n"), nil)
	got := strings.Join(problems(t, err), "\n")
	if !strings.Contains(got, "admin.roles.helpdesk[0]") || !strings.Contains(got, "admin.roles.auditor") {
		t.Errorf("bad roles: %s", got)
	}
	_, err = loadConfig(writeFile(t, dir, "bad2.yaml", "policy:\n  groups:\n    rat:\n      protect: true\n"), nil)
	if got := strings.Join(problems(t, err), "\n"); !strings.Contains(got, "policy.groups.rat.protect") {
		t.Errorf("a misspelt policy setting: %s", got)
	}
}
