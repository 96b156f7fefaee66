package web

// Journeys of people the fixtures' usual person does not stand for: the
// councillor with only her app, the one who lost her key, the citizen,
// the helpdesk person with a plain key.

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/keyhall/keyhall/authn"
	"github.com/keyhall/keyhall/enroll"
)

// fwdWiki puts the wiki behind forward-auth.
func fwdWiki(c *Config) {
	c.ForwardAuth = ForwardAuthConfig{Rules: []ForwardAuthRule{{Host: "wiki.stadt.example"}}}
}

// verifyAs asks /auth/verify as Traefik would, with the client's cookies.
func (c *client) verifyAs(host, uri string) *http.Response {
	c.t.Helper()
	req, _ := http.NewRequest("GET", c.base+"/auth/verify", nil)
	req.Header.Set("X-Forwarded-Proto", "http")
	req.Header.Set("X-Forwarded-Host", host)
	req.Header.Set("X-Forwarded-Uri", uri)
	req.Header.Set("X-Forwarded-Method", "GET")
	for k, v := range c.cookies {
		req.AddCookie(&http.Cookie{Name: k, Value: v})
	}
	res, err := (&http.Transport{}).RoundTrip(req)
	if err != nil {
		c.t.Fatal(err)
	}
	readBody(c.t, res)
	return res
}

// TestStrangerCannotLockHerOutOfHerOwnBrowser: a councillor with her app
// and password (no key: Münster's "TOTP on private devices"). A stranger
// who knows only her username types 81 wrong app codes, enough to pass
// every limit of the account. She still signs in on the browser she signed
// in on before (its device cookie); the stranger stays locked out; her
// recovery code, a counter of its own, still works on a new browser; and a
// browser of hers that itself fails 81 times is locked.
func TestStrangerCannotLockHerOutOfHerOwnBrowser(t *testing.T) {
	now := time.Now()
	clock := func() time.Time { return now }
	f := newFixture(t, func(c *Config) { c.Now = clock; c.SignIn.Now = clock })
	f.withEnroll(enroll.Config{Policy: enroll.Policy{Default: enroll.DefaultKeyPolicy()},
		Notices: enroll.Notices{Sender: enroll.Sender{Name: "Stadt Musterstadt", HelpPhone: "0251 492-0"}}})
	anna := f.addUser("anna")
	secret := f.addTOTP(anna)
	f.setPassword(anna, "Rathaus am Markt 1")
	f.addRecoveryCodes(anna, "aaaa-bbbb-cccc-dddd")
	code := func() string {
		c, err := authn.TOTPCode(secret, now)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	var body string
	tryApp := func(c *client, code string) (res *http.Response) {
		t.Helper()
		if got := c.startAt("anna"); got != "/login/totp" {
			c.form("/login/switch", url.Values{"to": {"totp"}})
		}
		res, body = c.form("/login/totp", url.Values{"code": {code}})
		return res
	}

	own := f.client() // her tablet: she signed in on it before
	signInWithApp(t, f, own, "anna", secret)
	if own.cookies[DeviceCookie] == "" {
		t.Fatal("a completed sign-in set no device cookie")
	}
	now = now.Add(time.Minute)

	stranger := f.client()
	stranger.startAt("anna")
	for i := range 81 {
		res, _ := stranger.form("/login/totp", url.Values{"code": {"000000"}})
		if res.StatusCode != http.StatusUnauthorized && res.StatusCode != http.StatusTooManyRequests {
			t.Fatalf("try %d: %d", i, res.StatusCode)
		}
		now = now.Add(2 * time.Second)
	}

	now = now.Add(24*time.Hour + time.Minute)
	if res := tryApp(own, code()); res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/login/password" {
		t.Errorf("after a stranger's 81 wrong codes, her right app code on her own browser: %d → %s, want the password step",
			res.StatusCode, res.Header.Get("Location"))
	}
	now = now.Add(time.Minute)
	if res := tryApp(f.client(), code()); res.StatusCode != http.StatusTooManyRequests {
		t.Errorf("a browser she never signed in on, with the right code, after the stranger's tries: %d, want 429", res.StatusCode)
	}
	for _, want := range []string{"Sicherheitsschlüssel", "schon einmal angemeldet", "IT-Service: Telefon 0251 492-0"} {
		if !strings.Contains(body, want) {
			t.Errorf("the locked-out page does not say %q:\n%s", want, body)
		}
	}
	fresh := f.client()
	fresh.startAt("anna")
	fresh.form("/login/switch", url.Values{"to": {"recovery"}})
	if res, body := fresh.form("/login/recovery", url.Values{"code": {"aaaa-bbbb-cccc-dddd"}}); res.StatusCode != http.StatusSeeOther ||
		res.Header.Get("Location") != "/login/password" {
		t.Errorf("her recovery code after the stranger's wrong app codes: %d → %s\n%s", res.StatusCode, res.Header.Get("Location"), body)
	}

	// A browser of hers in a thief's hands: its own tries are limited too.
	now = now.Add(time.Minute)
	own.startAt("anna")
	for i := range 81 {
		res, _ := own.form("/login/totp", url.Values{"code": {"000000"}})
		if res.StatusCode != http.StatusUnauthorized && res.StatusCode != http.StatusTooManyRequests {
			t.Fatalf("own browser, try %d: %d", i, res.StatusCode)
		}
		now = now.Add(2 * time.Second)
	}
	now = now.Add(24*time.Hour + time.Minute)
	if res := tryApp(own, code()); res.StatusCode != http.StatusTooManyRequests {
		t.Errorf("a browser that failed 81 times itself takes the right code a day later: %d, want 429", res.StatusCode)
	}
}

