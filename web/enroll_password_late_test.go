package web

import (
	"context"
	"encoding/base32"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/keyhall/keyhall/authn"
	"github.com/keyhall/keyhall/enroll"
)

// appFirstNoPassword: a local person whose invitation requires a password
// (she has none) redeems it and sets up her app first. It returns her
// enrollment's browser and her app's secret.
func appFirstNoPassword(t *testing.T) (*fixture, *testClock, *client, []byte) {
	t.Helper()
	clk := &testClock{t: time.Now()}
	f := newFixture(t, func(c *Config) { c.Now = clk.Now; c.SignIn.Now = clk.Now })
	f.withEnroll(enroll.Config{Policy: enroll.Policy{Default: enroll.DefaultKeyPolicy()}})
	anna := f.addUser("anna")
	inv, err := f.srv.store.Load().enroll.IssueWith(context.Background(), anna.ID,
		enroll.Terms{RequirePassword: true}, "test", "test")
	if err != nil {
		t.Fatal(err)
	}
	b := f.client()
	if res, body := b.form(linkPath(t, inv.Link), url.Values{}); res.StatusCode != http.StatusOK {
		t.Fatalf("redeem: %d\n%s", res.StatusCode, body)
	}
	res, page := b.form("/enroll/app", url.Values{})
	if res.StatusCode != http.StatusOK {
		t.Fatalf("app page: %d\n%s", res.StatusCode, page)
	}
	res, body := b.form("/enroll/app/confirm", url.Values{"code": {pageAppCode(t, page)}, "nickname": {"Telefon"}})
	if res.StatusCode != http.StatusOK {
		t.Fatalf("confirm app: %d\n%s", res.StatusCode, body)
	}
	m := totpSecretRE.FindStringSubmatch(page)
	secret, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(strings.ReplaceAll(m[1], "-", ""))
	if err != nil {
		t.Fatal(err)
	}
	return f, clk, b, secret
}

// TestEnrollAppFirstPasswordAfterTheHour (review of fixes3): she sets up her
// app first, then reads the recovery-code and password pages, keeping the
// tab alive. An hour after the app her password, which her invitation
// requires, is still taken (the enrollment's hour does not end it while
// she lacks it), and her app and password sign her in. Before, it was
// refused with "Your access is set up: please sign in with your key or
// app", and her app alone did not sign her in: no way on without IT.
func TestEnrollAppFirstPasswordAfterTheHour(t *testing.T) {
	f, clk, b, secret := appFirstNoPassword(t)
	for range 2 {
		clk.Add(29 * time.Minute)
		if res, body := b.get("/enroll/password?lang=en"); res.StatusCode != http.StatusOK {
			t.Fatalf("kept alive: %d\n%s", res.StatusCode, body)
		}
	}
	clk.Add(3 * time.Minute)
	pw := "Rathaus am Prinzipalmarkt"
	if res, body := b.form("/enroll/password?lang=en", url.Values{"username": {"anna"}, "password": {pw}, "password2": {pw}}); res.StatusCode != http.StatusOK {
		t.Fatalf("her password, typed 61 minutes after her app: %d\n%s", res.StatusCode, alertOf(body))
	}
	// The hour is over: nothing more is added here; she signs in.
	if res, body := b.form("/enroll/app", url.Values{}); res.StatusCode == http.StatusOK {
		t.Errorf("another app after the hour: %d; want refused\n%s", res.StatusCode, alertOf(body))
	}
	clk.Add(time.Minute)
	s := f.client()
	if got := s.startAt("anna"); got != "/login/totp" {
		s.form("/login/switch", url.Values{"to": {"totp"}})
	}
	code, _ := authn.TOTPCode(secret, clk.Now())
	res, body := s.form("/login/totp", url.Values{"code": {code}})
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/login/password" {
		t.Fatalf("her app: %d → %s\n%s", res.StatusCode, res.Header.Get("Location"), alertOf(body))
	}
	res, body = s.form("/login/password", url.Values{"password": {pw}})
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/account" {
		t.Errorf("her password: %d → %s\n%s", res.StatusCode, res.Header.Get("Location"), alertOf(body))
	}
}

// TestEnrollEndedWithoutPasswordSaysAskIT: she sets up her app first and
// leaves without the password her invitation requires; 31 minutes later
// the enrollment has ended. The page must not tell her that her access is
// set up (her app alone does not sign her in): it tells her to ask IT for
// a new invitation, German first.
func TestEnrollEndedWithoutPasswordSaysAskIT(t *testing.T) {
	for _, c := range []struct{ lang, want string }{
		{"de", "bitten Sie um eine neue Einladung"},
		{"en", "ask IT for a new invitation"},
	} {
		_, clk, b, _ := appFirstNoPassword(t)
		clk.Add(31 * time.Minute)
		pw := "Rathaus am Prinzipalmarkt"
		res, body := b.form("/enroll/password?lang="+c.lang, url.Values{"username": {"anna"}, "password": {pw}, "password2": {pw}})
		if res.StatusCode != http.StatusGone {
			t.Fatalf("%s: after 31 minutes: %d; want 410\n%s", c.lang, res.StatusCode, alertOf(body))
		}
		alert := alertOf(body)
		if !strings.Contains(alert, c.want) || strings.Contains(alert, "eingerichtet: Bitte melden Sie sich") || strings.Contains(alert, "access is set up") {
			t.Errorf("%s: the ended page tells her:\n%s\nwant %q, not that her access is set up", c.lang, alert, c.want)
		}
	}
}

func alertOf(body string) string {
	if i := strings.Index(body, `class="alert"`); i >= 0 {
		return body[i:min(len(body), i+600)]
	}
	return ""
}
