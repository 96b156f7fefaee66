package web

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/keyhall/keyhall/authn"
	"github.com/keyhall/keyhall/enroll"
)

// sessionEnv is a server on which a browser's session is used in every way
// there is: forward-auth (for nginx and for Traefik and Caddy, with the
// domain cookie and with the host cookie), OIDC sign-in for a tool,
// /api/session, and the account pages with their actions. anna has one key.
type sessionEnv struct {
	f    *fixture
	anna authn.User
	key  testKey
}

func newSessionEnv(t *testing.T) *sessionEnv {
	t.Helper()
	var cryptoKey, sealKey [32]byte
	rand.Read(cryptoKey[:])
	rand.Read(sealKey[:])
	_, sum := NewOIDCClientSecret()
	f := newFixture(t, func(c *Config) {
		c.ForwardAuth = ForwardAuthConfig{CookieDomain: "stadt.example", Rules: []ForwardAuthRule{{Host: "wiki.stadt.example"}}}
		c.OIDC = OIDCConfig{CryptoKey: cryptoKey, EncryptionKey: sealKey,
			Clients: []OIDCClient{{ID: "wiki", SecretSHA256: sum[:], RedirectURIs: []string{wikiRedirect}}}}
	})
	f.withEnroll(enroll.Config{Policy: enroll.Policy{Default: enroll.DefaultKeyPolicy()}})
	e := &sessionEnv{f: f, anna: f.addUser("anna"), key: newTestKey(t)}
	f.addKey(e.anna, &e.key, 0)
	f.setPassword(e.anna, testPassword) // an app and recovery codes need it after them
	return e
}

// session stores a session of anna, signed in with her key just now and
// valid for an hour, after change has had its say, and returns its cookie.
func (e *sessionEnv) session(change func(s *authn.Session)) *http.Cookie {
	e.f.t.Helper()
	id := make([]byte, sessionIDLen)
	rand.Read(id)
	now := time.Now()
	s := authn.Session{Hash: authn.HashSessionID(id), UserID: e.anna.ID, AMR: []string{"hwk", "pin", "mfa"}, ACR: string(authn.LevelPhrh),
		AuthTime: now, CreatedAt: now, LastSeenAt: now, ExpiresAt: now.Add(time.Hour)}
	if change != nil {
		change(&s)
	}
	if err := e.f.store.CreateSession(context.Background(), s); err != nil {
		e.f.t.Fatal(err)
	}
	return &http.Cookie{Name: SessionCookie, Value: base64.RawURLEncoding.EncodeToString(id)}
}

// sessionUse is one way a session is used, and whether the request got
// past the session: admitted (the tool, page or action was reached) or
// not. Every use also says no when the answer is neither.
type sessionUse struct {
	name string
	use  func(t *testing.T, e *sessionEnv, c *http.Cookie) (admitted bool, got string)
}

// A tool's uses: through each of them, a session reaches a tool.
var toolUses = []sessionUse{
	{"forward-auth for nginx, domain cookie", func(t *testing.T, e *sessionEnv, c *http.Cookie) (bool, string) {
		return e.verify(c, true, "X-Original-URL", "https://wiki.stadt.example/seite")
	}},
	{"forward-auth for Traefik and Caddy, domain cookie", func(t *testing.T, e *sessionEnv, c *http.Cookie) (bool, string) {
		return e.verify(c, true, "X-Forwarded-Proto", "https", "X-Forwarded-Host", "wiki.stadt.example", "X-Forwarded-Uri", "/seite")
	}},
	{"forward-auth for nginx, host cookie", func(t *testing.T, e *sessionEnv, c *http.Cookie) (bool, string) {
		return e.verify(c, false, "X-Original-URL", "https://wiki.stadt.example/seite")
	}},
	{"forward-auth for Traefik and Caddy, host cookie", func(t *testing.T, e *sessionEnv, c *http.Cookie) (bool, string) {
		return e.verify(c, false, "X-Forwarded-Proto", "https", "X-Forwarded-Host", "wiki.stadt.example", "X-Forwarded-Uri", "/seite")
	}},
	{"OIDC authorize and continue", func(t *testing.T, e *sessionEnv, c *http.Cookie) (bool, string) {
		b := e.f.client()
		b.cookies[c.Name] = c.Value
		q := url.Values{"client_id": {"wiki"}, "redirect_uri": {wikiRedirect}, "response_type": {"code"}, "scope": {"openid"},
			"state": {"st4te"}, "nonce": {"n0nce"}, "code_challenge": {strings.Repeat("a", 43)}, "code_challenge_method": {"S256"}}
		res, _ := b.get(oidcAuthorizePath + "?" + q.Encode())
		if res.StatusCode != http.StatusFound || !strings.HasPrefix(res.Header.Get("Location"), oidcContinuePath) {
			t.Fatalf("authorize: %d to %q, want a redirect to %s", res.StatusCode, res.Header.Get("Location"), oidcContinuePath)
		}
		loc := res.Header.Get("Location")
		res, body := b.get(strings.TrimPrefix(loc, e.f.base))
		loc = res.Header.Get("Location")
		back, _ := url.Parse(loc)
		return res.StatusCode == http.StatusFound && strings.HasPrefix(loc, wikiRedirect) && back.Query().Get("code") != "",
			res.Status + " " + loc + " " + firstLine(body)
	}},
	{"/api/session", func(t *testing.T, e *sessionEnv, c *http.Cookie) (bool, string) {
		w := serve(e.f.srv, "GET", "/api/session", nil, c)
		return w.Code == http.StatusOK && strings.Contains(w.Body.String(), `"preferred_username":"anna"`), w.Result().Status + " " + w.Body.String()
	}},
}

