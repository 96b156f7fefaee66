package web

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/keyhall/keyhall/authn"
	"github.com/keyhall/keyhall/authn/sqlstore"
	"github.com/keyhall/keyhall/authn/sqlstore/pgtest"
)

// TestOIDCDatabaseOutageIsNotRevocation: while the database is down, a
// tool holding a valid refresh token, access token or code is told to try
// again (503 temporarily_unavailable), never that its grant is gone
// (invalid_grant, 401, 403), which would make it drop the person's
// session. When the database is back, the same tokens and code work.
func TestOIDCDatabaseOutageIsNotRevocation(t *testing.T) {
	backends := []struct {
		name string
		// start returns the storage URL and how to take the database down
		// and bring it back under a running server.
		start func(t *testing.T) (storage string, down, up func(e *oidcEnv))
	}{
		{"sqlite", func(t *testing.T) (string, func(*oidcEnv), func(*oidcEnv)) {
			storage := "sqlite://" + filepath.Join(t.TempDir(), "k.db")
			down := func(e *oidcEnv) { e.st.Close() } // every query now fails: "sql: database is closed"
			up := func(e *oidcEnv) {
				st, err := sqlstore.Open(t.Context(), storage, sqlstore.Options{})
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { st.Close() })
				if err := e.srv.SetStore(st, nil); err != nil {
					t.Fatal(err)
				}
				e.st = st
			}
			return storage, down, up
		}},
		{"postgres", func(t *testing.T) (string, func(*oidcEnv), func(*oidcEnv)) {
			pg := pgtest.Start(t)
			return pg.NewDatabase(t), func(*oidcEnv) { pg.Stop(t) }, func(*oidcEnv) { pg.Start(t) }
		}},
	}
	for _, bk := range backends {
		t.Run(bk.name, func(t *testing.T) {
			storage, down, up := bk.start(t)
			e := newOIDCEnvOn(t, storage, nil)
			b := newBrowser(t)
			e.signIn(b, e.anna, "phrh", "hwk", "user", "pwd", "mfa")
			r := e.rp("wiki", e.secret, wikiRedirect, "email", oidc.ScopeOfflineAccess)
			tok, err := r.conf.Exchange(t.Context(), e.code(b, r), oauth2.VerifierOption(r.verifier))
			if err != nil {
				t.Fatalf("exchange: %v", err)
			}
			code := e.code(b, r) // issued, not yet redeemed

			down(e)
			_, err = r.conf.TokenSource(t.Context(), &oauth2.Token{RefreshToken: tok.RefreshToken}).Token()
			wantUnavailable(t, "refresh", err)
			_, err = r.conf.Exchange(t.Context(), code, oauth2.VerifierOption(r.verifier))
			wantUnavailable(t, "code exchange", err)
			if status, body := bearerGet(t, e.issuer+oidcUserinfoPath, tok.AccessToken); status != http.StatusServiceUnavailable {
				t.Errorf("userinfo with the database down: %d %s, want 503", status, body)
			}
			if status, body := postRevoke(t, e, tok.AccessToken); status != http.StatusServiceUnavailable ||
				!strings.Contains(body, oauthTemporarilyUnavailable) {
				t.Errorf("revocation with the database down: %d %s, want 503 %s", status, body, oauthTemporarilyUnavailable)
			}
			// RP-initiated logout that cannot read the session must not send
			// the tool "signed out" while the session lives on: with the
			// session cache warm (it cannot be ended) and cold (past the
			// cache's 900 ms: it cannot be read).
			q := url.Values{"id_token_hint": {tok.Extra("id_token").(string)}, "post_logout_redirect_uri": {"https://wiki.example/bye"}}
			for _, when := range []string{"warm", "cold"} {
				if when == "cold" {
					time.Sleep(time.Second) // the session cache's entries live 900 ms
				}
				if status, loc := b.get(e.issuer, oidcEndSessionPath+"?"+q.Encode()); status < 500 {
					t.Errorf("end_session with the database down (cache %s): %d to %q, want 5xx", when, status, loc)
				}
				if _, ok := b.cookies[SessionCookie]; !ok {
					t.Fatalf("end_session with the database down (cache %s) cleared the session cookie", when)
				}
			}

			up(e)
			if status, _ := b.get(e.issuer, "/api/session"); status != http.StatusOK {
				t.Errorf("the session after the database is back: %d, want 200 (a failed end_session ended it)", status)
			}
			if _, err := r.conf.TokenSource(t.Context(), &oauth2.Token{RefreshToken: tok.RefreshToken}).Token(); err != nil {
				t.Errorf("refresh after the database is back: %v", err)
			}
			if ui, err := r.provider.UserInfo(t.Context(), oauth2.StaticTokenSource(tok)); err != nil || ui.Subject != e.anna.ID {
				t.Errorf("userinfo after the database is back: %+v, %v", ui, err)
			}
			if _, err := r.conf.Exchange(t.Context(), code, oauth2.VerifierOption(r.verifier)); err != nil {
				t.Errorf("code exchange after the database is back: %v", err)
			}
		})
	}
}

