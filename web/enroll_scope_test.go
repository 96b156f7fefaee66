package web

import (
	"context"
	"encoding/base32"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/keyhall/keyhall/authn"
	"github.com/keyhall/keyhall/enroll"
)

// The tests here attack a self-service enrollment (one opened from
// /account/factors) over HTTP, as issue #11's review did: what it may add
// follows from the sign-in that opened it, and it lives only as long as
// that sign-in is live and fresh, and at most its own absolute lifetime.

// scopeFixture is a server on a test clock with anna, who has a hardware
// key and two recovery codes.
func scopeFixture(t *testing.T) (*fixture, *testClock, authn.User) {
	t.Helper()
	clk := &testClock{t: time.Now()}
	f := newFixture(t, func(c *Config) { c.Now = clk.Now })
	f.withEnroll(enroll.Config{Policy: enroll.Policy{Default: enroll.DefaultKeyPolicy()}})
	anna := f.addUser("anna")
	f.setPassword(anna, testPassword) // a recovery code and an app need it after them
	k := newTestKey(t)
	f.addKey(anna, &k, 0)
	f.addRecoveryCodes(anna, "AAAA-BBBB-CCCC-DDDD", "EEEE-FFFF-GGGG-HHHH")
	return f, clk, anna
}

// browser is a client signed in with the session behind c.
func (f *fixture) browser(c *http.Cookie) *client {
	b := f.client()
	b.cookies[SessionCookie] = c.Value
	return b
}

// appSession is a session signed in with an app code and the password
// (level mfa), authTime as given.
func (f *fixture) appSession(u authn.User, authTime time.Time) *http.Cookie {
	c := f.sessionCookie(u, authTime, false)
	f.setACR(c, authn.LevelMFA)
	return c
}

// recoverySession is a session signed in with a recovery code and the
// password: level mfa, RecoveryOnly.
func (f *fixture) recoverySession(u authn.User, authTime time.Time) *http.Cookie {
	c := f.sessionCookie(u, authTime, true)
	f.setACR(c, authn.LevelMFA)
	return c
}

// beginKey asks the browser's enrollment for key options.
func (b *client) beginKey() (int, string) {
	b.t.Helper()
	res := b.do("POST", "/enroll/key/begin", "application/json", strings.NewReader("{}"))
	return res.StatusCode, readBody(b.t, res)
}

// finishKey answers options with a new key, as the browser would.
func (b *client) finishKey(t *testing.T, options string) (*http.Response, string) {
	t.Helper()
	cred := noneRegistration(t, []byte(options), b.base, uuid.MustParse("ee882879-721c-4913-9775-3dfcce97072a"))
	return b.form("/enroll/key", url.Values{"credential": {string(cred)}, "nickname": {"Fremder Schlüssel"}})
}

// count returns how many keys and apps u has, and her recovery codes.
func (f *fixture) count(u authn.User) (keys, apps, codes int) {
	f.t.Helper()
	creds, err := f.store.ListCredentials(context.Background(), u.ID)
	if err != nil {
		f.t.Fatal(err)
	}
	for _, c := range creds {
		if c.Kind == authn.KindTOTP {
			apps++
		} else {
			keys++
		}
	}
	if codes, err = f.store.CountRecoveryCodes(context.Background(), u.ID); err != nil {
		f.t.Fatal(err)
	}
	return keys, apps, codes
}

// noKeyAdded fails t unless the browser's enrollment refuses to register
// a key: it tries the whole ceremony, as an attacker would.
func (f *fixture) noKeyAdded(t *testing.T, b *client, u authn.User) {
	t.Helper()
	keys, _, _ := f.count(u)
	status, options := b.beginKey()
	if status == http.StatusOK {
		t.Errorf("key options handed out: %d", status)
		if res, body := b.finishKey(t, options); res.StatusCode == http.StatusOK {
			t.Errorf("a key was registered: %s", body)
		}
	}
	if now, _, _ := f.count(u); now != keys {
		t.Fatalf("%d keys, was %d", now, keys)
	}
}

var totpSecretRE = regexp.MustCompile(`id="totp-secret"[^>]*>([A-Z2-7-]+)<`)

