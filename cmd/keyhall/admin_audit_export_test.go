package main

import (
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/keyhall/keyhall/authn"
)

// TestAdminAuditExport (#14): the whole log as CSV and as JSON Lines; the
// JSON Lines chain verifies outside Keyhall from its own fields; filters
// by person, action prefix and time; text typed as a formula is defused
// in CSV; the export itself is audited; bad flags are refused.
func TestAdminAuditExport(t *testing.T) {
	onBothBackends(t, testAdminAuditExport)
}

func testAdminAuditExport(t *testing.T, env []string, _ string) {
	mustRun(t, env, 0, "admin", "users", "add", "anna")
	mustRun(t, env, 0, "admin", "users", "add", "bernd")
	mustRun(t, env, 0, "admin", "users", "disable", "bernd", "--reason", "=HYPERLINK(\"http://evil\")")

	var n int // events so far
	if _, err := fmt.Sscanf(mustRun(t, env, 0, "admin", "audit", "verify"), "%d audit events", &n); err != nil || n < 3 {
		t.Fatalf("audit verify: %d events, %v", n, err)
	}
	rows, err := csv.NewReader(strings.NewReader(mustRun(t, env, 0, "admin", "audit", "export"))).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != n+1 || strings.Join(rows[0], ",") != "seq,time,actor,action,subject,reason,client_addr,details,hash" {
		t.Fatalf("CSV export of %d events: %q", n, rows)
	}
	if rows[1][3] != "user.create" || rows[3][3] != "user.disable" || rows[3][5] != `'=HYPERLINK("http://evil")` {
		t.Errorf("CSV rows: %q", rows[1:])
	}

	// JSON Lines: the chain can be checked from the export alone.
	out := mustRun(t, env, 0, "admin", "audit", "export", "--format", "jsonl")
	var prev [32]byte
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != n+1 { // the events and the first export's own
		t.Fatalf("JSON Lines export has %d lines:\n%s", len(lines), out)
	}
	for _, l := range lines {
		var e struct {
			Seq        int64             `json:"seq"`
			Time       time.Time         `json:"time"`
			Actor      string            `json:"actor"`
			Action     string            `json:"action"`
			Subject    string            `json:"subject"`
			Reason     string            `json:"reason"`
			ClientAddr string            `json:"client_addr"`
			Details    map[string]string `json:"details"`
			PrevHash   string            `json:"prev_hash"`
			Hash       string            `json:"hash"`
		}
		if err := json.Unmarshal([]byte(l), &e); err != nil {
			t.Fatalf("line %q: %v", l, err)
		}
		if e.PrevHash != hex.EncodeToString(prev[:]) {
			t.Fatalf("event %d: prev_hash %s, want %x", e.Seq, e.PrevHash, prev)
		}
		prev = authn.AuditEvent{Seq: e.Seq, Time: e.Time, Actor: e.Actor, Action: e.Action, Subject: e.Subject,
			Reason: e.Reason, ClientAddr: e.ClientAddr, Details: e.Details}.ChainHash(prev)
		if e.Hash != hex.EncodeToString(prev[:]) {
			t.Fatalf("event %d does not hash to its hash from the export's own fields", e.Seq)
		}
	}
	if !strings.Contains(lines[n], `"action":"audit.export"`) || !strings.Contains(lines[n], `"format":"csv"`) {
		t.Errorf("the export was not audited: %s", lines[n])
	}

	// Filters.
	out = mustRun(t, env, 0, "admin", "audit", "export", "--format", "jsonl", "--user", "bernd", "--action", "user.")
	if !strings.Contains(out, `"action":"user.create"`) || !strings.Contains(out, `"action":"user.disable"`) ||
		strings.Contains(out, `"anna"`) || strings.Contains(out, "audit.export") {
		t.Errorf("--user bernd --action user.:\n%s", out)
	}
	tomorrow := time.Now().UTC().Add(24 * time.Hour).Format(time.DateOnly)
	if out := mustRun(t, env, 0, "admin", "audit", "export", "--since", tomorrow); strings.Count(out, "\n") != 1 {
		t.Errorf("--since tomorrow:\n%s", out)
	}
	if out := mustRun(t, env, 0, "admin", "audit", "export", "--until", tomorrow, "--action", "user.create"); strings.Count(out, "\n") != 3 {
		t.Errorf("--until tomorrow --action user.create:\n%s", out)
	}
	file := filepath.Join(t.TempDir(), "audit.csv")
	mustRun(t, env, 0, "admin", "audit", "export", "--output", file)
	if fi, err := os.Stat(file); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("--output: %v, %v", fi, err)
	}
	for _, c := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"--format", "xml"}, 2, "csv or jsonl"},
		{[]string{"--since", "gestern"}, 2, "is not a day"},
		{[]string{"--user", "niemand"}, 1, "niemand"},
	} {
		if e := mustRun(t, env, c.code, append([]string{"admin", "audit", "export"}, c.args...)...); !strings.Contains(e, c.want) {
			t.Errorf("%q: %q", c.args, e)
		}
	}
}

// TestAdminAuditExportFile: --output never overwrites a file by accident:
// an existing one is refused (untouched, and nothing exported or audited)
// unless --replace; the file written, new or replacing, has mode 0600
// whatever the old one had, and no temporary file is left beside it.
func TestAdminAuditExportFile(t *testing.T) {
	env, url := adminEnv(t)
	mustRun(t, env, 0, "admin", "users", "add", "anna")
	dir := t.TempDir()
	out := filepath.Join(dir, "important.txt")
	if err := os.WriteFile(out, []byte("precious data\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	st := openTestStore(t, url)
	exports := func() int {
		evs, err := st.ListAudit(t.Context(), authn.AuditFilter{Limit: 1000})
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, e := range evs {
			if e.Action == "audit.export" {
				n++
			}
		}
		return n
	}
	if e := mustRun(t, env, 1, "admin", "audit", "export", "--output", out); !strings.Contains(e, "exists") || !strings.Contains(e, "--replace") {
		t.Errorf("export to an existing file: %q", e)
	}
	if b, _ := os.ReadFile(out); string(b) != "precious data\n" {
		t.Errorf("the refused export changed the file: %q", b)
	}
	if n := exports(); n != 0 {
		t.Errorf("the refused export was audited %d times", n)
	}
	mustRun(t, env, 0, "admin", "audit", "export", "--output", out, "--replace")
	fresh := filepath.Join(dir, "new.csv")
	mustRun(t, env, 0, "admin", "audit", "export", "--output", fresh)
	for _, f := range []string{out, fresh} {
		fi, err := os.Stat(f)
		if err != nil || fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: %v, %v; want mode 0600", f, fi, err)
		}
		if b, _ := os.ReadFile(f); !strings.HasPrefix(string(b), "seq,time,actor,action") {
			t.Errorf("%s holds %.60q, want the CSV export", f, b)
		}
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 2 {
		t.Errorf("files left beside the export: %v", entries)
	}
}
