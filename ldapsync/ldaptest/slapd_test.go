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

func TestSlapdHelpers(t *testing.T) {
	s := StartSlapd(t, SlapdOptions{})
	dn := "uid=bert,ou=people,dc=example,dc=org"
	s.Add(t, dn, map[string][]string{"objectClass": {"inetOrgPerson", "shadowAccount"}, "uid": {"bert"}, "cn": {"Bert"}, "sn": {"B"}})
	s.Modify(t, dn, map[string][]string{"mail": {"bert@example.org"}, "pwdAccountLockedTime": {"000001010000Z"}})
	s.AddLDIF(t, "dn: uid=cora,ou=people,dc=example,dc=org\nobjectClass: inetOrgPerson\nuid: cora\ncn: Cora\nsn: C\n")
	res, err := s.Root(t).Search(ldap.NewSearchRequest(SlapdPeopleDN, ldap.ScopeSingleLevel, ldap.NeverDerefAliases, 0, 0, false,
		"(objectClass=inetOrgPerson)", []string{"uid", "mail", "pwdAccountLockedTime"}, nil))
	if err != nil || len(res.Entries) != 2 {
		t.Fatalf("search: %v, %d entries", err, len(res.Entries))
	}
	for _, e := range res.Entries {
		if e.GetAttributeValue("uid") == "bert" && (e.GetAttributeValue("mail") != "bert@example.org" || e.GetAttributeValue("pwdAccountLockedTime") != "000001010000Z") {
			t.Errorf("bert after Modify: %v %v", e.GetAttributeValue("mail"), e.GetAttributeValue("pwdAccountLockedTime"))
		}
	}
	s.Delete(t, dn)
	if _, err := s.Root(t).Search(ldap.NewSearchRequest(dn, ldap.ScopeBaseObject, ldap.NeverDerefAliases, 0, 0, false, "(objectClass=*)", nil, nil)); !ldap.IsErrorWithCode(err, ldap.LDAPResultNoSuchObject) {
		t.Errorf("after Delete: %v", err)
	}
	s.Pause(t)
	c, err := ldap.DialURL(s.URL)
	if err != nil {
		t.Fatal(err)
	}
	c.SetTimeout(300 * time.Millisecond)
	if err := c.Bind(SlapdSyncDN, SlapdSyncPassword); err == nil {
		t.Error("bind to a paused slapd answered")
	}
	c.Close()
	s.Resume(t)
	s.Stop()
	if _, err := ldap.DialURL(s.URL); err == nil {
		t.Error("slapd still answers after Stop")
	}
}
