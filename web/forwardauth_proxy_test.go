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
	"net/url"
	"os"
	"os/exec"
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

// proxyRig is what a real reverse proxy (nginx, Caddy) stands in front of
// in the forward-auth tests: Keyhall (a fwdFixture: wiki for anyone signed
// in, rat for the council, rat's /geheim/ with a hardware key) and a tool
// that echoes the Remote-* headers it receives, both on 127.0.0.1.
type proxyRig struct {
	f                 *fwdFixture
	keyhall, upstream int // ports
	out               *lockedBuffer
	proxy             int // the proxy's port, once started
}

func newProxyRig(t *testing.T) *proxyRig {
	t.Helper()
	f := newFwdFixture(t)
	keyhall := httptest.NewServer(f.srv)
	t.Cleanup(keyhall.Close)
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// What a tool might believe besides Remote-*, sent back for the
		// tests to see: the proxy passes response headers on.
		for _, h := range []string{"X-Original-Url", "X-Rewrite-Url", "X-Forwarded-Uri", "X-Forwarded-Host"} {
			w.Header()["Tool-Saw-"+h] = r.Header.Values(h)
		}
		for _, h := range []string{"Remote-User", "Remote-Name", "Remote-Email", "Remote-Groups"} {
			fmt.Fprintf(w, "%s=%s\n", h, strings.Join(r.Header.Values(h), "|"))
		}
	}))
	t.Cleanup(upstream.Close)
	port := func(s *httptest.Server) int { return s.Listener.Addr().(*net.TCPAddr).Port }
	return &proxyRig{f: f, keyhall: port(keyhall), upstream: port(upstream), out: &lockedBuffer{}}
}

// start runs the proxy (in the foreground, its output to r.out) in a
// process group of its own, stopped with the test, and waits until port
// answers.
func (r *proxyRig) start(t *testing.T, cmd *exec.Cmd, port int) {
	t.Helper()
	cmd.Stdout, cmd.Stderr = r.out, r.out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} // master and workers, stopped together
	cmd.WaitDelay = 5 * time.Second
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		cmd.Wait()
		if t.Failed() {
			t.Logf("proxy output:\n%s", r.out.String())
		}
	})
	r.proxy = port
	for range 200 {
		if c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port)); err == nil {
			c.Close()
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("the proxy does not listen on %d:\n%s", port, r.out.String())
}

