package web

import (
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
)

// TestOIDCRefreshFamilyKeepsItsEnd: refresh tokens rotate, but the family
// keeps the end of its first token (refresh_token_lifetime after the code
// was redeemed), and never outlives session.max_age (12 hours here) after
// the sign-in (auth_time): a tool refreshing before each end cannot keep a
// sign-in alive for ever.
func TestOIDCRefreshFamilyKeepsItsEnd(t *testing.T) {
	for _, tc := range []struct {
		name     string
		lifetime time.Duration // the wiki's refresh_token_lifetime; 0: the default, 8h
		end      time.Duration // after the sign-in, when the family ends
	}{
		{"refresh_token_lifetime", 0, 8 * time.Hour},
		{"session.max_age", 48 * time.Hour, 12 * time.Hour},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newOIDCEnv(t, func(c *OIDCConfig) { c.Clients[0].RefreshTokenLifetime = tc.lifetime })
			b := newBrowser(t)
			e.signIn(b, e.anna, "phrh", "hwk")
			r := e.rp("wiki", e.secret, wikiRedirect, oidc.ScopeOfflineAccess)
			tok, err := r.conf.Exchange(t.Context(), e.code(b, r), oauth2.VerifierOption(r.verifier))
			if err != nil {
				t.Fatal(err)
			}
			start := e.clock.Now()
			rt := tok.RefreshToken
			// Refresh every 3 hours: each answer rotates the token.
			for e.clock.Now().Add(3 * time.Hour).Before(start.Add(tc.end)) {
				e.clock.Add(3 * time.Hour)
				next, err := r.conf.TokenSource(t.Context(), &oauth2.Token{RefreshToken: rt}).Token()
				if err != nil {
					t.Fatalf("refresh %v after the sign-in: %v", e.clock.Now().Sub(start), err)
				}
				rt = next.RefreshToken
			}
			e.clock.Add(start.Add(tc.end).Sub(e.clock.Now()) + time.Minute)
			if _, err := r.conf.TokenSource(t.Context(), &oauth2.Token{RefreshToken: rt}).Token(); err == nil {
				t.Errorf("a rotated refresh token still refreshes %v after the sign-in; the family ends after %v",
					e.clock.Now().Sub(start), tc.end)
			}
		})
	}
}
