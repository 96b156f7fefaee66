package main

import (
	"net/url"
	"strings"
	"testing"

	"github.com/keyhall/keyhall/enroll"
	"github.com/keyhall/keyhall/enroll/citizens"
)

// TestAuditVerifyAfterAccountDeletion: after a person deleted her own
// account (her events redacted, a pseudonymous erasure appended),
// `keyhall admin audit verify` still finds the chain intact.
func TestAuditVerifyAfterAccountDeletion(t *testing.T) {
	env, dsn := adminEnv(t)
	mustRun(t, env, 0, "admin", "users", "add", "anna", "--email", "anna@stadt.example", "--name", "Anna Müller")
	mustRun(t, env, 0, "admin", "users", "add", "bernd")
	mustRun(t, env, 0, "admin", "groups", "add", "buerger")
	mustRun(t, env, 0, "admin", "groups", "add-member", "buerger", "anna", "--reason", "ticket 1")
	mustRun(t, env, 0, "admin", "groups", "add-member", "buerger", "bernd", "--reason", "ticket 1")
	st := openTestStore(t, dsn)
	anna, err := st.GetUserByUsername(t.Context(), "anna")
	if err != nil {
		t.Fatal(err)
	}
	pub, _ := url.Parse("https://id.stadt.example")
	en, err := enroll.New(enroll.Config{Store: st, PublicURL: pub, EncryptionKey: [32]byte{1}, Logger: discardLogger()})
	if err != nil {
		t.Fatal(err)
	}
	svc, err := citizens.New(citizens.Config{Store: st, Enroll: en, PublicURL: pub, Logger: discardLogger()})
	if err != nil {
		t.Fatal(err)
	}
	if err := svc.Delete(t.Context(), anna.ID, "account", "192.0.2.1"); err != nil {
		t.Fatal(err)
	}
	out := mustRun(t, env, 0, "admin", "audit", "verify")
	if !strings.HasPrefix(out, "6 audit events") || !strings.Contains(out, "chain intact") || !strings.Contains(out, "of them redacted") {
		t.Errorf("audit verify after the deletion printed %q", out)
	}
}