// get asks the proxy for http://host/seite?x=1 with the session's
// forward-auth cookie (none for "") and the headers (name, value, …).
func (r *proxyRig) get(t *testing.T, host, cookie string, headers ...string) (*http.Response, string) {
	t.Helper()
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	req, _ := http.NewRequest("GET", fmt.Sprintf("http://127.0.0.1:%d/seite?x=1", r.proxy), nil)
	req.Host = host
	if cookie != "" {
		req.Header.Set("Cookie", ForwardAuthCookie+"="+r.f.fwdCookie(cookie))
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("the proxy does not answer: %v\n%s", err, r.out.String())
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp, string(body)
}

// raw sends request as it is over a new connection to port and returns the
// status of the answer.
func raw(t *testing.T, port int, request string) int {
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

// cookieLine is the Cookie header line of a raw request with cookie's
// forward-auth cookie.
func (r *proxyRig) cookieLine(cookie string) string {
	return "Cookie: " + ForwardAuthCookie + "=" + r.f.fwdCookie(cookie) + "\r\n"
}

// checkDocumented checks what every documented proxy setup
// (docs/forward-auth.md) must hold, through the proxy started on r.proxy.
func (r *proxyRig) checkDocumented(t *testing.T) {
	t.Helper()
	f := r.f
	// Without a session: sent to sign in and back, and forged headers
	// never arrive.
	resp, body := r.get(t, "wiki.stadt.example", "", "Remote-User", "admin", "Remote-Groups", "keyhall-admins")
	loc, _ := url.Parse(resp.Header.Get("Location"))
	if resp.StatusCode != 302 || loc == nil || loc.Path != "/login" || loc.Query().Get("return_to") != "http://wiki.stadt.example/seite?x=1" &&
		loc.Query().Get("return_to") != "http://wiki.stadt.example/seite" {
		t.Fatalf("without a session: %d Location %q, want a redirect to sign in\n%s", resp.StatusCode, resp.Header.Get("Location"), body)
	}

	// With a session: the tool sees who it is, and only that.
	bob, _ := f.session(t, f.bob, authn.LevelPhrh)
	resp, body = r.get(t, "wiki.stadt.example", bob, "Remote-User", "admin", "Remote-Groups", "keyhall-admins",
		"Remote-Email", "forged@evil.example", "Remote-Name", "Forged")
	if resp.StatusCode != 200 {
		t.Fatalf("with a session: %d %s", resp.StatusCode, body)
	}
	want := "Remote-User=bob\nRemote-Name=Bob Müller\nRemote-Email=bob@stadt.example\nRemote-Groups=\n"
	if body != want {
		t.Errorf("upstream saw:\n%s\nwant:\n%s", body, want)
	}
	// Some tools route by X-Original-URL or X-Rewrite-URL (IIS's URL
	// Rewrite, older Symfony and Zend): one the client sent would have the
	// tool serve another page than the one Keyhall checked.
	resp, _ = r.get(t, "wiki.stadt.example", bob, "X-Original-URL", "/geheim/x", "X-Rewrite-URL", "/geheim/x")
	for _, h := range []string{"X-Original-Url", "X-Rewrite-Url"} {
		if got := resp.Header.Values("Tool-Saw-" + h); len(got) > 0 && got[0] != "" {
			t.Errorf("the tool got the client's %s %q", h, got)
		}
	}

	// Bob is not of the council: no header he sends makes Keyhall check
	// the wiki instead.
	for _, forged := range [][]string{
		nil,
		{"X-Original-URL", "http://wiki.stadt.example/seite"},
		{"X-Forwarded-Host", "wiki.stadt.example", "X-Forwarded-Uri", "/seite", "X-Forwarded-Proto", "http"},
	} {
		if resp, body := r.get(t, "rat.stadt.example", bob, forged...); resp.StatusCode == 200 || strings.Contains(body, "Remote-User=bob") {
			t.Errorf("bob asked rat with %q: %d %s", forged, resp.StatusCode, body)
		}
	}
	anna, _ := f.session(t, f.anna, authn.LevelPhrh)
	if resp, body := r.get(t, "rat.stadt.example", anna); resp.StatusCode != 200 || !strings.HasPrefix(body, "Remote-User=anna\n") {
		t.Errorf("anna asked rat: %d %s, want 200", resp.StatusCode, body)
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
	if resp, _ := r.get(t, "rat.stadt.example", base64.RawURLEncoding.EncodeToString(id)); resp.StatusCode != http.StatusFound {
		t.Errorf("anna, signed in with a recovery code, asked rat: %d, want 302 to sign in", resp.StatusCode)
	}
	// /geheim/ asks for a hardware key; signed in with an app, she may not
	// reach it by another spelling the proxy passes on as it is.
	annaApp, _ := f.session(t, f.anna, authn.LevelMFA)
	// The paths go over a raw connection: curl and Go's client drop a
	// "#" and what follows, nginx passes it on in $request_uri, and a
	// file server behind it resolves the rest ("/offen#/../geheim/x" is
	// /geheim/x to it).
	for _, path := range []string{"/geheim/x", "//geheim/x", "/./geheim/x", "/offen/../geheim/x", "/%2Fgeheim/x", "/GEHEIM/x",
		"/offen#/../geheim/x", "/offen?#/../geheim/x", "/offen%23/../geheim/x", "/offen%C0%AF..%C0%AFgeheim/x",
		"/offen/\xc0\xaf../geheim/x", "http://rat.stadt.example/offen#/../geheim/x", "/gehe%C4%B1m/x"} {
		if code := raw(t, r.proxy, "GET "+path+" HTTP/1.1\r\nHost: rat.stadt.example\r\n"+r.cookieLine(annaApp)+"Connection: close\r\n\r\n"); code == 200 {
			t.Errorf("anna, signed in with an app, reached %q through the proxy", path)
		}
	}

	// A person without e-mail: the forged header is dropped, not passed on.
	if _, err := f.st.UpdateUser(context.Background(), f.bob.ID, func(u authn.User) (authn.User, error) { u.Email = ""; return u, nil },
		authn.AuditEvent{Time: time.Now(), Actor: "test", Action: "user.update"}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(authn.SessionCacheTTL)
	if _, body = r.get(t, "wiki.stadt.example", bob, "Remote-Email", "forged@evil.example"); strings.Contains(body, "forged") || !strings.Contains(body, "Remote-User=bob\n") {
		t.Errorf("bob without e-mail, with a forged Remote-Email: the upstream saw\n%s", body)
	}
}
