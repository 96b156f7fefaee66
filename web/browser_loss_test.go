package web

import (
	"context"
	"strings"
	"testing"
	"time"

	cdpwebauthn "github.com/chromedp/cdproto/webauthn"
	"github.com/chromedp/chromedp"
	"github.com/pquerna/otp/totp"

	"github.com/keyhall/keyhall/authn"
	"github.com/keyhall/keyhall/enroll"
)

// TestBrowserLostKey walks the whole loss, as a councillor added with
// `keyhall admin users add` (no password) would: the invitation, a key
// with PIN, her password, an app and the recovery codes; then the key is
// lost (its virtual authenticator removed), she signs in with a recovery
// code and her password, registers a new key, signs in with it and
// removes the lost one.
func TestBrowserLostKey(t *testing.T) {
	f := newFixture(t)
	f.withEnroll(enroll.Config{Policy: enroll.Policy{Default: enroll.DefaultKeyPolicy()}})
	anna := f.addUser("anna") // no password, like `keyhall admin users add`
	inv := f.invite(anna)
	ctx := newTab(t)
	old := addAuthenticator(t, ctx, authenticatorOpts{uv: true})

	enrollKey(t, ctx, inv.Link, "Schlüsselbund", "loss-")
	choosePassword(t, ctx, "loss-")
	run(t, ctx, "add the app", chromedp.Click(chromedp.ID("add-app")), chromedp.WaitVisible(chromedp.ID("totp-secret")))
	secret, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.getElementById("totp-secret").textContent`))
	if err != nil {
		t.Fatal(err)
	}
	code, err := totp.GenerateCode(strings.ReplaceAll(secret, "-", ""), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	run(t, ctx, "the app's code", chromedp.SendKeys(chromedp.ID("code"), code+"\r"), waitText("h1", "App eingerichtet"))
	codes := finishEnrollment(t, ctx, f, "loss-")

	// The key is lost.
	if _, err := chromedp.Call(ctx, cdpwebauthn.RemoveVirtualAuthenticator, cdpwebauthn.RemoveVirtualAuthenticatorParams{AuthenticatorID: old}); err != nil {
		t.Fatal(err)
	}
	startSignIn(t, ctx, f, "anna", "/login/key")
	run(t, ctx, "use a recovery code", chromedp.Click(chromedp.CSS(`button[value="recovery"]`)), waitPath("/login/recovery"))
	run(t, ctx, "recovery code", chromedp.SendKeys(chromedp.ID("code"), codes[0]+"\r"), waitPath("/login/password"))
	run(t, ctx, "a wrong password", chromedp.SendKeys(chromedp.ID("password"), "nicht mein Passwort\r"),
		waitText("#error", msgPasswordWrong.DE))
	if n, err := f.store.CountRecoveryCodes(context.Background(), anna.ID); err != nil || n != enroll.RecoveryCodeCount {
		t.Errorf("a wrong password used a recovery code up: %d left (read: %v)", n, err)
	}
	run(t, ctx, "password", chromedp.SendKeys(chromedp.ID("password"), testPassword+"\r"), waitPath("/account/factors"),
		waitText("#recovery-only", "Wiederherstellungscode"))
	if n, err := f.store.CountRecoveryCodes(context.Background(), anna.ID); err != nil || n != enroll.RecoveryCodeCount-1 {
		t.Errorf("after the sign-in %d recovery codes left, want %d (read: %v)", n, enroll.RecoveryCodeCount-1, err)
	}
	shot(t, ctx, "loss-recovery-session")

	// A new key, from the recovery session.
	addAuthenticator(t, ctx, authenticatorOpts{uv: true})
	run(t, ctx, "factors", chromedp.Navigate(f.base+"/account/factors"), chromedp.WaitVisible(chromedp.ID("add-key")))
	run(t, ctx, "add a key", chromedp.Click(chromedp.ID("add-key")), waitPath("/enroll/key"),
		chromedp.WaitVisible(chromedp.ID("register-key")), chromedp.SendKeys(chromedp.ID("nickname"), "Neuer Schlüssel"))
	run(t, ctx, "register the new key", chromedp.Click(chromedp.ID("register-key")), chromedp.WaitVisible(chromedp.ID("back-factors")))

	// Signed in with the new key, she removes the lost one.
	run(t, ctx, "sign out", chromedp.Navigate(f.base+"/account"), chromedp.WaitVisible(chromedp.ID("logout")),
		chromedp.Click(chromedp.ID("logout")), waitPath("/login"))
	startSignIn(t, ctx, f, "anna", "/login/key")
	run(t, ctx, "the new key with PIN", chromedp.Click(chromedp.ID("use-key")), waitPath("/account"),
		waitText("dl.facts", "Sicherheitsschlüssel mit PIN oder Fingerabdruck"))
	run(t, ctx, "factors", chromedp.Navigate(f.base+"/account/factors"), chromedp.WaitVisible(chromedp.ID("factors")))
	// "Entfernen" does not look like "Umbenennen" beside it.
	colours, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`[...document.querySelectorAll("#factors li:first-child button")].map(b => getComputedStyle(b).color + " " + getComputedStyle(b).borderColor)`))
	if err != nil || len(colours) != 2 || colours[0] == colours[1] {
		t.Errorf("rename and remove look alike: %q, %v", colours, err)
	}
	run(t, ctx, "remove the lost key", chromedp.Click(chromedp.CSS(`form[action="/account/factors/remove"] button[aria-label$=": Schlüsselbund"]`)),
		waitText("#confirm-remove", "Wirklich entfernen?"), waitText("#confirm-remove", "Schlüsselbund"))
	shot(t, ctx, "loss-confirm-remove")
	run(t, ctx, "confirm", chromedp.Click(chromedp.ID("confirm-remove-button")), waitText("#notice", msgFactorRemoved.DE))
	shot(t, ctx, "loss-done")
	creds, err := f.store.ListCredentials(context.Background(), anna.ID)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, c := range creds {
		names = append(names, string(c.Kind)+":"+c.Nickname)
	}
	if got := strings.Join(names, ", "); got != string(authn.KindTOTP)+":Authenticator-App, "+string(authn.KindWebAuthn)+":Neuer Schlüssel" {
		t.Errorf("after the loss she has %s; want her app and the new key", got)
	}
}
