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
	"github.com/keyhall/keyhall/enroll/citizens"
)

// TestRecoverThiefCancelEndsHisSession (review of #15): a thief of her
// mailbox recovers her account, enrolls a key, signs in with it and
// cancels the recovery himself, from the page after a sign-in or from
// /account. The cancel must end his session too: were it kept, nothing
// would be pending any more to hold her old key, and he would add his
// own and remove hers. Her cancel link from the notice then says the
// recovery is cancelled already, not that an attacker used it.
func TestRecoverThiefCancelEndsHisSession(t *testing.T) {
	for _, route := range []struct{ name, path string }{
		{"after sign-in", recoverPendingPath + "/cancel"},
		{"account", "/account/recovery/cancel"},
	} {
		t.Run(route.name, func(t *testing.T) {
			f, mb, _ := recoverFixture(t)
			anna := f.addCitizen("anna@example.org", true, "buerger")
			oldKey, newKey := newTestKey(t), newTestKey(t)
			f.addKey(anna, &oldKey, 0)
			asker := f.client()
			f.askRecovery(asker, "anna@example.org")
			_, mails := mb.wait(1)
			if res, body := asker.form(strings.TrimPrefix(recoverLinkRE.FindString(mails[0]), f.base), url.Values{}); res.StatusCode != http.StatusOK {
				t.Fatalf("start: %d\n%s", res.StatusCode, body)
			}
			_, mails = mb.wait(2)
			cancelLink := cancelLinkRE.FindString(strings.Join(mails, "\n"))
			if cancelLink == "" {
				t.Fatalf("no cancel link in %q", mails)
			}
			time.Sleep(2 * time.Millisecond) // the new key is made after the cut
			f.addKey(anna, &newKey, 0)
			stolen := f.sessionCookie(anna, time.Now(), false) // signed in with the new key
			thief := f.browser(stolen)

			res, body := thief.form(route.path, url.Values{"return_to": {"/account"}})
			if res.StatusCode != http.StatusOK || !strings.Contains(body, msgRecoverCancelled.DE) ||
				!strings.Contains(body, "erneut mit Ihrem bisherigen Schlüssel oder Ihrer App an") ||
				!strings.Contains(body, `href="/login?return_to=%2Faccount"`) {
				t.Fatalf("the cancel: %d\n%s", res.StatusCode, body)
			}
			if got := keyNames(t, f, anna.ID); got != "YubiKey" {
				t.Errorf("after the cancel she has %q, want her old key only", got)
			}
			// He kept the cookie's value: the session behind it has ended.
			thief = f.browser(stolen)
			if res, _ := thief.get("/account"); res.StatusCode == http.StatusOK {
				t.Errorf("the thief's session outlives his cancel: GET /account %d", res.StatusCode)
			}
			if res, _ := thief.form("/account/factors/add", url.Values{"kind": {"key"}}); res.StatusCode == http.StatusOK ||
				(res.StatusCode == http.StatusSeeOther && !strings.HasPrefix(res.Header.Get("Location"), "/login")) {
				t.Errorf("the thief adds a key after his cancel: %d to %q", res.StatusCode, res.Header.Get("Location"))
			}
			thief.form("/account/factors/remove", url.Values{"id": {oldKey.credID}, "confirm": {"yes"}})
			if got := keyNames(t, f, anna.ID); got != "YubiKey" {
				t.Errorf("after the thief tried on she has %q, want her old key only", got)
			}

			// Her cancel link from the notice: cancelled already, said plainly.
			owner := f.client()
			res, body = owner.form(strings.TrimPrefix(cancelLink, f.base), url.Values{})
			if res.StatusCode != http.StatusOK || !strings.Contains(body, "bereits abgebrochen") || !strings.Contains(body, `id="recover-cancelled"`) {
				t.Errorf("her cancel link after his cancel: %d\n%s", res.StatusCode, body)
			}
			if got := keyNames(t, f, anna.ID); got != "YubiKey" {
				t.Errorf("in the end she has %q, want her old key only", got)
			}
		})
	}
}

// TestRecoverCancelAfterFinish (second review of #15): her /account page,
// opened before the 72 hours ran out, cancels after the recovery finished.
// Her old factors are gone by then: she must keep her session and be told
// that nothing was cancelled, not be signed out and sent to sign in with
// what no longer exists.
func TestRecoverCancelAfterFinish(t *testing.T) {
	f, mb, clock := recoverFixture(t)
	anna := f.addCitizen("anna@example.org", true, "buerger")
	oldKey, newKey := newTestKey(t), newTestKey(t)
	f.addKey(anna, &oldKey, 0)
	asker := f.client()
	f.askRecovery(asker, "anna@example.org")
	_, mails := mb.wait(1)
	if res, body := asker.form(strings.TrimPrefix(recoverLinkRE.FindString(mails[0]), f.base), url.Values{}); res.StatusCode != http.StatusOK {
		t.Fatalf("start: %d\n%s", res.StatusCode, body)
	}
	time.Sleep(2 * time.Millisecond) // the new key is made after the cut
	f.addKey(anna, &newKey, 0)
	clock.Add(citizens.RecoveryDelay + time.Minute)
	if n, err := f.srv.Citizens().FinishRecoveries(t.Context()); err != nil || n != 1 {
		t.Fatalf("FinishRecoveries: %d, %v", n, err)
	}
	for _, path := range []string{recoverPendingPath + "/cancel", "/account/recovery/cancel"} {
		id := make([]byte, 32)
		rand.Read(id)
		now := clock.Now() // the server's time, 72 hours on
		if err := f.store.CreateSession(t.Context(), authn.Session{Hash: authn.HashSessionID(id), UserID: anna.ID,
			AMR: []string{"hwk", "mfa"}, ACR: "phrh", AuthTime: now, CreatedAt: now, LastSeenAt: now, ExpiresAt: now.Add(time.Hour)}); err != nil {
			t.Fatal(err)
		}
		c := f.browser(&http.Cookie{Name: SessionCookie, Value: base64.RawURLEncoding.EncodeToString(id)})
		res, body := c.form(path, url.Values{"return_to": {"/account"}})
		if res.StatusCode != http.StatusConflict || !strings.Contains(body, "läuft keine Wiederherstellung mehr") {
			t.Errorf("%s after the recovery finished: %d\n%s", path, res.StatusCode, body)
		}
		for _, ck := range res.Cookies() {
			if ck.Name == SessionCookie && ck.MaxAge < 0 {
				t.Errorf("%s after the recovery finished cleared her session cookie", path)
			}
		}
		if res, _ := c.get("/account"); res.StatusCode != http.StatusOK {
			t.Errorf("after %s her session has ended: GET /account %d", path, res.StatusCode)
		}
	}
}
