package ldapsync

import (
	"encoding/base64"
	"testing"
	"time"

	"github.com/go-ldap/ldap/v3"

	"github.com/keyhall/keyhall/authn"
)

func testDirectory(p Preset) *Directory {
	cfg := Config{Preset: p}.WithDefaults()
	return &Directory{cfg: cfg, now: time.Now}
}

func testEntry(dn string, attrs map[string]string) *ldap.Entry {
	e := &ldap.Entry{DN: dn}
	for k, v := range attrs {
		e.Attributes = append(e.Attributes, &ldap.EntryAttribute{Name: k, Values: []string{v}, ByteValues: [][]byte{[]byte(v)}})
	}
	return e
}

func TestMapPersonAD(t *testing.T) {
	guid, _ := base64.StdEncoding.DecodeString("t52RM3loHkeQro/Vp/kUUw==")
	d := testDirectory(PresetActiveDirectory)
	cases := []struct {
		name   string
		attrs  map[string]string
		check  func(Person) bool
		skip   bool
		withID bool
	}{
		{"enabled", map[string]string{"objectGUID": string(guid), "sAMAccountName": "MMuster", "userAccountControl": "512", "accountExpires": "9223372036854775807"},
			func(p Person) bool {
				return p.ExternalID == "33919db7-6879-471e-90ae-8fd5a7f91453" && p.Username == "mmuster" && !p.Disabled && p.ExpiresAt.IsZero()
			}, false, true},
		{"disabled", map[string]string{"objectGUID": string(guid), "sAMAccountName": "x", "userAccountControl": "514"},
			func(p Person) bool { return p.Disabled }, false, true},
		{"negative uac", map[string]string{"objectGUID": string(guid), "sAMAccountName": "x", "userAccountControl": "-2147483646"},
			func(p Person) bool { return p.Disabled }, false, true},
		{"expires never (0)", map[string]string{"objectGUID": string(guid), "sAMAccountName": "x", "accountExpires": "0"},
			func(p Person) bool { return p.ExpiresAt.IsZero() }, false, true},
		{"expired", map[string]string{"objectGUID": string(guid), "sAMAccountName": "x", "accountExpires": "133801632000000000"},
			func(p Person) bool { return p.ExpiresAt.Equal(time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)) }, false, true},
		{"no guid", map[string]string{"sAMAccountName": "x"}, nil, true, false},
		{"short guid", map[string]string{"objectGUID": "abc", "sAMAccountName": "x"}, nil, true, false},
		{"no username", map[string]string{"objectGUID": string(guid)}, nil, true, true},
		{"bad username", map[string]string{"objectGUID": string(guid), "sAMAccountName": "a b"}, nil, true, true},
		{"bad uac", map[string]string{"objectGUID": string(guid), "sAMAccountName": "x", "userAccountControl": "x"}, nil, true, true},
		{"bad expiry", map[string]string{"objectGUID": string(guid), "sAMAccountName": "x", "accountExpires": "soon"}, nil, true, true},
	}
	for _, c := range cases {
		p, reason := d.mapPerson(testEntry("CN=x,DC=ad", c.attrs))
		if (reason != "") != c.skip {
			t.Errorf("%s: skip reason %q, want skip %v", c.name, reason, c.skip)
			continue
		}
		if (p.ExternalID != "") != c.withID {
			t.Errorf("%s: ExternalID %q, want one: %v", c.name, p.ExternalID, c.withID)
		}
		if c.check != nil && !c.check(p) {
			t.Errorf("%s: %+v", c.name, p)
		}
	}
}

func FuzzMapPerson(f *testing.F) {
	guid, _ := base64.StdEncoding.DecodeString("t52RM3loHkeQro/Vp/kUUw==")
	f.Add(string(guid), "MMuster", "512", "0", "000001010000Z", "-1")
	f.Add("7f9c7e2e-1c2b-4f7e-9a51-3f0e3b2f8a11", "anna", "", "", "20250101120000Z", "20089")
	f.Add("", " ", "x", "-5", "z", "-3")
	f.Fuzz(func(t *testing.T, id, name, uac, expires, locked, shadow string) {
		for _, p := range []Preset{PresetActiveDirectory, PresetOpenLDAP} {
			d := testDirectory(p)
			a := d.cfg.Attributes
			attrs := map[string]string{a.ID: id, a.Username: name, "userAccountControl": uac, "accountExpires": expires,
				"pwdAccountLockedTime": locked, "shadowExpire": shadow}
			pp, reason := d.mapPerson(testEntry("cn=x", attrs))
			if reason != "" {
				continue
			}
			if pp.ExternalID == "" {
				t.Fatalf("%s: mapped without an id: %+v", p, pp)
			}
			if c, err := authn.CanonicalName(pp.Username); err != nil || c != pp.Username {
				t.Fatalf("%s: username %q not canonical", p, pp.Username)
			}
		}
	})
}

func FuzzShadowExpire(f *testing.F) {
	for _, s := range []string{"-1", "0", "20089", "x", "-2"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := parseShadowExpire(s)
		if err == nil && !got.IsZero() && got.Before(time.Unix(0, 0)) {
			t.Fatalf("parseShadowExpire(%q) = %v", s, got)
		}
	})
}

func TestClosureCycle(t *testing.T) {
	all := map[string]*dirGroup{
		"cn=a": {members: []string{"cn=b", "uid=1"}},
		"cn=b": {members: []string{"cn=c", "uid=2", "uid=1"}},
		"cn=c": {members: []string{"cn=a", "uid=3", "uid=outside"}},
	}
	people := map[string]string{"uid=1": "id1", "uid=2": "id2", "uid=3": "id3"}
	for _, k := range []string{"cn=a", "cn=b", "cn=c"} {
		if got := closure(k, all, people); len(got) != 3 || got[0] != "id1" || got[2] != "id3" {
			t.Errorf("closure(%s) = %v, want id1 id2 id3", k, got)
		}
	}
}
