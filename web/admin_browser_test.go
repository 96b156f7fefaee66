package web

import (
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/keyhall/keyhall/authn"
)

// TestBrowserAdminFindCouncillor: helga of the helpdesk signs in with her
// hardware key (its attestation vouched for at registration) from the
// console's address, lands on the console, finds the councillor by
// "muller" by keyboard and opens her page, which shows the number for the
// call-back; an action eleven minutes after her sign-in asks for one key
// touch and leads back to the page.
func TestBrowserAdminFindCouncillor(t *testing.T) {
	c := newConsole(t)
	f := c.f
	k := newTestKey(t)
	f.addKey(c.helga, &k, 0)
	if _, err := f.store.DB().Exec("UPDATE credentials SET attested = TRUE WHERE id = $1", k.credID); err != nil {
		t.Fatal(err)
	}
	ctx := newTab(t)
	putKey(t, ctx, addAuthenticator(t, ctx, authenticatorOpts{uv: true}), k, c.helga.ID, false, 0)

	// Not signed in, the console is not there.
	run(t, ctx, "console, anonymous", chromedp.Navigate(f.base+"/admin"), waitText("#error", "Diese Seite gibt es nicht"))
	run(t, ctx, "sign-in", chromedp.Navigate(f.base+"/login?return_to=%2Fadmin"), chromedp.WaitVisible(chromedp.ID("username")),
		chromedp.SendKeys(chromedp.ID("username"), "helga\r"), waitPath("/login/key"),
		chromedp.Click(chromedp.ID("use-key")), waitPath("/admin"), waitText("#factors", "rat"))
	shot(t, ctx, "admin-overview")
	run(t, ctx, "search", chromedp.Click(chromedp.CSS(`nav.adminnav a[href="/admin/people"]`)), waitPath("/admin/people"),
		chromedp.WaitVisible(chromedp.ID("q")), chromedp.SendKeys(chromedp.ID("q"), "muller\r"),
		waitText("#people", "Renate Müller"))
	shot(t, ctx, "admin-people")
	// By keyboard: focus the first result's link and press Enter.
	run(t, ctx, "open her page", js(`document.querySelector("#people tbody a").focus()`),
		chromedp.SendKeys(chromedp.CSS("#people tbody a"), "\r"), waitPath("/admin/people/"+c.renate.ID),
		waitText("#phone", "+49 251 492-1234"), waitText("#groups", "rat"), waitText("#level", "phrh"))
	shot(t, ctx, "admin-person")
	heading, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.querySelector("main h1").innerText`))
	if err != nil || heading != "Renate Müller" {
		t.Errorf("the person page's heading is %q (%v)", heading, err)
	}
	// Eleven minutes later an action needs her key again, not a new
	// login: the key page, her name known; one touch leads back.
	stale := time.Now().Add(-11 * time.Minute).UnixMicro()
	if _, err := f.store.DB().Exec("UPDATE sessions SET auth_time = $1 WHERE user_id = $2", stale, c.helga.ID); err != nil {
		t.Fatal(err)
	}
	time.Sleep(authn.SessionCacheTTL + 100*time.Millisecond)
	run(t, ctx, "stale action", chromedp.SendKeys(chromedp.ID("reason-end"), "INC-4711\r"), waitPath("/login/key"),
		waitText("main", "helga"))
	run(t, ctx, "touch the key again", chromedp.Click(chromedp.ID("use-key")), waitPath("/admin/people/"+c.renate.ID),
		waitText("#phone", "+49 251 492-1234"))
	// Every form field has a name a screen reader reads out.
	unnamed, err := chromedp.Run(ctx, chromedp.Evaluate[string](`[...document.querySelectorAll("main input, main select")]
		.filter(e => e.type !== "hidden" && !(e.labels && e.labels.length) && !e.getAttribute("aria-label"))
		.map(e => e.outerHTML).join("\n")`))
	if err != nil || unnamed != "" {
		t.Errorf("fields without a label (%v):\n%s", err, unnamed)
	}
}
