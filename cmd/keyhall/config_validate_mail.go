package main

import (
	"fmt"
	"net/mail"
	"strings"
	"unicode"

	"github.com/keyhall/keyhall/enroll"
)

// maxSenderAddressLines is how many lines letter.sender_address may have:
// they fit the letter's information block.
const maxSenderAddressLines = 5

// validateLetterMail checks the letter's sender and help contacts and the
// SMTP settings. Mail settings other than smtp_host are checked only when
// smtp_host is set.
func (c Config) validateLetterMail(v *validator) {
	l := c.Letter
	v.check("letter.sender_name", checkPrintable(l.SenderName))
	if len(l.SenderAddress) > maxSenderAddressLines {
		v.add("letter.sender_address", "has %d lines; at most %d fit the letter", len(l.SenderAddress), maxSenderAddressLines)
	}
	for i, s := range l.SenderAddress {
		path := fmt.Sprintf("letter.sender_address[%d]", i)
		if strings.TrimSpace(s) == "" {
			v.add(path, "is empty; leave the line out")
		}
		v.check(path, checkPrintable(s))
	}
	v.check("letter.help_phone", checkPrintable(l.HelpPhone))
	if l.HelpEmail != "" {
		v.check("letter.help_email", checkAddressAlone(l.HelpEmail))
	}
	m := c.Mail
	if m.SMTPHost == "" {
		return
	}
	if strings.ContainsAny(m.SMTPHost, ":/ ") {
		v.add("mail.smtp_host", "%q: write the host name or address alone; put the port in mail.smtp_port", m.SMTPHost)
	}
	if m.SMTPPort < 1 || m.SMTPPort > 65535 {
		v.add("mail.smtp_port", "must be from 1 to 65535, not %d", m.SMTPPort)
	}
	switch enroll.StartTLS(m.StartTLS) {
	case enroll.StartTLSAuto, enroll.StartTLSRequired, enroll.StartTLSOff:
	default:
		v.add("mail.starttls", "%q is not one of auto, required, off", m.StartTLS)
	}
	if m.Timeout <= 0 {
		v.add("mail.timeout", "must be longer than 0s, not %s", m.Timeout)
	}
	if m.From == "" {
		v.add("mail.from", "must be set when mail.smtp_host is, for example \"Stadt Musterstadt <keyhall@stadt.example>\"")
	} else if a, err := mail.ParseAddress(m.From); err != nil || !strings.Contains(a.Address, "@") {
		v.add("mail.from", "%q is not an address such as \"Stadt Musterstadt <keyhall@stadt.example>\"", m.From)
	}
	switch {
	case m.Username != "" && m.PasswordFile == "":
		v.add("mail.password_file", "must be set when mail.username is")
	case m.Username == "" && m.PasswordFile != "":
		v.add("mail.username", "must be set when mail.password_file is")
	case m.PasswordFile != "":
		if _, err := readSecretFile(m.PasswordFile); err != nil {
			v.add("mail.password_file", "%s", err.Error())
		}
	}
}

// checkPrintable checks a line that is printed on a letter or in a mail.
func checkPrintable(s string) error {
	if strings.ContainsFunc(s, unicode.IsControl) {
		return fmt.Errorf("%q contains a control character", s)
	}
	return nil
}

// checkAddressAlone checks an e-mail address without a name.
func checkAddressAlone(s string) error {
	a, err := mail.ParseAddress(s)
	if err != nil || a.Name != "" || a.Address != s {
		return fmt.Errorf("%q is not an e-mail address such as it-service@stadt.example", s)
	}
	return nil
}
