package web

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/base64"
	"html"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/keyhall/keyhall/authn"
	"github.com/keyhall/keyhall/authn/sqlstore"
)

// fwdFixture is a server with forward-auth rules on a real store (SQLite
// unless said otherwise), with anna (group rat) and bob (no group).
type fwdFixture struct {
	srv  *Server
	st   *sqlstore.Store
	anna authn.User
	bob  authn.User
}

func newFwdFixture(t testing.TB) *fwdFixture {
	t.Helper()
	return newFwdFixtureAt(t, "sqlite://"+filepath.Join(t.TempDir(), "k.db"))
}

// newFwdFixtureAt is newFwdFixture on the database at dsn (sqlstore.Open);
// more may change the server's Config.
func newFwdFixtureAt(t testing.TB, dsn string, more ...func(*Config)) *fwdFixture {
	t.Helper()
	ctx := context.Background()
	st, err := sqlstore.Open(ctx, dsn, sqlstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	u, _ := url.Parse("http://localhost:8080")
	var key [32]byte
	rand.Read(key[:])
	fake := make([]byte, 32)
	rand.Read(fake)
	cfg := Config{PublicURL: u, SignIn: authn.SignInConfig{EncryptionKey: key, FakeIDKey: fake, Argon2: testArgon2}, ForwardAuth: ForwardAuthConfig{
		CookieDomain: "stadt.example",
		Rules: []ForwardAuthRule{
			{Host: "wiki.stadt.example"},
			{Host: "rat.stadt.example", Groups: []string{"rat"}},
			{Host: "rat.stadt.example", PathPrefix: "/geheim/", Groups: []string{"rat"}, Level: authn.LevelPhrh},
		},
	}}
	for _, m := range more {
		m(&cfg)
	}
	srv, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.SetStore(st, nil); err != nil {
		t.Fatalf("SetStore: %v", err) // the sign-in service must work, as in serve
	}
	f := &fwdFixture{srv: srv, st: st}
	now := time.Now().UTC()
	ev := authn.AuditEvent{Time: now, Actor: "test", Action: "test"}
	rat := authn.Group{ID: authn.NewID(), Name: "rat", Source: authn.SourceLocal, CreatedAt: now}
	if err := st.CreateGroup(ctx, rat, ev); err != nil {
		t.Fatal(err)
	}
	for _, p := range []*authn.User{&f.anna, &f.bob} {
		name := map[*authn.User]string{&f.anna: "anna", &f.bob: "bob"}[p]
		*p = authn.User{ID: authn.NewID(), Username: name, DisplayName: strings.ToUpper(name[:1]) + name[1:] + " Müller",
			Email: name + "@stadt.example", Status: authn.StatusActive, Source: authn.SourceLocal, CreatedAt: now, UpdatedAt: now}
		if err := st.CreateUser(ctx, *p, ev); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.AddMember(ctx, rat.ID, f.anna.ID, ev); err != nil {
		t.Fatal(err)
	}
	return f
}

// fwdCookie returns the forward-auth cookie's value for the session whose
// host cookie is cookie (anything else unchanged: a garbled cookie).
func (f *fwdFixture) fwdCookie(cookie string) string {
	if h, ok := sessionCookieHash(cookie); ok {
		return f.srv.sealForwardCookie(h)
	}
	return cookie
}

// session stores a session for u at level acr and returns its cookie value.
func (f *fwdFixture) session(t testing.TB, u authn.User, acr authn.Level) (string, authn.SessionHash) {
	t.Helper()
	id := make([]byte, 32)
	rand.Read(id)
	now := time.Now()
	s := authn.Session{Hash: authn.HashSessionID(id), UserID: u.ID, AMR: []string{"hwk", "user", "mfa"}, ACR: string(acr),
		AuthTime: now, CreatedAt: now, LastSeenAt: now, ExpiresAt: now.Add(time.Hour)}
	if err := f.st.CreateSession(context.Background(), s); err != nil {
		t.Fatal(err)
	}
	return base64.RawURLEncoding.EncodeToString(id), s.Hash
}

func (f *fwdFixture) verify(headers map[string]string, cookie string) *httptest.ResponseRecorder {
	req := httptest.NewRequest("GET", "http://localhost:8080/auth/verify", nil)
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	if cookie != "" {
		req.Header.Set("Cookie", ForwardAuthCookie+"="+f.fwdCookie(cookie))
	}
	rec := httptest.NewRecorder()
	f.srv.ServeHTTP(rec, req)
	return rec
}

func nginxHeaders(u string) map[string]string { return map[string]string{"X-Original-URL": u} }

// withClientOriginal adds an X-Original-URL to h, as a client would send it
// through Traefik or Caddy.
// withHeader returns h with name set to value.
func withHeader(h map[string]string, name, value string) map[string]string {
	h[name] = value
	return h
}

func withClientOriginal(h map[string]string, u string) map[string]string {
	h["X-Original-URL"] = u
	return h
}

func traefikHeaders(proto, host, uri string) map[string]string {
	return map[string]string{"X-Forwarded-Proto": proto, "X-Forwarded-Host": host, "X-Forwarded-Uri": uri, "X-Forwarded-Method": "GET"}
}

func TestVerify(t *testing.T) {
	f := newFwdFixture(t)
	annaKey, _ := f.session(t, f.anna, authn.LevelPhrh)
	annaApp, _ := f.session(t, f.anna, authn.LevelMFA)
	bob, _ := f.session(t, f.bob, authn.LevelPhrh)
	tests := []struct {
		name    string
		headers map[string]string
		cookie  string
		want    int
		user    string
	}{
		{"no forwarded headers", nil, annaKey, 400, ""},
		{"half the traefik headers", map[string]string{"X-Forwarded-Host": "wiki.stadt.example"}, annaKey, 400, ""},
		{"uri without slash", traefikHeaders("https", "wiki.stadt.example", "x"), annaKey, 400, ""},
		{"other scheme", nginxHeaders("ftp://wiki.stadt.example/"), annaKey, 400, ""},
		{"user info", nginxHeaders("https://x@wiki.stadt.example/"), annaKey, 400, ""},
		{"unknown host", nginxHeaders("https://evil.example/"), annaKey, 403, ""},
		{"look-alike host", nginxHeaders("https://wiki.stadt.example.evil/"), annaKey, 403, ""},
		{"nginx, no session", nginxHeaders("https://wiki.stadt.example/"), "", 401, ""},
		{"nginx, garbled cookie", nginxHeaders("https://wiki.stadt.example/"), "garbage", 401, ""},
		{"nginx, unknown session", nginxHeaders("https://wiki.stadt.example/"), strings.Repeat("A", 43), 401, ""},
		{"traefik, no session", traefikHeaders("https", "wiki.stadt.example", "/a?b=c"), "", 302, ""},
		{"anyone signed in", nginxHeaders("https://wiki.stadt.example/"), bob, 200, "bob"},
		{"group member", nginxHeaders("https://rat.stadt.example/"), annaKey, 200, "anna"},
		{"not a member", nginxHeaders("https://rat.stadt.example/"), bob, 403, ""},
		// Traefik and Caddy pass on a client's own headers: an X-Original-URL
		// for an address bob may use must not stand for the one he asked for.
		{"client's X-Original-URL through traefik", withClientOriginal(traefikHeaders("https", "rat.stadt.example", "/vertraulich/"),
			"https://wiki.stadt.example/"), bob, 400, ""},
		{"client's X-Original-URL, no session", withClientOriginal(traefikHeaders("https", "rat.stadt.example", "/"),
			"https://wiki.stadt.example/"), "", 400, ""},
		{"member with app, key needed", nginxHeaders("https://rat.stadt.example/geheim/x"), annaApp, 401, ""},
		{"member with key, key needed", nginxHeaders("https://rat.stadt.example/geheim/x"), annaKey, 200, "anna"},
		{"member with app, other path", nginxHeaders("https://rat.stadt.example/offen"), annaApp, 200, "anna"},
		// Spellings of /geheim/ that tools resolve to it (a reviewer's
		// finding: a file server behind nginx served each of them) are
		// refused on a host with path rules, or held to the rule they may
		// mean: case-insensitive tools, ";" parameters (Tomcat).
		{"empty segment", nginxHeaders("https://rat.stadt.example//geheim/x"), annaApp, 400, ""},
		{"dot-dot segment", nginxHeaders("https://rat.stadt.example/offen/../geheim/x"), annaApp, 400, ""},
		{"dot-dot with parameter", nginxHeaders("https://rat.stadt.example/offen/..;/geheim/x"), annaApp, 400, ""},
		{"dot segment", nginxHeaders("https://rat.stadt.example/./geheim/x"), annaApp, 400, ""},
		{"encoded slash", nginxHeaders("https://rat.stadt.example/%2Fgeheim/x"), annaApp, 400, ""},
		{"encoded backslash", nginxHeaders("https://rat.stadt.example/offen%5C..%5Cgeheim/x"), annaApp, 400, ""},
		{"dot segments through traefik", traefikHeaders("https", "rat.stadt.example", "/offen/../geheim/x"), annaApp, 400, ""},
		// Windows (IIS, a file server on Windows) reads these as /geheim/.
		{"trailing dot", nginxHeaders("https://rat.stadt.example/geheim./x"), annaApp, 400, ""},
		{"encoded trailing dot", nginxHeaders("https://rat.stadt.example/geheim%2e/x"), annaApp, 400, ""},
		{"trailing space", nginxHeaders("https://rat.stadt.example/geheim%20/x"), annaApp, 400, ""},
		{"trailing dot, traefik", traefikHeaders("https", "rat.stadt.example", "/geheim./x"), annaApp, 400, ""},
		{"NTFS stream", nginxHeaders("https://rat.stadt.example/geheim::$INDEX_ALLOCATION/x"), annaApp, 400, ""},
		{"NTFS named stream", nginxHeaders("https://rat.stadt.example/geheim:$I30:$INDEX_ALLOCATION/x"), annaApp, 400, ""},
		{"8.3 short name", nginxHeaders("https://rat.stadt.example/GEHEIM~1/x"), annaApp, 400, ""},
		{"a dot inside a name", nginxHeaders("https://rat.stadt.example/offen/bericht.pdf"), annaApp, 200, "anna"},
		{"a colon inside a name", nginxHeaders("https://rat.stadt.example/offen/Spezial:Suche"), annaApp, 200, "anna"},
		{"a tilde inside a name", nginxHeaders("https://rat.stadt.example/~anna/x~y"), annaApp, 200, "anna"},
		{"a prefix stripped ahead (Traefik stripPrefix)", withHeader(traefikHeaders("https", "rat.stadt.example", "/x"), "X-Forwarded-Prefix", "/geheim"), annaApp, 400, ""},
		{"a prefix stripped where no path has rules", withHeader(traefikHeaders("https", "wiki.stadt.example", "/x"), "X-Forwarded-Prefix", "/app"), bob, 200, "bob"},
		{"upper case, app", nginxHeaders("https://rat.stadt.example/GEHEIM/x"), annaApp, 401, ""},
		{"upper case, key", nginxHeaders("https://rat.stadt.example/GEHEIM/x"), annaKey, 200, "anna"},
		{"dotless i, app", nginxHeaders("https://rat.stadt.example/gehe%C4%B1m/x"), annaApp, 401, ""},
		{"dotted capital I, app", nginxHeaders("https://rat.stadt.example/GEHE%C4%B0M/x"), annaApp, 401, ""},
		{"dotless i, key", nginxHeaders("https://rat.stadt.example/gehe%C4%B1m/x"), annaKey, 200, "anna"},
		{"parameter, app", nginxHeaders("https://rat.stadt.example/geheim;jsessionid=1/x"), annaApp, 401, ""},
		{"parameter, key", nginxHeaders("https://rat.stadt.example/geheim;jsessionid=1/x"), annaKey, 200, "anna"},
		{"the prefix without its slash, app", nginxHeaders("https://rat.stadt.example/geheim"), annaApp, 401, ""},
		{"the prefix without its slash, upper case, app", nginxHeaders("https://rat.stadt.example/Geheim?x"), annaApp, 401, ""},
		{"a longer name, app", nginxHeaders("https://rat.stadt.example/geheimnisse"), annaApp, 200, "anna"},
		{"upper case elsewhere, not a member", nginxHeaders("https://rat.stadt.example/OFFEN"), bob, 403, ""},
		{"empty segment where no path has rules", nginxHeaders("https://wiki.stadt.example//a"), bob, 200, "bob"},
		// A "#" has no place in a request target, but nginx and Caddy pass
		// it on: url.Parse would take "/offen" for the path and the rest
		// for a fragment, while a file server behind resolves /geheim/x.
		{"raw #, nginx", nginxHeaders("https://rat.stadt.example/offen#/../geheim/x"), annaApp, 400, ""},
		{"raw #, traefik", traefikHeaders("https", "rat.stadt.example", "/offen#/../geheim/x"), annaApp, 400, ""},
		{"raw # in the query", nginxHeaders("https://rat.stadt.example/offen?#/../geheim/x"), annaApp, 400, ""},
		{"raw # where no path has rules", nginxHeaders("https://wiki.stadt.example/a#b"), bob, 400, ""},
		{"encoded #", nginxHeaders("https://rat.stadt.example/offen%23/../geheim/x"), annaApp, 400, ""},
		{"encoded ? before dot segments", nginxHeaders("https://rat.stadt.example/offen%3F/../geheim/x"), annaApp, 400, ""},
		{"raw space", nginxHeaders("https://wiki.stadt.example/a b"), bob, 400, ""},
		{"raw space, traefik", traefikHeaders("https", "wiki.stadt.example", "/a b"), bob, 400, ""},
		{"raw non-ASCII", nginxHeaders("https://wiki.stadt.example/b\u00fcrger"), bob, 400, ""},
		{"raw bytes that are not UTF-8", nginxHeaders("https://rat.stadt.example/offen/\xc0\xaf../geheim/x"), annaApp, 400, ""},
		{"raw quote", nginxHeaders("https://wiki.stadt.example/a\"b"), bob, 400, ""},
		{"raw tab", traefikHeaders("https", "wiki.stadt.example", "/a\tb"), bob, 400, ""},
		{"raw NUL, traefik", traefikHeaders("https", "wiki.stadt.example", "/a\x00"), bob, 400, ""},
		{"encoded NUL on a host with path rules", nginxHeaders("https://rat.stadt.example/geheim%00/x"), annaApp, 400, ""},
		{"overlong encoded slash", nginxHeaders("https://rat.stadt.example/offen%C0%AF..%C0%AFgeheim/x"), annaApp, 400, ""},
		{"encoded umlaut", nginxHeaders("https://rat.stadt.example/b%C3%BCrger"), annaApp, 200, "anna"},
		{"what browsers send raw in a query", nginxHeaders("https://wiki.stadt.example/a|b^?q={x}|`y`"), bob, 200, "bob"},
		{"no path, nginx", nginxHeaders("https://rat.stadt.example?/geheim/x"), annaApp, 400, ""},
		{"a path in the forwarded host", traefikHeaders("https", "rat.stadt.example/offen?", "/geheim/x"), annaApp, 400, ""},
		{"a fragment in the forwarded host", traefikHeaders("https", "rat.stadt.example/offen#", "/geheim/x"), annaApp, 400, ""},
		{"user info in the forwarded host", traefikHeaders("https", "wiki.stadt.example@rat.stadt.example", "/"), bob, 400, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := f.verify(tt.headers, tt.cookie)
			if rec.Code != tt.want {
				t.Fatalf("status %d (%s), want %d", rec.Code, strings.TrimSpace(rec.Body.String()), tt.want)
			}
			if got := rec.Header().Get("Remote-User"); got != tt.user {
				t.Errorf("Remote-User %q, want %q", got, tt.user)
			}
			if rec.Header().Get("Set-Cookie") != "" {
				t.Error("a check set a cookie")
			}
			// A refusal may reach the browser (Traefik, Caddy): it carries
			// the security headers. The 200 goes only to the proxy.
			if csp := rec.Header().Get("Content-Security-Policy"); (csp != "") != (tt.want != 200) {
				t.Errorf("status %d with Content-Security-Policy %q", rec.Code, csp)
			}
			if rec.Header().Get("Cache-Control") != "no-store" {
				t.Errorf("Cache-Control %q, want no-store", rec.Header().Get("Cache-Control"))
			}
		})
	}

	// A domain cookie set before its value was sealed (the session id
	// itself) still passes until its session ends.
	req := httptest.NewRequest("GET", "http://localhost:8080/auth/verify", nil)
	req.Header.Set("X-Original-URL", "https://rat.stadt.example/")
	req.Header.Set("Cookie", ForwardAuthCookie+"="+annaKey)
	unsealed := httptest.NewRecorder()
	f.srv.ServeHTTP(unsealed, req)
	if unsealed.Code != 200 || unsealed.Header().Get("Remote-User") != "anna" {
		t.Errorf("an unsealed domain cookie: %d %q", unsealed.Code, unsealed.Header().Get("Remote-User"))
	}

	// nginx's 401 is a line of text (nginx shows its own error_page).
	rec := f.verify(nginxHeaders("https://wiki.stadt.example/"), "")
	if rec.Code != 401 || rec.Header().Get("Content-Type") != "text/plain; charset=utf-8" ||
		rec.Body.String() != "Sie sind nicht angemeldet. / You are not signed in.\n" {
		t.Errorf("401 for nginx: %d %q %q", rec.Code, rec.Header().Get("Content-Type"), rec.Body.String())
	}

	rec = f.verify(nginxHeaders("https://rat.stadt.example/"), annaKey)
	for k, v := range map[string]string{"Remote-Name": "Anna Müller", "Remote-Email": "anna@stadt.example", "Remote-Groups": "rat"} {
		if got := rec.Header().Get(k); got != v {
			t.Errorf("%s = %q, want %q", k, got, v)
		}
	}
	rec = f.verify(traefikHeaders("https", "rat.stadt.example", "/geheim/x?y=1"), annaApp)
	loc, _ := url.Parse(rec.Header().Get("Location"))
	if rec.Code != 302 || loc.Path != "/login" || loc.Query().Get("return_to") != "https://rat.stadt.example/geheim/x?y=1" ||
		loc.Query().Get("acr") != "phrh" || !strings.HasPrefix(loc.String(), "http://localhost:8080/") {
		t.Errorf("step-up redirect: %d %s", rec.Code, loc)
	}
}

func TestVerifyRevokedAndDatabaseDown(t *testing.T) {
	f := newFwdFixture(t)
	cookie, h := f.session(t, f.bob, authn.LevelPhrh)
	req := nginxHeaders("https://wiki.stadt.example/")
	if rec := f.verify(req, cookie); rec.Code != 200 {
		t.Fatalf("valid session: %d", rec.Code)
	}
	if err := f.st.RevokeSession(context.Background(), h, time.Now()); err != nil {
		t.Fatal(err)
	}
	if rec := f.verify(req, cookie); rec.Code != 401 {
		t.Fatalf("revoked session, same process: %d, want 401 at once", rec.Code)
	}
	cookie, _ = f.session(t, f.bob, authn.LevelPhrh)
	f.st.Close()
	time.Sleep(authn.SessionCacheTTL) // past any cached answer
	if rec := f.verify(req, cookie); rec.Code != 503 {
		t.Fatalf("database closed: %d, want 503", rec.Code)
	}
}

// TestLoginKeepsForwardAuthReturn: /login keeps an address on a forward-auth
// host to return to after sign-in, and nothing else that is not a path here.
func TestLoginKeepsForwardAuthReturn(t *testing.T) {
	f := newFwdFixture(t)
	for raw, want := range map[string]string{
		"https://wiki.stadt.example/seite?x=1": "https://wiki.stadt.example/seite?x=1",
		"https://rat.stadt.example/":           "https://rat.stadt.example/",
		"https://wiki.stadt.example.evil/":     "/account",
		"https://evil.example/":                "/account",
		"//wiki.stadt.example/":                "/account",
		"/account/keys":                        "/account/keys",
	} {
		req := httptest.NewRequest("GET", "/login?return_to="+url.QueryEscape(raw), nil)
		rec := httptest.NewRecorder()
		f.srv.ServeHTTP(rec, req)
		if got := f.srv.returnTo(raw); got != want {
			t.Errorf("returnTo(%q) = %q, want %q", raw, got, want)
		}
		if rec.Code != 200 || !strings.Contains(rec.Body.String(), `value="`+html.EscapeString(want)+`"`) {
			t.Errorf("GET /login?return_to=%s: %d, page does not carry %q", raw, rec.Code, want)
		}
	}
}

// TestDomainCookie: with a cookie domain, signing in also sets a copy of
// the session cookie for the subdomains, and signing out clears it.
func TestDomainCookie(t *testing.T) {
	f := newFwdFixture(t)
	cookie, h := f.session(t, f.bob, authn.LevelPhrh)
	sess, err := f.st.GetSession(context.Background(), h)
	if err != nil {
		t.Fatal(err)
	}
	id, _ := base64.RawURLEncoding.DecodeString(cookie)
	rec0 := httptest.NewRecorder()
	if err := f.srv.sessions.signIn(httptest.NewRequest("POST", "/login/key/finish", nil), rec0, id, sess, f.bob); err != nil {
		t.Fatal(err)
	}
	var domainValue string
	for _, c := range rec0.Result().Cookies() {
		if c.Name == ForwardAuthCookie && c.Domain == "stadt.example" && c.Secure && c.HttpOnly {
			domainValue = c.Value
		}
	}
	if domainValue == "" {
		t.Fatalf("sign-in did not set %s for stadt.example: %v", ForwardAuthCookie, rec0.Result().Cookies())
	}
	// The tools receive it, so it is not the session id: it passes
	// forward-auth and is worth nothing at Keyhall itself.
	if strings.Contains(domainValue, cookie) {
		t.Errorf("the domain cookie %q carries the session id %q", domainValue, cookie)
	}
	req0 := httptest.NewRequest("GET", "http://wiki.stadt.example/auth/verify", nil)
	req0.Header.Set("X-Original-URL", "https://wiki.stadt.example/")
	req0.Header.Set("Cookie", ForwardAuthCookie+"="+domainValue)
	rec1 := httptest.NewRecorder()
	f.srv.ServeHTTP(rec1, req0)
	if rec1.Code != 200 || rec1.Header().Get("Remote-User") != "bob" {
		t.Errorf("forward-auth with the domain cookie: %d %q", rec1.Code, rec1.Header().Get("Remote-User"))
	}
	for _, path := range []string{"/account", "/api/session"} {
		req := httptest.NewRequest("GET", path, nil)
		req.Header.Set("Cookie", SessionCookie+"="+domainValue)
		rec := httptest.NewRecorder()
		f.srv.ServeHTTP(rec, req)
		if strings.Contains(rec.Body.String(), "bob") || rec.Code == 200 && path == "/api/session" {
			t.Errorf("the domain cookie's value as the session cookie at %s: %d %.200s", path, rec.Code, rec.Body.String())
		}
	}
	// Another installation's key, or a changed byte, opens nothing.
	other := &Server{}
	other.fwdAEAD, _ = newCookieAEAD([32]byte{1}, fwdCookiePurpose)
	if _, ok := other.openForwardCookie(domainValue); ok {
		t.Error("a forward-auth cookie opened under another key")
	}
	if _, ok := f.srv.openForwardCookie(domainValue[:10] + string('A'+'B'-rune(domainValue[10])%2) + domainValue[11:]); ok {
		t.Error("a changed forward-auth cookie opened")
	}
	req := httptest.NewRequest("POST", "/logout", nil)
	req.Header.Set("Cookie", SessionCookie+"="+cookie)
	rec := httptest.NewRecorder()
	f.srv.ServeHTTP(rec, req)
	var cleared bool
	for _, c := range rec.Result().Cookies() {
		if c.Name == ForwardAuthCookie && c.Domain == "stadt.example" && c.MaxAge < 0 && c.Secure && c.HttpOnly {
			cleared = true
		}
	}
	if !cleared {
		t.Errorf("sign-out did not clear %s for stadt.example: %v", ForwardAuthCookie, rec.Result().Cookies())
	}
	if rec := f.verify(nginxHeaders("https://wiki.stadt.example/"), cookie); rec.Code != 401 {
		t.Errorf("after sign-out, forward-auth answers %d, want 401", rec.Code)
	}
	req0.Header.Set("Cookie", ForwardAuthCookie+"="+domainValue)
	rec2 := httptest.NewRecorder()
	f.srv.ServeHTTP(rec2, req0)
	if rec2.Code != 401 {
		t.Errorf("after sign-out, forward-auth with the domain cookie answers %d, want 401", rec2.Code)
	}
}

// TestVerifySeesChangesToAPerson: a person taken out of a group, or
// disabled, while her session lives, is refused by forward-auth within
// about a second (the identity cache's lifetime), without any revocation.
func TestVerifySeesChangesToAPerson(t *testing.T) {
	f := newFwdFixture(t)
	ctx := context.Background()
	ev := authn.AuditEvent{Time: time.Now().UTC(), Actor: "test", Action: "test"}
	annaKey, _ := f.session(t, f.anna, authn.LevelPhrh)
	bobKey, _ := f.session(t, f.bob, authn.LevelPhrh)
	refusedWithin := func(what, cookie, addr string, change func()) {
		t.Helper()
		if rec := f.verify(nginxHeaders(addr), cookie); rec.Code != 200 {
			t.Fatalf("%s: before the change: %d", what, rec.Code)
		}
		change()
		start := time.Now()
		for f.verify(nginxHeaders(addr), cookie).Code == 200 {
			if time.Since(start) > 3*time.Second {
				t.Fatalf("%s: still admitted after %v", what, time.Since(start))
			}
			time.Sleep(20 * time.Millisecond)
		}
		if d := time.Since(start); d > 1500*time.Millisecond {
			t.Errorf("%s: refused only after %v, want about a second at most", what, d)
		}
	}
	refusedWithin("taken out of rat", annaKey, "https://rat.stadt.example/", func() {
		rat, err := f.st.GetGroupByName(ctx, "rat")
		if err != nil {
			t.Fatal(err)
		}
		if err := f.st.RemoveMember(ctx, rat.ID, f.anna.ID, ev); err != nil {
			t.Fatal(err)
		}
	})
	refusedWithin("disabled", bobKey, "https://wiki.stadt.example/", func() {
		_, err := f.st.UpdateUser(ctx, f.bob.ID, func(u authn.User) (authn.User, error) {
			u.Status = authn.StatusDisabled
			return u, nil
		}, ev)
		if err != nil {
			t.Fatal(err)
		}
	})
}

// TestVerifyShortcut: /auth/verify skips the routing table (Server.ServeHTTP);
// it must answer as the table would, for any method, and count under its
// route. Other spellings of the path take the table and get the same answer.
func TestVerifyShortcut(t *testing.T) {
	f := newFwdFixture(t)
	anna, _ := f.session(t, f.anna, authn.LevelPhrh)
	for _, tc := range []struct {
		method, target string
		want           int
		user           string
	}{
		{"GET", "/auth/verify", 200, "anna"},
		{"POST", "/auth/verify", 200, "anna"},
		{"HEAD", "/auth/verify?x=1", 200, "anna"},
		{"GET", "/auth/%76erify", 200, "anna"}, // the table decodes it
		{"GET", "/auth/verify/", 404, ""},
		{"GET", "/auth/Verify", 404, ""},
		{"GET", "/auth/./verify", 307, ""}, // the table cleans it
	} {
		req := httptest.NewRequest(tc.method, "http://localhost:8080"+tc.target, nil)
		req.Header.Set("X-Original-URL", "https://rat.stadt.example/")
		req.Header.Set("Cookie", "lang=de; "+ForwardAuthCookie+"="+anna)
		rec := httptest.NewRecorder()
		f.srv.ServeHTTP(rec, req)
		if rec.Code != tc.want || rec.Header().Get("Remote-User") != tc.user {
			t.Errorf("%s %s: %d, Remote-User %q; want %d, %q", tc.method, tc.target, rec.Code, rec.Header().Get("Remote-User"), tc.want, tc.user)
		}
	}
	rec := httptest.NewRecorder()
	f.srv.MetricsHandler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	if want := `keyhall_http_requests_total{code="2xx",route="/auth/verify"} 4`; !strings.Contains(rec.Body.String(), want) {
		t.Errorf("/metrics lacks %q", want)
	}
}

// TestVerifyShortcutSameAsTable holds the shortcut to the routing table and
// its middleware (Server.handler) over many shapes of request: every
// answer, status, headers and body, must be the same. A route or a
// middleware added later that /auth/verify should have fails it.
func TestVerifyShortcutSameAsTable(t *testing.T) {
	f := newFwdFixture(t)
	anna, _ := f.session(t, f.anna, authn.LevelPhrh)
	bob, _ := f.session(t, f.bob, authn.LevelPhrh)
	targets := []string{"/auth/verify", "/auth/verify?x=1", "http://localhost:8080/auth/verify", "http://evil.example/auth/verify",
		"/auth/verify/", "/auth//verify", "/auth/../auth/verify", "/auth/%76erify", "/Auth/verify", "/auth/verify#x"}
	methods := []string{"GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "PATCH", "FOO"}
	extras := []string{"", "Cookie: " + ForwardAuthCookie + "=" + anna + "\r\n", "Cookie: lang=en; " + ForwardAuthCookie + "=" + bob + "\r\n",
		"Cookie: " + ForwardAuthCookie + "=" + anna + "\r\nSec-Fetch-Site: cross-site\r\nOrigin: https://evil.example\r\n"}
	forwarded := []string{"X-Original-URL: https://rat.stadt.example/\r\n",
		"X-Forwarded-Proto: https\r\nX-Forwarded-Host: wiki.stadt.example\r\nX-Forwarded-Uri: /a\r\n", ""}
	n := 0
	for _, target := range targets {
		for _, method := range methods {
			for _, extra := range extras {
				for _, fwd := range forwarded {
					raw := method + " " + target + " HTTP/1.1\r\nHost: localhost:8080\r\n" + fwd + extra + "\r\n"
					answer := func(h http.Handler) *httptest.ResponseRecorder {
						req, err := http.ReadRequest(bufio.NewReader(strings.NewReader(raw)))
						if err != nil {
							return nil
						}
						req.RemoteAddr = "192.0.2.1:1234"
						rec := httptest.NewRecorder()
						h.ServeHTTP(rec, req)
						return rec
					}
					short, table := answer(f.srv), answer(f.srv.handler)
					if short == nil {
						continue
					}
					n++
					if short.Code != table.Code || !reflect.DeepEqual(short.Header(), table.Header()) || short.Body.String() != table.Body.String() {
						t.Errorf("%q:\nshortcut %d %v %q\ntable    %d %v %q", raw, short.Code, short.Header(), short.Body.String(),
							table.Code, table.Header(), table.Body.String())
					}
				}
			}
		}
	}
	if n < 500 {
		t.Errorf("only %d requests compared", n)
	}
}

// FuzzOriginalURL: whatever a proxy or a client puts in the forwarded
// headers, originalURL never panics, and an address it accepts is an
// absolute http(s) address without user info, never one chosen by an
// X-Original-URL next to Traefik's or Caddy's X-Forwarded-Uri.
func FuzzOriginalURL(f *testing.F) {
	f.Add("https://wiki.stadt.example/", "", "", "")
	f.Add("", "https", "rat.stadt.example", "/a?b=c")
	f.Add("https://wiki.stadt.example/", "https", "rat.stadt.example", "/vertraulich/")
	f.Add("https://x@wiki.stadt.example\\@evil/", "", "", "")
	f.Add("https://rat.stadt.example/offen#/../geheim/x", "", "", "")
	f.Add("", "https", "rat.stadt.example", "/offen#/../geheim/x")
	f.Add("", "https", "rat.stadt.example/offen?", "/geheim/x")
	f.Add("https://rat.stadt.example?/geheim/x", "", "", "")
	f.Add("https://wiki.stadt.example/b\xfcrger", "", "", "")
	f.Fuzz(func(t *testing.T, original, proto, host, uri string) {
		h := http.Header{}
		for k, v := range map[string]string{"X-Original-Url": original, "X-Forwarded-Proto": proto,
			"X-Forwarded-Host": host, "X-Forwarded-Uri": uri} {
			if v != "" {
				h.Set(k, v)
			}
		}
		u, _, err := originalURL(h)
		if err != nil {
			return
		}
		if original != "" && uri != "" {
			t.Fatalf("accepted %v with both X-Original-URL and X-Forwarded-Uri", u)
		}
		if (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil {
			t.Fatalf("accepted %#v", u)
		}
		// What the rules see is what the tool gets: the path is the whole
		// request target up to its query, nothing is left over as a
		// fragment, and the host is the forwarded host, whole.
		if u.Fragment != "" || u.RawFragment != "" || !strings.HasPrefix(u.Path, "/") || forbiddenInTarget(u.String()) {
			t.Fatalf("accepted %q, read as %#v", original+proto+host+uri, u)
		}
		if uri != "" && (u.Host != host || u.RequestURI() != uri && u.EscapedPath()+"?"+u.RawQuery != uri) {
			t.Fatalf("accepted host %q, uri %q, read as %#v", host, uri, u)
		}
	})
}
