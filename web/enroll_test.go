package web

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/keyhall/keyhall/authn"
	"github.com/keyhall/keyhall/enroll"
)

// enrollTestViews are the enrollment pages for TestPagesRender.
func enrollTestViews() map[string]*view {
	codes := []string{"K7XM-4RPQ-9TWD-3HNA", "ABCD-EFGH-JKMN-PQRS"}
	return map[string]*view{
		"enroll":          {Page: "enroll", Error: "falsch", Enroll: &enrollView{NeedPassword: true}},
		"enroll_choose":   {Page: "enroll_choose", Enroll: &enrollView{Name: "Anna Müller", AllowApp: true}},
		"enroll_key":      {Page: "enroll_key", Enroll: &enrollView{AllowApp: true}},
		"enroll_app":      {Page: "enroll_app", Enroll: &enrollView{QR: "data:image/png;base64,AAAA", Secret: "ABCD-EFGH"}},
		"enroll_added":    {Page: "enroll_added", Enroll: &enrollView{Kind: "key", Nickname: "Schlüsselbund", Model: "YubiKey 5 NFC"}},
		"enroll_codes":    {Page: "enroll_codes", Enroll: &enrollView{Codes: codes, Name: "Anna"}},
		"enroll_done":     {Page: "enroll_done"},
		"enroll_password": {Page: "enroll_password", Error: "zu kurz", Enroll: &enrollView{Name: "anna", MinPassword: 12}},
		"enroll_invalid":  {Page: "enroll_invalid", Error: "abgelaufen"},
		"account_factors": {Page: "account_factors", Enroll: &enrollView{Factors: []factorRow{
			{ID: "1", Nickname: "Schlüsselbund", Name: "Schlüsselbund", Model: "YubiKey 5 NFC", CreatedAt: time.Now()}, {ID: "2", App: true, Nickname: "App"},
		}, AllowApp: true, CodesLeft: 4, Confirm: &factorRow{ID: "1", Name: "Schlüsselbund"}}},
	}
}

// withEnroll rebuilds the fixture's enrollment service with cfg (and the
// fixture's sealing key).
func (f *fixture) withEnroll(cfg enroll.Config) {
	f.t.Helper()
	f.srv.enrollCfg = cfg
	if err := f.srv.SetStore(f.store, nil); err != nil {
		f.t.Fatal(err)
	}
	if f.srv.store.Load().enroll == nil {
		f.t.Fatalf("enrollment could not be set up:\n%s", f.logs.String())
	}
}

// invite issues an invitation for u with the server's enrollment service.
func (f *fixture) invite(u authn.User) enroll.Invitation {
	f.t.Helper()
	inv, err := f.srv.store.Load().enroll.Issue(context.Background(), u.ID, 0, "test", "test")
	if err != nil {
		f.t.Fatal(err)
	}
	return inv
}

// serve sends a request straight to the handler (httptest), with cookies.
func serve(s *Server, method, target string, form url.Values, cookies ...*http.Cookie) *httptest.ResponseRecorder {
	var r *http.Request
	if form != nil {
		r = httptest.NewRequest(method, target, strings.NewReader(form.Encode()))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	} else {
		r = httptest.NewRequest(method, target, nil)
	}
	r.Header.Set("Accept-Language", "de-DE")
	for _, c := range cookies {
		r.AddCookie(c)
	}
	w := httptest.NewRecorder()
	s.ServeHTTP(w, r)
	return w
}

func linkPath(t *testing.T, link string) string {
	t.Helper()
	u, err := url.Parse(link)
	if err != nil {
		t.Fatal(err)
	}
	return u.Path
}

