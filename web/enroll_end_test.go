package web

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/keyhall/keyhall/enroll"
)

// TestEnrollInvitationEnds: an hour after her first key used her
// invitation up, a browser left on the enrollment (a kiosk, a shared PC)
// adds nothing more: the next page, however the tab was kept alive (the
// password page, every 29 minutes), shows
// that the setup has ended and that she signs in and goes on at /account,
// in German first, then in English.
func TestEnrollInvitationEnds(t *testing.T) {
	for _, tc := range []struct{ lang, want string }{
		{"de", "melden Sie sich mit Ihrem Schlüssel oder Ihrer App an und fahren Sie unter /account fort"},
		{"en", "sign in with your key or app and continue at /account"},
	} {
		t.Run(tc.lang, func(t *testing.T) {
			clk := &testClock{t: time.Now()}
			f := newFixture(t, func(c *Config) { c.Now = clk.Now })
			f.withEnroll(enroll.Config{Policy: enroll.Policy{Default: enroll.DefaultKeyPolicy()}})
			anna := f.addUser("anna")
			b := f.enrollWithKey(t, f.invite(anna))
			for range 2 { // kept alive within IdleTTL
				clk.Add(29 * time.Minute)
				if res, body := b.get("/enroll/password"); res.StatusCode != http.StatusOK {
					t.Fatalf("the enrollment kept alive after her key: %d\n%s", res.StatusCode, body)
				}
			}
			clk.Add(enroll.InvitationEnrollTTL - 58*time.Minute)
			res, body := b.get("/enroll/password?lang=" + tc.lang)
			if res.StatusCode != http.StatusGone || !strings.Contains(body, tc.want) {
				t.Errorf("the enrollment %v after her first key: %d, want 410 saying %q\n%s",
					enroll.InvitationEnrollTTL, res.StatusCode, tc.want, body)
			}
			if status, options := b.beginKey(); status < 400 {
				t.Errorf("a key after the end: %d %s, want refused", status, options)
			}
		})
	}
}
