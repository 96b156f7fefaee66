package web

import (
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/keyhall/keyhall/authn"
)

// verifyPath is forward-auth's endpoint.
const verifyPath = "/auth/verify"

// ForwardAuthCookie carries the session for the city's subdomains when
// forward-auth has a cookie domain: the same id as SessionCookie, sent to
// every host under the domain, so a reverse proxy in front of another tool
// can ask /auth/verify about it.
const ForwardAuthCookie = "__Secure-keyhall"

// ForwardAuthConfig says which tools behind a reverse proxy need whom.
type ForwardAuthConfig struct {
	// CookieDomain ("stadt.example"), when set, makes sign-in also set
	// ForwardAuthCookie with that Domain; without it there is no such cookie.
	CookieDomain string
	Rules        []ForwardAuthRule
}

// ForwardAuthRule admits members of Groups (any signed-in person when
// empty; not a citizen, registration open or not: Server.admits) who signed in at
// Level or above to Host (exact, lower-case host
// name) under PathPrefix ("/" when empty). The rule with the longest
// matching prefix wins; a host without rules is refused.
type ForwardAuthRule struct {
	Host       string
	PathPrefix string
	Groups     []string
	Level      authn.Level
}

// forwardAuth answers /auth/verify for nginx auth_request, Traefik
// ForwardAuth and Caddy forward_auth.
type forwardAuth struct {
	cfg   ForwardAuthConfig
	hosts map[string]bool // hosts with rules: the only return addresses allowed
	paths map[string]bool // hosts with a rule for a path below "/"
}

func newForwardAuth(cfg ForwardAuthConfig) *forwardAuth {
	fa := &forwardAuth{cfg: cfg, hosts: map[string]bool{}, paths: map[string]bool{}}
	for i, r := range cfg.Rules {
		r.Host = strings.ToLower(r.Host)
		if r.PathPrefix == "" {
			r.PathPrefix = "/"
		}
		cfg.Rules[i] = r
		fa.hosts[r.Host] = true
		if r.PathPrefix != "/" {
			fa.paths[r.Host] = true
		}
	}
	return fa
}

// rule returns the rule for path on host, or false when no rule covers it.
// fold compares with the prefixes case-folded (foldCase; path must be so already);
// dir lets a prefix ending in "/" also stand for the path without it.
func (fa *forwardAuth) rule(host, path string, fold, dir bool) (ForwardAuthRule, bool) {
	var best ForwardAuthRule
	found := false
	for _, r := range fa.cfg.Rules {
		prefix := r.PathPrefix
		if fold {
			prefix = foldCase(prefix)
		}
		matches := strings.HasPrefix(path, prefix) || (dir && len(prefix) > 1 && path == strings.TrimSuffix(prefix, "/"))
		if r.Host == host && matches && (!found || len(r.PathPrefix) > len(best.PathPrefix)) {
			best, found = r, true
		}
	}
	return best, found
}

// rules returns the rules u must pass (host is its host in lower case),
// or false when one of them is missing. Where a host has rules for paths below "/", the tool behind it
// may read a path otherwise than its bytes say: case-insensitively (IIS,
// some routers), without the parameters after a ";" in a segment (Tomcat,
// Spring), or /vertraulich as /vertraulich/. So the path is matched as it
// is, without parameters, in lower case and as a directory, and every rule
// any of these readings finds must let the person pass. Paths that tools
// resolve in still other ways (empty, "." or ".." segments, a backslash,
// control bytes) are refused (ambiguousPath). The rules are appended to
// out (which the caller may keep on its stack).
func (fa *forwardAuth) rules(host string, u *url.URL, out []ForwardAuthRule) ([]ForwardAuthRule, bool) {
	r, ok := fa.rule(host, u.Path, false, false)
	out = append(out, r)
	if !ok || !fa.paths[host] {
		return out, ok
	}
	bare := withoutParams(u.Path)
	lower := foldCase(bare)
	for _, reading := range [...]struct {
		path      string
		fold, dir bool
	}{{bare, false, true}, {foldCase(u.Path), true, false}, {lower, true, true}} {
		r, ok := fa.rule(host, reading.path, reading.fold, reading.dir)
		if !ok {
			return nil, false
		}
		if !slices.ContainsFunc(out, func(o ForwardAuthRule) bool { return o.PathPrefix == r.PathPrefix }) {
			out = append(out, r)
		}
	}
	return out, true
}

