package web

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/keyhall/keyhall/authn"
	"github.com/keyhall/keyhall/enroll/citizens"
)

// dataTestViews are the pages of account_data.go for TestPagesRender.
func dataTestViews() map[string]*view {
	d := &accountData{Profile: citizens.Profile{Username: "anna", Email: "anna@stadt.example", EmailVerified: true, Source: "local"},
		Groups: []string{"buerger"}, Tools: []citizens.Tool{{ClientID: "portal", Name: "Stadtportal"}}, HasKey: true}
	return map[string]*view{
		"account_delete":  {Page: "account_delete", Username: "anna", Account: &accountView{Username: "anna", Data: d}},
		"account_deleted": {Page: "account_deleted"},
	}
}

// signedInClient is a client with a session of u signed in at authTime
// with a key (AMR hwk).
func (f *fixture) signedInClient(u authn.User, authTime time.Time) *client {
	c := f.client()
	c.cookies[SessionCookie] = f.sessionCookie(u, authTime, false).Value
	return c
}

// addPerson creates an active person of source src.
func (f *fixture) addPerson(name string, src authn.Source) authn.User {
	f.t.Helper()
	u := authn.User{ID: authn.NewID(), Username: name, DisplayName: "Test " + name, Email: name + "@stadt.example",
		Status: authn.StatusActive, Source: src, CreatedAt: time.Now(), UpdatedAt: time.Now()}
	if src == authn.SourceDirectory {
		u.Directory, u.ExternalID = "stadt", authn.NewID()
	}
	if err := f.store.CreateUser(context.Background(), u, f.audit("user.create")); err != nil {
		f.t.Fatal(err)
	}
	return u
}

// TestAccountDeleteRefused: a directory person and the last administrator
// see why they cannot delete themselves and whom to ask, and a POST that
// tries anyway changes nothing.
func TestAccountDeleteRefused(t *testing.T) {
	f := newFixture(t, func(c *Config) { c.Desk.AdminGroup = "keyhall-admins" })
	rat := f.addPerson("rat.mitglied", authn.SourceDirectory)
	admin := f.addPerson("admin", authn.SourceLocal)
	staff := f.addPerson("sachbearbeiterin", authn.SourceLocal)
	f.addGroup(t, "keyhall-admins", admin)
	f.addGroup(t, "buerger", rat, admin) // only citizens delete themselves
	for _, c := range []struct {
		u    authn.User
		says string
	}{
		{rat, "Verzeichnis der Stadtverwaltung"},
		{admin, "letzte Administratorin"},
		{staff, "für Ihre Arbeit"},
	} {
		cl := f.signedInClient(c.u, time.Now())
		res, page := cl.get("/account")
		if res.StatusCode != http.StatusOK || !strings.Contains(page, `id="delete-refused"`) || !strings.Contains(page, c.says) ||
			strings.Contains(page, `id="delete-account"`) {
			t.Errorf("%s: /account %d does not say why she cannot delete her account:\n%s", c.u.Username, res.StatusCode, page)
		}
		if _, page := cl.get("/account/delete"); !strings.Contains(page, c.says) || strings.Contains(page, `id="delete-now"`) {
			t.Errorf("%s: the deletion page offers to delete:\n%s", c.u.Username, page)
		}
		res, page = cl.form("/account/delete", url.Values{"confirm": {"yes"}})
		if res.StatusCode != http.StatusConflict || !strings.Contains(page, c.says) {
			t.Errorf("%s: POST /account/delete: %d, want 409 with the reason\n%s", c.u.Username, res.StatusCode, page)
		}
		// With a stale sign-in, she is not sent to confirm what she may not do.
		stale := f.signedInClient(c.u, time.Now().Add(-time.Hour))
		if res, page := stale.form("/account/delete", url.Values{"confirm": {"yes"}}); res.StatusCode != http.StatusConflict ||
			!strings.Contains(page, c.says) {
			t.Errorf("%s, stale sign-in: POST /account/delete: %d to %q, want 409 with the reason", c.u.Username,
				res.StatusCode, res.Header.Get("Location"))
		}
		if _, err := f.store.GetUser(t.Context(), c.u.ID); err != nil {
			t.Errorf("%s after the refusal: %v", c.u.Username, err)
		}
		if res, _ := cl.get("/account"); res.StatusCode != http.StatusOK {
			t.Errorf("%s is signed out after the refusal: %d", c.u.Username, res.StatusCode)
		}
	}
}

