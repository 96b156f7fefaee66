package web

import (
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/keyhall/keyhall/authn"
)

// nginxConf is the documented nginx setup (docs/forward-auth.md) with the
// test's ports and the server blocks of nginxServer.
const nginxConf = `
daemon off;
worker_processes 1;
pid {{DIR}}/nginx.pid;
error_log stderr warn;
events { worker_connections 64; }
http {
	access_log off;
	client_body_temp_path {{DIR}}/tmp; proxy_temp_path {{DIR}}/tmp; fastcgi_temp_path {{DIR}}/tmp;
	uwsgi_temp_path {{DIR}}/tmp; scgi_temp_path {{DIR}}/tmp;
{{SERVERS}}
}
`

// nginxServer is the documented server block of one tool, {{NAME}},
// listening as {{LISTEN}} says.
const nginxServer = `
	server {
		{{LISTEN}}
		server_name {{NAME}};

		location = /_keyhall_verify {
			internal;
			proxy_pass http://127.0.0.1:{{KEYHALL}}/auth/verify;
			proxy_pass_request_body off;
			proxy_set_header Content-Length "";
			proxy_set_header X-Original-URL $scheme://$server_name$request_uri;
		}
		location / {
			auth_request /_keyhall_verify;
			auth_request_set $keyhall_user   $upstream_http_remote_user;
			auth_request_set $keyhall_name   $upstream_http_remote_name;
			auth_request_set $keyhall_email  $upstream_http_remote_email;
			auth_request_set $keyhall_groups $upstream_http_remote_groups;
			proxy_set_header Remote-User   $keyhall_user;
			proxy_set_header Remote-Name   $keyhall_name;
			proxy_set_header Remote-Email  $keyhall_email;
			proxy_set_header Remote-Groups $keyhall_groups;
			proxy_set_header X-Original-URL "";
			proxy_set_header X-Rewrite-URL  "";
			error_page 401 =302 http://localhost:{{KEYHALL}}/login?return_to=$scheme://$server_name$request_uri;
			proxy_pass http://127.0.0.1:{{UPSTREAM}};
		}
	}
`

// TestForwardAuthNginx puts Debian's nginx with auth_request in front of a
// small upstream that echoes the Remote-* headers it receives.
func TestForwardAuthNginx(t *testing.T) {
	requirePart(t, "/usr/sbin/nginx", "nginx")
	r := newProxyRig(t)
	dir := t.TempDir()
	os.Mkdir(filepath.Join(dir, "tmp"), 0o700)
	proxyPort, ratPort := freePort(t), freePort(t)
	// Two tools: wiki (anyone signed in) and rat (the council), on one
	// port, and rat alone on another.
	servers := strings.NewReplacer("{{NAME}}", "wiki.stadt.example", "{{LISTEN}}", "listen 127.0.0.1:{{PROXY}};").Replace(nginxServer) +
		strings.NewReplacer("{{NAME}}", "rat.stadt.example", "{{LISTEN}}", "listen 127.0.0.1:{{PROXY}}; listen 127.0.0.1:{{RAT}};").Replace(nginxServer)
	conf := strings.NewReplacer("{{SERVERS}}", servers).Replace(nginxConf)
	conf = strings.NewReplacer("{{DIR}}", dir, "{{PROXY}}", fmt.Sprint(proxyPort), "{{RAT}}", fmt.Sprint(ratPort),
		"{{KEYHALL}}", fmt.Sprint(r.keyhall), "{{UPSTREAM}}", fmt.Sprint(r.upstream)).Replace(conf)
	os.WriteFile(filepath.Join(dir, "nginx.conf"), []byte(conf), 0o600)
	r.start(t, exec.Command("/usr/sbin/nginx", "-p", dir, "-c", filepath.Join(dir, "nginx.conf"), "-e", "stderr"), proxyPort)

	// nginx chooses the server by the request line's host (absolute form)
	// or, on a port where rat is alone, by nothing at all; the Host header
	// bob sends must not decide which tool Keyhall checks.
	bob, _ := r.f.session(t, r.f.bob, authn.LevelPhrh)
	for _, tc := range []struct {
		port    int
		request string
	}{
		{proxyPort, "GET http://rat.stadt.example/seite HTTP/1.1\r\nHost: wiki.stadt.example\r\n" + r.cookieLine(bob) + "Connection: close\r\n\r\n"},
		{ratPort, "GET /seite HTTP/1.1\r\nHost: wiki.stadt.example\r\n" + r.cookieLine(bob) + "Connection: close\r\n\r\n"},
	} {
		if code := raw(t, tc.port, tc.request); code != http.StatusForbidden {
			t.Errorf("bob asked rat for %q: %d, want 403", tc.request, code)
		}
	}
	r.checkDocumented(t)
}
