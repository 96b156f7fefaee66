package web

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	cdpwebauthn "github.com/chromedp/cdproto/webauthn"
	"github.com/chromedp/chromedp"
	"github.com/pquerna/otp/totp"

	"github.com/keyhall/keyhall/authn"
	"github.com/keyhall/keyhall/enroll"
)

// enrollKey goes from the link's page to a registered key, in the tab.
func enrollKey(t *testing.T, ctx context.Context, link, nickname, shotPrefix string) {
	t.Helper()
	run(t, ctx, "invitation link", chromedp.Navigate(link), chromedp.WaitVisible(chromedp.ID("enroll-start")))
	shot(t, ctx, shotPrefix+"start")
	run(t, ctx, "begin", chromedp.Click(chromedp.ID("enroll-start")), waitText("h1", "Womit möchten Sie sich anmelden?"))
	registerKey(t, ctx, nickname, shotPrefix)
}

// registerKey goes from the choice of a factor to a registered key.
func registerKey(t *testing.T, ctx context.Context, nickname, shotPrefix string) {
	t.Helper()
	shot(t, ctx, shotPrefix+"choose")
	run(t, ctx, "choose the key", chromedp.Click(chromedp.ID("choose-key")), waitPath("/enroll/key"),
		chromedp.WaitVisible(chromedp.ID("register-key")))
	if nickname != "" {
		run(t, ctx, "nickname", chromedp.SendKeys(chromedp.ID("nickname"), nickname))
	}
	shot(t, ctx, shotPrefix+"key")
	run(t, ctx, "register the key", chromedp.Click(chromedp.ID("register-key")), chromedp.WaitVisible(chromedp.ID("added-model")))
}

// choosePassword takes the password step that follows a local person's
// first factor: a short one and two that differ are refused, then
// testPassword is saved.
func choosePassword(t *testing.T, ctx context.Context, shotPrefix string) {
	t.Helper()
	run(t, ctx, "to the password", chromedp.Click(chromedp.ID("to-password")), waitPath("/enroll/password"),
		chromedp.WaitVisible(chromedp.ID("new-password")))
	shot(t, ctx, shotPrefix+"password")
	// The browser's own minlength check would stop a short one: the
	// server's answer is what is tested here.
	run(t, ctx, "a short password", chromedp.Evaluate[chromedp.Void](`document.querySelectorAll("input[minlength]").forEach(e => e.removeAttribute("minlength"))`),
		chromedp.SendKeys(chromedp.ID("new-password"), "kurz"), chromedp.SendKeys(chromedp.ID("new-password2"), "kurz"),
		chromedp.Click(chromedp.ID("set-password")), waitText("#error", "zu kurz"))
	run(t, ctx, "two that differ", chromedp.SendKeys(chromedp.ID("new-password"), testPassword),
		chromedp.SendKeys(chromedp.ID("new-password2"), testPassword+"x"), chromedp.Click(chromedp.ID("set-password")),
		waitText("#error", msgPasswordsDiffer.DE))
	run(t, ctx, "the password", chromedp.SendKeys(chromedp.ID("new-password"), testPassword),
		chromedp.SendKeys(chromedp.ID("new-password2"), testPassword), chromedp.Click(chromedp.ID("set-password")),
		waitText("h1", "Passwort gespeichert"), chromedp.WaitVisible(chromedp.ID("to-codes")))
}

// finishEnrollment takes the recovery codes, confirms them and returns them.
func finishEnrollment(t *testing.T, ctx context.Context, f *fixture, shotPrefix string) []string {
	t.Helper()
	run(t, ctx, "recovery codes", chromedp.Click(chromedp.ID("to-codes")), chromedp.WaitVisible(chromedp.ID("recovery-codes")))
	shot(t, ctx, shotPrefix+"codes")
	codes, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`[...document.querySelectorAll("#recovery-codes code")].map(e => e.textContent)`))
	if err != nil || len(codes) != enroll.RecoveryCodeCount {
		t.Fatalf("recovery codes on the page: %q, %v", codes, err)
	}
	run(t, ctx, "confirm the codes", chromedp.Click(chromedp.ID("stored")), chromedp.Click(chromedp.ID("codes-done")),
		chromedp.WaitVisible(chromedp.ID("to-login")))
	shot(t, ctx, shotPrefix+"done")
	if cookie(t, ctx, f, EnrollCookie) != "" {
		t.Error("the enrollment cookie outlived the enrollment")
	}
	run(t, ctx, "to sign-in", chromedp.Click(chromedp.ID("to-login")), waitPath("/login"))
	return codes
}

