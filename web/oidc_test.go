package web

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/keyhall/keyhall/authn"
	"github.com/keyhall/keyhall/authn/sqlstore"
)

// testClock is a settable clock for the server.
type testClock struct {
	mu sync.Mutex // guards t
	t  time.Time
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *testClock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// oidcEnv is a real Keyhall server on 127.0.0.1 (public URL
// http://localhost:PORT) with a SQLite store in a temp dir, and a few
// registered tools.
type oidcEnv struct {
	t       testing.TB
	srv     *Server
	st      *sqlstore.Store
	issuer  string
	clock   *testClock
	secret  string // of the client "wiki"
	anna    authn.User
	logouts chan url.Values // what wiki's back-channel logout URI received
}

const wikiRedirect = "https://wiki.example/callback"

func newOIDCEnv(t testing.TB, mutate func(*OIDCConfig)) *oidcEnv {
	t.Helper()
	return newOIDCEnvOn(t, "sqlite://"+filepath.Join(t.TempDir(), "k.db"), mutate)
}

// newOIDCEnvOn is newOIDCEnv on the database at storage (a sqlite:// or
// postgres:// URL); more may change the server's Config. Its sign-in
// service works: SetStore must not refuse the fixture's keys.
func newOIDCEnvOn(t testing.TB, storage string, mutate func(*OIDCConfig), more ...func(*Config)) *oidcEnv {
	t.Helper()
	e := &oidcEnv{t: t, clock: &testClock{t: time.Now().UTC()}, logouts: make(chan url.Values, 10)}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	e.issuer = "http://localhost:" + strings.TrimPrefix(ln.Addr().String(), "127.0.0.1:")
	rp := newBackchannelReceiver(t, e.logouts)
	secret, sum := NewOIDCClientSecret()
	e.secret = secret
	cfg := OIDCConfig{
		Clients: []OIDCClient{
			{ID: "wiki", SecretSHA256: sum[:], RedirectURIs: []string{wikiRedirect},
				PostLogoutRedirectURIs: []string{"https://wiki.example/bye"}, BackchannelLogoutURI: rp},
			{ID: "app", Native: true, RedirectURIs: []string{"http://127.0.0.1/cb", "de.stadt.app:/cb"}},
			{ID: "council", SecretSHA256: sum[:], RedirectURIs: []string{"https://ris.example/cb"}, Groups: []string{"rat"}},
			{ID: "vote", SecretSHA256: sum[:], RedirectURIs: []string{"https://vote.example/cb"}, Level: authn.LevelPhr},
		},
		BackchannelBackoff: 10 * time.Millisecond,
	}
	rand.Read(cfg.CryptoKey[:])
	rand.Read(cfg.EncryptionKey[:])
	if mutate != nil {
		mutate(&cfg)
	}
	pub, _ := url.Parse(e.issuer)
	quiet := slog.New(slog.DiscardHandler)
	fake := make([]byte, 32)
	rand.Read(fake)
	signIn := authn.SignInConfig{EncryptionKey: cfg.EncryptionKey, FakeIDKey: fake, Argon2: testArgon2}
	sc := Config{PublicURL: pub, Logger: quiet, Now: e.clock.Now, OIDC: cfg, SignIn: signIn}
	for _, m := range more {
		m(&sc)
	}
	e.srv, err = New(sc)
	if err != nil {
		t.Fatal(err)
	}
	e.st, err = sqlstore.Open(t.Context(), storage, sqlstore.Options{Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.srv.SetStore(e.st, nil); err != nil {
		t.Fatalf("SetStore: %v", err)
	}
	hs := &http.Server{Handler: e.srv}
	go hs.Serve(ln)
	t.Cleanup(func() {
		hs.Close()
		e.srv.WaitOIDCLogouts(context.Background())
		e.st.Close()
	})
	e.anna = e.mkUser("anna")
	return e
}

// newBackchannelReceiver is a tool's back-channel logout endpoint.
func newBackchannelReceiver(t testing.TB, got chan<- url.Values) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hs := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.ParseForm()
		got <- r.PostForm
	})}
	go hs.Serve(ln)
	t.Cleanup(func() { hs.Close() })
	return "http://" + ln.Addr().String() + "/backchannel"
}

func (e *oidcEnv) mkUser(name string, groups ...string) authn.User {
	e.t.Helper()
	ctx := e.t.Context()
	ev := authn.AuditEvent{Time: e.clock.Now(), Actor: "test", Action: "user.create", Subject: name, Reason: "test"}
	u := authn.User{ID: authn.NewID(), Username: name, DisplayName: strings.ToUpper(name[:1]) + name[1:],
		Email: name + "@stadt.example", Status: authn.StatusActive, Source: authn.SourceDirectory,
		CreatedAt: e.clock.Now(), UpdatedAt: e.clock.Now()}
	if err := e.st.CreateUser(ctx, u, ev); err != nil {
		e.t.Fatal(err)
	}
	for _, gname := range groups {
		g, err := e.st.GetGroupByName(ctx, gname)
		if err != nil {
			g = authn.Group{ID: authn.NewID(), Name: gname, DisplayName: gname, Source: authn.SourceLocal, CreatedAt: e.clock.Now()}
			if err := e.st.CreateGroup(ctx, g, ev); err != nil {
				e.t.Fatal(err)
			}
		}
		if err := e.st.AddMember(ctx, g.ID, u.ID, ev); err != nil {
			e.t.Fatal(err)
		}
	}
	return u
}

