package web

import (
	"context"
	_ "embed"
	"encoding/json"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// axeSource is axe-core (testdata/axe), the accessibility checker, for the
// tests only.
//
//go:embed testdata/axe/axe.min.js
var axeSource string

// axeViolation is one rule axe-core found broken on a page.
type axeViolation struct {
	ID     string   `json:"id"`
	Impact string   `json:"impact"`
	Help   string   `json:"help"`
	Nodes  []string `json:"nodes"`
}

// checkAccessible runs axe-core on the tab's page against WCAG 2.1 A and
// AA and fails the test for every violation, naming the page.
func checkAccessible(t *testing.T, ctx context.Context, page string) {
	t.Helper()
	// DevTools evaluation is not bound by the page's CSP, which allows no
	// script but Keyhall's own.
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[any](axeSource+";0")); err != nil {
		t.Fatalf("%s: load axe-core: %v", page, err)
	}
	out, err := chromedp.Run(ctx, chromedp.Evaluate[string](`axe.run(document, {
			runOnly: {type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]},
			resultTypes: ["violations"],
		}).then(r => JSON.stringify(r.violations.map(v => ({
			id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.map(n => n.html),
		}))))`, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatalf("%s: run axe-core: %v", page, err)
	}
	var vs []axeViolation
	if err := json.Unmarshal([]byte(out), &vs); err != nil {
		t.Fatalf("%s: axe-core's answer %q: %v", page, out, err)
	}
	for _, v := range vs {
		t.Errorf("%s: %s (%s, %s):\n\t%s", page, v.Help, v.ID, v.Impact, strings.Join(v.Nodes, "\n\t"))
	}
}

// TestPagesAccessible: axe-core finds no WCAG 2.1 A/AA violation on the
// pages a person sees on her way in and on her account.
func TestPagesAccessible(t *testing.T) {
	f, ctx, _, _ := userWithKey(t, authenticatorOpts{uv: false}, false)
	visit := func(path, sel string) {
		t.Helper()
		run(t, ctx, path, chromedp.Navigate(f.base+path), chromedp.WaitVisible(sel))
		checkAccessible(t, ctx, path)
	}
	visit("/login", "#username")
	visit("/enroll", "main")
	visit("/gibt-es-nicht", "main")
	startSignIn(t, ctx, f, "anna", "/login/key")
	checkAccessible(t, ctx, "/login/key")
	run(t, ctx, "touch the key", chromedp.Click(chromedp.ID("use-key")), waitPath("/login/password"))
	checkAccessible(t, ctx, "/login/password")
	run(t, ctx, "password", chromedp.SendKeys(chromedp.ID("password"), testPassword+"\r"), waitPath("/account"))
	checkAccessible(t, ctx, "/account")
	visit("/account/factors", "main")
}
