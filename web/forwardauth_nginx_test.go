package web

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/keyhall/keyhall/authn"
)

// requirePart finds a real part of the test setup (a Debian binary): a
// test without it is skipped, or fails under CI=true.
func requirePart(t *testing.T, path, pkg string) {
	t.Helper()
	if _, err := os.Stat(path); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s not found; install the Debian package %s (.ci/run does)", path, pkg)
		}
		t.Skipf("%s not found; install the Debian package %s", path, pkg)
	}
}

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

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
			error_page 401 =302 http://localhost:{{KEYHALL}}/login?return_to=$scheme://$server_name$request_uri;
			proxy_pass http://127.0.0.1:{{UPSTREAM}};
		}
	}
`

// TestForwardAuthNginx puts Debian's nginx with auth_request in front of a
// small upstream that echoes the Remote-* headers it receives.
func TestForwardAuthNginx(t *testing.T) {
	requirePart(t, "/usr/sbin/nginx", "nginx")
	f := newFwdFixture(t)
	keyhall := httptest.NewUnstartedServer(f.srv)
	keyhallLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	keyhall.Listener = keyhallLn
	keyhall.Start()
	defer keyhall.Close()
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for _, h := range []string{"Remote-User", "Remote-Name", "Remote-Email", "Remote-Groups"} {
			fmt.Fprintf(w, "%s=%s\n", h, strings.Join(r.Header.Values(h), "|"))
		}
	}))
	defer upstream.Close()

	dir := t.TempDir()
	os.Mkdir(filepath.Join(dir, "tmp"), 0o700)
	proxyPort, ratPort := freePort(t), freePort(t)
	// Two tools: wiki (anyone signed in) and rat (the council), on one
	// port, and rat alone on another.
	servers := strings.NewReplacer("{{NAME}}", "wiki.stadt.example", "{{LISTEN}}", "listen 127.0.0.1:{{PROXY}};").Replace(nginxServer) +
		strings.NewReplacer("{{NAME}}", "rat.stadt.example", "{{LISTEN}}", "listen 127.0.0.1:{{PROXY}}; listen 127.0.0.1:{{RAT}};").Replace(nginxServer)
	conf := strings.NewReplacer("{{SERVERS}}", servers).Replace(nginxConf)
	conf = strings.NewReplacer("{{DIR}}", dir, "{{PROXY}}", fmt.Sprint(proxyPort), "{{RAT}}", fmt.Sprint(ratPort),
		"{{KEYHALL}}", fmt.Sprint(keyhallLn.Addr().(*net.TCPAddr).Port),
		"{{UPSTREAM}}", strings.TrimPrefix(upstream.URL, "http://127.0.0.1:")).Replace(conf)
	os.WriteFile(filepath.Join(dir, "nginx.conf"), []byte(conf), 0o600)
	cmd := exec.Command("/usr/sbin/nginx", "-p", dir, "-c", filepath.Join(dir, "nginx.conf"), "-e", "stderr")
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} // master and workers, stopped together
	cmd.WaitDelay = 5 * time.Second
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		cmd.Wait()
	}()

	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	get := func(cookie string, headers ...string) (*http.Response, string) {
		t.Helper()
		req, _ := http.NewRequest("GET", fmt.Sprintf("http://127.0.0.1:%d/seite?x=1", proxyPort), nil)
		req.Host = "wiki.stadt.example"
		if cookie != "" {
			req.Header.Set("Cookie", ForwardAuthCookie+"="+f.fwdCookie(cookie))
		}
		for i := 0; i+1 < len(headers); i += 2 {
			req.Header.Set(headers[i], headers[i+1])
		}
		var resp *http.Response
		for range 100 { // nginx takes a moment to listen
			if resp, err = client.Do(req); err == nil {
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
		if err != nil {
			t.Fatalf("nginx does not answer: %v\n%s", err, out.String())
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp, string(body)
	}

	// Without a session: sent to sign in, and forged headers never arrive.
	resp, _ := get("", "Remote-User", "admin", "Remote-Groups", "keyhall-admins")
	if resp.StatusCode != 302 || !strings.Contains(resp.Header.Get("Location"), "/login?return_to=http://wiki.stadt.example/seite") {
		t.Fatalf("without a session: %d Location %q, want a redirect to sign in", resp.StatusCode, resp.Header.Get("Location"))
	}

	// With a session: the upstream sees who it is, and only that.
	bob, _ := f.session(t, f.bob, authn.LevelPhrh)
	resp, body := get(bob, "Remote-User", "admin", "Remote-Groups", "keyhall-admins", "Remote-Email", "forged@evil.example")
	if resp.StatusCode != 200 {
		t.Fatalf("with a session: %d %s", resp.StatusCode, body)
	}
	want := "Remote-User=bob\nRemote-Name=Bob Müller\nRemote-Email=bob@stadt.example\nRemote-Groups=\n"
	if body != want {
		t.Errorf("upstream saw:\n%s\nwant:\n%s", body, want)
	}

	// Bob is not of the council. nginx chooses the server by the request
	// line's host (absolute form) or, on a port where rat is alone, by
	// nothing at all; the Host header he sends must not decide which
	// tool Keyhall checks.
	raw := func(port int, request string) int {
		t.Helper()
		conn, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		fmt.Fprint(conn, request)
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil {
			t.Fatalf("%q: %v", request, err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	cookie := "Cookie: " + ForwardAuthCookie + "=" + f.fwdCookie(bob) + "\r\n"
	for _, tc := range []struct {
		port    int
		request string
	}{
		{proxyPort, "GET http://rat.stadt.example/seite HTTP/1.1\r\nHost: wiki.stadt.example\r\n" + cookie + "Connection: close\r\n\r\n"},
		{ratPort, "GET /seite HTTP/1.1\r\nHost: wiki.stadt.example\r\n" + cookie + "Connection: close\r\n\r\n"},
	} {
		if code := raw(tc.port, tc.request); code != http.StatusForbidden {
			t.Errorf("bob asked rat for %q: %d, want 403", tc.request, code)
		}
	}
	anna, _ := f.session(t, f.anna, authn.LevelPhrh)
	if code := raw(proxyPort, "GET /seite HTTP/1.1\r\nHost: rat.stadt.example\r\nCookie: "+ForwardAuthCookie+"="+f.fwdCookie(anna)+"\r\nConnection: close\r\n\r\n"); code != 200 {
		t.Errorf("anna asked rat: %d, want 200", code)
	}
	// A session from a recovery code may only add a factor: it reaches no
	// tool, though anna may use rat.
	id := make([]byte, sessionIDLen)
	rand.Read(id)
	now := time.Now()
	if err := f.st.CreateSession(context.Background(), authn.Session{Hash: authn.HashSessionID(id), UserID: f.anna.ID,
		AMR: []string{"otp", "pwd", "mfa"}, ACR: string(authn.LevelMFA), AuthTime: now, CreatedAt: now, LastSeenAt: now,
		ExpiresAt: now.Add(time.Hour), RecoveryOnly: true}); err != nil {
		t.Fatal(err)
	}
	recovery := base64.RawURLEncoding.EncodeToString(id)
	if code := raw(proxyPort, "GET /seite HTTP/1.1\r\nHost: rat.stadt.example\r\nCookie: "+ForwardAuthCookie+"="+f.fwdCookie(recovery)+"\r\nConnection: close\r\n\r\n"); code != http.StatusFound {
		t.Errorf("anna, signed in with a recovery code, asked rat: %d, want 302 to sign in", code)
	}
	// /geheim/ asks for a hardware key; signed in with an app, she may not
	// reach it by another spelling nginx passes on as it is.
	annaApp, _ := f.session(t, f.anna, authn.LevelMFA)
	// The paths go over a raw connection: curl and Go's client drop a
	// "#" and what follows, nginx passes it on in $request_uri, and a
	// file server behind it resolves the rest ("/offen#/../geheim/x" is
	// /geheim/x to it).
	for _, path := range []string{"/geheim/x", "//geheim/x", "/./geheim/x", "/offen/../geheim/x", "/%2Fgeheim/x", "/GEHEIM/x",
		"/offen#/../geheim/x", "/offen?#/../geheim/x", "/offen%23/../geheim/x", "/offen%C0%AF..%C0%AFgeheim/x",
		"/offen/\xc0\xaf../geheim/x", "http://rat.stadt.example/offen#/../geheim/x", "/gehe%C4%B1m/x"} {
		if code := raw(proxyPort, "GET "+path+" HTTP/1.1\r\nHost: rat.stadt.example\r\nCookie: "+ForwardAuthCookie+"="+f.fwdCookie(annaApp)+"\r\nConnection: close\r\n\r\n"); code == 200 {
			t.Errorf("anna, signed in with an app, reached %q through nginx", path)
		}
	}

	// A person without e-mail: the forged header is dropped, not passed on.
	ctx := context.Background()
	if _, err := f.st.UpdateUser(ctx, f.bob.ID, func(u authn.User) (authn.User, error) { u.Email = ""; return u, nil },
		authn.AuditEvent{Time: time.Now(), Actor: "test", Action: "user.update"}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(authn.SessionCacheTTL)
	_, body = get(bob, "Remote-Email", "forged@evil.example")
	if strings.Contains(body, "forged") {
		t.Errorf("a forged Remote-Email reached the upstream:\n%s", body)
	}
}
