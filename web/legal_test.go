package web

import (
	"crypto/rand"
	"fmt"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/keyhall/keyhall/authn"
)

// testLegal are a city's legal pages, as legal.* configures them.
var testLegal = LegalLinks{ImprintURL: "https://www.stadt.example/impressum", PrivacyURL: "https://www.stadt.example/datenschutz?x=1&y=2"}

func withLegal(c *Config) { c.Legal = testLegal }

// withOIDCClient adds one OIDC client, so that the provider's pages are there.
func withOIDCClient(c *Config) {
	var k1, k2 [32]byte
	rand.Read(k1[:])
	rand.Read(k2[:])
	_, sum := NewOIDCClientSecret()
	c.OIDC = OIDCConfig{CryptoKey: k1, EncryptionKey: k2,
		Clients: []OIDCClient{{ID: "wiki", SecretSHA256: sum[:], RedirectURIs: []string{"https://wiki.stadt.example/cb"}}}}
}

// legalLinksMissing says what of the footer's two links body lacks, ""
// when both are there, with their words in either language.
func legalLinksMissing(body string) string {
	var missing []string
	for _, l := range []struct{ id, href, de, en string }{
		{"legal-imprint", testLegal.ImprintURL, "Impressum", "Imprint"},
		{"legal-privacy", strings.ReplaceAll(testLegal.PrivacyURL, "&", "&amp;"), "Datenschutz", "Privacy"},
	} {
		a := fmt.Sprintf(`<a id="%s" href="%s">`, l.id, l.href)
		i := strings.Index(body, a)
		if i < 0 || !strings.Contains(body[:i], `<footer class="legal">`) {
			missing = append(missing, l.de)
			continue
		}
		if text := body[i+len(a):]; !strings.HasPrefix(text, l.de) && !strings.HasPrefix(text, l.en) {
			missing = append(missing, l.de+" (text)")
		}
	}
	return strings.Join(missing, ", ")
}

// TestLegalLinksServed: with legal.* set, the pages the server answers,
// as a browser gets them — sign-in, enrollment, an error, a page that
// does not exist, her account, the console, an OIDC request that is
// refused — carry the links to the city's imprint and privacy notice.
// (TestPagesRender checks every page template the server has.)
func TestLegalLinksServed(t *testing.T) {
	c := newConsole(t, withLegal, withOIDCClient)
	f := c.f
	anna := f.addUser("anna")
	signedIn := f.client()
	signedIn.cookies[SessionCookie] = f.sessionCookie(anna, f.srv.now(), false).Value
	admin := c.as(c.adam, authn.LevelPhrh, 0)
	for _, p := range []struct {
		cl     *client
		method string
		path   string
		status int
	}{
		{f.client(), "GET", "/login", 200},
		{f.client(), "GET", "/login?lang=en", 200},
		{f.client(), "GET", "/enroll", 200},
		{f.client(), "GET", "/enroll/not-a-token", 0},
		{f.client(), "GET", "/gibt-es-nicht", 404},
		{f.client(), "POST", "/login", 0}, // no form, no CSRF token: an error page
		{f.client(), "GET", "/freeze/not-a-token", 0},
		{f.client(), "GET", "/email/confirm/not-a-token", 0},
		{f.client(), "GET", oidcAuthorizePath + "?client_id=unknown&response_type=code&scope=openid&redirect_uri=https://evil.example/", 0},
		{signedIn, "GET", "/account", 200},
		{signedIn, "GET", "/account/factors", 0},
		{admin, "GET", "/admin", 200},
		{admin, "GET", "/admin/people", 200},
		{admin, "GET", "/admin/people/" + c.renate.ID, 200},
		{admin, "GET", "/admin/audit", 200},
		{admin, "GET", "/admin/letters", 200},
	} {
		res := p.cl.do(p.method, p.path, "application/x-www-form-urlencoded", nil)
		body := readBody(t, res)
		if p.status != 0 && res.StatusCode != p.status {
			t.Errorf("%s %s: %d, want %d", p.method, p.path, res.StatusCode, p.status)
		}
		if !strings.HasPrefix(res.Header.Get("Content-Type"), "text/html") {
			if res.StatusCode/100 == 3 {
				t.Logf("%s %s: %d to %s (no page)", p.method, p.path, res.StatusCode, res.Header.Get("Location"))
				continue
			}
			t.Errorf("%s %s: %d %s, want a page", p.method, p.path, res.StatusCode, res.Header.Get("Content-Type"))
			continue
		}
		if m := legalLinksMissing(body); m != "" {
			t.Errorf("%s %s (%d): the footer lacks %s", p.method, p.path, res.StatusCode, m)
		}
	}
}

// TestLegalLinksOff: without legal.*, no footer (a council's internal
// installation needs none).
func TestLegalLinksOff(t *testing.T) {
	f := newFixture(t)
	_, body := f.client().get("/login")
	if strings.Contains(body, `class="legal"`) || !strings.Contains(body, `id="username"`) {
		t.Errorf("/login without legal.* has a footer:\n%s", body)
	}
	f = newFixture(t, func(c *Config) { c.Legal = LegalLinks{PrivacyURL: testLegal.PrivacyURL} })
	_, body = f.client().get("/login")
	if strings.Contains(body, "legal-imprint") || !strings.Contains(body, "legal-privacy") {
		t.Errorf("/login with only legal.privacy_url: %s", body)
	}
}

// TestLegalFooterAccessible: the footer passes axe-core, its links are
// targets of 44 px, and the page still fits a 320 px screen.
func TestLegalFooterAccessible(t *testing.T) {
	f := newFixture(t, withLegal)
	ctx := newTab(t)
	run(t, ctx, "login", chromedp.Navigate(f.base+"/login"), chromedp.WaitVisible(chromedp.ID("legal-privacy")))
	shot(t, ctx, "legal-footer")
	small, err := chromedp.Run(ctx, chromedp.Evaluate[string](`[...document.querySelectorAll("footer a")]
		.filter(e => e.getBoundingClientRect().height < 44).map(e => e.outerHTML).join("\n")`))
	if err != nil || small != "" {
		t.Errorf("footer links smaller than 44 px (%v):\n%s", err, small)
	}
}
