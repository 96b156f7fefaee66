package web

import (
	"context"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/keyhall/keyhall/authn"
	"github.com/keyhall/keyhall/ldapsync"
)

// TestDirectoryDown (#13): when the directory that checks a directory
// person's password does not answer, the password page says that signing
// in is not possible right now (503), offers the password again, and the
// tries do not count: after more than the password limit of them, the
// page still says the same and not "too many attempts".
func TestDirectoryDown(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	down := "ldaps://" + ln.Addr().String()
	ln.Close() // nothing listens there now
	v, err := ldapsync.NewVerifier([]ldapsync.Config{{Name: "ad", URL: down, BindDN: "CN=keyhall,DC=stadt,DC=example",
		BindPassword: "x", BaseDNs: []string{"DC=stadt,DC=example"}, Preset: ldapsync.PresetActiveDirectory, Timeout: time.Second}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	f := newFixture(t, func(c *Config) { c.SignIn.Directory, c.SignIn.PasswordLimit = v, 2 })
	dora := authn.User{ID: authn.NewID(), Username: "dora", DisplayName: "Dora", Status: authn.StatusActive,
		Source: authn.SourceDirectory, Directory: "ad", ExternalID: uuid.NewString(), CreatedAt: time.Now(), UpdatedAt: time.Now()}
	if err := f.store.CreateUser(context.Background(), dora, f.audit("user.create")); err != nil {
		t.Fatal(err)
	}
	secret := f.addTOTP(dora)
	c := f.client()
	if got := c.startAt("dora"); got != "/login/totp" {
		t.Fatalf("start: %s", got)
	}
	if res, body := c.form("/login/totp", url.Values{"code": {totpCode(t, secret)}}); res.StatusCode != http.StatusSeeOther ||
		res.Header.Get("Location") != "/login/password" {
		t.Fatalf("app code: %d %s", res.StatusCode, body)
	}
	for i := range 4 {
		res, body := c.form("/login/password", url.Values{"password": {"Geheim!2025"}})
		if res.StatusCode != http.StatusServiceUnavailable || !strings.Contains(body, "Anmeldung gerade nicht möglich") ||
			!strings.Contains(body, `name="password"`) {
			t.Fatalf("try %d: %d %.2000s", i+1, res.StatusCode, body)
		}
	}
}

// TestDirectoryRefusalTexts (#13): what a directory says of a person's
// account reaches her as what to do, German first, not as a bad request.
func TestDirectoryRefusalTexts(t *testing.T) {
	for r, want := range map[authn.Reason]struct {
		status int
		de, en string
	}{
		authn.ReasonDirectoryUnavailable: {http.StatusServiceUnavailable, "Anmeldung gerade nicht möglich", "not possible right now"},
		authn.ReasonAccountExpired:       {http.StatusForbidden, "Ihr Zugang ist abgelaufen", "has expired"},
		authn.ReasonPasswordMustChange:   {http.StatusForbidden, "Bitte ändern Sie es zuerst", "change it first"},
		authn.ReasonAccountLocked:        {http.StatusForbidden, "vorübergehend gesperrt", "locked for now"},
		authn.ReasonDisabled:             {http.StatusForbidden, "Ihr Zugang ist gesperrt", "Your account is locked"},
	} {
		status, msg := refusal(&authn.SignInError{Reason: r}, "password")
		if status != want.status || !strings.Contains(msg.DE, want.de) || !strings.Contains(msg.EN, want.en) {
			t.Errorf("%s: %d %q / %q", r, status, msg.DE, msg.EN)
		}
	}
}
