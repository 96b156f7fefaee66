package web

import (
	"context"
	"strings"
	"testing"
	"time"

	cdpwebauthn "github.com/chromedp/cdproto/webauthn"
	"github.com/chromedp/chromedp"

	"github.com/keyhall/keyhall/authn"
	"github.com/keyhall/keyhall/enroll/citizens"
)

// lostPasskeyCitizen is a citizen (group buerger, verified address, no
// password) whose only factor is a passkey, signed in with it in a tab;
// then the passkey is lost (its authenticator removed).
func lostPasskeyCitizen(t *testing.T) (*fixture, *mailbox, *offsetClock, context.Context, authn.User, testKey) {
	t.Helper()
	f, mb, clock := recoverFixture(t)
	anna := f.addCitizen("anna@example.org", true, "buerger")
	k := newTestKey(t)
	f.addKey(anna, &k, 0)
	ctx := newTab(t)
	old := addAuthenticator(t, ctx, authenticatorOpts{uv: true})
	putKey(t, ctx, old, k, anna.ID, true, 0)
	run(t, ctx, "her passkey, without a username", chromedp.Navigate(f.base+"/login"), chromedp.WaitVisible(chromedp.ID("passkey")),
		chromedp.Click(chromedp.ID("passkey")), waitPath("/account"))
	if _, err := chromedp.Call(ctx, cdpwebauthn.RemoveVirtualAuthenticator, cdpwebauthn.RemoveVirtualAuthenticatorParams{AuthenticatorID: old}); err != nil {
		t.Fatal(err)
	}
	return f, mb, clock, ctx, anna, k
}

// recoverInBrowser asks for a link from /login, opens it in the same tab,
// starts the recovery and registers a new passkey; it returns the cancel
// link of the notice and the new passkey's authenticator.
func recoverInBrowser(t *testing.T, ctx context.Context, f *fixture, mb *mailbox, shotPrefix string) (string, cdpwebauthn.AuthenticatorID) {
	t.Helper()
	run(t, ctx, "sign-in page", chromedp.Navigate(f.base+"/login"), chromedp.WaitVisible(chromedp.ID("to-recover")))
	run(t, ctx, "to /recover", chromedp.Click(chromedp.ID("to-recover")), waitPath("/recover"), chromedp.WaitVisible(chromedp.ID("email")))
	shot(t, ctx, shotPrefix+"ask")
	run(t, ctx, "her address", chromedp.SendKeys(chromedp.ID("email"), "anna@example.org\r"), chromedp.WaitVisible(chromedp.ID("recover-sent")))
	shot(t, ctx, shotPrefix+"sent")
	_, mails := mb.wait(1)
	if len(mails) != 1 {
		t.Fatalf("%d mails, want the link", len(mails))
	}
	link := recoverLinkRE.FindString(mails[0])
	run(t, ctx, "the link", chromedp.Navigate(link), waitText("#recover-name", "Test anna@example.org"))
	shot(t, ctx, shotPrefix+"link")
	run(t, ctx, "start", chromedp.Click(chromedp.ID("recover-start")), waitText("h1", "Womit möchten Sie sich anmelden?"),
		waitText("#notice", "Sitzungen wurden beendet"))
	shot(t, ctx, shotPrefix+"choose")
	if n, err := f.store.ListUserSessions(context.Background(), mustUser(t, f, "anna@example.org").ID, time.Now()); err != nil || len(n) != 0 {
		t.Errorf("after the start she has %d sessions (%v), want none", len(n), err)
	}
	_, mails = mb.wait(1)
	if len(mails) != 1 || !cancelLinkRE.MatchString(mails[0]) {
		t.Fatalf("the notice with a cancel link: %q", mails)
	}
	auth := addAuthenticator(t, ctx, authenticatorOpts{uv: true})
	run(t, ctx, "choose the key", chromedp.Click(chromedp.ID("choose-key")), waitPath("/enroll/key"),
		chromedp.WaitVisible(chromedp.ID("register-key")), chromedp.SendKeys(chromedp.ID("nickname"), "Neues Handy"))
	run(t, ctx, "register the new passkey", chromedp.Click(chromedp.ID("register-key")), chromedp.WaitVisible(chromedp.ID("added-model")))
	return cancelLinkRE.FindString(mails[0]), auth
}

