package web

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/keyhall/keyhall/authn"
	"github.com/keyhall/keyhall/enroll"
	"github.com/keyhall/keyhall/enroll/desk"
)

// waitRefusals waits until the refused sign-ins answered so far are in the
// audit log (they are written beside the answer).
func (f *fixture) waitRefusals() {
	if err := f.srv.WaitSignInRefusals(context.Background()); err != nil {
		f.t.Fatal(err)
	}
}

// TestAdminShowsSignInRefusals: a wrong app code and a wrong password at
// the real sign-in pages show on her console page with their reasons and
// count on the overview; a wrong code for a name nobody has leaves no
// trace.
func TestAdminShowsSignInRefusals(t *testing.T) {
	c := newConsole(t)
	f := c.f
	otto := f.addUser("otto")
	secret := f.addTOTP(otto)
	f.setPassword(otto, "Rathaus am Markt 1")
	for _, name := range []string{"otto", "niemand"} {
		b := f.client()
		if got := b.startAt(name); got != "/login/totp" {
			if res, _ := b.form("/login/switch", url.Values{"to": {"totp"}}); res.StatusCode != http.StatusSeeOther {
				t.Fatalf("switch to the app: %d", res.StatusCode)
			}
		}
		if res, _ := b.form("/login/totp", url.Values{"code": {"000000"}}); res.StatusCode == http.StatusSeeOther {
			t.Fatalf("a wrong app code for %s was taken", name)
		}
	}
	b := f.client()
	b.startAt("otto")
	b.form("/login/switch", url.Values{"to": {"totp"}})
	if res, _ := b.form("/login/totp", url.Values{"code": {totpCode(t, secret)}}); res.Header.Get("Location") != "/login/password" {
		t.Fatalf("the right app code: %d → %s", res.StatusCode, res.Header.Get("Location"))
	}
	if res, _ := b.form("/login/password", url.Values{"password": {"falsch"}}); res.StatusCode == http.StatusSeeOther {
		t.Fatal("a wrong password was taken")
	}
	f.waitRefusals()
	if n := f.auditCount("signin.refused"); n != 2 {
		t.Errorf("%d refusals audited, want 2 (otto's; none for a name nobody has)", n)
	}
	helga := c.as(c.helga, authn.LevelPhrh, 0)
	res, body := helga.get("/admin/people/" + otto.ID)
	if res.StatusCode != http.StatusOK {
		t.Fatalf("otto's page: %d", res.StatusCode)
	}
	_, signins, _ := strings.Cut(body, `id="signins"`)
	for _, want := range []string{"signin.refused", "wrong_code", "wrong_password"} {
		if !strings.Contains(signins, want) {
			t.Errorf("her sign-ins on her page lack %q", want)
		}
	}
	if _, body := helga.get("/admin"); !strings.Contains(body, "<dt>Anmeldungen</dt><dd>2</dd>") {
		t.Errorf("the overview does not count 2 refused sign-ins:\n%s", between(body, `id="refusals"`, "</dl>"))
	}
}

// between is body from start to the next end, for a message.
func between(body, start, end string) string {
	_, after, _ := strings.Cut(body, start)
	s, _, _ := strings.Cut(after, end)
	return s
}

