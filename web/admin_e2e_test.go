package web

import (
	"context"
	"crypto/rand"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	cdpbrowser "github.com/chromedp/cdproto/browser"
	"github.com/chromedp/chromedp"
	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/keyhall/keyhall/authn"
	"github.com/keyhall/keyhall/enroll/desk"
)

// risRedirect is the council information system's redirect URI (no server
// needed: the test reads the code from the redirect).
const risRedirect = "https://ris.stadt.example/cb"

// toolsConsole is the console with a tool that signs people in over OpenID
// Connect ("ratsinfo", refresh tokens) and forward-auth for
// rat.stadt.example; `rat` needs approval for a reset but is not
// protected (a helpdesk person may ask for its members' resets).
func toolsConsole(t *testing.T) (*console, string) {
	t.Helper()
	secret, sum := NewOIDCClientSecret()
	c := newConsole(t, func(cfg *Config) {
		cfg.Desk.Protected = []string{"vorstand"}
		cfg.OIDC = OIDCConfig{Clients: []OIDCClient{{ID: "ratsinfo", Name: "Ratsinformationssystem", SecretSHA256: sum[:],
			RedirectURIs: []string{risRedirect}}}}
		rand.Read(cfg.OIDC.CryptoKey[:])
		cfg.OIDC.EncryptionKey = cfg.SignIn.EncryptionKey
		cfg.ForwardAuth = ForwardAuthConfig{CookieDomain: "stadt.example",
			Rules: []ForwardAuthRule{{Host: "rat.stadt.example", Groups: []string{"rat"}}, {Host: "wiki.stadt.example"}}}
	})
	return c, secret
}

// oidcTokens signs the session behind cl in to the tool clientID (code
// flow with PKCE, go-oidc and x/oauth2 as a tool would) and returns the
// tool's config and tokens, a refresh token among them.
func (f *fixture) oidcTokens(t *testing.T, cl *client, clientID, secret, redirect string) (oauth2.Config, *oauth2.Token) {
	t.Helper()
	p, err := oidc.NewProvider(t.Context(), f.base)
	if err != nil {
		t.Fatalf("discovery: %v", err)
	}
	conf := oauth2.Config{ClientID: clientID, ClientSecret: secret, RedirectURL: redirect, Endpoint: p.Endpoint(),
		Scopes: []string{oidc.ScopeOpenID, oidc.ScopeOfflineAccess}}
	verifier := oauth2.GenerateVerifier()
	loc := conf.AuthCodeURL("st4te", oauth2.S256ChallengeOption(verifier), oidc.Nonce("n0nce"))
	for range 3 {
		if !strings.HasPrefix(loc, f.base) {
			break
		}
		res := cl.do("GET", strings.TrimPrefix(loc, f.base), "", nil)
		readBody(t, res)
		if res.StatusCode != http.StatusFound && res.StatusCode != http.StatusSeeOther {
			t.Fatalf("authorize: %d at %s", res.StatusCode, loc)
		}
		loc = res.Header.Get("Location")
		if strings.HasPrefix(loc, "/") {
			loc = f.base + loc
		}
	}
	u, err := url.Parse(loc)
	if err != nil || !strings.HasPrefix(loc, redirect) || u.Query().Get("code") == "" {
		t.Fatalf("authorization ended at %q, want %s with a code", loc, redirect)
	}
	tok, err := conf.Exchange(t.Context(), u.Query().Get("code"), oauth2.VerifierOption(verifier))
	if err != nil || tok.RefreshToken == "" {
		t.Fatalf("exchange: %v (refresh token %q)", err, tok.RefreshToken)
	}
	return conf, tok
}

// verifyAt asks forward-auth whether the session cookie (the host
// cookie's value) may open target.
func (f *fixture) verifyAt(t *testing.T, target, session string) int {
	t.Helper()
	h, ok := sessionCookieHash(session)
	if !ok {
		t.Fatalf("no session cookie %q", session)
	}
	req, _ := http.NewRequest("GET", f.base+"/auth/verify", nil)
	req.Header.Set("X-Original-URL", target)
	req.AddCookie(&http.Cookie{Name: ForwardAuthCookie, Value: f.srv.sealForwardCookie(h)})
	res, err := (&http.Transport{}).RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	readBody(t, res)
	return res.StatusCode
}

