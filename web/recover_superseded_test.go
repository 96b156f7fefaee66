package web

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/keyhall/keyhall/authn"
)

// TestRecoverSupersededCancelLink (review of #15): a second recovery begun
// while the first is pending supersedes it. The first notice's cancel link
// is the one she has: it must stop the takeover that goes on (the second
// recovery), say so, and end every session since the first began; it must
// not answer "ended already".
func TestRecoverSupersededCancelLink(t *testing.T) {
	f, mb, _ := recoverFixture(t)
	anna := f.addCitizen("anna@example.org", true, "buerger")
	oldKey, thiefKey := newTestKey(t), newTestKey(t)
	f.addKey(anna, &oldKey, 0)
	recoverOnce := func() string {
		t.Helper()
		asker := f.client()
		f.askRecovery(asker, "anna@example.org")
		_, mails := mb.wait(1)
		if res, body := asker.form(strings.TrimPrefix(recoverLinkRE.FindString(strings.Join(mails, "\n")), f.base), url.Values{}); res.StatusCode != http.StatusOK {
			t.Fatalf("start: %d\n%s", res.StatusCode, body)
		}
		_, mails = mb.wait(1)
		cancelLink := cancelLinkRE.FindString(strings.Join(mails, "\n"))
		if cancelLink == "" {
			t.Fatalf("no cancel link in %q", mails)
		}
		return strings.TrimPrefix(cancelLink, f.base)
	}
	first := recoverOnce()
	time.Sleep(2 * time.Millisecond)
	earlier := f.sessionCookie(anna, time.Now(), false) // signed in during the first
	second := recoverOnce()                             // the thief asks again: the first is superseded
	time.Sleep(2 * time.Millisecond)                    // his key is made after the cut
	f.addKey(anna, &thiefKey, 0)
	stolen := f.sessionCookie(anna, time.Now(), false)

	owner := f.client()
	res, body := owner.form(first, url.Values{})
	if res.StatusCode != http.StatusOK || !strings.Contains(body, `id="recover-cancelled"`) ||
		!strings.Contains(body, "durch eine neuere ersetzt worden") || !strings.Contains(body, "Die neuere ist jetzt abgebrochen") ||
		strings.Contains(body, "schon beendet") {
		t.Fatalf("the first notice's cancel link while the second recovery is pending: %d\n%s", res.StatusCode, body)
	}
	if got := keyNames(t, f, anna.ID); got != "YubiKey" {
		t.Errorf("after the cancel she has %q, want her old key only", got)
	}
	if _, err := f.store.PendingRecovery(t.Context(), anna.ID); err == nil {
		t.Error("a recovery is still pending after the first notice's cancel link")
	}
	for name, ck := range map[string]*http.Cookie{"during the first recovery": earlier, "the thief's": stolen} {
		if res, _ := f.browser(ck).get("/account"); res.StatusCode == http.StatusOK {
			t.Errorf("the session signed in %s outlives the cancel: GET /account %d", name, res.StatusCode)
		}
	}
	events, err := f.store.ListAudit(t.Context(), authn.AuditFilter{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	cancels := 0
	for _, e := range events {
		if e.Action == "recovery.cancel" {
			cancels++
			if e.Details["superseded_recovery_id"] == "" || e.Details["via"] != "notice" {
				t.Errorf("the cancel is audited as %+v, want the superseded recovery named", e)
			}
		}
	}
	if cancels != 1 {
		t.Errorf("%d recovery.cancel events, want 1", cancels)
	}

	// The chain is cancelled now: both links answer as before.
	res, body = owner.form(first, url.Values{})
	if res.StatusCode == http.StatusOK || !strings.Contains(body, msgRecoverCancelUsed.DE) {
		t.Errorf("the first link again: %d\n%s", res.StatusCode, body)
	}
	res, body = owner.form(second, url.Values{})
	if res.StatusCode != http.StatusOK || !strings.Contains(body, "bereits abgebrochen") {
		t.Errorf("the second link after: %d\n%s", res.StatusCode, body)
	}
}