// TestAdminOverviewFrozenAndCloned: the overview lists the frozen
// accounts and the keys flagged as cloned, each with a link to the
// person's page.
func TestAdminOverviewFrozenAndCloned(t *testing.T) {
	c := newConsole(t)
	f := c.f
	ctx := context.Background()
	if _, err := f.store.FreezeUser(ctx, c.nora.ID, time.Now(), f.audit("user.frozen")); err != nil {
		t.Fatal(err)
	}
	if err := f.store.AppendAudit(ctx, authn.AuditEvent{Time: time.Now(), Actor: "user:" + c.renate.ID, Action: "credential.cloned",
		Subject: "user:" + c.renate.ID, Details: map[string]string{"credential": c.renateKey.credID}}); err != nil {
		t.Fatal(err)
	}
	res, body := c.as(c.helga, authn.LevelPhrh, 0).get("/admin")
	if res.StatusCode != http.StatusOK {
		t.Fatalf("overview: %d", res.StatusCode)
	}
	if frozen := between(body, `id="frozen"`, "</ul>"); !strings.Contains(frozen, `href="/admin/people/`+c.nora.ID+`"`) {
		t.Errorf("the frozen accounts lack nora with a link:\n%s", frozen)
	}
	if cloned := between(body, `id="cloned"`, "</ul>"); !strings.Contains(cloned, `href="/admin/people/`+c.renate.ID+`"`) {
		t.Errorf("the cloned keys lack renate's with a link:\n%s", cloned)
	}
	if err := f.store.UnfreezeUser(ctx, c.nora.ID, f.audit("user.unfrozen")); err != nil {
		t.Fatal(err)
	}
	if _, body := c.as(c.helga, authn.LevelPhrh, 0).get("/admin"); strings.Contains(body, `id="frozen"`) {
		t.Errorf("nora is still listed as frozen after the freeze was lifted")
	}
}

