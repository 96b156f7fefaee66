package web

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/pquerna/otp/totp"

	"github.com/keyhall/keyhall/authn"
	"github.com/keyhall/keyhall/enroll"
	"github.com/keyhall/keyhall/enroll/citizens"
)

// withCitizenPolicy gives the citizens' group its sign-in policy (no
// password; a key verifies the person), as serve does.
func withCitizenPolicy(c *Config) {
	c.SignIn.Policy.Groups = map[string]authn.GroupPolicy{"buerger": citizens.SignInPolicy(authn.GroupPolicy{}, false)}
}

// newCitizenFixture is newRegisterFixture with the citizens' policies, as
// serve sets them.
func newCitizenFixture(t *testing.T, opts ...func(*Config)) (*fixture, *mailbox) {
	t.Helper()
	f, mb := newRegisterFixture(t, append([]func(*Config){withCitizenPolicy}, opts...)...)
	cfg := f.srv.enrollCfg
	cfg.Policy.Groups = map[string]enroll.KeyPolicy{"buerger": citizens.KeyPolicy(enroll.KeyPolicy{}, false)}
	f.withEnroll(cfg)
	return f, mb
}

// registerInBrowser goes from /login to the registration form, sends it,
// and opens the mailed link in the same tab: the enrollment's choice.
func registerInBrowser(t *testing.T, ctx context.Context, f *fixture, mb *mailbox, email, prefix string) string {
	t.Helper()
	run(t, ctx, "sign-in page", chromedp.Navigate(f.base+"/login"), chromedp.WaitVisible(chromedp.ID("to-register")))
	run(t, ctx, "to the registration", chromedp.Click(chromedp.ID("to-register")), waitPath("/register"),
		chromedp.WaitVisible(chromedp.ID("email")))
	shot(t, ctx, prefix+"form")
	run(t, ctx, "register", chromedp.SendKeys(chromedp.ID("email"), email), chromedp.SendKeys(chromedp.ID("name"), "Anna Müller"),
		chromedp.Click(chromedp.ID("register-submit")), chromedp.WaitVisible(chromedp.ID("register-sent")))
	shot(t, ctx, prefix+"sent")
	link, body := registrationLink(t, mb, strings.ToLower(email))
	if link == "" {
		t.Fatalf("no link in the mail:\n%s", body)
	}
	run(t, ctx, "the link", chromedp.Navigate(f.base+link), chromedp.WaitVisible(chromedp.ID("register-confirm")))
	shot(t, ctx, prefix+"confirm")
	run(t, ctx, "confirm", chromedp.Click(chromedp.ID("register-confirm")), waitText("h1", "Womit möchten Sie sich anmelden?"))
	if strings.Contains(pageText(t, ctx), "Passwort") {
		t.Errorf("the enrollment of a citizen speaks of a password:\n%s", pageText(t, ctx))
	}
	return f.base + link
}