// pageAppCode is the current code of the app whose key the page shows.
func pageAppCode(t *testing.T, page string) string {
	t.Helper()
	m := totpSecretRE.FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("no app key on the page:\n%s", page)
	}
	secret, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(strings.ReplaceAll(m[1], "-", ""))
	if err != nil {
		t.Fatal(err)
	}
	return totpCode(t, secret)
}

// TestSelfServiceAppSessionAddsNoKey: a session from a phished password and
// app code (level mfa) may add an app, but no key: not through an
// enrollment opened for an app, nor through new recovery codes (which
// would sign in as a recovery-only session, which may add a key).
func TestSelfServiceAppSessionAddsNoKey(t *testing.T) {
	t.Run("enrollment for an app", func(t *testing.T) {
		f, clk, anna := scopeFixture(t)
		b := f.browser(f.appSession(anna, clk.Now()))
		if res, body := b.form("/account/factors/add", url.Values{"kind": {"app"}}); res.StatusCode != http.StatusOK || !strings.Contains(body, "totp-secret") {
			t.Fatalf("add an app: %d\n%s", res.StatusCode, body)
		}
		f.noKeyAdded(t, b, anna)
	})
	t.Run("enrollment for recovery codes", func(t *testing.T) {
		f, clk, anna := scopeFixture(t)
		b := f.browser(f.appSession(anna, clk.Now()))
		res, body := b.form("/account/factors/recovery", url.Values{})
		if res.StatusCode != http.StatusForbidden || !strings.Contains(body, "Wiederherstellungscodes erhalten Sie nur") {
			t.Errorf("new recovery codes with an app sign-in: %d\n%s", res.StatusCode, body)
		}
		if _, _, codes := f.count(anna); codes != 2 {
			t.Errorf("%d recovery codes, want her 2", codes)
		}
		f.noKeyAdded(t, b, anna)
	})
	t.Run("recovery codes through an app enrollment", func(t *testing.T) {
		f, clk, anna := scopeFixture(t)
		b := f.browser(f.appSession(anna, clk.Now()))
		if res, body := b.form("/account/factors/add", url.Values{"kind": {"app"}}); res.StatusCode != http.StatusOK {
			t.Fatalf("add an app: %d\n%s", res.StatusCode, body)
		}
		if res, body := b.form("/enroll/recovery", url.Values{}); res.StatusCode != http.StatusForbidden {
			t.Errorf("/enroll/recovery: %d\n%s", res.StatusCode, body)
		}
		if _, _, codes := f.count(anna); codes != 2 {
			t.Errorf("%d recovery codes, want her 2", codes)
		}
	})
}

// TestSelfServiceRecoverySession: a session from a recovery code may add a
// key or an app, but not replace all her recovery codes, not even from
// inside the enrollment it opened for an app.
func TestSelfServiceRecoverySession(t *testing.T) {
	f, clk, anna := scopeFixture(t)
	b := f.browser(f.recoverySession(anna, clk.Now()))
	res, page := b.form("/account/factors/add", url.Values{"kind": {"app"}})
	if res.StatusCode != http.StatusOK {
		t.Fatalf("add an app: %d\n%s", res.StatusCode, page)
	}
	res, body := b.form("/enroll/recovery", url.Values{})
	if res.StatusCode != http.StatusForbidden || !strings.Contains(body, msgFactorRecoveryOnly.DE) {
		t.Errorf("/enroll/recovery from a recovery-code sign-in: %d\n%s", res.StatusCode, body)
	}
	if _, _, codes := f.count(anna); codes != 2 {
		t.Fatalf("%d recovery codes, want her 2", codes)
	}
	// The enrollment goes on: the app is added.
	res, body = b.form("/enroll/app/confirm", url.Values{"code": {pageAppCode(t, page)}, "nickname": {"Neues Telefon"}})
	if res.StatusCode != http.StatusOK || !strings.Contains(body, "Neues Telefon") {
		t.Fatalf("confirm the app: %d\n%s", res.StatusCode, body)
	}
	// And a key.
	if res, body := b.form("/account/factors/add", url.Values{"kind": {"key"}}); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("add a key: %d\n%s", res.StatusCode, body)
	}
	status, options := b.beginKey()
	if status != http.StatusOK {
		t.Fatalf("begin: %d %s", status, options)
	}
	if res, body := b.finishKey(t, options); res.StatusCode != http.StatusOK {
		t.Fatalf("finish: %d\n%s", res.StatusCode, body)
	}
	if keys, apps, codes := f.count(anna); keys != 2 || apps != 1 || codes != 2 {
		t.Errorf("keys %d, apps %d, codes %d; want 2, 1, 2", keys, apps, codes)
	}
}

