package main

import (
	"fmt"
	"maps"
	"net/netip"
	"net/url"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/google/uuid"
	"github.com/keyhall/keyhall/authn"
	"github.com/keyhall/keyhall/enroll"
)

// Bounds on the argon2id parameters (RFC 9106). The upper ones are the
// most authn.HashPassword accepts.
const (
	minArgon2MemoryKiB   = 8192
	maxArgon2MemoryKiB   = 1 << 21 // 2 GiB
	maxArgon2Iterations  = 64
	maxArgon2Parallelism = 16
)

// maxRPName is the longest rp_name, in bytes: an authenticator may cut a
// longer one (WebAuthn L3 §6.4.1, string truncation).
const maxRPName = 64

// levels are the sign-in levels a group or rule may ask for, weakest first,
// as authn.Level names them; "" asks for nothing more than a sign-in.
var levels = []string{"", "mfa", "phr", "phrh"}

// addOther records a problem with path that involves the setting other
// too; loadConfig names the line of both.
func (v *validator) addOther(path, other, format string, args ...any) {
	v.errs = append(v.errs, &fieldError{Path: path, Msg: fmt.Sprintf(format, args...), Other: other})
}

// checkLevel checks that l is one of levels.
func checkLevel(l string) error {
	if slices.Contains(levels, l) {
		return nil
	}
	return fmt.Errorf(`%q is not one of "" (no requirement), mfa, phr, phrh`, l)
}

// validateSignIn checks the session, WebAuthn, password and policy
// settings.
func (c Config) validateSignIn(v *validator) {
	idle, maxAge := c.Session.IdleTimeout, c.Session.MaxAge
	if idle <= 0 {
		v.add("session.idle_timeout", "must be longer than 0s, not %s", idle)
	}
	switch {
	case maxAge <= 0:
		v.add("session.max_age", "must be longer than 0s, not %s", maxAge)
	case idle > 0 && maxAge <= idle:
		v.add("session.max_age", "must be longer than session.idle_timeout (%s), not %s", idle, maxAge)
	}
	v.check("webauthn.rp_name", checkRPName(c.WebAuthn.RPName))
	pw := c.Passwords
	if pw.Argon2MemoryKiB < minArgon2MemoryKiB || pw.Argon2MemoryKiB > maxArgon2MemoryKiB {
		v.add("passwords.argon2_memory_kib", "must be from %d to %d (KiB), not %d",
			minArgon2MemoryKiB, maxArgon2MemoryKiB, pw.Argon2MemoryKiB)
	}
	if pw.Argon2Iterations < 1 || pw.Argon2Iterations > maxArgon2Iterations {
		v.add("passwords.argon2_iterations", "must be from 1 to %d, not %d", maxArgon2Iterations, pw.Argon2Iterations)
	}
	if pw.Argon2Parallelism < 1 || pw.Argon2Parallelism > maxArgon2Parallelism {
		v.add("passwords.argon2_parallelism", "must be from 1 to %d, not %d", maxArgon2Parallelism, pw.Argon2Parallelism)
	}
	if pw.MaxConcurrent < 0 {
		v.add("passwords.max_concurrent", "must be 0 (2 × CPUs) or more, not %d", pw.MaxConcurrent)
	}
	c.validatePolicy(v)
	c.validateRoles(v)
}

// validateRoles checks admin.roles: canonical group names.
func (c Config) validateRoles(v *validator) {
	for role, groups := range map[string][]string{"helpdesk": c.Admin.Roles.Helpdesk, "admin": c.Admin.Roles.Admin} {
		for i, g := range groups {
			v.check(fmt.Sprintf("admin.roles.%s[%d]", role, i), checkCanonical(g))
		}
	}
}

// checkRPName checks the name browsers and authenticators show.
func checkRPName(name string) error {
	switch {
	case strings.TrimSpace(name) == "":
		return fmt.Errorf("must be set: browsers show it when a security key is used")
	case !utf8.ValidString(name):
		return fmt.Errorf("is not valid UTF-8")
	case strings.ContainsFunc(name, unicode.IsControl):
		return fmt.Errorf("%q contains a control character", name)
	case len(name) > maxRPName:
		return fmt.Errorf("is %d bytes long; at most %d are allowed, as authenticators may cut longer names", len(name), maxRPName)
	}
	return nil
}

