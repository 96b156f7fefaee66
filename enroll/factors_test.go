package enroll_test

import (
	"encoding/base32"
	"errors"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/keyhall/keyhall/authn"
	"github.com/keyhall/keyhall/enroll"
)

func TestTOTPAndRecoveryCodes(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	anna, rita := f.user(t, "anna"), f.user(t, "rita", "rat")
	inv, err := f.svc.Issue(ctx, anna.ID, 0, "cli:root", "")
	must(t, err)
	pr, err := f.svc.Redeem(ctx, enroll.Redemption{Token: token(inv.Link)})
	must(t, err)
	_, pr, err = f.svc.NewRecoveryCodes(ctx, pr.ID)
	wantReason(t, "recovery codes before a factor", err, enroll.ReasonNoFactor)

	setup, pr, err := f.svc.BeginTOTP(ctx, pr.ID)
	must(t, err)
	secret, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(strings.ReplaceAll(setup.Secret, "-", ""))
	if err != nil || len(secret) < 20 || !strings.HasPrefix(setup.URI, "otpauth://totp/") || string(setup.QRPNG[1:4]) != "PNG" {
		t.Fatalf("setup %q %q (%d bytes of PNG): %v", setup.Secret, setup.URI, len(setup.QRPNG), err)
	}
	right, err := authn.TOTPCode(secret, f.clock.now())
	must(t, err)
	wrong := "000000"
	if right == wrong {
		wrong = "111111"
	}
	pr, err = f.svc.ConfirmTOTP(ctx, pr.ID, wrong, "")
	wantReason(t, "wrong app code", err, enroll.ReasonWrongCode)
	creds, err := f.store.ListCredentials(ctx, anna.ID)
	must(t, err)
	if len(creds) != 0 || pr.Consumed {
		t.Fatalf("a wrong code left %d credentials, consumed=%v", len(creds), pr.Consumed)
	}
	// One name everywhere: the app's entry is "Keyhall", as the sign-in
	// page and the letter say, even where the relying party is named
	// otherwise.
	if u, err := url.Parse(setup.URI); err != nil || u.Query().Get("issuer") != enroll.TOTPIssuer ||
		!strings.HasPrefix(u.Path, "/"+enroll.TOTPIssuer+":") {
		t.Errorf("the app's entry: %q, want issuer %s", setup.URI, enroll.TOTPIssuer)
	}
	shown, pr, err := f.svc.ShowTOTP(ctx, pr.ID)
	must(t, err)
	if shown.Secret != setup.Secret || shown.URI != setup.URI {
		t.Errorf("after a wrong code the setup shows %q, want the same %q", shown.Secret, setup.Secret)
	}
	pr, err = f.svc.ConfirmTOTP(ctx, pr.ID, right[:3]+" "+right[3:], "Handy")
	must(t, err)
	creds, err = f.store.ListCredentials(ctx, anna.ID)
	must(t, err)
	if len(creds) != 1 || creds[0].Kind != authn.KindTOTP || !pr.Consumed || creds[0].LastStep != authn.TOTPStep(f.clock.now()) {
		t.Fatalf("after confirming: %+v, %+v", creds, pr)
	}
	if got, err := authn.Open([32]byte{1, 2, 3}, creds[0].SecretSealed, []byte(creds[0].ID)); err != nil || string(got) != string(secret) {
		t.Errorf("stored secret does not open to the one shown: %v", err)
	}
	// An app needs the password after it: no codes before she chose one,
	// and a password of her choosing only if it is long and not common.
	_, pr, err = f.svc.NewRecoveryCodes(ctx, pr.ID)
	wantReason(t, "codes before the password", err, enroll.ReasonPasswordNeeded)
	if !pr.Offer.SetPassword || pr.Offer.RecoveryCodes {
		t.Errorf("offer without a password: %+v", pr.Offer)
	}
	for _, weak := range []string{"kurz", "elf Zeichen", "passwordpassword", "Password1234"} {
		pr, err = f.svc.SetPassword(ctx, pr.ID, weak, authn.ClientInfo{})
		wantReason(t, "password "+weak, err, enroll.ReasonPasswordWeak)
	}
	if _, err := f.store.GetPasswordHash(ctx, anna.ID); !errors.Is(err, authn.ErrNotFound) {
		t.Fatalf("a refused password was stored: %v", err)
	}
	pr, err = f.svc.SetPassword(ctx, pr.ID, "Rathaus am Prinzipalmarkt", authn.ClientInfo{})
	must(t, err)
	if !pr.Offer.Password.Has || pr.Offer.SetPassword || !pr.Offer.RecoveryCodes {
		t.Errorf("offer after setting the password: %+v", pr.Offer)
	}
	phc, err := f.store.GetPasswordHash(ctx, anna.ID)
	must(t, err)
	if ok, _, err := authn.CheckPasswordHash(phc, "Rathaus am Prinzipalmarkt", cheapArgon2); !ok || err != nil || !strings.HasPrefix(phc, "$argon2id$") {
		t.Errorf("stored hash %q does not check: %t, %v", phc, ok, err)
	}
	pr, err = f.svc.SetPassword(ctx, pr.ID, "noch ein langes Passwort", authn.ClientInfo{})
	wantReason(t, "a second password in the enrollment", err, enroll.ReasonScope)
	codes, pr, err := f.svc.NewRecoveryCodes(ctx, pr.ID)
	must(t, err)
	// Her first codes are stored at once (she has none a late confirmation
	// could leave in place); codes that replace others wait for her word
	// (TestBrowserOneTimePagesSelfService, TestReplacedCodesWaitForHerWord).
	if n, err := f.store.CountRecoveryCodes(ctx, anna.ID); err != nil || len(codes) != 10 || n != 10 {
		t.Errorf("%d codes shown, %d stored (%v) before she confirmed her first ones, want 10 at once", len(codes), n, err)
	}
	again, pr, err := f.svc.ShowRecoveryCodes(ctx, pr.ID)
	must(t, err)
	if strings.Join(again, " ") != strings.Join(codes, " ") {
		t.Errorf("shown again: %q, want the same %q", again, codes)
	}
	_, err = f.svc.KeepRecoveryCodes(ctx, pr.ID)
	must(t, err)
	if n, err := f.store.CountRecoveryCodes(ctx, anna.ID); err != nil || n != 10 {
		t.Errorf("%d codes stored (%v) after she confirmed them", n, err)
	}
	must(t, f.store.UseRecoveryCode(ctx, anna.ID, authn.HashRecoveryCode(strings.ToLower(codes[3])), f.clock.now(),
		authn.AuditEvent{Time: f.clock.now(), Actor: "test", Action: "recovery_code.use"}))

	rinv, err := f.svc.Issue(ctx, rita.ID, 0, "cli:root", "")
	must(t, err)
	rpr, err := f.svc.Redeem(ctx, enroll.Redemption{Token: token(rinv.Link)})
	must(t, err)
	_, _, err = f.svc.BeginTOTP(ctx, rpr.ID)
	wantReason(t, "app for rat", err, enroll.ReasonTOTPForbidden)
}