// TestSelfServiceEndsWithItsSession: an enrollment opened from a key
// sign-in can no longer add a key once that sign-in is over, or no longer
// older than the enrollment's lifetime, or the person is disabled, reset, or loses a credential, even
// with a key ceremony begun before.
func TestSelfServiceEndsWithItsSession(t *testing.T) {
	tests := []struct {
		name        string
		signedInAgo time.Duration
		end         func(t *testing.T, f *fixture, clk *testClock, anna authn.User, b *client)
	}{
		{"sign-out", 0, func(t *testing.T, f *fixture, _ *testClock, _ authn.User, b *client) {
			if res, _ := b.form("/logout", url.Values{}); res.StatusCode != http.StatusSeeOther {
				t.Fatalf("sign out: %d", res.StatusCode)
			}
		}},
		{"signed out everywhere from another device", 0, func(t *testing.T, f *fixture, clk *testClock, anna authn.User, _ *client) {
			w := serve(f.srv, "POST", "/logout/everywhere", url.Values{}, f.sessionCookie(anna, clk.Now(), false))
			if w.Code != http.StatusSeeOther {
				t.Fatalf("sign out everywhere: %d", w.Code)
			}
		}},
		{"signed out there from another device", 0, func(t *testing.T, f *fixture, clk *testClock, anna authn.User, b *client) {
			h := authn.HashSessionID(mustDecodeCookie(t, b.cookies[SessionCookie]))
			w := serve(f.srv, "POST", "/account/sessions/revoke", url.Values{"session": {sessionHandle(h)}}, f.sessionCookie(anna, clk.Now(), false))
			if w.Code != http.StatusSeeOther {
				t.Fatalf("sign out there: %d", w.Code)
			}
		}},
		{"sign-in older than the enrollment's lifetime", enroll.FreshSignIn - time.Minute, func(t *testing.T, _ *fixture, clk *testClock, _ authn.User, _ *client) {
			clk.Add(enroll.SelfServiceTTL - enroll.FreshSignIn + time.Minute + time.Second)
		}},
		{"disabled", 0, func(t *testing.T, f *fixture, _ *testClock, anna authn.User, _ *client) {
			_, err := f.store.UpdateUser(context.Background(), anna.ID, func(u authn.User) (authn.User, error) {
				u.Status = authn.StatusDisabled
				return u, nil
			}, f.audit("user.disable"))
			if err != nil {
				t.Fatal(err)
			}
		}},
		{"reset", 0, func(t *testing.T, f *fixture, _ *testClock, anna authn.User, _ *client) {
			if _, _, err := f.srv.store.Load().enroll.Reset(context.Background(), anna.ID, 0, "cli:helpdesk", "Schlüssel gestohlen"); err != nil {
				t.Fatal(err)
			}
		}},
		{"a credential revoked", 0, func(t *testing.T, f *fixture, _ *testClock, anna authn.User, _ *client) {
			creds, err := f.store.ListCredentials(context.Background(), anna.ID)
			if err != nil {
				t.Fatal(err)
			}
			if err := f.srv.store.Load().enroll.RevokeCredential(context.Background(), anna.ID, creds[0].ID, "cli:helpdesk", "gestohlen"); err != nil {
				t.Fatal(err)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, clk, anna := scopeFixture(t)
			f.addTOTP(anna)
			b := f.browser(f.sessionCookie(anna, clk.Now().Add(-tt.signedInAgo), false))
			if res, body := b.form("/account/factors/add", url.Values{"kind": {"key"}}); res.StatusCode != http.StatusSeeOther {
				t.Fatalf("add a key: %d\n%s", res.StatusCode, body)
			}
			status, options := b.beginKey()
			if status != http.StatusOK {
				t.Fatalf("begin: %d %s", status, options)
			}
			tt.end(t, f, clk, anna, b)
			keys, _, _ := f.count(anna)
			if res, body := b.finishKey(t, options); res.StatusCode == http.StatusOK {
				t.Errorf("the key ceremony begun before finished: %s", body)
			}
			if now, _, _ := f.count(anna); now > keys {
				t.Fatalf("%d keys, was %d", now, keys)
			}
			f.noKeyAdded(t, b, anna)
		})
	}
}

func mustDecodeCookie(t *testing.T, v string) []byte {
	t.Helper()
	id, err := parseSessionCookie(v)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// TestSelfServiceAbsoluteLifetime: steps do not keep an enrollment alive
// past its absolute lifetime, even from a sign-in that stays fresh.
func TestSelfServiceAbsoluteLifetime(t *testing.T) {
	f, clk, anna := scopeFixture(t)
	start := clk.Now()
	// Signed in "later" than the clock: the sign-in stays fresh throughout.
	b := f.browser(f.sessionCookie(anna, start.Add(enroll.SelfServiceTTL-3*time.Minute), false))
	if res, body := b.form("/account/factors/add", url.Values{"kind": {"key"}}); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("add a key: %d\n%s", res.StatusCode, body)
	}
	var options string
	for clk.Now().Add(4 * time.Minute).Before(start.Add(enroll.SelfServiceTTL)) {
		clk.Add(4 * time.Minute)
		var status int
		if status, options = b.beginKey(); status != http.StatusOK {
			t.Fatalf("begin after %v: %d %s", clk.Now().Sub(start), status, options)
		}
	}
	clk.Add(4 * time.Minute)
	if res, body := b.finishKey(t, options); res.StatusCode == http.StatusOK {
		t.Errorf("finished %v after opening: %s", clk.Now().Sub(start), body)
	}
	f.noKeyAdded(t, b, anna)
}

// TestRemoveKeyNeedsItsLevel: removing a key needs a sign-in at least at
// the level that key signs in at: an app and password cannot remove her
// keys; a sign-in at the key's level can.
func TestRemoveKeyNeedsItsLevel(t *testing.T) {
	f, clk, anna := scopeFixture(t)
	f.addTOTP(anna)
	creds, err := f.store.ListCredentials(context.Background(), anna.ID)
	if err != nil {
		t.Fatal(err)
	}
	hw := creds[0]
	synced := newTestKey(t)
	f.addKey(anna, &synced, 0)
	if _, err := f.store.DB().Exec("UPDATE credentials SET backup_eligible = $1 WHERE id = $2", true, synced.credID); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		id    string
		level authn.Level
	}{{synced.credID, authn.LevelPhr}, {hw.ID, authn.KeyLevel(hw)}} {
		app := f.appSession(anna, clk.Now())
		w := serve(f.srv, "POST", "/account/factors/remove", url.Values{"id": {c.id}, "confirm": {"yes"}}, app)
		if w.Code != http.StatusForbidden || !strings.Contains(w.Body.String(), msgFactorRemoveNeedsLevel.DE) {
			t.Errorf("app sign-in removes key %s: %d\n%s", c.id, w.Code, w.Body.String())
		}
		at := f.sessionCookie(anna, clk.Now(), false)
		f.setACR(at, c.level)
		if w := serve(f.srv, "POST", "/account/factors/remove", url.Values{"id": {c.id}, "confirm": {"yes"}}, at); w.Code != http.StatusSeeOther {
			t.Errorf("sign-in at %s removes key %s: %d\n%s", c.level, c.id, w.Code, w.Body.String())
		}
	}
	if keys, apps, _ := f.count(anna); keys != 0 || apps != 1 {
		t.Errorf("keys %d, apps %d; want 0, 1", keys, apps)
	}
}

