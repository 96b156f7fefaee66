package web

import (
	"crypto/rand"
	"encoding/base64"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/keyhall/keyhall/authn"
)

// TestDeviceLiftThrottleFreesHerOwnBrowser (review of the device cookie):
// nora mistypes her app code on her own browser (a phone with a wrong
// clock) 31 times, which locks that browser's own counters for a day. The
// page tells her to ask IT; IT lifts the lock at the console. Her own
// browser must then take her right code at once: the lift clears her
// browsers' counters too, not only the account's.
func TestDeviceLiftThrottleFreesHerOwnBrowser(t *testing.T) {
	now := time.Now()
	clock := func() time.Time { return now }
	c := newConsole(t, func(c *Config) { c.Now = clock; c.SignIn.Now = clock })
	f := c.f
	secret := f.addTOTP(c.nora)
	f.setPassword(c.nora, "Rathaus am Markt 1")
	own := f.client()
	signInWithApp(t, f, own, "nora", secret)
	if own.cookies[DeviceCookie] == "" {
		t.Fatal("no device cookie")
	}
	now = now.Add(time.Minute)
	own.startAt("nora")
	for range 31 {
		own.form("/login/totp", url.Values{"code": {"000000"}})
		now = now.Add(40 * time.Second)
	}
	now = now.Add(16 * time.Minute)
	code := func() string {
		c, err := authn.TOTPCode(secret, now)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	if got := own.startAt("nora"); got != "/login/totp" {
		own.form("/login/switch", url.Values{"to": {"totp"}})
	}
	if res, _ := own.form("/login/totp", url.Values{"code": {code()}}); res.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("her right code on her locked browser before IT lifts the lock: %d, want 429", res.StatusCode)
	}

	// IT lifts the lock at the console.
	// (Her console session is made at the test's clock: sessionCookie
	// makes it at the real one, idle for the test's 23 minutes.)
	sid := make([]byte, 32)
	rand.Read(sid)
	if err := f.store.CreateSession(t.Context(), authn.Session{Hash: authn.HashSessionID(sid), UserID: c.helga.ID,
		AMR: []string{"hwk", "pwd", "mfa"}, ACR: "phrh", AuthTime: now, CreatedAt: now, LastSeenAt: now,
		ExpiresAt: now.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	helga := f.client()
	helga.cookies[SessionCookie] = base64.RawURLEncoding.EncodeToString(sid)
	res, body := helga.send("POST", "/admin/people/"+c.nora.ID+"/lift-throttle", url.Values{"reason": {"INC-7"}}, false)
	if res.StatusCode != http.StatusOK || !strings.Contains(body, msgAdminLifted.DE) {
		t.Fatalf("lift: %d\n%.400s", res.StatusCode, body)
	}
	now = now.Add(30 * time.Second)
	if got := own.startAt("nora"); got != "/login/totp" {
		own.form("/login/switch", url.Values{"to": {"totp"}})
	}
	res, body = own.form("/login/totp", url.Values{"code": {code()}})
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/login/password" {
		t.Errorf("after IT lifted the lock, her right app code on her own browser: %d → %s, want the password step\n%.400s",
			res.StatusCode, res.Header.Get("Location"), body)
	}
}

// TestDeviceCookieExpires: the device cookie holds the time it was sealed,
// and the server trusts it for 400 days (its Max-Age), not for as long as
// a browser, or a copy, keeps sending it. A stranger's 81 wrong codes lock
// the account; 399 days after her sign-in her own browser still takes her
// right code, 401 days after it counts as a stranger's and is refused.
func TestDeviceCookieExpires(t *testing.T) {
	now := time.Now()
	clock := func() time.Time { return now }
	f := newFixture(t, func(c *Config) { c.Now = clock; c.SignIn.Now = clock })
	anna := f.addUser("anna")
	secret := f.addTOTP(anna)
	f.setPassword(anna, "Rathaus am Markt 1")
	tryApp := func(c *client) *http.Response {
		t.Helper()
		code, err := authn.TOTPCode(secret, now)
		if err != nil {
			t.Fatal(err)
		}
		if got := c.startAt("anna"); got != "/login/totp" {
			c.form("/login/switch", url.Values{"to": {"totp"}})
		}
		res, _ := c.form("/login/totp", url.Values{"code": {code}})
		return res
	}
	own := f.client()
	signInWithApp(t, f, own, "anna", secret)
	if own.cookies[DeviceCookie] == "" {
		t.Fatal("no device cookie")
	}
	now = now.Add(398 * 24 * time.Hour)
	stranger := f.client()
	stranger.startAt("anna")
	for range 81 {
		stranger.form("/login/totp", url.Values{"code": {"000000"}})
		now = now.Add(2 * time.Second)
	}
	now = now.Add(24*time.Hour + time.Minute) // 399 days after her sign-in
	if res := tryApp(own); res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/login/password" {
		t.Fatalf("399 days after her sign-in, her right code on her own browser: %d → %s, want the password step",
			res.StatusCode, res.Header.Get("Location"))
	}
	now = now.Add(2 * 24 * time.Hour) // 401 days: her cookie is too old; the account is still locked
	if res := tryApp(own); res.StatusCode != http.StatusTooManyRequests {
		t.Errorf("401 days after her sign-in, her browser's expired device cookie: %d → %s, want 429 (a stranger's)",
			res.StatusCode, res.Header.Get("Location"))
	}
}