// recoverySignIn signs in with username, a recovery code and the password,
// from the sign-in address login (as forward-auth or a tool sent her), and
// returns where the last step leads.
func recoverySignIn(t *testing.T, c *client, login *url.URL, username, code, password string) string {
	t.Helper()
	res, body := c.form("/login", url.Values{"username": {username}, "return_to": {login.Query().Get("return_to")}})
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("POST /login: %d %s", res.StatusCode, body)
	}
	if res, _ = c.form("/login/switch", url.Values{"to": {"recovery"}}); res.Header.Get("Location") != "/login/recovery" {
		t.Fatalf("switch to recovery: %d → %s", res.StatusCode, res.Header.Get("Location"))
	}
	if res, body = c.form("/login/recovery", url.Values{"code": {code}}); res.Header.Get("Location") != "/login/password" {
		t.Fatalf("recovery code: %d → %s\n%s", res.StatusCode, res.Header.Get("Location"), body)
	}
	res, body = c.form("/login/password", url.Values{"password": {password}})
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("password: %d\n%s", res.StatusCode, body)
	}
	return res.Header.Get("Location")
}

// TestRecoveryCodeAtForwardAuthToolLeadsToFactors: anna lost her key and
// opens the wiki behind the proxy. She signs in with a recovery code and
// her password; the sign-in leads her to her factors (to add a key), the
// wiki's address kept, not back to the wiki, which takes no recovery-only
// session. Opening the wiki again leads to her factors too, with the word
// why, and never to a new sign-in that would take another code; so does
// /login, where nginx's 401 sends her.
func TestRecoveryCodeAtForwardAuthToolLeadsToFactors(t *testing.T) {
	f := newFixture(t, fwdWiki)
	anna := f.addUser("anna")
	k := newTestKey(t)
	f.addKey(anna, &k, 0) // the key she lost
	f.setPassword(anna, "Rathaus am Markt 1")
	f.addRecoveryCodes(anna, "aaaa-bbbb-cccc-dddd", "eeee-ffff-gggg-hhhh", "jjjj-kkkk-mmmm-nnnn")
	c := f.client()
	wiki := "http://wiki.stadt.example/seite"
	factors := "/account/factors?" + url.Values{"return_to": {wiki}}.Encode()

	res := c.verifyAs("wiki.stadt.example", "/seite")
	login, _ := url.Parse(res.Header.Get("Location"))
	if next := recoverySignIn(t, c, login, "anna", "aaaa-bbbb-cccc-dddd", "Rathaus am Markt 1"); next != factors {
		t.Errorf("a recovery-code sign-in for the wiki led to %s, want %s (add a key, the wiki's address kept)", next, factors)
	}
	res = c.verifyAs("wiki.stadt.example", "/seite")
	if res.StatusCode != http.StatusFound || res.Header.Get("Location") != f.base+factors {
		t.Errorf("the wiki, meeting her recovery-only session: %d → %s, want %s", res.StatusCode, res.Header.Get("Location"), f.base+factors)
	}
	_, body := c.get(factors)
	if !strings.Contains(body, "Sie haben sich mit einem Wiederherstellungscode angemeldet") {
		t.Errorf("her factors page does not say why she is there:\n%s", body)
	}
	if res, _ := c.get("/login?" + url.Values{"return_to": {wiki}}.Encode()); res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != factors {
		t.Errorf("/login for the wiki (nginx's 401) with her recovery-only session: %d → %s, want %s",
			res.StatusCode, res.Header.Get("Location"), factors)
	}
	if n, err := f.store.CountRecoveryCodes(context.Background(), anna.ID); err != nil || n != 2 {
		t.Errorf("recovery codes left: %d, %v; want 2 (one used)", n, err)
	}
}