// The account's uses: pages and actions of the person herself.
var accountUses = []sessionUse{
	{"/account", func(t *testing.T, e *sessionEnv, c *http.Cookie) (bool, string) {
		w := serve(e.f.srv, "GET", "/account", nil, c)
		return w.Code == http.StatusOK && strings.Contains(w.Body.String(), "anna"), w.Result().Status + " " + w.Header().Get("Location")
	}},
	{"/account/factors", func(t *testing.T, e *sessionEnv, c *http.Cookie) (bool, string) {
		w := serve(e.f.srv, "GET", "/account/factors", nil, c)
		return w.Code == http.StatusOK && strings.Contains(w.Body.String(), `id="add-key"`), w.Result().Status + " " + w.Header().Get("Location")
	}},
	{"add an app", func(t *testing.T, e *sessionEnv, c *http.Cookie) (bool, string) {
		w := serve(e.f.srv, "POST", "/account/factors/add", url.Values{"kind": {"app"}}, c)
		return w.Code == http.StatusOK && strings.Contains(w.Body.String(), "totp-secret"), w.Result().Status + " " + w.Header().Get("Location")
	}},
	{"add a key", func(t *testing.T, e *sessionEnv, c *http.Cookie) (bool, string) {
		w := serve(e.f.srv, "POST", "/account/factors/add", url.Values{"kind": {"key"}}, c)
		return w.Code == http.StatusSeeOther && w.Header().Get("Location") == "/enroll/key", w.Result().Status + " " + w.Header().Get("Location")
	}},
	{"rename a factor", func(t *testing.T, e *sessionEnv, c *http.Cookie) (bool, string) {
		w := serve(e.f.srv, "POST", "/account/factors/rename", url.Values{"id": {e.key.credID}, "nickname": {"Schlüsselbund"}}, c)
		return w.Code == http.StatusSeeOther && strings.HasPrefix(w.Header().Get("Location"), "/account/factors"),
			w.Result().Status + " " + w.Header().Get("Location") + firstLine(w.Body.String())
	}},
	{"remove a factor", func(t *testing.T, e *sessionEnv, c *http.Cookie) (bool, string) {
		// Her only key: the removal itself is refused, but only after the
		// session was let through.
		w := serve(e.f.srv, "POST", "/account/factors/remove", url.Values{"id": {e.key.credID}, "confirm": {"yes"}}, c)
		return w.Code == http.StatusConflict && strings.Contains(w.Body.String(), msgFactorLast.DE),
			w.Result().Status + " " + w.Header().Get("Location")
	}},
	{"new recovery codes", func(t *testing.T, e *sessionEnv, c *http.Cookie) (bool, string) {
		w := serve(e.f.srv, "POST", "/account/factors/recovery", url.Values{}, c)
		return w.Code == http.StatusOK && strings.Contains(w.Body.String(), "recovery-codes"), w.Result().Status + " " + w.Header().Get("Location")
	}},
}

// The uses that end sessions: last, as they may end the one used too.
var endingUses = []sessionUse{
	{"end another session", func(t *testing.T, e *sessionEnv, c *http.Cookie) (bool, string) {
		other := e.session(nil)
		h, _ := sessionCookieHash(other.Value)
		w := serve(e.f.srv, "POST", "/account/sessions/revoke", url.Values{"session": {sessionHandle(h)}}, c)
		return e.revoked(other), w.Result().Status + " " + w.Header().Get("Location")
	}},
	{"sign out everywhere", func(t *testing.T, e *sessionEnv, c *http.Cookie) (bool, string) {
		other := e.session(nil)
		w := serve(e.f.srv, "POST", "/logout/everywhere", url.Values{}, c)
		return e.revoked(other), w.Result().Status + " " + w.Header().Get("Location")
	}},
}

// revoked says whether the session behind c has been revoked.
func (e *sessionEnv) revoked(c *http.Cookie) bool {
	h, _ := sessionCookieHash(c.Value)
	s, err := e.f.store.GetSession(context.Background(), h)
	if err != nil {
		e.f.t.Fatal(err)
	}
	return !s.RevokedAt.IsZero()
}