// validatePolicy checks policy.groups: canonical group names, known levels.
func (c Config) validatePolicy(v *validator) {
	groups := c.Policy.Groups
	for _, name := range slices.Sorted(maps.Keys(groups)) {
		path := mapKeyPath("policy.groups", name)
		if err := checkCanonical(name); err != nil {
			canon, cerr := authn.CanonicalName(name)
			if _, both := groups[canon]; cerr == nil && both {
				v.addOther(path, mapKeyPath("policy.groups", canon),
					"%s; %q is listed too: merge the two", err.Error(), canon)
			} else {
				v.add(path, "%s", err.Error())
			}
		}
		v.check(path+".level", checkLevel(groups[name].Level))
		if a := groups[name].Attestation; a != "" && a != enroll.RootSetYubico {
			v.add(path+".attestation", "%q is not a root set Keyhall ships; use %q or leave it empty", a, enroll.RootSetYubico)
		}
		for i, id := range groups[name].AAGUIDs {
			if _, err := uuid.Parse(id); err != nil && id != aaguidsYubiKey {
				v.add(fmt.Sprintf("%s.aaguids[%d]", path, i), "%q is neither an AAGUID (like cb69481e-8ff7-4039-93ec-0a2729a154a8) nor %q", id, aaguidsYubiKey)
			}
		}
	}
}

// aaguidsYubiKey in policy.groups.*.aaguids stands for every current YubiKey model.
const aaguidsYubiKey = "yubikey"

// validateForwardAuth checks forward_auth: the cookie domain, and each
// rule's host, path prefix, groups and level, and that no two rules are
// for the same host and path prefix.
func (c Config) validateForwardAuth(v *validator) {
	domain := c.ForwardAuth.CookieDomain
	domainOK := false
	if domain != "" {
		err := c.checkCookieDomain()
		v.check("forward_auth.cookie_domain", err)
		domainOK = err == nil
	}
	first := map[[2]string]int{} // host, path prefix → the first rule's index
	for i, r := range c.ForwardAuth.Rules {
		path := fmt.Sprintf("forward_auth.rules[%d]", i)
		if err := checkRuleHost(r.Host); err != nil {
			v.add(path+".host", "%s", err.Error())
		} else if domainOK && !isUnder(r.Host, domain) {
			v.add(path+".host", "%q is not forward_auth.cookie_domain (%s) or under it: the sign-in cookie never reaches it",
				r.Host, domain)
		} else if j, dup := first[[2]string{r.Host, r.PathPrefix}]; dup {
			v.addOther(path, fmt.Sprintf("forward_auth.rules[%d]", j),
				"has the same host and path_prefix as forward_auth.rules[%d]", j)
		} else {
			first[[2]string{r.Host, r.PathPrefix}] = i
		}
		switch {
		case !strings.HasPrefix(r.PathPrefix, "/"):
			v.add(path+".path_prefix", `%q must start with "/"`, r.PathPrefix)
		case strings.ContainsAny(r.PathPrefix, "?#"):
			v.add(path+".path_prefix", "%q must be a path alone, without ? or #", r.PathPrefix)
		}
		for j, g := range r.Groups {
			v.check(fmt.Sprintf("%s.groups[%d]", path, j), checkCanonical(g))
		}
		v.check(path+".level", checkLevel(r.Level))
	}
}

// checkCookieDomain checks forward_auth.cookie_domain, which is set: a
// host name, without a leading dot, that is public_url's host or a parent
// domain of it, so that Keyhall may set a cookie for it.
//
// The cookie must only travel over https outside localhost: checkPublicURL
// already requires https of every public_url but http://localhost.
func (c Config) checkCookieDomain() error {
	d := c.ForwardAuth.CookieDomain
	if t, ok := strings.CutPrefix(d, "."); ok {
		return fmt.Errorf("write %q without the leading dot", t)
	}
	if _, err := netip.ParseAddr(d); err == nil {
		return fmt.Errorf("%q is an IP address; a cookie domain is a host name", d)
	}
	if err := checkHostName(d); err != nil {
		return err
	}
	if checkPublicURL(c.PublicURL) != nil {
		return nil // public_url's own problem is reported
	}
	u, err := url.Parse(c.PublicURL)
	if err != nil {
		return nil
	}
	host := u.Hostname()
	switch {
	case !isUnder(host, d):
		return fmt.Errorf("%q is neither public_url's host (%s) nor a parent domain of it, so Keyhall cannot set the cookie", d, host)
	case host != d && !strings.Contains(d, "."):
		return fmt.Errorf("%q is a top-level domain: browsers refuse cookies for it", d)
	}
	return nil
}

// isUnder reports whether host is domain or a name under it.
func isUnder(host, domain string) bool {
	return host == domain || strings.HasSuffix(host, "."+domain)
}

// checkRuleHost checks a forward-auth rule's host: a lower-case host name
// alone, as the Host header names it.
func checkRuleHost(h string) error {
	switch {
	case h == "":
		return fmt.Errorf("must be set, for example wiki.stadt.example")
	case strings.Contains(h, "://"):
		return fmt.Errorf("%q: write the host name alone, without the scheme", h)
	case strings.Contains(h, "/"):
		return fmt.Errorf("%q: write the host name alone; put a path in path_prefix", h)
	case strings.Contains(h, ":"):
		return fmt.Errorf("%q: write the host name alone, without a port", h)
	}
	return checkHostName(h)
}
