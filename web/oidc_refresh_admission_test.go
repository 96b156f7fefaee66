package web

import (
	"net/http/httptest"
	"path/filepath"
	"testing"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/keyhall/keyhall/authn"
)

// TestOIDCRefreshAfterGroupRemoval: the client "council" admits only
// members of "rat". A member signs in; IT (or the directory sync) takes
// her out of "rat". From then on her refresh token gives council nothing
// (invalid_grant), as a new authorization gives nothing; the wiki, open
// to every person, keeps refreshing.
func TestOIDCRefreshAfterGroupRemoval(t *testing.T) {
	e := newOIDCEnv(t, nil)
	b := newBrowser(t)
	bert := e.mkUser("bert", "rat")
	e.signIn(b, bert, "phrh", "hwk")
	council := e.rp("council", e.secret, "https://ris.example/cb", "groups", oidc.ScopeOfflineAccess)
	tok, err := council.conf.Exchange(t.Context(), e.code(b, council), oauth2.VerifierOption(council.verifier))
	if err != nil {
		t.Fatal(err)
	}
	wiki := e.rp("wiki", e.secret, wikiRedirect, oidc.ScopeOfflineAccess)
	wikiTok, err := wiki.conf.Exchange(t.Context(), e.code(b, wiki), oauth2.VerifierOption(wiki.verifier))
	if err != nil {
		t.Fatal(err)
	}
	// Still a member: the refresh works.
	tok, err = council.conf.TokenSource(t.Context(), &oauth2.Token{RefreshToken: tok.RefreshToken}).Token()
	if err != nil {
		t.Fatalf("refresh of a member: %v", err)
	}

	g, err := e.st.GetGroupByName(t.Context(), "rat")
	if err != nil {
		t.Fatal(err)
	}
	ev := authn.AuditEvent{Time: e.clock.Now(), Actor: "test", Action: "group.remove_member", Subject: "bert", Reason: "left the council"}
	if err := e.st.RemoveMember(t.Context(), g.ID, bert.ID, ev); err != nil {
		t.Fatal(err)
	}
	_, cont := b.get(e.issuer, council.authURL())
	if status, _ := b.get(e.issuer, cont); status != 403 {
		t.Fatalf("a new authorization after the removal: %d, want 403", status)
	}
	_, err = council.conf.TokenSource(t.Context(), &oauth2.Token{RefreshToken: tok.RefreshToken}).Token()
	if re, ok := err.(*oauth2.RetrieveError); !ok || re.ErrorCode != "invalid_grant" {
		t.Errorf("refresh after her removal from the client's only group: %v, want invalid_grant", err)
	}
	if _, err := wiki.conf.TokenSource(t.Context(), &oauth2.Token{RefreshToken: wikiTok.RefreshToken}).Token(); err != nil {
		t.Errorf("the wiki (every person) refused her refresh: %v", err)
	}
}

// TestOIDCRefreshBelowRaisedLevel: the wiki needed no key when Anna signed
// in with password and app; IT raises its level to phr and restarts
// Keyhall. Her refresh token of that sign-in no longer gives tokens: the
// wiki sends her to sign in, with her key.
func TestOIDCRefreshBelowRaisedLevel(t *testing.T) {
	storage := "sqlite://" + filepath.Join(t.TempDir(), "k.db")
	e := newOIDCEnvOn(t, storage, nil)
	b := newBrowser(t)
	e.signIn(b, e.anna, "mfa", "pwd", "otp")
	r := e.rp("wiki", e.secret, wikiRedirect, oidc.ScopeOfflineAccess)
	tok, err := r.conf.Exchange(t.Context(), e.code(b, r), oauth2.VerifierOption(r.verifier))
	if err != nil {
		t.Fatal(err)
	}
	restarted := httptest.NewServer(secondProviderConfigured(t, e, storage, func(c *OIDCConfig) { c.Clients[0].Level = authn.LevelPhr }))
	defer restarted.Close()
	conf := r.conf
	conf.Endpoint.TokenURL = restarted.URL + oidcTokenPath
	_, err = conf.TokenSource(t.Context(), &oauth2.Token{RefreshToken: tok.RefreshToken}).Token()
	if re, ok := err.(*oauth2.RetrieveError); !ok || re.ErrorCode != "invalid_grant" {
		t.Errorf("refresh of an mfa sign-in after the wiki's level became phr: %v, want invalid_grant", err)
	}
}
