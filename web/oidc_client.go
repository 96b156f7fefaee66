package web

import (
	"crypto/sha256"
	"crypto/subtle"
	"net"
	"net/url"
	"slices"
	"time"

	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
)

// oidcClient is a configured OIDCClient as zitadel/oidc's op.Client.
type oidcClient struct {
	c        OIDCClient
	loginURL string
}

var _ op.Client = (*oidcClient)(nil)

func (c *oidcClient) GetID() string                    { return c.c.ID }
func (c *oidcClient) RedirectURIs() []string           { return c.c.RedirectURIs }
func (c *oidcClient) PostLogoutRedirectURIs() []string { return c.c.PostLogoutRedirectURIs }
func (c *oidcClient) LoginURL(id string) string        { return c.loginURL + url.QueryEscape(id) }
func (c *oidcClient) AccessTokenType() op.AccessTokenType {
	return op.AccessTokenTypeBearer
}
func (c *oidcClient) DevMode() bool                    { return false }
func (c *oidcClient) ClockSkew() time.Duration         { return 0 }
func (c *oidcClient) IsScopeAllowed(scope string) bool { return scope == "groups" }

// IDTokenUserinfoClaimsAssertion puts the profile and e-mail claims into the
// ID token too: many tools read them only there.
func (c *oidcClient) IDTokenUserinfoClaimsAssertion() bool { return true }

func (c *oidcClient) RestrictAdditionalIdTokenScopes() func([]string) []string {
	return func(s []string) []string { return s }
}

func (c *oidcClient) RestrictAdditionalAccessTokenScopes() func([]string) []string {
	return func(s []string) []string { return s }
}

// ApplicationType: confidential clients are web apps; a public one is a
// native app or a browser app.
func (c *oidcClient) ApplicationType() op.ApplicationType {
	switch {
	case c.c.Native:
		return op.ApplicationTypeNative
	case c.public():
		return op.ApplicationTypeUserAgent
	}
	return op.ApplicationTypeWeb
}

func (c *oidcClient) public() bool { return c.c.SecretSHA256 == nil }

func (c *oidcClient) AuthMethod() oidc.AuthMethod {
	if c.public() {
		return oidc.AuthMethodNone
	}
	return oidc.AuthMethodBasic
}

// ResponseTypes: only the authorization code flow.
func (c *oidcClient) ResponseTypes() []oidc.ResponseType {
	return []oidc.ResponseType{oidc.ResponseTypeCode}
}

func (c *oidcClient) GrantTypes() []oidc.GrantType {
	return []oidc.GrantType{oidc.GrantTypeCode, oidc.GrantTypeRefreshToken}
}

func (c *oidcClient) IDTokenLifetime() time.Duration {
	return orDefault(c.c.IDTokenLifetime, 10*time.Minute)
}
func (c *oidcClient) accessLifetime() time.Duration {
	return orDefault(c.c.AccessTokenLifetime, 10*time.Minute)
}
func (c *oidcClient) refreshLifetime() time.Duration {
	return orDefault(c.c.RefreshTokenLifetime, 8*time.Hour)
}
func orDefault(d, def time.Duration) time.Duration {
	if d <= 0 {
		return def
	}
	return d
}

// secretMatches compares the SHA-256 of secret with the configured one in
// constant time.
func (c *oidcClient) secretMatches(secret string) bool {
	if c.public() || secret == "" {
		return false
	}
	sum := sha256.Sum256([]byte(secret))
	return subtle.ConstantTimeCompare(sum[:], c.c.SecretSHA256) == 1
}

// redirectAllowed reports whether uri is one of the client's redirect URIs
// (registeredURI).
func (c *oidcClient) redirectAllowed(uri string) bool {
	return c.registeredURI(c.c.RedirectURIs, uri)
}

// postLogoutAllowed reports whether uri is one of the client's post-logout
// redirect URIs, checked as redirect URIs are (registeredURI).
// zitadel/oidc's own check (op.ValidateEndSessionPostLogoutRedirectURI)
// lets a native client's loopback address differ in scheme, host and
// port: https://localhost:4443/bye for a registered http://127.0.0.1/bye.
func (c *oidcClient) postLogoutAllowed(uri string) bool {
	return c.registeredURI(c.c.PostLogoutRedirectURIs, uri)
}

// registeredURI reports whether uri is one of registered, compared as
// strings. A native client's loopback IP address may differ in its port
// only (RFC 8252 §7.3); "localhost" is compared exactly (§8.3).
func (c *oidcClient) registeredURI(registered []string, uri string) bool {
	if slices.Contains(registered, uri) {
		return true
	}
	if !c.c.Native {
		return false
	}
	stripped, ok := loopbackWithoutPort(uri)
	if !ok {
		return false
	}
	for _, reg := range registered {
		if r, ok := loopbackWithoutPort(reg); ok && r == stripped {
			return true
		}
	}
	return false
}

// endSessionClient is a client as the end_session endpoint shows it to
// zitadel/oidc: its post-logout redirect URIs are the registered ones and,
// when postLogoutAllowed admits it, the one asked for (a loopback address
// with another port); and it is not "native", so that zitadel/oidc
// compares them exactly and not by its own loopback rule.
type endSessionClient struct {
	*oidcClient
	asked string // the request's post_logout_redirect_uri
}

func (c endSessionClient) ApplicationType() op.ApplicationType { return op.ApplicationTypeWeb }

func (c endSessionClient) PostLogoutRedirectURIs() []string {
	uris := c.c.PostLogoutRedirectURIs
	if c.asked != "" && !slices.Contains(uris, c.asked) && c.postLogoutAllowed(c.asked) {
		uris = append(slices.Clip(uris), c.asked)
	}
	return uris
}

// loopbackWithoutPort returns an http URI on 127.0.0.1 or [::1] with its
// port removed, as text; ok is false for anything else.
func loopbackWithoutPort(uri string) (string, bool) {
	u, err := url.Parse(uri)
	if err != nil || u.Scheme != "http" || u.User != nil || u.Opaque != "" {
		return "", false
	}
	ip := net.ParseIP(u.Hostname())
	if ip == nil || !ip.IsLoopback() {
		return "", false
	}
	u.Host = u.Hostname()
	if ip.To4() == nil {
		u.Host = "[" + u.Host + "]"
	}
	return u.String(), true
}
