package web

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/keyhall/keyhall/authn"
	"github.com/keyhall/keyhall/enroll"
)

// TestAccountPassword: a local person without a password (she signs in
// with a key and its PIN) sets one on /account, and changes it, with a
// fresh sign-in; a stale one is sent to sign in again, a recovery-code
// sign-in is refused, and a short or common password is refused with
// what to do. Nothing refused changes her password.
func TestAccountPassword(t *testing.T) {
	f := newFixture(t)
	f.withEnroll(enroll.Config{Policy: enroll.Policy{Default: enroll.DefaultKeyPolicy()}})
	anna := f.addUser("anna")
	k := newTestKey(t)
	f.addKey(anna, &k, 0)
	stored := func() string {
		phc, err := f.store.GetPasswordHash(context.Background(), anna.ID)
		if err != nil {
			return ""
		}
		return phc
	}
	set := func(c *http.Cookie, pw, again string) (*http.Response, string) {
		return f.browser(c).form("/account/password", url.Values{"password": {pw}, "password2": {again}})
	}
	fresh := f.sessionCookie(anna, time.Now(), false)
	if res, body := f.browser(fresh).get("/account"); res.StatusCode != http.StatusOK || !strings.Contains(body, `id="password-form"`) ||
		!strings.Contains(body, "Passwort festlegen") {
		t.Fatalf("/account without a password: %d, no form to set one\n%s", res.StatusCode, body)
	}
	for _, tc := range []struct {
		name, pw, again string
		status          int
		says            string
	}{
		{"too short", "kurz", "kurz", http.StatusBadRequest, "zu kurz"},
		{"common", "passwordpassword", "passwordpassword", http.StatusBadRequest, "zu bekannt"},
		{"two that differ", testPassword, testPassword + "!", http.StatusBadRequest, msgPasswordsDiffer.DE},
	} {
		if res, body := set(fresh, tc.pw, tc.again); res.StatusCode != tc.status || !strings.Contains(body, tc.says) {
			t.Errorf("%s: %d, want %d saying %q\n%s", tc.name, res.StatusCode, tc.status, tc.says, body)
		}
	}
	if stored() != "" {
		t.Fatal("a refused password was stored")
	}
	if res, body := set(fresh, testPassword, testPassword); res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/account?e=password" {
		t.Fatalf("set the password: %d %s", res.StatusCode, body)
	}
	first := stored()
	if ok, _, err := authn.CheckPasswordHash(first, testPassword, testArgon2); !ok || err != nil {
		t.Fatalf("stored hash %q does not check: %v", first, err)
	}
	if res, body := f.browser(fresh).get("/account?e=password"); !strings.Contains(body, msgPasswordChanged.DE) || !strings.Contains(body, "Passwort ändern") {
		t.Errorf("/account after setting it: %d\n%s", res.StatusCode, body)
	}

	stale := f.sessionCookie(anna, time.Now().Add(-10*time.Minute), false)
	if res, _ := set(stale, "ein ganz anderes Passwort", "ein ganz anderes Passwort"); res.StatusCode != http.StatusSeeOther ||
		res.Header.Get("Location") != "/login?return_to=%2Faccount" {
		t.Errorf("stale sign-in: %d to %q, want a new sign-in", res.StatusCode, res.Header.Get("Location"))
	}
	recovery := f.recoverySession(anna, time.Now())
	if res, body := set(recovery, "ein ganz anderes Passwort", "ein ganz anderes Passwort"); res.StatusCode != http.StatusForbidden ||
		!strings.Contains(body, "Wiederherstellungscode") {
		t.Errorf("recovery-code sign-in: %d\n%s", res.StatusCode, body)
	}
	if stored() != first {
		t.Fatal("a refused change replaced the password")
	}
	if res, _ := set(fresh, "ein ganz anderes Passwort", "ein ganz anderes Passwort"); res.StatusCode != http.StatusSeeOther || stored() == first {
		t.Errorf("change the password: %d, changed %t", res.StatusCode, stored() != first)
	}
}

