package web

import (
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/keyhall/keyhall/authn"
)

func TestOIDCRedirectURIExact(t *testing.T) {
	e := newOIDCEnv(t, func(c *OIDCConfig) {
		c.Clients = append(c.Clients, OIDCClient{ID: "local", SecretSHA256: c.Clients[0].SecretSHA256,
			RedirectURIs: []string{"http://localhost:8000/cb"}})
	})
	b := newBrowser(t)
	e.signIn(b, e.anna, "phrh", "hwk")
	tests := []struct{ client, uri string }{
		{"wiki", "https://evil.example/callback"},
		{"wiki", wikiRedirect + "/"},
		{"wiki", "https://WIKI.example/callback"},
		{"wiki", "https://wiki.example/Callback"},
		{"wiki", wikiRedirect + "/more"},
		{"wiki", wikiRedirect + "?x=1"},
		{"wiki", "https://evil@wiki.example/callback"},
		{"wiki", "https://wiki.example@evil.example/callback"},
		{"wiki", "https://wiki.example/%63allback"},
		{"wiki", "https://wiki.example/callback%2F"},
		{"wiki", "https://wiki.example:443/callback"},
		{"wiki", "http://wiki.example/callback"},
		{"wiki", "https://wiki.example/callback#x"},
		{"local", "http://localhost:8001/cb"},
		{"local", "http://127.0.0.1:8000/cb"},
		{"app", "http://localhost:5000/cb"},
		{"app", "http://127.0.0.1:5000/cb/"},
		{"app", "http://127.0.0.2/cb"},
		{"app", "de.stadt.app:/cb/x"},
		{"nobody", wikiRedirect},
	}
	for _, tt := range tests {
		t.Run(tt.client+" "+tt.uri, func(t *testing.T) {
			r := e.rp(tt.client, e.secret, tt.uri)
			status, loc := b.get(e.issuer, r.authURL())
			if status != http.StatusBadRequest || loc != "" {
				t.Errorf("status %d, Location %q: want 400 and no redirect", status, loc)
			}
		})
	}
	for _, ok := range []struct{ client, uri string }{
		{"wiki", wikiRedirect}, {"local", "http://localhost:8000/cb"},
		{"app", "http://127.0.0.1:49152/cb"}, {"app", "de.stadt.app:/cb"},
	} {
		r := e.rp(ok.client, e.secret, ok.uri)
		if q := e.authorize(b, r.authURL()); q.Get("code") == "" {
			t.Errorf("%s %s: no code: %v", ok.client, ok.uri, q)
		}
	}
}

