package ldapsync

import (
	"strings"
	"testing"
)

// TestValidateOverlappingBaseDNs: base DNs that overlap (the whole tree and
// a branch of it) or repeat (the same DN in other case or spacing) would
// find a person twice; the configuration is refused with the two settings
// named.
func TestValidateOverlappingBaseDNs(t *testing.T) {
	for _, c := range []struct {
		bases []string
		want  string // "" = valid
	}{
		{[]string{"OU=Staff,DC=example,DC=org", "OU=Rat,DC=example,DC=org"}, ""},
		{[]string{"OU=Staff,DC=example,DC=org", "OU=Staff2,DC=example,DC=org"}, ""},
		{[]string{"dc=example,dc=org", "ou=people,dc=example,dc=org"},
			`directory.base_dns[1]: "ou=people,dc=example,dc=org" lies under directory.base_dns[0] "dc=example,dc=org"`},
		{[]string{"OU=People,DC=example,DC=org", "DC=example,DC=org"},
			`directory.base_dns[0]: "OU=People,DC=example,DC=org" lies under directory.base_dns[1] "DC=example,DC=org"`},
		{[]string{"ou=people,dc=example,dc=org", "OU=People, DC=Example,DC=ORG"},
			`directory.base_dns[1]: "OU=People, DC=Example,DC=ORG" is directory.base_dns[0] again`},
	} {
		cfg := validConfig()
		cfg.BaseDNs = c.bases
		err := cfg.Validate()
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%q: refused: %v", c.bases, err)
		case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
			t.Errorf("%q: %v, want %q", c.bases, err, c.want)
		}
	}
}
