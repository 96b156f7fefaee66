package web

import (
	"context"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/keyhall/keyhall/authn"
	"github.com/keyhall/keyhall/enroll"
)

// TestAccountShowsFactorsAndSignIns: /account lists her keys and app by
// method with their last use, how many recovery codes are left, and each
// recent sign-in by method and tool, in plain words; a key she gave no
// name is named by its model or the day it was added, never
// "Sicherheitsschlüssel: Sicherheitsschlüssel".
func TestAccountShowsFactorsAndSignIns(t *testing.T) {
	f := newFixture(t)
	f.withEnroll(enroll.Config{Policy: enroll.Policy{Default: enroll.DefaultKeyPolicy()}})
	anna := f.addUser("anna")
	f.setPassword(anna, testPassword)
	ctx := context.Background()
	added := time.Date(2026, 3, 1, 9, 30, 0, 0, time.Local)
	used := time.Date(2026, 11, 20, 8, 15, 0, 0, time.Local)
	yubi := uuid.MustParse("cb69481e-8ff7-4039-93ec-0a2729a154a8")
	for _, c := range []authn.Credential{
		{Nickname: "Sicherheitsschlüssel", AAGUID: yubi[:], LastUsedAt: used},
		{Nickname: "Sicherheitsschlüssel", AAGUID: make([]byte, 16)},
	} {
		k := newTestKey(t)
		c.ID, c.UserID, c.Kind, c.CreatedAt, c.WebAuthnID, c.PublicKey = authn.NewID(), anna.ID, authn.KindWebAuthn, added, k.id, k.cose
		if err := f.store.CreateCredential(ctx, c, f.audit("credential.create")); err != nil {
			t.Fatal(err)
		}
	}
	f.addTOTP(anna)
	f.addRecoveryCodes(anna, "1111-2222", "3333-4444", "5555-6666")
	for i, d := range []map[string]string{
		{"amr": "otp pwd mfa", "acr": "mfa", "recovery_only": "true"},
		{"amr": "pop pwd mfa", "acr": "phr", "tool": "ratsinfo"},
	} {
		ev := authn.AuditEvent{Time: time.Now().Add(time.Duration(i-5) * time.Minute), Actor: "user:" + anna.ID, Action: "signin",
			Subject: "user:" + anna.ID, ClientAddr: "192.0.2.7", Details: d}
		if err := f.store.AppendAudit(ctx, ev); err != nil {
			t.Fatal(err)
		}
	}
	w := serve(f.srv, "GET", "/account", nil, f.sessionCookie(anna, time.Now(), false))
	body := w.Body.String()
	for _, want := range []string{
		`<dt>Angemeldet mit</dt><dd>Sicherheitsschlüssel und Passwort</dd>`,
		`Sicherheitsschlüssel: <strong>YubiKey 5 / 5C / 5 Nano / 5C Nano (Firmware 5.1)</strong>`,
		`zuletzt verwendet ` + formatTime("de", used),
		`Sicherheitsschlüssel, hinzugefügt am ` + formatTime("de", added),
		`Authenticator-App: <strong>App</strong>`,
		`Wiederherstellungscodes</span>`, `3 unbenutzt übrig`,
		`Sicherheitsschlüssel und Passwort · für ratsinfo`,
		`Wiederherstellungscode und Passwort · für Keyhall`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/account does not show %q", want)
		}
	}
	for _, not := range []string{"Sicherheitsschlüssel: <strong>Sicherheitsschlüssel", "mehrere Faktoren"} {
		if strings.Contains(body, not) {
			t.Errorf("/account shows %q", not)
		}
	}
	if t.Failed() {
		t.Logf("page:\n%s", body)
	}
}

// TestAccountRemoveAsksFirst: "Entfernen" asks before it removes (a form
// without the confirmation removes nothing and shows the question with the
// factor named), and looks unlike "Umbenennen".
func TestAccountRemoveAsksFirst(t *testing.T) {
	f := newFixture(t)
	f.withEnroll(enroll.Config{Policy: enroll.Policy{Default: enroll.DefaultKeyPolicy()}})
	anna := f.addUser("anna")
	f.setPassword(anna, testPassword)
	k, spare := newTestKey(t), newTestKey(t)
	f.addKey(anna, &k, 0)
	f.addKey(anna, &spare, 0)
	fresh := f.sessionCookie(anna, time.Now(), false)
	ctx := context.Background()

	if page := serve(f.srv, "GET", "/account", nil, fresh).Body.String(); !strings.Contains(page, "Wiederherstellungscodes</span>\n<span class=\"meta\">keine mehr übrig") {
		t.Errorf("/account does not say she has no recovery codes left:\n%s", page)
	}
	page := serve(f.srv, "GET", factorsPath, nil, fresh).Body.String()
	if !strings.Contains(page, `<button type="submit" class="danger" aria-label="Entfernen: YubiKey">`) ||
		!strings.Contains(page, `<button type="submit" class="secondary" aria-label="Umbenennen: YubiKey">`) {
		t.Errorf("remove does not look unlike rename:\n%s", page)
	}
	w := serve(f.srv, "POST", "/account/factors/remove", url.Values{"id": {k.credID}}, fresh)
	if w.Code != 200 || !strings.Contains(w.Body.String(), "Wirklich entfernen?") ||
		!strings.Contains(w.Body.String(), `<input type="hidden" name="id" value="`+k.credID+`"><input type="hidden" name="confirm" value="yes">`) {
		t.Fatalf("remove without confirming: %d\n%s", w.Code, w.Body.String())
	}
	if creds, err := f.store.ListCredentials(ctx, anna.ID); err != nil || len(creds) != 2 {
		t.Fatalf("asking removed a key: %d keys, %v", len(creds), err)
	}
	w = serve(f.srv, "POST", "/account/factors/remove", url.Values{"id": {k.credID}, "confirm": {"yes"}}, fresh)
	if w.Code != 303 || w.Header().Get("Location") != factorsPath+"?e=removed" {
		t.Fatalf("remove after confirming: %d %s", w.Code, w.Body.String())
	}
	if creds, err := f.store.ListCredentials(ctx, anna.ID); err != nil || len(creds) != 1 || creds[0].ID != spare.credID {
		t.Fatalf("after confirming: %+v, %v", creds, err)
	}
}

// TestToolOf: a sign-in is recorded as for the tool it returns to: a
// forward-auth host, or Keyhall itself for its own pages and for an OIDC
// request that is gone (the OIDC client's id is checked end to end in
// TestEndToEndCouncillor).
func TestToolOf(t *testing.T) {
	f := newFixture(t)
	for returnTo, want := range map[string]string{
		"https://wiki.stadt.example/seite?x=1":   "wiki.stadt.example",
		"/account":                               "",
		"":                                       "",
		f.srv.publicURL.String() + "/account":    "",
		oidcContinuePath + "?id=nope&n=1":        "",
		"https://WIKI.stadt.example:8443/seite/": "wiki.stadt.example",
	} {
		if got := f.srv.toolOf(context.Background(), returnTo); got != want {
			t.Errorf("toolOf(%q) = %q, want %q", returnTo, got, want)
		}
	}
}
