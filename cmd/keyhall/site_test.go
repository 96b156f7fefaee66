package main

import (
	"mime"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

const testSiteName = "Stadt Münster – Anmeldung"

// TestServeRefusesLowContrast: a primary colour with less than 4.5:1
// against white stops serve before it listens, and check-config, each
// naming the setting, the ratio and the minimum.
func TestServeRefusesLowContrast(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "keyhall.yaml")
	os.WriteFile(cfg, []byte("public_url: http://localhost:8080\nlisten: 127.0.0.1:0\nsite:\n  name: \""+testSiteName+
		"\"\n  primary_color: \"#8a8a8a\"\n"), 0o600)
	p := startKeyhall(t, dir, nil, "serve", "--config", cfg)
	<-p.exited
	out := p.out.String()
	for _, want := range []string{"keyhall.yaml:5", "site.primary_color", "#8a8a8a has a contrast of 3.45:1 against white", "at least 4.5:1"} {
		if p.code != 2 || !strings.Contains(out, want) {
			t.Errorf("serve: exit status %d, output %q; want 2 and %q", p.code, out, want)
		}
	}
	if strings.Contains(out, "listening") {
		t.Error("serve listened with a colour of too little contrast")
	}
	if _, err := os.Stat(filepath.Join(dir, "keyhall.db")); err == nil {
		t.Error("a refused configuration created a database")
	}
	e := mustRun(t, nil, 2, "check-config", cfg)
	if !strings.Contains(e, "site.primary_color") || !strings.Contains(e, "3.45:1") || !strings.Contains(e, "4.5:1") {
		t.Errorf("check-config: %q", e)
	}

	// The environment, a good colour, a logo that runs script.
	logo := filepath.Join(dir, "logo.svg")
	os.WriteFile(logo, []byte(`<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>`), 0o600)
	e = mustRun(t, []string{"KEYHALL_SITE_PRIMARY_COLOR=#0b4f8a", "KEYHALL_SITE_LOGO_FILE=" + logo}, 2, "check-config", cfg)
	if strings.Contains(e, "primary_color") || !strings.Contains(e, "site.logo_file") || !strings.Contains(e, "event handler") {
		t.Errorf("check-config with a scripted logo: %q", e)
	}
}

// TestAdminInviteSiteName: with site.name, the invitation letter and
// mail name the city's service where they named Keyhall, the mail comes
// from the site's name (mail.from has none) and is signed with it.
func TestAdminInviteSiteName(t *testing.T) {
	pdftotext := needPdftotext(t)
	in := startInbox(t)
	env, _ := enrollEnvVars(t, in)
	env = append(env, "KEYHALL_SITE_NAME="+testSiteName, "KEYHALL_MAIL_FROM=keyhall@stadt.example")
	mustRun(t, env, 0, "admin", "users", "add", "anna.müller", "--name", "Anna Müller", "--email", "anna@stadt.example")
	letter := filepath.Join(t.TempDir(), "anna.pdf")
	mustRun(t, env, 0, "admin", "invite", "anna.müller", "--letter", letter, "--address", `Große Straße 17\n48143 Münster`,
		"--mail", "--reason", "new councillor")
	text, err := exec.Command(pdftotext, letter, "-").CombinedOutput()
	if err != nil {
		t.Fatalf("pdftotext: %v\n%s", err, text)
	}
	flat := strings.Join(strings.Fields(string(text)), " ")
	for _, want := range []string{"Ihre Anmeldung bei „" + testSiteName + "“", "ein Zugang zu „" + testSiteName + "“ eingerichtet"} {
		if !strings.Contains(flat, want) {
			t.Errorf("the letter lacks %q:\n%s", want, flat)
		}
	}
	if strings.Contains(flat, "Keyhall") {
		t.Errorf("the letter still says Keyhall:\n%s", flat)
	}

	mails := in.take()
	if len(mails) != 1 {
		t.Fatalf("%d mails, want the invitation", len(mails))
	}
	from, err := mails[0].Header.AddressList("From")
	if err != nil || len(from) != 1 || from[0].Name != testSiteName || from[0].Address != "keyhall@stadt.example" {
		t.Errorf("From: %v, %v; want %s <keyhall@stadt.example>", from, err, testSiteName)
	}
	subject, err := new(mime.WordDecoder).DecodeHeader(mails[0].Header.Get("Subject"))
	if err != nil || subject != "Ihre Anmeldung bei „"+testSiteName+"“ / Your “"+testSiteName+"” sign-in" {
		t.Errorf("Subject: %q, %v", subject, err)
	}
	body := strings.ReplaceAll(mailBody(t, mails[0]), "\r\n", "\n")
	if !strings.Contains(body, "ein Zugang zu „"+testSiteName+"“ eingerichtet") ||
		!strings.Contains(body, "\n-- \nStadt Münster\n"+testSiteName+" · https://login.stadt.example\n") ||
		strings.Contains(body, "Keyhall") {
		t.Errorf("the mail's text or signature:\n%s", body)
	}
}