func TestResetAndRevoke(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	anna := f.withPassword(t, f.user(t, "anna")) // codes need a password after them
	inv, err := f.svc.Issue(ctx, anna.ID, 0, "cli:root", "")
	must(t, err)
	pr, err := f.svc.Redeem(ctx, enroll.Redemption{Token: token(inv.Link)})
	must(t, err)
	first, pr, err := f.register(t, pr.ID, keyReg{fmt: "none"})
	must(t, err)
	_, pr, err = f.register(t, pr.ID, keyReg{fmt: "none"})
	must(t, err)
	_, pr, err = f.svc.NewRecoveryCodes(ctx, pr.ID)
	must(t, err)
	_, err = f.svc.KeepRecoveryCodes(ctx, pr.ID)
	must(t, err)
	now := f.clock.now()
	must(t, f.store.CreateSession(ctx, authn.Session{Hash: authn.HashSessionID([]byte("s1")), UserID: anna.ID,
		AuthTime: now, CreatedAt: now, LastSeenAt: now, ExpiresAt: now.Add(time.Hour)}))

	err = f.svc.RevokeCredential(ctx, anna.ID, first.Credential.ID, "cli:helpdesk", "")
	if err == nil {
		t.Fatal("RevokeCredential without a reason succeeded")
	}
	must(t, f.svc.RevokeCredential(ctx, anna.ID, first.Credential.ID, "cli:helpdesk", "Schlüssel verloren"))
	if creds, err := f.store.ListCredentials(ctx, anna.ID); err != nil || len(creds) != 1 {
		t.Fatalf("%d credentials after revoking one of two (read: %v)", len(creds), err)
	}

	newInv, rep, err := f.svc.Reset(ctx, anna.ID, 0, "cli:helpdesk", "Tasche gestohlen, Identität am Telefon geprüft")
	must(t, err)
	if rep.Keys != 1 || rep.RecoveryCodes != 10 || rep.Sessions != 1 || rep.Apps != 0 {
		t.Errorf("report %+v", rep)
	}
	creds, err := f.store.ListCredentials(ctx, anna.ID)
	must(t, err)
	if len(creds) != 0 {
		t.Errorf("%d credentials after reset", len(creds))
	}
	s, err := f.store.GetSession(ctx, authn.HashSessionID([]byte("s1")))
	must(t, err)
	if s.RevokedAt.IsZero() {
		t.Error("session not revoked by reset")
	}
	events, err := f.store.ListAudit(ctx, authn.AuditFilter{Subject: "user:" + anna.ID, Limit: 100})
	must(t, err)
	var resets []authn.AuditEvent
	for _, e := range events {
		if e.Action == "user.reset" {
			resets = append(resets, e)
		}
	}
	if len(resets) != 1 || resets[0].Actor != "cli:helpdesk" || resets[0].Reason == "" ||
		resets[0].Details["revoked_keys"] != "1" || resets[0].Details["revoked_sessions"] != "1" {
		t.Fatalf("reset audit events: %+v", resets)
	}
	_, err = f.svc.Redeem(ctx, enroll.Redemption{Token: token(inv.Link)})
	wantReason(t, "old link after reset", err, enroll.ReasonUsed)
	_, err = f.svc.Redeem(ctx, enroll.Redemption{Username: "anna", Code: newInv.Code})
	must(t, err)
}

