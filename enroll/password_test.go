package enroll_test

import (
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