// consoleKey gives u an attested key (a hardware key: level phrh) and a
// tab whose virtual authenticator holds it.
func consoleKey(t *testing.T, f *fixture, u authn.User) context.Context {
	t.Helper()
	k := newTestKey(t)
	f.addKey(u, &k, 0)
	if _, err := f.store.DB().Exec("UPDATE credentials SET attested = TRUE WHERE id = $1", k.credID); err != nil {
		t.Fatal(err)
	}
	ctx := newTab(t)
	putKey(t, ctx, addAuthenticator(t, ctx, authenticatorOpts{uv: true}), k, u.ID, false, 0)
	return ctx
}

// consoleSignIn signs u in with her key in the tab and lands on the console.
func consoleSignIn(t *testing.T, ctx context.Context, f *fixture, username string) {
	t.Helper()
	run(t, ctx, username+" signs in", chromedp.Navigate(f.base+"/login?return_to=%2Fadmin"), chromedp.WaitVisible(chromedp.ID("username")),
		chromedp.SendKeys(chromedp.ID("username"), username+"\r"), waitPath("/login/key"),
		chromedp.Click(chromedp.ID("use-key")), waitPath("/admin"), waitText("#factors", "rat"))
}

// TestBrowserAdminResetCouncillor is the console's main path. Helga of the
// helpdesk signs in with her hardware key, finds the councillor by
// "muller", checks her identity by calling back the number from the
// directory and asks for a reset by letter with the ticket number; `rat`
// needs a second person, so nothing changes yet, and neither Helga nor her
// second account (same directory id) may approve. Heike of the helpdesk
// approves on Renate's page and downloads the letter; at once Renate's old
// session, her refresh token at the council tool and forward-auth stop,
// her old key is suspended, and she enrolls a new key with the letter's
// code.
func TestBrowserAdminResetCouncillor(t *testing.T) {
	pdftotext, err := exec.LookPath("pdftotext")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("pdftotext not found (apt-get install -y poppler-utils): %v", err)
		}
		t.Skip("pdftotext not found (apt-get install -y poppler-utils)")
	}
	c, secret := toolsConsole(t)
	f := c.f
	ctx := context.Background()
	// Helga is a directory person; helga-adm is her second account, with
	// her directory id.
	if _, err := f.store.DB().Exec("UPDATE users SET source = 'directory', directory = 'rathaus', external_id = 'guid-helga' WHERE id = $1",
		c.helga.ID); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	helgaAdm := authn.User{ID: authn.NewID(), Username: "helga-adm", DisplayName: "Helga (Admin-Konto)", Status: authn.StatusActive,
		Source: authn.SourceLocal, Directory: "rathaus", ExternalID: "guid-helga", CreatedAt: now, UpdatedAt: now}
	if err := f.store.CreateUser(ctx, helgaAdm, f.audit("user.create")); err != nil {
		t.Fatal(err)
	}
	heike := f.addUser("heike")
	f.join(t, "it-helpdesk", heike, helgaAdm)

	// Renate is signed in: her session, a refresh token of the council
	// tool, forward-auth to the council's pages.
	renate := f.client()
	session := f.sessionCookie(c.renate, now, false).Value
	renate.cookies[SessionCookie] = session
	conf, tok := f.oidcTokens(t, renate, "ratsinfo", secret, risRedirect)
	ratPages := "https://rat.stadt.example/sitzung"
	if got := f.verifyAt(t, ratPages, session); got != http.StatusOK {
		t.Fatalf("forward-auth before the reset: %d", got)
	}

	// Helga asks for the reset.
	tab := consoleKey(t, f, c.helga)
	consoleSignIn(t, tab, f, "helga")
	run(t, tab, "search", chromedp.Navigate(f.base+"/admin/people"), chromedp.WaitVisible(chromedp.ID("q")),
		chromedp.SendKeys(chromedp.ID("q"), "muller\r"), waitText("#people", "Renate Müller"))
	run(t, tab, "her page", chromedp.Click(chromedp.CSS("#people tbody a")), waitPath("/admin/people/"+c.renate.ID),
		waitText("#phone", "+49 251 492-1234"), waitText("#person", "aus dem Verzeichnis"),
		waitText("label[for=reset-check-callback]", "+49 251 492-1234"))
	shot(t, tab, "admin-reset-person")
	run(t, tab, "ask for the reset", chromedp.SendKeys(chromedp.ID("reason-reset"), "INC-4711"),
		chromedp.Click(chromedp.ID("reset-check-callback")), chromedp.Click(chromedp.ID("reset-delivery-letter")),
		chromedp.Click(chromedp.ID("do-reset")), waitText("main", msgAdminPending.DE), waitText("#pending", "INC-4711"),
		waitText("#pending", "Freigeben muss eine zweite Person"))
	shot(t, tab, "admin-reset-pending")
	if n, err := chromedp.Run(tab, chromedp.Evaluate[int](`document.querySelectorAll("#pending form").length`)); err != nil || n != 0 {
		t.Errorf("the requester is offered to approve her own request (%d forms, %v)", n, err)
	}
	// Nothing changed yet.
	if res, _ := renate.get("/account"); res.StatusCode != http.StatusOK {
		t.Fatalf("a pending reset ended her session: %d", res.StatusCode)
	}
	pending, err := f.store.PendingApprovals(ctx, time.Now())
	if err != nil || len(pending) != 1 || pending[0].UserID != c.renate.ID || pending[0].CheckMethod != desk.CheckCallback {
		t.Fatalf("pending approvals: %+v, %v", pending, err)
	}
	ap := pending[0]
	// Neither Helga nor her second account may approve.
	for _, who := range []authn.User{c.helga, helgaAdm} {
		refused := f.auditCount("desk.refused")
		res, body := c.as(who, authn.LevelPhrh, 0).send("POST", "/admin/approvals/"+ap.ID+"/approve", url.Values{}, false)
		if res.StatusCode != http.StatusForbidden || !strings.Contains(body, "Eine zweite Person muss freigeben") {
			t.Errorf("approval by %s: %d, want 403 with the desk's words", who.Username, res.StatusCode)
		}
		if f.auditCount("desk.refused") != refused+1 {
			t.Errorf("the refused approval by %s is not audited", who.Username)
		}
	}
	if res, _ := renate.get("/account"); res.StatusCode != http.StatusOK {
		t.Fatalf("a refused approval ended her session: %d", res.StatusCode)
	}

	// Heike approves on Renate's page (the overview lists it) and gets
	// the letter.
	tab2 := consoleKey(t, f, heike)
	dir := t.TempDir()
	if _, err := chromedp.CallBrowser(tab2, cdpbrowser.SetDownloadBehavior, cdpbrowser.SetDownloadBehaviorParams{
		Behavior: cdpbrowser.SetDownloadBehaviorBehaviorAllow, BrowserContextID: chromedp.FromContext(tab2).BrowserContextID,
		DownloadPath: dir}); err != nil {
		t.Fatalf("Browser.setDownloadBehavior: %v", err)
	}
	consoleSignIn(t, tab2, f, "heike")
	run(t, tab2, "the overview lists it", waitText("#approvals", "rmueller"), waitText("#approvals", "INC-4711"))
	run(t, tab2, "her page", chromedp.Click(chromedp.CSS(`#approvals a[href="/admin/people/`+c.renate.ID+`"]`)),
		waitPath("/admin/people/"+c.renate.ID), waitText("#pending", "INC-4711"))
	shot(t, tab2, "admin-approve")
	run(t, tab2, "approve", chromedp.Click(chromedp.ID("approve-"+ap.ID)))
	letter := filepath.Join(dir, "keyhall-letter.pdf")
	for deadline := time.Now().Add(15 * time.Second); ; {
		if _, err := os.Stat(letter); err == nil {
			break
		}
		if time.Now().After(deadline) {
			entries, _ := os.ReadDir(dir)
			t.Fatalf("no letter downloaded (%v)", entries)
		}
		time.Sleep(50 * time.Millisecond)
	}
	text, err := exec.Command(pdftotext, letter, "-").CombinedOutput()
	if err != nil {
		t.Fatalf("pdftotext: %v\n%s", err, text)
	}
	code := regexp.MustCompile(`[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}`).FindString(string(text))
	if code == "" || !strings.Contains(string(text), "Renate Müller") || !strings.Contains(string(text), "Ratsweg 5") {
		t.Fatalf("the letter has no code or is not Renate's:\n%s", text)
	}

	// At once: her session, her refresh token and forward-auth stop.
	if res, _ := renate.get("/account"); res.StatusCode == http.StatusOK {
		t.Error("her old session still works after the reset")
	}
	if _, err := conf.TokenSource(t.Context(), &oauth2.Token{RefreshToken: tok.RefreshToken}).Token(); err == nil {
		t.Error("her refresh token still gives tokens after the reset")
	}
	if got := f.verifyAt(t, ratPages, session); got == http.StatusOK {
		t.Error("forward-auth still lets her old session in after the reset")
	}
	// Her old key is suspended, as her page says.
	run(t, tab2, "her page after the reset", chromedp.Navigate(f.base+"/admin/people/"+c.renate.ID),
		waitText("#suspended", "ausgesetzt"), waitText("#invitation", "vor 0 Minuten"))
	shot(t, tab2, "admin-after-reset")

	// She enrolls a new key with the letter's code; her old key goes.
	tab3 := newTab(t)
	addAuthenticator(t, tab3, authenticatorOpts{uv: true})
	run(t, tab3, "code form", chromedp.Navigate(f.base+"/enroll"), chromedp.WaitVisible(chromedp.ID("username")),
		chromedp.SendKeys(chromedp.ID("username"), "rmueller"), chromedp.SendKeys(chromedp.ID("code"), code),
		chromedp.Click(chromedp.ID("enroll-start")), chromedp.WaitVisible(chromedp.ID("choose-key")))
	registerKey(t, tab3, "Neuer Schlüssel", "admin-reset-enroll-")
	creds, err := f.store.ListCredentials(ctx, c.renate.ID)
	if err != nil || len(creds) != 1 || creds[0].Nickname != "Neuer Schlüssel" {
		t.Errorf("her keys after enrolling: %+v, %v", creds, err)
	}
	if old, err := f.store.ListSuspendedCredentials(ctx, c.renate.ID); err != nil || len(old) != 0 {
		t.Errorf("her suspended keys after enrolling: %d, %v", len(old), err)
	}
	// The audit log tells who asked, who approved, how her identity was
	// checked, from where.
	evs, err := f.store.SearchAudit(ctx, authn.AuditQuery{Subject: "user:" + c.renate.ID, Limit: 50})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]authn.AuditEvent{}
	for _, e := range evs {
		if _, seen := got[e.Action]; !seen { // newest first
			got[e.Action] = e
		}
	}
	req, appr, reset := got["reset.requested"], got["reset.approved"], got["user.reset"]
	if req.Actor != "user:"+c.helga.ID || req.Reason != "INC-4711" || req.Details["identity_check"] != "callback" ||
		req.ClientAddr == "" {
		t.Errorf("reset.requested: %+v", req)
	}
	if appr.Actor != "user:"+heike.ID || appr.Details["requested_by"] != "user:"+c.helga.ID || appr.ClientAddr == "" {
		t.Errorf("reset.approved: %+v", appr)
	}
	if reset.Actor != "user:"+heike.ID || reset.Reason != "INC-4711" || reset.Details["identity_check"] != "callback" ||
		reset.Details["approval_id"] != ap.ID {
		t.Errorf("user.reset: %+v", reset)
	}
}

// join adds members to the existing group name.
func (f *fixture) join(t *testing.T, name string, members ...authn.User) {
	t.Helper()
	g, err := f.store.GetGroupByName(context.Background(), name)
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range members {
		if err := f.store.AddMember(context.Background(), g.ID, u.ID, f.audit("group.add_member")); err != nil {
			t.Fatal(err)
		}
	}
}
