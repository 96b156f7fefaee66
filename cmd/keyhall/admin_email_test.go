package main

import (
	"context"
	"strings"
	"testing"

	"github.com/keyhall/keyhall/authn"
)

// TestAdminConfirmEmail: the link goes to the person's mailbox only, and
// the command refuses when it could not mail it.
func TestAdminConfirmEmail(t *testing.T) {
	in := startInbox(t)
	env, url := enrollEnvVars(t, in)
	mustRun(t, env, 0, "admin", "users", "add", "anna", "--email", "anna@stadt.example")
	out := mustRun(t, env, 0, "admin", "confirm-email", "anna", "--reason", "ticket 1")
	if !strings.Contains(out, "anna@stadt.example") || strings.Contains(out, "/email/confirm/") {
		t.Errorf("confirm-email printed %q: want the address, never the link", out)
	}
	mails := in.take()
	if len(mails) != 1 || mails[0].Header.Get("To") == "" ||
		!strings.Contains(mailBody(t, mails[0]), "https://login.stadt.example/email/confirm/") {
		t.Fatalf("%d mails; want one with the link", len(mails))
	}
	st := openTestStore(t, url)
	u, _ := st.GetUserByUsername(context.Background(), "anna")
	events, _ := st.ListAudit(context.Background(), authn.AuditFilter{Subject: "user:" + u.ID})
	if last := events[len(events)-1]; last.Action != "email.confirmation.create" || last.Reason != "ticket 1" {
		t.Errorf("audit: %+v", last)
	}

	noMail, _ := enrollEnvVars(t, nil)
	mustRun(t, noMail, 0, "admin", "users", "add", "bert", "--email", "bert@stadt.example")
	if e := mustRun(t, noMail, 2, "admin", "confirm-email", "bert"); !strings.Contains(e, "mail.smtp_host") {
		t.Errorf("confirm-email without SMTP: %q", e)
	}
}
