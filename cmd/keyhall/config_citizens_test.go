package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestCheckConfigCitizens: check-config names each citizens' setting that
// cannot work: legal links and mail missing with citizens on, an
// inactive_after too short, and email_recovery on a group with a key
// policy, a protected group or one that gives a desk role (review of #15).
func TestCheckConfigCitizens(t *testing.T) {
	file := filepath.Join(t.TempDir(), "keyhall.yaml")
	yaml := `citizens:
  enabled: true
  inactive_after: 1h
legal:
  imprint_url: ftp://stadt.example/impressum
admin:
  roles:
    helpdesk: [it-service]
policy:
  groups:
    rat: {level: phrh, email_recovery: true}
    ausschuss: {protected: true, email_recovery: true}
    it-service: {email_recovery: true}
    keyhall-admins: {email_recovery: true}
    buerger: {email_recovery: true}
`
	if err := os.WriteFile(file, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	out := mustRun(t, nil, 2, "check-config", file)
	for _, want := range []string{"mail.smtp_host: must be set", "citizens.inactive_after: must be at least",
		"legal.privacy_url: must be set", "legal.imprint_url: \"ftp://stadt.example/impressum\" must use https",
		"policy.groups.rat.email_recovery: cannot be true for a group with a key policy",
		"policy.groups.ausschuss.email_recovery: cannot be true for a protected group",
		"policy.groups.it-service.email_recovery: cannot be true for a group that gives a role",
		"policy.groups.keyhall-admins.email_recovery: cannot be true for a group that gives a role"} {
		if !strings.Contains(out, want) {
			t.Errorf("check-config does not say %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "policy.groups.buerger") {
		t.Errorf("check-config refuses the citizens' group:\n%s", out)
	}
}
