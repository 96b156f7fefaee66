package web

import (
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/keyhall/keyhall/authn"
)

// FuzzRedirectAllowed: a web client's redirect URI must equal a registered
// one; a native client's may differ from a registered loopback IP URI in
// its port only (RFC 8252 §7.3).
func FuzzRedirectAllowed(f *testing.F) {
	for _, s := range []string{"https://wiki.example/callback", "https://wiki.example/callback/", "http://127.0.0.1:5000/cb",
		"http://[::1]:80/cb", "http://localhost:5000/cb", "http://127.0.0.1@evil/cb", "de.stadt.app:/cb", "http://127.0.0.1:5000/cb?x#y"} {
		f.Add(s)
	}
	web := &oidcClient{c: OIDCClient{RedirectURIs: []string{"https://wiki.example/callback"}}}
	native := &oidcClient{c: OIDCClient{Native: true, RedirectURIs: []string{"http://127.0.0.1/cb", "http://[::1]/cb", "de.stadt.app:/cb"}}}
	f.Fuzz(func(t *testing.T, uri string) {
		if web.redirectAllowed(uri) != slices.Contains(web.c.RedirectURIs, uri) {
			t.Fatalf("web client: redirectAllowed(%q) differs from exact comparison", uri)
		}
		if !native.redirectAllowed(uri) || slices.Contains(native.c.RedirectURIs, uri) {
			return
		}
		u, err := url.Parse(uri)
		if err != nil || u.Scheme != "http" || u.User != nil || (u.Hostname() != "127.0.0.1" && u.Hostname() != "::1") ||
			(u.Path != "/cb" && u.EscapedPath() != "/cb") || u.RawQuery != "" || u.Fragment != "" || strings.Contains(u.Host, "@") {
			t.Fatalf("native client: %q allowed, but it is no registered loopback URI with another port", uri)
		}
	})
}

// FuzzRequiredLevel: acr_values never lower the client's level and give
// only known levels.
func FuzzRequiredLevel(f *testing.F) {
	f.Add("phr", "mfa")
	f.Add("phrh phr urn:x", "")
	f.Add("", "phrh")
	f.Fuzz(func(t *testing.T, acr, client string) {
		switch authn.Level(client) {
		case authn.LevelNone, authn.LevelMFA, authn.LevelPhr, authn.LevelPhrh:
		default:
			return // refused by OIDCConfig.Validate
		}
		c := &oidcClient{c: OIDCClient{Level: authn.Level(client)}}
		got := requiredLevel(c, strings.Fields(acr))
		if !got.Meets(c.c.Level) {
			t.Fatalf("requiredLevel(%q) = %q, below the client's %q", acr, got, client)
		}
		switch got {
		case authn.LevelNone, authn.LevelMFA, authn.LevelPhr, authn.LevelPhrh:
		default:
			t.Fatalf("requiredLevel(%q) = unknown level %q", acr, got)
		}
	})
}
