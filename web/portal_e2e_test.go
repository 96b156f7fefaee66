package web

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"html/template"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
)

// portalResult is what the city portal learnt of the citizen: her ID
// token's claims, verified with go-oidc, and its userinfo answer.
type portalResult struct {
	Sub, Email, Name    string
	EmailVerified       bool
	UserinfoEmail       string
	UserinfoVerified    bool
	UserinfoSub         string
	NoncesMatch, Failed string
}

// cityPortal is the city portal as a browser app (a PWA): an OIDC public
// client (no secret) whose page, in the browser, exchanges the code with
// PKCE at Keyhall's token endpoint itself (CORS), as a single-page app
// does. The portal's server only hands out the page and checks, with
// go-oidc, what the page got: the ID token, and the userinfo its access
// token gives.
func cityPortal(t *testing.T, issuer string, ln net.Listener) (base string, got <-chan portalResult) {
	t.Helper()
	base = "http://localhost:" + strings.TrimPrefix(ln.Addr().String(), "127.0.0.1:")
	results := make(chan portalResult, 1)
	verifier, nonce := oauth2.GenerateVerifier(), rand.Text()
	var (
		provider *oidc.Provider
		conf     oauth2.Config
	)
	page := template.Must(template.New("cb").Parse(`<!doctype html><title>Stadtportal</title><p id="status">…</p>
<script>
(async () => {
  const q = new URLSearchParams(location.search);
  const body = new URLSearchParams({grant_type: "authorization_code", code: q.get("code"),
    redirect_uri: {{.Redirect}}, client_id: "portal", code_verifier: {{.Verifier}}});
  const res = await fetch({{.TokenURL}}, {method: "POST", body: body});
  const tok = await res.json();
  const rep = await fetch("/report", {method: "POST", body: JSON.stringify({status: res.status, state: q.get("state"), tok: tok})});
  document.getElementById("status").textContent = await rep.text();
})();
</script>`))
	mux := http.NewServeMux()
	mux.HandleFunc("/start", func(w http.ResponseWriter, r *http.Request) {
		p, err := oidc.NewProvider(r.Context(), issuer)
		if err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		provider = p
		conf = oauth2.Config{ClientID: "portal", RedirectURL: base + "/callback", Endpoint: p.Endpoint(),
			Scopes: []string{oidc.ScopeOpenID, "profile", "email"}}
		http.Redirect(w, r, conf.AuthCodeURL("p0rtal", oauth2.S256ChallengeOption(verifier), oidc.Nonce(nonce)), http.StatusFound)
	})
	mux.HandleFunc("/callback", func(w http.ResponseWriter, r *http.Request) {
		page.Execute(w, map[string]string{"Redirect": base + "/callback", "Verifier": verifier, "TokenURL": conf.Endpoint.TokenURL})
	})
	mux.HandleFunc("/report", func(w http.ResponseWriter, r *http.Request) {
		var in struct {
			Status int
			State  string
			Tok    struct {
				IDToken     string `json:"id_token"`
				AccessToken string `json:"access_token"`
				Error       string `json:"error"`
			}
		}
		res := portalResult{}
		fail := func(format string, args ...any) {
			res.Failed = fmt.Sprintf(format, args...)
			results <- res
			http.Error(w, res.Failed, 400)
		}
		if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
			fail("report: %v", err)
			return
		}
		if in.Status != 200 || in.State != "p0rtal" {
			fail("token endpoint answered %d (%s), state %q", in.Status, in.Tok.Error, in.State)
			return
		}
		idt, err := provider.Verifier(&oidc.Config{ClientID: "portal"}).Verify(r.Context(), in.Tok.IDToken)
		if err != nil {
			fail("ID token: %v", err)
			return
		}
		var c struct {
			Email         string `json:"email"`
			EmailVerified bool   `json:"email_verified"`
			Name          string `json:"name"`
		}
		if err := idt.Claims(&c); err != nil {
			fail("claims: %v", err)
			return
		}
		res.Sub, res.Email, res.EmailVerified, res.Name = idt.Subject, c.Email, c.EmailVerified, c.Name
		if idt.Nonce == nonce {
			res.NoncesMatch = "yes"
		}
		ui, err := provider.UserInfo(r.Context(), oauth2.StaticTokenSource(&oauth2.Token{AccessToken: in.Tok.AccessToken}))
		if err != nil {
			fail("userinfo: %v", err)
			return
		}
		res.UserinfoSub, res.UserinfoEmail, res.UserinfoVerified = ui.Subject, ui.Email, ui.EmailVerified
		results <- res
		fmt.Fprintf(w, "Willkommen im Stadtportal, %s", c.Name)
	})
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return base, results
}

// TestEndToEndCitizenPortal (#15): a new citizen registers herself, opens
// the mailed link (the tests' SMTP server), makes a passkey in Chromium's
// virtual authenticator, and signs in to the city portal, a browser app
// and OIDC public client: code flow with PKCE, the code exchanged by the
// page itself across origins (CORS), the ID token verified with go-oidc,
// userinfo giving her e-mail address as verified. The portal here is
// served over http on localhost, which the OIDC library admits only for an
// app on her device (RFC 8252: Native); a portal on https is the same
// public client without Native.
func TestEndToEndCitizenPortal(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	portalBase := "http://localhost:" + strings.TrimPrefix(ln.Addr().String(), "127.0.0.1:")
	f, mb := newCitizenFixture(t, func(c *Config) {
		// Citizens use only the tools that name their group.
		c.OIDC = OIDCConfig{Clients: []OIDCClient{{ID: "portal", Name: "Stadtportal", Native: true, Groups: []string{"buerger"},
			RedirectURIs: []string{portalBase + "/callback"}, CORSOrigins: []string{portalBase}}}}
		rand.Read(c.OIDC.CryptoKey[:])
		c.OIDC.EncryptionKey = c.SignIn.EncryptionKey
	})
	base, results := cityPortal(t, f.base, ln)

	ctx := newTab(t)
	addAuthenticator(t, ctx, authenticatorOpts{uv: true, synced: true})
	registerInBrowser(t, ctx, f, mb, "Clara.Schmidt@Example.org", "portal-")
	registerKey(t, ctx, "", "portal-")
	finishEnrollment(t, ctx, f, "portal-")
	if _, err := chromedp.Call(ctx, network.ClearBrowserCookies, cdp.Empty{}); err != nil { // a new day
		t.Fatal(err)
	}

	run(t, ctx, "open the portal", chromedp.Navigate(base+"/start"), waitPath("/login"), chromedp.WaitVisible(chromedp.ID("passkey")))
	run(t, ctx, "passkey, no username", chromedp.Click(chromedp.ID("passkey")), waitPath("/callback"),
		waitText("#status", "Stadtportal"))
	saveShot(t, ctx, "portal-signed-in") // the portal's page, not Keyhall's
	u, err := f.store.GetUserByUsername(context.Background(), "clara.schmidt@example.org")
	if err != nil {
		t.Fatal(err)
	}
	select {
	case r := <-results:
		if r.Failed != "" {
			t.Fatal(r.Failed)
		}
		if r.Sub != u.ID || r.Email != "clara.schmidt@example.org" || !r.EmailVerified || r.Name != "Anna Müller" ||
			r.NoncesMatch != "yes" || r.UserinfoSub != u.ID || r.UserinfoEmail != r.Email || !r.UserinfoVerified {
			t.Errorf("the portal got %+v; want her id, her address as verified (ID token and userinfo), her name", r)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("the portal got nothing")
	}
}
