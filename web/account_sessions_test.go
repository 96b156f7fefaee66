package web

import (
	"context"
	"encoding/hex"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/keyhall/keyhall/authn"
	"github.com/keyhall/keyhall/enroll"
)

func TestAccountRenameFactor(t *testing.T) {
	f := newFixture(t)
	f.withEnroll(enroll.Config{Policy: enroll.Policy{Default: enroll.DefaultKeyPolicy()}})
	anna, bernd := f.addUser("anna"), f.addUser("bernd")
	k, other := newTestKey(t), newTestKey(t)
	f.addKey(anna, &k, 0)
	f.addKey(bernd, &other, 0)
	fresh := f.sessionCookie(anna, time.Now(), false)
	stale := f.sessionCookie(anna, time.Now().Add(-10*time.Minute), false)
	recovery := f.sessionCookie(anna, time.Now(), true)
	tests := []struct {
		name     string
		id, nick string
		cookie   *http.Cookie
		status   int
		want     string
	}{
		{"renamed", k.credID, "  Büro-Schlüssel ", fresh, http.StatusSeeOther, "/account/factors?e=renamed"},
		{"stale session signs in again", k.credID, "x", stale, http.StatusSeeOther, "/login?return_to="},
		{"not from a recovery code", k.credID, "x", recovery, http.StatusForbidden, "nur einen neuen Schlüssel"},
		{"empty", k.credID, "   ", fresh, http.StatusBadRequest, msgFactorNickname.DE},
		{"too long", k.credID, strings.Repeat("ä", 65), fresh, http.StatusBadRequest, msgFactorNickname.DE},
		{"control character", k.credID, "a\u0007b", fresh, http.StatusBadRequest, msgFactorNickname.DE},
		{"not UTF-8", k.credID, "B\xfcro", fresh, http.StatusBadRequest, msgFactorNickname.DE},
		{"10 KB", k.credID, strings.Repeat("Schlüssel", 1100), fresh, http.StatusBadRequest, msgFactorNickname.DE},
		{"someone else's key", other.credID, "meins", fresh, http.StatusConflict, msgFactorUnknown.DE},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := serve(f.srv, "POST", "/account/factors/rename", url.Values{"id": {tt.id}, "nickname": {tt.nick}}, tt.cookie)
			got := w.Header().Get("Location") + w.Body.String()
			if w.Code != tt.status || !strings.Contains(got, tt.want) {
				t.Fatalf("status %d, want %d with %q:\n%s", w.Code, tt.status, tt.want, got)
			}
		})
	}
	creds, err := f.store.ListCredentials(context.Background(), anna.ID)
	if err != nil || len(creds) != 1 || creds[0].Nickname != "Büro-Schlüssel" {
		t.Fatalf("after renaming: %+v, %v", creds, err)
	}
	if creds, _ := f.store.ListCredentials(context.Background(), bernd.ID); creds[0].Nickname != "YubiKey" {
		t.Errorf("bernd's key was renamed: %+v", creds[0])
	}
	w := serve(f.srv, "GET", "/account/factors?e=renamed", nil, fresh)
	if !strings.Contains(w.Body.String(), msgFactorRenamed.DE) || !strings.Contains(w.Body.String(), `value="Büro-Schlüssel"`) {
		t.Errorf("factors page after renaming:\n%s", w.Body.String())
	}
}

func TestAccountSessions(t *testing.T) {
	f := newFixture(t)
	anna, bernd := f.addUser("anna"), f.addUser("bernd")
	here := f.sessionCookie(anna, time.Now(), false)
	there := f.sessionCookie(anna, time.Now().Add(-time.Hour), false)
	foreign := f.sessionCookie(bernd, time.Now(), false)
	hash := func(c *http.Cookie) authn.SessionHash {
		id, err := parseSessionCookie(c.Value)
		if err != nil {
			t.Fatal(err)
		}
		return authn.HashSessionID(id)
	}
	ev := authn.AuditEvent{Time: time.Now(), Actor: "user:" + anna.ID, Action: "signin", Subject: "user:" + anna.ID,
		ClientAddr: "203.0.113.5", Details: map[string]string{"acr": "phrh", "recovery_only": "true"}}
	if err := f.store.AppendAudit(context.Background(), ev); err != nil {
		t.Fatal(err)
	}

	w := serve(f.srv, "GET", "/account", nil, here)
	page := w.Body.String()
	thereHandle := sessionHandle(hash(there))
	if w.Code != http.StatusOK || !strings.Contains(page, `value="`+thereHandle+`"`) || !strings.Contains(page, "203.0.113.5") ||
		!strings.Contains(page, "Wiederherstellungscode") {
		t.Fatalf("account page: %d\n%s", w.Code, page)
	}
	for _, h := range []authn.SessionHash{hash(here), hash(there)} {
		if strings.Contains(strings.ToLower(page), strings.ToLower(hexOf(h[:]))) {
			t.Fatal("the account page shows a session hash")
		}
	}
	if strings.Contains(page, `value="`+sessionHandle(hash(here))+`"`) {
		t.Error("the current session offers „Dort abmelden“; it has „Hier abmelden“")
	}

	raw := hash(there)
	for _, bad := range []string{sessionHandle(hash(foreign)), "", "zz", hexOf(raw[:8])} {
		w := serve(f.srv, "POST", "/account/sessions/revoke", url.Values{"session": {bad}}, here)
		if w.Code != http.StatusNotFound {
			t.Errorf("revoke %q: %d, want 404", bad, w.Code)
		}
	}
	if s, _ := f.store.GetSession(context.Background(), hash(foreign)); !s.RevokedAt.IsZero() {
		t.Fatal("anna ended bernd's session")
	}
	w = serve(f.srv, "POST", "/account/sessions/revoke", url.Values{"session": {thereHandle}}, here)
	if w.Code != http.StatusSeeOther || w.Header().Get("Location") != "/account?e=revoked" {
		t.Fatalf("revoke the other session: %d %s", w.Code, w.Body.String())
	}
	if s, _ := f.store.GetSession(context.Background(), hash(there)); s.RevokedAt.IsZero() {
		t.Error("the other session is not revoked")
	}
	evs, err := f.store.RecentAudit(context.Background(), "user:"+anna.ID, "session.revoke", 5)
	if err != nil || len(evs) != 1 || evs[0].Details["session"] != thereHandle || evs[0].Actor != "user:"+anna.ID {
		t.Errorf("audit of ending a session: %+v, %v", evs, err)
	}
	if w := serve(f.srv, "GET", "/account", nil, there); w.Code != http.StatusSeeOther {
		t.Errorf("the ended session still shows the account: %d", w.Code)
	}

	w = serve(f.srv, "POST", "/account/sessions/revoke", url.Values{"session": {sessionHandle(hash(here))}}, here)
	if w.Code != http.StatusSeeOther || !strings.HasPrefix(w.Header().Get("Location"), "/login?e=signedout") {
		t.Fatalf("revoke this session: %d → %s", w.Code, w.Header().Get("Location"))
	}
	if s, _ := f.store.GetSession(context.Background(), hash(here)); s.RevokedAt.IsZero() {
		t.Error("this session is not revoked")
	}
}

func hexOf(b []byte) string { return hex.EncodeToString(b) }