// TestNewKeyAfterRecoveryCodeAsksToSignInWithIt: after a recovery-code
// sign-in anna adds a new key. The page after it asks her to sign in with
// it now, with a button that starts that sign-in; her factors page, where
// the wiki sends her, does so with the wiki's address; /account no longer
// asks her to set up a key.
func TestNewKeyAfterRecoveryCodeAsksToSignInWithIt(t *testing.T) {
	f := newFixture(t, fwdWiki)
	f.withEnroll(enroll.Config{Policy: enroll.Policy{Default: enroll.DefaultKeyPolicy()}})
	anna := f.addUser("anna")
	lost := newTestKey(t)
	f.addKey(anna, &lost, 0)
	f.setPassword(anna, "Rathaus am Markt 1")
	f.addRecoveryCodes(anna, "aaaa-bbbb-cccc-dddd", "eeee-ffff-gggg-hhhh")
	c := f.client()
	res := c.verifyAs("wiki.stadt.example", "/seite")
	login, _ := url.Parse(res.Header.Get("Location"))
	recoverySignIn(t, c, login, "anna", "aaaa-bbbb-cccc-dddd", "Rathaus am Markt 1")

	res, body := c.form("/account/factors/add", url.Values{"kind": {"key"}})
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/enroll/key" {
		t.Fatalf("add a key: %d %s", res.StatusCode, body)
	}
	res = c.do("POST", "/enroll/key/begin", "application/json", strings.NewReader("{}"))
	options := readBody(t, res)
	if res.StatusCode != http.StatusOK {
		t.Fatalf("begin: %d %s", res.StatusCode, options)
	}
	cred := noneRegistration(t, []byte(options), f.base, uuid.MustParse("ee882879-721c-4913-9775-3dfcce97072a"))
	res, body = c.form("/enroll/key", url.Values{"credential": {string(cred)}, "nickname": {"Neuer Schlüssel"}})
	if res.StatusCode != http.StatusOK {
		t.Fatalf("finish: %d %s", res.StatusCode, body)
	}
	if !strings.Contains(body, "Bitte melden Sie sich jetzt damit an") || !strings.Contains(body, `name="username" value="anna"`) {
		t.Errorf("the page after the new key (recovery-only session) does not ask her to sign in with it:\n%s", body)
	}
	res = c.verifyAs("wiki.stadt.example", "/seite")
	_, body = c.get(strings.TrimPrefix(res.Header.Get("Location"), f.base))
	if !strings.Contains(body, "Bitte melden Sie sich jetzt damit an") ||
		!strings.Contains(body, `name="return_to" value="http://wiki.stadt.example/seite"`) {
		t.Errorf("the factors page the wiki sends her to does not offer the sign-in with her new key, on to the wiki:\n%s", body)
	}
	res, _ = c.form("/login", url.Values{"username": {"anna"}, "return_to": {"http://wiki.stadt.example/seite"}})
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/login/key" {
		t.Errorf("its button starts no key sign-in: %d → %s", res.StatusCode, res.Header.Get("Location"))
	}
	_, body = c.get("/account")
	if strings.Contains(body, "bis dahin können Sie keine anderen Dienste nutzen") {
		t.Errorf("/account still says to set up a new key, which she did")
	}
}

