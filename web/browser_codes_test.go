package web

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// TestBrowserAppAndPasswordNoReplay signs in with an app code and the
// password, signs out, and tries the same code again: refused.
func TestBrowserAppAndPasswordNoReplay(t *testing.T) {
	f := newFixture(t)
	anna := f.addUser("anna")
	f.setPassword(anna, testPassword)
	secret := f.addTOTP(anna)
	ctx := newTab(t)
	code := totpCode(t, secret)
	startSignIn(t, ctx, f, "anna", "/login/totp")
	run(t, ctx, "app code", chromedp.SendKeys(chromedp.ID("code"), code+"\r"), waitPath("/login/password"))
	run(t, ctx, "password", chromedp.SendKeys(chromedp.ID("password"), testPassword+"\r"), waitPath("/account"),
		waitText("dl.facts", "Authenticator-App und Passwort"), waitText("dl.facts", "mittel: zwei Faktoren"))
	run(t, ctx, "sign out", chromedp.Click(chromedp.ID("logout")), waitPath("/login"), waitText("#notice", msgSignedOut.DE))

	startSignIn(t, ctx, f, "anna", "/login/totp")
	run(t, ctx, "the same code again", chromedp.SendKeys(chromedp.ID("code"), code+"\r"), waitPath("/login/totp"),
		waitText("#error", msgCodeReused.DE))
	if cookie(t, ctx, f, SessionCookie) != "" {
		t.Fatal("a replayed app code gave a session")
	}
}

// TestBrowserRecoveryCode switches from the key to a recovery code, which
// is followed by the password and gives a recovery-only session, which
// leads to her factors, to add a new key.
func TestBrowserRecoveryCode(t *testing.T) {
	f, ctx, anna, _ := userWithKey(t, authenticatorOpts{uv: true}, false)
	f.addRecoveryCodes(anna, "abcd-efgh-ijkl", "mnop-qrst-uvwx")
	startSignIn(t, ctx, f, "anna", "/login/key")
	run(t, ctx, "use a recovery code", chromedp.Click(chromedp.CSS(`button[value="recovery"]`)), waitPath("/login/recovery"))
	run(t, ctx, "recovery code", chromedp.SendKeys(chromedp.ID("code"), "ABCD EFGH IJKL\r"), waitPath("/login/password"))
	run(t, ctx, "password", chromedp.SendKeys(chromedp.ID("password"), testPassword+"\r"), waitPath(factorsPath),
		waitText(".warning", "Wiederherstellungscode"))
	n, err := f.store.CountRecoveryCodes(context.Background(), anna.ID)
	if err != nil || n != 1 {
		t.Errorf("unused recovery codes: %d, %v; want 1", n, err)
	}
}

// TestBrowserThrottling sends wrong app codes until Keyhall asks to wait;
// then even the right code gets the same answer.
func TestBrowserThrottling(t *testing.T) {
	f := newFixture(t)
	anna := f.addUser("anna")
	f.setPassword(anna, testPassword)
	secret := f.addTOTP(anna)
	ctx := newTab(t)
	startSignIn(t, ctx, f, "anna", "/login/totp")
	const limit = 10 // failed second-factor tries per account per 15 minutes
	for i := 1; i <= limit; i++ {
		run(t, ctx, "wrong code", chromedp.SendKeys(chromedp.ID("code"), "000000\r"),
			waitPath("/login/totp"), waitText("#error", msgCodeWrong.DE))
		run(t, ctx, "clear the page", js(`document.getElementById("error").textContent = ""`))
	}
	run(t, ctx, "one more", chromedp.SendKeys(chromedp.ID("code"), "000000\r"), waitPath("/login/totp"),
		waitText("#error", "Zu viele Versuche. Bitte warten Sie 15 Minuten oder melden Sie sich mit Ihrem Sicherheitsschlüssel an."))
	run(t, ctx, "clear the page", js(`document.getElementById("error").textContent = ""`))
	run(t, ctx, "the right code", chromedp.SendKeys(chromedp.ID("code"), totpCode(t, secret)+"\r"), waitPath("/login/totp"),
		waitText("#error", "Zu viele Versuche"))
	shot(t, ctx, "totp-throttled")
	if cookie(t, ctx, f, SessionCookie) != "" {
		t.Fatal("signed in while throttled")
	}
}

