package web

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// TestStepUpStartsAtKey: a tool that needs a phishing-resistant sign-in
// (OIDC need=key/level, forward-auth acr) gets a sign-in that says so and
// starts at the key, also for a person who would otherwise start at her app.
func TestStepUpStartsAtKey(t *testing.T) {
	f := newFixture(t)
	anna := f.addUser("anna")
	f.addTOTP(anna)
	c := f.client()
	if got := c.startAt("anna"); got != "/login/totp" {
		t.Fatalf("without step-up, anna (app only) starts at %s, want /login/totp", got)
	}
	for _, q := range []string{"need=key&level=phrh", "acr=phr", "level=phrh"} {
		res, body := c.get("/login?return_to=/account&" + q)
		if res.StatusCode != http.StatusOK || !strings.Contains(body, "Sicherheitsschlüssel") ||
			!strings.Contains(body, `name="need" value="key"`) {
			t.Errorf("GET /login?%s: %d, no key notice or need field", q, res.StatusCode)
		}
	}
	res, body := c.get("/login?return_to=/account&acr=mfa")
	if res.StatusCode != http.StatusOK || strings.Contains(body, `name="need"`) {
		t.Errorf("GET /login?acr=mfa asks for a key")
	}
	res, body = c.form("/login", url.Values{"username": {"anna"}, "return_to": {"/account"}, "need": {"key"}})
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/login/key" {
		t.Errorf("step-up sign-in for anna leads to %d %s, want /login/key", res.StatusCode, res.Header.Get("Location"))
	}
}
