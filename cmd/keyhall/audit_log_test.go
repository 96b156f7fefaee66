package main

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/keyhall/keyhall/authn"
	"github.com/keyhall/keyhall/authn/sqlstore"
)

// TestAuditLogLinesAndCheckpoints (#14): serve writes every audit event as
// one JSON log line, once, and a checkpoint of the chain's head signed with
// the installation's key. `audit verify --checkpoint` accepts that
// checkpoint on the intact log, and refuses it once the log was rewritten
// the way someone with write access to the database can (the chain
// recomputed, so a plain verify still calls it intact): events changed,
// events removed at the end. A checkpoint signed with another key, or
// changed, is refused.
func TestAuditLogLinesAndCheckpoints(t *testing.T) {
	onBothBackends(t, testAuditLogLinesAndCheckpoints)
}

func testAuditLogLinesAndCheckpoints(t *testing.T, env []string, url string) {
	t.Chdir(t.TempDir()) // the key file the commands create
	ctx := context.Background()
	mustRun(t, env, 0, "admin", "users", "add", "anna")
	mustRun(t, env, 0, "admin", "groups", "add", "rat")
	mustRun(t, env, 0, "admin", "groups", "add-member", "rat", "anna", "--reason", "ticket 1")

	keys := commandKeys(t, env)
	st := openTestStore(t, url).(*sqlstore.Store)
	var out bytes.Buffer
	a := &auditLog{st: st, keys: keys, logger: slog.New(slog.NewJSONHandler(&out, nil)), holder: "test", now: time.Now}
	if err := a.step(ctx); err != nil {
		t.Fatal(err)
	}
	lines := logLines(t, &out)
	if len(lines) != 4 {
		t.Fatalf("wrote %d lines, want 3 events and a checkpoint:\n%s", len(lines), out.String())
	}
	for i, want := range []string{"user.create", "group.create", "group.add_member"} {
		if l := lines[i]; l["msg"] != "audit event" || l["action"] != want || l["seq"] != float64(i+1) || l["hash"] == "" {
			t.Errorf("line %d: %v, want the event %s", i, l, want)
		}
	}
	cp, _ := lines[3]["checkpoint"].(string)
	if lines[3]["msg"] != "audit checkpoint" || lines[3]["seq"] != float64(3) || cp == "" {
		t.Fatalf("checkpoint line: %v", lines[3])
	}
	// Nothing twice; a new event once, with no new checkpoint within the hour.
	mustRun(t, env, 0, "admin", "users", "add", "bernd")
	out.Reset()
	if err := a.step(ctx); err != nil {
		t.Fatal(err)
	}
	if lines := logLines(t, &out); len(lines) != 1 || lines[0]["seq"] != float64(4) {
		t.Errorf("second round wrote %v, want event 4 alone", lines)
	}
	// The checkpoint as the log collector keeps it: the whole line.
	line := strings.TrimSpace(strings.Split(strings.TrimSpace(mustJSON(t, lines[3])), "\n")[0])
	if got := mustRun(t, env, 0, "admin", "audit", "verify", "--checkpoint", line); !strings.Contains(got, "signed by this installation") ||
		!strings.Contains(got, "4 audit events, chain intact") {
		t.Errorf("verify --checkpoint on the intact log: %q", got)
	}

	// Signed with another key, or changed: refused.
	other, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	c, _ := authn.ParseCheckpoint(cp)
	forged, _ := authn.SignCheckpoint(other, c.KeyID, c.Seq, c.Hash, c.Time)
	if e := mustRun(t, env, 1, "admin", "audit", "verify", "--checkpoint", forged.String()); !strings.Contains(e, "does not verify") {
		t.Errorf("forged checkpoint: %q", e)
	}
	changed := c
	changed.Seq = 2
	if e := mustRun(t, env, 1, "admin", "audit", "verify", "--checkpoint", changed.String()); !strings.Contains(e, "does not verify") {
		t.Errorf("changed checkpoint: %q", e)
	}
	if e := mustRun(t, env, 2, "admin", "audit", "verify", "--checkpoint", "keyhall-checkpoint.v1.x"); !strings.Contains(e, "--checkpoint") {
		t.Errorf("garbled checkpoint: %q", e)
	}

	// Event 2 changed and the chain recomputed: a plain verify is fooled,
	// the checkpoint is not.
	rewrite(t, st, func(events []authn.AuditEvent) []authn.AuditEvent {
		events[1].Reason = "nothing happened"
		return events
	})
	mustRun(t, env, 0, "admin", "audit", "verify")
	if e := mustRun(t, env, 1, "admin", "audit", "verify", "--checkpoint", cp); !strings.Contains(e, "were changed, removed or replaced") {
		t.Errorf("verify --checkpoint on a rewritten log: %q", e)
	}
	// The events after event 1 removed, the head set back.
	rewrite(t, st, func(events []authn.AuditEvent) []authn.AuditEvent { return events[:1] })
	mustRun(t, env, 0, "admin", "audit", "verify")
	if e := mustRun(t, env, 1, "admin", "audit", "verify", "--checkpoint", cp); !strings.Contains(e, "ends at event 1") ||
		!strings.Contains(e, "events were removed") {
		t.Errorf("verify --checkpoint on a cut log: %q", e)
	}

	// The mark of what was written set ahead (to silence the lines): said
	// loudly, and new events are written again.
	if err := st.PutSetting(ctx, auditLoggedSetting, "999"); err != nil {
		t.Fatal(err)
	}
	mustRun(t, env, 0, "admin", "users", "add", "carla")
	out.Reset()
	if err := a.step(ctx); err != nil {
		t.Fatal(err)
	}
	if got := out.String(); !strings.Contains(got, "audit log damaged") || !strings.Contains(got, `"action":"user.create"`) {
		t.Errorf("with the mark ahead of the chain:\n%s", got)
	}

	// The installation key removed from the database: verify says so, and
	// makes no new one.
	if _, err := st.DB().ExecContext(ctx, "DELETE FROM oidc_keys"); err != nil {
		t.Fatal(err)
	}
	if e := mustRun(t, env, 1, "admin", "audit", "verify", "--checkpoint", cp); !strings.Contains(e, "holds no installation key") {
		t.Errorf("verify without the key: %q", e)
	}
	var n int
	if err := st.DB().QueryRowContext(ctx, "SELECT count(*) FROM oidc_keys").Scan(&n); err != nil || n != 0 {
		t.Errorf("verify made a key: %d, %v", n, err)
	}
}