// TestEnrollBrowserKeyThenSignIn: from the invitation link to a registered
// key, ten recovery codes, and the first sign-in with key and password.
func TestEnrollBrowserKeyThenSignIn(t *testing.T) {
	f := newFixture(t)
	f.withEnroll(enroll.Config{Policy: enroll.Policy{Default: enroll.DefaultKeyPolicy()}})
	anna := f.addUser("anna")
	f.setPassword(anna, testPassword)
	inv := f.invite(anna)
	ctx := newTab(t)
	// A key with a PIN registers; the same key on a device that does not
	// ask for the PIN signs in with key and password.
	auth := addAuthenticator(t, ctx, authenticatorOpts{uv: true})

	enrollKey(t, ctx, inv.Link, "Schlüsselbund", "enroll-")
	run(t, ctx, "the key's page", waitText("#added-nickname", "Schlüsselbund"), waitText("#added-model", "nicht bekannt"))
	shot(t, ctx, "enroll-added")
	codes := finishEnrollment(t, ctx, f, "enroll-")

	moveKeys(t, ctx, auth, addAuthenticator(t, ctx, authenticatorOpts{uv: false}))
	startSignIn(t, ctx, f, "anna", "/login/key")
	run(t, ctx, "touch the new key", chromedp.Click(chromedp.ID("use-key")), waitPath("/login/password"))
	run(t, ctx, "password", chromedp.SendKeys(chromedp.ID("password"), testPassword+"\r"), waitPath("/account"),
		waitText("dl.facts", "Sicherheitsschlüssel und Passwort"))
	run(t, ctx, "factors", chromedp.Click(chromedp.ID("manage-factors")), waitPath("/account/factors"),
		waitText("#factors", "Schlüsselbund"))
	shot(t, ctx, "enroll-account-factors")
	n, err := f.store.CountRecoveryCodes(context.Background(), anna.ID)
	if err != nil || n != len(codes) {
		t.Errorf("stored recovery codes: %d, %v", n, err)
	}
	// The link is used up: opening it again says so.
	run(t, ctx, "the link again", chromedp.Navigate(inv.Link), waitText("#error", msgEnrollLinkUsed.DE))
	shot(t, ctx, "enroll-invalid")
}

