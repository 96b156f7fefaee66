package web

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"net/url"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/keyhall/keyhall/authn"
)

// BenchmarkTokenEndpoint measures code → ID and access token (ES256)
// through the real server and a SQLite store, with many tools at once.
// The codes are made beforehand, straight in the store (one completed
// request with its code per statement). The clients keep their
// connections open, as a tool's HTTP client does, and each reads and
// checks the whole response; they are the load runs' lean HTTP/1.1 client
// (loadClient), so that most of the CPU goes to the server, as with wrk.
// Besides the rate it reports the process's CPU time per request (server
// and clients together, from getrusage).
func BenchmarkTokenEndpoint(b *testing.B) {
	e := newOIDCEnv(b, nil)
	verifier := strings.Repeat("v", 43)
	sum := sha256.Sum256([]byte(verifier))
	challenge := base64.RawURLEncoding.EncodeToString(sum[:])
	now := e.clock.Now()
	codes := make([]string, b.N)
	for i := range codes {
		codes[i] = newSecretToken()
		r := authn.OIDCAuthRequest{ID: authn.NewID(), ClientID: "wiki", RedirectURI: wikiRedirect,
			Scopes: []string{"openid", "profile", "email"}, Nonce: "n", CodeChallenge: challenge,
			CodeChallengeMethod: "S256", MaxAge: -1, CreatedAt: now, ExpiresAt: now.Add(time.Hour),
			UserID: e.anna.ID, AMR: []string{"hwk"}, ACR: "phrh", AuthTime: now,
			Session: authn.SessionHash(sha256.Sum256([]byte("s"))), DoneAt: now,
			CodeHash: authn.HashToken(codes[i]), CodeExpiresAt: now.Add(time.Hour)}
		if err := e.st.CreateOIDCAuthRequest(b.Context(), r); err != nil {
			b.Fatal(err)
		}
	}
	parallelism := max(1, loadWorkers/runtime.GOMAXPROCS(0)) // about loadWorkers clients
	client := &loadClient{addr: "127.0.0.1:" + strings.TrimPrefix(e.issuer, "http://localhost:"),
		conns: make([]*loadConn, parallelism*runtime.GOMAXPROCS(0))}
	defer client.close()
	auth := "Authorization: Basic " + base64.StdEncoding.EncodeToString([]byte("wiki:"+e.secret)) + "\r\n"
	var next, workers atomic.Int64
	b.SetParallelism(parallelism)
	cpu0 := cpuTime()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		w := int(workers.Add(1) - 1)
		for pb.Next() {
			code := codes[next.Add(1)-1]
			form := url.Values{"grant_type": {"authorization_code"}, "code": {code},
				"redirect_uri": {wikiRedirect}, "code_verifier": {verifier}}
			r, err := client.send(w, oidcTokenPath, "application/x-www-form-urlencoded", []byte(form.Encode()), auth)
			if err != nil || r.status != http.StatusOK || !bytes.Contains(r.body, []byte(`"id_token":"ey`)) ||
				!bytes.Contains(r.body, []byte(`"access_token":"ey`)) || !bytes.Contains(r.body, []byte(`"token_type":"Bearer"`)) {
				b.Errorf("token endpoint: status %d, %v: %.200s", r.status, err, r.body)
				return
			}
		}
	})
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "ops/s")
	b.ReportMetric(float64((cpuTime()-cpu0).Microseconds())/float64(b.N), "cpu-µs/op")
}
