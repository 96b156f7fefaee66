package web

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/keyhall/keyhall/authn"
)

// caddyfile is the documented Caddy setup (docs/forward-auth.md) with the
// test's ports: no admin API, no automatic HTTPS, plain HTTP on 127.0.0.1.
// rat is also the only site on {{RAT}}, a site for any name there.
const caddyfile = `
{
	admin off
	auto_https off
	default_bind 127.0.0.1
}

(keyhall) {
	# In route, in this order: Caddy would otherwise run request_header
	# after forward_auth, and remove Keyhall's answer.
	route {
		# Headers a client sends under these names reach neither Keyhall nor the tool.
		request_header -Remote-User
		request_header -Remote-Name
		request_header -Remote-Email
		request_header -Remote-Groups
		request_header -X-Original-URL
		request_header -X-Rewrite-URL
		forward_auth 127.0.0.1:{{KEYHALL}} {
			uri /auth/verify
			# The tool's own name, whatever Host the client sent.
			header_up X-Forwarded-Host {args.0}
			# Keyhall's own name, not the tool's: a proxy in front of Keyhall routes by it.
			header_up Host {upstream_hostport}
			copy_headers Remote-User Remote-Name Remote-Email Remote-Groups
		}
		reverse_proxy 127.0.0.1:{{UPSTREAM}}
	}
}

http://wiki.stadt.example:{{PROXY}} {
	import keyhall wiki.stadt.example
}

http://rat.stadt.example:{{PROXY}}, http://:{{RAT}} {
	import keyhall rat.stadt.example
}
`

// TestForwardAuthCaddy puts Debian's Caddy with forward_auth in front of a
// small upstream that echoes the Remote-* headers it receives.
func TestForwardAuthCaddy(t *testing.T) {
	requirePart(t, "/usr/bin/caddy", "caddy")
	r := newProxyRig(t)
	dir := t.TempDir()
	proxyPort, ratPort := freePort(t), freePort(t)
	conf := strings.NewReplacer("{{PROXY}}", fmt.Sprint(proxyPort), "{{RAT}}", fmt.Sprint(ratPort),
		"{{KEYHALL}}", fmt.Sprint(r.keyhall), "{{UPSTREAM}}", fmt.Sprint(r.upstream)).Replace(caddyfile)
	path := filepath.Join(dir, "Caddyfile")
	os.WriteFile(path, []byte(conf), 0o600)
	cmd := exec.Command("/usr/bin/caddy", "run", "--config", path, "--adapter", "caddyfile")
	// Its data and config directories (certificates, autosave) in the
	// test's, not root's home.
	cmd.Env = append(os.Environ(), "HOME="+dir, "XDG_DATA_HOME="+dir, "XDG_CONFIG_HOME="+dir)
	r.start(t, cmd, proxyPort)

	bob, _ := r.f.session(t, r.f.bob, authn.LevelPhrh)
	// On the port where rat answers for any name, the Host header bob
	// sends must not decide which tool Keyhall checks; nor may an
	// absolute request line that names another host than Host.
	for _, tc := range []struct {
		port    int
		request string
	}{
		{ratPort, "GET /seite HTTP/1.1\r\nHost: wiki.stadt.example\r\n" + r.cookieLine(bob) + "Connection: close\r\n\r\n"},
		{proxyPort, "GET http://rat.stadt.example/seite HTTP/1.1\r\nHost: wiki.stadt.example\r\n" + r.cookieLine(bob) + "Connection: close\r\n\r\n"},
	} {
		if code := raw(t, tc.port, tc.request); code == 200 {
			t.Errorf("bob asked rat for %q: %d", tc.request, code)
		}
	}
	// What the client sends for Keyhall reaches neither Keyhall (its
	// X-Original-URL would be refused, 400, beside Caddy's X-Forwarded-Uri)
	// nor the tool.
	resp, body := r.get(t, "wiki.stadt.example", bob, "X-Original-URL", "http://rat.stadt.example/", "X-Forwarded-Host", "rat.stadt.example")
	if resp.StatusCode != 200 {
		t.Errorf("bob with a forged X-Original-URL asked the wiki: %d %s", resp.StatusCode, body)
	}
	if got := resp.Header.Values("Tool-Saw-X-Original-Url"); len(got) > 0 {
		t.Errorf("the tool got the client's X-Original-URL %q", got)
	}
	if got := resp.Header.Get("Tool-Saw-X-Forwarded-Host"); got != "wiki.stadt.example" {
		t.Errorf("the tool got X-Forwarded-Host %q, want Caddy's wiki.stadt.example", got)
	}
	r.checkDocumented(t)
}