// oidcBrowser follows no redirects by itself and keeps its cookies (Go's
// cookie jar would not send Secure cookies to http://localhost).
type oidcBrowser struct {
	t       *testing.T
	c       *http.Client
	cookies map[string]string
}

func newBrowser(t *testing.T) *oidcBrowser {
	return &oidcBrowser{t: t, cookies: map[string]string{}, c: &http.Client{
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

// get fetches u (relative to base when it is a path) and returns the
// status and the Location header.
func (b *oidcBrowser) get(base, u string) (int, string) {
	b.t.Helper()
	if strings.HasPrefix(u, "/") {
		u = base + u
	}
	req, _ := http.NewRequest("GET", u, nil)
	for k, v := range b.cookies {
		req.AddCookie(&http.Cookie{Name: k, Value: v})
	}
	resp, err := b.c.Do(req)
	if err != nil {
		b.t.Fatalf("GET %s: %v", u, err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	for _, c := range resp.Cookies() {
		if c.MaxAge < 0 {
			delete(b.cookies, c.Name)
		} else {
			b.cookies[c.Name] = c.Value
		}
	}
	return resp.StatusCode, resp.Header.Get("Location")
}

// signIn gives the browser a session of u at level acr, made just now.
func (e *oidcEnv) signIn(b *oidcBrowser, u authn.User, acr string, amr ...string) authn.SessionHash {
	e.t.Helper()
	id := make([]byte, 32)
	rand.Read(id)
	now := e.clock.Now()
	s := authn.Session{Hash: authn.HashSessionID(id), UserID: u.ID, AMR: amr, ACR: acr, AuthTime: now,
		CreatedAt: now, LastSeenAt: now, ExpiresAt: now.Add(8 * time.Hour)}
	if err := e.st.CreateSession(e.t.Context(), s); err != nil {
		e.t.Fatal(err)
	}
	b.cookies[SessionCookie] = base64.RawURLEncoding.EncodeToString(id)
	return s.Hash
}

// rp is a tool using go-oidc and x/oauth2, as a downstream tool would.
type rp struct {
	provider *oidc.Provider
	conf     oauth2.Config
	verifier string
}

func (e *oidcEnv) rp(clientID, secret, redirect string, scopes ...string) *rp {
	e.t.Helper()
	p, err := oidc.NewProvider(e.t.Context(), e.issuer)
	if err != nil {
		e.t.Fatalf("discovery: %v", err)
	}
	return &rp{provider: p, verifier: oauth2.GenerateVerifier(), conf: oauth2.Config{
		ClientID: clientID, ClientSecret: secret, RedirectURL: redirect, Endpoint: p.Endpoint(),
		Scopes: append([]string{oidc.ScopeOpenID}, scopes...),
	}}
}

// authURL is the authorization request with PKCE S256, state and nonce.
func (r *rp) authURL(opts ...oauth2.AuthCodeOption) string {
	return r.conf.AuthCodeURL("st4te", append([]oauth2.AuthCodeOption{oauth2.S256ChallengeOption(r.verifier),
		oidc.Nonce("n0nce")}, opts...)...)
}

// authorize runs the browser from the authorization request to the
// redirect back to the tool and returns that redirect's query.
func (e *oidcEnv) authorize(b *oidcBrowser, authURL string) url.Values {
	e.t.Helper()
	status, loc := b.get(e.issuer, authURL)
	if status != http.StatusFound || !strings.HasPrefix(loc, oidcContinuePath) {
		e.t.Fatalf("authorize: %d to %q, want 302 to %s", status, loc, oidcContinuePath)
	}
	status, loc = b.get(e.issuer, loc)
	if status != http.StatusFound {
		e.t.Fatalf("continue: status %d, want 302", status)
	}
	u, err := url.Parse(loc)
	if err != nil {
		e.t.Fatal(err)
	}
	return u.Query()
}

// code runs a full authorization and returns the code.
func (e *oidcEnv) code(b *oidcBrowser, r *rp, opts ...oauth2.AuthCodeOption) string {
	e.t.Helper()
	q := e.authorize(b, r.authURL(opts...))
	if q.Get("code") == "" || q.Get("state") != "st4te" || q.Get("iss") != e.issuer {
		e.t.Fatalf("authorization response %v: want code, state st4te and iss %s", q, e.issuer)
	}
	return q.Get("code")
}

func TestOIDCCodeFlow(t *testing.T) {
	e := newOIDCEnv(t, nil)
	b := newBrowser(t)
	sess := e.signIn(b, e.anna, "phrh", "hwk", "user", "pwd", "mfa")
	r := e.rp("wiki", e.secret, wikiRedirect, "profile", "email", "groups", oidc.ScopeOfflineAccess)
	tok, err := r.conf.Exchange(t.Context(), e.code(b, r), oauth2.VerifierOption(r.verifier))
	if err != nil {
		t.Fatalf("exchange: %v", err)
	}
	raw, _ := tok.Extra("id_token").(string)
	idt, err := r.provider.Verifier(&oidc.Config{ClientID: "wiki"}).Verify(t.Context(), raw)
	if err != nil {
		t.Fatalf("verify ID token: %v", err)
	}
	var claims struct {
		Sub, Name, Email, Nonce, ACR, SID string
		PreferredUsername                 string   `json:"preferred_username"`
		EmailVerified                     *bool    `json:"email_verified"`
		AMR                               []string `json:"amr"`
		Groups                            []string `json:"groups"`
		AuthTime                          int64    `json:"auth_time"`
	}
	if err := idt.Claims(&claims); err != nil {
		t.Fatal(err)
	}
	if claims.Sub != e.anna.ID || claims.Name != "Anna" || claims.PreferredUsername != "anna" ||
		claims.Email != "anna@stadt.example" || claims.EmailVerified == nil || *claims.EmailVerified ||
		claims.Nonce != "n0nce" || claims.ACR != "phrh" || len(claims.AMR) != 4 || claims.AuthTime == 0 || claims.SID == "" {
		t.Errorf("ID token claims: %+v", claims)
	}
	if tok.RefreshToken == "" {
		t.Fatal("no refresh token for offline_access")
	}

	ui, err := r.provider.UserInfo(t.Context(), oauth2.StaticTokenSource(tok))
	if err != nil || ui.Subject != e.anna.ID || ui.Email != "anna@stadt.example" {
		t.Fatalf("userinfo: %+v, %v", ui, err)
	}

	// Refresh rotates: the new token works, the old one no more.
	tok2, err := r.conf.TokenSource(t.Context(), &oauth2.Token{RefreshToken: tok.RefreshToken}).Token()
	if err != nil || tok2.RefreshToken == "" || tok2.RefreshToken == tok.RefreshToken {
		t.Fatalf("refresh: %+v, %v", tok2, err)
	}
	if raw2, _ := tok2.Extra("id_token").(string); raw2 != "" {
		if _, err := r.provider.Verifier(&oidc.Config{ClientID: "wiki"}).Verify(t.Context(), raw2); err != nil {
			t.Errorf("refreshed ID token: %v", err)
		}
	}

	// Revocation of the access token: userinfo refuses it afterwards.
	revoke(t, e, "wiki", e.secret, tok2.AccessToken)
	if _, err := r.provider.UserInfo(t.Context(), oauth2.StaticTokenSource(tok2)); err == nil {
		t.Error("userinfo accepted a revoked access token")
	}

	// Sign out on Keyhall's page: the tool is told by back-channel logout.
	req, _ := http.NewRequest("POST", e.issuer+"/logout", nil)
	req.AddCookie(&http.Cookie{Name: SessionCookie, Value: b.cookies[SessionCookie]})
	resp, err := b.c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("POST /logout: %d", resp.StatusCode)
	}
	if got, err := e.st.GetSession(t.Context(), sess); err != nil || got.RevokedAt.IsZero() {
		t.Fatalf("session after sign-out: %+v, %v", got, err)
	}
	select {
	case form := <-e.logouts:
		checkLogoutToken(t, e, r, form, e.anna.ID, claims.SID)
	case <-time.After(10 * time.Second):
		t.Fatal("signing out sent no back-channel logout to the tool")
	}
	if _, err := r.conf.TokenSource(t.Context(), &oauth2.Token{RefreshToken: tok2.RefreshToken}).Token(); err == nil {
		t.Error("a refresh token still works after its session ended")
	}
}

func revoke(t *testing.T, e *oidcEnv, client, secret, token string) {
	t.Helper()
	req, _ := http.NewRequest("POST", e.issuer+oidcRevokePath, strings.NewReader(url.Values{"token": {token}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(client, secret)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("revoke: status %d", resp.StatusCode)
	}
}

// checkLogoutToken verifies a logout token as a tool would (OpenID
// Back-Channel Logout 1.0 §2.6).
func checkLogoutToken(t *testing.T, e *oidcEnv, r *rp, form url.Values, sub, sid string) {
	t.Helper()
	v := r.provider.Verifier(&oidc.Config{ClientID: "wiki", SkipExpiryCheck: false})
	lt, err := v.Verify(t.Context(), form.Get("logout_token"))
	if err != nil {
		t.Fatalf("verify logout token: %v", err)
	}
	var c struct {
		Sub, SID, Nonce string
		Events          map[string]any
	}
	if err := lt.Claims(&c); err != nil {
		t.Fatal(err)
	}
	if _, ok := c.Events[backchannelEvent]; !ok || c.Sub != sub || c.SID != sid || c.Nonce != "" {
		t.Errorf("logout token claims: %+v (want sub %s, sid %s)", c, sub, sid)
	}
}
