package web

import (
	"crypto/rand"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/keyhall/keyhall/authn"
)

var continueRE = regexp.MustCompile(`id="recover-pending-continue" href="([^"]*)"`)

// TestRecoverPendingAtToolSignIn (#15): a citizen whose account is being
// recovered by e-mail signs in for a tool (OIDC authorization, sign-in,
// back to the tool): after the sign-in she is told of the recovery first,
// and may cancel it or go on to the tool. The way on keeps the return
// address checks; the cancel needs a fresh sign-in and a same-site POST.
func TestRecoverPendingAtToolSignIn(t *testing.T) {
	const portalCB = "https://portal.stadt.example/callback"
	f, mb, clk := recoverFixture(t, func(c *Config) {
		c.OIDC = OIDCConfig{Clients: []OIDCClient{{ID: "portal", Name: "Stadtportal", Native: true, RedirectURIs: []string{portalCB},
			Groups: []string{"buerger"}}}}
		rand.Read(c.OIDC.CryptoKey[:])
		c.OIDC.EncryptionKey = c.SignIn.EncryptionKey
		c.ForwardAuth = ForwardAuthConfig{CookieDomain: "stadt.example", Rules: []ForwardAuthRule{{Host: "wiki.stadt.example"}}}
	})
	anna := f.addCitizen("anna@example.org", true, "buerger")
	secret := f.addTOTP(anna)
	asker := f.client() // the one with her mailbox
	f.askRecovery(asker, "anna@example.org")
	_, mails := mb.wait(1)
	if len(mails) != 1 {
		t.Fatalf("%d mails", len(mails))
	}
	if res, body := asker.form(strings.TrimPrefix(recoverLinkRE.FindString(mails[0]), f.base), url.Values{}); res.StatusCode != http.StatusOK {
		t.Fatalf("start the recovery: %d\n%s", res.StatusCode, body)
	}

	// Anna opens the portal: authorization, sign-in with her app.
	c := f.client()
	auth := oidcAuthorizePath + "?" + url.Values{"client_id": {"portal"}, "response_type": {"code"}, "scope": {"openid"},
		"redirect_uri": {portalCB}, "state": {"st4te"}, "code_challenge": {"E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"},
		"code_challenge_method": {"S256"}}.Encode()
	res, _ := c.get(auth)
	if loc := res.Header.Get("Location"); strings.HasPrefix(loc, oidcContinuePath) {
		res, _ = c.get(loc)
	}
	login, _ := url.Parse(res.Header.Get("Location"))
	if login.Path != "/login" {
		t.Fatalf("authorize without a session: %d to %q, want /login", res.StatusCode, res.Header.Get("Location"))
	}
	toTool := login.Query().Get("return_to")
	res, body := c.form("/login", url.Values{"username": {"anna@example.org"}, "return_to": {toTool}})
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/login/totp" {
		t.Fatalf("POST /login: %d to %q\n%s", res.StatusCode, res.Header.Get("Location"), body)
	}
	res, body = c.form("/login/totp", url.Values{"code": {totpCode(t, secret)}})
	want := recoverPendingPath + "?return_to=" + url.QueryEscape(toTool)
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != want {
		t.Fatalf("signed in: %d to %q, want the page about her recovery %q first\n%s", res.StatusCode, res.Header.Get("Location"), want, body)
	}
	res, body = c.get(want)
	if res.StatusCode != http.StatusOK || !strings.Contains(body, "Ihr Konto wird gerade wiederhergestellt") ||
		!strings.Contains(body, "Wenn Sie das nicht waren") || !strings.Contains(body, `action="/recover/pending/cancel"`) {
		t.Fatalf("the page about her recovery: %d\n%s", res.StatusCode, body)
	}
	m := continueRE.FindStringSubmatch(body)
	if m == nil || html.UnescapeString(m[1]) != toTool {
		t.Fatalf("the way on is %v, want %q", m, toTool)
	}
	res, _ = c.get(toTool)
	if loc := res.Header.Get("Location"); res.StatusCode != http.StatusFound || !strings.HasPrefix(loc, portalCB+"?code=") {
		t.Fatalf("on to the tool: %d to %q, want the portal with a code", res.StatusCode, loc)
	}

	// The way on is checked as at sign-in: a tool behind forward-auth,
	// and no other site.
	if _, body := c.get(recoverPendingPath + "?return_to=" + url.QueryEscape("https://wiki.stadt.example/seite")); !strings.Contains(body,
		`id="recover-pending-continue" href="https://wiki.stadt.example/seite"`) {
		t.Errorf("the way on to a forward-auth tool is lost:\n%s", body)
	}
	for _, bad := range []string{"https://evil.example/", "//evil.example/", "/\\evil.example", "https://wiki.stadt.example.evil.example/"} {
		_, body := c.get(recoverPendingPath + "?return_to=" + url.QueryEscape(bad))
		if m := continueRE.FindStringSubmatch(body); m == nil || m[1] != defaultReturnTo {
			t.Errorf("return_to %q: the way on is %v, want %s", bad, m, defaultReturnTo)
		}
	}

	// The cancel: refused cross-site, and with a sign-in that is not fresh.
	req, _ := http.NewRequest("POST", f.base+recoverPendingPath+"/cancel", strings.NewReader("return_to=%2Faccount"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Sec-Fetch-Site", "cross-site")
	req.Header.Set("Origin", "https://evil.example")
	req.AddCookie(&http.Cookie{Name: SessionCookie, Value: c.cookies[SessionCookie]})
	if res, err := http.DefaultTransport.RoundTrip(req); err != nil || res.StatusCode != http.StatusForbidden {
		t.Errorf("cross-site cancel: %v, %v; want 403", res, err)
	}
	stale := f.browser(f.sessionCookie(anna, time.Now().Add(-time.Hour), false))
	if res, _ := stale.form(recoverPendingPath+"/cancel", url.Values{"return_to": {toTool}}); res.StatusCode != http.StatusSeeOther ||
		!strings.HasPrefix(res.Header.Get("Location"), "/login?return_to=") {
		t.Errorf("cancel with an old sign-in: %d to %q, want to sign in again", res.StatusCode, res.Header.Get("Location"))
	}
	if _, ok, err := f.srv.Citizens().PendingRecovery(t.Context(), anna.ID); err != nil || !ok {
		t.Fatalf("a refused cancel ended the recovery: %v, %v", ok, err)
	}
	res, body = c.form(recoverPendingPath+"/cancel", url.Values{"return_to": {toTool}})
	if res.StatusCode != http.StatusOK || !strings.Contains(body, msgRecoverCancelled.DE) {
		t.Fatalf("cancel: %d\n%s", res.StatusCode, body)
	}
	// The cancel ended her session too (a thief's would end alike): the
	// way on is to sign in again, and then to the tool.
	if m := continueRE.FindStringSubmatch(body); m == nil || html.UnescapeString(m[1]) != "/login?return_to="+url.QueryEscape(toTool) {
		t.Errorf("after the cancel the way on is %v, want to sign in again for %q", m, toTool)
	}
	if res, _ := c.get("/account"); res.StatusCode == http.StatusOK {
		t.Errorf("her session outlives the cancel")
	}
	if _, ok, err := f.srv.Citizens().PendingRecovery(t.Context(), anna.ID); err != nil || ok {
		t.Errorf("after the cancel the recovery is pending: %v, %v", ok, err)
	}
	// Without a pending recovery the page leads straight on.
	res, body = c.form("/login", url.Values{"username": {"anna@example.org"}, "return_to": {toTool}})
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/login/totp" {
		t.Fatalf("POST /login again: %d to %q\n%s", res.StatusCode, res.Header.Get("Location"), body)
	}
	clk.Add(30 * time.Second) // the next code: the first was used
	code, err := authn.TOTPCode(secret, clk.Now())
	if err != nil {
		t.Fatal(err)
	}
	if res, body := c.form("/login/totp", url.Values{"code": {code}}); res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != toTool {
		t.Fatalf("signed in again: %d to %q, want on to the tool\n%s", res.StatusCode, res.Header.Get("Location"), body)
	}
	if res, _ := c.get(want); res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != toTool {
		t.Errorf("the page without a recovery: %d to %q, want on to %q", res.StatusCode, res.Header.Get("Location"), toTool)
	}
}
