package ldapsync_test

import (
	"context"
	"testing"

	"github.com/keyhall/keyhall/ldapsync"
	"github.com/keyhall/keyhall/ldapsync/ldaptest"
)

// TestGroupsOutsideBaseDNs: the people's OU is the base DN and the groups
// live in another branch, as in most directories. A group mapped by DN is
// read where it is; groups mapped by filter are found under
// group_base_dns. Neither fails the read or imports nothing.
func TestGroupsOutsideBaseDNs(t *testing.T) {
	s := ldaptest.StartSlapd(t, ldaptest.SlapdOptions{})
	anna, annaDN := bindSlapdPerson(t, s, ldaptest.SlapdPeopleDN, "anna", rightPW)
	gdn := "cn=kreistag," + ldaptest.SlapdGroupsDN
	s.Add(t, gdn, map[string][]string{"objectClass": {"groupOfNames"}, "cn": {"kreistag"}, "member": {annaDN}})
	ctx := context.Background()
	read := func(what string, cfg ldapsync.Config) ldapsync.Snapshot {
		t.Helper()
		d, err := ldapsync.NewDirectory(cfg, nil)
		if err != nil {
			t.Fatal(err)
		}
		snap, err := d.Read(ctx)
		if err != nil {
			t.Fatalf("%s: the read failed: %v", what, err)
		}
		return snap
	}
	hasAnna := func(what string, snap ldapsync.Snapshot) {
		t.Helper()
		for _, g := range snap.Groups {
			if g.Name == "kreistag" && len(g.Members) == 1 && g.Members[0] == anna.ExternalID {
				return
			}
		}
		t.Errorf("%s: groups %+v, want kreistag with anna", what, snap.Groups)
	}

	byDN := bindSlapdConfig(s)
	byDN.Groups = []ldapsync.GroupMapping{{DN: gdn, Name: "kreistag"}}
	hasAnna("by DN outside base_dns", read("by DN", byDN))

	byFilter := bindSlapdConfig(s)
	byFilter.GroupBaseDNs = []string{ldaptest.SlapdGroupsDN}
	byFilter.Groups = []ldapsync.GroupMapping{{Filter: "(objectClass=groupOfNames)"}}
	hasAnna("by filter under group_base_dns", read("by filter", byFilter))

	byFilter.Groups = []ldapsync.GroupMapping{{DN: gdn, Name: "kreistag"}}
	hasAnna("by DN under group_base_dns", read("by DN under group_base_dns", byFilter))
}