// TestNoPasswordSignInSaysWhatToDo: a person without a password whose app
// code is right is not led to the password page: the app page says what
// to do instead, and she gets no session.
func TestNoPasswordSignInSaysWhatToDo(t *testing.T) {
	f := newFixture(t)
	anna := f.addUser("anna")
	secret := f.addTOTP(anna)
	c := f.client()
	if got := c.startAt("anna"); got != "/login/totp" {
		t.Fatalf("sign-in starts at %s", got)
	}
	res, body := c.form("/login/totp", url.Values{"code": {totpCode(t, secret)}})
	if res.StatusCode != http.StatusForbidden || !strings.Contains(body, msgNoPassword.DE) || !strings.Contains(body, `action="/login/totp"`) {
		t.Fatalf("right app code, no password: %d, want 403 on the app page saying what to do\n%s", res.StatusCode, body)
	}
	if c.cookies[SessionCookie] != "" {
		t.Error("a session without a password")
	}
}

// TestEnrollWithoutAPasswordToGive: a directory person where no directory
// is configured has no password Keyhall can check. Her enrollment offers
// no app and no recovery codes (they would end at a password she cannot
// give) and says what to do instead: a second key with PIN.
func TestEnrollWithoutAPasswordToGive(t *testing.T) {
	f := newFixture(t)
	f.withEnroll(enroll.Config{Policy: enroll.Policy{Default: enroll.DefaultKeyPolicy()}})
	dora := authn.User{ID: authn.NewID(), Username: "dora", DisplayName: "Dora", Status: authn.StatusActive,
		Source: authn.SourceDirectory, ExternalID: "uid=dora", CreatedAt: time.Now(), UpdatedAt: time.Now()}
	if err := f.store.CreateUser(context.Background(), dora, f.audit("user.create")); err != nil {
		t.Fatal(err)
	}
	inv := f.invite(dora)
	c := f.client()
	res, body := c.form(strings.TrimPrefix(inv.Link, f.base), url.Values{})
	if res.StatusCode != http.StatusOK || strings.Contains(body, `id="choose-app"`) {
		t.Fatalf("redeem: %d, want the choice without an app\n%s", res.StatusCode, body)
	}
	res = c.do("POST", "/enroll/key/begin", "application/json", strings.NewReader("{}"))
	options := readBody(t, res)
	if res.StatusCode != http.StatusOK {
		t.Fatalf("begin: %d %s", res.StatusCode, options)
	}
	cred := noneRegistration(t, []byte(options), f.base, uuid.MustParse("ee882879-721c-4913-9775-3dfcce97072a"))
	res, body = c.form("/enroll/key", url.Values{"credential": {string(cred)}})
	if res.StatusCode != http.StatusOK || !strings.Contains(body, `id="no-codes"`) || !strings.Contains(body, `id="to-done"`) ||
		strings.Contains(body, `id="to-codes"`) || strings.Contains(body, `id="add-app"`) || strings.Contains(body, `id="to-password"`) {
		t.Fatalf("after the key: %d, want no codes, no app, no password, a way to finish\n%s", res.StatusCode, body)
	}
	if res, body := c.form("/enroll/recovery", url.Values{}); res.StatusCode != http.StatusForbidden || !strings.Contains(body, "Sicherheitsschlüssel mit PIN") {
		t.Errorf("recovery codes asked for anyway: %d\n%s", res.StatusCode, body)
	}
	if n, err := f.store.CountRecoveryCodes(context.Background(), dora.ID); err != nil || n != 0 {
		t.Errorf("%d recovery codes stored (read: %v)", n, err)
	}
}

// TestAccountPasswordNotForCitizens: a citizen (her group signs her in
// without a password) is offered no password on /account, and a POST
// that sets one anyway is refused and stores none.
func TestAccountPasswordNotForCitizens(t *testing.T) {
	f, _ := newCitizenFixture(t)
	anna := f.addCitizen("anna@example.org", true, "buerger")
	k := newTestKey(t)
	f.addKey(anna, &k, 0)
	fresh := f.sessionCookie(anna, time.Now(), false)
	res, body := f.browser(fresh).get("/account")
	if res.StatusCode != http.StatusOK || strings.Contains(body, `id="password-form"`) || strings.Contains(body, "Passwort festlegen") {
		t.Errorf("/account of a citizen: %d, want no password offered\n%s", res.StatusCode, body)
	}
	res, body = f.browser(fresh).form("/account/password", url.Values{"password": {testPassword}, "password2": {testPassword}})
	if res.StatusCode != http.StatusForbidden || !strings.Contains(body, "ohne Passwort an") {
		t.Errorf("a citizen sets a password anyway: %d, want 403 saying she signs in without one\n%s", res.StatusCode, body)
	}
	if _, err := f.store.GetPasswordHash(context.Background(), anna.ID); err == nil {
		t.Error("a password was stored for a citizen")
	}
}