// TestBrowserReplayedAssertion captures the assertion the page would send,
// sends it once (accepted), then again with the same and with a new
// sign-in: refused both times.
func TestBrowserReplayedAssertion(t *testing.T) {
	f, ctx, _, _ := userWithKey(t, authenticatorOpts{uv: true}, false)
	startSignIn(t, ctx, f, "anna", "/login/key")
	// Keep the finish request from leaving the page; remember its body.
	run(t, ctx, "intercept", js(`(() => {
		const fetch = window.fetch;
		window.fetch = (url, opts) => {
			if (String(url).endsWith("/finish")) {
				window.keyhallCaptured = opts.body;
				return Promise.reject(new TypeError("held back by the test"));
			}
			return fetch(url, opts);
		};
	})()`), chromedp.Click(chromedp.ID("use-key")), waitText("#error", "nicht erreichbar"))
	body, err := chromedp.Run(ctx, chromedp.Evaluate[string](`window.keyhallCaptured`))
	if err != nil || body == "" {
		t.Fatalf("no assertion captured: %v", err)
	}
	c := f.client()
	c.cookies[PendingCookie] = cookie(t, ctx, f, PendingCookie)
	finish := func() (int, map[string]string) {
		res := c.do("POST", "/login/key/finish", "application/json", strings.NewReader(body))
		var out map[string]string
		json.NewDecoder(res.Body).Decode(&out)
		res.Body.Close()
		return res.StatusCode, out
	}
	if code, out := finish(); code != http.StatusOK || out["next"] != "/account" {
		t.Fatalf("the captured assertion, sent once: %d %v", code, out)
	}
	if code, out := finish(); code != http.StatusUnauthorized || out["next"] != expiredURL {
		t.Errorf("the same assertion with the used sign-in: %d %v", code, out)
	}
	c = f.client()
	c.startAt("anna")
	readBody(t, c.do("POST", "/login/key/begin", "application/json", bytes.NewReader([]byte("{}"))))
	if code, out := finish(); code != http.StatusUnauthorized || !strings.HasPrefix(out["error"], msgKeyRefused.DE) {
		t.Errorf("the same assertion with a new challenge: %d %v", code, out)
	}
}

// TestBrowserSignOutEverywhere signs in on the browser and elsewhere, then
// signs out everywhere from the account page.
func TestBrowserSignOutEverywhere(t *testing.T) {
	f, ctx, anna, _ := userWithKey(t, authenticatorOpts{uv: true}, false)
	secret := f.addTOTP(anna)
	elsewhere := f.client()
	signInWithApp(t, f, elsewhere, "anna", secret)
	startSignIn(t, ctx, f, "anna", "/login/key")
	run(t, ctx, "touch the key", chromedp.Click(chromedp.ID("use-key")), waitPath("/account"),
		chromedp.WaitVisible(chromedp.CSS(".sessions li + li")))
	run(t, ctx, "sign out everywhere", chromedp.Click(chromedp.ID("logout-everywhere")), waitPath("/login"),
		waitText("#notice", msgSignedOutEverywhere.DE))
	if res, _ := elsewhere.get("/api/session"); res.StatusCode != http.StatusUnauthorized {
		t.Errorf("the other device is still signed in: %d", res.StatusCode)
	}
	run(t, ctx, "account after sign-out", chromedp.Navigate(f.base+"/account"), waitPath("/login"))
	sessions, err := f.store.ListUserSessions(context.Background(), anna.ID, f.srv.now())
	if err != nil || len(sessions) != 0 {
		t.Errorf("sessions left: %d, %v", len(sessions), err)
	}
}

// TestBrowserLanguageSwitch follows the switch to English and back; the
// choice sticks across pages.
func TestBrowserLanguageSwitch(t *testing.T) {
	f := newFixture(t)
	ctx := newTab(t)
	run(t, ctx, "German by Accept-Language", chromedp.Navigate(f.base+"/login"), waitText("h1", "Anmelden"))
	run(t, ctx, "to English", chromedp.Click(chromedp.ID("lang-switch")), waitText("h1", "Sign in"),
		waitText("#lang-switch", "Deutsch"))
	run(t, ctx, "English sticks", chromedp.Navigate(f.base+"/login"), waitText("h1", "Sign in"))
	lang, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.documentElement.lang`))
	if err != nil || lang != "en" {
		t.Errorf("html lang = %q, %v", lang, err)
	}
	run(t, ctx, "back to German", chromedp.Click(chromedp.ID("lang-switch")), waitText("h1", "Anmelden"))
}
