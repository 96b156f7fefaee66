package web

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
)

// startAt posts the username form and returns where it leads.
func (c *client) startAt(username string) string {
	c.t.Helper()
	res, body := c.form("/login", url.Values{"username": {username}, "return_to": {"/account"}})
	if res.StatusCode != http.StatusSeeOther {
		c.t.Fatalf("POST /login: %d %s", res.StatusCode, body)
	}
	return res.Header.Get("Location")
}

// TestUnknownUsernameLooksTheSame: an unknown name, a person with one key,
// one with three and one with only recovery codes all start at the key
// page, which offers every factor, and get key options of one shape (as
// many credentials, ids as long, no transports).
func TestUnknownUsernameLooksTheSame(t *testing.T) {
	f := newFixture(t)
	anna := f.addUser("anna")
	k := newTestKey(t)
	f.addKey(anna, &k, 0)
	bernd := f.addUser("bernd")
	for range 3 {
		k := newTestKey(t)
		f.addKey(bernd, &k, 0)
	}
	carla := f.addUser("carla")
	f.addRecoveryCodes(carla, "AAAA-BBBB-CCCC-DDDD")
	f.setPassword(carla, "carlas langes Passwort") // recovery codes need one after them
	// Most unknown names start at the key, some at the app (as a known
	// person without a key does); compare one that starts at the key.
	unknown := ""
	for i := 0; unknown == ""; i++ {
		if name := fmt.Sprintf("nobody%d", i); f.client().startAt(name) == "/login/key" {
			unknown = name
		}
	}
	shapes := map[string]string{}
	for _, name := range []string{"anna", "bernd", "carla", unknown} {
		c := f.client()
		if got := c.startAt(name); got != "/login/key" {
			t.Fatalf("%s: first step %s, want /login/key", name, got)
		}
		res, body := c.get("/login/key")
		if res.StatusCode != 200 {
			t.Fatalf("%s: GET /login/key %d", name, res.StatusCode)
		}
		for _, want := range []string{"Authenticator-App verwenden", "Wiederherstellungscode verwenden", "<strong>" + name + "</strong>"} {
			if !strings.Contains(body, want) {
				t.Errorf("%s: key page lacks %q", name, want)
			}
		}
		res = c.do("POST", "/login/key/begin", "application/json", strings.NewReader("{}"))
		var opts struct {
			PublicKey struct {
				AllowCredentials []struct {
					Type       string   `json:"type"`
					ID         string   `json:"id"`
					Transports []string `json:"transports"`
				} `json:"allowCredentials"`
			} `json:"publicKey"`
		}
		err := json.NewDecoder(res.Body).Decode(&opts)
		res.Body.Close()
		if err != nil || res.StatusCode != 200 || len(opts.PublicKey.AllowCredentials) == 0 {
			t.Fatalf("%s: begin %d with %d credentials (%v)", name, res.StatusCode, len(opts.PublicKey.AllowCredentials), err)
		}
		var shape []string
		for _, a := range opts.PublicKey.AllowCredentials {
			shape = append(shape, fmt.Sprintf("%s/%d/%v", a.Type, len(a.ID), a.Transports))
		}
		shapes[name] = strings.Join(shape, " ")
	}
	for name, shape := range shapes {
		if shape != shapes[unknown] {
			t.Errorf("allowCredentials of %s: %s; of an unknown name: %s", name, shape, shapes[unknown])
		}
	}
	// The person with only recovery codes signs in from the key page.
	c := f.client()
	c.startAt("carla")
	if res, _ := c.form("/login/switch", url.Values{"to": {"recovery"}}); res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/login/recovery" {
		t.Fatalf("carla: switch to a recovery code: %d → %s", res.StatusCode, res.Header.Get("Location"))
	}
	if res, body := c.form("/login/recovery", url.Values{"code": {"aaaa bbbb cccc dddd"}}); res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/login/password" {
		t.Fatalf("carla: recovery code: %d → %s %s", res.StatusCode, res.Header.Get("Location"), body)
	}
}

func TestStepPageWithoutPendingSignIn(t *testing.T) {
	f := newFixture(t)
	c := f.client()
	for _, p := range []string{"/login/key", "/login/totp", "/login/recovery", "/login/password"} {
		if res, _ := c.get(p); res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/login" {
			t.Errorf("GET %s without a sign-in: %d → %s", p, res.StatusCode, res.Header.Get("Location"))
		}
	}
	c.cookies[PendingCookie] = strings.Repeat("A", 43) // well-formed, unknown
	res, _ := c.get("/login/totp")
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != expiredURL {
		t.Errorf("GET /login/totp with a stale sign-in: %d → %s", res.StatusCode, res.Header.Get("Location"))
	}
	_, body := c.get(expiredURL)
	if !strings.Contains(body, "Die Anmeldung hat zu lange gedauert. Bitte noch einmal beginnen.") {
		t.Errorf("/login?e=expired does not say what happened")
	}
}