// TestExpiredSignInKeepsReturnTo: a person coming from a tool (here an
// OIDC continue address, as loginURL makes it) takes longer than
// PendingLifetime on her app step (she went to find her phone). The
// expired step sends her to sign in again for the same tool, and that
// sign-in ends in the tool, not on /account.
func TestExpiredSignInKeepsReturnTo(t *testing.T) {
	now := time.Now()
	clock := func() time.Time { return now }
	f := newFixture(t, func(c *Config) { c.SignIn.Now = clock })
	anna := f.addUser("anna")
	secret := f.addTOTP(anna)
	f.setPassword(anna, "Rathaus am Markt 1")
	c := f.client()
	back := oidcContinuePath + "?id=abc&n=1"
	res, _ := c.form("/login", url.Values{"username": {"anna"}, "return_to": {back}})
	if res.StatusCode != http.StatusSeeOther {
		t.Fatal(res.StatusCode)
	}
	if loc := res.Header.Get("Location"); loc != "/login/totp" {
		c.form("/login/switch", url.Values{"to": {"totp"}})
	}
	now = now.Add(authn.PendingLifetime + time.Second) // her phone was in the other room
	res, _ = c.form("/login/totp", url.Values{"code": {totpCode(t, secret)}})
	loc := res.Header.Get("Location")
	want := "/login?e=expired&" + url.Values{"return_to": {back}}.Encode()
	if loc != want {
		t.Fatalf("an expired step sent her to %q, want %q: the tool's address is lost, she will land on /account", loc, want)
	}
	_, body := c.get(loc)
	if !strings.Contains(body, `name="return_to" value="`+strings.ReplaceAll(back, "&", "&amp;")+`"`) {
		t.Errorf("the sign-in page after the expired step does not carry the tool's address:\n%s", body)
	}
}

// TestCitizenRecoveryCodeAloneIsMailed: a citizen (group with NoPassword)
// signs in with a recovery code alone, a whole sign-in; like a councillor
// with code and password, she is mailed that a code was used.
func TestCitizenRecoveryCodeAloneIsMailed(t *testing.T) {
	f := newFixture(t, func(c *Config) {
		c.SignIn.Policy = authn.Policy{Groups: map[string]authn.GroupPolicy{"buerger": {AllowTOTP: true, NoPassword: true}}}
	})
	mb := startMailbox(t)
	f.withMail(t, mb)
	ctx := context.Background()
	g := authn.Group{ID: authn.NewID(), Name: "buerger", Source: authn.SourceLocal, CreatedAt: time.Now()}
	if err := f.store.CreateGroup(ctx, g, f.audit("group.create")); err != nil {
		t.Fatal(err)
	}
	eva := f.withEmail(f.addUser("eva@example.org"), "eva@example.org")
	if err := f.store.AddMember(ctx, g.ID, eva.ID, f.audit("group.add")); err != nil {
		t.Fatal(err)
	}
	f.addTOTP(eva)
	f.addRecoveryCodes(eva, "aaaa-bbbb-cccc-dddd", "eeee-ffff-gggg-hhhh")
	c := f.client()
	c.startAt("eva@example.org")
	c.form("/login/switch", url.Values{"to": {"recovery"}})
	res, body := c.form("/login/recovery", url.Values{"code": {"aaaa-bbbb-cccc-dddd"}})
	if res.StatusCode != http.StatusSeeOther || c.cookies[SessionCookie] == "" {
		t.Fatalf("recovery code alone: %d → %s\n%s", res.StatusCode, res.Header.Get("Location"), body)
	}
	heads, bodies := mb.wait(1)
	if len(heads) == 0 {
		t.Fatal("a citizen signed in with a recovery code alone, and no mail told her")
	}
	if to := heads[0].Header.Get("To"); !strings.Contains(to, "eva@example.org") || !strings.Contains(bodies[0], "Sie haben noch 1 Codes") {
		t.Errorf("the mail (to %s) does not tell her how many codes are left:\n%s", to, bodies[0])
	}
}