// TestEnrollBrowserApp: by username and code from the letter to an
// authenticator app, and the first sign-in with an app code and password.
func TestEnrollBrowserApp(t *testing.T) {
	f := newFixture(t)
	f.withEnroll(enroll.Config{Policy: enroll.Policy{Default: enroll.DefaultKeyPolicy()}})
	anna := f.addUser("anna")
	f.setPassword(anna, testPassword)
	inv := f.invite(anna)
	ctx := newTab(t)

	run(t, ctx, "code form", chromedp.Navigate(f.base+"/enroll"), chromedp.WaitVisible(chromedp.ID("username")),
		chromedp.SendKeys(chromedp.ID("username"), "anna"), chromedp.SendKeys(chromedp.ID("code"), inv.Code))
	shot(t, ctx, "enroll-code-form")
	run(t, ctx, "redeem", chromedp.Click(chromedp.ID("enroll-start")), chromedp.WaitVisible(chromedp.ID("choose-app")))
	run(t, ctx, "choose the app", chromedp.Click(chromedp.ID("choose-app")), chromedp.WaitVisible(chromedp.ID("totp-secret")))
	shot(t, ctx, "enroll-app")
	secret, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.getElementById("totp-secret").textContent`))
	if err != nil {
		t.Fatal(err)
	}
	secret = strings.ReplaceAll(secret, "-", "")
	qrOK, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`(() => { const i = document.getElementById("totp-qr"); return i.complete && i.naturalWidth >= 200; })()`))
	if err != nil || !qrOK {
		t.Errorf("the QR code did not load (%v)", err)
	}
	run(t, ctx, "a wrong code", chromedp.SendKeys(chromedp.ID("code"), "000000\r"), waitText("#error", "Code aus der App stimmt nicht"))
	code, err := totp.GenerateCode(secret, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	run(t, ctx, "the app's code", chromedp.SendKeys(chromedp.ID("code"), code+"\r"), waitText("h1", "App eingerichtet"))
	finishEnrollment(t, ctx, f, "enroll-app-")

	// The next time step: the step that confirmed the app is used up.
	code, err = totp.GenerateCode(secret, time.Now().Add(authn.TOTPPeriod*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	startSignIn(t, ctx, f, "anna", "/login/totp")
	run(t, ctx, "sign in with the app", chromedp.SendKeys(chromedp.ID("code"), code+"\r"), waitPath("/login/password"))
	run(t, ctx, "password", chromedp.SendKeys(chromedp.ID("password"), testPassword+"\r"), waitPath("/account"),
		waitText("dl.facts", "Authenticator-App und Passwort"))
}

// TestEnrollBrowserBootstrap: the first administrator, from the bootstrap
// link on an empty database to her key, then signing in with key and PIN.
func TestEnrollBrowserBootstrap(t *testing.T) {
	f := newFixture(t)
	f.withEnroll(enroll.Config{Policy: enroll.Policy{Default: enroll.DefaultKeyPolicy()}})
	link, _, err := enroll.Bootstrap(context.Background(), f.store, enroll.BootstrapParams{
		PublicURL: f.srv.publicURL, Username: "admin", Group: "admins", Now: time.Now()})
	if err != nil || link == "" {
		t.Fatalf("bootstrap: %q, %v", link, err)
	}
	ctx := newTab(t)
	addAuthenticator(t, ctx, authenticatorOpts{uv: true})
	enrollKey(t, ctx, link, "", "enroll-bootstrap-")
	choosePassword(t, ctx, "enroll-bootstrap-")
	finishEnrollment(t, ctx, f, "enroll-bootstrap-")
	startSignIn(t, ctx, f, "admin", "/login/key")
	run(t, ctx, "key with PIN", chromedp.Click(chromedp.ID("use-key")), waitPath("/account"),
		waitText("dl.facts", "Sicherheitsschlüssel mit PIN oder Fingerabdruck"), waitText("dl.facts", "Administrator (admin)"))
}

// TestEnrollBrowserAttestationPolicy: a group that needs a YubiKey refuses
// the virtual key's self or none attestation with the group's message;
// a person outside the group registers the same kind of key.
func TestEnrollBrowserAttestationPolicy(t *testing.T) {
	f := newFixture(t)
	f.withEnroll(enroll.Config{Policy: enroll.Policy{
		Groups:  map[string]enroll.KeyPolicy{"rat": enroll.YubiKeyPolicy()},
		Default: enroll.DefaultKeyPolicy(),
	}})
	ctx := context.Background()
	anna, bob := f.addUser("anna"), f.addUser("bob")
	rat := authn.Group{ID: authn.NewID(), Name: "rat", DisplayName: "Rat", Source: authn.SourceLocal, CreatedAt: time.Now()}
	if err := f.store.CreateGroup(ctx, rat, f.audit("group.create")); err != nil {
		t.Fatal(err)
	}
	if err := f.store.AddMember(ctx, rat.ID, anna.ID, f.audit("group.add")); err != nil {
		t.Fatal(err)
	}

	tab := newTab(t)
	addAuthenticator(t, tab, authenticatorOpts{uv: true})
	run(t, tab, "anna's link", chromedp.Navigate(f.invite(anna).Link), chromedp.WaitVisible(chromedp.ID("enroll-start")),
		chromedp.Click(chromedp.ID("enroll-start")), chromedp.WaitVisible(chromedp.ID("choose-key")))
	if n, _ := chromedp.Run(tab, chromedp.Evaluate[int](`document.querySelectorAll("#choose-app").length`)); n != 0 {
		t.Error("the app is offered to a group that admits none")
	}
	run(t, tab, "register", chromedp.Click(chromedp.ID("choose-key")), chromedp.WaitVisible(chromedp.ID("register-key")),
		chromedp.Click(chromedp.ID("register-key")),
		waitText("#error", "Ihre Gruppe „rat“ verlangt einen YubiKey (FIDO-zertifiziert)"),
		waitText("#error", "Zertifikat eines zugelassenen Herstellers"))
	shot(t, tab, "enroll-refused")
	if creds, err := f.store.ListCredentials(ctx, anna.ID); err != nil || len(creds) != 0 {
		t.Fatalf("a refused key was stored: %v, %v", creds, err)
	}

	other := newTab(t)
	addAuthenticator(t, other, authenticatorOpts{uv: true})
	enrollKey(t, other, f.invite(bob).Link, "", "")
	if creds, err := f.store.ListCredentials(ctx, bob.ID); err != nil || len(creds) != 1 {
		t.Fatalf("bob's key: %v, %v", creds, err)
	}
}

// TestEnrollBrowserRace: two browsers redeem one link and register a key
// at the same moment; exactly one key is stored, the other browser is told
// the invitation was used.
func TestEnrollBrowserRace(t *testing.T) {
	f := newFixture(t)
	f.withEnroll(enroll.Config{Policy: enroll.Policy{Default: enroll.DefaultKeyPolicy()}})
	anna := f.addUser("anna")
	link := f.invite(anna).Link
	tabs := []context.Context{newTab(t), newTab(t)}
	for _, tab := range tabs {
		addAuthenticator(t, tab, authenticatorOpts{uv: true})
		run(t, tab, "to the key page", chromedp.Navigate(link), chromedp.WaitVisible(chromedp.ID("enroll-start")),
			chromedp.Click(chromedp.ID("enroll-start")), chromedp.WaitVisible(chromedp.ID("choose-key")),
			chromedp.Click(chromedp.ID("choose-key")), chromedp.WaitVisible(chromedp.ID("register-key")))
	}
	results := make([]string, len(tabs))
	var wg sync.WaitGroup
	for i, tab := range tabs {
		wg.Go(func() {
			results[i] = registerOutcome(tab)
		})
	}
	wg.Wait()
	slicesSort := func(a, b string) (string, string) {
		if a > b {
			return b, a
		}
		return a, b
	}
	first, second := slicesSort(results[0], results[1])
	if second != "added" || !strings.Contains(first, "schon verwendet") { // "Diese …" sorts before "added"
		t.Fatalf("outcomes: %q and %q; want one key added and one refused as used", results[0], results[1])
	}
	creds, err := f.store.ListCredentials(context.Background(), anna.ID)
	if err != nil || len(creds) != 1 {
		t.Fatalf("keys stored: %d, %v; want exactly 1", len(creds), err)
	}
}

// moveKeys moves every credential from one virtual authenticator to another
// and unplugs the first.
func moveKeys(t *testing.T, ctx context.Context, from, to cdpwebauthn.AuthenticatorID) {
	t.Helper()
	res, err := chromedp.Call(ctx, cdpwebauthn.GetCredentials, cdpwebauthn.GetCredentialsParams{AuthenticatorID: from})
	if err != nil || len(res.Credentials) == 0 {
		t.Fatalf("WebAuthn.getCredentials: %d, %v", len(res.Credentials), err)
	}
	for _, c := range res.Credentials {
		if _, err := chromedp.Call(ctx, cdpwebauthn.AddCredential, cdpwebauthn.AddCredentialParams{AuthenticatorID: to,
			Credential: &cdpwebauthn.Credential{CredentialID: c.CredentialID, IsResidentCredential: c.IsResidentCredential,
				RpID: c.RpID, PrivateKey: c.PrivateKey, UserHandle: c.UserHandle, SignCount: c.SignCount}}); err != nil {
			t.Fatalf("WebAuthn.addCredential: %v", err)
		}
	}
	if _, err := chromedp.Call(ctx, cdpwebauthn.RemoveVirtualAuthenticator, cdpwebauthn.RemoveVirtualAuthenticatorParams{AuthenticatorID: from}); err != nil {
		t.Fatalf("WebAuthn.removeVirtualAuthenticator: %v", err)
	}
}

// registerOutcome presses the key button and returns "added" when the key
// was stored, else the page's error.
func registerOutcome(tab context.Context) string {
	err := chromedp.Do(tab, chromedp.Click(chromedp.ID("register-key")),
		chromedp.Func(func(ctx context.Context, tt *chromedp.Target) error {
			for ctx.Err() == nil {
				time.Sleep(50 * time.Millisecond)
				got, err := chromedp.Evaluate[string](`document.getElementById("added") ? "added" :
					((document.getElementById("error") || {}).innerText || "")`)(ctx, tt)
				if err == nil && got != "" {
					return nil
				}
			}
			return ctx.Err()
		}))
	if err != nil {
		return fmt.Sprintf("error: %v", err)
	}
	out, err := chromedp.Run(tab, chromedp.Evaluate[string](`document.getElementById("added") ? "added" : document.getElementById("error").innerText`))
	if err != nil {
		return fmt.Sprintf("error: %v", err)
	}
	return out
}