func TestOIDCPKCE(t *testing.T) {
	e := newOIDCEnv(t, nil)
	b := newBrowser(t)
	e.signIn(b, e.anna, "phrh", "hwk")
	r := e.rp("wiki", e.secret, wikiRedirect)
	param := oauth2.SetAuthURLParam
	// Refused when the request is made: no challenge, plain, unknown method.
	for name, opts := range map[string][]oauth2.AuthCodeOption{
		"no challenge": nil,
		"plain":        {param("code_challenge", r.verifier), param("code_challenge_method", "plain")},
		"no method":    {param("code_challenge", oauth2.S256ChallengeFromVerifier(r.verifier))},
		"S512":         {param("code_challenge", "abc"), param("code_challenge_method", "S512")},
	} {
		u := r.conf.AuthCodeURL("st4te", opts...)
		status, loc := b.get(e.issuer, u)
		q := mustQuery(t, loc)
		if status != http.StatusFound || !strings.HasPrefix(loc, wikiRedirect) || q.Get("error") != "invalid_request" ||
			q.Get("iss") != e.issuer || q.Get("code") != "" {
			t.Errorf("%s: %d to %q, want an invalid_request redirect with iss", name, status, loc)
		}
	}
	// Refused at the token endpoint: no verifier, a wrong one.
	for name, opts := range map[string][]oauth2.AuthCodeOption{
		"no verifier":    nil,
		"wrong verifier": {oauth2.VerifierOption(oauth2.GenerateVerifier())},
	} {
		if _, err := r.conf.Exchange(t.Context(), e.code(b, r), opts...); err == nil {
			t.Errorf("%s: exchange succeeded", name)
		}
	}
	// A verifier must be 43 to 128 characters (RFC 7636 §4.1): a shorter
	// one could be guessed from its challenge.
	for _, n := range []int{42, 43, 128, 129} {
		short := e.rp("wiki", e.secret, wikiRedirect)
		short.verifier = strings.Repeat("v", n)
		_, err := short.conf.Exchange(t.Context(), e.code(b, short), oauth2.VerifierOption(short.verifier))
		if ok := n >= 43 && n <= 128; (err == nil) != ok {
			t.Errorf("a verifier of %d characters: exchange error %v, want success %v", n, err, ok)
		}
	}
	// Unknown parameters are ignored (oauth2-proxy sends some).
	code := e.code(b, r, param("approval_prompt", "force"), param("x-whatever", "1"))
	if _, err := r.conf.Exchange(t.Context(), code, oauth2.VerifierOption(r.verifier)); err != nil {
		t.Errorf("exchange with extra parameters: %v", err)
	}
	// A public native app uses PKCE alone.
	app := e.rp("app", "", "http://127.0.0.1:50123/cb")
	if _, err := app.conf.Exchange(t.Context(), e.code(b, app), oauth2.VerifierOption(app.verifier)); err != nil {
		t.Errorf("native app exchange: %v", err)
	}
	wrong := e.rp("wiki", "not-the-secret", wikiRedirect)
	if _, err := wrong.conf.Exchange(t.Context(), e.code(b, wrong), oauth2.VerifierOption(wrong.verifier)); err == nil {
		t.Error("exchange with a wrong client secret succeeded")
	}
}

func mustQuery(t *testing.T, loc string) url.Values {
	t.Helper()
	u, err := url.Parse(loc)
	if err != nil {
		t.Fatal(err)
	}
	return u.Query()
}

func TestOIDCCodeSingleUse(t *testing.T) {
	e := newOIDCEnv(t, nil)
	b := newBrowser(t)
	e.signIn(b, e.anna, "phrh", "hwk")
	r := e.rp("wiki", e.secret, wikiRedirect, oidc.ScopeOfflineAccess)
	code := e.code(b, r)
	tok, err := r.conf.Exchange(t.Context(), code, oauth2.VerifierOption(r.verifier))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.conf.Exchange(t.Context(), code, oauth2.VerifierOption(r.verifier)); err == nil {
		t.Fatal("a code was redeemed twice")
	}
	if _, err := r.provider.UserInfo(t.Context(), oauth2.StaticTokenSource(tok)); err == nil {
		t.Error("the access token from a replayed code still works")
	}
	if _, err := r.conf.TokenSource(t.Context(), &oauth2.Token{RefreshToken: tok.RefreshToken}).Token(); err == nil {
		t.Error("the refresh token from a replayed code still works")
	}

	// A code is bound to its client and lives one minute.
	code = e.code(b, r)
	other := e.rp("council", e.secret, wikiRedirect)
	if _, err := other.conf.Exchange(t.Context(), code, oauth2.VerifierOption(r.verifier)); err == nil {
		t.Error("another client redeemed the code")
	}
	code = e.code(b, r)
	e.clock.Add(61 * time.Second)
	if _, err := r.conf.Exchange(t.Context(), code, oauth2.VerifierOption(r.verifier)); err == nil {
		t.Error("an expired code was redeemed")
	}
}

