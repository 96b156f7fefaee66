package main

import (
	"reflect"
	"testing"
	"time"

	"github.com/keyhall/keyhall/enroll"
)

func TestLoadConfigLetterMail(t *testing.T) {
	dir := t.TempDir()
	pw := writeFile(t, dir, "smtp-pw", "s3cret\n")
	file := writeFile(t, dir, "keyhall.yaml", "public_url: https://login.stadt.example\n"+
		"letter:\n  sender_name: Stadt Münster\n  sender_address: [Rathaus, 48143 Münster]\n"+
		"  help_phone: 0251 492-1234\n  help_email: it@stadt.example\n"+
		"mail:\n  smtp_host: mail.stadt.example\n  username: keyhall\n  password_file: "+pw+"\n"+
		"  from: Stadt Münster <keyhall@stadt.example>\n  starttls: required\n")
	cfg, err := loadConfig(file, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := enroll.Sender{Name: "Stadt Münster", Address: []string{"Rathaus", "48143 Münster"},
		HelpPhone: "0251 492-1234", HelpEmail: "it@stadt.example"}
	if got := cfg.sender(); !reflect.DeepEqual(got, want) {
		t.Errorf("sender %+v, want %+v", got, want)
	}
	if cfg.Mail.SMTPPort != 587 || cfg.Mail.Timeout != Duration(30*time.Second) {
		t.Errorf("mail defaults: %+v", cfg.Mail)
	}
	if m, on, err := newMailer(cfg, discardLogger()); err != nil || !on || m == nil {
		t.Errorf("newMailer: %v, %v", on, err)
	}
	if _, on, _ := newMailer(defaultConfig(), discardLogger()); on {
		t.Error("newMailer without smtp_host: an SMTP mailer")
	}
}

func TestLoadConfigLetterMailInvalid(t *testing.T) {
	dir := t.TempDir()
	file := writeFile(t, dir, "keyhall.yaml", "letter:\n  sender_address: [\"\"]\n  help_email: IT <it@x.example>\n"+
		"mail:\n  smtp_host: mail.example:25\n  smtp_port: 0\n  username: keyhall\n  starttls: sometimes\n"+
		"  timeout: 0s\n")
	_, err := loadConfig(file, nil)
	want := []string{
		file + ":2: letter.sender_address[0]: is empty; leave the line out",
		file + ":3: letter.help_email: \"IT <it@x.example>\" is not an e-mail address such as it-service@stadt.example",
		// Settings left out are named at their section, "mail:".
		file + ":4: mail.from: must be set when mail.smtp_host is, for example \"Stadt Musterstadt <keyhall@stadt.example>\"",
		file + ":4: mail.password_file: must be set when mail.username is",
		file + ":5: mail.smtp_host: \"mail.example:25\": write the host name or address alone; put the port in mail.smtp_port",
		file + ":6: mail.smtp_port: must be from 1 to 65535, not 0",
		file + ":8: mail.starttls: \"sometimes\" is not one of auto, required, off",
		file + ":9: mail.timeout: must be longer than 0s, not 0s",
	}
	if got := problems(t, err); !reflect.DeepEqual(got, want) {
		t.Errorf("got\n%q\nwant\n%q", got, want)
	}
}
