package web

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"golang.org/x/oauth2"
)

// TestOIDCRotationHintOutlivesJWKS: a tool keeps the ID token of a sign-in
// for logout for the whole session (hours). After a rotation, once the
// retired key has left the JWKS, end_session with that token as
// id_token_hint still ends the session, and prompt=none with it still
// names the person; a hint of a key retired longer ago than any session
// can live is refused.
func TestOIDCRotationHintOutlivesJWKS(t *testing.T) {
	e := newOIDCEnv(t, nil)
	b := newBrowser(t)
	e.signIn(b, e.anna, "phrh", "hwk")
	r := e.rp("wiki", e.secret, wikiRedirect)
	tok, err := r.conf.Exchange(t.Context(), e.code(b, r), oauth2.VerifierOption(r.verifier))
	if err != nil {
		t.Fatal(err)
	}
	hint := tok.Extra("id_token").(string)
	oldKid := kidOf(t, hint)
	rotateKey(t, e.st, e.srv.oidc.cfg.EncryptionKey, e.clock.Now())
	time.Sleep(keyPoll + 100*time.Millisecond)                 // every process has seen the rotation
	e.clock.Add(RetiredKeyGrace(e.srv.oidc.cfg) + time.Minute) // about 22 minutes: the session (8 h) lives on
	if slices.Contains(jwksKids(t, e.issuer), oldKid) {
		t.Fatalf("the retired key %s is still in the JWKS after its grace", oldKid)
	}

	none := oauth2.SetAuthURLParam("prompt", "none")
	if status, loc := b.get(e.issuer, r.authURL(none, oauth2.SetAuthURLParam("id_token_hint", hint))); status != http.StatusFound || !strings.HasPrefix(loc, oidcContinuePath) {
		t.Errorf("prompt=none with an ID token of the retired key as hint: %d to %q, want on to %s", status, loc, oidcContinuePath)
	}

	q := url.Values{"id_token_hint": {hint}, "post_logout_redirect_uri": {"https://wiki.example/bye"}, "state": {"s"}}
	status, loc := b.get(e.issuer, oidcEndSessionPath+"?"+q.Encode())
	if status != http.StatusFound || loc != "https://wiki.example/bye?state=s" {
		t.Errorf("end_session with an ID token of the retired key as hint: %d to %q, want 302 to the tool", status, loc)
	}
	if _, ok := b.cookies[SessionCookie]; ok {
		t.Error("end_session with an ID token of the retired key: the session cookie was not cleared")
	}
	if q := e.authorize(b, r.authURL(none)); q.Get("error") != "login_required" {
		t.Errorf("prompt=none after end_session: %v, want login_required: the session lives on", q)
	}

	// Retired longer ago than a session lives: no session it names can be
	// alive, and the hint no longer names anyone.
	e.clock.Add(e.srv.max + time.Hour)
	e.signIn(b, e.anna, "phrh", "hwk")
	status, loc = b.get(e.issuer, r.authURL(none, oauth2.SetAuthURLParam("id_token_hint", hint)))
	if status != http.StatusFound || !containsParam(loc, "error", "login_required") {
		t.Errorf("prompt=none with a hint of a key retired longer than session.max_age ago: %d to %q, want login_required", status, loc)
	}
}

// containsParam says whether the URL loc has the query parameter k=v.
func containsParam(loc, k, v string) bool {
	u, err := url.Parse(loc)
	return err == nil && u.Query().Get(k) == v
}

// TestOIDCRotationPublishedEverywhereAtOnce: right after a rotation, the
// JWKS of every process has the new key, also of one that has not yet
// noticed the rotation, so a tool that meets the new kid and fetches the
// JWKS again finds it whichever process answers.
func TestOIDCRotationPublishedEverywhereAtOnce(t *testing.T) {
	storage := "sqlite://" + t.TempDir() + "/keyhall.db"
	e := newOIDCEnvOn(t, storage, nil)
	other := secondProvider(t, e, storage)
	jwksOfOther := func() []string {
		t.Helper()
		rec := httptest.NewRecorder()
		other.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, e.issuer+oidcKeysPath, nil))
		var set jose.JSONWebKeySet
		if err := json.Unmarshal(rec.Body.Bytes(), &set); err != nil || rec.Code != http.StatusOK {
			t.Fatalf("JWKS of the second process: %d, %v", rec.Code, err)
		}
		var kids []string
		for _, k := range set.Keys {
			kids = append(kids, k.KeyID)
		}
		return kids
	}
	before := jwksOfOther() // both processes have read the keys
	if !slices.Equal(jwksKids(t, e.issuer), before) {
		t.Fatalf("two processes publish different keys: %v and %v", jwksKids(t, e.issuer), before)
	}
	newKid := rotateKey(t, e.st, e.srv.oidc.cfg.EncryptionKey, e.clock.Now())
	if got := jwksOfOther(); !slices.Contains(got, newKid) || !slices.Contains(got, before[0]) {
		t.Errorf("JWKS of another process right after the rotation: %v, want the new key %s and the old %s", got, newKid, before[0])
	}
}
