package main

import (
	"context"
	"strings"
	"testing"

	"github.com/keyhall/keyhall/authn"
)

// TestAdminFreezeUnfreezeEnable (#14): an administrator freezes an account
// at once (sessions end) and lifts the freeze; after a reset that turned
// out to be the attack, --restore-factors gives her own key and app back;
// enable undoes an administrator's disable. Each is audited and each
// refuses what does not apply.
func TestAdminFreezeUnfreezeEnable(t *testing.T) {
	env, url := enrollEnvVars(t, nil)
	mustRun(t, env, 0, "admin", "users", "add", "anna")
	st := openTestStore(t, url)
	ctx := context.Background()
	anna, err := st.GetUserByUsername(ctx, "anna")
	if err != nil {
		t.Fatal(err)
	}
	keyID := addCredentials(t, st, anna.ID)
	status := func() authn.UserStatus {
		u, err := st.GetUser(ctx, anna.ID)
		if err != nil {
			t.Fatal(err)
		}
		return u.Status
	}

	// A reset (by a caller who was not she) suspends her key and app.
	mustRun(t, env, 0, "admin", "reset", "anna", "--reason", "ticket 4721", "--identity-check", "callback")
	if creds, _ := st.ListCredentials(ctx, anna.ID); len(creds) != 0 {
		t.Fatalf("after the reset she still has %d factors", len(creds))
	}
	if out := mustRun(t, env, 0, "admin", "users", "freeze", "anna", "--reason", "reset she did not ask for"); !strings.Contains(out, "Froze user") {
		t.Errorf("freeze: %q", out)
	}
	if status() != authn.StatusFrozen {
		t.Fatalf("status after freeze: %s", status())
	}
	if out := mustRun(t, env, 0, "admin", "users", "freeze", "anna", "--reason", "again"); !strings.Contains(out, "frozen already") {
		t.Errorf("freeze again: %q", out)
	}
	if e := mustRun(t, env, 2, "admin", "users", "unfreeze", "anna"); !strings.Contains(e, "--reason") {
		t.Errorf("unfreeze without a reason: %q", e)
	}
	out := mustRun(t, env, 0, "admin", "users", "unfreeze", "anna", "--reason", "phone scam, ticket 4721", "--restore-factors")
	if !strings.Contains(out, "Restored 2") || status() != authn.StatusActive {
		t.Errorf("unfreeze --restore-factors: %q, status %s", out, status())
	}
	creds, err := st.ListCredentials(ctx, anna.ID)
	if err != nil || len(creds) != 2 || (creds[0].ID != keyID && creds[1].ID != keyID) {
		t.Errorf("her factors after the restore: %+v, %v", creds, err)
	}
	if e := mustRun(t, env, 2, "admin", "users", "unfreeze", "anna", "--reason", "again"); !strings.Contains(e, "not frozen") {
		t.Errorf("unfreeze an account that is not frozen: %q", e)
	}

	// Enable undoes an administrator's disable, and only that.
	if e := mustRun(t, env, 2, "admin", "users", "enable", "anna", "--reason", "x"); !strings.Contains(e, "not disabled by an administrator") {
		t.Errorf("enable an active person: %q", e)
	}
	mustRun(t, env, 0, "admin", "users", "disable", "anna", "--reason", "on leave")
	mustRun(t, env, 0, "admin", "users", "enable", "anna", "--reason", "back from leave")
	if status() != authn.StatusActive {
		t.Errorf("status after enable: %s", status())
	}
	for _, action := range []string{"user.frozen", "user.unfrozen", "credential.restore", "user.enable"} {
		if evs, err := st.RecentAudit(ctx, "user:"+anna.ID, action, 1); err != nil || len(evs) != 1 || evs[0].Reason == "" ||
			evs[0].Details["via"] != "cli" {
			t.Errorf("audit %s: %+v, %v", action, evs, err)
		}
	}
}