// wantUnavailable checks that a token request failed with 503
// temporarily_unavailable.
func wantUnavailable(t *testing.T, what string, err error) {
	t.Helper()
	var re *oauth2.RetrieveError
	if !errors.As(err, &re) {
		t.Errorf("%s with the database down: %v, want 503 %s", what, err, oauthTemporarilyUnavailable)
		return
	}
	if re.Response.StatusCode != http.StatusServiceUnavailable || re.ErrorCode != oauthTemporarilyUnavailable {
		t.Errorf("%s with the database down: %d %q, want 503 %s", what, re.Response.StatusCode, re.ErrorCode, oauthTemporarilyUnavailable)
	}
}

// bearerGet GETs u with an access token and returns status and body.
func bearerGet(t *testing.T, u, token string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest("GET", u, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	return doRead(t, req)
}

// postRevoke asks wiki's revocation of token and returns status and body.
func postRevoke(t *testing.T, e *oidcEnv, token string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest("POST", e.issuer+oidcRevokePath, strings.NewReader(url.Values{"token": {token}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth("wiki", e.secret)
	return doRead(t, req)
}

func doRead(t *testing.T, req *http.Request) (int, string) {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, readBody(t, resp)
}

// groupsDown is a store whose reads of a person's groups fail while down
// is set: a database that fails one statement after another succeeded.
type groupsDown struct {
	authn.Store
	down atomic.Bool
}

func (s *groupsDown) UserGroups(ctx context.Context, userID string) ([]authn.Group, error) {
	if s.down.Load() {
		return nil, errors.New("injected: database failed")
	}
	return s.Store.UserGroups(ctx, userID)
}

// TestOIDCRefreshPartialOutage: a refresh whose answer cannot be made (the
// groups for the ID token cannot be read) uses nothing up: the tool's retry
// with the same refresh token works once the database answers, instead of
// being taken for reuse, which would end the whole grant.
func TestOIDCRefreshPartialOutage(t *testing.T) {
	e := newOIDCEnv(t, nil)
	b := newBrowser(t)
	e.signIn(b, e.anna, "phr", "pop", "user")
	r := e.rp("wiki", e.secret, wikiRedirect, "groups", oidc.ScopeOfflineAccess)
	tok, err := r.conf.Exchange(t.Context(), e.code(b, r), oauth2.VerifierOption(r.verifier))
	if err != nil {
		t.Fatalf("exchange: %v", err)
	}
	st := &groupsDown{Store: e.st}
	if err := e.srv.SetStore(st, nil); err != nil {
		t.Fatal(err)
	}
	st.down.Store(true)
	_, err = r.conf.TokenSource(t.Context(), &oauth2.Token{RefreshToken: tok.RefreshToken}).Token()
	wantUnavailable(t, "refresh with the groups unreadable", err)
	st.down.Store(false)
	if _, err := r.conf.TokenSource(t.Context(), &oauth2.Token{RefreshToken: tok.RefreshToken}).Token(); err != nil {
		t.Errorf("the same refresh token once the database answers: %v", err)
	}
}
