package ldapsync

import (
	"strings"
	"testing"
)

// TestCheckInChainAD: `directory check` against AD compares each mapped
// group's members, as Keyhall computes them (member attributes, nesting
// resolved in Keyhall), with what AD's in-chain rule finds: three levels
// of nesting agree, and a difference is named in a note.
func TestCheckInChainAD(t *testing.T) {
	d := newSambaDir(t).(*sambaDir)
	anna, bert, cora := d.create(t, "anna"), d.create(t, "bert"), d.create(t, "cora")
	g3 := d.group(t, "g3", cora.dn)
	g2 := d.group(t, "g2", bert.dn, g3.dn)
	g1 := d.group(t, "g1", anna.dn, g2.dn)
	cfg := d.config()
	cfg.Groups = []GroupMapping{{DN: g1.dn, Name: "rat"}}
	check := func() CheckReport {
		t.Helper()
		dir, err := NewDirectory(cfg.WithDefaults(), nil)
		if err != nil {
			t.Fatal(err)
		}
		r, err := dir.Check(t.Context())
		if err != nil {
			t.Fatalf("Check: %v (%+v)", err, r.Problems)
		}
		return r
	}
	r := check()
	if len(r.InChain) != 1 || r.InChain[0].Keyhall != 3 || r.InChain[0].AD != 3 || len(r.InChain[0].Missing) != 0 {
		t.Errorf("in-chain = %+v, want 3 and 3 members of rat", r.InChain)
	}
	for _, n := range r.Notes {
		if strings.Contains(n, "in-chain") {
			t.Errorf("note: %s", n)
		}
	}

	// A group nested in g3 outside the base DNs: AD's rule follows it,
	// Keyhall does not read it (only groups under the base DNs are read),
	// so the person in it is named.
	out := d.s.GroupAdd(t, d.outside, d.Name("aussen"))
	dora := d.create(t, "dora")
	d.s.AddMembers(t, out.DN, dora.dn)
	d.s.AddMembers(t, g3.dn, out.DN)
	r = check()
	if len(r.InChain) != 1 || r.InChain[0].AD != 4 || r.InChain[0].Keyhall != 3 ||
		len(r.InChain[0].Missing) != 1 || !strings.Contains(strings.ToLower(r.InChain[0].Missing[0]), strings.ToLower(dora.name)) {
		t.Errorf("in-chain after nesting outside the base = %+v", r.InChain)
	}
	noted := false
	for _, n := range r.Notes {
		noted = noted || strings.Contains(n, "in-chain rule finds 4 members, Keyhall 3")
	}
	if !noted {
		t.Errorf("no note of the difference: %q", r.Notes)
	}
}