func TestJSONEndpointsRefuseOtherBodies(t *testing.T) {
	f := newFixture(t)
	c := f.client()
	c.startAt("anna")
	tests := []struct {
		name, ctype string
		body        []byte
		want        int
	}{
		{"form", "application/x-www-form-urlencoded", []byte("a=b"), http.StatusUnsupportedMediaType},
		{"text", "text/plain", []byte("{}"), http.StatusUnsupportedMediaType},
		{"no type", "", []byte("{}"), http.StatusUnsupportedMediaType},
		{"not JSON", "application/json", []byte("{"), http.StatusBadRequest},
		{"too large", "application/json", append(append([]byte(`{"x":"`), bytes.Repeat([]byte("a"), maxBody)...), `"}`...), http.StatusRequestEntityTooLarge},
	}
	for _, path := range []string{"/login/key/begin", "/login/key/finish", "/login/passkey/begin", "/login/passkey/finish"} {
		for _, tt := range tests {
			res := c.do("POST", path, tt.ctype, bytes.NewReader(tt.body))
			body := readBody(t, res)
			if res.StatusCode != tt.want {
				t.Errorf("%s %s: %d, want %d", path, tt.name, res.StatusCode, tt.want)
			}
			if !strings.HasPrefix(res.Header.Get("Content-Type"), "application/json") || !strings.Contains(body, `"error"`) {
				t.Errorf("%s %s: the script gets no JSON error: %q", path, tt.name, body)
			}
		}
	}
}

// signInWithApp signs in a person who has an app and a password.
func signInWithApp(t *testing.T, f *fixture, c *client, name string, secret []byte) {
	t.Helper()
	if got := c.startAt(name); got != "/login/totp" {
		res, _ := c.form("/login/switch", url.Values{"to": {"totp"}})
		if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/login/totp" {
			t.Fatalf("switch from %s to the app: %d → %s", got, res.StatusCode, res.Header.Get("Location"))
		}
	}
	res, body := c.form("/login/totp", url.Values{"code": {totpCode(t, secret)}})
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/login/password" {
		t.Fatalf("POST /login/totp: %d → %s\n%s", res.StatusCode, res.Header.Get("Location"), body)
	}
	res, body = c.form("/login/password", url.Values{"password": {"Rathaus am Markt 1"}})
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/account" {
		t.Fatalf("POST /login/password: %d → %s\n%s", res.StatusCode, res.Header.Get("Location"), body)
	}
	checkCookieFlags(t, res, SessionCookie)
}

// checkCookieFlags checks the flags every Keyhall cookie must have.
func checkCookieFlags(t *testing.T, res *http.Response, name string) {
	t.Helper()
	for _, line := range res.Header.Values("Set-Cookie") {
		if !strings.HasPrefix(line, name+"=") {
			continue
		}
		for _, want := range []string{"; Path=/", "; HttpOnly", "; Secure", "; SameSite=Lax"} {
			if !strings.Contains(line, want) {
				t.Errorf("cookie %s lacks %q: %s", name, want, line)
			}
		}
		if strings.Contains(strings.ToLower(line), "domain=") {
			t.Errorf("cookie %s has a Domain: %s", name, line)
		}
		return
	}
	t.Errorf("no cookie %s set", name)
}

func TestAppSignInAndSignOut(t *testing.T) {
	f := newFixture(t)
	anna := f.addUser("anna")
	secret := f.addTOTP(anna)
	f.setPassword(anna, "Rathaus am Markt 1")
	c := f.client()
	c.startAt("anna")
	before := c.cookies[PendingCookie]
	res, body := c.form("/login/totp", url.Values{"code": {"000000"}})
	if res.StatusCode != http.StatusUnauthorized || !strings.Contains(body, msgCodeWrong.DE) {
		t.Fatalf("wrong code: %d\n%s", res.StatusCode, body)
	}
	checkCookieFlags(t, res, PendingCookie)
	if c.cookies[PendingCookie] == before || c.cookies[PendingCookie] == "" {
		t.Fatal("a failed step did not hand out a new pending id")
	}
	if !strings.Contains(body, `aria-describedby="error code-hint"`) || !strings.Contains(body, `aria-invalid="true"`) {
		t.Error("the code field is not tied to the error")
	}

	c = f.client()
	signInWithApp(t, f, c, "anna", secret)
	res, body = c.get("/api/session")
	if res.StatusCode != 200 || !strings.Contains(body, `"otp"`) || !strings.Contains(body, `"pwd"`) {
		t.Fatalf("/api/session after sign-in: %d %s", res.StatusCode, body)
	}
	if res, body = c.get("/account"); res.StatusCode != 200 || !strings.Contains(body, "Test anna") {
		t.Fatalf("/account: %d", res.StatusCode)
	}
	old := c.cookies[SessionCookie]
	res, _ = c.form("/logout", nil)
	if res.StatusCode != http.StatusSeeOther || c.cookies[SessionCookie] != "" {
		t.Fatalf("POST /logout: %d, cookie left %q", res.StatusCode, c.cookies[SessionCookie])
	}
	c.cookies[SessionCookie] = old
	if res, _ = c.get("/api/session"); res.StatusCode != http.StatusUnauthorized {
		t.Errorf("a signed-out session still works: %d", res.StatusCode)
	}
}