// TestAccountDeleteNeedsConfirmation: a deletion happens only from a
// same-origin form with confirm=yes and a sign-in at most five minutes
// old; otherwise her key (or, without a key, her app) is asked for and
// nothing is deleted.
func TestAccountDeleteNeedsConfirmation(t *testing.T) {
	f := newFixture(t)
	anna := f.addUser("anna")
	k := newTestKey(t)
	f.addKey(anna, &k, 0)
	f.addTOTP(anna)
	bert := f.addUser("bert")
	f.addTOTP(bert)
	f.addGroup(t, "buerger", anna, bert)
	for _, c := range []struct {
		name string
		u    authn.User
		auth time.Time
		form url.Values
		want string
	}{
		{"stale key sign-in", anna, time.Now().Add(-6 * time.Minute), url.Values{"confirm": {"yes"}}, "/login/key"},
		{"fresh, without confirm", anna, time.Now(), nil, "/login/key"},
		{"stale app sign-in, app only", bert, time.Now().Add(-10 * time.Minute), url.Values{"confirm": {"yes"}}, "/login/totp"},
	} {
		cl := f.signedInClient(c.u, c.auth)
		res, _ := cl.form("/account/delete", c.form)
		if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != c.want {
			t.Errorf("%s: %d to %q, want a sign-in at %s", c.name, res.StatusCode, res.Header.Get("Location"), c.want)
		}
		if _, err := f.store.GetUser(t.Context(), c.u.ID); err != nil {
			t.Errorf("%s: deleted without a confirmation: %v", c.name, err)
		}
	}
	// A recovery code confirms nothing.
	cl := f.client()
	cl.cookies[SessionCookie] = f.sessionCookie(anna, time.Now(), true).Value
	if res, _ := cl.form("/account/delete", url.Values{"confirm": {"yes"}}); res.StatusCode != http.StatusSeeOther ||
		!strings.HasPrefix(res.Header.Get("Location"), "/login") {
		t.Errorf("a recovery-code session: %d to %q, want a sign-in", res.StatusCode, res.Header.Get("Location"))
	}
	// Another site's form is refused before anything happens.
	cl = f.signedInClient(anna, time.Now())
	req := strings.NewReader(url.Values{"confirm": {"yes"}}.Encode())
	cross := func() *http.Response {
		r, _ := http.NewRequest("POST", f.base+"/account/delete", req)
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		r.Header.Set("Sec-Fetch-Site", "cross-site")
		r.AddCookie(&http.Cookie{Name: SessionCookie, Value: cl.cookies[SessionCookie]})
		res, err := (&http.Transport{}).RoundTrip(r)
		if err != nil {
			t.Fatal(err)
		}
		readBody(t, res)
		return res
	}
	if res := cross(); res.StatusCode != http.StatusForbidden {
		t.Errorf("a cross-site POST: %d, want 403", res.StatusCode)
	}
	if _, err := f.store.GetUser(t.Context(), anna.ID); err != nil {
		t.Fatalf("anna after a cross-site POST: %v", err)
	}
	// A fresh sign-in and the button: gone, cookie cleared.
	_, page := cl.get("/account/delete")
	if !strings.Contains(page, `id="delete-now"`) {
		t.Fatalf("a fresh sign-in does not get the delete button:\n%s", page)
	}
	res, _ := cl.form("/account/delete", url.Values{"confirm": {"yes"}})
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/account/deleted" {
		t.Fatalf("POST /account/delete: %d to %q", res.StatusCode, res.Header.Get("Location"))
	}
	if cl.cookies[SessionCookie] != "" {
		t.Error("the session cookie was not cleared")
	}
	if _, err := f.store.GetUser(t.Context(), anna.ID); !errors.Is(err, authn.ErrNotFound) {
		t.Errorf("anna after her deletion: %v", err)
	}
	if res, page := cl.get("/account/deleted"); res.StatusCode != http.StatusOK || !strings.Contains(page, "Ihr Konto wurde gelöscht") {
		t.Errorf("GET /account/deleted: %d\n%s", res.StatusCode, page)
	}
	if _, err := f.store.GetUser(t.Context(), bert.ID); err != nil {
		t.Errorf("bert after anna's deletion: %v", err)
	}
}

