package web

import (
	"log/slog"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/keyhall/keyhall/enroll"
	"github.com/keyhall/keyhall/ldapsync"
	"github.com/keyhall/keyhall/ldapsync/ldaptest"
)

// TestDirectoryPersonJourney (#13): a person of a real directory (slapd),
// synced into Keyhall without factors, gets an invitation from IT; in
// Chromium she opens the link, proves herself with her directory password
// (a bind as her; a wrong one is refused), registers a security key, and
// signs in with the key and her directory password.
func TestDirectoryPersonJourney(t *testing.T) {
	s := ldaptest.StartSlapd(t, ldaptest.SlapdOptions{LDIF: peopleLDIF(func(uid string) string { return uid + " Beispiel" },
		func(uid string) string { return "Verz-" + uid + "-2026!" }, "lena", "s0", "s1")})
	dir := stadtDirectory(s)
	v, err := ldapsync.NewVerifier([]ldapsync.Config{dir}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { v.Close() })
	f := newFixture(t, func(c *Config) { c.SignIn.Directory, c.SignIn.DirectoryStatus = v, v })
	f.withEnroll(enroll.Config{Policy: enroll.Policy{Default: enroll.DefaultKeyPolicy()}, Directory: v})
	syncer, err := ldapsync.NewSyncer(ldapsync.SyncConfig{Store: f.store, Directory: dir, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := syncer.Run(t.Context(), ldapsync.RunOptions{}); err != nil {
		t.Fatal(err)
	}
	lena, err := f.store.GetUserByUsername(t.Context(), "lena")
	if err != nil {
		t.Fatal(err)
	}
	inv := f.invite(lena) // what `keyhall admin invite lena` calls

	ctx := newTab(t)
	auth := addAuthenticator(t, ctx, authenticatorOpts{uv: true})
	run(t, ctx, "invitation link", chromedp.Navigate(inv.Link), chromedp.WaitVisible(chromedp.ID("password")))
	run(t, ctx, "a wrong directory password", chromedp.SendKeys(chromedp.ID("password"), "Verz-s0-2026!"),
		chromedp.Click(chromedp.ID("enroll-start")), chromedp.WaitVisible(chromedp.ID("error")))
	run(t, ctx, "her directory password", chromedp.SendKeys(chromedp.ID("password"), "Verz-lena-2026!"),
		chromedp.Click(chromedp.ID("enroll-start")), waitText("h1", "Womit möchten Sie sich anmelden?"))
	registerKey(t, ctx, "Dienstschlüssel", "directory-")
	finishEnrollment(t, ctx, f, "directory-")

	// The key on a device that does not ask for its PIN: key and the
	// directory password.
	moveKeys(t, ctx, auth, addAuthenticator(t, ctx, authenticatorOpts{uv: false}))
	startSignIn(t, ctx, f, "lena", "/login/key")
	run(t, ctx, "touch the key", chromedp.Click(chromedp.ID("use-key")), waitPath("/login/password"))
	run(t, ctx, "a wrong password", chromedp.SendKeys(chromedp.ID("password"), "Verz-s1-2026!\r"), chromedp.WaitVisible(chromedp.ID("error")))
	run(t, ctx, "her directory password", chromedp.SendKeys(chromedp.ID("password"), "Verz-lena-2026!\r"), waitPath("/account"),
		waitText("dl.facts", "Sicherheitsschlüssel und Passwort"))
	shot(t, ctx, "directory-account")
}