// TestParallelWrongCodesAllCount sends wrong app codes at once, each in its
// own sign-in: exactly the allowed number is answered, the rest throttled.
func TestParallelWrongCodesAllCount(t *testing.T) {
	f := newFixture(t)
	anna := f.addUser("anna")
	f.addTOTP(anna)
	const n, limit = 14, 10
	clients := make([]*client, n)
	for i := range clients {
		clients[i] = f.client()
		clients[i].startAt("anna")
	}
	codes := make([]int, n)
	retry := make([]string, n)
	var wg sync.WaitGroup
	for i, c := range clients {
		wg.Go(func() {
			res := c.do("POST", "/login/totp", "application/x-www-form-urlencoded", strings.NewReader("code=000000"))
			readBody(t, res)
			codes[i], retry[i] = res.StatusCode, res.Header.Get("Retry-After")
		})
	}
	wg.Wait()
	count := map[int]int{}
	for i, code := range codes {
		count[code]++
		if code == http.StatusTooManyRequests && retry[i] == "" {
			t.Error("429 without Retry-After")
		}
	}
	if count[http.StatusUnauthorized] != limit || count[http.StatusTooManyRequests] != n-limit {
		t.Errorf("answers %v, want %d × 401 and %d × 429", count, limit, n-limit)
	}
}

// FuzzKeyFinishBody sends whatever body to the assertion endpoint of an open
// key ceremony: it is refused with a 4xx, never a 5xx, never a session.
func FuzzKeyFinishBody(f *testing.F) {
	f.Add([]byte(`{}`))
	f.Add([]byte(`{"id":"AAAA","rawId":"AAAA","type":"public-key","response":{"clientDataJSON":"e30","authenticatorData":"","signature":""}}`))
	f.Add([]byte(`[]`))
	f.Add([]byte(`{"response":null}`))
	f.Add(bytes.Repeat([]byte("["), 5000))
	fx := newFixture(f)
	k := newTestKey(f)
	fx.addKey(fx.addUser("anna"), &k, 0)
	f.Fuzz(func(t *testing.T, body []byte) {
		c := fx.client()
		c.t = t
		c.startAt("anna")
		readBody(t, c.do("POST", "/login/key/begin", "application/json", strings.NewReader("{}")))
		res := c.do("POST", "/login/key/finish", "application/json", bytes.NewReader(body))
		readBody(t, res)
		if res.StatusCode < 400 || res.StatusCode >= 500 {
			t.Fatalf("finish with %q: %d", body, res.StatusCode)
		}
		if c.cookies[SessionCookie] != "" {
			t.Fatalf("finish with %q gave a session", body)
		}
	})
}

func TestSignInWithoutDatabase(t *testing.T) {
	s := newTestServer(t, "http://localhost:8080")
	for _, tt := range []struct {
		method, path, ctype, body string
		want                      int
	}{
		{"GET", "/login", "", "", http.StatusOK},
		{"POST", "/login", "application/x-www-form-urlencoded", "username=anna", http.StatusServiceUnavailable},
		{"POST", "/login/key/begin", "application/json", "{}", http.StatusServiceUnavailable},
		{"POST", "/login/totp", "application/x-www-form-urlencoded", "code=123456", http.StatusServiceUnavailable},
		{"GET", "/account", "", "", http.StatusServiceUnavailable},
	} {
		req := httptest.NewRequest(tt.method, tt.path, strings.NewReader(tt.body))
		if tt.ctype != "" {
			req.Header.Set("Content-Type", tt.ctype)
		}
		rec := httptest.NewRecorder()
		s.ServeHTTP(rec, req)
		if rec.Code != tt.want {
			t.Errorf("%s %s without a database: %d, want %d", tt.method, tt.path, rec.Code, tt.want)
		}
		if rec.Code >= 400 && rec.Header().Get("Cache-Control") != "no-store" {
			t.Errorf("%s %s: an error may be cached", tt.method, tt.path)
		}
	}
}

func TestEmptyUsername(t *testing.T) {
	f := newFixture(t)
	res, body := f.client().form("/login", url.Values{"username": {"  "}, "return_to": {"//evil.example"}})
	if res.StatusCode != http.StatusBadRequest || !strings.Contains(body, msgUsernameMissing.DE) {
		t.Errorf("empty username: %d", res.StatusCode)
	}
	if strings.Contains(body, "evil.example") {
		t.Error("a foreign return address is carried on")
	}
}