func TestEnrollInvitationRefused(t *testing.T) {
	f := newFixture(t)
	f.withEnroll(enroll.Config{Policy: enroll.Policy{Default: enroll.DefaultKeyPolicy()}})
	anna, bob := f.addUser("anna"), f.addUser("bob")
	ctx := context.Background()

	voided := f.invite(anna)
	open := f.invite(anna) // voids the first
	past := time.Now().Add(-48 * time.Hour)
	old, err := enroll.New(enroll.Config{Store: f.store, PublicURL: f.srv.publicURL, EncryptionKey: f.sealer,
		Now: func() time.Time { return past }})
	if err != nil {
		t.Fatal(err)
	}
	expired, err := old.Issue(ctx, bob.ID, time.Hour, "test", "test")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, method, path string
		form               url.Values
		status             int
		want               string
	}{
		{"open link greets", "GET", linkPath(t, open.Link), nil, http.StatusOK, "Test anna"},
		{"voided link", "GET", linkPath(t, voided.Link), nil, http.StatusGone, msgEnrollLinkUsed.DE},
		{"voided link redeemed", "POST", linkPath(t, voided.Link), url.Values{}, http.StatusGone, "schon verwendet"},
		{"expired link", "GET", linkPath(t, expired.Link), nil, http.StatusGone, msgEnrollLinkExpired.DE},
		{"expired link redeemed", "POST", linkPath(t, expired.Link), url.Values{}, http.StatusGone, "abgelaufen"},
		{"unknown link", "GET", "/enroll/" + enroll.NewToken(), nil, http.StatusNotFound, msgEnrollLinkWrong.DE},
		{"unknown link redeemed", "POST", "/enroll/" + enroll.NewToken(), url.Values{}, http.StatusNotFound, msgEnrollLinkWrong.DE},
		{"anna's code for bob", "POST", "/enroll", url.Values{"username": {"bob"}, "code": {open.Code}}, http.StatusUnauthorized, "Code stimmt nicht"},
		{"bob's expired code", "POST", "/enroll", url.Values{"username": {"bob"}, "code": {expired.Code}}, http.StatusGone, "abgelaufen"},
		{"no code", "POST", "/enroll", url.Values{"username": {"anna"}}, http.StatusBadRequest, msgEnrollFormMissing.DE},
		{"anna's code", "POST", "/enroll", url.Values{"username": {"Anna"}, "code": {strings.ToLower(open.Code)}}, http.StatusOK, "Sicherheitsschlüssel registrieren"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := serve(f.srv, tt.method, tt.path, tt.form)
			body := w.Body.String()
			if w.Code != tt.status || !strings.Contains(body, tt.want) {
				t.Fatalf("status %d, want %d with %q; page:\n%s", w.Code, tt.status, tt.want, body)
			}
			if tt.status == http.StatusGone && !strings.Contains(body, "neuen Einladungsbrief") {
				t.Errorf("the page does not say to ask IT for a new letter")
			}
			if w.Header().Get("Cache-Control") != "no-store" {
				t.Errorf("the page may be cached")
			}
		})
	}
}

func TestEnrollThrottled(t *testing.T) {
	f := newFixture(t)
	f.withEnroll(enroll.Config{})
	anna := f.addUser("anna")
	inv := f.invite(anna)
	wrong := url.Values{"username": {"anna"}, "code": {"AAAA-BBBB-CCCC-DDDD"}}
	var w *httptest.ResponseRecorder
	for range 11 {
		w = serve(f.srv, "POST", "/enroll", wrong)
	}
	if w.Code != http.StatusTooManyRequests || w.Header().Get("Retry-After") != "900" ||
		!strings.Contains(w.Body.String(), "warten Sie 15 Minuten") {
		t.Fatalf("11th wrong code: status %d, Retry-After %q; page:\n%s", w.Code, w.Header().Get("Retry-After"), w.Body.String())
	}
	// The right code does not help while the person is throttled.
	w = serve(f.srv, "POST", "/enroll", url.Values{"username": {"anna"}, "code": {inv.Code}})
	if w.Code != http.StatusTooManyRequests {
		t.Fatalf("right code while throttled: status %d", w.Code)
	}
}

func TestEnrollStepsWithoutEnrollment(t *testing.T) {
	f := newFixture(t)
	f.withEnroll(enroll.Config{})
	w := serve(f.srv, "GET", "/enroll/key", nil)
	if w.Code != http.StatusSeeOther || w.Header().Get("Location") != "/enroll" {
		t.Errorf("key page without an enrollment: %d → %q", w.Code, w.Header().Get("Location"))
	}
	for _, path := range []string{"/enroll/app", "/enroll/recovery"} {
		w := serve(f.srv, "POST", path, url.Values{})
		if w.Code != http.StatusGone || !strings.Contains(w.Body.String(), "Einladungslink noch einmal") {
			t.Errorf("%s without an enrollment: %d\n%s", path, w.Code, w.Body.String())
		}
	}
	for _, path := range []string{"/enroll/app?lang=en", "/enroll/app/confirm", "/enroll/recovery", "/enroll/done"} {
		w := serve(f.srv, "GET", path, nil)
		if loc := w.Header().Get("Location"); w.Code != http.StatusSeeOther || !strings.HasPrefix(loc, "/enroll") || strings.HasPrefix(loc, "/enroll/key") {
			t.Errorf("GET %s without an enrollment: %d → %q", path, w.Code, loc)
		}
	}
	w = serve(f.srv, "POST", "/enroll/done", url.Values{})
	if w.Code != http.StatusBadRequest || !strings.Contains(w.Body.String(), msgEnrollConfirmCodes.DE) {
		t.Errorf("done without confirming: %d", w.Code)
	}
}

// sessionCookie stores a session for u, signed in at authTime, and returns
// its cookie.
func (f *fixture) sessionCookie(u authn.User, authTime time.Time, recoveryOnly bool) *http.Cookie {
	f.t.Helper()
	id := make([]byte, 32)
	rand.Read(id)
	now := time.Now()
	s := authn.Session{Hash: authn.HashSessionID(id), UserID: u.ID, AMR: []string{"hwk", "pwd", "mfa"}, ACR: "phrh",
		AuthTime: authTime, CreatedAt: authTime, LastSeenAt: now, ExpiresAt: now.Add(time.Hour), RecoveryOnly: recoveryOnly}
	if err := f.store.CreateSession(context.Background(), s); err != nil {
		f.t.Fatal(err)
	}
	return &http.Cookie{Name: SessionCookie, Value: base64.RawURLEncoding.EncodeToString(id)}
}

