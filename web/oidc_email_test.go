package web

import (
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/keyhall/keyhall/authn"
	"github.com/keyhall/keyhall/enroll"
)

// TestOIDCEmailVerified: email_verified is true only for an address the
// person confirmed by the link mailed to it, and false again once the
// address changes. Opening the link alone confirms nothing (mail scanners
// open links); the button on its page does, once.
func TestOIDCEmailVerified(t *testing.T) {
	e := newOIDCEnv(t, nil)
	b := newBrowser(t)
	e.signIn(b, e.anna, "phrh", "hwk")
	r := e.rp("wiki", e.secret, wikiRedirect, "email")
	verified := func(when string, want bool) {
		t.Helper()
		tok, err := r.conf.Exchange(t.Context(), e.code(b, r), oauth2.VerifierOption(r.verifier))
		if err != nil {
			t.Fatalf("%s: exchange: %v", when, err)
		}
		idt, err := r.provider.Verifier(&oidc.Config{ClientID: "wiki"}).Verify(t.Context(), tok.Extra("id_token").(string))
		if err != nil {
			t.Fatal(err)
		}
		var claims struct {
			EmailVerified *bool `json:"email_verified"`
		}
		if err := idt.Claims(&claims); err != nil {
			t.Fatal(err)
		}
		ui, err := r.provider.UserInfo(t.Context(), oauth2.StaticTokenSource(tok))
		if err != nil {
			t.Fatalf("%s: userinfo: %v", when, err)
		}
		if claims.EmailVerified == nil || *claims.EmailVerified != want || ui.EmailVerified != want {
			inToken := "absent"
			if claims.EmailVerified != nil {
				inToken = strconv.FormatBool(*claims.EmailVerified)
			}
			t.Errorf("%s: email_verified %s in the ID token, %v at userinfo; want %v", when, inToken, ui.EmailVerified, want)
		}
	}
	verified("an address IT entered", false)

	pub, _ := url.Parse(e.issuer)
	svc, err := enroll.New(enroll.Config{Store: e.st, PublicURL: pub, EncryptionKey: [32]byte{1}})
	if err != nil {
		t.Fatal(err)
	}
	mail, err := svc.RequestEmailConfirmation(t.Context(), e.anna.ID, "cli:test", "ticket 1")
	if err != nil {
		t.Fatal(err)
	}
	link := regexp.MustCompile(`https?://\S+/email/confirm/\S+`).FindString(mail.Body)
	if mail.To != e.anna.Email || link == "" {
		t.Fatalf("confirmation mail to %q without a link:\n%s", mail.To, mail.Body)
	}
	if status, _ := b.get(e.issuer, link); status != http.StatusOK {
		t.Fatalf("GET the link: %d", status)
	}
	verified("after opening the link without confirming", false)
	confirm := func() (int, string) {
		req, _ := http.NewRequest("POST", link, nil)
		req.Header.Set("Origin", e.issuer)
		return doRead(t, req)
	}
	if status, body := confirm(); status != http.StatusOK || !strings.Contains(body, "bestätigt") {
		t.Fatalf("POST the link: %d\n%s", status, body)
	}
	verified("after confirming", true)
	if status, _ := confirm(); status != http.StatusBadRequest {
		t.Errorf("POST the link again: %d, want 400", status)
	}

	ev := authn.AuditEvent{Time: e.clock.Now(), Actor: "test", Action: "user.update", Subject: "user:" + e.anna.ID, Reason: "test"}
	if _, err := e.st.UpdateUser(t.Context(), e.anna.ID, func(u authn.User) (authn.User, error) {
		u.Email = "anna.neu@stadt.example"
		return u, nil
	}, ev); err != nil {
		t.Fatal(err)
	}
	verified("after the address changed", false)
}
