package ldapsync

import (
	"context"
	"testing"

	"github.com/go-ldap/ldap/v3"
)

// TestReadADFromDomainRoot: a search from the domain root brings AD's
// continuation references (DomainDnsZones, ForestDnsZones,
// Configuration); the reader ignores them and the read stands.
func TestReadADFromDomainRoot(t *testing.T) {
	d := newSambaDir(t).(*sambaDir)
	anna := d.create(t, "anna")
	// The directory does send references for this search.
	refs := 0
	d.s.Admin(t, func(c *ldap.Conn) error {
		res, err := c.Search(ldap.NewSearchRequest(d.s.BaseDN, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases, 0, 0, false,
			"(&(objectClass=user)(objectCategory=person))", []string{"1.1"}, nil))
		if err != nil {
			return err
		}
		refs = len(res.Referrals)
		return nil
	})
	if refs == 0 {
		t.Fatal("the domain controller sent no continuation reference: the test tests nothing")
	}
	cfg := d.config()
	cfg.BaseDNs = []string{d.s.BaseDN}
	dir, err := NewDirectory(cfg.WithDefaults(), nil)
	if err != nil {
		t.Fatal(err)
	}
	snap, err := dir.Read(context.Background())
	if err != nil {
		t.Fatalf("Read from the domain root: %v", err)
	}
	found := false
	for _, p := range snap.People {
		found = found || p.ExternalID == anna.id
	}
	if !found {
		t.Errorf("anna is not in the read of %d people", len(snap.People))
	}
}