func mustUser(t *testing.T, f *fixture, username string) authn.User {
	t.Helper()
	u, err := f.store.GetUserByUsername(context.Background(), username)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// keyNames lists the nicknames of the person's keys and apps.
func keyNames(t *testing.T, f *fixture, userID string) string {
	t.Helper()
	creds, err := f.store.ListCredentials(context.Background(), userID)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, c := range creds {
		names = append(names, c.Nickname)
	}
	return strings.Join(names, ", ")
}

// passkeySignIn signs in with a passkey without a username and reports
// whether it led to /account: past the page about a pending recovery,
// when she has one, with its "continue".
func passkeySignIn(t *testing.T, ctx context.Context, f *fixture) bool {
	t.Helper()
	switch passkeySignInTo(t, ctx, f) {
	case "/account":
		return true
	case recoverPendingPath:
		shot(t, ctx, "recover-pending-signin")
		run(t, ctx, "on past the recovery's notice", chromedp.Click(chromedp.ID("recover-pending-continue")), waitPath("/account"))
		return true
	}
	return false
}

// passkeySignInTo signs in with a passkey without a username and returns
// the path it led to: /account, the page about a pending recovery, or ""
// when it failed.
func passkeySignInTo(t *testing.T, ctx context.Context, f *fixture) string {
	t.Helper()
	run(t, ctx, "sign-in page", chromedp.Navigate(f.base+"/login"), chromedp.WaitVisible(chromedp.ID("passkey")))
	run(t, ctx, "passkey", chromedp.Click(chromedp.ID("passkey")))
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		state, err := chromedp.Run(ctx, chromedp.Evaluate[string](`location.pathname + "|" + ((document.getElementById("error") || {}).innerText || "")`))
		if err != nil {
			continue
		}
		for _, p := range []string{"/account", recoverPendingPath} {
			if strings.HasPrefix(state, p+"|") {
				return p
			}
		}
		if p, msg, _ := strings.Cut(state, "|"); p == "/login" && msg != "" {
			return ""
		}
	}
	t.Fatal("the passkey sign-in neither succeeded nor failed")
	return ""
}

// TestRecoverBrowserJourney: a citizen whose only factor, a passkey, is
// lost recovers by mail in Chromium, enrolls a new passkey and signs in
// with it; /account offers the cancel. Her old passkey works until the
// recovery is due (72 h on the server's clock) and is removed then.
func TestRecoverBrowserJourney(t *testing.T) {
	f, mb, clock, ctx, anna, oldKey := lostPasskeyCitizen(t)
	_, newAuth := recoverInBrowser(t, ctx, f, mb, "recover-")
	// The ordinary enrollment goes on: a password (she has none), then
	// new recovery codes.
	choosePassword(t, ctx, "recover-")
	finishEnrollment(t, ctx, f, "recover-")

	if !passkeySignIn(t, ctx, f) {
		t.Fatal("the new passkey does not sign her in")
	}
	run(t, ctx, "the pending recovery on /account", waitText("#recovery-pending", "entfernt am"),
		chromedp.WaitVisible(chromedp.ID("account-recovery-cancel")))
	shot(t, ctx, "recover-account-pending")
	if got := keyNames(t, f, anna.ID); got != "YubiKey, Neues Handy" {
		t.Errorf("during the 72 hours she has %q, want her old and her new key", got)
	}

	// The periodic job, before and when the recovery is due.
	svc := f.srv.Citizens()
	clock.Add(citizens.RecoveryDelay - time.Hour)
	if n, err := svc.FinishRecoveries(context.Background()); err != nil || n != 0 {
		t.Fatalf("FinishRecoveries an hour early: %d, %v", n, err)
	}
	if got := keyNames(t, f, anna.ID); got != "YubiKey, Neues Handy" {
		t.Errorf("an hour before it is due she has %q", got)
	}
	clock.Add(time.Hour)
	if n, err := svc.FinishRecoveries(context.Background()); err != nil || n != 1 {
		t.Fatalf("FinishRecoveries when due: %d, %v", n, err)
	}
	if got := keyNames(t, f, anna.ID); got != "Neues Handy" {
		t.Errorf("after 72 hours she has %q, want the new key only", got)
	}
	if _, ok, err := svc.PendingRecovery(context.Background(), anna.ID); ok || err != nil {
		t.Errorf("a finished recovery is still pending (%v)", err)
	}
	// Her new passkey still signs her in; her old one, found again, no
	// longer does (its counter is ahead of the stored one: no clone).
	if !passkeySignIn(t, ctx, f) {
		t.Error("the new passkey does not sign her in after the recovery finished")
	}
	if _, err := chromedp.Call(ctx, cdpwebauthn.RemoveVirtualAuthenticator, cdpwebauthn.RemoveVirtualAuthenticatorParams{AuthenticatorID: newAuth}); err != nil {
		t.Fatal(err)
	}
	found := addAuthenticator(t, ctx, authenticatorOpts{uv: true})
	putKey(t, ctx, found, oldKey, anna.ID, true, 100)
	if passkeySignIn(t, ctx, f) {
		t.Error("the old passkey still signs her in after the recovery finished")
	}
}

