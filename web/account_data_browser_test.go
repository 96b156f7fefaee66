package web

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/keyhall/keyhall/authn"
	"github.com/keyhall/keyhall/enroll/citizens"
)

// dataFixture is a server whose clock the test can move (to let a sign-in
// grow older than citizens.ConfirmWithin).
func dataFixture(t *testing.T) (*fixture, *testClock) {
	clk := &testClock{t: time.Now()}
	f := newFixture(t, func(c *Config) { c.Now = clk.Now })
	return f, clk
}

// downloadData fetches /account/data.json in the tab, as the link does,
// and checks it holds the credential credID and the tab's session.
func downloadData(t *testing.T, ctx context.Context, f *fixture, u authn.User, credID string) {
	t.Helper()
	href, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.querySelector("#data-download").getAttribute("href")`))
	if err != nil || href != "/account/data.json" {
		t.Fatalf("the download link leads to %q (%v)", href, err)
	}
	body, err := chromedp.Run(ctx, chromedp.Evaluate[string](`fetch("/account/data.json").then(r => r.text())`, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatalf("download her data: %v", err)
	}
	d := decodeData(t, body)
	h, ok := sessionCookieHash(cookie(t, ctx, f, SessionCookie))
	if !ok {
		t.Fatal("no session cookie in the tab")
	}
	if d.Profile.ID != u.ID || !slices.ContainsFunc(d.Factors, func(x citizens.Factor) bool {
		return x.ID == credID
	}) {
		t.Errorf("her data (%s) lacks her factor %s:\n%s", d.Profile.ID, credID, body)
	}
	var current bool
	for _, s := range d.Sessions {
		current = current || s.ID == h.Handle()
	}
	if !current {
		t.Errorf("her data lacks the session of this tab (%s):\n%s", h.Handle(), body)
	}
}

// deleteAccount goes from /account to the deletion page, confirms with
// confirm (a key touch or an app code on the sign-in page it leads to),
// deletes, and checks she is signed out and gone.
func deleteAccount(t *testing.T, ctx context.Context, f *fixture, u authn.User, confirmPath string, confirm ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	run(t, ctx, "deletion page", chromedp.Navigate(f.base+"/account"), chromedp.WaitVisible(chromedp.ID("delete-account")),
		chromedp.Click(chromedp.ID("delete-account")), waitPath("/account/delete"), chromedp.WaitVisible(chromedp.ID("delete-confirm")))
	shot(t, ctx, "account-delete-"+u.Username)
	run(t, ctx, "confirm", chromedp.Click(chromedp.ID("delete-confirm")), waitPath(confirmPath))
	run(t, ctx, "confirm", append(confirm, waitPath("/account/delete"), chromedp.WaitVisible(chromedp.ID("delete-now")))...)
	shot(t, ctx, "account-delete-now-"+u.Username)
	run(t, ctx, "delete", chromedp.Click(chromedp.ID("delete-now")), waitPath("/account/deleted"),
		waitText("h1", "Ihr Konto wurde gelöscht"))
	shot(t, ctx, "account-deleted")
	if cookie(t, ctx, f, SessionCookie) != "" {
		t.Error("the session cookie is still set after the deletion")
	}
	if _, err := f.store.GetUser(context.Background(), u.ID); !errors.Is(err, authn.ErrNotFound) {
		t.Errorf("%s after her deletion: %v", u.Username, err)
	}
	run(t, ctx, "her account page", chromedp.Navigate(f.base+"/account"), waitPath("/login"))
}

// TestBrowserDataAndDeleteWithKey: a person with a key signs in, sees and
// downloads her data (her key and this session in it), deletes her
// account with a key touch, is signed out, and her key no longer signs in.
func TestBrowserDataAndDeleteWithKey(t *testing.T) {
	f, clk := dataFixture(t)
	anna := f.withEmail(f.addUser("anna"), "anna@stadt.example")
	f.addGroup(t, "buerger", anna)
	k := newTestKey(t)
	f.addKey(anna, &k, 0)
	ctx := newTab(t)
	putKey(t, ctx, addAuthenticator(t, ctx, authenticatorOpts{uv: true}), k, anna.ID, true, 0)
	startSignIn(t, ctx, f, "anna", "/login/key")
	run(t, ctx, "key", chromedp.Click(chromedp.ID("use-key")), waitPath("/account"), waitText("#your-data", "anna@stadt.example"))
	shot(t, ctx, "account-data")
	downloadData(t, ctx, f, anna, k.credID)

	clk.Add(6 * time.Minute) // her sign-in no longer confirms a deletion
	deleteAccount(t, ctx, f, anna, "/login/key", chromedp.Click(chromedp.ID("use-key")))
	run(t, ctx, "her passkey again", chromedp.Navigate(f.base+"/login"), chromedp.WaitVisible(chromedp.ID("passkey")),
		chromedp.Click(chromedp.ID("passkey")), waitText("#error", msgKeyRefused.DE))
	if cookie(t, ctx, f, SessionCookie) != "" {
		t.Error("her key signed her in after the deletion")
	}
}

// TestBrowserDataAndDeleteWithApp: a person with only an app (and the
// password a local person's app needs) confirms the deletion with a
// current code, and cannot sign in with it afterwards.
func TestBrowserDataAndDeleteWithApp(t *testing.T) {
	f, clk := dataFixture(t)
	bert := f.addUser("bert")
	f.addGroup(t, "buerger", bert)
	secret := f.addTOTP(bert)
	f.setPassword(bert, testPassword)
	creds, err := f.store.ListCredentials(context.Background(), bert.ID)
	if err != nil || len(creds) != 1 {
		t.Fatal(creds, err)
	}
	code := func() string {
		c, err := authn.TOTPCode(secret, clk.Now())
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	ctx := newTab(t)
	startSignIn(t, ctx, f, "bert", "/login/totp")
	run(t, ctx, "app code", chromedp.SendKeys(chromedp.ID("code"), code()+"\r"), waitPath("/login/password"),
		chromedp.SendKeys(chromedp.ID("password"), testPassword+"\r"), waitPath("/account"),
		chromedp.WaitVisible(chromedp.ID("your-data")))
	downloadData(t, ctx, f, bert, creds[0].ID)

	clk.Add(6 * time.Minute)
	deleteAccount(t, ctx, f, bert, "/login/totp", chromedp.SendKeys(chromedp.ID("code"), code()+"\r"),
		waitPath("/login/password"), chromedp.SendKeys(chromedp.ID("password"), testPassword+"\r"))
	clk.Add(time.Minute) // a new code, not the one used
	run(t, ctx, "username again", chromedp.Navigate(f.base+"/login"), chromedp.WaitVisible(chromedp.ID("username")),
		chromedp.SendKeys(chromedp.ID("username"), "bert\r"), chromedp.WaitVisible(`form[action="/login/switch"]`))
	// An unknown name gets the sign-in a person would (key or app): to the
	// app, and her code is wrong now.
	if loc, _ := chromedp.Run(ctx, chromedp.Location()); !strings.HasSuffix(loc, "/login/totp") {
		run(t, ctx, "to the app", chromedp.Click(`button[value="totp"]`), waitPath("/login/totp"))
	}
	run(t, ctx, "a code again", chromedp.SendKeys(chromedp.ID("code"), code()+"\r"), waitPath("/login/totp"),
		waitText("#error", msgCodeWrong.DE))
	if cookie(t, ctx, f, SessionCookie) != "" {
		t.Error("her app signed her in after the deletion")
	}
}
