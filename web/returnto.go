package web

import (
	"net/url"
	"strings"
	"unicode"
	"unicode/utf8"
)

// defaultReturnTo is where a person lands after signing in when nothing
// else was asked for.
const defaultReturnTo = "/account"

// maxReturnTo caps the length of a return address; a longer one is refused.
const maxReturnTo = 2048

// safeReturnTo returns s if it is a path on this server, and
// defaultReturnTo otherwise. A path starts with one "/" followed by
// anything but "/" or "\" (browsers read "//host" and "/\host" as another
// host), carries no scheme or host, and holds no control characters, spaces
// or invalid UTF-8. This keeps the sign-in from becoming an open redirect
// (RFC 9700 §4.11).
func safeReturnTo(s string) string {
	if !isLocalPath(s) {
		return defaultReturnTo
	}
	return s
}

// returnTo is safeReturnTo that also lets forward-auth send a person back
// to a tool behind the reverse proxy: an absolute address on a host with a
// forward-auth rule (allowedReturnURL), and no other.
func (s *Server) returnTo(raw string) string {
	if s.fwd != nil && allowedReturnURL(raw, s.fwd.hosts, s.publicURL.Scheme == "http") {
		return raw
	}
	return safeReturnTo(raw)
}

func isLocalPath(s string) bool {
	if s == "" || len(s) > maxReturnTo || s[0] != '/' {
		return false
	}
	if len(s) > 1 && (s[1] == '/' || s[1] == '\\') {
		return false
	}
	if !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if r == '\\' || unicode.IsSpace(r) || unicode.IsControl(r) || unicode.Is(unicode.Cf, r) {
			return false
		}
	}
	u, err := url.Parse(s)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil || u.Opaque != "" {
		return false
	}
	// A percent-encoded slash or backslash at the start would turn into
	// "//" after one decoding by a careless proxy or tool.
	p := strings.ToLower(s)
	return !strings.HasPrefix(p, "/%2f") && !strings.HasPrefix(p, "/%5c")
}