// TestReplacedCodesWaitForHerWord: new codes that would replace codes she
// still has wait for her word, and her old ones work until then; her first
// codes are stored when shown, so a confirmation that comes too late (the
// enrollment ended) leaves them stored.
func TestReplacedCodesWaitForHerWord(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	anna := f.withPassword(t, f.user(t, "anna"))
	_, pr, err := f.register(t, f.redeemOn(t, f.svc, anna).ID, keyReg{fmt: "none"})
	must(t, err)
	first, pr, err := f.svc.NewRecoveryCodes(ctx, pr.ID)
	must(t, err)
	f.clock.add(enroll.IdleTTL + time.Minute) // she prints them, and comes back late
	if _, err := f.svc.KeepRecoveryCodes(ctx, pr.ID); err == nil {
		t.Fatal("confirmed after the enrollment ended")
	}
	if n, err := f.store.CountRecoveryCodes(ctx, anna.ID); err != nil || n != len(first) {
		t.Fatalf("her first codes after a late confirmation: %d stored (%v), want %d", n, err, len(first))
	}

	// Later, signed in with her key, she asks for new ones.
	pr, err = f.svc.Open(ctx, f.session(t, anna, authn.LevelPhr, false), authn.ScopeRecoveryCodes)
	must(t, err)
	second, pr, err := f.svc.NewRecoveryCodes(ctx, pr.ID)
	must(t, err)
	old := authn.HashRecoveryCode(strings.ToLower(first[0]))
	if ok, err := f.store.HasRecoveryCode(ctx, anna.ID, old); err != nil || !ok {
		t.Fatalf("her old code before she confirmed the new ones: %t, %v; want valid", ok, err)
	}
	_, err = f.svc.KeepRecoveryCodes(ctx, pr.ID)
	must(t, err)
	if ok, err := f.store.HasRecoveryCode(ctx, anna.ID, old); err != nil || ok {
		t.Errorf("her old code after she confirmed the new ones: %t, %v; want void", ok, err)
	}
	if ok, err := f.store.HasRecoveryCode(ctx, anna.ID, authn.HashRecoveryCode(strings.ToLower(second[0]))); err != nil || !ok {
		t.Errorf("a new code after she confirmed: %t, %v; want valid", ok, err)
	}
}