// TestAccountDeleteTellsTools: the tool she signed in to through OIDC
// gets a back-channel logout for her, and her refresh token (used by
// go-oidc and x/oauth2, as a tool would) is refused afterwards.
func TestAccountDeleteTellsTools(t *testing.T) {
	e := newOIDCEnv(t, wikiForCitizens) // she is a citizen
	ctx := t.Context()
	ev := authn.AuditEvent{Time: e.clock.Now(), Actor: "test", Action: "user.create"}
	u := authn.User{ID: authn.NewID(), Username: "clara", DisplayName: "Clara", Email: "clara@stadt.example",
		Status: authn.StatusActive, Source: authn.SourceLocal, CreatedAt: e.clock.Now(), UpdatedAt: e.clock.Now()}
	if err := e.st.CreateUser(ctx, u, ev); err != nil {
		t.Fatal(err)
	}
	g := authn.Group{ID: authn.NewID(), Name: "buerger", Source: authn.SourceLocal, CreatedAt: e.clock.Now()}
	if err := e.st.CreateGroup(ctx, g, ev); err != nil {
		t.Fatal(err)
	}
	if err := e.st.AddMember(ctx, g.ID, u.ID, ev); err != nil {
		t.Fatal(err)
	}
	b := newBrowser(t)
	e.signIn(b, u, "phr", "hwk")
	r := e.rp("wiki", e.secret, wikiRedirect, oidc.ScopeOfflineAccess)
	tok, err := r.conf.Exchange(ctx, e.code(b, r), oauth2.VerifierOption(r.verifier))
	if err != nil {
		t.Fatal(err)
	}
	// Her data names the tool.
	status, _ := b.get(e.issuer, "/account/data.json")
	if status != http.StatusOK {
		t.Fatalf("GET /account/data.json: %d", status)
	}
	d, err := e.srv.store.Load().citizens.Export(ctx, u.ID)
	if err != nil || len(d.Tools) != 1 || d.Tools[0].ClientID != "wiki" || d.Tools[0].ActiveTokens == 0 {
		t.Fatalf("her data's tools: %+v, %v; want wiki", d.Tools, err)
	}

	form := url.Values{"confirm": {"yes"}}.Encode()
	req, _ := http.NewRequest("POST", e.issuer+"/account/delete", strings.NewReader(form))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", e.issuer)
	for k, v := range b.cookies {
		req.AddCookie(&http.Cookie{Name: k, Value: v})
	}
	res, err := b.c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	readBody(t, res)
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/account/deleted" {
		t.Fatalf("POST /account/delete: %d to %q", res.StatusCode, res.Header.Get("Location"))
	}
	select {
	case got := <-e.logouts:
		lt, err := r.provider.Verifier(&oidc.Config{ClientID: "wiki", SkipExpiryCheck: true}).Verify(ctx, got.Get("logout_token"))
		if err != nil {
			t.Fatalf("the logout token does not verify: %v", err)
		}
		if lt.Subject != u.ID {
			t.Errorf("the logout token's sub is %q, want hers", lt.Subject)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no back-channel logout reached the tool after her deletion")
	}
	if _, err := r.conf.TokenSource(ctx, &oauth2.Token{RefreshToken: tok.RefreshToken}).Token(); err == nil {
		t.Error("her refresh token works after her deletion")
	}
}