// TestFactorsPageOffersWhatTheSignInMayAdd: the factors page shows only the
// buttons that the sign-in may use (enroll.ScopeOf), and says how to add a
// key otherwise, instead of offering one that answers 403.
func TestFactorsPageOffersWhatTheSignInMayAdd(t *testing.T) {
	f, clk, anna := scopeFixture(t)
	tests := []struct {
		name                string
		cookie              *http.Cookie
		key, codes, keyHint bool
	}{
		{"key", f.sessionCookie(anna, clk.Now(), false), true, true, false},
		{"app and password", f.appSession(anna, clk.Now()), false, false, true},
		{"recovery code", f.recoverySession(anna, clk.Now()), true, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, body := f.browser(tt.cookie).get(factorsPath)
			if res.StatusCode != http.StatusOK {
				t.Fatalf("factors page: %d", res.StatusCode)
			}
			for what, want := range map[string]bool{`id="add-key"`: tt.key, `id="new-codes"`: tt.codes, `id="key-needs-key"`: tt.keyHint} {
				if got := strings.Contains(body, what); got != want {
					t.Errorf("%s shown: %t, want %t", what, got, want)
				}
			}
		})
	}
}

// TestLateConfirmationKeepsOldCodes: new codes confirmed after the
// enrollment ended are not stored, her old ones still work, and the page
// says so (she must not throw her old sheet away).
func TestLateConfirmationKeepsOldCodes(t *testing.T) {
	f, clk, anna := scopeFixture(t)
	b := f.browser(f.sessionCookie(anna, clk.Now(), false))
	if res, body := b.form("/account/factors/recovery", url.Values{}); res.StatusCode != http.StatusOK || !strings.Contains(body, `id="recovery-codes"`) {
		t.Fatalf("new codes: %d\n%s", res.StatusCode, body)
	}
	clk.Add(enroll.SelfServiceTTL + time.Minute)
	res, body := b.form("/enroll/done", url.Values{"stored": {"yes"}})
	if res.StatusCode != http.StatusGone || !strings.Contains(body, "bisherigen Codes gelten weiter") {
		t.Errorf("a late confirmation: %d, want 410 saying her old codes still work\n%s", res.StatusCode, body)
	}
	if n, err := f.store.CountRecoveryCodes(context.Background(), anna.ID); err != nil || n != 2 {
		t.Errorf("after a late confirmation: %d codes (%v), want her 2 old ones", n, err)
	}
}

