package web

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/keyhall/keyhall/authn"
)

// TestEnrollKeyText (#17): on /enroll/key, a nickname that is not UTF-8 or
// is 10 KB long is refused with the nickname message (the form can be sent
// again), and of the 5,000 transports a browser may report for the key
// only the known ones are stored, each once.
func TestEnrollKeyText(t *testing.T) {
	f := newFixture(t)
	anna := f.addUser("anna")
	old := newTestKey(t)
	f.addKey(anna, &old, 0)
	c := f.client()
	c.cookies[SessionCookie] = f.sessionCookie(anna, time.Now(), false).Value
	if res, body := c.form("/account/factors/add", url.Values{"kind": {"key"}}); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("add a key: %d %s", res.StatusCode, body)
	}
	register := func(nickname string, transports []string) (*http.Response, string) {
		t.Helper()
		res := c.do("POST", "/enroll/key/begin", "application/json", strings.NewReader("{}"))
		options := readBody(t, res)
		if res.StatusCode != http.StatusOK {
			t.Fatalf("begin: %d %s", res.StatusCode, options)
		}
		var cred map[string]any
		if err := json.Unmarshal(noneRegistration(t, []byte(options), f.base, uuid.New()), &cred); err != nil {
			t.Fatal(err)
		}
		cred["response"].(map[string]any)["transports"] = transports
		b, _ := json.Marshal(cred)
		return c.form("/enroll/key", url.Values{"credential": {string(b)}, "nickname": {nickname}})
	}
	for _, bad := range []string{"Schl\xfcssel", strings.Repeat("Schlüssel", 1200)} {
		if res, body := register(bad, []string{"usb"}); res.StatusCode != http.StatusBadRequest ||
			!strings.Contains(body, "Bitte geben Sie einen Namen mit 1 bis 64 Zeichen ein") {
			t.Errorf("nickname %.12q: %d %.500s", bad, res.StatusCode, body)
		}
	}
	many := make([]string, 5000)
	for i := range many {
		many[i] = []string{"usb", "nfc", "hybrid", "x" + strconv.Itoa(i%10)}[i%4] // 35 KB in all
	}
	if res, body := register("Ersatz", many); res.StatusCode != http.StatusOK {
		t.Fatalf("finish with 5,000 transports: %d %.500s", res.StatusCode, body)
	}
	creds, err := f.store.ListCredentials(context.Background(), anna.ID)
	if err != nil || len(creds) != 2 {
		t.Fatalf("credentials: %d, %v", len(creds), err)
	}
	for _, k := range creds {
		if k.ID != old.credID && (k.Nickname != "Ersatz" || !slices.Equal(k.Transports, []string{"usb", "nfc", "hybrid"})) {
			t.Errorf("new key stored as %q with %d transports %.8q", k.Nickname, len(k.Transports), k.Transports)
		}
	}
}

// TestForwardAuthLongName (#17): a display name stored before names were
// bounded (100 KB, with a byte that is not UTF-8) reaches the application
// as a bounded, valid UTF-8 Remote-Name header.
func TestForwardAuthLongName(t *testing.T) {
	f := newFwdFixture(t)
	ctx := context.Background()
	long := "Bob \xfc" + strings.Repeat("Müller ", 15_000)
	_, err := f.st.UpdateUser(ctx, f.bob.ID, func(u authn.User) (authn.User, error) {
		u.DisplayName = long
		return u, nil
	}, authn.AuditEvent{Time: time.Now(), Actor: "system", Action: "test"})
	if err != nil {
		t.Fatal(err)
	}
	cookie, _ := f.session(t, f.bob, authn.LevelPhrh)
	rec := f.verify(nginxHeaders("https://wiki.stadt.example/"), cookie)
	name := rec.Header().Get("Remote-Name")
	if rec.Code != 200 || !utf8.ValidString(name) || utf8.RuneCountInString(name) > authn.TextEmail.MaxChars ||
		!strings.HasPrefix(name, "Bob \uFFFDMüller Müller") {
		t.Errorf("%d: Remote-Name of %d bytes: %.80q", rec.Code, len(name), name)
	}
}
