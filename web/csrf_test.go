package web

import (
	"crypto/rand"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestCrossOrigin holds the cross-origin protection to what each kind of
// browser sends: Sec-Fetch-Site where browsers have it (since 2023), the
// Origin against the Host where they do not, the public URL's origin when
// a proxy changed the Host, and the routes that must take requests from
// anywhere (forward-auth, the OIDC routes tools call) and only those.
func TestCrossOrigin(t *testing.T) {
	var k1, k2 [32]byte
	rand.Read(k1[:])
	rand.Read(k2[:])
	_, sum := NewOIDCClientSecret()
	f := newFixture(t, func(c *Config) {
		c.ForwardAuth = ForwardAuthConfig{Rules: []ForwardAuthRule{{Host: "wiki.stadt.example"}}}
		c.OIDC = OIDCConfig{CryptoKey: k1, EncryptionKey: k2,
			Clients: []OIDCClient{{ID: "wiki", SecretSHA256: sum[:], RedirectURIs: []string{wikiRedirect}}}}
	})
	public := f.base                              // http://localhost:PORT, the public URL
	host := strings.TrimPrefix(public, "http://") // the Host a browser sends it
	const evil = "https://evil.example"
	tests := []struct {
		name, method, path string
		host               string // the Host header; the public URL's when empty
		site, origin       string // Sec-Fetch-Site and Origin, not sent when empty
		refused            bool
	}{
		// Sec-Fetch-Site decides where it is sent.
		{"cross-site", "POST", "/logout", "", "cross-site", evil, true},
		{"cross-site without Origin", "POST", "/logout", "", "cross-site", "", true},
		{"same-site: a tool on another subdomain", "POST", "/logout", "", "same-site", "https://wiki.stadt.example", true},
		{"same-origin", "POST", "/logout", "", "same-origin", public, false},
		{"none: typed or bookmarked", "POST", "/logout", "", "none", "", false},
		{"cross-site PUT", "PUT", "/logout", "", "cross-site", evil, true},
		{"cross-site DELETE", "DELETE", "/account/sessions/revoke", "", "cross-site", evil, true},
		{"cross-site, another form", "POST", "/account/factors/remove", "", "cross-site", evil, true},
		{"cross-site sign-in step", "POST", "/login/password", "", "cross-site", evil, true},
		{"cross-site GET is a navigation", "GET", "/account", "", "cross-site", evil, false},
		{"cross-site HEAD", "HEAD", "/login", "", "cross-site", evil, false},
		// Without Sec-Fetch-Site (older browsers): the Origin against the Host.
		{"old browser, same origin", "POST", "/logout", "", "", public, false},
		{"old browser, other origin", "POST", "/logout", "", "", evil, true},
		{"old browser, a sibling subdomain", "POST", "/logout", "", "", "https://wiki.stadt.example", true},
		{"old browser, opaque origin", "POST", "/logout", "", "", "null", true},
		{"old browser, look-alike origin", "POST", "/logout", "", "", public + ".evil.example", true},
		{"old browser, other port", "POST", "/logout", "", "", "http://localhost:1", true},
		{"old browser, origin with user info", "POST", "/logout", "", "", "http://" + host + "@evil.example", true},
		{"no browser: neither header", "POST", "/logout", "", "", "", false},
		// Behind a proxy that sets its own Host, the public URL's origin is
		// trusted by name, and only it.
		{"proxy's Host, public origin", "POST", "/logout", "10.0.0.5:8080", "", public, false},
		{"proxy's Host, other origin", "POST", "/logout", "10.0.0.5:8080", "", evil, true},
		{"proxy's Host, origin like the Host", "POST", "/logout", "10.0.0.5:8080", "", "http://10.0.0.5:8080", false},
		// Exempt: forward-auth (any method: a proxy asks about whatever it
		// guards) and the OIDC routes tools call with their own credentials.
		{"forward-auth, cross-site POST", "POST", verifyPath, "", "cross-site", evil, false},
		{"forward-auth, cross-site DELETE", "DELETE", verifyPath, "", "cross-site", evil, false},
		{"forward-auth, old browser", "PATCH", verifyPath, "", "", evil, false},
		{"token", "POST", oidcTokenPath, "", "cross-site", evil, false},
		{"userinfo", "POST", oidcUserinfoPath, "", "cross-site", evil, false},
		{"revoke", "POST", oidcRevokePath, "", "cross-site", evil, false},
		{"end session", "POST", oidcEndSessionPath, "", "", evil, false},
		// Only those, exactly.
		{"below forward-auth", "POST", verifyPath + "/x", "", "cross-site", evil, true},
		{"token, another method", "PUT", oidcTokenPath, "", "cross-site", evil, true},
		{"below token", "POST", oidcTokenPath + "/x", "", "cross-site", evil, true},
		{"authorize is no exemption", "POST", oidcAuthorizePath, "", "cross-site", evil, true},
		{"continue is no exemption", "POST", oidcContinuePath, "", "cross-site", evil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// Both ways in: what the server serves (with its shortcut to
			// forward-auth) and its routing table.
			for _, h := range []http.Handler{f.srv, f.srv.handler} {
				req := httptest.NewRequest(tt.method, public+tt.path, strings.NewReader("x=1"))
				req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
				req.Host = host
				if tt.host != "" {
					req.Host = tt.host
				}
				if tt.site != "" {
					req.Header.Set("Sec-Fetch-Site", tt.site)
				}
				if tt.origin != "" {
					req.Header.Set("Origin", tt.origin)
				}
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, req)
				refused := rec.Code == http.StatusForbidden && strings.Contains(rec.Body.String(), msgCrossOrigin.DE)
				if refused != tt.refused {
					t.Fatalf("%s %s: %d %q; want refused %v", tt.method, tt.path, rec.Code, firstLine(rec.Body.String()), tt.refused)
				}
			}
		})
	}
}
