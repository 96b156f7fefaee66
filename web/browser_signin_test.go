package web

import (
	"context"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/keyhall/keyhall/authn"
)

const testPassword = "Rathaus am Markt 1"

// startSignIn types the username on /login and presses Enter.
func startSignIn(t *testing.T, ctx context.Context, f *fixture, username, wantPath string) {
	t.Helper()
	run(t, ctx, "username", chromedp.Navigate(f.base+"/login"), chromedp.WaitVisible(chromedp.ID("username")),
		chromedp.SendKeys(chromedp.ID("username"), username+"\r"), waitPath(wantPath))
}

// userWithKey makes anna with a password and a security key, and puts the
// key into a virtual authenticator in a new tab.
func userWithKey(t *testing.T, o authenticatorOpts, resident bool) (*fixture, context.Context, authn.User, testKey) {
	t.Helper()
	f := newFixture(t)
	anna := f.addUser("anna")
	f.setPassword(anna, testPassword)
	k := newTestKey(t)
	f.addKey(anna, &k, 0)
	ctx := newTab(t)
	auth := addAuthenticator(t, ctx, o)
	putKey(t, ctx, auth, k, anna.ID, resident, 0)
	return f, ctx, anna, k
}

func TestBrowserKeyAndPassword(t *testing.T) {
	f, ctx, _, k := userWithKey(t, authenticatorOpts{uv: false}, false)
	run(t, ctx, "login page", chromedp.Navigate(f.base+"/login"), chromedp.WaitVisible(chromedp.ID("username")))
	shot(t, ctx, "login")
	startSignIn(t, ctx, f, "anna", "/login/key")
	run(t, ctx, "key page", chromedp.WaitVisible(chromedp.ID("use-key")))
	shot(t, ctx, "key")
	// A tablet held upright: nothing wider than the screen, every target ≥ 44 px.
	small, err := chromedp.Run(ctx, chromedp.Evaluate[string](`[...document.querySelectorAll("button, input, main a, header a")]
		.filter(e => e.offsetParent && e.type !== "hidden" && !e.classList.contains("skip"))
		.filter(e => e.getBoundingClientRect().height < 44)
		.map(e => e.outerHTML).join("\n")`))
	if err != nil || small != "" {
		t.Errorf("targets smaller than 44 px (%v):\n%s", err, small)
	}
	wide, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`document.documentElement.scrollWidth > window.innerWidth`))
	if err != nil || wide {
		t.Errorf("the key page scrolls sideways (%v)", err)
	}
	run(t, ctx, "touch the key", chromedp.Click(chromedp.ID("use-key")), waitPath("/login/password"))
	run(t, ctx, "password", chromedp.SendKeys(chromedp.ID("password"), testPassword+"\r"), waitPath("/account"),
		waitText("dl.facts", "Sicherheitsschlüssel und Passwort"), waitText("dl.facts", "hoch: sicher gegen Phishing"))
	shot(t, ctx, "account")
	// Chromium's virtual key attests itself: no trusted root vouches for
	// it, so it is no hardware key (phrh), though its backup-eligible flag
	// is clear.
	if facts, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.querySelector("dl.facts").innerText`)); err != nil ||
		strings.Contains(facts, "Hardware") || strings.Contains(facts, "höchste") {
		t.Errorf("the virtual key's sign-in (%v):\n%s\nwant phr, not a hardware key", err, facts)
	}
	c, err := f.store.GetCredentialByWebAuthnID(context.Background(), k.id)
	if err != nil || c.SignCount == 0 || c.LastUsedAt.IsZero() {
		t.Errorf("the key's use was not recorded: %+v, %v", c, err)
	}
	if cookie(t, ctx, f, PendingCookie) != "" {
		t.Error("the pending sign-in cookie outlived the sign-in")
	}
}

func TestBrowserKeyWithPIN(t *testing.T) {
	f, ctx, _, _ := userWithKey(t, authenticatorOpts{uv: true}, false)
	startSignIn(t, ctx, f, "anna", "/login/key")
	// By keyboard: the button has the focus; Enter presses it.
	focused, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.activeElement.id`))
	if err != nil || focused != "use-key" {
		t.Errorf("focus on the key page is on %q, want the key button (%v)", focused, err)
	}
	run(t, ctx, "Enter on the key button", chromedp.SendKeys(chromedp.ID("use-key"), "\r"), waitPath("/account"),
		waitText("dl.facts", "Sicherheitsschlüssel mit PIN oder Fingerabdruck"))
}

func TestBrowserPasskeyWithoutUsername(t *testing.T) {
	f, ctx, _, _ := userWithKey(t, authenticatorOpts{uv: true}, true)
	run(t, ctx, "passkey", chromedp.Navigate(f.base+"/login?return_to=%2Fapi%2Fsession"),
		chromedp.WaitVisible(chromedp.ID("passkey")), chromedp.Click(chromedp.ID("passkey")),
		waitPath("/api/session"), waitText("body", `"preferred_username":"anna"`))
}

func TestBrowserUnregisteredKeyRefused(t *testing.T) {
	f := newFixture(t)
	anna := f.addUser("anna")
	ctx := newTab(t)
	auth := addAuthenticator(t, ctx, authenticatorOpts{uv: true})
	putKey(t, ctx, auth, newTestKey(t), anna.ID, true, 0) // in the authenticator, not in Keyhall
	run(t, ctx, "passkey", chromedp.Navigate(f.base+"/login"), chromedp.WaitVisible(chromedp.ID("passkey")),
		chromedp.Click(chromedp.ID("passkey")), waitText("#error", msgKeyRefused.DE))
	if cookie(t, ctx, f, SessionCookie) != "" {
		t.Fatal("an unregistered key gave a session")
	}
}

func TestBrowserClonedKeyRefusedAndFlagged(t *testing.T) {
	f := newFixture(t)
	anna := f.addUser("anna")
	k := newTestKey(t)
	f.addKey(anna, &k, 100) // Keyhall has seen count 100; the "clone" is at 5
	ctx := newTab(t)
	auth := addAuthenticator(t, ctx, authenticatorOpts{uv: true})
	putKey(t, ctx, auth, k, anna.ID, false, 5)
	startSignIn(t, ctx, f, "anna", "/login/key")
	run(t, ctx, "touch the clone", chromedp.Click(chromedp.ID("use-key")), waitText("#error", msgKeyCloned.DE))
	shot(t, ctx, "key-refused")
	c, err := f.store.GetCredentialByWebAuthnID(context.Background(), k.id)
	if err != nil || !c.Cloned {
		t.Fatalf("the key is not flagged as cloned: %+v, %v", c, err)
	}
	events, err := f.store.ListAudit(context.Background(), authn.AuditFilter{Subject: "user:" + anna.ID, Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, e := range events {
		found = found || e.Action == "credential.cloned"
	}
	if !found {
		t.Error("no audit event for the cloned key")
	}
	if cookie(t, ctx, f, SessionCookie) != "" {
		t.Fatal("a cloned key gave a session")
	}
}
