package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"testing"
	"time"

	"github.com/keyhall/keyhall/authn"
	"github.com/keyhall/keyhall/web"
)

// TestAdminDisableTellsTools: disabling a person from the command line
// revokes her OIDC tokens and tells the tool that holds them by
// back-channel logout, as signing out in the browser does.
func TestAdminDisableTellsTools(t *testing.T) {
	logouts := make(chan url.Values, 4)
	tool := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.ParseForm()
		logouts <- r.PostForm
	}))
	defer tool.Close()
	dir := t.TempDir()
	_, sum := web.NewOIDCClientSecret()
	dbURL := "sqlite://" + filepath.Join(dir, "keyhall.db")
	setUpDatabase(t, dbURL)
	cfg := writeFile(t, dir, "keyhall.yaml", fmt.Sprintf(`storage: %s
keys:
  file: %s
oidc:
  clients:
    - id: wiki
      secret_sha256: %s
      redirect_uris: [https://wiki.stadt.example/cb]
      backchannel_logout_uri: %s/backchannel
`, dbURL, filepath.Join(dir, "keyhall.keys"), hex.EncodeToString(sum[:]), tool.URL))
	mustRun(t, nil, 0, "admin", "users", "add", "anna", "--config", cfg)

	st := openTestStore(t, dbURL)
	ctx := context.Background()
	tok := signedInToWiki(t, st, "anna")

	mustRun(t, nil, 0, "admin", "users", "disable", "anna", "--reason", "left the council", "--config", cfg)
	select {
	case form := <-logouts:
		if form.Get("logout_token") == "" {
			t.Errorf("back-channel logout without a logout token: %v", form)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the tool was not told that anna's sessions ended")
	}
	if got, err := st.GetOIDCToken(ctx, tok.ID); err != nil || got.RevokedAt.IsZero() {
		t.Errorf("anna's access token after disable: %+v, %v; want revoked", got, err)
	}
}

// signedInToWiki gives the person username a session with a hardware key
// and an access token of the tool "wiki" through it, and returns the token.
func signedInToWiki(t *testing.T, st authn.Store, username string) authn.OIDCToken {
	t.Helper()
	ctx := context.Background()
	u, err := st.GetUserByUsername(ctx, username)
	if err != nil {
		t.Fatal(err)
	}
	id := make([]byte, 32)
	rand.Read(id)
	now := time.Now()
	s := authn.Session{Hash: authn.HashSessionID(id), UserID: u.ID, AMR: []string{"hwk", "user", "mfa"}, ACR: "phrh",
		AuthTime: now, CreatedAt: now, LastSeenAt: now, ExpiresAt: now.Add(time.Hour)}
	if err := st.CreateSession(ctx, s); err != nil {
		t.Fatal(err)
	}
	tok := authn.OIDCToken{ID: authn.NewID(), Kind: authn.OIDCAccessToken, GrantID: authn.NewID(), ClientID: "wiki",
		UserID: u.ID, Session: s.Hash, Scopes: []string{"openid"}, AMR: s.AMR, ACR: s.ACR, AuthTime: now,
		CreatedAt: now, ExpiresAt: now.Add(10 * time.Minute)}
	if err := st.CreateOIDCTokens(ctx, tok); err != nil {
		t.Fatal(err)
	}
	return tok
}
