package web

import (
	"context"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/keyhall/keyhall/authn"
	"github.com/keyhall/keyhall/enroll"
)

// TestAdminNoticeLetters: the reset of Nora, who has no e-mail address but
// a postal one, queues a notice letter; the overview counts it and lists
// Otto, who has neither, as not notified; the helpdesk downloads the
// letters (marking them printed, audited), a second download is empty, and
// the freeze link printed in Nora's letter freezes her account. Without a
// role the download is a 404. Helga, who reset them, prints none of them
// (review of #14): the admin does.
func TestAdminNoticeLetters(t *testing.T) {
	pdftotext, err := exec.LookPath("pdftotext")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("pdftotext not found (apt-get install -y poppler-utils): %v", err)
		}
		t.Skip("pdftotext not found (apt-get install -y poppler-utils)")
	}
	c := newConsole(t, func(c *Config) {
		c.Desk.Sender = enroll.Sender{Name: "Stadt Münster", Address: []string{"IT", "48143 Münster"}, HelpPhone: "0251 492-0"}
	})
	f := c.f
	ctx := context.Background()
	otto := f.addUser("otto")
	helga := c.as(c.helga, authn.LevelPhrh, 0)
	for _, u := range []authn.User{c.nora, otto} {
		res, body := helga.send("POST", "/admin/people/"+u.ID+"/reset",
			url.Values{"reason": {"INC-9"}, "check": {"callback"}, "delivery": {"desk"}}, false)
		if res.StatusCode != http.StatusOK {
			t.Fatalf("reset %s: %d\n%s", u.Username, res.StatusCode, between(body, "<main", "</main>"))
		}
	}
	_, body := helga.get("/admin")
	if !strings.Contains(body, "Briefe zu versenden (1)") || !strings.Contains(body, `id="notice-letters"`) {
		t.Errorf("the overview does not count one letter to send:\n%s", between(body, "<main", "</main>"))
	}
	if ul := between(body, `id="unnotified"`, "</ul>"); !strings.Contains(ul, "otto") || strings.Contains(ul, "nora") {
		t.Errorf("not notified: %q, want otto alone", ul)
	}

	if res, _ := c.as(c.nora, authn.LevelPhrh, 0).send("POST", "/admin/notice-letters", nil, false); res.StatusCode != http.StatusNotFound {
		t.Errorf("download without a role: %d, want 404", res.StatusCode)
	}
	if res, _ := helga.send("POST", "/admin/notice-letters", nil, false); res.Header.Get("Content-Type") == "application/pdf" {
		t.Fatalf("helga, who reset nora, printed the letter that tells nora of it")
	}
	adam := c.as(c.adam, authn.LevelPhrh, 0)
	res, pdf := adam.send("POST", "/admin/notice-letters", nil, false)
	if res.StatusCode != http.StatusOK || res.Header.Get("Content-Type") != "application/pdf" || !strings.HasPrefix(pdf, "%PDF") {
		t.Fatalf("download: %d %q\n%.300s", res.StatusCode, res.Header.Get("Content-Type"), pdf)
	}
	evs, err := f.store.SearchAudit(ctx, authn.AuditQuery{Action: "notice_letter.printed"})
	if err != nil || len(evs) != 1 || evs[0].Subject != "user:"+c.nora.ID || evs[0].Actor != "user:"+c.adam.ID {
		t.Errorf("printing audited as %+v, %v; want once, about nora, by adam", evs, err)
	}
	file := filepath.Join(t.TempDir(), "notices.pdf")
	if err := os.WriteFile(file, []byte(pdf), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(pdftotext, file, "-").CombinedOutput()
	if err != nil {
		t.Fatalf("pdftotext: %v\n%s", err, out)
	}
	text := string(out)
	flat := strings.ReplaceAll(text, "\n", "")
	link := regexp.MustCompile(regexp.QuoteMeta(f.base) + `/freeze/[A-Za-z0-9_-]{43}`).FindString(flat)
	if link == "" || !strings.Contains(text, "Test nora") || !strings.Contains(text, "Prinzipalmarkt 1") ||
		!strings.Contains(text, "0251 492-0") || !strings.Contains(text, "zurückgesetzt") || strings.Contains(text, "otto") {
		t.Fatalf("the letter lacks the freeze link, her address, the help phone or what happened:\n%s", text)
	}

	res, body = adam.send("POST", "/admin/notice-letters", nil, false)
	if res.StatusCode != http.StatusOK || res.Header.Get("Content-Type") == "application/pdf" ||
		!strings.Contains(body, "Keine Briefe zu versenden") || !strings.Contains(body, "Briefe zu versenden (0)") {
		t.Errorf("second download: %d %q, want the overview saying there are none", res.StatusCode, res.Header.Get("Content-Type"))
	}

	if res, page := f.client().get(strings.TrimPrefix(link, f.base)); res.StatusCode != http.StatusOK {
		t.Fatalf("GET the letter's link: %d\n%s", res.StatusCode, page)
	}
	if res, page := f.client().form(strings.TrimPrefix(link, f.base), nil); res.StatusCode != http.StatusOK {
		t.Fatalf("POST the letter's link: %d\n%s", res.StatusCode, page)
	}
	if u, err := f.store.GetUser(ctx, c.nora.ID); err != nil || u.Status != authn.StatusFrozen {
		t.Errorf("nora after her letter's link: %q, %v; want frozen", u.Status, err)
	}
}