func pageText(t *testing.T, ctx context.Context) string {
	t.Helper()
	s, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body.innerText`))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestRegisterBrowserPasskey: a citizen registers, opens the mailed link,
// makes a (synced) passkey, takes her recovery codes and signs in with the
// passkey, no username and no password; she signs out and in again. The
// link opened in another browser, and again, gets a clear page.
func TestRegisterBrowserPasskey(t *testing.T) {
	f, mb := newCitizenFixture(t)
	ctx := newTab(t)
	addAuthenticator(t, ctx, authenticatorOpts{uv: true, synced: true})
	link := registerInBrowser(t, ctx, f, mb, "Anna.Mueller@Example.org", "register-")
	registerKey(t, ctx, "", "register-")
	if strings.Contains(pageText(t, ctx), "Passwort") {
		t.Errorf("after her passkey a citizen is asked for a password:\n%s", pageText(t, ctx))
	}
	finishEnrollment(t, ctx, f, "register-")

	u, err := f.store.GetUserByUsername(context.Background(), "anna.mueller@example.org")
	if err != nil {
		t.Fatal(err)
	}
	creds, _ := f.store.ListCredentials(context.Background(), u.ID)
	if len(creds) != 1 || !creds[0].BackupEligible {
		t.Errorf("credentials %+v, want one synced passkey", creds)
	}
	if reg, err := f.store.GetRegistration(context.Background(), u.ID); err != nil || reg.FinishedAt.IsZero() {
		t.Errorf("registration %+v, %v; want finished", reg, err)
	}
	for i := range 2 {
		run(t, ctx, "passkey sign-in", chromedp.Navigate(f.base+"/login"), chromedp.WaitVisible(chromedp.ID("passkey")),
			chromedp.Click(chromedp.ID("passkey")), waitPath("/account"), waitText("main", "Anna Müller"))
		if i == 0 {
			shot(t, ctx, "register-account")
		}
		run(t, ctx, "sign out", chromedp.Click(chromedp.ID("logout")), chromedp.WaitVisible(chromedp.ID("username")))
	}
	// The link again: used.
	run(t, ctx, "the link again", chromedp.Navigate(link), chromedp.WaitVisible(chromedp.ID("register-confirm")),
		chromedp.Click(chromedp.ID("register-confirm")), waitText("#error", "bereits verwendet"))
	shot(t, ctx, "register-link-used")
	// Another browser.
	other := newTab(t)
	run(t, other, "the link in another browser", chromedp.Navigate(link), waitText("#error", "in dem Browser, in dem Sie sich registriert haben"))
	shot(t, other, "register-other-browser")
	if n, _ := f.store.CountUsers(context.Background()); n != 1 {
		t.Errorf("%d people, want 1", n)
	}
}

// TestRegisterBrowserApp: a citizen without a passkey registers with an
// authenticator app alone, takes her recovery codes, and signs in with her
// e-mail address and the app's code, no password.
func TestRegisterBrowserApp(t *testing.T) {
	f, mb := newCitizenFixture(t)
	ctx := newTab(t)
	registerInBrowser(t, ctx, f, mb, "bert@example.org", "register-app-")
	run(t, ctx, "choose the app", chromedp.Click(chromedp.ID("choose-app")), chromedp.WaitVisible(chromedp.ID("totp-secret")))
	secret, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.getElementById("totp-secret").textContent`))
	if err != nil {
		t.Fatal(err)
	}
	secret = strings.ReplaceAll(secret, "-", "")
	code, err := totp.GenerateCode(secret, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	run(t, ctx, "the app's code", chromedp.SendKeys(chromedp.ID("code"), code+"\r"), waitText("h1", "App eingerichtet"))
	if strings.Contains(pageText(t, ctx), "Passwort") {
		t.Errorf("after her app a citizen is asked for a password:\n%s", pageText(t, ctx))
	}
	finishEnrollment(t, ctx, f, "register-app-")

	code, err = totp.GenerateCode(secret, time.Now().Add(authn.TOTPPeriod*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	startSignIn(t, ctx, f, "bert@example.org", "/login/totp")
	run(t, ctx, "sign in with the app", chromedp.SendKeys(chromedp.ID("code"), code+"\r"), waitPath("/account"))

	// Signed in with her app alone, she adds a passkey (review of #15: she
	// could not), and signs in with it from then on.
	addAuthenticator(t, ctx, authenticatorOpts{uv: true, synced: true})
	run(t, ctx, "factors", chromedp.Navigate(f.base+"/account/factors"), chromedp.WaitVisible(chromedp.ID("add-key")))
	run(t, ctx, "add a passkey", chromedp.Click(chromedp.ID("add-key")), waitPath("/enroll/key"),
		chromedp.WaitVisible(chromedp.ID("register-key")))
	run(t, ctx, "register the passkey", chromedp.Click(chromedp.ID("register-key")), chromedp.WaitVisible(chromedp.ID("back-factors")))
	run(t, ctx, "sign out", chromedp.Navigate(f.base+"/account"), chromedp.WaitVisible(chromedp.ID("logout")),
		chromedp.Click(chromedp.ID("logout")), waitPath("/login"))
	run(t, ctx, "passkey sign-in", chromedp.WaitVisible(chromedp.ID("passkey")), chromedp.Click(chromedp.ID("passkey")),
		waitPath("/account"))
}
