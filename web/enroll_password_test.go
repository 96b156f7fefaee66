package web

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/keyhall/keyhall/enroll"
)

// TestChoosePageLeadsToPassword: a local person without a password whose
// key is stored, and who lands on the choose page (her link taken up again,
// or the codes asked for too early), is led to the password step, not to
// recovery codes that answer "choose your password first".
func TestChoosePageLeadsToPassword(t *testing.T) {
	f := newFixture(t)
	anna := f.addUser("anna")
	inv := f.invite(anna)
	b := f.client()
	if res, body := b.form(linkPath(t, inv.Link), url.Values{}); res.StatusCode != http.StatusOK {
		t.Fatalf("redeem: %d\n%s", res.StatusCode, body)
	}
	status, options := b.beginKey()
	if status != http.StatusOK {
		t.Fatalf("begin key: %d %s", status, options)
	}
	if res, body := b.finishKey(t, options); res.StatusCode != http.StatusOK {
		t.Fatalf("finish key: %d %s", res.StatusCode, body)
	}
	for _, tc := range []struct{ what, method, path string }{
		{"codes asked for before the password", "POST", "/enroll/recovery"},
		{"her link opened again", "GET", linkPath(t, inv.Link)},
	} {
		var body string
		if tc.method == "POST" {
			_, body = b.form(tc.path, url.Values{})
		} else {
			_, body = b.get(tc.path)
		}
		if !strings.Contains(body, `id="to-password"`) || strings.Contains(body, `id="choose-codes"`) {
			t.Errorf("%s: the page offers no way to the password step\n%s", tc.what, body)
		}
	}
}

// enrollWithKey redeems inv in a new browser and registers a key: the
// enrollment as it stands after her first factor.
func (f *fixture) enrollWithKey(t *testing.T, inv enroll.Invitation) *client {
	t.Helper()
	b := f.client()
	if res, body := b.form(linkPath(t, inv.Link), url.Values{}); res.StatusCode != http.StatusOK {
		t.Fatalf("redeem: %d\n%s", res.StatusCode, body)
	}
	status, options := b.beginKey()
	if status != http.StatusOK {
		t.Fatalf("begin key: %d %s", status, options)
	}
	if res, body := b.finishKey(t, options); res.StatusCode != http.StatusOK {
		t.Fatalf("finish key: %d %s", res.StatusCode, body)
	}
	return b
}

// TestEnrollRequiredPassword: with an invitation that requires a password
// (keyhall admin invite --require-password), a local person who registered
// her key cannot finish (POST /enroll/done, the finish button) until her
// password is set: the page says so, German first, and offers "Passwort
// festlegen". After the password she finishes. The password form names
// her for password managers.
func TestEnrollRequiredPassword(t *testing.T) {
	f := newFixture(t)
	anna := f.addUser("anna")
	inv, err := f.srv.store.Load().enroll.IssueWith(context.Background(), anna.ID,
		enroll.Terms{RequirePassword: true}, "test", "test")
	if err != nil {
		t.Fatal(err)
	}
	b := f.enrollWithKey(t, inv)
	res, body := b.form("/enroll/done", url.Values{"stored": {"yes"}})
	if res.StatusCode == http.StatusOK || strings.Contains(body, `id="to-login"`) ||
		!strings.Contains(body, "Ihr IT-Service verlangt ein Passwort") || !strings.Contains(body, `id="to-password"`) ||
		!strings.Contains(body, "Passwort festlegen") {
		t.Fatalf("finish without the required password: %d\n%s", res.StatusCode, body)
	}
	if n := strings.Count(body, "Ihr IT-Service verlangt ein Passwort"); n != 1 {
		t.Errorf("the refusal says it %d times, want once", n)
	}
	res, body = b.get("/enroll/password")
	if res.StatusCode != http.StatusOK || !strings.Contains(body, `name="username" value="anna" autocomplete="username"`) ||
		!strings.Contains(body, "Ihr IT-Service verlangt ein Passwort") {
		t.Fatalf("the password page: %d\n%s", res.StatusCode, body)
	}
	pw := "Rathaus am Prinzipalmarkt"
	res, body = b.form("/enroll/password", url.Values{"username": {"anna"}, "password": {pw}, "password2": {pw}})
	if res.StatusCode != http.StatusOK || !strings.Contains(body, `id="to-codes"`) {
		t.Fatalf("set the password: %d\n%s", res.StatusCode, body)
	}
	res, body = b.form("/enroll/done", url.Values{"stored": {"yes"}})
	if res.StatusCode != http.StatusOK || strings.Contains(body, "verlangt ein Passwort") {
		t.Fatalf("finish after the password: %d\n%s", res.StatusCode, body)
	}

	// Without the requirement the same steps finish with the key alone.
	bernd := f.addUser("bernd")
	b = f.enrollWithKey(t, f.invite(bernd))
	if res, body := b.form("/enroll/done", url.Values{"stored": {"yes"}}); res.StatusCode != http.StatusOK {
		t.Fatalf("finish without a requirement: %d\n%s", res.StatusCode, body)
	}
}

// TestEnrollPasswordNamesHer: the password form's hidden username field,
// which a password manager saves the password under, holds her username.
func TestEnrollPasswordNamesHer(t *testing.T) {
	f := newFixture(t)
	anna := f.addUser("anna")
	b := f.enrollWithKey(t, f.invite(anna))
	res, body := b.get("/enroll/password")
	if res.StatusCode != http.StatusOK || !strings.Contains(body, `name="username" value="anna" autocomplete="username"`) {
		t.Fatalf("GET /enroll/password: %d\n%s", res.StatusCode, body)
	}
	res, body = b.form("/enroll/password", url.Values{"password": {"kurz"}, "password2": {"kurz"}})
	if res.StatusCode != http.StatusBadRequest || !strings.Contains(body, `name="username" value="anna" autocomplete="username"`) {
		t.Fatalf("a refused password: %d\n%s", res.StatusCode, body)
	}
}

// TestEnrollWelcomeNoFalseCount: the start page does not promise "three
// steps": a local person without a password has a fourth (her password),
// and a person without a password Keyhall can check gets no recovery
// codes. It names what may come instead.
func TestEnrollWelcomeNoFalseCount(t *testing.T) {
	f := newFixture(t)
	for _, lang := range []string{"de", "en"} {
		res, body := f.client().get("/enroll?lang=" + lang)
		if res.StatusCode != http.StatusOK || strings.Contains(body, "drei Schritten") || strings.Contains(body, "three steps") ||
			!(strings.Contains(body, "Passwort fest") || strings.Contains(body, "choose a password")) {
			t.Errorf("GET /enroll?lang=%s: %d\n%s", lang, res.StatusCode, body)
		}
	}
}
