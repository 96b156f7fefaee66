package main

import (
	"bytes"
	"context"
	"log/slog"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/keyhall/keyhall/authn"
	"github.com/keyhall/keyhall/authn/sqlstore"
)

// TestRetentionAtCheckpoint (#15): serve's audit log notes each checkpoint
// it signs and logs; retention redacts old sign-in records only up to the
// newest one. Afterwards a plain verify, the newest checkpoint line and an
// older one all still verify, and the sign-in records written after the
// newest checkpoint are as the log lines have them.
func TestRetentionAtCheckpoint(t *testing.T) {
	onBothBackends(t, testRetentionAtCheckpoint)
}

func testRetentionAtCheckpoint(t *testing.T, env []string, storeURL string) {
	t.Chdir(t.TempDir()) // the key file the commands create
	ctx := context.Background()
	mustRun(t, env, 0, "admin", "users", "add", "anna")
	cfg, err := loadConfig("", env)
	if err != nil {
		t.Fatal(err)
	}
	keys, err := loadKeys(cfg, discardLogger())
	if err != nil {
		t.Fatal(err)
	}
	st := openTestStore(t, storeURL).(*sqlstore.Store)
	anna, err := st.GetUserByUsername(ctx, "anna")
	if err != nil {
		t.Fatal(err)
	}
	long := time.Now().Add(-200 * 24 * time.Hour) // older than retention.signins (90 days)
	signins := func(n int) {
		t.Helper()
		for range n {
			long = long.Add(time.Minute)
			if err := st.AppendAudit(ctx, authn.AuditEvent{Time: long, Actor: "user:" + anna.ID, Action: "signin",
				Subject: "user:" + anna.ID, ClientAddr: "203.0.113.9", Details: map[string]string{"amr": "hwk"}}); err != nil {
				t.Fatal(err)
			}
		}
	}
	clock := time.Now()
	var out bytes.Buffer
	a := &auditLog{st: st, keys: keys, logger: slog.New(slog.NewJSONHandler(&out, nil)), holder: "test",
		now: func() time.Time { return clock }}
	checkpoint := func() string {
		t.Helper()
		out.Reset()
		if err := a.step(ctx); err != nil {
			t.Fatal(err)
		}
		for _, l := range logLines(t, &out) {
			if cp, ok := l["checkpoint"].(string); ok {
				return cp
			}
		}
		t.Fatalf("no checkpoint logged:\n%s", out.String())
		return ""
	}

	signins(3)
	older := checkpoint()
	signins(2)
	clock = clock.Add(2 * auditCheckpointEvery)
	newer := checkpoint()
	c, err := authn.ParseCheckpoint(newer)
	if err != nil {
		t.Fatal(err)
	}
	if seq, err := st.NotedCheckpoint(ctx); err != nil || seq != c.Seq {
		t.Fatalf("noted checkpoint %d, %v; want the one logged last, %d", seq, err, c.Seq)
	}
	signins(2) // after the newest checkpoint: not cut yet

	pub, _ := url.Parse("http://localhost:8080")
	svc, err := retentionService(cfg, keys, pub, st, nil, discardLogger())
	if err != nil {
		t.Fatal(err)
	}
	rep, err := svc.Retain(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if rep.SigninsRedacted != 5 || rep.Checkpoint != c.Seq {
		t.Errorf("Retain = %+v, want the 5 sign-ins up to checkpoint %d redacted", rep, c.Seq)
	}
	events, err := st.ListAudit(ctx, authn.AuditFilter{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range events {
		if e.Action == "signin" && (e.Seq <= c.Seq) != e.Redacted {
			t.Errorf("sign-in %d (checkpoint at %d): redacted %v", e.Seq, c.Seq, e.Redacted)
		}
	}
	if got := mustRun(t, env, 0, "admin", "audit", "verify"); !strings.Contains(got, "chain intact") ||
		!strings.Contains(got, "5 of them redacted") {
		t.Errorf("verify after retention: %q", got)
	}
	for _, cp := range []string{older, newer} {
		if got := mustRun(t, env, 0, "admin", "audit", "verify", "--checkpoint", cp); !strings.Contains(got, "signed by this installation") ||
			!strings.Contains(got, "chain intact") {
			t.Errorf("verify --checkpoint after retention: %q", got)
		}
	}
	// An event changed and marked redacted to hide it is found
	// (review of #15): redaction leaves no details.
	if _, err := st.DB().ExecContext(ctx, `UPDATE audit_events SET redacted = NOT redacted, actor = 'cli:innocent'
		WHERE seq = (SELECT MIN(seq) FROM audit_events WHERE details <> '{}' AND NOT redacted)`); err != nil {
		t.Fatal(err)
	}
	if got := mustRun(t, env, 1, "admin", "audit", "verify"); !strings.Contains(got, "not redacted by Keyhall") {
		t.Errorf("verify after an event was changed and marked redacted: %q", got)
	}
}

// TestWireLegal: legal.* reaches the pages' footer (web.Config.Legal).
func TestWireLegal(t *testing.T) {
	cfg := defaultConfig()
	cfg.Legal.ImprintURL, cfg.Legal.PrivacyURL = "https://www.stadt.example/impressum", "https://www.stadt.example/datenschutz"
	keys := Keys{Cookie: make([]byte, 64), Encryption: [32]byte{1}, OIDC: [32]byte{2}}
	publicURL, err := cfg.parsedPublicURL()
	if err != nil {
		t.Fatal(err)
	}
	wc, err := webConfig(cfg, keys, publicURL, nil, discardLogger())
	if err != nil {
		t.Fatal(err)
	}
	if wc.Legal.ImprintURL != cfg.Legal.ImprintURL || wc.Legal.PrivacyURL != cfg.Legal.PrivacyURL {
		t.Errorf("web.Config.Legal = %+v", wc.Legal)
	}
}
