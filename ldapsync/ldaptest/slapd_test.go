package ldaptest

import (
	"testing"
	"time"

	"github.com/go-ldap/ldap/v3"
)

func TestSlapdStarts(t *testing.T) {
	start := time.Now()
	s := StartSlapd(t, SlapdOptions{LDIF: `dn: uid=anna,ou=people,dc=example,dc=org
objectClass: inetOrgPerson
uid: anna
cn: Anna
sn: A
`})
	t.Logf("slapd up in %v", time.Since(start))
	c, err := ldap.DialURL(s.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.StartTLS(s.TLSConfig()); err != nil {
		t.Fatalf("StartTLS: %v", err)
	}
	if err := c.Bind(SlapdSyncDN, SlapdSyncPassword); err != nil {
		t.Fatalf("bind as sync: %v", err)
	}
	if s.EntryUUID(t, "uid=anna,ou=people,dc=example,dc=org") == "" {
		t.Fatal("no entryUUID")
	}
	c2, err := ldap.DialURL(s.LDAPSURL, ldap.DialWithTLSConfig(s.TLSConfig()))
	if err != nil {
		t.Fatalf("ldaps: %v", err)
	}
	c2.Close()
}
