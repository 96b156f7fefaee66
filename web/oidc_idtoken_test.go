package web

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"math"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/zitadel/oidc/v3/pkg/op"

	"github.com/keyhall/keyhall/authn"
)

// TestOIDCIDTokenLikeZitadel checks the ID tokens Keyhall signs itself: the
// signature verifies with the published key, the header is go-jose's, the
// registered claims are the ones zitadel/oidc's op.CreateIDToken writes for
// the same request, and the person's claims follow the scopes.
func TestOIDCIDTokenLikeZitadel(t *testing.T) {
	e := newOIDCEnv(t, nil)
	p := e.srv.oidc
	ctx := op.ContextWithIssuer(t.Context(), e.issuer)
	c := p.clients["wiki"]
	now := e.clock.Now()
	session := authn.SessionHash(sha256.Sum256([]byte("s")))
	anna, err := e.st.GetUser(ctx, e.anna.ID)
	if err != nil {
		t.Fatal(err)
	}
	anna.VerifiedEmail = anna.Email // as read after she confirmed it
	code := authRequest{user: &anna, r: authn.OIDCAuthRequest{ID: authn.NewID(), ClientID: "wiki",
		RedirectURI: wikiRedirect, Scopes: []string{"openid", "profile", "email", "groups"}, Nonce: "n0nce",
		UserID: anna.ID, AMR: []string{"hwk", "pwd"}, ACR: "phrh", AuthTime: now.Add(-time.Minute), Session: session}}
	refresh := &refreshRequest{user: anna, scopes: []string{"openid", "email"}, t: authn.OIDCToken{GrantID: code.r.ID,
		ClientID: "wiki", UserID: anna.ID, Session: session, AMR: []string{"hwk"}, ACR: "phr", AuthTime: now}}
	k, err := p.signingKey(ctx)
	if err != nil {
		t.Fatal(err)
	}

	for _, tc := range []struct {
		name         string
		req          tokenRequest
		access, code string
		want         map[string]any // besides zitadel/oidc's registered claims
	}{
		{"code", code, "access-token", "the-code", map[string]any{
			"sub": anna.ID, "sid": sessionSID(session), "name": "Anna", "preferred_username": "anna",
			"email": "anna@stadt.example", "email_verified": true, "groups": []any{},
		}},
		{"refresh", refresh, "access-token", "", map[string]any{
			"sub": anna.ID, "sid": sessionSID(session), "email": "anna@stadt.example", "email_verified": true, "acr": "phr",
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			raw, err := p.idToken(ctx, tc.req, c, tc.access, tc.code)
			if err != nil {
				t.Fatal(err)
			}
			jws, err := jose.ParseSigned(raw, []jose.SignatureAlgorithm{jose.ES256})
			if err != nil {
				t.Fatal(err)
			}
			payload, err := jws.Verify(&k.priv.PublicKey)
			if err != nil {
				t.Fatalf("verify: %v", err)
			}
			if h := jws.Signatures[0].Header; h.KeyID != k.id || h.ExtraHeaders["typ"] != "JWT" {
				t.Errorf("header %+v, want kid %s and typ JWT", h, k.id)
			}
			var got map[string]any
			if err := json.Unmarshal(payload, &got); err != nil {
				t.Fatal(err)
			}

			// zitadel/oidc's ID token of the same request: its registered
			// claims (without SetUserinfoFromRequest it writes no person's
			// claims, not even sub).
			ref, err := op.CreateIDToken(ctx, e.issuer, tc.req, c.IDTokenLifetime(), tc.access, tc.code, p.storage, c)
			if err != nil {
				t.Fatal(err)
			}
			want := tc.want
			for name, v := range claimsOf(t, ref) {
				if _, ok := want[name]; !ok {
					want[name] = v
				}
			}
			for _, name := range []string{"iat", "exp"} {
				g, _ := got[name].(float64)
				w, _ := want[name].(float64)
				if math.Abs(g-w) > 2 {
					t.Errorf("%s = %v, want %v", name, got[name], want[name])
				}
				delete(got, name)
				delete(want, name)
			}
			gotJSON, _ := json.Marshal(got)
			wantJSON, _ := json.Marshal(want)
			if string(gotJSON) != string(wantJSON) {
				t.Errorf("claims\n got %s\nwant %s", gotJSON, wantJSON)
			}
		})
	}
}

// claimsOf returns the claims of a JWT, unverified.
func claimsOf(t *testing.T, raw string) map[string]any {
	t.Helper()
	jws, err := jose.ParseSigned(raw, []jose.SignatureAlgorithm{jose.ES256})
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(jws.UnsafePayloadWithoutVerification(), &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// idToken makes the signed ID token of req for client c, bound to the
// access token and the code by their hashes (OIDC Core §3.1.3.6, §3.3.2.11),
// as respondTokens does: for the tests of the claims.
func (p *oidcProvider) idToken(ctx context.Context, req tokenRequest, c *oidcClient, accessToken, code string) (string, error) {
	k, claims, err := p.idTokenClaims(ctx, req, c, code)
	if err != nil {
		return "", err
	}
	if accessToken != "" {
		claims.AtHash = halfHash(accessToken)
	}
	return k.signJWT(claims)
}
