package main

import (
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/keyhall/keyhall/ldapsync"
	"github.com/keyhall/keyhall/ldapsync/ldaptest"
)

// TestDocsOpenLDAPExampleSyncs: the OpenLDAP configuration docs/directory.md
// shows, with only the server's address, its CA and the service account
// put in, reads the people and the groups of a directory laid out as it
// says (people in ou=people, groups in ou=groups): a city that copies it
// gets her groups.
func TestDocsOpenLDAPExampleSyncs(t *testing.T) {
	doc, err := os.ReadFile("../../docs/directory.md")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile("(?s)### OpenLDAP\n\n```yaml\n(.*?)```").FindSubmatch(doc)
	if m == nil {
		t.Fatal("docs/directory.md has no OpenLDAP example")
	}
	s := ldaptest.StartSlapd(t, ldaptest.SlapdOptions{LDIF: `dn: uid=anna,ou=people,dc=example,dc=org
objectClass: inetOrgPerson
uid: anna
cn: Anna Müller
sn: Müller

dn: cn=rat,ou=groups,dc=example,dc=org
objectClass: groupOfNames
cn: rat
member: uid=anna,ou=people,dc=example,dc=org
`})
	dir := t.TempDir()
	pw := writeFile(t, dir, "ldap-password", ldaptest.SlapdSyncPassword)
	var lines []string
	for _, l := range strings.Split(strings.ReplaceAll(string(m[1]), "dc=stadt,dc=example", "dc=example,dc=org"), "\n") {
		k, _, _ := strings.Cut(strings.TrimSpace(l), ":")
		switch k {
		case "url":
			l = "  url: " + s.URL + "\n  ca_file: " + s.CAFile
		case "bind_dn":
			l = "  bind_dn: " + ldaptest.SlapdSyncDN
		case "bind_password_file":
			l = "  bind_password_file: " + pw
		}
		lines = append(lines, l)
	}
	file := writeFile(t, dir, "keyhall.yaml", strings.Join(lines, "\n"))
	cfg, err := loadConfig(file, nil)
	if err != nil {
		t.Fatalf("the documented example does not load: %v", err)
	}
	lcs, err := cfg.ldapConfigs()
	if err != nil || len(lcs) != 1 {
		t.Fatalf("ldap configs: %v %+v", err, lcs)
	}
	d, err := ldapsync.NewDirectory(lcs[0], nil)
	if err != nil {
		t.Fatal(err)
	}
	snap, err := d.Read(t.Context())
	if err != nil {
		t.Fatalf("the documented example fails to read: %v", err)
	}
	if len(snap.People) != 1 || snap.People[0].Username != "anna" {
		t.Fatalf("people %+v, want anna", snap.People)
	}
	if len(snap.Groups) != 1 || snap.Groups[0].Name != "rat" || len(snap.Groups[0].Members) != 1 ||
		snap.Groups[0].Members[0] != snap.People[0].ExternalID {
		t.Errorf("groups %+v, want rat with anna", snap.Groups)
	}
}