func TestOIDCRefreshReuseRevokesFamily(t *testing.T) {
	e := newOIDCEnv(t, nil)
	b := newBrowser(t)
	e.signIn(b, e.anna, "phrh", "hwk")
	r := e.rp("wiki", e.secret, wikiRedirect, oidc.ScopeOfflineAccess)
	tok, err := r.conf.Exchange(t.Context(), e.code(b, r), oauth2.VerifierOption(r.verifier))
	if err != nil {
		t.Fatal(err)
	}
	refresh := func(rt string) (*oauth2.Token, error) {
		return r.conf.TokenSource(t.Context(), &oauth2.Token{RefreshToken: rt}).Token()
	}
	tok2, err := refresh(tok.RefreshToken)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := refresh(tok.RefreshToken); err == nil {
		t.Fatal("a rotated refresh token was accepted again")
	}
	if _, err := refresh(tok2.RefreshToken); err == nil {
		t.Error("the newest refresh token of a family still works after a reuse")
	}
	if _, err := r.provider.UserInfo(t.Context(), oauth2.StaticTokenSource(tok2)); err == nil {
		t.Error("an access token of the family still works after a reuse")
	}
}

func TestOIDCStepUpGroupsAndBinding(t *testing.T) {
	e := newOIDCEnv(t, nil)
	b := newBrowser(t)
	e.signIn(b, e.anna, "mfa", "otp", "pwd", "mfa")

	// acr_values, and a client configured for phr: step-up, not refusal.
	for _, tc := range []struct {
		r    *rp
		opts []oauth2.AuthCodeOption
	}{
		{e.rp("wiki", e.secret, wikiRedirect), []oauth2.AuthCodeOption{oauth2.SetAuthURLParam("acr_values", "phr")}},
		{e.rp("vote", e.secret, "https://vote.example/cb"), nil},
	} {
		_, cont := b.get(e.issuer, tc.r.authURL(tc.opts...))
		status, loc := b.get(e.issuer, cont)
		q := mustQuery(t, loc)
		if status != http.StatusFound || !strings.HasPrefix(loc, "/login?") || q.Get("need") != "key" ||
			!strings.HasPrefix(q.Get("return_to"), oidcContinuePath+"?") {
			t.Fatalf("weak session: %d to %q, want /login with need=key", status, loc)
		}
		e.signIn(b, e.anna, "phr", "swk", "user")
		status, loc = b.get(e.issuer, q.Get("return_to"))
		if status != http.StatusFound || mustQuery(t, loc).Get("code") == "" {
			t.Fatalf("after step-up: %d to %q, want a code", status, loc)
		}
		e.signIn(b, e.anna, "mfa", "otp", "pwd", "mfa")
	}

	// Outside the client's groups: a page, no code.
	council := e.rp("council", e.secret, "https://ris.example/cb")
	_, cont := b.get(e.issuer, council.authURL())
	if status, loc := b.get(e.issuer, cont); status != http.StatusForbidden || loc != "" {
		t.Errorf("person outside groups: %d to %q, want 403", status, loc)
	}
	bert := e.mkUser("bert", "rat")
	e.signIn(b, bert, "mfa", "otp", "pwd", "mfa")
	if q := e.authorize(b, council.authURL()); q.Get("code") == "" {
		t.Errorf("member of the group: no code: %v", q)
	}

	// A request id replayed from another browser gets no code, even one
	// that is signed in.
	wiki := e.rp("wiki", e.secret, wikiRedirect)
	_, cont = b.get(e.issuer, wiki.authURL())
	other := newBrowser(t)
	e.signIn(other, e.anna, "phrh", "hwk")
	if status, loc := other.get(e.issuer, cont); status != http.StatusForbidden || loc != "" {
		t.Errorf("replayed request id: %d to %q, want 403", status, loc)
	}
	if status, loc := b.get(e.issuer, cont); status != http.StatusFound || mustQuery(t, loc).Get("code") == "" {
		t.Errorf("the browser that began it: %d to %q, want a code", status, loc)
	}
	// The continue URL works once.
	if status, loc := b.get(e.issuer, cont); status != http.StatusBadRequest || loc != "" {
		t.Errorf("continue twice: %d to %q, want 400", status, loc)
	}
}

