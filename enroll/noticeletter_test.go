package enroll_test

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/keyhall/keyhall/authn"
	"github.com/keyhall/keyhall/enroll"
)

// TestNoticeLetterLink: the notice letter says what happened and when,
// gives the help phone, and prints the freeze link so that it is read back
// whole wherever a dash falls (a dash ending a line would be taken for a
// hyphenation and dropped).
func TestNoticeLetterLink(t *testing.T) {
	pdftotext := needTool(t, "pdftotext", "poppler-utils")
	berlin, _ := time.LoadLocation("Europe/Berlin")
	at := time.Date(2026, 12, 6, 14, 30, 0, 0, berlin)
	base := "https://keyhall.stadt-muenster-rathaus-it.example/freeze/"
	var tokens []string // a letter's token has no dash (LetterFreezeLink); dashes within are read back too
	for i := range 42 {
		tokens = append(tokens, strings.Repeat("A", i)+"-"+strings.Repeat("b", 42-i))
	}
	tokens = append(tokens, strings.Repeat("_l", 21)+"I")
	for i, tok := range tokens {
		kind, want := authn.NoticeReset, "zurückgesetzt"
		if i%2 == 1 {
			kind, want = authn.NoticeFactorAdded, "YubiKey 5 NFC"
		}
		n := enroll.NoticeLetter{User: authn.User{Username: "rmueller", DisplayName: "Renate Müller"},
			Address: []string{"Ratsweg 5", "48143 Münster"}, Kind: kind, Factor: "Büro (YubiKey 5 NFC)", At: at,
			Sender:     enroll.Sender{Name: "Stadt Münster", Address: []string{"Amt für IT"}, HelpPhone: "0251 492-4711"},
			FreezeLink: base + tok, Date: at, Location: berlin}
		var buf bytes.Buffer
		if err := enroll.WriteNoticeLetters(&buf, []enroll.NoticeLetter{n}); err != nil {
			t.Fatal(err)
		}
		pdf := filepath.Join(t.TempDir(), "notice.pdf")
		if err := os.WriteFile(pdf, buf.Bytes(), 0o600); err != nil {
			t.Fatal(err)
		}
		out, err := exec.Command(pdftotext, pdf, "-").CombinedOutput()
		if err != nil {
			t.Fatalf("pdftotext: %v\n%s", err, out)
		}
		text := string(out)
		if !strings.Contains(strings.ReplaceAll(text, "\n", ""), base+tok+"Rufen") {
			t.Fatalf("token %d: the link %s is not read back whole:\n%s", i, base+tok, text)
		}
		if !strings.Contains(text, want) || !strings.Contains(text, "06.12.2026, 14:30 Uhr") ||
			!strings.Contains(text, "0251 492-4711") || !strings.Contains(text, "Ratsweg 5") {
			t.Fatalf("token %d: the letter lacks what happened, when, the help phone or her address:\n%s", i, text)
		}
	}
}

// TestLetterFreezeLinkNoDash: a letter's freeze link has no dash in its
// token (one that ends the link is lost when read back, see above), and it
// names its person.
func TestLetterFreezeLinkNoDash(t *testing.T) {
	f := newFixture(t)
	u := f.user(t, "anna")
	for range 200 {
		link, err := f.svc.LetterFreezeLink(t.Context(), u.ID)
		if err != nil {
			t.Fatal(err)
		}
		tok := link[strings.LastIndex(link, "/")+1:]
		if strings.Contains(tok, "-") || !strings.HasPrefix(link, origin+"/freeze/") {
			t.Fatalf("letter link %s: want %s/freeze/ and a token without a dash", link, origin)
		}
		if who, err := f.svc.FreezeTarget(t.Context(), tok); err != nil || who.ID != u.ID {
			t.Fatalf("the link's person: %v, %v", who.ID, err)
		}
	}
}

// TestNoticeLetterSiteName: with the site's name (Sender.Service) both
// notice letters name it where they said Keyhall, a long name wrapping in
// the subject rather than running off the page.
func TestNoticeLetterSiteName(t *testing.T) {
	pdftotext := needTool(t, "pdftotext", "poppler-utils")
	const site = "Stadt Münster – Anmeldung für Rat, Bezirksvertretungen und Ausschüsse"
	for _, kind := range []string{authn.NoticeReset, authn.NoticeFactorAdded} {
		n := enroll.NoticeLetter{User: authn.User{Username: "rmueller", DisplayName: "Renate Müller"},
			Address: []string{"Ratsweg 5", "48143 Münster"}, Kind: kind, Factor: "YubiKey 5 NFC", At: time.Now(),
			Sender:     enroll.Sender{Name: "Stadt Münster", HelpPhone: "0251 492-4711", Service: site},
			FreezeLink: "https://login.stadt.example/freeze/abc", Date: time.Now()}
		var buf bytes.Buffer
		if err := enroll.WriteNoticeLetters(&buf, []enroll.NoticeLetter{n}); err != nil {
			t.Fatal(err)
		}
		pdf := filepath.Join(t.TempDir(), "notice.pdf")
		if err := os.WriteFile(pdf, buf.Bytes(), 0o600); err != nil {
			t.Fatal(err)
		}
		out, err := exec.Command(pdftotext, pdf, "-").CombinedOutput()
		if err != nil {
			t.Fatalf("pdftotext: %v\n%s", err, out)
		}
		flat := strings.Join(strings.Fields(string(out)), " ")
		subject := "Neues Anmeldemittel für Ihren Zugang zu „" + site + "“"
		if kind == authn.NoticeReset {
			subject = "Ihr Zugang zu „" + site + "“ wurde zurückgesetzt – Hinweis"
		}
		if !strings.Contains(flat, subject) || strings.Count(flat, "„"+site+"“") < 2 || strings.Contains(flat, "Keyhall") {
			t.Errorf("%s: the letter does not name the site in its subject and text:\n%s", kind, flat)
		}
	}
}