// logLines parses the JSON log lines in out.
func logLines(t *testing.T, out *bytes.Buffer) []map[string]any {
	t.Helper()
	var lines []map[string]any
	for l := range strings.SplitSeq(strings.TrimSpace(out.String()), "\n") {
		if l == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("log line %q: %v", l, err)
		}
		lines = append(lines, m)
	}
	return lines
}

func mustJSON(t *testing.T, v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// rewrite changes the audit log with change (which may edit reasons and
// cut the end off) and recomputes the chain and the head: what someone
// with write access to the database can do.
func rewrite(t *testing.T, st *sqlstore.Store, change func([]authn.AuditEvent) []authn.AuditEvent) {
	t.Helper()
	ctx := context.Background()
	events, err := st.ListAudit(ctx, authn.AuditFilter{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	events = change(events)
	db := st.DB()
	last := events[len(events)-1].Seq
	if _, err := db.ExecContext(ctx, "DELETE FROM audit_events WHERE seq > $1", last); err != nil {
		t.Fatal(err)
	}
	var prev [32]byte
	for _, e := range events {
		e.Hash = e.ChainHash(prev)
		if _, err := db.ExecContext(ctx, "UPDATE audit_events SET reason = $1, prev_hash = $2, hash = $3 WHERE seq = $4",
			e.Reason, prev[:], e.Hash[:], e.Seq); err != nil {
			t.Fatal(err)
		}
		prev = e.Hash
	}
	if _, err := db.ExecContext(ctx, "UPDATE audit_head SET seq = $1, hash = $2", last, prev[:]); err != nil {
		t.Fatal(err)
	}
}

// commandKeys returns the keys the admin commands run with env use (the
// key file they created in the working directory).
func commandKeys(t *testing.T, env []string) Keys {
	t.Helper()
	cfg, err := loadConfig("", env)
	if err != nil {
		t.Fatal(err)
	}
	keys, err := loadKeys(cfg, discardLogger())
	if err != nil {
		t.Fatal(err)
	}
	return keys
}