// TestFactorsPageNoAppWherePhrh: where a group's sign-in level is phrh,
// which an app does not reach, /account/factors offers no "add app" to its
// members (it would be set up and then refused at sign-in); a person
// outside the group, signed in the same way, is offered it.
func TestFactorsPageNoAppWherePhrh(t *testing.T) {
	clk := &testClock{t: time.Now()}
	f := newFixture(t, func(c *Config) { c.Now = clk.Now })
	strict := enroll.DefaultKeyPolicy()
	strict.SignInLevel = authn.LevelPhrh
	f.withEnroll(enroll.Config{Policy: enroll.Policy{
		Groups: map[string]enroll.KeyPolicy{"rat": strict}, Default: enroll.DefaultKeyPolicy()}})
	ctx := context.Background()
	rat := authn.Group{ID: authn.NewID(), Name: "rat", DisplayName: "Rat", Source: authn.SourceLocal, CreatedAt: time.Now()}
	if err := f.store.CreateGroup(ctx, rat, f.audit("group.create")); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		member bool
	}{{"anna", true}, {"bernd", false}} {
		u := f.addUser(tc.name)
		f.setPassword(u, testPassword)
		k := newTestKey(t)
		f.addKey(u, &k, 0)
		if tc.member {
			if err := f.store.AddMember(ctx, rat.ID, u.ID, f.audit("group.add")); err != nil {
				t.Fatal(err)
			}
		}
		res, body := f.browser(f.sessionCookie(u, clk.Now(), false)).get(factorsPath)
		if res.StatusCode != http.StatusOK {
			t.Fatalf("%s: factors page: %d", tc.name, res.StatusCode)
		}
		if got := strings.Contains(body, `id="add-app"`); got == tc.member {
			t.Errorf("%s (member of the phrh group: %t): add-app shown %t", tc.name, tc.member, got)
		}
		if !strings.Contains(body, `id="add-key"`) {
			t.Errorf("%s: no add-key on the factors page", tc.name)
		}
	}
}