func TestEnrollAccountFactors(t *testing.T) {
	f := newFixture(t)
	f.withEnroll(enroll.Config{Policy: enroll.Policy{Default: enroll.DefaultKeyPolicy()}})
	anna := f.addUser("anna")
	f.setPassword(anna, testPassword) // an app and recovery codes need it after them
	k := newTestKey(t)
	f.addKey(anna, &k, 0)
	fresh := f.sessionCookie(anna, time.Now(), false)
	stale := f.sessionCookie(anna, time.Now().Add(-10*time.Minute), false)
	recovery := f.sessionCookie(anna, time.Now(), true)
	app := f.sessionCookie(anna, time.Now(), false)
	f.setACR(app, authn.LevelMFA)

	w := serve(f.srv, "GET", "/account/factors", nil)
	if w.Code != http.StatusSeeOther || !strings.HasPrefix(w.Header().Get("Location"), "/login?return_to=%2Faccount%2Ffactors") {
		t.Errorf("factors without a session: %d → %q", w.Code, w.Header().Get("Location"))
	}
	w = serve(f.srv, "GET", "/account/factors", nil, stale)
	if w.Code != http.StatusOK || !strings.Contains(w.Body.String(), "YubiKey") || !strings.Contains(w.Body.String(), "Entfernen") {
		t.Errorf("factors list: %d\n%s", w.Code, w.Body.String())
	}
	tests := []struct {
		name   string
		path   string
		form   url.Values
		cookie *http.Cookie
		status int
		want   string // in the Location or the page
	}{
		{"stale session must sign in again", "/account/factors/add", url.Values{"kind": {"key"}}, stale, http.StatusSeeOther, "/login?return_to="},
		{"fresh session adds a key", "/account/factors/add", url.Values{"kind": {"key"}}, fresh, http.StatusSeeOther, "/enroll/key"},
		{"recovery session adds an app", "/account/factors/add", url.Values{"kind": {"app"}}, recovery, http.StatusOK, "totp-secret"},
		{"recovery session adds a key", "/account/factors/add", url.Values{"kind": {"key"}}, recovery, http.StatusSeeOther, "/enroll/key"},
		{"app session may not add a key", "/account/factors/add", url.Values{"kind": {"key"}}, app, http.StatusForbidden, "nur hinzufügen, wenn Sie sich mit einem Sicherheitsschlüssel oder einem Wiederherstellungscode"},
		{"app session adds an app", "/account/factors/add", url.Values{"kind": {"app"}}, app, http.StatusOK, "totp-secret"},
		{"recovery session may not remove", "/account/factors/remove", url.Values{"id": {k.credID}, "confirm": {"yes"}}, recovery, http.StatusForbidden, "nur einen neuen Schlüssel"},
		{"recovery session may not renew codes", "/account/factors/recovery", url.Values{}, recovery, http.StatusForbidden, "nur einen neuen Schlüssel"},
		{"never the last factor", "/account/factors/remove", url.Values{"id": {k.credID}, "confirm": {"yes"}}, fresh, http.StatusConflict, msgFactorLast.DE},
		{"unknown factor", "/account/factors/remove", url.Values{"id": {"nope"}, "confirm": {"yes"}}, fresh, http.StatusConflict, msgFactorUnknown.DE},
		{"new recovery codes", "/account/factors/recovery", url.Values{}, fresh, http.StatusOK, "recovery-codes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := serve(f.srv, "POST", tt.path, tt.form, tt.cookie)
			got := w.Header().Get("Location") + w.Body.String()
			if w.Code != tt.status || !strings.Contains(got, tt.want) {
				t.Fatalf("status %d, want %d with %q:\n%s", w.Code, tt.status, tt.want, got)
			}
		})
	}
	// With a second factor, the key may go; it is revoked with an audit reason.
	f.addTOTP(anna)
	w = serve(f.srv, "POST", "/account/factors/remove", url.Values{"id": {k.credID}, "confirm": {"yes"}}, fresh)
	if w.Code != http.StatusSeeOther || w.Header().Get("Location") != "/account/factors?e=removed" {
		t.Fatalf("remove with a second factor: %d\n%s", w.Code, w.Body.String())
	}
	events, err := f.store.ListAudit(context.Background(), authn.AuditFilter{Subject: "user:" + anna.ID, Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	revoked := false
	for _, e := range events {
		revoked = revoked || (e.Action == "credential.revoke" && e.Reason == "self-service" && e.Actor == "user:"+anna.ID)
	}
	if !revoked {
		t.Error("no audit event for the self-service removal")
	}
}

// setACR changes the level of the session behind c (signed in with an app
// instead of a key, say).
func (f *fixture) setACR(c *http.Cookie, acr authn.Level) {
	f.t.Helper()
	id, err := base64.RawURLEncoding.DecodeString(c.Value)
	if err != nil {
		f.t.Fatal(err)
	}
	h := authn.HashSessionID(id)
	if _, err := f.store.DB().Exec("UPDATE sessions SET acr = $1, amr = 'otp pwd mfa' WHERE hash = $2", string(acr), h[:]); err != nil {
		f.t.Fatal(err)
	}
}