// TestAdminAuditExportAndChain: an admin downloads the audit page's
// events (its filters) as CSV and as JSON Lines, never cached, each
// export audited; she checks the chain on the page, which names where it
// breaks once an event was changed. A helpdesk person can do neither (the
// desk's 403) and is not shown the links.
func TestAdminAuditExportAndChain(t *testing.T) {
	c := newConsole(t)
	f := c.f
	c.as(c.nora, authn.LevelPhrh, 0).get("/admin") // a refusal by nora
	helga := c.as(c.helga, authn.LevelPhrh, 0)
	for _, path := range []string{"/admin/audit/export?format=csv", "/admin/audit/export?format=jsonl", "/admin/audit?verify=1"} {
		res, _ := helga.get(path)
		if res.StatusCode != http.StatusForbidden || res.Header.Get("Content-Disposition") != "" {
			t.Errorf("helpdesk %s: %d %q, want 403 and no download", path, res.StatusCode, res.Header.Get("Content-Disposition"))
		}
	}
	if _, body := helga.get("/admin/audit"); strings.Contains(body, "/admin/audit/export") || strings.Contains(body, `name="verify"`) {
		t.Errorf("the helpdesk's audit page offers the export or the chain check")
	}
	if n := f.auditCount("audit.export"); n != 0 {
		t.Errorf("refused exports audited as exports: %d", n)
	}

	adam := c.as(c.adam, authn.LevelPhrh, 0)
	_, page := adam.get("/admin/audit?action=admin")
	if !strings.Contains(page, `href="/admin/audit/export?format=csv&amp;action=admin&amp;`) {
		t.Fatalf("the admin's audit page lacks the export link with its filters:\n%s", between(page, `id="export"`, "</ul>"))
	}
	res, body := adam.get("/admin/audit/export?format=csv&action=admin")
	if res.StatusCode != http.StatusOK || res.Header.Get("Content-Type") != "text/csv; charset=utf-8" ||
		!strings.HasPrefix(res.Header.Get("Content-Disposition"), `attachment; filename="keyhall-audit-`) ||
		res.Header.Get("Cache-Control") != "no-store" {
		t.Fatalf("CSV export: %d %q %q %q", res.StatusCode, res.Header.Get("Content-Type"), res.Header.Get("Content-Disposition"), res.Header.Get("Cache-Control"))
	}
	lines := strings.Split(strings.TrimSpace(body), "\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[0], "seq,time,actor,action") || !strings.Contains(lines[1], "admin.refused") ||
		!strings.Contains(lines[1], "user:"+c.nora.ID) {
		t.Errorf("CSV export of action=admin:\n%s", body)
	}
	res, body = adam.get("/admin/audit/export?format=jsonl&person=nora")
	if res.StatusCode != http.StatusOK || !strings.HasPrefix(res.Header.Get("Content-Type"), "application/jsonl") ||
		!strings.HasSuffix(res.Header.Get("Content-Disposition"), `.jsonl"`) || strings.Contains(body, "admin.refused") {
		t.Errorf("JSON Lines export about nora (refusals by her are not about her): %d %q\n%s", res.StatusCode, res.Header.Get("Content-Type"), body)
	}
	// A link to the export on another site (or another host of the city)
	// does nothing (second review of #14).
	for _, site := range []string{"cross-site", "same-site"} {
		req, err := http.NewRequest("GET", adam.base+"/admin/audit/export?format=csv", nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Sec-Fetch-Site", site)
		req.AddCookie(&http.Cookie{Name: SessionCookie, Value: adam.cookies[SessionCookie]})
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusForbidden || res.Header.Get("Content-Disposition") != "" {
			t.Errorf("export asked %s: %d %q, want 403", site, res.StatusCode, res.Header.Get("Content-Disposition"))
		}
	}
	evs, err := f.store.SearchAudit(context.Background(), authn.AuditQuery{Action: "audit.export"})
	if err != nil || len(evs) != 2 || evs[1].Actor != "user:"+c.adam.ID || evs[1].Details["format"] != "csv" ||
		evs[1].Details["events"] != "1" || evs[1].Details["action_filter"] != "admin" || evs[1].Details["via"] != "console" ||
		evs[0].Subject != "user:"+c.nora.ID || evs[0].Details["format"] != "jsonl" {
		t.Errorf("the exports audited as %+v, %v", evs, err)
	}

	_, body = adam.get("/admin/audit?verify=1")
	n := f.auditTotal()
	if chain := between(body, `id="chain"`, "</p>"); !strings.Contains(chain, fmt.Sprintf("%d Ereignisse, Kette intakt", n)) {
		t.Errorf("chain check on an intact log (%d events): %q", n, chain)
	}
	if _, err := f.store.DB().Exec("UPDATE audit_events SET reason = 'geändert' WHERE seq = 2"); err != nil {
		t.Fatal(err)
	}
	_, body = adam.get("/admin/audit?verify=1")
	if chain := between(body, `id="chain"`, "</p>"); !strings.Contains(chain, "bricht bei Ereignis 2 (nach 1 intakten") ||
		!strings.Contains(chain, "geändert") || !strings.Contains(body, `class="warning"`) {
		t.Errorf("chain check after event 2 was changed: %q", chain)
	}
	// Changed and marked redacted to hide it: the page names that too.
	if _, err := f.store.DB().Exec("UPDATE audit_events SET redacted = TRUE WHERE seq = 2"); err != nil {
		t.Fatal(err)
	}
	_, body = adam.get("/admin/audit?verify=1")
	if chain := between(body, `id="chain"`, "</p>"); !strings.Contains(chain, "bricht bei Ereignis 2 (nach 1 intakten") ||
		!strings.Contains(chain, "als geschwärzt markiert, wurde aber nicht von Keyhall geschwärzt") {
		t.Errorf("chain check after event 2 was changed and marked redacted: %q", chain)
	}
}

// TestAdminChainText: whatever the chain check found, the page says what
// (for each kind of break, a reason) and that it did not compare the chain
// against the signed checkpoints, which the command line does; German and
// English.
func TestAdminChainText(t *testing.T) {
	checks := []desk.ChainCheck{{Events: 6}, {Events: 6, Partial: true}}
	for _, why := range []string{authn.BreakMissing, authn.BreakLink, authn.BreakChanged, authn.BreakRedacted} {
		checks = append(checks, desk.ChainCheck{Events: 6, Break: &authn.ChainBreak{Seq: 7, After: 6, Reason: why}})
	}
	checkpoint := map[string]string{"de": "signierten Prüfpunkten", "en": "signed checkpoints"}
	for _, c := range checks {
		for _, l := range []string{"de", "en"} {
			got := chainText(c, l)
			if strings.Contains(got, ": .") || !strings.Contains(got, checkpoint[l]) || !strings.Contains(got, "audit verify --checkpoint") {
				t.Errorf("%+v, %s: %q; want a reason, and that the signed checkpoints are the command line's", c.Break, l, got)
			}
		}
	}
}

// TestAdminGroupLetters: the helpdesk asks for the letters of a group on
// the console and downloads one PDF; each member without a factor gets
// her own new invitation, those with a key are left out unless asked
// for; without a reason nothing is issued and the page says why.
func TestAdminGroupLetters(t *testing.T) {
	c := newConsole(t, func(c *Config) {
		c.Desk.Sender = enroll.Sender{Name: "Stadt Münster", Address: []string{"IT", "48143 Münster"}, HelpPhone: "0251 492-0"}
	})
	f := c.f
	otto, keyed := f.addUser("otto"), f.addUser("kira")
	for _, u := range []authn.User{c.nora, otto, keyed} {
		if _, err := f.store.UpdateUser(context.Background(), u.ID, func(u authn.User) (authn.User, error) {
			u.PostalAddress = []string{u.DisplayName, "Prinzipalmarkt 1", "48143 Münster"}
			return u, nil
		}, f.audit("user.set_address")); err != nil {
			t.Fatal(err)
		}
	}
	k := newTestKey(t)
	f.addKey(keyed, &k, 0)
	f.addGroup(t, "bezirk-mitte", c.nora, otto, keyed)
	invited := func() int { return f.auditCount("invitation.create") }
	helga := c.as(c.helga, authn.LevelPhrh, 0)
	res, body := helga.get("/admin/letters")
	if res.StatusCode != http.StatusOK || !strings.Contains(body, `<option value="bezirk-mitte"`) || !strings.Contains(body, `id="letters-all"`) {
		t.Fatalf("letters page: %d\n%s", res.StatusCode, between(body, "<main", "</main>"))
	}
	res, body = helga.send("POST", "/admin/letters", url.Values{"group": {"bezirk-mitte"}, "reason": {""}}, false)
	if res.StatusCode != http.StatusBadRequest || !strings.Contains(body, `role="alert"`) || !strings.Contains(body, `id="letters"`) || invited() != 0 {
		t.Errorf("without a reason: %d, %d invitations; want 400 on the letters page and none", res.StatusCode, invited())
	}
	res, body = helga.send("POST", "/admin/letters", url.Values{"group": {"bezirk-mitte"}, "reason": {"Wahl 2026"}}, false)
	if res.StatusCode != http.StatusOK || res.Header.Get("Content-Type") != "application/pdf" ||
		!strings.HasPrefix(res.Header.Get("Content-Disposition"), "attachment") || res.Header.Get("Cache-Control") != "no-store" ||
		!strings.HasPrefix(body, "%PDF") {
		t.Fatalf("letters: %d %q %q\n%s", res.StatusCode, res.Header.Get("Content-Type"), res.Header.Get("Content-Disposition"), between(body, "<main", "</form>"))
	}
	evs, err := f.store.SearchAudit(context.Background(), authn.AuditQuery{Action: "invitation.create"})
	if err != nil || len(evs) != 2 {
		t.Fatalf("invitations: %d, %v; want nora's and otto's", len(evs), err)
	}
	for _, ev := range evs {
		if ev.Subject == "user:"+keyed.ID || ev.Actor != "user:"+c.helga.ID || ev.Reason != "Wahl 2026" || ev.Details["group"] != "bezirk-mitte" {
			t.Errorf("invitation audited as %+v", ev)
		}
	}
	// With the members who have a key: the helpdesk's invitation would add
	// a factor beside kira's without a reset's identity check, so she is
	// left out; an admin's letters include her.
	res, _ = helga.send("POST", "/admin/letters", url.Values{"group": {"bezirk-mitte"}, "reason": {"Wahl 2026"}, "all": {"1"}}, false)
	if res.StatusCode != http.StatusOK || invited() != 4 {
		t.Errorf("the helpdesk's letters with the members who have a key: %d, %d invitations; want 4 (not kira's)", res.StatusCode, invited())
	}
	res, _ = c.as(c.adam, authn.LevelPhrh, 0).send("POST", "/admin/letters", url.Values{"group": {"bezirk-mitte"}, "reason": {"Wahl 2026"}, "all": {"1"}}, false)
	if res.StatusCode != http.StatusOK || invited() != 7 {
		t.Errorf("an admin's letters with the members who have a key: %d, %d invitations; want 7 (kira's too)", res.StatusCode, invited())
	}
}
