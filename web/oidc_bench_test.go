package web

import (
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/keyhall/keyhall/authn"
)

// BenchmarkTokenEndpoint measures code → ID and access token (ES256)
// through the real server and a SQLite store, with many tools at once.
// The codes are made beforehand, straight in the store.
func BenchmarkTokenEndpoint(b *testing.B) {
	e := newOIDCEnv(b, nil)
	verifier := strings.Repeat("v", 43)
	sum := sha256.Sum256([]byte(verifier))
	challenge := base64.RawURLEncoding.EncodeToString(sum[:])
	now := e.clock.Now()
	codes := make([]string, b.N)
	for i := range codes {
		r := authn.OIDCAuthRequest{ID: authn.NewID(), ClientID: "wiki", RedirectURI: wikiRedirect,
			Scopes: []string{"openid", "profile", "email"}, Nonce: "n", CodeChallenge: challenge,
			CodeChallengeMethod: "S256", MaxAge: -1, CreatedAt: now, ExpiresAt: now.Add(time.Hour)}
		codes[i] = newSecretToken()
		in := authn.OIDCSignIn{UserID: e.anna.ID, AMR: []string{"hwk"}, ACR: "phrh", AuthTime: now,
			Session: authn.SessionHash(sha256.Sum256([]byte("s")))}
		if err := e.st.CreateOIDCAuthRequest(b.Context(), r); err != nil {
			b.Fatal(err)
		}
		if err := e.st.CompleteOIDCAuthRequest(b.Context(), r.ID, in, now); err != nil {
			b.Fatal(err)
		}
		if err := e.st.SetOIDCCode(b.Context(), r.ID, authn.HashToken(codes[i]), now.Add(time.Hour)); err != nil {
			b.Fatal(err)
		}
	}
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 256}}
	var next atomic.Int64
	b.SetParallelism(32)
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			code := codes[next.Add(1)-1]
			form := url.Values{"grant_type": {"authorization_code"}, "code": {code},
				"redirect_uri": {wikiRedirect}, "code_verifier": {verifier}}
			req, _ := http.NewRequest("POST", e.issuer+oidcTokenPath, strings.NewReader(form.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.SetBasicAuth("wiki", e.secret)
			resp, err := client.Do(req)
			if err != nil {
				b.Error(err)
				return
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				b.Errorf("token endpoint: status %d", resp.StatusCode)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "ops/s")
}
