package web

import (
	"crypto/rand"
	"encoding/base64"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/keyhall/keyhall/authn"
)

// TestOIDCSignInAgainEndsEarlierTokens: Anna uses the wiki (tokens through
// session A). Later, in the same browser, she signs in again (a tool's
// prompt=login, max_age or step-up, or just /login): session A ends, and
// with it the wiki's tokens of A, which the wiki is told by back-channel
// logout. The wiki gets new tokens through session B; when she signs out,
// those end too. Signing out ends every grant made in that browser
// (docs/oidc.md).
func TestOIDCSignInAgainEndsEarlierTokens(t *testing.T) {
	logouts := make(chan url.Values, 10)
	rpLogout := newBackchannelReceiver(t, logouts)
	w := newWikiSession(t, func(o *OIDCConfig) {
		o.Clients[0].BackchannelLogoutURI = rpLogout
		o.BackchannelBackoff = 10 * time.Millisecond
	})
	f, c, conf := w.f, w.c, w.conf(t)
	// wikiSignIn is the wiki's authorization in her browser, answered
	// without a page (she is signed in): its tokens and their sid.
	wikiSignIn := func(step string) (*oauth2.Token, string) {
		t.Helper()
		verifier := oauth2.GenerateVerifier()
		authURL := conf.AuthCodeURL("st4te", oauth2.S256ChallengeOption(verifier), oauth2.SetAuthURLParam("prompt", "none"))
		res, _ := c.get(strings.TrimPrefix(authURL, f.base))
		res, _ = c.get(res.Header.Get("Location"))
		loc, _ := url.Parse(res.Header.Get("Location"))
		tok, err := conf.Exchange(t.Context(), loc.Query().Get("code"), oauth2.VerifierOption(verifier))
		if err != nil {
			t.Fatalf("%s: exchange: %v (continue answered %d %s)", step, err, res.StatusCode, loc)
		}
		raw, _ := tok.Extra("id_token").(string)
		sid, _ := claimsOf(t, raw)["sid"].(string)
		return tok, sid
	}
	// toldOf waits for the back-channel logout of sid.
	toldOf := func(step, sid string) {
		t.Helper()
		select {
		case form := <-logouts:
			raw := form.Get("logout_token")
			if got, _ := claimsOf(t, raw)["sid"].(string); got != sid {
				t.Errorf("%s: the wiki was told of the end of session %q, want %q", step, got, sid)
			}
		case <-time.After(5 * time.Second):
			t.Errorf("%s: the wiki got no back-channel logout for its session", step)
		}
	}
	refused := func(step string, tok *oauth2.Token) {
		t.Helper()
		if _, err := conf.TokenSource(t.Context(), &oauth2.Token{RefreshToken: tok.RefreshToken}).Token(); err == nil {
			t.Errorf("%s: the wiki's refresh token still gives tokens", step)
		}
	}
	tokA, sidA := wikiSignIn("session A")

	// She signs in again in the same browser: app code, then password.
	w.signInAgain(t)
	toldOf("signed in again", sidA)
	refused("signed in again, session A's token", tokA)

	// The wiki comes back for tokens through session B; she signs out.
	tokB, sidB := wikiSignIn("session B")
	if sidB == sidA {
		t.Fatalf("the second sign-in kept the sid %s", sidA)
	}
	if res, _ := c.form("/logout", url.Values{}); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("logout: %d", res.StatusCode)
	}
	toldOf("signed out", sidB)
	refused("signed out, session B's token", tokB)
	refused("signed out, session A's token", tokA)
}

// TestOIDCSignInAgainWhenTokensCannotEnd: when the earlier session's OIDC
// tokens cannot be ended at a new sign-in (the database refuses), she is
// still signed in, and IT reads an error naming the session (its handle,
// as on /account): those tokens outlive her sign-out until they expire.
func TestOIDCSignInAgainWhenTokensCannotEnd(t *testing.T) {
	w := newWikiSession(t, nil)
	f := w.f
	id, _ := base64.RawURLEncoding.DecodeString(w.cookie.Value) // session A
	if _, err := f.store.DB().Exec("ALTER TABLE oidc_tokens RENAME TO oidc_tokens_away"); err != nil {
		t.Fatal(err)
	}

	// Signing in again while the earlier session's tokens cannot end.
	w.signInAgain(t)
	want := "session=" + authn.HashSessionID(id).Handle()
	for line := range strings.SplitSeq(f.logs.String(), "\n") {
		if strings.Contains(line, "level=ERROR") && strings.Contains(line, want) {
			return
		}
	}
	t.Errorf("no error in the log naming the earlier session (%s):\n%s", want, f.logs.String())
}

// wikiSession is a fixture with the OIDC client "wiki" (a secret,
// wikiRedirect; changed by mutate) and anna, who has a password and an
// app; c is her browser, signed in as session A (cookie).
type wikiSession struct {
	f      *fixture
	c      *client
	anna   authn.User
	totp   []byte
	secret string
	cookie *http.Cookie
}

func newWikiSession(t *testing.T, mutate func(*OIDCConfig)) *wikiSession {
	t.Helper()
	w := &wikiSession{}
	secret, sum := NewOIDCClientSecret()
	w.secret = secret
	w.f = newFixture(t, func(c *Config) {
		c.OIDC = OIDCConfig{Clients: []OIDCClient{{ID: "wiki", SecretSHA256: sum[:], RedirectURIs: []string{wikiRedirect}}}}
		rand.Read(c.OIDC.CryptoKey[:])
		rand.Read(c.OIDC.EncryptionKey[:])
		if mutate != nil {
			mutate(&c.OIDC)
		}
	})
	w.anna = w.f.addUser("anna")
	w.f.setPassword(w.anna, testPassword)
	w.totp = w.f.addTOTP(w.anna)
	w.c = w.f.client()
	w.cookie = w.f.sessionCookie(w.anna, time.Now(), false)
	w.c.cookies[SessionCookie] = w.cookie.Value
	return w
}

// conf is the wiki's OAuth 2.0 configuration, found through go-oidc's
// discovery, with offline_access.
func (w *wikiSession) conf(t *testing.T) oauth2.Config {
	t.Helper()
	p, err := oidc.NewProvider(t.Context(), w.f.base)
	if err != nil {
		t.Fatal(err)
	}
	return oauth2.Config{ClientID: "wiki", ClientSecret: w.secret, RedirectURL: wikiRedirect, Endpoint: p.Endpoint(),
		Scopes: []string{oidc.ScopeOpenID, oidc.ScopeOfflineAccess}}
}

// signInAgain signs her in again in the same browser: app code, then
// password; each step must go on (303).
func (w *wikiSession) signInAgain(t *testing.T) {
	t.Helper()
	if got := w.c.startAt("anna"); got != "/login/totp" {
		t.Fatalf("sign-in starts at %s", got)
	}
	if res, body := w.c.form("/login/totp", url.Values{"code": {totpCode(t, w.totp)}}); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("totp: %d %s", res.StatusCode, body)
	}
	if res, body := w.c.form("/login/password", url.Values{"password": {testPassword}}); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("password: %d %s; want her signed in", res.StatusCode, body)
	}
}