// foldCase lowers s as a case-insensitive tool compares it: by upper
// case too, so that "ı" and "ſ" are "i" and "s" (as to Windows' file
// systems and Java's equalsIgnoreCase), and "/GEHEıM" finds /geheim/.
func foldCase(s string) string {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return strings.Map(func(r rune) rune { return unicode.ToLower(unicode.ToUpper(r)) }, s)
		}
	}
	return strings.ToLower(s)
}

// withoutParams drops the parameters after a ";" in each segment of p.
func withoutParams(p string) string {
	if !strings.Contains(p, ";") {
		return p
	}
	segs := strings.Split(p, "/")
	for i, s := range segs {
		segs[i], _, _ = strings.Cut(s, ";")
	}
	return strings.Join(segs, "/")
}

// ambiguousPath says why tools may resolve the decoded path p to another
// one than it reads as (so that a rule for /geheim/ would be passed by
// //geheim/, /offen/../geheim/ or /./geheim/), or "" when it is plain.
// Windows file systems, and so IIS and file servers on Windows, also take
// a name with trailing dots or spaces for the name without them
// (/geheim./, /geheim%20/), an NTFS stream of a folder for the folder
// (/geheim::$INDEX_ALLOCATION/) and an 8.3 short name for the long one
// (/GEHEIM~1/): those segments are refused too.
func ambiguousPath(p string) string {
	if strings.ContainsFunc(p, func(r rune) bool { return r < 0x20 || r == 0x7f || r == '\\' }) {
		return "a control character or backslash"
	}
	// Decoded leniently, an overlong or broken UTF-8 sequence may become
	// a "/" or "." ("%C0%AF" was "/" to IIS).
	if !utf8.ValidString(p) {
		return "bytes that are not UTF-8"
	}
	rest := p
	for i := 0; ; i++ {
		seg, after, more := strings.Cut(rest, "/")
		seg, _, _ = strings.Cut(seg, ";")
		switch {
		case seg == "." || seg == "..":
			return "a dot segment"
		case seg == "" && i > 0 && more:
			return "an empty segment"
		case strings.HasSuffix(seg, ".") || strings.HasSuffix(seg, " "):
			return "a segment ending in a dot or a space"
		case strings.Contains(seg, "::") || strings.Contains(seg, ":$"):
			return "an NTFS stream"
		case shortName(seg):
			return "an 8.3 short name"
		case !more:
			return ""
		}
		rest = after
	}
}

// shortName reports whether seg holds a "~" and a digit, as Windows' 8.3
// short names do (GEHEIM~1 for geheimnisse).
func shortName(seg string) bool {
	for i := strings.IndexByte(seg, '~'); i >= 0 && i+1 < len(seg); {
		if c := seg[i+1]; c >= '0' && c <= '9' {
			return true
		}
		j := strings.IndexByte(seg[i+1:], '~')
		if j < 0 {
			return false
		}
		i += 1 + j
	}
	return false
}

