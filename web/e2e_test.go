package web

import (
	"context"
	"crypto/rand"
	"fmt"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/keyhall/keyhall/authn"
	"github.com/keyhall/keyhall/enroll"
)

// toolClaims is what the downstream tool learns about the person.
type toolClaims struct {
	Sub               string   `json:"sub"`
	PreferredUsername string   `json:"preferred_username"`
	ACR               string   `json:"acr"`
	AMR               []string `json:"amr"`
	Groups            []string `json:"groups"`
}

// councilTool is a downstream tool (the council information system) that
// signs people in over OpenID Connect with go-oidc and x/oauth2, code flow
// with PKCE, as such a tool would.
func councilTool(t *testing.T, issuer string, ln net.Listener, secret string) (base string, got <-chan toolClaims) {
	t.Helper()
	base = "http://localhost:" + strings.TrimPrefix(ln.Addr().String(), "127.0.0.1:")
	claims := make(chan toolClaims, 1)
	verifier, nonce := oauth2.GenerateVerifier(), rand.Text()
	var conf oauth2.Config
	var idv *oidc.IDTokenVerifier
	mux := http.NewServeMux()
	mux.HandleFunc("/start", func(w http.ResponseWriter, r *http.Request) {
		p, err := oidc.NewProvider(r.Context(), issuer) // discovery: the issuer must match exactly
		if err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		idv = p.Verifier(&oidc.Config{ClientID: "ratsinfo"})
		conf = oauth2.Config{ClientID: "ratsinfo", ClientSecret: secret, RedirectURL: base + "/callback",
			Endpoint: p.Endpoint(), Scopes: []string{oidc.ScopeOpenID, "profile", "groups"}}
		http.Redirect(w, r, conf.AuthCodeURL("st4te", oauth2.S256ChallengeOption(verifier), oidc.Nonce(nonce)), http.StatusFound)
	})
	mux.HandleFunc("/callback", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("state") != "st4te" || r.URL.Query().Get("iss") != issuer {
			http.Error(w, "wrong state or iss", 400)
			return
		}
		tok, err := conf.Exchange(r.Context(), r.URL.Query().Get("code"), oauth2.VerifierOption(verifier))
		if err != nil {
			http.Error(w, "exchange: "+err.Error(), 500)
			return
		}
		raw, _ := tok.Extra("id_token").(string)
		idt, err := idv.Verify(r.Context(), raw)
		if err != nil || idt.Nonce != nonce {
			http.Error(w, fmt.Sprintf("ID token: %v", err), 500)
			return
		}
		var c toolClaims
		if err := idt.Claims(&c); err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		claims <- c
		fmt.Fprintf(w, "Willkommen im Ratsinformationssystem, %s", c.PreferredUsername)
	})
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return base, claims
}

// TestEndToEndCouncillor is the path that matters most: a councillor gets
// an invitation, registers her security key through the real pages in
// Chromium (the virtual authenticator stands in for her YubiKey), and signs
// in to the council's tool over OpenID Connect with that key alone (PIN on
// the key), at the level the tool requires. Chromium's virtual key attests
// itself ("none" or packed self attestation), so no trusted root vouches
// for it: it signs in as a key (amr pop) at phr, never as a hardware key
// (hwk, phrh), whatever its backup-eligible flag says; the tool asks for
// phr.
func TestEndToEndCouncillor(t *testing.T) {
	secret, sum := NewOIDCClientSecret()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	toolBase := "http://localhost:" + strings.TrimPrefix(ln.Addr().String(), "127.0.0.1:")
	f := newFixture(t, func(c *Config) {
		c.OIDC = OIDCConfig{Clients: []OIDCClient{{ID: "ratsinfo", Name: "Ratsinformationssystem", SecretSHA256: sum[:],
			RedirectURIs: []string{toolBase + "/callback"}, Groups: []string{"rat"}, Level: authn.LevelPhr}}}
		rand.Read(c.OIDC.CryptoKey[:])
		c.OIDC.EncryptionKey = c.SignIn.EncryptionKey
	})
	f.withEnroll(enroll.Config{Policy: enroll.Policy{Default: enroll.DefaultKeyPolicy()}})
	anna := f.addUser("anna")
	rat := authn.Group{ID: authn.NewID(), Name: "rat", Source: authn.SourceLocal, CreatedAt: time.Now()}
	if err := f.store.CreateGroup(context.Background(), rat, f.audit("group.create")); err != nil {
		t.Fatal(err)
	}
	if err := f.store.AddMember(context.Background(), rat.ID, anna.ID, f.audit("group.add_member")); err != nil {
		t.Fatal(err)
	}
	inv := f.invite(anna)
	base, claims := councilTool(t, f.base, ln, secret)

	ctx := newTab(t)
	addAuthenticator(t, ctx, authenticatorOpts{uv: true})
	enrollKey(t, ctx, inv.Link, "Dienstschlüssel", "e2e-")
	choosePassword(t, ctx, "e2e-") // for the recovery codes, which a password follows at sign-in
	finishEnrollment(t, ctx, f, "e2e-")

	run(t, ctx, "open the tool", chromedp.Navigate(base+"/start"), waitPath("/login"),
		chromedp.WaitVisible(chromedp.ID("username")))
	run(t, ctx, "username", chromedp.SendKeys(chromedp.ID("username"), "anna\r"), waitPath("/login/key"))
	run(t, ctx, "touch the key (PIN on the key)", chromedp.Click(chromedp.ID("use-key")), waitPath("/callback"),
		waitText("body", "Willkommen im Ratsinformationssystem, anna"))
	saveShot(t, ctx, "e2e-tool") // the tool's page, not Keyhall's
	select {
	case c := <-claims:
		if c.Sub != anna.ID || c.PreferredUsername != "anna" || c.ACR != "phr" || slices.Contains(c.AMR, "hwk") ||
			!slices.Contains(c.AMR, "pop") || !slices.Contains(c.AMR, "user") || !slices.Contains(c.Groups, "rat") {
			t.Errorf("the tool got %+v; want anna, acr phr, amr with pop (not hwk) and user, group rat", c)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the tool got no ID token")
	}
	// On /account she sees her key and codes, and that this sign-in was
	// with her key and its PIN, for the council tool.
	left, err := f.store.CountRecoveryCodes(context.Background(), anna.ID)
	if err != nil {
		t.Fatal(err)
	}
	run(t, ctx, "her account", chromedp.Navigate(f.base+"/account"),
		waitText("#signins", "Sicherheitsschlüssel mit PIN oder Fingerabdruck · für Ratsinformationssystem"),
		waitText("#account-factors", "Sicherheitsschlüssel: Dienstschlüssel"),
		waitText("#account-factors", strconv.Itoa(left)+" unbenutzt übrig"))
	shot(t, ctx, "e2e-account")
}
