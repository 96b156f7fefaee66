package web

import (
	"context"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/keyhall/keyhall/authn"
	"github.com/keyhall/keyhall/enroll"
)

// TestBrowserAdminOverviewAuditLetters: adam the administrator signs in
// with his hardware key and reads the overview (a frozen account, a
// break-glass reset in red, a refused sign-in), checks the audit log's
// chain on the audit page, whose export links carry its filters, and
// opens the letters page; every page passes axe-core.
func TestBrowserAdminOverviewAuditLetters(t *testing.T) {
	c := newConsole(t, func(c *Config) {
		c.Desk.Sender = enroll.Sender{Name: "Stadt Münster", Address: []string{"IT", "48143 Münster"}, HelpPhone: "0251 492-0"}
	})
	f := c.f
	ctx := context.Background()
	if _, err := f.store.FreezeUser(ctx, c.nora.ID, time.Now(), f.audit("user.frozen")); err != nil {
		t.Fatal(err)
	}
	if err := f.store.AppendAudit(ctx, authn.AuditEvent{Time: time.Now().Add(-time.Hour), Actor: "cli:root", Action: "user.reset",
		Subject: "user:" + c.renate.ID, Reason: "Rat tagt in einer Stunde", Details: map[string]string{"break_glass": "true"}}); err != nil {
		t.Fatal(err)
	}
	k := newTestKey(t)
	f.addKey(c.adam, &k, 0)
	if _, err := f.store.DB().Exec("UPDATE credentials SET attested = TRUE WHERE id = $1", k.credID); err != nil {
		t.Fatal(err)
	}
	tab := newTab(t)
	putKey(t, tab, addAuthenticator(t, tab, authenticatorOpts{uv: true}), k, c.adam.ID, false, 0)
	run(t, tab, "sign-in", chromedp.Navigate(f.base+"/login?return_to=%2Fadmin"), chromedp.WaitVisible(chromedp.ID("username")),
		chromedp.SendKeys(chromedp.ID("username"), "adam\r"), waitPath("/login/key"),
		chromedp.Click(chromedp.ID("use-key")), waitPath("/admin"), waitText("#frozen", "nora"))
	run(t, tab, "overview", waitText("#resets .danger", "Notfall-Zurücksetzung"))
	shot(t, tab, "admin-overview-frozen")
	run(t, tab, "audit page", chromedp.Click(chromedp.CSS(`nav.adminnav a[href="/admin/audit"]`)), waitPath("/admin/audit"),
		chromedp.WaitVisible(chromedp.ID("f-action")))
	// The filtered page, loaded (its events look like the unfiltered ones').
	run(t, tab, "filter", chromedp.Navigate(f.base+"/admin/audit?action=user"), waitText("#events", "user.frozen"),
		waitText("#export", "CSV"))
	href, err := chromedp.Run(tab, chromedp.Evaluate[string](`document.querySelector("#export a").getAttribute("href")`))
	if err != nil || href != "/admin/audit/export?format=csv&action=user&actor=&from=&person=&to=" {
		t.Errorf("the CSV export link is %q (%v), want the page's filters", href, err)
	}
	run(t, tab, "chain check", chromedp.Click(chromedp.CSS(`#chain-form button`)), waitText("#chain", "Kette intakt"))
	shot(t, tab, "admin-audit-chain")
	run(t, tab, "letters page", chromedp.Click(chromedp.CSS(`nav.adminnav a[href="/admin/letters"]`)), waitPath("/admin/letters"),
		chromedp.WaitVisible(chromedp.ID("letters-group")), waitText("#letters-group", "rat"))
	shot(t, tab, "admin-letters")
}