// decodeData reads a download of /account/data.json.
func decodeData(t *testing.T, body string) citizens.Data {
	t.Helper()
	var d citizens.Data
	if err := json.Unmarshal([]byte(body), &d); err != nil {
		t.Fatalf("the download is not her data as JSON: %v\n%s", err, body)
	}
	return d
}

// TestAccountDataDownload: /account shows her data and links the
// download; the download is an attachment that is never cached and holds
// every factor and her session.
func TestAccountDataDownload(t *testing.T) {
	f := newFixture(t)
	anna := f.withEmail(f.addUser("anna"), "anna@stadt.example")
	f.addGroup(t, "buerger", anna)
	k := newTestKey(t)
	f.addKey(anna, &k, 0)
	f.addTOTP(anna)
	cl := f.signedInClient(anna, time.Now())
	res, page := cl.get("/account")
	if res.StatusCode != http.StatusOK || !strings.Contains(page, `id="your-data"`) || !strings.Contains(page, `href="/account/data.json"`) ||
		!strings.Contains(page, "anna@stadt.example (nicht bestätigt)") || !strings.Contains(page, `id="delete-account"`) {
		t.Fatalf("/account: %d, no data section with the download and the deletion:\n%s", res.StatusCode, page)
	}
	if res.Header.Get("Cache-Control") != "no-store" {
		t.Errorf("/account may be kept by the browser: Cache-Control %q", res.Header.Get("Cache-Control"))
	}
	res, body := cl.get("/account/data.json")
	if res.StatusCode != http.StatusOK || !strings.HasPrefix(res.Header.Get("Content-Type"), "application/json") ||
		!strings.HasPrefix(res.Header.Get("Content-Disposition"), "attachment") || res.Header.Get("Cache-Control") != "no-store" {
		t.Fatalf("GET /account/data.json: %d %v", res.StatusCode, res.Header)
	}
	d := decodeData(t, body)
	var ids []string
	for _, x := range d.Factors {
		ids = append(ids, x.ID)
	}
	if d.Profile.ID != anna.ID || len(d.Factors) != 2 || !strings.Contains(strings.Join(ids, " "), k.credID) || len(d.Sessions) != 1 {
		t.Errorf("her data: profile %s, factors %v, %d sessions; want hers, her key %s and app, one session",
			d.Profile.ID, ids, len(d.Sessions), k.credID)
	}
	if res, _ := f.client().get("/account/data.json"); res.StatusCode != http.StatusSeeOther {
		t.Errorf("the download without a session: %d, want a redirect to sign in", res.StatusCode)
	}
}

// TestAccountDeleteMailsConfirmation: after the deletion, a confirmation
// reaches the address she had (the tests' SMTP server), naming her
// account and where to turn if it was not her.
func TestAccountDeleteMailsConfirmation(t *testing.T) {
	f := newFixture(t)
	mb := startMailbox(t)
	f.withMail(t, mb)
	anna := f.withEmail(f.addUser("anna"), "anna@stadt.example")
	f.addGroup(t, "buerger", anna)
	cl := f.signedInClient(anna, time.Now())
	if res, _ := cl.form("/account/delete", url.Values{"confirm": {"yes"}}); res.Header.Get("Location") != "/account/deleted" {
		t.Fatalf("POST /account/delete: %d to %q", res.StatusCode, res.Header.Get("Location"))
	}
	heads, bodies := mb.wait(1)
	if len(heads) != 1 {
		t.Fatalf("%d mails after the deletion, want the confirmation", len(heads))
	}
	if to := heads[0].Header.Get("To"); !strings.Contains(to, "anna@stadt.example") {
		t.Errorf("the confirmation went to %q", to)
	}
	if b := bodies[0]; !strings.Contains(b, "Konto anna") || !strings.Contains(b, "gelöscht") || !strings.Contains(b, "0251 492-0") ||
		!strings.Contains(b, "account anna was deleted") {
		t.Errorf("the confirmation says:\n%s", b)
	}
}