// TestRecoverBrowserCancel: the notice's cancel link, opened in another
// browser, removes the recovery's new passkey and ends its session; her
// old passkey signs her in again.
func TestRecoverBrowserCancel(t *testing.T) {
	f, mb, _, ctx, anna, oldKey := lostPasskeyCitizen(t)
	cancelLink, _ := recoverInBrowser(t, ctx, f, mb, "recover-cancel-")
	choosePassword(t, ctx, "recover-cancel-")
	finishEnrollment(t, ctx, f, "recover-cancel-")
	if !passkeySignIn(t, ctx, f) {
		t.Fatal("the new passkey does not sign her in")
	}

	owner := newTab(t)
	run(t, owner, "the cancel link", chromedp.Navigate(cancelLink), chromedp.WaitVisible(chromedp.ID("recover-cancel")))
	shot(t, owner, "recover-cancel")
	run(t, owner, "cancel", chromedp.Click(chromedp.ID("recover-cancel")), chromedp.WaitVisible(chromedp.ID("recover-cancelled")))
	shot(t, owner, "recover-cancelled")
	if got := keyNames(t, f, anna.ID); got != "YubiKey" {
		t.Errorf("after the cancel she has %q, want her old key only", got)
	}
	run(t, ctx, "the recovery's session ended", chromedp.Navigate(f.base+"/account"), waitPath("/login"))
	run(t, owner, "the cancel link again", chromedp.Navigate(cancelLink), chromedp.Click(chromedp.ID("recover-cancel")),
		waitText("#notice", "bereits abgebrochen"))
	auth := addAuthenticator(t, owner, authenticatorOpts{uv: true})
	putKey(t, owner, auth, oldKey, anna.ID, true, 100) // ahead of the stored counter
	if !passkeySignIn(t, owner, f) {
		t.Error("her old passkey does not sign her in after the cancel")
	}
	events, err := f.store.ListAudit(context.Background(), authn.AuditFilter{Subject: "user:" + anna.ID, Limit: 200})
	if err != nil {
		t.Fatal(err)
	}
	var actions []string
	for _, e := range events {
		if strings.HasPrefix(e.Action, "recovery.") {
			actions = append(actions, e.Action)
		}
	}
	if got := strings.Join(actions, " "); got != "recovery.link recovery.start recovery.cancel" {
		t.Errorf("audited %q, want the link, the start and the cancel", got)
	}
}

