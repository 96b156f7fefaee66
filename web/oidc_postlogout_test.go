package web

import (
	"net/url"
	"testing"
)

// TestOIDCNativePostLogoutLoopback: a native app registers the
// post-logout address http://127.0.0.1/bye. After RP-initiated logout the
// browser goes there on any port (RFC 8252 §7.3, as for redirect URIs),
// but not to another scheme, loopback address, localhost or path.
func TestOIDCNativePostLogoutLoopback(t *testing.T) {
	e := newOIDCEnv(t, func(c *OIDCConfig) {
		c.Clients[1].PostLogoutRedirectURIs = []string{"http://127.0.0.1/bye"}
	})
	b := newBrowser(t)
	for _, tc := range []struct {
		uri string
		ok  bool
	}{
		{"http://127.0.0.1/bye", true},
		{"http://127.0.0.1:51234/bye", true},
		{"https://127.0.0.1/bye", false},
		{"https://localhost:4443/bye", false},
		{"http://localhost/bye", false},
		{"http://127.9.9.9:1/bye", false},
		{"http://[::1]:1/bye", false},
		{"http://127.0.0.1:51234/other", false},
		{"http://127.0.0.1:51234/bye?x=1", false},
	} {
		status, loc := b.get(e.issuer, oidcEndSessionPath+"?client_id=app&post_logout_redirect_uri="+url.QueryEscape(tc.uri))
		if sent := status == 302 && loc == tc.uri; sent != tc.ok {
			t.Errorf("end_session with post_logout_redirect_uri %s: %d to %q; want sent there: %v", tc.uri, status, loc, tc.ok)
		}
	}
	// A web client's addresses are compared exactly, as before.
	for _, tc := range []struct {
		uri string
		ok  bool
	}{{"https://wiki.example/bye", true}, {"https://wiki.example:8443/bye", false}} {
		status, loc := b.get(e.issuer, oidcEndSessionPath+"?client_id=wiki&post_logout_redirect_uri="+url.QueryEscape(tc.uri))
		if sent := status == 302 && loc == tc.uri; sent != tc.ok {
			t.Errorf("wiki: end_session with post_logout_redirect_uri %s: %d to %q; want sent there: %v", tc.uri, status, loc, tc.ok)
		}
	}
}
