package web

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"
	"github.com/pquerna/otp/totp"

	"github.com/keyhall/keyhall/authn"
	"github.com/keyhall/keyhall/enroll"
)

// pageText returns the innerText of the elements sel, one string each.
func pageTexts(t *testing.T, ctx context.Context, sel string) []string {
	t.Helper()
	out, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`[...document.querySelectorAll(`+"`"+sel+"`"+`)].map(e => e.textContent)`))
	if err != nil {
		t.Fatalf("read %s: %v", sel, err)
	}
	return out
}

// appSecret reads the app page: the secret to type (without dashes) and
// the href of the link that opens the app on the same device.
func appSecret(t *testing.T, ctx context.Context) (secret, href string) {
	t.Helper()
	s := pageTexts(t, ctx, "#totp-secret")
	if len(s) != 1 {
		t.Fatalf("no secret on the app page: %q", s)
	}
	h, err := chromedp.Run(ctx, chromedp.Evaluate[string](`(document.getElementById("totp-open") || {}).href || ""`))
	if err != nil {
		t.Fatal(err)
	}
	return strings.ReplaceAll(s[0], "-", ""), h
}

// fits320 checks that the page reflows at 320 CSS pixels (WCAG 1.4.10):
// no horizontal scroll.
func fits320(t *testing.T, ctx context.Context, what string) {
	t.Helper()
	run(t, ctx, "320 px wide", chromedp.EmulateViewport(320, 640))
	wide, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`[...document.querySelectorAll("body *")].filter(e => e.getBoundingClientRect().right > 320).map(e => e.tagName + "#" + e.id).join(" ")`))
	if w, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.scrollingElement.scrollWidth`)); err != nil || w > 320 {
		t.Errorf("%s at 320 px is %d px wide (%v); too wide: %s", what, w, err, wide)
	}
	run(t, ctx, "back to the tablet", chromedp.EmulateViewport(810, 1080))
}

func sameCodes(t *testing.T, what string, got, want []string) {
	t.Helper()
	if len(want) != enroll.RecoveryCodeCount || strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("%s: codes %q, want the same %q", what, got, want)
	}
}

// TestBrowserOneTimePagesInvitation: during an invitation, the app's QR
// page and the recovery codes survive the language switch and a wrong
// code; the app page offers an otpauth:// link; the codes page reflows at
// 320 px.
func TestBrowserOneTimePagesInvitation(t *testing.T) {
	f := newFixture(t)
	f.withEnroll(enroll.Config{Policy: enroll.Policy{Default: enroll.DefaultKeyPolicy()},
		Notices: enroll.Notices{Sender: enroll.Sender{Name: "Stadt Münster", HelpPhone: "0251 492-1234"}}})
	anna := f.addUser("anna")
	f.setPassword(anna, "annas langes Passwort") // else the enrollment asks for one before the codes (TestBrowserLostKey)
	inv := f.invite(anna)
	ctx := newTab(t)

	run(t, ctx, "code form", chromedp.Navigate(f.base+"/enroll"), chromedp.WaitVisible(chromedp.ID("username")),
		chromedp.SendKeys(chromedp.ID("username"), "anna"), chromedp.SendKeys(chromedp.ID("code"), inv.Code),
		chromedp.Click(chromedp.ID("enroll-start")), chromedp.WaitVisible(chromedp.ID("choose-app")))
	run(t, ctx, "choose the app", chromedp.Click(chromedp.ID("choose-app")), chromedp.WaitVisible(chromedp.ID("totp-secret")))
	secret, href := appSecret(t, ctx)
	if !strings.HasPrefix(href, "otpauth://totp/") || !strings.Contains(href, "secret="+secret) {
		t.Errorf("the link to open the app: %q, want otpauth://totp/… with the secret %s", href, secret)
	}
	run(t, ctx, "switch to English", chromedp.Click(chromedp.ID("lang-switch")), waitText("h1", "Set up an authenticator app"))
	if s, _ := appSecret(t, ctx); s != secret {
		t.Errorf("after the language switch the app page shows secret %q, want the same %q", s, secret)
	}
	run(t, ctx, "a wrong code", chromedp.SendKeys(chromedp.ID("code"), "000000\r"), waitText("#error", "code from the app"))
	if s, _ := appSecret(t, ctx); s != secret {
		t.Errorf("after a wrong code the app page shows secret %q, want the same %q", s, secret)
	}
	run(t, ctx, "the hint on a new QR code", waitText("#restart-hint", "stop working"))
	fits320(t, ctx, "the app page (English)")
	run(t, ctx, "switch to German", chromedp.Click(chromedp.ID("lang-switch")), waitText("h1", "Authenticator-App einrichten"))
	fits320(t, ctx, "the app page (German)")
	code, err := totp.GenerateCode(secret, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	run(t, ctx, "the app's code", chromedp.SendKeys(chromedp.ID("code"), code+"\r"), waitText("h1", "App eingerichtet"))

	run(t, ctx, "recovery codes", chromedp.Click(chromedp.ID("to-codes")), chromedp.WaitVisible(chromedp.ID("recovery-codes")))
	codes := pageTexts(t, ctx, "#recovery-codes code")
	run(t, ctx, "switch to English", chromedp.Click(chromedp.ID("lang-switch")), waitText("h1", "Your recovery codes"))
	sameCodes(t, "after the language switch", pageTexts(t, ctx, "#recovery-codes code"), codes)

	// WCAG 1.4.10, in either language.
	for _, h1 := range []string{"Ihre Wiederherstellungscodes", "Your recovery codes"} {
		run(t, ctx, "switch the language", chromedp.Click(chromedp.ID("lang-switch")), waitText("h1", h1))
		sameCodes(t, "after the language switch", pageTexts(t, ctx, "#recovery-codes code"), codes)
		fits320(t, ctx, "the codes page ("+h1+")")
	}

	// Printed, the sheet names the organisation and the date.
	if _, err := chromedp.Call(ctx, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{Media: "print"}); err != nil {
		t.Fatal(err)
	}
	run(t, ctx, "printed: organisation", waitText("#codes-sheet", "Stadt Münster"))
	run(t, ctx, "printed: date", waitText("#codes-sheet", time.Now().Format("2 Jan 2006")))
	if _, err := chromedp.Call(ctx, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{}); err != nil {
		t.Fatal(err)
	}

	// Her first codes are stored when shown: a confirmation that comes too
	// late must not leave her with a sheet that does not work.
	if n, err := f.store.CountRecoveryCodes(context.Background(), anna.ID); err != nil || n != enroll.RecoveryCodeCount {
		t.Errorf("before she confirmed her first codes: %d stored (%v), want %d", n, err, enroll.RecoveryCodeCount)
	}
	run(t, ctx, "confirm the codes", chromedp.Click(chromedp.ID("stored")), chromedp.Click(chromedp.ID("codes-done")),
		chromedp.WaitVisible(chromedp.ID("to-login")))
	if n, err := f.store.CountRecoveryCodes(context.Background(), anna.ID); err != nil || n != enroll.RecoveryCodeCount {
		t.Errorf("after she confirmed: %d recovery codes stored (%v), want %d", n, err, enroll.RecoveryCodeCount)
	}
	// The codes stored are the ones shown.
	c := f.client()
	if got := c.startAt("anna"); got != "/login/recovery" {
		c.form("/login/switch", url.Values{"to": {"recovery"}})
	}
	if res, body := c.form("/login/recovery", url.Values{"code": {codes[3]}}); res.StatusCode != http.StatusSeeOther {
		t.Errorf("a code shown on the page, at sign-in: %d %s", res.StatusCode, body)
	}
}

// TestBrowserOneTimePagesSelfService: a signed-in person's new recovery
// codes and her new app survive the language switch; her old codes stay
// valid until she confirms she stored the new ones.
func TestBrowserOneTimePagesSelfService(t *testing.T) {
	f, ctx, anna, _ := userWithKey(t, authenticatorOpts{uv: true}, false)
	f.withEnroll(enroll.Config{Policy: enroll.Policy{Default: enroll.DefaultKeyPolicy()}})
	f.addRecoveryCodes(anna, "abcd-efgh-ijkl", "mnop-qrst-uvwx")
	startSignIn(t, ctx, f, "anna", "/login/key")
	run(t, ctx, "touch the key", chromedp.Click(chromedp.ID("use-key")), waitPath("/account"))
	run(t, ctx, "factors", chromedp.Navigate(f.base+factorsPath), chromedp.WaitVisible(chromedp.ID("new-codes")))

	run(t, ctx, "new codes", chromedp.Click(chromedp.ID("new-codes")), chromedp.WaitVisible(chromedp.ID("recovery-codes")))
	codes := pageTexts(t, ctx, "#recovery-codes code")
	run(t, ctx, "switch to English", chromedp.Click(chromedp.ID("lang-switch")), waitText("h1", "Your recovery codes"))
	sameCodes(t, "after the language switch", pageTexts(t, ctx, "#recovery-codes code"), codes)
	if n, err := f.store.CountRecoveryCodes(context.Background(), anna.ID); err != nil || n != 2 {
		t.Errorf("before she confirmed the new codes: %d codes valid (%v), want her 2 old ones", n, err)
	}
	run(t, ctx, "confirm the codes", chromedp.Click(chromedp.ID("stored")), chromedp.Click(chromedp.ID("codes-done")),
		waitPath(factorsPath))
	if n, err := f.store.CountRecoveryCodes(context.Background(), anna.ID); err != nil || n != enroll.RecoveryCodeCount {
		t.Errorf("after she confirmed: %d codes valid (%v), want the %d new ones", n, err, enroll.RecoveryCodeCount)
	}

	run(t, ctx, "add an app", chromedp.WaitVisible(chromedp.ID("add-app")), chromedp.Click(chromedp.ID("add-app")),
		chromedp.WaitVisible(chromedp.ID("totp-secret")))
	secret, href := appSecret(t, ctx)
	if !strings.HasPrefix(href, "otpauth://totp/") {
		t.Errorf("the link to open the app: %q", href)
	}
	run(t, ctx, "switch to German", chromedp.Click(chromedp.ID("lang-switch")), waitText("h1", "Authenticator-App einrichten"))
	if s, _ := appSecret(t, ctx); s != secret {
		t.Errorf("after the language switch the app page shows secret %q, want the same %q", s, secret)
	}
	code, err := totp.GenerateCode(secret, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	run(t, ctx, "the app's code", chromedp.SendKeys(chromedp.ID("code"), code+"\r"), waitText("h1", "App eingerichtet"))
	creds, err := f.store.ListCredentials(context.Background(), anna.ID)
	if err != nil {
		t.Fatal(err)
	}
	apps := 0
	for _, c := range creds {
		if c.Kind == authn.KindTOTP {
			apps++
		}
	}
	if apps != 1 {
		t.Errorf("%d apps stored, want 1", apps)
	}
}

// TestBrowserAfterReset: IT resets anna while she is signed in. Her next
// request says what happened; her old key, as a passkey and after her
// username, gets the "no longer registered" message with the IT service's
// phone and e-mail, not only "press again".
func TestBrowserAfterReset(t *testing.T) {
	f, ctx, anna, _ := userWithKey(t, authenticatorOpts{uv: true}, true)
	const phone, mail = "0251 492-1234", "it-service@stadt.example"
	f.withEnroll(enroll.Config{Policy: enroll.Policy{Default: enroll.DefaultKeyPolicy()},
		Notices: enroll.Notices{Sender: enroll.Sender{Name: "Stadt Münster", HelpPhone: phone, HelpEmail: mail}}})
	startSignIn(t, ctx, f, "anna", "/login/key")
	run(t, ctx, "touch the key", chromedp.Click(chromedp.ID("use-key")), waitPath("/account"))

	if _, _, err := f.srv.store.Load().enroll.Reset(context.Background(), anna.ID, 0, "cli:helpdesk", "keys lost"); err != nil {
		t.Fatal(err)
	}
	run(t, ctx, "her next request", chromedp.Navigate(f.base+"/account"), waitPath("/login"),
		waitText("#error", msgAccountReset.DE), waitText("#error", phone))
	shot(t, ctx, "after-reset")

	run(t, ctx, "her old key as a passkey", chromedp.Click(chromedp.ID("passkey")),
		waitText("#error", "nicht mehr registriert"), waitText("#error", phone), waitText("#error", mail))

	run(t, ctx, "username", chromedp.Navigate(f.base+"/login"), chromedp.WaitVisible(chromedp.ID("username")),
		chromedp.SendKeys(chromedp.ID("username"), "anna\r"), chromedp.WaitVisible(chromedp.ID("alt-title")))
	run(t, ctx, "to the key", js(`(() => { const b = document.querySelector('button[value="key"]'); if (b) b.click(); })()`),
		waitPath("/login/key"), chromedp.WaitVisible(chromedp.ID("use-key")))
	run(t, ctx, "her old key after the username", chromedp.Click(chromedp.ID("use-key")),
		waitText("#error", "nicht mehr registriert"), waitText("#error", phone))
	if s, err := f.store.ListUserSessions(context.Background(), anna.ID, f.srv.now()); err != nil || len(s) != 0 {
		t.Fatalf("sessions after the reset: %d, %v; want none", len(s), err)
	}
}