// TestOIDCPromptNone: prompt=none never shows a page and never answers for
// someone other than the person the tool names: a person the client's
// groups exclude, or one other than the id_token_hint's, gets the client
// an error, not a page or a code. request_uri is refused, not ignored.
func TestOIDCPromptNone(t *testing.T) {
	e := newOIDCEnv(t, nil)
	anna, bert := newBrowser(t), newBrowser(t)
	e.signIn(anna, e.anna, "phrh", "hwk")
	berta := e.mkUser("bert", "rat")
	e.signIn(bert, berta, "phrh", "hwk")
	none := oauth2.SetAuthURLParam("prompt", "none")
	errorTo := func(b *oidcBrowser, authURL, redirect string) string {
		t.Helper()
		status, loc := b.get(e.issuer, authURL)
		if status == http.StatusFound && strings.HasPrefix(loc, oidcContinuePath) {
			status, loc = b.get(e.issuer, loc)
		}
		q := mustQuery(t, loc)
		if status != http.StatusFound || !strings.HasPrefix(loc, redirect) || q.Get("code") != "" {
			t.Errorf("%s: %d to %q, want an error sent to %s", authURL, status, loc, redirect)
		}
		return q.Get("error")
	}

	council := e.rp("council", e.secret, "https://ris.example/cb")
	if got := errorTo(anna, council.authURL(none), "https://ris.example/cb"); got != "access_denied" {
		t.Errorf("prompt=none, person outside the client's groups: error %q, want access_denied", got)
	}

	wiki := e.rp("wiki", e.secret, wikiRedirect)
	tok, err := wiki.conf.Exchange(t.Context(), e.code(bert, wiki), oauth2.VerifierOption(wiki.verifier))
	if err != nil {
		t.Fatal(err)
	}
	hint := oauth2.SetAuthURLParam("id_token_hint", tok.Extra("id_token").(string))
	if got := errorTo(anna, wiki.authURL(none, hint), wikiRedirect); got != "login_required" {
		t.Errorf("prompt=none, id_token_hint of bert, anna signed in: error %q, want login_required", got)
	}
	if q := e.authorize(bert, wiki.authURL(none, hint)); q.Get("code") == "" {
		t.Errorf("prompt=none, id_token_hint of bert, bert signed in: no code: %v", q)
	}

	requestURI := oauth2.SetAuthURLParam("request_uri", "https://wiki.example/request.jwt")
	if got := errorTo(anna, wiki.authURL(requestURI), wikiRedirect); got != oauthRequestURINotSupported {
		t.Errorf("request_uri: error %q, want %s", got, oauthRequestURINotSupported)
	}
}

func TestOIDCSignInNeeded(t *testing.T) {
	e := newOIDCEnv(t, nil)
	b := newBrowser(t)
	r := e.rp("wiki", e.secret, wikiRedirect)
	_, cont := b.get(e.issuer, r.authURL())
	status, loc := b.get(e.issuer, cont)
	if status != http.StatusFound || !strings.HasPrefix(loc, "/login?return_to=") {
		t.Fatalf("no session: %d to %q, want /login", status, loc)
	}
	// prompt=none without a session: login_required to the tool.
	_, cont = b.get(e.issuer, r.authURL(oauth2.SetAuthURLParam("prompt", "none")))
	_, loc = b.get(e.issuer, cont)
	if q := mustQuery(t, loc); q.Get("error") != "login_required" || q.Get("iss") != e.issuer {
		t.Errorf("prompt=none: %q", loc)
	}
	// prompt=login and max_age make an older sign-in sign in again.
	e.signIn(b, e.anna, "phrh", "hwk")
	e.clock.Add(10 * time.Minute)
	for _, opt := range []oauth2.AuthCodeOption{
		oauth2.SetAuthURLParam("prompt", "login"), oauth2.SetAuthURLParam("max_age", "300"),
	} {
		_, cont = b.get(e.issuer, r.authURL(opt))
		status, loc = b.get(e.issuer, cont)
		q := mustQuery(t, loc)
		if status != http.StatusFound || !strings.HasPrefix(loc, "/login?") || q.Get("prompt") != "login" {
			t.Errorf("stale session: %d to %q, want /login with prompt=login", status, loc)
			continue
		}
		e.signIn(b, e.anna, "phrh", "hwk")
		if _, loc = b.get(e.issuer, q.Get("return_to")); mustQuery(t, loc).Get("code") == "" {
			t.Errorf("after a fresh sign-in: %q, want a code", loc)
		}
		e.clock.Add(10 * time.Minute)
	}
	if q := e.authorize(b, r.authURL(oauth2.SetAuthURLParam("max_age", "3600"))); q.Get("code") == "" {
		t.Errorf("max_age within the sign-in's age: %v", q)
	}
}

