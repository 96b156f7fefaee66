package enroll_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/keyhall/keyhall/authn"
	"github.com/keyhall/keyhall/enroll"
)

// TestChangePassword: a local person sets or changes her password with a
// fresh sign-in that did not come from a recovery code; a directory
// person's password is the directory's; a weak one is refused. Nothing
// refused is stored.
func TestChangePassword(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	anna := f.user(t, "anna")
	has := func() bool { _, err := f.store.GetPasswordHash(ctx, anna.ID); return err == nil }
	good := "Rathaus am Prinzipalmarkt"

	rec := f.session(t, anna, authn.LevelMFA, true)
	wantReason(t, "after a recovery code", f.svc.ChangePassword(ctx, rec, good, authn.ClientInfo{}), enroll.ReasonScope)
	stale := f.session(t, anna, authn.LevelPhr, false)
	f.clock.add(enroll.FreshSignIn + time.Second)
	wantReason(t, "stale sign-in", f.svc.ChangePassword(ctx, stale, good, authn.ClientInfo{}), enroll.ReasonSignIn)
	fresh := f.session(t, anna, authn.LevelPhr, false)
	wantReason(t, "too short", f.svc.ChangePassword(ctx, fresh, "elf Zeichen", authn.ClientInfo{}), enroll.ReasonPasswordWeak)
	wantReason(t, "common", f.svc.ChangePassword(ctx, fresh, "PASSWORDPASSWORD", authn.ClientInfo{}), enroll.ReasonPasswordWeak)
	if has() {
		t.Fatal("a refused password was stored")
	}
	if o, err := f.svc.Offers(ctx, anna.ID); err != nil || o.RecoveryCodes || !o.SetPassword {
		t.Errorf("offer without a password: %+v, %v", o, err)
	}
	must(t, f.svc.ChangePassword(ctx, fresh, good, authn.ClientInfo{}))
	if o, err := f.svc.Offers(ctx, anna.ID); err != nil || !o.RecoveryCodes || o.SetPassword || !o.Password.Has {
		t.Errorf("offer with a password: %+v, %v", o, err)
	}

	// A directory person (no directory configured here): no password of
	// Keyhall's to set, and so no codes or app to offer.
	now := f.clock.now()
	dora := authn.User{ID: authn.NewID(), Username: "dora", Status: authn.StatusActive, Source: authn.SourceDirectory,
		ExternalID: "uid=dora", CreatedAt: now, UpdatedAt: now}
	must(t, f.store.CreateUser(ctx, dora, authn.AuditEvent{Time: now, Actor: "test", Action: "user.create"}))
	ds := f.session(t, dora, authn.LevelPhr, false)
	wantReason(t, "directory person", f.svc.ChangePassword(ctx, ds, good, authn.ClientInfo{}), enroll.ReasonNoLocalPassword)
	if o, err := f.svc.Offers(ctx, dora.ID); err != nil || o.RecoveryCodes || o.App || o.SetPassword || o.Password.Local {
		t.Errorf("offer for a directory person without a directory: %+v, %v", o, err)
	}
	inv, err := f.svc.Issue(ctx, dora.ID, 0, "cli:root", "")
	must(t, err)
	pr, err := f.svc.Redeem(ctx, enroll.Redemption{Token: token(inv.Link)})
	must(t, err)
	_, _, err = f.svc.BeginTOTP(ctx, pr.ID)
	wantReason(t, "an app for a directory person whose password Keyhall cannot check", err, enroll.ReasonPasswordNeeded)
}

