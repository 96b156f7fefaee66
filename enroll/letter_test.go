package enroll_test

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/keyhall/keyhall/authn"
	"github.com/keyhall/keyhall/enroll"
)

// needTool returns the path of a command-line tool, skipping the test when
// it is missing, or failing it under CI=true.
func needTool(t *testing.T, name, pkg string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s not found (apt-get install -y %s): %v", name, pkg, err)
		}
		t.Skipf("%s not found (apt-get install -y %s)", name, pkg)
	}
	return p
}

func testLetter() enroll.Letter {
	berlin, _ := time.LoadLocation("Europe/Berlin")
	return enroll.Letter{
		Invitation: enroll.Invitation{
			Link:      "https://login.stadt.example/enroll/K7XM-4RPQ-9TWD-3HNA-2BCD-EFGH-JKMN-PQRS-TUVW-XYZ2-3456-789A-BCDE",
			Code:      "K7XM-4RPQ-9TWD-3HNA",
			ExpiresAt: time.Date(2026, 3, 26, 13, 30, 0, 0, time.UTC),
			User:      authn.User{Username: "anna.müller", DisplayName: "Anna Müller"},
		},
		Address: []string{"Große Straße 17", "48143 Münster"},
		Sender: enroll.Sender{
			Name:      "Stadt Münster",
			Address:   []string{"Amt für Informationsverarbeitung", "Klemensstraße 10", "48143 Münster"},
			HelpPhone: "0251 492-1234",
			HelpEmail: "it-service@stadt.example",
		},
		CodeURL:  "https://login.stadt.example/enroll",
		Date:     time.Date(2026, 3, 12, 9, 0, 0, 0, berlin),
		Location: berlin,
	}
}

func TestWriteLetter(t *testing.T) {
	pdftotext := needTool(t, "pdftotext", "poppler-utils")
	pdftoppm := needTool(t, "pdftoppm", "poppler-utils")
	dir := t.TempDir()
	pdf := filepath.Join(dir, "letter.pdf")
	var buf bytes.Buffer
	if err := enroll.WriteLetter(&buf, testLetter()); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(pdf, buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(pdftotext, "-layout", pdf, "-").CombinedOutput()
	if err != nil {
		t.Fatalf("pdftotext: %v\n%s", err, out)
	}
	text := string(out)
	for _, want := range []string{
		"Anna Müller", "Große Straße 17", "48143 Münster", "Stadt Münster · Amt für Informationsverarbeitung",
		"Ihre Anmeldung bei Keyhall", "K7XM-4RPQ-9TWD-3HNA", "anna.müller", "26.03.2026, 14:30 Uhr",
		"Datum: 12.03.2026", "https://login.stadt.example/enroll/K7XM-4RPQ-",
		"0251 492-1234", "it-service@stadt.example", "Sicherheitsschlüssel registrieren", "Grüßen",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("the letter's text lacks %q:\n%s", want, text)
		}
	}
	if n := strings.Count(text, "\f"); n != 1 {
		t.Errorf("the letter has %d pages, want 1", n)
	}

	// The name must sit in the envelope's window: 20–105 mm from the left,
	// 45–90 mm from the top (A4 at 72 dpi: 1 mm = 2.835 pt).
	box, err := exec.Command(pdftotext, "-bbox", pdf, "-").CombinedOutput()
	if err != nil {
		t.Fatalf("pdftotext -bbox: %v\n%s", err, box)
	}
	if !inWindow(string(box), "Anna") {
		t.Errorf("the name is not inside the address window:\n%s", box)
	}

	if out, err := exec.Command(pdftoppm, "-png", "-r", "100", "-singlefile", pdf, filepath.Join(dir, "page")).CombinedOutput(); err != nil {
		t.Fatalf("pdftoppm: %v\n%s", err, out)
	}
	png, err := os.ReadFile(filepath.Join(dir, "page.png"))
	if err != nil || !bytes.HasPrefix(png, []byte("\x89PNG")) || len(png) < 10_000 {
		t.Fatalf("pdftoppm made no page image (%d bytes): %v", len(png), err)
	}
	if err := os.MkdirAll("/tmp/keyhall-shots", 0o755); err == nil {
		os.WriteFile("/tmp/keyhall-shots/letter.png", png, 0o644)
	}
}

// inWindow reports whether the first word w in pdftotext's -bbox output
// lies inside the DIN 5008 address field.
func inWindow(bbox, w string) bool {
	const mm = 72 / 25.4
	for line := range strings.Lines(bbox) {
		if !strings.Contains(line, ">"+w+"<") {
			continue
		}
		var xMin, yMin, xMax, yMax float64
		i := strings.Index(line, "xMin=")
		if i < 0 {
			return false
		}
		if _, err := fmt.Sscanf(line[i:], `xMin="%f" yMin="%f" xMax="%f" yMax="%f"`, &xMin, &yMin, &xMax, &yMax); err != nil {
			return false
		}
		return xMin >= 20*mm && xMax <= 105*mm && yMin >= 45*mm && yMax <= 90*mm
	}
	return false
}

