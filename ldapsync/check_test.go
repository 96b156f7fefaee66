package ldapsync_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/keyhall/keyhall/ldapsync"
	"github.com/keyhall/keyhall/ldapsync/ldaptest"
)

func checkDir(t *testing.T, cfg ldapsync.Config) (ldapsync.CheckReport, error) {
	t.Helper()
	d, err := ldapsync.NewDirectory(cfg, nil)
	if err != nil {
		t.Fatalf("NewDirectory: %v", err)
	}
	return d.Check(context.Background())
}

func TestCheckSlapd(t *testing.T) {
	s := ldaptest.StartSlapd(t, ldaptest.SlapdOptions{LDIF: slapdLDIF + "\n" + manyPeople(600)})
	r, err := checkDir(t, slapdConfig(s))
	if err != nil {
		t.Fatalf("Check of a good directory: %v\n%+v", err, r)
	}
	if !r.Connected || !r.Bound || r.TLS != "StartTLS" || len(r.Bases) != 2 {
		t.Fatalf("report = %+v", r)
	}
	// 600 + anna … gerd + "has space" (found by the filter, refused when mapped).
	if r.Bases[0].People != 608 || r.Bases[1].Groups != 5 {
		t.Errorf("bases = %+v, want 608 people under ou=people and 5 groups under ou=groups", r.Bases)
	}
	if len(r.Samples) != 3 || r.Samples[0].ExternalID == "" || r.Samples[0].Username == "" {
		t.Errorf("samples = %+v", r.Samples)
	}
	if len(r.Groups) != 2 || len(r.Groups[0].Found) != 1 || len(r.Groups[1].Found) != 1 {
		t.Errorf("groups = %+v", r.Groups)
	}

	otherCA := t.TempDir()
	if err := ldaptest.WriteTestCertificates(otherCA, "ca.pem", "c.pem", "k.pem"); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name   string
		change func(*ldapsync.Config)
		want   string
	}{
		{"wrong CA", func(c *ldapsync.Config) { c.CAFile = filepath.Join(otherCA, "ca.pem") }, "signed by a CA Keyhall does not trust"},
		{"wrong CA LDAPS", func(c *ldapsync.Config) {
			c.CAFile = filepath.Join(otherCA, "ca.pem")
			c.URL, c.StartTLS = s.LDAPSURL, false
		}, "signed by a CA Keyhall does not trust"},
		{"LDAPS to the plain port", func(c *ldapsync.Config) {
			c.URL, c.StartTLS = strings.Replace(s.URL, "ldap:", "ldaps:", 1), false
		}, "does not speak TLS on this port"},
		{"nobody listening", func(c *ldapsync.Config) { c.URL = "ldap://127.0.0.1:1" }, "no directory answers"},
		{"bind refused", func(c *ldapsync.Config) { c.BindPassword = "wrong" }, "refused cn=sync,dc=example,dc=org with its password (code 49)"},
		{"base DN missing", func(c *ldapsync.Config) { c.BaseDNs = []string{"ou=nothere,dc=example,dc=org"} }, "ou=nothere,dc=example,dc=org does not exist in the directory (code 32)"},
		{"filter finds nobody", func(c *ldapsync.Config) { c.UserFilter = "(objectClass=nonesuch)" }, "finds nobody under ou=people"},
		{"size limit", func(c *ldapsync.Config) { c.BindDN = ldaptest.SlapdLimitedDN }, "size limit: the directory lets cn=limited,dc=example,dc=org read only part"},
		{"missing attribute", func(c *ldapsync.Config) { c.Attributes.Username = "employeeNumber" }, "has the attribute employeeNumber (directory.attributes.username)"},
		{"mapped group missing", func(c *ldapsync.Config) { c.Groups[0].DN = "cn=gone,ou=groups,dc=example,dc=org" }, "directory.groups[0].dn: cn=gone,ou=groups,dc=example,dc=org does not exist"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := slapdConfig(s)
			cfg.Groups = append([]ldapsync.GroupMapping(nil), cfg.Groups...)
			tc.change(&cfg)
			r, err := checkDir(t, cfg)
			if err == nil {
				t.Fatalf("Check: no error; report %+v", r)
			}
			if !strings.Contains(strings.Join(r.Problems, "\n"), tc.want) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("problems = %q\nwant one containing %q", r.Problems, tc.want)
			}
			t.Log(r.Problems)
		})
	}
}

func TestCheckSlapdCertificateWithoutHost(t *testing.T) {
	s := ldaptest.StartSlapd(t, ldaptest.SlapdOptions{CertHosts: []string{"ldap.example.org"}})
	cfg := slapdConfig(s)
	cfg.Groups = nil
	r, err := checkDir(t, cfg)
	if err == nil || len(r.Problems) != 1 || !strings.Contains(r.Problems[0], `certificate is not made out for "127.0.0.1" (it names ldap.example.org)`) {
		t.Fatalf("Check = %v; problems %q", err, r.Problems)
	}
	t.Log(r.Problems)
}