// TestRequirePassword: an invitation (or a reset) that requires a password
// leads a local person to choose one, and her enrollment does not finish
// without it: Finish refuses and the enrollment goes on. Without the
// requirement she may finish with her key alone. A directory person's
// password is the directory's: the requirement is refused for her. The
// audit event of the invitation says it.
func TestRequirePassword(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	strict := enroll.Terms{RequirePassword: true}

	// Without the requirement: key, then Finish.
	paul := f.user(t, "paul")
	pr := f.redeemOn(t, f.svc, paul)
	_, pr, err := f.register(t, pr.ID, f.attested())
	must(t, err)
	if pr.Offer.PasswordRequired || !pr.Offer.SetPassword {
		t.Errorf("offer without the requirement: %+v", pr.Offer)
	}
	if _, err := f.svc.Finish(ctx, pr.ID); err != nil {
		t.Fatalf("Finish without the requirement: %v", err)
	}

	anna := f.user(t, "anna")
	inv, err := f.svc.IssueWith(ctx, anna.ID, strict, "cli:root", "ticket 4711")
	must(t, err)
	if !inv.RequirePassword {
		t.Error("the invitation does not say it requires a password")
	}
	pr, err = f.svc.Redeem(ctx, enroll.Redemption{Token: token(inv.Link)})
	must(t, err)
	_, pr, err = f.register(t, pr.ID, f.attested())
	must(t, err)
	if !pr.Offer.PasswordRequired || !pr.Offer.SetPassword {
		t.Errorf("offer with the requirement: %+v", pr.Offer)
	}
	pr, err = f.svc.Finish(ctx, pr.ID)
	wantReason(t, "Finish without the required password", err, enroll.ReasonPasswordNeeded)
	if e, ok := errors.AsType[*enroll.Error](err); !ok || !strings.Contains(e.DE, "Passwort fest") {
		t.Errorf("the refusal does not tell her to set her password: %v", err)
	}
	if len(pr.ID) == 0 {
		t.Fatal("a refused Finish ended the enrollment")
	}
	pr, err = f.svc.SetPassword(ctx, pr.ID, "Rathaus am Prinzipalmarkt", authn.ClientInfo{})
	must(t, err)
	if pr.Offer.PasswordRequired || pr.Offer.SetPassword {
		t.Errorf("offer after her password: %+v", pr.Offer)
	}
	if _, err := f.svc.Finish(ctx, pr.ID); err != nil {
		t.Fatalf("Finish after her password: %v", err)
	}
	events, err := f.store.ListAudit(ctx, authn.AuditFilter{Subject: "user:" + anna.ID, Limit: 100})
	must(t, err)
	var seen bool
	for _, e := range events {
		seen = seen || e.Action == "invitation.create" && e.Details["require_password"] == "true"
	}
	if !seen {
		t.Errorf("no invitation.create event with require_password: %+v", events)
	}

	// A reset with the requirement: her newest invitation requires it.
	f.clock.add(time.Minute)
	_, _, err = f.svc.ResetWith(ctx, paul.ID, strict, "cli:root", "lost key")
	must(t, err)
	st, err := enroll.StateOf(ctx, f.store, paul.ID, f.clock.now())
	must(t, err)
	if !st.PasswordRequired {
		t.Errorf("state after a reset requiring a password: %+v", st)
	}

	now := f.clock.now()
	dora := authn.User{ID: authn.NewID(), Username: "dora", Status: authn.StatusActive, Source: authn.SourceDirectory,
		ExternalID: "uid=dora", CreatedAt: now, UpdatedAt: now}
	must(t, f.store.CreateUser(ctx, dora, authn.AuditEvent{Time: now, Actor: "test", Action: "user.create"}))
	if _, err := f.svc.IssueWith(ctx, dora.ID, strict, "cli:root", ""); !errors.Is(err, enroll.ErrDirectoryPassword) {
		t.Errorf("IssueWith(directory person, require password) = %v, want ErrDirectoryPassword", err)
	}
	if _, _, err := f.svc.ResetWith(ctx, dora.ID, strict, "cli:root", "lost key"); !errors.Is(err, enroll.ErrDirectoryPassword) {
		t.Errorf("ResetWith(directory person, require password) = %v, want ErrDirectoryPassword", err)
	}
}
