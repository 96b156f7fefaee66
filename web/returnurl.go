package web

import (
	"net/url"
	"strings"
)

// allowedReturnURL reports whether raw, an absolute address a person is
// sent back to after signing in (forward-auth), is on one of hosts: http(s)
// only (plain http only when the public URL is http), no user info, a host
// that equals a configured one exactly (so "stadt.example.evil" and
// "evil/stadt.example" are not), and nothing a browser could read as
// another host ("//evil", "/\evil", backslashes, control characters).
func allowedReturnURL(raw string, hosts map[string]bool, allowHTTP bool) bool {
	if raw == "" || len(raw) > 4096 || strings.ContainsAny(raw, "\\\x00\r\n\t") {
		return false
	}
	for _, r := range raw {
		if r < 0x20 || r == 0x7f {
			return false
		}
	}
	u, err := url.Parse(raw)
	if err != nil || u.Opaque != "" || u.User != nil {
		return false
	}
	switch u.Scheme {
	case "https":
	case "http":
		if !allowHTTP {
			return false
		}
	default:
		return false
	}
	if u.Host == "" || strings.HasPrefix(u.Path, "//") {
		return false
	}
	return hosts[strings.ToLower(u.Hostname())]
}
