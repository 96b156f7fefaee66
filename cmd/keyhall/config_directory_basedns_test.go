package main

import (
	"strings"
	"testing"
)

// TestLoadDirectoryConfigOverlappingBaseDNs: base DNs that overlap or
// repeat would find a person twice (and lock her out of the password
// check); the config is refused with the line and both settings named.
func TestLoadDirectoryConfigOverlappingBaseDNs(t *testing.T) {
	dir := t.TempDir()
	pw := writeFile(t, dir, "pw", "x")
	file := writeFile(t, dir, "keyhall.yaml", `directory:
  name: stadt
  preset: openldap
  url: ldaps://ldap.stadt.example
  bind_dn: cn=keyhall,dc=stadt,dc=example
  bind_password_file: `+pw+`
  base_dns:
    - dc=stadt,dc=example
    - ou=people,dc=stadt,dc=example
    - DC=Stadt, DC=Example
`)
	_, err := loadConfig(file, nil)
	if err == nil {
		t.Fatal("loaded")
	}
	got := strings.Join(problems(t, err), "\n")
	for _, want := range []string{
		`directory.base_dns[1]: "ou=people,dc=stadt,dc=example" lies under directory.base_dns[0] "dc=stadt,dc=example"`,
		`directory.base_dns[2]: "DC=Stadt, DC=Example" is directory.base_dns[0] again`,
	} {
		if !strings.Contains(got, want) {
			t.Errorf("missing problem %q in\n%s", want, got)
		}
	}
}