// verify asks /auth/verify with the session in the domain cookie (sealed)
// or in the host cookie, and the forwarded headers kv.
func (e *sessionEnv) verify(c *http.Cookie, domain bool, kv ...string) (bool, string) {
	req := httptest.NewRequest("GET", e.f.base+verifyPath, nil)
	for i := 0; i+1 < len(kv); i += 2 {
		req.Header.Set(kv[i], kv[i+1])
	}
	if domain {
		h, ok := sessionCookieHash(c.Value)
		if !ok {
			e.f.t.Fatal("not a session cookie")
		}
		req.AddCookie(&http.Cookie{Name: ForwardAuthCookie, Value: e.f.srv.sealForwardCookie(h)})
	} else {
		req.AddCookie(c)
	}
	w := httptest.NewRecorder()
	e.f.srv.ServeHTTP(w, req)
	return w.Code == http.StatusOK && w.Header().Get("Remote-User") == "anna", w.Result().Status + " " + w.Header().Get("Location")
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(strings.TrimSpace(s), "\n")
	return s
}

// reach uses the session in each of uses and returns the names of those
// that admitted it, and what each answered.
func (e *sessionEnv) reach(t *testing.T, c *http.Cookie, uses []sessionUse) (admitted []string, answers map[string]string) {
	t.Helper()
	answers = map[string]string{}
	for _, u := range uses {
		ok, got := u.use(t, e, c)
		answers[u.name] = got
		if ok {
			admitted = append(admitted, u.name)
		}
	}
	return admitted, answers
}

// names returns the names of uses.
func names(uses ...[]sessionUse) []string {
	var out []string
	for _, us := range uses {
		for _, u := range us {
			out = append(out, u.name)
		}
	}
	return out
}

// checkReach fails t unless, of uses, c is admitted by exactly those
// named in want.
func (e *sessionEnv) checkReach(t *testing.T, what string, c *http.Cookie, uses []sessionUse, want []string) {
	t.Helper()
	got, answers := e.reach(t, c, uses)
	for _, n := range names(uses) {
		if slices.Contains(got, n) != slices.Contains(want, n) {
			t.Errorf("%s, %s: admitted %v, want %v (answer: %s)", what, n, slices.Contains(got, n), slices.Contains(want, n), answers[n])
		}
	}
}

// TestSessionUsesAdmitAGoodSession: a session signed in with a key just now
// gets through every use. The tests of the sessions that must not
// (recovery-only, timed out) rest on it: each refusal there is one of
// these uses refusing.
func TestSessionUsesAdmitAGoodSession(t *testing.T) {
	e := newSessionEnv(t)
	all := slices.Concat(toolUses, accountUses, endingUses)
	e.checkReach(t, "a session with a key", e.session(nil), all, names(all))
}

// TestRecoveryOnlySession: a session from a recovery code may only add a
// new factor. It reaches no tool (forward-auth in both modes and with
// either cookie, OIDC, /api/session) and no account action but adding a
// key or an app; it sees her account, to be led there. (Ending sessions,
// endingUses, takes access away rather than giving it, and the account
// page offers it to her: not judged here.)
func TestRecoveryOnlySession(t *testing.T) {
	e := newSessionEnv(t)
	recovery := e.session(func(s *authn.Session) {
		s.RecoveryOnly, s.AMR, s.ACR = true, []string{"otp", "pwd", "mfa"}, string(authn.LevelMFA)
	})
	e.checkReach(t, "a recovery-only session", recovery, slices.Concat(toolUses, accountUses), []string{"/account", "/account/factors", "add an app", "add a key"})

	// A script asking who is signed in is told why not.
	w := serve(e.f.srv, "GET", "/api/session", nil, recovery)
	if w.Code != http.StatusForbidden || !strings.Contains(w.Body.String(), msgFactorRecoveryOnly.DE) {
		t.Errorf("/api/session: %d %s", w.Code, w.Body.String())
	}
}

// TestTimedOutSession: a session past its absolute end, or not seen for
// longer than the idle timeout, is used nowhere: no tool, no account page.
func TestTimedOutSession(t *testing.T) {
	e := newSessionEnv(t)
	idle := e.f.srv.idle
	for _, tc := range []struct {
		what   string
		change func(s *authn.Session)
	}{
		{"past its absolute end", func(s *authn.Session) {
			s.CreatedAt, s.AuthTime, s.ExpiresAt = s.CreatedAt.Add(-9*time.Hour), s.AuthTime.Add(-time.Minute), time.Now().Add(-time.Second)
		}},
		{"idle too long", func(s *authn.Session) {
			s.CreatedAt, s.AuthTime, s.LastSeenAt = s.CreatedAt.Add(-2*idle), s.AuthTime.Add(-time.Minute), time.Now().Add(-idle-time.Second)
		}},
	} {
		t.Run(tc.what, func(t *testing.T) {
			e.checkReach(t, "a session "+tc.what, e.session(tc.change), slices.Concat(toolUses, accountUses, endingUses), nil)
		})
	}
	// Just within both, it is still good (the limits are where they say).
	within := e.session(func(s *authn.Session) {
		s.LastSeenAt, s.ExpiresAt = time.Now().Add(-idle+time.Minute), time.Now().Add(time.Minute)
	})
	if got, answers := e.reach(t, within, toolUses); len(got) != len(toolUses) {
		t.Errorf("a session within its limits admitted by %v only: %v", got, answers)
	}
}