// TestHelpdeskWithPlainKeyIsToldWhy: helga has the helpdesk role and a
// security key with PIN that no trusted root attests (registered with
// "none" attestation, as Firefox sends it: level phr). /admin sends her to
// the key sign-in; after it, /admin tells her which key the console needs
// and to ask IT, instead of sending her to the same key again and again.
func TestHelpdeskWithPlainKeyIsToldWhy(t *testing.T) {
	c := newConsole(t)
	f := c.f
	k := f.newLoadKey(t, c.helga)
	ctx := context.Background()
	creds, _ := f.store.ListCredentials(ctx, c.helga.ID)
	if err := f.store.DeleteCredential(ctx, c.helga.ID, creds[0].ID, f.audit("credential.delete")); err != nil {
		t.Fatal(err)
	}
	cr := creds[0]
	cr.ID, cr.Attested, cr.AttestationFmt = authn.NewID(), false, "none"
	if err := f.store.CreateCredential(ctx, cr, f.audit("credential.create")); err != nil {
		t.Fatal(err)
	}
	cl := f.client()
	res, body := cl.form("/login", url.Values{"username": {"helga"}, "return_to": {"/admin"}})
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/login/key" {
		t.Fatalf("POST /login: %d → %s\n%s", res.StatusCode, res.Header.Get("Location"), body)
	}
	res = cl.do("POST", "/login/key/begin", "application/json", strings.NewReader("{}"))
	options := readBody(t, res)
	u, _ := url.Parse(f.base)
	a, err := k.assert(u.Hostname(), f.base, []byte(options))
	if err != nil {
		t.Fatal(err)
	}
	res = cl.do("POST", "/login/key/finish", "application/json", strings.NewReader(string(a)))
	if body = readBody(t, res); res.StatusCode != http.StatusOK || !strings.Contains(body, `"/admin"`) {
		t.Fatalf("key sign-in: %d %s", res.StatusCode, body)
	}
	res, body = cl.get("/admin")
	if res.StatusCode != http.StatusForbidden {
		t.Fatalf("/admin after a sign-in with a key not attested: %d → %s, want 403 with the reason (a redirect sends her round again)",
			res.StatusCode, res.Header.Get("Location"))
	}
	for _, want := range []string{"Hardware-Sicherheitsschlüssel", "Attestierung", "IT"} {
		if !strings.Contains(body, want) {
			t.Errorf("the console's refusal does not say %q:\n%s", want, body)
		}
	}
}

// TestCitizenAtMFAToolIsToldWhatItNeeds: a forward-auth rule asks for mfa
// (the city's portal set to mfa). A citizen signed in with her app code
// alone (level none) is sent to /login?acr=mfa, which says what the tool
// needs and what she can do, instead of taking her app code again and
// sending her back, round and round.
func TestCitizenAtMFAToolIsToldWhatItNeeds(t *testing.T) {
	f := newFixture(t, func(c *Config) {
		c.ForwardAuth = ForwardAuthConfig{Rules: []ForwardAuthRule{{Host: "portal.stadt.example", Level: authn.LevelMFA}}}
	})
	eva := f.addUser("eva@example.org")
	c := f.client()
	ck := f.sessionCookie(eva, time.Now(), false)
	f.setACR(ck, authn.LevelNone)
	c.cookies[SessionCookie] = ck.Value
	res := c.verifyAs("portal.stadt.example", "/antrag")
	if res.StatusCode != http.StatusFound {
		t.Fatalf("verify: %d", res.StatusCode)
	}
	login, _ := url.Parse(res.Header.Get("Location"))
	_, body := c.get(login.RequestURI())
	if !strings.Contains(body, "Diese Anwendung verlangt eine Anmeldung mit zwei Faktoren") {
		t.Errorf("a citizen signed in (level none) is sent to %s with no word that the tool needs a stronger sign-in:\n%s",
			login.RequestURI(), body)
	}
}