// TestFactorAddedLetterWithoutMail: a key added by a person without an
// e-mail address is told by a notice letter, queued for the desk; with
// mail that reaches her, none is queued; without an SMTP server (mail only
// logged) one is, also for a person with an address (review of #14). The
// letter names the key's model, not the nickname whoever added it chose.
func TestFactorAddedLetterWithoutMail(t *testing.T) {
	addKey := func(f *fixture, u authn.User) {
		old := newTestKey(t)
		f.addKey(u, &old, 0)
		c := f.client()
		c.cookies[SessionCookie] = f.sessionCookie(u, time.Now(), false).Value
		if res, body := c.form("/account/factors/add", url.Values{"kind": {"key"}}); res.StatusCode != http.StatusSeeOther {
			t.Fatalf("add a key: %d %s", res.StatusCode, body)
		}
		res := c.do("POST", "/enroll/key/begin", "application/json", strings.NewReader("{}"))
		options := readBody(t, res)
		cred := noneRegistration(t, []byte(options), f.base, uuid.MustParse("ee882879-721c-4913-9775-3dfcce97072a"))
		if res, body := c.form("/enroll/key", url.Values{"credential": {string(cred)}, "nickname": {"Vom IT-Service, alles gut"}}); res.StatusCode != http.StatusOK {
			t.Fatalf("finish: %d %s", res.StatusCode, body)
		}
	}
	yubiKey := uuid.MustParse("ee882879-721c-4913-9775-3dfcce97072a")
	letterFor := func(f *fixture, u authn.User) {
		t.Helper()
		ls, err := f.store.UnprintedNoticeLetters(context.Background())
		if err != nil || len(ls) != 1 || ls[0].UserID != u.ID || ls[0].Kind != authn.NoticeFactorAdded ||
			ls[0].Detail != enroll.FactorKind(authn.Credential{Kind: authn.KindWebAuthn, AAGUID: yubiKey[:]}) || strings.Contains(ls[0].Detail, "IT-Service") {
			t.Fatalf("notice letters %+v, %v; want one for %s's new key, naming its model alone", ls, err, u.Username)
		}
	}

	f := newFixture(t)
	mb := startMailbox(t)
	f.withMail(t, mb)
	otto := f.addUser("otto")
	anna := f.withEmail(f.addUser("anna"), "anna@stadt.example")
	addKey(f, otto)
	addKey(f, anna)
	mb.wait(1)
	letterFor(f, otto)

	f = newFixture(t)
	f.withEnroll(enroll.Config{Policy: enroll.Policy{Default: enroll.DefaultKeyPolicy()}, Mailer: enroll.LogMailer{},
		Notices: enroll.Notices{Sender: enroll.Sender{Name: "Stadt Musterstadt", HelpPhone: "0251 492-0"}}})
	anna = f.withEmail(f.addUser("anna"), "anna@stadt.example")
	addKey(f, anna)
	letterFor(f, anna)
}
