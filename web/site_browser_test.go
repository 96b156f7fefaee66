package web

import (
	"net/url"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/keyhall/keyhall/enroll"
)

// TestBrowserSite: with the city's name, logo and colour, Chromium draws
// the header in the city's colour with its logo, axe finds the app page
// accessible (the colour's contrast included), and the link that opens
// the authenticator app names the city as the app entry's issuer, as the
// page does.
func TestBrowserSite(t *testing.T) {
	f := newFixture(t, withTestSite)
	f.withEnroll(enroll.Config{Policy: enroll.Policy{Default: enroll.DefaultKeyPolicy()}})
	anna := f.addUser("anna")
	f.setPassword(anna, "annas langes Passwort")
	inv := f.invite(anna)
	ctx := newTab(t)
	run(t, ctx, "code form", chromedp.Navigate(f.base+"/enroll"), chromedp.WaitVisible(chromedp.ID("username")))
	if want := "Willkommen bei „" + testSiteName + "“."; !strings.Contains(strings.Join(pageTexts(t, ctx, "main p"), " "), want) {
		t.Errorf("the enrollment page does not say %q", want)
	}
	run(t, ctx, "enroll", chromedp.SendKeys(chromedp.ID("username"), "anna"), chromedp.SendKeys(chromedp.ID("code"), inv.Code),
		chromedp.Click(chromedp.ID("enroll-start")), chromedp.WaitVisible(chromedp.ID("choose-app")))
	run(t, ctx, "choose the app", chromedp.Click(chromedp.ID("choose-app")), chromedp.WaitVisible(chromedp.ID("totp-secret")))
	shot(t, ctx, "site-enroll-app")

	_, href := appSecret(t, ctx)
	u, err := url.Parse(href)
	if err != nil || u.Scheme != "otpauth" {
		t.Fatalf("the link to open the app: %q", href)
	}
	// RFC 6238 key URI: otpauth://totp/ISSUER:ACCOUNT?issuer=ISSUER&…
	if u.Query().Get("issuer") != testSiteName || u.Path != "/"+testSiteName+":anna" {
		t.Errorf("the app's entry: issuer %q, label %q; want %q and %q", u.Query().Get("issuer"), u.Path, testSiteName, "/"+testSiteName+":anna")
	}

	style, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`[getComputedStyle(document.querySelector("header.top")).backgroundColor,
		getComputedStyle(document.getElementById("confirm-app")).backgroundColor,
		String(document.getElementById("site-logo").naturalWidth)]`))
	if err != nil {
		t.Fatal(err)
	}
	// #a4161a
	if style[0] != "rgb(164, 22, 26)" || style[1] != "rgb(164, 22, 26)" || style[2] != "40" {
		t.Errorf("header, button, logo width: %q; want the site's colour rgb(164, 22, 26) and the 40 px logo drawn", style)
	}
	if got := pageTexts(t, ctx, "#site-name"); len(got) != 1 || got[0] != testSiteName {
		t.Errorf("the header's name: %q", got)
	}
}
