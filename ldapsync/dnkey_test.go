package ldapsync

import (
	"strings"
	"testing"

	"github.com/go-ldap/ldap/v3"
)

// TestDNKeyPlain: the fast path of dnKey (plainDN) gives what ParseDN
// gives for every DN it takes, and leaves the others to ParseDN.
func TestDNKeyPlain(t *testing.T) {
	for _, tc := range []struct {
		dn    string
		plain bool
	}{
		{"uid=anna,ou=people,dc=example,dc=org", true},
		{"CN=Anna Mueller,OU=Ratsmitglieder,DC=stadt,DC=de", true},
		{"CN=Anna Müller,OU=Ratsmitglieder,DC=stadt,DC=de", false},
		{"UID=Anna,OU=People,DC=example,DC=org", true},
		{"cn=a-b_c.d@e,o=x", true},
		{"2.5.4.3=anna,dc=org", true},
		{"uid=anna, ou=people", false},
		{"uid=anna ,ou=people", false},
		{"uid = anna,ou=people", false},
		{" uid=anna", false},
		{"uid=anna ", false},
		{`cn=Müller\, Anna,ou=people`, false},
		{`cn="Anna",ou=people`, false},
		{"cn=a+uid=b,ou=people", false},
		{"cn=a=b,ou=people", false},
		{"cn=#04024869,ou=people", false},
		{"cn=a;ou=people", false},
		{"cn=a\x00b,ou=people", false},
		{"ou=people", true},
		{"anna", false},
		{"cn=,ou=x", false},
		{"", false},
	} {
		if got := plainDN(tc.dn); got != tc.plain {
			t.Errorf("plainDN(%q) = %t, want %t", tc.dn, got, tc.plain)
		}
		if !tc.plain {
			continue
		}
		p, err := ldap.ParseDN(tc.dn)
		if err != nil {
			t.Errorf("ParseDN(%q): %v", tc.dn, err)
			continue
		}
		if want := strings.ToLower(p.String()); dnKey(tc.dn) != want {
			t.Errorf("dnKey(%q) = %q, ParseDN gives %q", tc.dn, dnKey(tc.dn), want)
		}
	}
	if dnKey("uid=Anna, OU=People") != dnKey("uid=anna,ou=people") {
		t.Error("one DN in two forms has two keys")
	}
}