func TestWriteLetterRefuses(t *testing.T) {
	tests := []struct {
		name   string
		change func(*enroll.Letter)
		want   string
	}{
		{"no address", func(l *enroll.Letter) { l.Address = nil }, "no postal address"},
		{"too many lines", func(l *enroll.Letter) { l.Address = []string{"a", "b", "c", "d", "e", "f"} }, "at most 5"},
		{"control character", func(l *enroll.Letter) { l.Address = []string{"a\tb"} }, "control character"},
		{"no sender", func(l *enroll.Letter) { l.Sender.Name = "" }, "no sender name"},
		{"no help", func(l *enroll.Letter) { l.Sender.HelpPhone, l.Sender.HelpEmail = "", "" }, "where to get help"},
		{"no code", func(l *enroll.Letter) { l.Invitation.Code = "" }, "no link, code or expiry"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := testLetter()
			tt.change(&l)
			var buf bytes.Buffer
			err := enroll.WriteLetter(&buf, l)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("WriteLetter: %v, want an error with %q", err, tt.want)
			}
			if buf.Len() != 0 {
				t.Errorf("WriteLetter wrote %d bytes despite the error", buf.Len())
			}
		})
	}
}

// letterText writes l and returns pdftotext's text of it, which must fit
// one page.
func letterText(t *testing.T, l enroll.Letter) string {
	t.Helper()
	pdftotext := needTool(t, "pdftotext", "poppler-utils")
	pdf := filepath.Join(t.TempDir(), "letter.pdf")
	var buf bytes.Buffer
	if err := enroll.WriteLetter(&buf, l); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(pdf, buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(pdftotext, pdf, "-").CombinedOutput()
	if err != nil {
		t.Fatalf("pdftotext: %v\n%s", err, out)
	}
	if n := strings.Count(string(out), "\f"); n != 1 {
		t.Errorf("the letter has %d pages, want 1", n)
	}
	// One line per paragraph, so that a phrase is found across line breaks.
	return strings.Join(strings.Fields(string(out)), " ")
}

// TestLetterPasswordOnlyWhereTrue: the letter says of the password and
// the recovery codes what her enrollment will do (LetterFacts), in three
// steps (the password goes with the third), on one page also after a reset:
//   - a local person without a password: a PIN guards the key, and she
//     chooses a password after it, asked only with the app, a recovery
//     code or a key without PIN (with --require-password: she must);
//   - a person with a password: sign in with it;
//   - a directory person where no directory is configured: no password,
//     and no recovery codes promised (none will be shown).
func TestLetterPasswordOnlyWhereTrue(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	paul := f.user(t, "paul")
	facts := func(inv enroll.Invitation) enroll.Letter {
		t.Helper()
		l := testLetter()
		inv.Link, inv.Code = l.Invitation.Link, l.Invitation.Code
		l.Invitation = inv
		l, err := f.svc.LetterFacts(ctx, l)
		must(t, err)
		return l
	}
	check := func(who, text string, want, not []string) {
		t.Helper()
		for _, w := range want {
			if !strings.Contains(text, w) {
				t.Errorf("%s: the letter lacks %q:\n%s", who, w, text)
			}
		}
		for _, n := range not {
			if strings.Contains(text, n) {
				t.Errorf("%s: the letter says %q:\n%s", who, n, text)
			}
		}
	}
	codes := "zehn Wiederherstellungscodes"

	inv, err := f.svc.Issue(ctx, paul.ID, 0, "cli:root", "")
	must(t, err)
	check("local, no password", letterText(t, facts(inv)),
		[]string{"in drei Schritten", "PIN", "Passwort festlegen", "Danach wählen Sie ein Passwort",
			"fragt es nur bei Authenticator-App, Wiederherstellungscode oder Schlüssel ohne PIN ab",
			codes, "Authenticator-App", "Sicherheitsschlüssel erhalten Sie vom IT-Service", "3. Passwort festlegen und vorsorgen"},
		[]string{"Ein Passwort brauchen Sie nicht", "Passwort an", "vier Schritten", "verlangt", "Authentifizierungs-App"})

	inv, err = f.svc.IssueWith(ctx, paul.ID, enroll.Terms{RequirePassword: true}, "cli:root", "")
	must(t, err)
	check("local, no password, --require-password", letterText(t, facts(inv)),
		[]string{"in drei Schritten", "Passwort festlegen", "Ihr IT-Service verlangt es",
			"Ohne Passwort lässt sich die Einrichtung nicht abschließen"},
		[]string{"Ein Passwort brauchen Sie nicht"})
	reset := facts(inv)
	reset.Reset = true
	check("local, no password, reset --require-password", letterText(t, reset),
		[]string{"gesperrt", "Ihr IT-Service verlangt es", codes}, nil)

	f.withPassword(t, paul)
	inv, err = f.svc.Issue(ctx, paul.ID, 0, "cli:root", "")
	must(t, err)
	check("local, with a password", letterText(t, facts(inv)),
		[]string{"in drei Schritten", "mit Ihrem gewohnten Passwort an", codes, "3. Vorsorgen"},
		[]string{"Passwort festlegen", "Ein Passwort brauchen Sie nicht"})

	now := f.clock.now()
	dora := authn.User{ID: authn.NewID(), Username: "dora", Status: authn.StatusActive, Source: authn.SourceDirectory,
		ExternalID: "uid=dora", CreatedAt: now, UpdatedAt: now}
	must(t, f.store.CreateUser(ctx, dora, authn.AuditEvent{Time: now, Actor: "test", Action: "user.create"}))
	inv, err = f.svc.Issue(ctx, dora.ID, 0, "cli:root", "")
	must(t, err)
	check("directory person, no directory", letterText(t, facts(inv)),
		[]string{"in drei Schritten", "Ein Passwort brauchen Sie nicht", "PIN", "zweiten Schlüssel als Ersatz"},
		[]string{"Wiederherstellungscode", "Passwort festlegen", "Passwort an"})
}

// TestLetterAfterReset: the letter after an IT reset is not the first
// invitation word for word: it says her old keys were blocked.
func TestLetterAfterReset(t *testing.T) {
	l := testLetter()
	first := letterText(t, l)
	l.Reset = true
	text := letterText(t, l)
	for _, want := range []string{enroll.ResetSubject, "Sicherheitsschlüssel, Authenticator-Apps und Wiederherstellungscodes sind gesperrt"} {
		if !strings.Contains(text, want) {
			t.Errorf("the reset letter lacks %q:\n%s", want, text)
		}
	}
	if strings.Contains(first, "gesperrt") {
		t.Errorf("the first letter speaks of blocked keys:\n%s", first)
	}
}

// TestLetterLinkReadable: the link is printed as large as the body text
// (10 pt), broken only between its token's groups, so that it reads back
// whole; its token has no look-alike characters (NewToken), and the code
// stays the fallback.
func TestLetterLinkReadable(t *testing.T) {
	pdftotext := needTool(t, "pdftotext", "poppler-utils")
	l := testLetter()
	l.Invitation.Link = "https://login.stadt.example/enroll/" + enroll.NewToken()
	// pdftotext joins a line ending in a dash to the next without it;
	// dashes do not matter in a token (NormalizeToken).
	text := strings.ReplaceAll(letterText(t, l), " ", "")
	prefix := "Link:https://login.stadt.example/enroll/"
	i := strings.Index(text, prefix)
	token := l.Invitation.Link[strings.LastIndex(l.Invitation.Link, "/")+1:]
	if i < 0 || len(text) < i+len(prefix)+64 || enroll.NormalizeToken(strings.ReplaceAll(text[i+len(prefix):i+len(prefix)+64], "-", "")[:52]) != token {
		t.Errorf("the link does not read back whole (%s):\n%s", l.Invitation.Link, text)
	}
	pdf := filepath.Join(t.TempDir(), "letter.pdf")
	var buf bytes.Buffer
	if err := enroll.WriteLetter(&buf, l); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(pdf, buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	box, err := exec.Command(pdftotext, "-bbox", pdf, "-").CombinedOutput()
	if err != nil {
		t.Fatalf("pdftotext -bbox: %v\n%s", err, box)
	}
	// Word heights, which follow the font size (DejaVu Sans and Sans Mono
	// share their ascent and descent): the link's lines against "Guten" of
	// the 10 pt greeting.
	height := func(word func(string) bool) (float64, int) {
		var h float64
		n := 0
		for line := range strings.Lines(string(box)) {
			i, j := strings.Index(line, ">"), strings.LastIndex(line, "<")
			k := strings.Index(line, "xMin=")
			if i < 0 || j <= i || k < 0 || !word(line[i+1:j]) {
				continue
			}
			var xMin, yMin, xMax, yMax float64
			if _, err := fmt.Sscanf(line[k:], `xMin="%f" yMin="%f" xMax="%f" yMax="%f"`, &xMin, &yMin, &xMax, &yMax); err != nil {
				t.Fatal(err)
			}
			if n == 0 || yMax-yMin < h {
				h = yMax - yMin
			}
			n++
		}
		return h, n
	}
	body, _ := height(func(w string) bool { return w == "Guten" })
	link, n := height(func(w string) bool {
		return strings.HasPrefix(w, "https://login.stadt.example/") || (len(w) >= 4 && strings.Contains(token, w))
	})
	if n < 2 || body == 0 || link < 0.98*body {
		t.Errorf("the link's %d lines are %.1f pt high, the 10 pt body text %.1f pt: want the link as large", n, link, body)
	}
}