// TestRecoverBrowserCancelFromAccount: during the 72 hours her old passkey
// still signs her in, /account offers the cancel, and cancelling there
// removes the recovery's passkey and ends its session and hers: she signs
// in again with her old passkey.
func TestRecoverBrowserCancelFromAccount(t *testing.T) {
	f, mb, _, ctx, anna, oldKey := lostPasskeyCitizen(t)
	recoverInBrowser(t, ctx, f, mb, "recover-account-")
	choosePassword(t, ctx, "recover-account-")
	finishEnrollment(t, ctx, f, "recover-account-")
	if !passkeySignIn(t, ctx, f) {
		t.Fatal("the new passkey does not sign her in")
	}

	owner := newTab(t)
	auth := addAuthenticator(t, owner, authenticatorOpts{uv: true})
	putKey(t, owner, auth, oldKey, anna.ID, true, 100)
	if !passkeySignIn(t, owner, f) {
		t.Fatal("her old passkey does not sign her in during the 72 hours")
	}
	run(t, owner, "cancel on /account", chromedp.WaitVisible(chromedp.ID("account-recovery-cancel")),
		chromedp.Click(chromedp.ID("account-recovery-cancel")), waitText("#notice", msgRecoverCancelled.DE))
	shot(t, owner, "recover-account-cancelled")
	if got := keyNames(t, f, anna.ID); got != "YubiKey" {
		t.Errorf("after the cancel she has %q, want her old key only", got)
	}
	run(t, ctx, "the recovery's session ended", chromedp.Navigate(f.base+"/account"), waitPath("/login"))
	// Hers ended too (every session since the recovery began does): she
	// signs in again with her old passkey.
	run(t, owner, "sign in again", chromedp.Click(chromedp.ID("recover-pending-continue")), waitPath("/login"))
	if !passkeySignIn(t, owner, f) {
		t.Fatal("her old passkey does not sign her in after the cancel")
	}
	if n, err := chromedp.Run(owner, chromedp.Evaluate[int](`document.querySelectorAll("#recovery-pending").length`)); err != nil || n != 0 {
		t.Errorf("/account still offers the cancel (%d, %v)", n, err)
	}
}

// TestBrowserCitizenEmailAndAppCode: a citizen whose only factor is an
// authenticator app, without a password, signs in with her e-mail address
// as username and the app's code.
func TestBrowserCitizenEmailAndAppCode(t *testing.T) {
	f, _, _ := recoverFixture(t)
	anna := f.addCitizen("anna@example.org", true, "buerger")
	secret := f.addTOTP(anna)
	ctx := newTab(t)
	startSignIn(t, ctx, f, "Anna@Example.org", "/login/totp")
	run(t, ctx, "the app's code", chromedp.SendKeys(chromedp.ID("code"), totpCode(t, secret)+"\r"), waitPath("/account"))
	shot(t, ctx, "citizen-app-account")
}

// TestRecoverBrowserCancelAtSignIn: during the 72 hours, her sign-in
// with her old passkey leads first to the page that says her account is
// being recovered; she cancels there and goes on.
func TestRecoverBrowserCancelAtSignIn(t *testing.T) {
	f, mb, _, ctx, anna, oldKey := lostPasskeyCitizen(t)
	recoverInBrowser(t, ctx, f, mb, "recover-signin-")
	choosePassword(t, ctx, "recover-signin-")
	finishEnrollment(t, ctx, f, "recover-signin-")

	owner := newTab(t)
	auth := addAuthenticator(t, owner, authenticatorOpts{uv: true})
	putKey(t, owner, auth, oldKey, anna.ID, true, 100)
	if got := passkeySignInTo(t, owner, f); got != recoverPendingPath {
		t.Fatalf("her sign-in during the recovery led to %q, want the page about it", got)
	}
	run(t, owner, "the page about the recovery", waitText("h1", "Ihr Konto wird gerade wiederhergestellt"))
	shot(t, owner, "recover-pending")
	run(t, owner, "cancel there", chromedp.Click(chromedp.ID("recover-pending-cancel")), waitText("#notice", msgRecoverCancelled.DE))
	shot(t, owner, "recover-pending-cancelled")
	if got := keyNames(t, f, anna.ID); got != "YubiKey" {
		t.Errorf("after the cancel she has %q, want her old key only", got)
	}
	run(t, owner, "sign in again", chromedp.Click(chromedp.ID("recover-pending-continue")), waitPath("/login"))
	run(t, ctx, "the recovery's session ended", chromedp.Navigate(f.base+"/account"), waitPath("/login"))
	if !passkeySignIn(t, owner, f) {
		t.Error("her old passkey does not sign her in after the cancel")
	}
}
