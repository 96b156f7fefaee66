package main

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"github.com/keyhall/keyhall/authn"
	"net/netip"
	"net/url"
	"strings"
	"time"
	"unicode"
)

// OIDCClient is a tool registered with the OpenID Connect provider: one
// element of oidc.clients. Settings inside it have no environment
// variable. web.OIDCClient is what serve makes of it.
type OIDCClient struct {
	// ID is the client_id.
	ID string `yaml:"id"`
	// Name is how people know the tool, shown on /account beside their
	// sign-ins ("Ratsinformationssystem"); empty: the id.
	Name string `yaml:"name"`
	// SecretSHA256 is the SHA-256 of the client's secret in hex, as
	// "keyhall admin oidc-secret" prints it; empty for a public client.
	SecretSHA256 string `yaml:"secret_sha256"`
	// Native marks an app on a device (RFC 8252): no secret, and a claimed
	// https URL, a private-use scheme or a loopback address as redirect.
	Native bool `yaml:"native"`
	// RedirectURIs and PostLogoutRedirectURIs are compared as strings,
	// exactly.
	RedirectURIs           []string `yaml:"redirect_uris"`
	PostLogoutRedirectURIs []string `yaml:"post_logout_redirect_uris"`
	// Groups may use the tool (canonical names); empty: everyone.
	Groups []string `yaml:"groups"`
	// Level is the sign-in the tool needs: "", mfa, phr or phrh.
	Level                string   `yaml:"level"`
	AccessTokenLifetime  Duration `yaml:"access_token_lifetime"`
	IDTokenLifetime      Duration `yaml:"id_token_lifetime"`
	RefreshTokenLifetime Duration `yaml:"refresh_token_lifetime"`
	// BackchannelLogoutURI receives logout tokens; empty: none.
	BackchannelLogoutURI string `yaml:"backchannel_logout_uri"`
	// CORSOrigins may call the token, userinfo and revocation endpoints
	// from a browser; empty: no CORS.
	CORSOrigins []string `yaml:"cors_origins"`
}

// setDefaults sets the lifetimes a client has when the file does not give
// them, the ones web.OIDCClient takes for zero.
func (c *OIDCClient) setDefaults() {
	c.AccessTokenLifetime = Duration(10 * time.Minute)
	c.IDTokenLifetime = Duration(10 * time.Minute)
	c.RefreshTokenLifetime = Duration(8 * time.Hour)
}

// maxCodeLifetime is the longest an authorization code may live (RFC 6749
// §4.1.2: "a maximum authorization code lifetime of 10 minutes").
const maxCodeLifetime = 10 * time.Minute

// validateOIDC checks oidc: the code lifetime and each client, and that
// no two clients share an id. When those checks pass, the provider's own
// check (web.OIDCConfig.Validate) runs on what serve would hand it, so
// that nothing it refuses at start-up passes check-config.
func (c Config) validateOIDC(v *validator) {
	before := len(v.errs)
	if lt := c.OIDC.CodeLifetime; lt <= 0 || time.Duration(lt) > maxCodeLifetime {
		v.add("oidc.code_lifetime", "must be longer than 0s and at most 10m (RFC 6749 §4.1.2), not %s", lt)
	}
	first := map[string]int{} // id → the first client's index
	for i, cl := range c.OIDC.Clients {
		path := fmt.Sprintf("oidc.clients[%d]", i)
		if j, dup := first[cl.ID]; dup && cl.ID != "" {
			v.addOther(path+".id", fmt.Sprintf("oidc.clients[%d].id", j),
				"%q is the id of oidc.clients[%d] too; each client needs its own", cl.ID, j)
		} else {
			first[cl.ID] = i
		}
		cl.validate(v, path)
	}
	if len(v.errs) > before {
		return
	}
	oc, err := oidcConfig(c, Keys{})
	if err == nil {
		err = oc.Validate()
	}
	for _, e := range unjoin(err) {
		v.add("oidc.clients", "%s", e.Error())
	}
}

