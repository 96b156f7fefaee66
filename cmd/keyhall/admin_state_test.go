package main

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/keyhall/keyhall/authn"
)

// TestAdminUsersEnrollmentState: users list and users show tell IT how far
// each person's enrollment got — her newest invitation pending (until
// when), expired, used, or none; her keys and apps; her recovery codes left
// — as text and as JSON.
func TestAdminUsersEnrollmentState(t *testing.T) {
	env, url := enrollEnvVars(t, nil)
	for _, name := range []string{"anna", "bernd", "carla", "dora"} {
		mustRun(t, env, 0, "admin", "users", "add", name)
	}
	mustRun(t, env, 0, "admin", "invite", "bernd", "--expires", "36h", "--reason", "ticket 1")
	st := openTestStore(t, url)
	ctx := context.Background()
	id := func(name string) string {
		u, err := st.GetUserByUsername(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		return u.ID
	}
	ev := authn.AuditEvent{Time: time.Now(), Actor: "test", Action: "invitation.create"}
	past := time.Now().Add(-48 * time.Hour).UTC()
	expired := authn.Invitation{ID: authn.NewID(), UserID: id("carla"), TokenHash: authn.HashToken("carla"), Purpose: authn.PurposeEnroll,
		CreatedBy: "test", CreatedAt: past, ExpiresAt: past.Add(24 * time.Hour)}
	used := authn.Invitation{ID: authn.NewID(), UserID: id("dora"), TokenHash: authn.HashToken("dora"), Purpose: authn.PurposeEnroll,
		CreatedBy: "test", CreatedAt: past, ExpiresAt: time.Now().Add(time.Hour).UTC()}
	for _, inv := range []authn.Invitation{expired, used} {
		if err := st.CreateInvitation(ctx, inv, ev); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := st.ConsumeInvitation(ctx, used.TokenHash, time.Now()); err != nil {
		t.Fatal(err)
	}
	addCredentials(t, st, id("dora"))
	if err := st.ReplaceRecoveryCodes(ctx, id("dora"), []authn.TokenHash{authn.HashRecoveryCode("a"), authn.HashRecoveryCode("b")}, ev); err != nil {
		t.Fatal(err)
	}

	var list []userJSON
	if err := json.Unmarshal([]byte(mustRun(t, env, 0, "admin", "users", "list", "--json")), &list); err != nil {
		t.Fatal(err)
	}
	got := map[string]enrollmentJSON{}
	for _, u := range list {
		if u.Enrollment == nil {
			t.Fatalf("users list --json: %s has no enrollment", u.Username)
		}
		got[u.Username] = *u.Enrollment
	}
	if e := got["anna"]; e.Invitation != "none" || e.Keys != 0 || e.RecoveryCodes != 0 {
		t.Errorf("anna: %+v; want no invitation", e)
	}
	if e := got["bernd"]; e.Invitation != "pending" || e.InvitationExpiresAt.Sub(time.Now()) < 35*time.Hour || e.InvitationExpiresAt.Sub(time.Now()) > 36*time.Hour {
		t.Errorf("bernd: %+v; want pending for 36 h", e)
	}
	if e := got["carla"]; e.Invitation != "expired" || !e.InvitationExpiresAt.Equal(expired.ExpiresAt.Truncate(time.Microsecond)) {
		t.Errorf("carla: %+v; want expired at %v", e, expired.ExpiresAt)
	}
	if e := got["dora"]; e.Invitation != "used" || e.InvitationUsedAt.IsZero() || e.Keys != 1 || e.Apps != 1 || e.RecoveryCodes != 2 {
		t.Errorf("dora: %+v; want used, 1 key, 1 app, 2 codes", e)
	}

	out := mustRun(t, env, 0, "admin", "users", "list")
	for _, want := range []string{"INVITATION", "KEYS", "APPS", "CODES", "pending until ", "expired ", "used ", "none"} {
		if !strings.Contains(out, want) {
			t.Errorf("users list has no %q:\n%s", want, out)
		}
	}
	out = mustRun(t, env, 0, "admin", "users", "show", "dora")
	for _, want := range []string{"Invitation:", "used ", "Keys:", "Apps:", "Recovery codes:", "2 unused"} {
		if !strings.Contains(out, want) {
			t.Errorf("users show has no %q:\n%s", want, out)
		}
	}
	var shown userJSON
	if err := json.Unmarshal([]byte(mustRun(t, env, 0, "admin", "users", "show", "carla", "--json")), &shown); err != nil ||
		shown.Enrollment == nil || shown.Enrollment.Invitation != "expired" {
		t.Errorf("users show --json: %+v, %v", shown, err)
	}
}

// TestAdminIssueStoresAddress: --address given to invite or reset is
// stored as the person's postal address, audited with the reason, so the
// next letter goes there too.
func TestAdminIssueStoresAddress(t *testing.T) {
	env, url := enrollEnvVars(t, nil)
	mustRun(t, env, 0, "admin", "users", "add", "anna")
	mustRun(t, env, 0, "admin", "invite", "anna", "--address", "Große Straße 17|48143 Münster", "--reason", "ticket 4711")
	address := func() []string {
		var shown userJSON
		if err := json.Unmarshal([]byte(mustRun(t, env, 0, "admin", "users", "show", "anna", "--json")), &shown); err != nil {
			t.Fatal(err)
		}
		return shown.Address
	}
	if got := address(); !slices.Equal(got, []string{"Große Straße 17", "48143 Münster"}) {
		t.Errorf("after invite --address, her address is %q", got)
	}
	mustRun(t, env, 0, "admin", "reset", "anna", "--identity-check", "callback", "--reason", "moved, keys lost", "--address", `Prinzipalmarkt 10\n48143 Münster`)
	if got := address(); !slices.Equal(got, []string{"Prinzipalmarkt 10", "48143 Münster"}) {
		t.Errorf("after reset --address, her address is %q", got)
	}
	st := openTestStore(t, url)
	u, err := st.GetUserByUsername(context.Background(), "anna")
	if err != nil {
		t.Fatal(err)
	}
	events, err := st.ListAudit(context.Background(), authn.AuditFilter{Subject: "user:" + u.ID})
	if err != nil {
		t.Fatal(err)
	}
	var vias []string
	for _, e := range events {
		if e.Action == "user.set_address" {
			vias = append(vias, e.Details["via"]+": "+e.Reason)
		}
	}
	if !slices.Equal(vias, []string{"invite: ticket 4711", "reset: moved, keys lost"}) {
		t.Errorf("address changes audited: %q; want one by invite and one by reset, with their reasons", vias)
	}
}
