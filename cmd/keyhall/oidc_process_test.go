package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/keyhall/keyhall/web"
)

// freePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// TestServeOIDC starts "keyhall serve --config FILE" with one confidential
// client and talks to the real process as a relying party would, with
// go-oidc: discovery with the issuer exactly public_url, only the code
// flow with S256 on offer, and an error page (no redirect) for a redirect
// URI that is not registered.
func TestServeOIDC(t *testing.T) {
	port := freePort(t)
	public := fmt.Sprintf("http://localhost:%d", port)
	dir := t.TempDir()
	secret, sum := web.NewOIDCClientSecret()
	const callback = "https://ris.stadt.example/oauth/callback"
	file := writeFile(t, dir, "keyhall.yaml", fmt.Sprintf(`public_url: %s
listen: 127.0.0.1:%d
oidc:
  clients:
    - id: ris
      secret_sha256: %x
      redirect_uris: [%s]
`, public, port, sum, callback))
	p := startKeyhall(t, dir, nil, "serve", "--config", file)
	p.listening(t)
	eventually(t, 30*time.Second, wantStatus(t, p.url("/readyz"), "", 200))
	// serve hands web the enrollment settings: the first administrator's
	// link, on public_url, opens her enrollment.
	link := p.waitFor(t, `(`+public+`/enroll/[2-9A-HJKMNP-Z-]{64})\s`, 10*time.Second)
	if code, body := get(t, link, ""); code != 200 || !strings.Contains(body, "<form") {
		t.Errorf("GET %s = %d; want the enrollment page", link, code)
	}

	provider := checkDiscovery(t, public)
	conf := oauth2.Config{ClientID: "ris", ClientSecret: secret, Endpoint: provider.Endpoint(),
		Scopes: []string{oidc.ScopeOpenID}}
	verifier := oauth2.GenerateVerifier()
	for _, uri := range []string{callback + "/", "https://evil.example/oauth/callback", "https://RIS.stadt.example/oauth/callback"} {
		conf.RedirectURL = uri
		code, loc, body := authorize(t, conf.AuthCodeURL("st4te", oauth2.S256ChallengeOption(verifier)))
		if code != http.StatusBadRequest || loc != "" || !strings.Contains(body, "<html") || strings.Contains(body, uri) {
			t.Errorf("redirect_uri %s: %d, Location %q; want 400 and an error page that does not link to it", uri, code, loc)
		}
	}
	conf.RedirectURL = callback // the registered one starts a sign-in
	if code, loc, _ := authorize(t, conf.AuthCodeURL("st4te", oauth2.S256ChallengeOption(verifier))); code != http.StatusFound ||
		strings.HasPrefix(loc, callback) {
		t.Errorf("registered redirect_uri: %d, Location %q; want 302 to Keyhall's sign-in", code, loc)
	}
	if code := p.stop(t); code != 0 {
		t.Errorf("exit status after SIGTERM = %d, want 0", code)
	}
}

// checkDiscovery runs go-oidc's discovery against the issuer public, which
// fails unless the document's issuer is exactly public, and checks that
// only the code flow with S256 and one ES256 key are offered.
func checkDiscovery(t *testing.T, public string) *oidc.Provider {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	provider, err := oidc.NewProvider(ctx, public)
	if err != nil {
		t.Fatalf("discovery at %s: %v", public, err)
	}
	var doc struct {
		Issuer        string   `json:"issuer"`
		ResponseTypes []string `json:"response_types_supported"`
		PKCEMethods   []string `json:"code_challenge_methods_supported"`
		JWKS          string   `json:"jwks_uri"`
	}
	if err := provider.Claims(&doc); err != nil {
		t.Fatal(err)
	}
	if doc.Issuer != public || !slices.Equal(doc.ResponseTypes, []string{"code"}) || !slices.Equal(doc.PKCEMethods, []string{"S256"}) {
		t.Errorf("discovery: issuer %q, response types %q, PKCE methods %q; want %q, [code], [S256]",
			doc.Issuer, doc.ResponseTypes, doc.PKCEMethods, public)
	}
	if code, body := get(t, doc.JWKS, ""); code != 200 || !strings.Contains(body, `"ES256"`) {
		t.Errorf("GET %s = %d %s; want one ES256 key", doc.JWKS, code, body)
	}
	return provider
}

// authorize sends a browser's GET to an authorization URL without
// following a redirect and returns the status, Location and body.
func authorize(t *testing.T, url string) (code int, location, body string) {
	t.Helper()
	c := &http.Client{Timeout: 10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header.Get("Location"), string(b)
}