func TestOIDCDiscovery(t *testing.T) {
	e := newOIDCEnv(t, nil)
	resp, err := http.Get(e.issuer + oidcDiscoveryPath)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var d map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&d); err != nil {
		t.Fatal(err)
	}
	list := func(k string) []string {
		var out []string
		for _, v := range d[k].([]any) {
			out = append(out, v.(string))
		}
		return out
	}
	if d["issuer"] != e.issuer || !slices.Equal(list("response_types_supported"), []string{"code"}) ||
		!slices.Equal(list("code_challenge_methods_supported"), []string{"S256"}) ||
		!slices.Equal(list("id_token_signing_alg_values_supported"), []string{"ES256"}) ||
		slices.Contains(list("grant_types_supported"), "implicit") ||
		d["authorization_response_iss_parameter_supported"] != true || d["introspection_endpoint"] != nil ||
		d["backchannel_logout_supported"] != true {
		t.Errorf("discovery: %v", d)
	}
	if got := resp.Header.Get("Access-Control-Allow-Origin"); got != "" {
		t.Errorf("CORS without configured origins: %q", got)
	}
}

func TestOIDCEndSession(t *testing.T) {
	e := newOIDCEnv(t, nil)
	b := newBrowser(t)
	e.signIn(b, e.anna, "phrh", "hwk")
	r := e.rp("wiki", e.secret, wikiRedirect)
	tok, err := r.conf.Exchange(t.Context(), e.code(b, r), oauth2.VerifierOption(r.verifier))
	if err != nil {
		t.Fatal(err)
	}
	q := url.Values{"id_token_hint": {tok.Extra("id_token").(string)},
		"post_logout_redirect_uri": {"https://wiki.example/bye"}, "state": {"s"}}
	status, loc := b.get(e.issuer, oidcEndSessionPath+"?"+q.Encode())
	if status != http.StatusFound || loc != "https://wiki.example/bye?state=s" {
		t.Fatalf("end_session: %d to %q", status, loc)
	}
	if _, ok := b.cookies[SessionCookie]; ok {
		t.Error("the session cookie was not cleared")
	}
	select {
	case form := <-e.logouts:
		if form.Get("logout_token") == "" {
			t.Error("back-channel logout without a logout token")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no back-channel logout after RP-initiated logout")
	}
	if _, err := r.provider.UserInfo(t.Context(), oauth2.StaticTokenSource(tok)); err == nil {
		t.Error("the access token still works after logout")
	}
}

// TestOIDCEndSessionOnlyItsOwnSession: an ID token ends the session it was
// issued in, not a later one of the same person, whether a tool sends the
// browser (GET) or another site posts the form; the person keeps her
// session and is shown the account page, where she may sign out.
func TestOIDCEndSessionOnlyItsOwnSession(t *testing.T) {
	e := newOIDCEnv(t, nil)
	b := newBrowser(t)
	r := e.rp("wiki", e.secret, wikiRedirect)
	idToken := func() string {
		t.Helper()
		tok, err := r.conf.Exchange(t.Context(), e.code(b, r), oauth2.VerifierOption(r.verifier))
		if err != nil {
			t.Fatal(err)
		}
		return tok.Extra("id_token").(string)
	}
	e.signIn(b, e.anna, "phrh", "hwk")
	old := idToken()
	q := url.Values{"id_token_hint": {old}, "post_logout_redirect_uri": {"https://wiki.example/bye"}}
	if status, loc := b.get(e.issuer, oidcEndSessionPath+"?"+q.Encode()); status != http.StatusFound || loc != "https://wiki.example/bye" {
		t.Fatalf("end_session with the session's own ID token: %d to %q", status, loc)
	}

	now := e.signIn(b, e.anna, "phrh", "hwk") // a new session of the same person
	current := idToken()
	req, _ := http.NewRequest("POST", e.issuer+oidcEndSessionPath, strings.NewReader(q.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", "https://evil.example")
	req.Header.Set("Sec-Fetch-Site", "cross-site")
	req.AddCookie(&http.Cookie{Name: SessionCookie, Value: b.cookies[SessionCookie]})
	resp, err := b.c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if loc := resp.Header.Get("Location"); resp.StatusCode != http.StatusFound || loc != "/account" {
		t.Errorf("cross-site POST end_session with an earlier session's ID token: %d to %q, want the account page", resp.StatusCode, loc)
	}
	if got, err := e.st.GetSession(t.Context(), now); err != nil || !got.RevokedAt.IsZero() {
		t.Fatalf("the current session after a cross-site end_session with an earlier one's ID token: %+v, %v", got, err)
	}
	if status, loc := b.get(e.issuer, oidcEndSessionPath+"?"+q.Encode()); status != http.StatusFound || loc != "/account" {
		t.Errorf("end_session with an earlier session's ID token: %d to %q, want the account page", status, loc)
	}
	if got, err := e.st.GetSession(t.Context(), now); err != nil || !got.RevokedAt.IsZero() {
		t.Fatalf("the current session after end_session with an earlier one's ID token: %+v, %v", got, err)
	}

	q.Set("id_token_hint", current)
	if status, loc := b.get(e.issuer, oidcEndSessionPath+"?"+q.Encode()); status != http.StatusFound || loc != "https://wiki.example/bye" {
		t.Fatalf("end_session with the current session's ID token: %d to %q", status, loc)
	}
	if got, err := e.st.GetSession(t.Context(), now); err != nil || got.RevokedAt.IsZero() {
		t.Errorf("the session after end_session with its own ID token: %+v, %v", got, err)
	}
}

// TestOIDCDisabledPersonGetsNoTokens: the person is read with the code (or
// the refresh token); once disabled, neither gives tokens.
func TestOIDCDisabledPersonGetsNoTokens(t *testing.T) {
	e := newOIDCEnv(t, nil)
	b := newBrowser(t)
	e.signIn(b, e.anna, "phrh", "hwk")
	r := e.rp("wiki", e.secret, wikiRedirect, oidc.ScopeOfflineAccess)
	tok, err := r.conf.Exchange(t.Context(), e.code(b, r), oauth2.VerifierOption(r.verifier))
	if err != nil {
		t.Fatal(err)
	}
	code := e.code(b, r)
	_, err = e.st.UpdateUser(t.Context(), e.anna.ID, func(u authn.User) (authn.User, error) {
		u.Status = authn.StatusDisabled
		return u, nil
	}, authn.AuditEvent{Time: e.clock.Now(), Actor: "test", Action: "user.disable", Subject: e.anna.ID, Reason: "test"})
	if err != nil {
		t.Fatal(err)
	}
	tokens := func() int {
		var n int
		if err := e.st.DB().QueryRowContext(t.Context(), "SELECT count(*) FROM oidc_tokens").Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	before := tokens()
	if _, err := r.conf.Exchange(t.Context(), code, oauth2.VerifierOption(r.verifier)); err == nil {
		t.Error("a disabled person's code was exchanged for tokens")
	}
	if _, err := r.conf.TokenSource(t.Context(), &oauth2.Token{RefreshToken: tok.RefreshToken}).Token(); err == nil {
		t.Error("a disabled person's refresh token was exchanged for tokens")
	}
	// Refused before anything is stored: no token rows for her, not even
	// unusable ones.
	if after := tokens(); after != before {
		t.Errorf("%d token rows stored for a disabled person", after-before)
	}
}