// originalURL works out the address the person asked the proxy for: nginx
// sends it whole in X-Original-URL (see docs/forward-auth.md); Traefik and
// Caddy send X-Forwarded-Proto, -Host and -Uri. redirect says whether the
// proxy wants a redirect to sign in (Traefik, Caddy) rather than a 401
// (nginx). Anything missing or malformed is an error: fail closed.
//
// Both at once is refused too. Traefik and Caddy set X-Forwarded-Uri
// themselves but pass on the headers the client sent, X-Original-URL
// among them: were that one believed, a person could have an address she
// may use checked while asking for one she may not. (nginx sets
// X-Original-URL itself; a client adding X-Forwarded-Uri there only
// refuses herself.)
func originalURL(h http.Header) (u *url.URL, redirect bool, err error) {
	raw := h.Get("X-Original-Url") // canonical spelling: nothing to convert per request
	if raw != "" && len(h["X-Forwarded-Uri"]) > 0 {
		return nil, false, errors.New("both X-Original-URL and X-Forwarded-Uri sent: a client's header passed on by the proxy? " +
			"Traefik and Caddy must not pass on X-Original-URL (docs/forward-auth.md)")
	}
	if raw == "" {
		proto, host, uri := h.Get("X-Forwarded-Proto"), h.Get("X-Forwarded-Host"), h.Get("X-Forwarded-Uri")
		if proto == "" || host == "" || uri == "" || !strings.HasPrefix(uri, "/") {
			return nil, false, errors.New("forwarded headers missing: want X-Original-URL or X-Forwarded-Proto, -Host and -Uri")
		}
		raw, redirect = proto+"://"+host+uri, true
	}
	if len(raw) > 8192 || forbiddenInTarget(raw) {
		return nil, false, errors.New("forwarded address holds characters that have no place in a request target")
	}
	u, err = url.Parse(raw)
	if err != nil {
		return nil, false, errors.New("forwarded address does not parse")
	}
	if (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil || u.Opaque != "" {
		return nil, false, errors.New("forwarded address is not an http(s) address")
	}
	// The request target is a path ("http://host?x" is not what a proxy
	// sends). Through Traefik and Caddy the host is the client's Host
	// header: it must stay the host, whole ("host/offen?" would make the
	// path the tool gets a query).
	if !strings.HasPrefix(u.Path, "/") || (redirect && u.Host != h.Get("X-Forwarded-Host")) {
		return nil, false, errors.New("forwarded address is not a host and a path")
	}
	return u, redirect, nil
}

// forbiddenInTarget says whether s holds a byte that has no place in a
// request target (RFC 9112, RFC 3986) and that url.Parse reads otherwise
// than the tool behind the proxy, or that browsers never send as it is:
// "#" (url.Parse takes the rest for a fragment; nginx passes it on, and a
// file server behind it resolves "/offen#/../geheim" to /geheim), a
// space, a control character, a backslash, a byte outside ASCII
// (browsers percent-encode them all), '"', "<" and ">" (browsers encode
// them too). "{", "}", "|", "^" and "`" have no place either, but browsers
// send them as they are in a query (and "|", "^" in a path), and
// url.Parse reads them as the tools do: they pass.
func forbiddenInTarget(s string) bool {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c <= ' ' || c >= 0x7f, c == '#', c == '\\', c == '"', c == '<', c == '>':
			return true
		}
	}
	return false
}

// verify is /auth/verify. 200 with Remote-User, -Name, -Email and -Groups
// when the request's session may use the address; otherwise 401 (nginx),
// a redirect to sign in (Traefik, Caddy) or 403 (signed in, but not
// admitted). Never 200 on doubt: an unknown host, a malformed header, a
// garbled cookie or a database that does not answer all refuse. A request
// without a session creates no state.
func (s *Server) verify(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h["Cache-Control"] = noStoreValue
	// Every refusal may reach a browser (Traefik and Caddy pass it on), so
	// it carries the security headers; the 200 does not (securityHeaders).
	refuse := func(status int, msg message, err error) {
		s.setSecurityHeaders(h)
		s.fail(w, r, status, msg, err)
	}
	orig, redirect, err := originalURL(r.Header)
	if err != nil {
		refuse(http.StatusBadRequest, msgForwardBadRequest, err)
		return
	}
	host := strings.ToLower(orig.Hostname())
	var buf [4]ForwardAuthRule
	rules, ok := s.fwd.rules(host, orig, buf[:0])
	if !ok {
		refuse(http.StatusForbidden, msgForwardUnknownHost, errors.New("no forward-auth rule for "+orig.Host)) // never the path: it may hold secrets
		return
	}
	if s.fwd.paths[host] {
		if why := ambiguousPath(orig.Path); why != "" {
			refuse(http.StatusBadRequest, msgForwardBadRequest, errors.New("forwarded path has "+why))
			return
		}
		// Traefik's stripPrefix ahead of forwardAuth hands on the path
		// without the prefix the person asked for: rules written for the
		// public path would not hold. forwardAuth goes first.
		if _, ok := r.Header["X-Forwarded-Prefix"]; ok {
			refuse(http.StatusBadRequest, msgForwardBadRequest, errors.New("X-Forwarded-Prefix on a host with path rules: put forwardAuth before stripPrefix"))
			return
		}
	}
	// The strictest level any of the rules asks for.
	level := rules[0].Level
	for _, r := range rules[1:] {
		if r.Level.Meets(level) {
			level = r.Level
		}
	}
	ref := s.store.Load()
	if ref == nil {
		refuse(http.StatusServiceUnavailable, msgUnavailable, errors.New("database not open yet"))
		return
	}
	sess, p, err := s.forwardSession(r, ref.Store)
	switch {
	case err != nil && !errors.Is(err, errNoSession):
		refuse(http.StatusServiceUnavailable, msgUnavailable, err)
		return
	case err == nil && sess.RecoveryOnly && redirect:
		// Not a new sign-in, which would take another of her codes: her
		// factors, to add a key or app and sign in with it (recoveryonly.go).
		s.setSecurityHeaders(h)
		http.Redirect(w, r, s.publicURL.String()+factorsFirst(orig.String()), http.StatusFound)
		return
	case errors.Is(err, errNoSession) || !authn.Level(sess.ACR).Meets(level) || sess.RecoveryOnly:
		s.setSecurityHeaders(h)
		s.signInFirst(w, r, orig, redirect, level)
		return
	}
	for _, rule := range rules {
		if !s.admits(rule.Groups, p.groups) {
			refuse(http.StatusForbidden, msgForwardNotAdmitted, nil)
			return
		}
	}
	// Canonical keys, shared values: see remoteHeaders. No security
	// headers: see securityHeaders.
	h["Remote-User"] = p.remote.user
	h["Remote-Name"] = p.remote.name
	h["Remote-Email"] = p.remote.email
	h["Remote-Groups"] = p.remote.groups
	w.WriteHeader(http.StatusOK)
}

