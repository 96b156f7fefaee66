package web

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/google/uuid"
	"golang.org/x/oauth2"

	"github.com/keyhall/keyhall/authn"
	"github.com/keyhall/keyhall/enroll"
)

// TestFreezeLinkFromMail: the mail about a key added carries a "this was
// not me" link. Opening it shows whose account it freezes and changes
// nothing; confirming freezes it: her sessions end, and sign-in and
// enrollment say the account is frozen. The link works once.
func TestFreezeLinkFromMail(t *testing.T) {
	f := newFixture(t)
	mb := startMailbox(t)
	f.withMail(t, mb)
	anna := f.withEmail(f.addUser("anna"), "anna@stadt.example")
	old := newTestKey(t)
	f.addKey(anna, &old, 0)
	secret := f.addTOTP(anna)
	f.setPassword(anna, "Rathaus am Markt 1")
	c := f.client()
	c.cookies[SessionCookie] = f.sessionCookie(anna, time.Now(), false).Value

	// She (or whoever has her session) adds a key: the mail tells her.
	if res, body := c.form("/account/factors/add", url.Values{"kind": {"key"}}); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("add a key: %d %s", res.StatusCode, body)
	}
	res := c.do("POST", "/enroll/key/begin", "application/json", strings.NewReader("{}"))
	options := readBody(t, res)
	cred := noneRegistration(t, []byte(options), f.base, uuid.MustParse("ee882879-721c-4913-9775-3dfcce97072a"))
	if res, body := c.form("/enroll/key", url.Values{"credential": {string(cred)}, "nickname": {"Fremder Schlüssel"}}); res.StatusCode != http.StatusOK {
		t.Fatalf("finish: %d %s", res.StatusCode, body)
	}
	_, bodies := mb.wait(1)
	if len(bodies) != 1 {
		t.Fatalf("%d mails after adding a key, want 1", len(bodies))
	}
	link := regexp.MustCompile(regexp.QuoteMeta(f.base) + `/freeze/[A-Za-z0-9_-]+`).FindString(bodies[0])
	if link == "" {
		t.Fatalf("the mail has no freeze link:\n%s", bodies[0])
	}
	checkLinks(t, f.base, bodies[0])
	path := strings.TrimPrefix(link, f.base)

	// Opening the link (a mail scanner, or she) changes nothing.
	other := f.client()
	res, page := other.get(path)
	if res.StatusCode != http.StatusOK || !strings.Contains(page, `method="post"`) || !strings.Contains(page, "anna") ||
		!strings.Contains(page, "Konto jetzt sperren") {
		t.Fatalf("GET %s: %d\n%s", path, res.StatusCode, page)
	}
	if csp := res.Header.Get("Content-Security-Policy"); csp != contentSecurityPolicy {
		t.Errorf("the freeze page's CSP %q is not the pages' one", csp)
	}
	if regexp.MustCompile(`<script(?:\s[^>]*)?>[^<]|\son[a-z]+=`).MatchString(page) {
		t.Error("the freeze page has inline script")
	}
	if res, _ := c.get("/api/session"); res.StatusCode != http.StatusOK {
		t.Fatalf("after GET of the link her session answers %d", res.StatusCode)
	}
	if _, b := f.client().get(path + "?lang=en"); !strings.Contains(b, "Freeze my account now") {
		t.Errorf("the English page lacks its button:\n%s", b)
	}

	// Confirming freezes her account.
	res, page = other.form(path, nil)
	if res.StatusCode != http.StatusOK || !strings.Contains(page, "Ihr Konto ist gesperrt") {
		t.Fatalf("POST %s: %d\n%s", path, res.StatusCode, page)
	}
	if res, _ := c.get("/api/session"); res.StatusCode != http.StatusUnauthorized {
		t.Errorf("her session after the freeze: %d, want 401", res.StatusCode)
	}
	events, err := f.store.ListAudit(context.Background(), authn.AuditFilter{Subject: "user:" + anna.ID, Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	if last := events[len(events)-1]; last.Action != "user.frozen" || last.Actor != "user:"+anna.ID || last.ClientAddr == "" {
		t.Errorf("last audit event %+v", last)
	}
	if res, page = other.form(path, nil); res.StatusCode != http.StatusGone || !strings.Contains(page, "schon verwendet") {
		t.Errorf("the link again: %d\n%s", res.StatusCode, page)
	}

	// Her right app code and password no longer sign her in; she is told why.
	signin := f.client()
	if got := signin.startAt("anna"); got != "/login/totp" {
		if res, _ := signin.form("/login/switch", url.Values{"to": {"totp"}}); res.StatusCode != http.StatusSeeOther {
			t.Fatalf("switch to the app from %s: %d", got, res.StatusCode)
		}
	}
	res, page = signin.form("/login/totp", url.Values{"code": {totpCode(t, secret)}})
	if res.StatusCode != http.StatusForbidden || !strings.Contains(page, "Ihr Konto ist gesperrt") || !strings.Contains(page, "IT") {
		t.Errorf("sign-in of a frozen person: %d\n%s", res.StatusCode, page)
	}
	// Nor does an invitation IT issues before it looked.
	inv := f.invite(anna)
	res, page = f.client().form(strings.TrimPrefix(inv.Link, f.base), nil)
	if res.StatusCode != http.StatusForbidden || !strings.Contains(page, "Ihr Konto ist gesperrt") {
		t.Errorf("enrollment of a frozen person: %d\n%s", res.StatusCode, page)
	}
}

// TestFreezeLinkRefused: a wrong link shows no form and changes nothing.
func TestFreezeLinkRefused(t *testing.T) {
	f := newFixture(t)
	f.withEnroll(enroll.Config{Policy: enroll.Policy{Default: enroll.DefaultKeyPolicy()}})
	for _, tok := range []string{enroll.NewFreezeToken(), "kurz", strings.Repeat("A", 43)} {
		res, page := f.client().get("/freeze/" + tok)
		if res.StatusCode != http.StatusNotFound || strings.Contains(page, `method="post"`) {
			t.Errorf("GET /freeze/%s: %d\n%s", tok, res.StatusCode, page)
		}
		if res, _ := f.client().form("/freeze/"+tok, nil); res.StatusCode != http.StatusNotFound {
			t.Errorf("POST /freeze/%s: %d", tok, res.StatusCode)
		}
	}
}

// TestVerifyRefusesFrozenAtOnce: forward-auth refuses a frozen person's
// session at once after the freeze, on the process that froze her.
func TestVerifyRefusesFrozenAtOnce(t *testing.T) {
	f := newFwdFixture(t)
	cookie, _ := f.session(t, f.bob, authn.LevelPhrh)
	req := nginxHeaders("https://wiki.stadt.example/")
	if rec := f.verify(req, cookie); rec.Code != 200 {
		t.Fatalf("valid session: %d", rec.Code)
	}
	tok := enroll.NewFreezeToken()
	now := time.Now()
	if err := f.st.CreateFreezeToken(context.Background(), authn.FreezeToken{Hash: authn.HashToken(tok), UserID: f.bob.ID,
		CreatedAt: now, ExpiresAt: now.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	post := httptest.NewRequest("POST", "http://localhost:8080/freeze/"+tok, strings.NewReader(""))
	post.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	rec := httptest.NewRecorder()
	f.srv.ServeHTTP(rec, post)
	if rec.Code != http.StatusOK {
		t.Fatalf("POST /freeze: %d %s", rec.Code, rec.Body)
	}
	if rec := f.verify(req, cookie); rec.Code != 401 {
		t.Errorf("a frozen person's session at forward-auth: %d, want 401 at once", rec.Code)
	}
}

// TestOIDCFrozenByLink: freezing by the link revokes her tokens at once
// and tells the tools by back-channel logout.
func TestOIDCFrozenByLink(t *testing.T) {
	e := newOIDCEnv(t, nil)
	b := newBrowser(t)
	e.signIn(b, e.anna, "phrh", "hwk")
	r := e.rp("wiki", e.secret, wikiRedirect, oidc.ScopeOfflineAccess)
	tok, err := r.conf.Exchange(t.Context(), e.code(b, r), oauth2.VerifierOption(r.verifier))
	if err != nil {
		t.Fatal(err)
	}
	link := enroll.NewFreezeToken()
	now := time.Now()
	if err := e.st.CreateFreezeToken(t.Context(), authn.FreezeToken{Hash: authn.HashToken(link), UserID: e.anna.ID,
		CreatedAt: now, ExpiresAt: now.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	res, err := http.PostForm(e.issuer+"/freeze/"+link, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.StatusCode != http.StatusOK {
		t.Fatalf("POST /freeze: %d %s", res.StatusCode, readBody(t, res))
	}
	res.Body.Close()
	var live int
	if err := e.st.DB().QueryRowContext(t.Context(), "SELECT count(*) FROM oidc_tokens WHERE user_id = $1 AND revoked_at IS NULL",
		e.anna.ID).Scan(&live); err != nil {
		t.Fatal(err)
	}
	if live != 0 {
		t.Errorf("%d OIDC tokens of hers not revoked after the freeze", live)
	}
	select {
	case form := <-e.logouts:
		if form.Get("logout_token") == "" {
			t.Error("back-channel logout without a logout token")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no back-channel logout after the freeze")
	}
	if _, err := r.conf.TokenSource(t.Context(), &oauth2.Token{RefreshToken: tok.RefreshToken}).Token(); err == nil {
		t.Error("her refresh token works after the freeze")
	}
}

// TestFreezeLinkFromResetMail: the notice of an IT reset, as the desk and
// the command line mail it, carries a freeze link; using it voids the
// reset's new invitation, so whoever called the helpdesk cannot enroll.
func TestFreezeLinkFromResetMail(t *testing.T) {
	f := newFixture(t)
	mb := startMailbox(t)
	f.withMail(t, mb)
	anna := f.withEmail(f.addUser("anna"), "anna@stadt.example")
	k := newTestKey(t)
	f.addKey(anna, &k, 0)
	c := f.client()
	c.cookies[SessionCookie] = f.sessionCookie(anna, time.Now(), false).Value

	ctx := context.Background()
	inv, rep, err := f.srv.store.Load().enroll.Reset(ctx, anna.ID, 0, "cli:helpdesk", "Anruf: Schlüssel verloren")
	if err != nil {
		t.Fatal(err)
	}
	mailer, err := enroll.NewSMTPMailer(enroll.SMTPConfig{Host: "127.0.0.1", Port: mb.addr.Port, From: "keyhall@stadt.example",
		StartTLS: enroll.StartTLSOff, Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	pub, _ := url.Parse(f.base)
	notices := enroll.Notices{PublicURL: pub, Sender: enroll.Sender{Name: "Stadt Musterstadt"}}
	if err := enroll.Notify(ctx, mailer, f.srv.logger, notices.Reset(anna, rep, time.Now())); err != nil {
		t.Fatal(err)
	}
	_, bodies := mb.wait(1)
	if len(bodies) != 1 {
		t.Fatalf("%d mails, want the reset notice", len(bodies))
	}
	link := regexp.MustCompile(regexp.QuoteMeta(f.base) + `/freeze/[A-Za-z0-9_-]+`).FindString(bodies[0])
	if link == "" || strings.Contains(bodies[0], inv.Code) {
		t.Fatalf("the reset notice has no freeze link, or holds the invitation's code:\n%s", bodies[0])
	}
	if res, page := f.client().form(strings.TrimPrefix(link, f.base), nil); res.StatusCode != http.StatusOK {
		t.Fatalf("POST the link: %d\n%s", res.StatusCode, page)
	}
	res, page := f.client().form("/enroll", url.Values{"username": {"anna"}, "code": {inv.Code}})
	if res.StatusCode < 400 || strings.Contains(page, `id="choose-key"`) {
		t.Errorf("the reset's code after the freeze: %d\n%s", res.StatusCode, page)
	}
	if u, err := f.store.GetUser(ctx, anna.ID); err != nil || u.Status != authn.StatusFrozen {
		t.Errorf("anna after the link: %q, %v", u.Status, err)
	}
}