// TestStaleSelfServiceEnrollmentLeadsBackToFactors: anna opens "add a
// key" and the sign-in it belongs to ends before she finishes. The
// page that says so leads to a sign-in that comes back to her factors,
// not to a plain /login that ends on /account.
func TestStaleSelfServiceEnrollmentLeadsBackToFactors(t *testing.T) {
	now := time.Now()
	clock := func() time.Time { return now }
	f := newFixture(t, func(c *Config) { c.Now = clock; c.SignIn.Now = clock })
	f.withEnroll(enroll.Config{Policy: enroll.Policy{Default: enroll.DefaultKeyPolicy()}, Now: clock})
	anna := f.addUser("anna")
	k := newTestKey(t)
	f.addKey(anna, &k, 0)
	c := f.client()
	c.cookies[SessionCookie] = f.sessionCookie(anna, now, false).Value
	if res, body := c.form("/account/factors/add", url.Values{"kind": {"key"}}); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("add a key: %d %s", res.StatusCode, body)
	}
	if res := c.do("POST", "/enroll/key/begin", "application/json", strings.NewReader("{}")); res.StatusCode != http.StatusOK {
		t.Fatalf("begin: %d %s", res.StatusCode, readBody(t, res))
	} else {
		readBody(t, res)
	}
	// She signed out everywhere from her phone meanwhile.
	if _, err := f.store.RevokeUserSessions(context.Background(), anna.ID, now, f.audit("session.revoke_all")); err != nil {
		t.Fatal(err)
	}
	res, body := c.form("/enroll/key", url.Values{"credential": {"{}"}, "nickname": {"Neuer Schlüssel"}})
	want := `href="/login?return_to=` + url.QueryEscape(factorsPath) + `"`
	if !strings.Contains(body, want) {
		t.Errorf("the stale sign-in's page (%d) does not lead to %s:\n%s", res.StatusCode, want, body)
	}
}

// TestLastRecoveryCodeSaysMinutesLeft: anna signed in with her last
// recovery code. Her factors page tells her it was the last one and how
// many minutes her sign-in still lets her add a key or app.
func TestLastRecoveryCodeSaysMinutesLeft(t *testing.T) {
	f := newFixture(t)
	f.withEnroll(enroll.Config{Policy: enroll.Policy{Default: enroll.DefaultKeyPolicy()}})
	anna := f.addUser("anna") // her key is lost and removed
	c := f.client()
	c.cookies[SessionCookie] = f.sessionCookie(anna, time.Now().Add(-2*time.Minute), true).Value
	_, body := c.get(factorsPath)
	want := "Das war Ihr letzter Wiederherstellungscode. Richten Sie den neuen Schlüssel oder die App in den nächsten 3 Minuten ein"
	if !strings.Contains(body, want) {
		t.Errorf("her factors page after her last recovery code does not say %q:\n%s", want, body)
	}
}

// TestOIDCRecoveryOnlySessionLeadsToFactors: anna signed in with a
// recovery code and opens a tool that signs in over OIDC. Keyhall sends
// her to her factors, to add a key or app, with the tool's sign-in kept to
// go on to, not to a dead end whose only button is a new sign-in that
// would take another code.
func TestOIDCRecoveryOnlySessionLeadsToFactors(t *testing.T) {
	e := newOIDCEnv(t, nil)
	b := newBrowser(t)
	id := make([]byte, 32)
	rand.Read(id)
	now := e.clock.Now()
	s := authn.Session{Hash: authn.HashSessionID(id), UserID: e.anna.ID, AMR: []string{"otp", "pwd"}, ACR: "mfa", RecoveryOnly: true,
		AuthTime: now, CreatedAt: now, LastSeenAt: now, ExpiresAt: now.Add(8 * time.Hour)}
	if err := e.st.CreateSession(t.Context(), s); err != nil {
		t.Fatal(err)
	}
	b.cookies[SessionCookie] = base64.RawURLEncoding.EncodeToString(id)
	r := e.rp("wiki", e.secret, wikiRedirect, "profile")
	status, cont := b.get(e.issuer, r.authURL())
	if status != http.StatusFound || !strings.HasPrefix(cont, oidcContinuePath) {
		t.Fatalf("authorize: %d → %s", status, cont)
	}
	status, loc := b.get(e.issuer, cont)
	want := factorsPath + "?" + url.Values{"return_to": {cont}}.Encode()
	if status != http.StatusFound || loc != want {
		t.Errorf("the tool's sign-in with a recovery-only session: %d → %s, want %s", status, loc, want)
	}
}