// unjoin returns the errors joined in err (none for nil).
func unjoin(err error) []error {
	if err == nil {
		return nil
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}

// validate checks one client at path ("oidc.clients[2]").
func (cl OIDCClient) validate(v *validator, path string) {
	switch {
	case cl.ID == "":
		v.add(path+".id", "must be set: it is the client_id the tool sends")
	case strings.ContainsFunc(cl.ID, func(r rune) bool { return r == ':' || unicode.IsSpace(r) || unicode.IsControl(r) }):
		// HTTP Basic authentication (RFC 6749 §2.3.1) splits at the colon.
		v.add(path+".id", "%q must not contain spaces or colons", cl.ID)
	}
	if err := authn.CheckText(authn.TextDisplayName, cl.Name); err != nil {
		v.add(path+".name", "%v", err)
	}
	v.check(path+".secret_sha256", checkSecretSHA256(cl.SecretSHA256))
	if cl.Native && cl.SecretSHA256 != "" {
		v.add(path+".secret_sha256", "is set, but native is true: an app on a device cannot keep a secret "+
			"(RFC 8252 §8.5); leave secret_sha256 out, PKCE protects its codes")
	}
	if len(cl.RedirectURIs) == 0 {
		v.add(path+".redirect_uris", "must list at least one address the code may be sent to")
	}
	for j, u := range cl.RedirectURIs {
		v.check(fmt.Sprintf("%s.redirect_uris[%d]", path, j), checkToolURI(u, cl.Native))
	}
	for j, u := range cl.PostLogoutRedirectURIs {
		v.check(fmt.Sprintf("%s.post_logout_redirect_uris[%d]", path, j), checkToolURI(u, cl.Native))
	}
	for j, g := range cl.Groups {
		v.check(fmt.Sprintf("%s.groups[%d]", path, j), checkCanonical(g))
	}
	v.check(path+".level", checkLevel(cl.Level))
	for _, lt := range []struct {
		name string
		d    Duration
	}{{"access_token_lifetime", cl.AccessTokenLifetime}, {"id_token_lifetime", cl.IDTokenLifetime},
		{"refresh_token_lifetime", cl.RefreshTokenLifetime}} {
		if lt.d <= 0 {
			v.add(path+"."+lt.name, "must be longer than 0s, not %s", lt.d)
		}
	}
	if cl.BackchannelLogoutURI != "" {
		v.check(path+".backchannel_logout_uri", checkBackchannelURI(cl.BackchannelLogoutURI))
	}
	for j, o := range cl.CORSOrigins {
		v.check(fmt.Sprintf("%s.cors_origins[%d]", path, j), checkOrigin(o))
	}
}

// checkSecretSHA256 checks a client's secret_sha256: empty, or 64 hex
// digits. Messages never quote it: it may be the secret pasted by mistake.
func checkSecretSHA256(s string) error {
	if s == "" {
		return nil
	}
	if b, err := base64.RawURLEncoding.DecodeString(s); err == nil && len(b) == 32 {
		return errors.New("holds the secret itself; write its SHA-256 instead, the secret_sha256 line " +
			"that \"keyhall admin oidc-secret\" prints, and keep the secret out of this file")
	}
	if b, err := hex.DecodeString(s); err != nil || len(b) != sha256.Size {
		return fmt.Errorf("is not 64 hex digits (a SHA-256, as \"keyhall admin oidc-secret\" prints it) but %d characters", len(s))
	}
	return nil
}

// checkToolURI checks a redirect, post-logout redirect or back-channel
// logout address of a client: absolute, without fragment or user name, on
// https, or on http for loopback and localhost (development; RFC 8252 §7.3
// for native apps). A native app may also use a private-use scheme in
// reverse-domain form (RFC 8252 §7.1).
func checkToolURI(s string, native bool) error {
	u, err := url.Parse(s)
	switch {
	case err != nil || u.Scheme == "":
		return fmt.Errorf("%q is not an absolute URL such as https://ris.stadt.example/callback", s)
	case u.Fragment != "" || strings.Contains(s, "#"):
		return fmt.Errorf("%q must not have a fragment (#…) (RFC 6749 §3.1.2)", s)
	case u.User != nil:
		return fmt.Errorf("%q must not contain a user name (…@)", s)
	case strings.Contains(s, "*"):
		return fmt.Errorf("%q: addresses are compared exactly; * is not a wildcard", s)
	}
	switch u.Scheme {
	case "https", "http":
		if u.Host == "" || u.Opaque != "" {
			return fmt.Errorf("%q has no host", s)
		}
		if u.Scheme == "http" && !isLocalHost(u.Hostname()) {
			return fmt.Errorf("%q: http:// is allowed only for 127.0.0.1, [::1] and localhost; use https://", s)
		}
		return nil
	}
	switch {
	case !native:
		return fmt.Errorf("%q: scheme %q is not https; a private-use scheme is for apps on a device (set native: true)", s, u.Scheme)
	case !strings.Contains(u.Scheme, "."):
		return fmt.Errorf("%q: a private-use scheme must be a reversed domain name you control, such as de.stadt.app (RFC 8252 §7.1)", s)
	}
	return nil
}

// checkBackchannelURI checks where logout tokens are POSTed: an https
// (http for loopback and localhost) URL without fragment (OpenID
// Back-Channel Logout 1.0 §2.2).
func checkBackchannelURI(s string) error {
	if scheme, _, _ := strings.Cut(s, ":"); scheme != "https" && scheme != "http" {
		return fmt.Errorf("%q is not an https:// address that Keyhall can POST logout tokens to", s)
	}
	return checkToolURI(s, false)
}

// isLocalHost reports whether host (without port or brackets) is
// localhost or a loopback address.
func isLocalHost(host string) bool {
	if host == "localhost" {
		return true
	}
	a, err := netip.ParseAddr(host)
	return err == nil && a.IsLoopback()
}

// checkOrigin checks a CORS origin: scheme://host[:port] in lower case,
// https (http for loopback and localhost), and never "*".
func checkOrigin(s string) error {
	if s == "*" || strings.Contains(s, "*") {
		return fmt.Errorf("%q would let any web site call the endpoints; list each origin, such as https://app.stadt.example", s)
	}
	u, err := url.Parse(s)
	switch {
	case err != nil || u.Host == "" || u.Opaque != "" || u.User != nil:
		return fmt.Errorf("%q is not an origin such as https://app.stadt.example", s)
	case u.Path != "" || u.RawQuery != "" || u.ForceQuery || strings.Contains(s, "#"):
		return fmt.Errorf("%q: an origin is scheme://host[:port] alone, without path (not even /), query or fragment", s)
	case s != strings.ToLower(s):
		return fmt.Errorf("write %q in lower case, as browsers send it", s)
	case u.Scheme == "https":
		return nil
	case u.Scheme == "http" && isLocalHost(u.Hostname()):
		return nil
	}
	return fmt.Errorf("%q: an origin must be https:// (http:// only for 127.0.0.1, [::1] and localhost)", s)
}
