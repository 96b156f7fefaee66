package web

import (
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"golang.org/x/oauth2"
)

// TestOIDCCodeOfEndedSessionIsRefused: the wiki's authorization under
// session A returns a code; before the wiki redeems it (another tab, a
// slow tool), Anna signs in again in the same browser (session B: A ends,
// its tokens too), or signs out. The code of A is refused (invalid_grant):
// redeemed, it would give tokens of A that no later sign-out reaches.
// Signing out ends every grant made in that browser (docs/oidc.md).
func TestOIDCCodeOfEndedSessionIsRefused(t *testing.T) {
	for _, tc := range []struct {
		name string
		end  func(t *testing.T, w *wikiSession)
	}{
		{"she signs in again", func(t *testing.T, w *wikiSession) { w.signInAgain(t) }},
		{"she signs out", func(t *testing.T, w *wikiSession) {
			if res, _ := w.c.form("/logout", url.Values{}); res.StatusCode != http.StatusSeeOther {
				t.Fatalf("logout: %d", res.StatusCode)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newWikiSession(t, nil)
			f, c, conf := w.f, w.c, w.conf(t)
			verifier := oauth2.GenerateVerifier()
			authURL := conf.AuthCodeURL("st4te", oauth2.S256ChallengeOption(verifier), oauth2.SetAuthURLParam("prompt", "none"))
			res, _ := c.get(strings.TrimPrefix(authURL, f.base))
			res, _ = c.get(res.Header.Get("Location"))
			loc, _ := url.Parse(res.Header.Get("Location"))
			code := loc.Query().Get("code")
			if code == "" {
				t.Fatalf("no code: %s", loc)
			}

			tc.end(t, w)
			// The wiki redeems the code of session A now.
			_, err := conf.Exchange(t.Context(), code, oauth2.VerifierOption(verifier))
			var re *oauth2.RetrieveError
			if !errors.As(err, &re) || re.ErrorCode != "invalid_grant" {
				t.Errorf("the wiki redeems a code of session A after %s: %v; want invalid_grant", tc.name, err)
			}
			if strings.Contains(f.logs.String(), "used twice") {
				t.Errorf("a code of an ended session was logged as a replay:\n%s", f.logs.String())
			}
		})
	}
}
