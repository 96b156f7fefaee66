package enroll_test

import (
	"strings"
	"testing"
	"time"

	"github.com/keyhall/keyhall/enroll"
)

// TestInvitationEnrollmentEnds: once her first factor used the invitation
// up, an invitation's enrollment ends InvitationEnrollTTL later, whatever
// its steps: a tab left open at a kiosk or a shared PC and kept alive
// adds no key (with a PIN, signing in as her) and shows no recovery codes
// after it. The refusal tells her to sign in and go on at /account.
func TestInvitationEnrollmentEnds(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	anna := f.user(t, "anna")
	pr := f.redeemOn(t, f.svc, anna)
	_, pr, err := f.register(t, pr.ID, keyReg{})
	must(t, err)
	if !pr.Consumed {
		t.Fatalf("first key did not use the invitation up: %+v", pr)
	}
	// Someone keeps the tab alive: one request every 29 minutes.
	var kept time.Duration
	for ; kept < 7*24*time.Hour; kept += 29 * time.Minute {
		f.clock.add(29 * time.Minute)
		next, err := f.svc.Current(ctx, pr.ID)
		if err != nil {
			wantReason(t, "an enrollment kept alive", err, enroll.ReasonExpired)
			e, _ := err.(*enroll.Error)
			if e == nil || !strings.Contains(e.DE, "/account") || !strings.Contains(e.EN, "/account") ||
				!strings.Contains(e.DE, "melden Sie sich") || !strings.Contains(e.EN, "sign in") {
				t.Errorf("the end of her enrollment says %v; want it to tell her to sign in and go on at /account", err)
			}
			break
		}
		pr = next
		if pr.ExpiresAt.After(f.clock.now().Add(enroll.IdleTTL)) {
			t.Fatalf("expires at %v, more than IdleTTL from now", pr.ExpiresAt)
		}
	}
	if kept+29*time.Minute > enroll.InvitationEnrollTTL+29*time.Minute || kept >= 7*24*time.Hour {
		t.Fatalf("an invitation's enrollment kept alive for %v after its first factor; want it ended after %v", kept+29*time.Minute, enroll.InvitationEnrollTTL)
	}
	if _, _, err := f.svc.BeginKey(ctx, pr.ID); !enroll.IsReason(err, enroll.ReasonExpired) {
		t.Errorf("a key after the end: %v; want refused (expired)", err)
	}
	if _, _, err := f.svc.ShowRecoveryCodes(ctx, pr.ID); !enroll.IsReason(err, enroll.ReasonExpired) {
		t.Errorf("her first recovery codes after the end: %v; want refused (expired)", err)
	}
}

// TestNewInvitationEndsOpenEnrollment: a new invitation for her (IT issues
// a letter because she lost access, or a reset) ends her enrollments left
// open, even one whose invitation was used a minute ago: whoever holds that
// tab adds nothing more.
func TestNewInvitationEndsOpenEnrollment(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	anna, bert := f.user(t, "anna"), f.user(t, "bert")
	pr := f.redeemOn(t, f.svc, anna)
	_, pr, err := f.register(t, pr.ID, keyReg{})
	must(t, err)
	prBert := f.redeemOn(t, f.svc, bert)
	f.clock.add(time.Minute)
	_, err = f.svc.Issue(ctx, anna.ID, 0, "cli:root", "lost her key")
	must(t, err)
	if _, err := f.svc.Current(ctx, pr.ID); !enroll.IsReason(err, enroll.ReasonExpired) {
		t.Errorf("her enrollment after a new invitation: %v; want ended", err)
	}
	if _, err := f.svc.Current(ctx, prBert.ID); err != nil {
		t.Errorf("another person's enrollment after a new invitation for anna: %v; want it open", err)
	}
}
