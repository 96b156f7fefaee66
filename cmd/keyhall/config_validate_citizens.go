package main

import (
	"fmt"
	"maps"
	"net/url"
	"slices"
	"time"
)

// minInactiveAfter and minSigninRetention bound citizens.inactive_after
// and retention.signins from below: shorter would delete people and
// records faster than anyone could notice a mistake in the setting.
const (
	minInactiveAfter   = 90 * 24 * time.Hour
	minSigninRetention = 24 * time.Hour
)

// validateCitizens checks citizens.*, retention.*, legal.* and each
// group's email_recovery.
func (c Config) validateCitizens(v *validator) {
	v.check("citizens.group", checkCanonical(c.Citizens.Group))
	if d := time.Duration(c.Citizens.InactiveAfter); d < minInactiveAfter {
		v.add("citizens.inactive_after", "must be at least %s (90 days), not %s", Duration(minInactiveAfter), c.Citizens.InactiveAfter)
	}
	if d := time.Duration(c.Retention.Signins); d < minSigninRetention {
		v.add("retention.signins", "must be at least %s, not %s", Duration(minSigninRetention), c.Retention.Signins)
	}
	for _, l := range []struct{ path, value string }{
		{"legal.imprint_url", c.Legal.ImprintURL}, {"legal.privacy_url", c.Legal.PrivacyURL},
	} {
		switch {
		case l.value != "":
			v.check(l.path, checkLegalURL(l.value))
		case c.Citizens.Enabled:
			v.add(l.path, "must be set when citizens.enabled is true: German law requires a link to the city's imprint and privacy notice on every page citizens see")
		}
	}
	if c.Citizens.Enabled && c.Mail.SMTPHost == "" {
		v.add("mail.smtp_host", "must be set when citizens.enabled is true: registration proves the address with a mailed link")
	}
	for _, name := range slices.Sorted(maps.Keys(c.Policy.Groups)) {
		g := c.Policy.Groups[name]
		if !g.EmailRecovery {
			continue
		}
		switch path := mapKeyPath("policy.groups", name) + ".email_recovery"; {
		case g.Level == "phr" || g.Level == "phrh" || g.Attestation != "" || len(g.AAGUIDs) > 0:
			v.add(path, "cannot be true for a group with a key policy (level phr or phrh, attestation or aaguids): a mailbox must not replace a security key")
		case g.Protected || g.ResetApproval:
			v.add(path, "cannot be true for a protected group or one whose resets need a second person: a mailbox would bypass that")
		case name == c.AdminGroup || slices.Contains(c.Admin.Roles.Admin, name) || slices.Contains(c.Admin.Roles.Helpdesk, name):
			v.add(path, "cannot be true for a group that gives a role on the IT desk: a mailbox must not open the console")
		}
	}
}

// checkLegalURL checks a link to the city's legal pages: an absolute
// https URL (http only for localhost).
func checkLegalURL(s string) error {
	u, err := url.Parse(s)
	if err != nil || u.Host == "" || u.Opaque != "" {
		return fmt.Errorf("%q is not an absolute URL such as https://www.stadt.example/impressum", s)
	}
	if u.Scheme != "https" && !(u.Scheme == "http" && u.Hostname() == "localhost") {
		return fmt.Errorf("%q must use https", s)
	}
	if u.User != nil {
		return fmt.Errorf("must not contain a user name or password")
	}
	return nil
}
