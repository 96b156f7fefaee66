package web

// Journeys of people the fixtures' usual person does not stand for: the
// councillor with only her app, the one who lost her key, the citizen,
// the helpdesk person with a plain key.

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/keyhall/keyhall/authn"
	"github.com/keyhall/keyhall/enroll"
)

// fwdWiki puts the wiki behind forward-auth.
func fwdWiki(c *Config) {
	c.ForwardAuth = ForwardAuthConfig{Rules: []ForwardAuthRule{{Host: "wiki.stadt.example"}}}
}

// verifyAs asks /auth/verify as Traefik would, with the client's cookies.
func (c *client) verifyAs(host, uri string) *http.Response {
	c.t.Helper()
	req, _ := http.NewRequest("GET", c.base+"/auth/verify", nil)
	req.Header.Set("X-Forwarded-Proto", "http")
	req.Header.Set("X-Forwarded-Host", host)
	req.Header.Set("X-Forwarded-Uri", uri)
	req.Header.Set("X-Forwarded-Method", "GET")
	for k, v := range c.cookies {
		req.AddCookie(&http.Cookie{Name: k, Value: v})
	}
	res, err := (&http.Transport{}).RoundTrip(req)
	if err != nil {
		c.t.Fatal(err)
	}
	readBody(c.t, res)
	return res
}

// TestStrangerCannotLockHerOutOfHerOwnBrowser: a councillor with her app
// and password (no key: Münster's "TOTP on private devices"). A stranger
// who knows only her username types 81 wrong app codes, enough to pass
// every limit of the account. She still signs in on the browser she signed
// in on before (its device cookie); the stranger stays locked out; her
// recovery code, a counter of its own, still works on a new browser; and a
// browser of hers that itself fails 81 times is locked.
func TestStrangerCannotLockHerOutOfHerOwnBrowser(t *testing.T) {
	now := time.Now()
	clock := func() time.Time { return now }
	f := newFixture(t, func(c *Config) { c.Now = clock; c.SignIn.Now = clock })
	f.withEnroll(enroll.Config{Policy: enroll.Policy{Default: enroll.DefaultKeyPolicy()},
		Notices: enroll.Notices{Sender: enroll.Sender{Name: "Stadt Musterstadt", HelpPhone: "0251 492-0"}}})
	anna := f.addUser("anna")
	secret := f.addTOTP(anna)
	f.setPassword(anna, "Rathaus am Markt 1")
	f.addRecoveryCodes(anna, "aaaa-bbbb-cccc-dddd")
	code := func() string {
		c, err := authn.TOTPCode(secret, now)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	var body string
	tryApp := func(c *client, code string) (res *http.Response) {
		t.Helper()
		if got := c.startAt("anna"); got != "/login/totp" {
			c.form("/login/switch", url.Values{"to": {"totp"}})
		}
		res, body = c.form("/login/totp", url.Values{"code": {code}})
		return res
	}

	own := f.client() // her tablet: she signed in on it before
	signInWithApp(t, f, own, "anna", secret)
	if own.cookies[DeviceCookie] == "" {
		t.Fatal("a completed sign-in set no device cookie")
	}
	now = now.Add(time.Minute)

	stranger := f.client()
	stranger.startAt("anna")
	for i := range 81 {
		res, _ := stranger.form("/login/totp", url.Values{"code": {"000000"}})
		if res.StatusCode != http.StatusUnauthorized && res.StatusCode != http.StatusTooManyRequests {
			t.Fatalf("try %d: %d", i, res.StatusCode)
		}
		now = now.Add(2 * time.Second)
	}

	now = now.Add(24*time.Hour + time.Minute)
	if res := tryApp(own, code()); res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/login/password" {
		t.Errorf("after a stranger's 81 wrong codes, her right app code on her own browser: %d → %s, want the password step",
			res.StatusCode, res.Header.Get("Location"))
	}
	now = now.Add(time.Minute)
	if res := tryApp(f.client(), code()); res.StatusCode != http.StatusTooManyRequests {
		t.Errorf("a browser she never signed in on, with the right code, after the stranger's tries: %d, want 429", res.StatusCode)
	}
	for _, want := range []string{"Sicherheitsschlüssel", "schon einmal angemeldet", "IT-Service: Telefon 0251 492-0"} {
		if !strings.Contains(body, want) {
			t.Errorf("the locked-out page does not say %q:\n%s", want, body)
		}
	}
	fresh := f.client()
	fresh.startAt("anna")
	fresh.form("/login/switch", url.Values{"to": {"recovery"}})
	if res, body := fresh.form("/login/recovery", url.Values{"code": {"aaaa-bbbb-cccc-dddd"}}); res.StatusCode != http.StatusSeeOther ||
		res.Header.Get("Location") != "/login/password" {
		t.Errorf("her recovery code after the stranger's wrong app codes: %d → %s\n%s", res.StatusCode, res.Header.Get("Location"), body)
	}

	// A browser of hers in a thief's hands: its own tries are limited too.
	now = now.Add(time.Minute)
	own.startAt("anna")
	for i := range 81 {
		res, _ := own.form("/login/totp", url.Values{"code": {"000000"}})
		if res.StatusCode != http.StatusUnauthorized && res.StatusCode != http.StatusTooManyRequests {
			t.Fatalf("own browser, try %d: %d", i, res.StatusCode)
		}
		now = now.Add(2 * time.Second)
	}
	now = now.Add(24*time.Hour + time.Minute)
	if res := tryApp(own, code()); res.StatusCode != http.StatusTooManyRequests {
		t.Errorf("a browser that failed 81 times itself takes the right code a day later: %d, want 429", res.StatusCode)
	}
}