// noStoreValue is Cache-Control: no-store, shared between responses; never modify it.
var noStoreValue = []string{"no-store"}

// textPlainValue and notSignedInBody make verify's 401 for nginx; shared
// between responses, never modify them.
var (
	textPlainValue  = []string{"text/plain; charset=utf-8"}
	notSignedInBody = []byte(msgNotSignedIn.DE + " / " + msgNotSignedIn.EN + "\n")
)

// forwardSession reads the session from the subdomain cookie, or from the
// host cookie when the proxy runs on Keyhall's own host.
func (s *Server) forwardSession(r *http.Request, st authn.Store) (authn.Session, *identity, error) {
	if v, ok := requestCookie(r.Header, ForwardAuthCookie); ok {
		h, ok := s.openForwardCookie(v)
		if !ok {
			// Cookies set before the value was sealed carry the id.
			if h, ok = sessionCookieHash(v); !ok {
				return authn.Session{}, nil, errNoSession
			}
		}
		return s.lookupSession(r.Context(), st, h)
	}
	if v, ok := requestCookie(r.Header, SessionCookie); ok {
		h, ok := sessionCookieHash(v)
		if !ok {
			return authn.Session{}, nil, errNoSession
		}
		return s.lookupSession(r.Context(), st, h)
	}
	return authn.Session{}, nil, errNoSession
}

// signInFirst sends the person to sign in (or step up) and back to orig.
func (s *Server) signInFirst(w http.ResponseWriter, r *http.Request, orig *url.URL, redirect bool, level authn.Level) {
	if !redirect {
		// nginx's auth_request reads only the status and answers the
		// browser itself (error_page), so the body is a line of text, in
		// both languages: no page to render for every check without a
		// session, the most common one and the cheapest to send.
		h := w.Header()
		h["Content-Type"] = textPlainValue
		w.WriteHeader(http.StatusUnauthorized)
		w.Write(notSignedInBody)
		return
	}
	q := url.Values{"return_to": {orig.String()}}
	if level != authn.LevelNone {
		q.Set("acr", string(level))
	}
	http.Redirect(w, r, s.publicURL.JoinPath("login").String()+"?"+q.Encode(), http.StatusFound)
}

// headerSafe drops characters that cannot stand in an HTTP header value
// and bounds its length.
func headerSafe(s string) string {
	s = strings.Map(func(r rune) rune { // also turns bytes that are not UTF-8 into U+FFFD
		if r < 0x20 || r == 0x7f {
			return -1
		}
		return r
	}, s)
	// A name or address stored before they were bounded (#17) is cut to
	// the longest any may be now (authn.TextEmail), not sent as 100 KB.
	n := 0
	for i := range s {
		if n == authn.TextEmail.MaxChars {
			return s[:i]
		}
		n++
	}
	return s
}

var (
	msgForwardBadRequest = message{
		DE: "Der vorgeschaltete Proxy hat die Adresse nicht mitgeschickt. Bitte wenden Sie sich an die IT.",
		EN: "The reverse proxy did not send the address asked for. Please contact IT.",
	}
	msgForwardUnknownHost = message{
		DE: "Für diese Adresse ist keine Anmeldung über Keyhall eingerichtet. Bitte wenden Sie sich an die IT.",
		EN: "Signing in through Keyhall is not set up for this address. Please contact IT.",
	}
	msgForwardNotAdmitted = message{
		DE: "Sie sind angemeldet, aber für diese Anwendung nicht freigeschaltet. Bitte wenden Sie sich an die IT, wenn Sie Zugang brauchen.",
		EN: "You are signed in, but not admitted to this application. Please contact IT if you need access.",
	}
)
