package ldapsync_test

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/keyhall/keyhall/ldapsync"
	"github.com/keyhall/keyhall/ldapsync/ldaptest"
)

// slapdConfig is a Config reading s as the sync account over StartTLS.
func slapdConfig(s *ldaptest.Slapd) ldapsync.Config {
	return ldapsync.Config{
		Name:         "ol",
		URL:          s.URL,
		StartTLS:     true,
		CAFile:       s.CAFile,
		BindDN:       ldaptest.SlapdSyncDN,
		BindPassword: ldaptest.SlapdSyncPassword,
		BaseDNs:      []string{ldaptest.SlapdPeopleDN, ldaptest.SlapdGroupsDN},
		Preset:       ldapsync.PresetOpenLDAP,
		UserFilter:   "(&(objectClass=inetOrgPerson)(!(employeeType=external)))",
		Timeout:      3 * time.Second,
		Groups: []ldapsync.GroupMapping{
			{DN: "cn=Rat,ou=groups,dc=example,dc=org", Name: "rat"},
			{Filter: "(cn=fraktion-*)"},
		},
	}
}

func slapdPerson(uid string, extra ...string) string {
	return fmt.Sprintf("dn: uid=%s,ou=people,dc=example,dc=org\nobjectClass: inetOrgPerson\nobjectClass: shadowAccount\nuid: %s\ncn: %s Example\nsn: Example\n%s\n",
		uid, uid, uid, strings.Join(extra, "\n"))
}

// The directory of the slapd tests: rat holds anna directly, bert two
// groups down and carla three groups down (g1 ⊃ g2 ⊃ g3), with a cycle
// back to rat; otto (outside the base DNs) and xaver (not found by the user
// filter) are members but no people Keyhall reads.
var slapdLDIF = strings.Join([]string{
	slapdPerson("anna", "displayName: Anna Ärger", "mail: anna@example.org", "telephoneNumber: +49 251 1", "street: Prinzipalmarkt 1", "postalCode: 48143", "l: Münster"),
	slapdPerson("bert"),
	slapdPerson("carla"),
	slapdPerson("dora", "pwdAccountLockedTime: 000001010000Z"),
	slapdPerson("emil", "pwdAccountLockedTime: 20250101120000Z"),
	slapdPerson("fritz", "shadowExpire: 1"),
	slapdPerson("gerd", "shadowExpire: -1"),
	slapdPerson("xaver", "employeeType: external"),
	"dn: uid=has space,ou=people,dc=example,dc=org\nobjectClass: inetOrgPerson\nuid: has space\ncn: Space\nsn: Space\n",
	"dn: uid=otto,ou=outside,dc=example,dc=org\nobjectClass: inetOrgPerson\nuid: otto\ncn: Otto\nsn: O\n",
	"dn: cn=Rat,ou=groups,dc=example,dc=org\nobjectClass: groupOfNames\ncn: Rat\nmember: UID=Anna,OU=People,DC=example,DC=org\nmember: cn=g1,ou=groups,dc=example,dc=org\n",
	"dn: cn=g1,ou=groups,dc=example,dc=org\nobjectClass: groupOfNames\ncn: g1\nmember: cn=g2,ou=groups,dc=example,dc=org\n",
	"dn: cn=g2,ou=groups,dc=example,dc=org\nobjectClass: groupOfNames\ncn: g2\nmember: cn=g3,ou=groups,dc=example,dc=org\nmember: uid=bert,ou=people,dc=example,dc=org\n",
	"dn: cn=g3,ou=groups,dc=example,dc=org\nobjectClass: groupOfNames\ncn: g3\nmember: uid=carla,ou=people,dc=example,dc=org\nmember: cn=Rat,ou=groups,dc=example,dc=org\nmember: uid=otto,ou=outside,dc=example,dc=org\nmember: uid=xaver,ou=people,dc=example,dc=org\n",
	"dn: cn=fraktion-gruen,ou=groups,dc=example,dc=org\nobjectClass: groupOfUniqueNames\ncn: fraktion-gruen\nuniqueMember: uid=gerd,ou=people,dc=example,dc=org#'0101'B\nuniqueMember: uid=anna,ou=people,dc=example,dc=org\n",
}, "\n")

func readSlapd(t *testing.T, cfg ldapsync.Config) (ldapsync.Snapshot, error) {
	t.Helper()
	d, err := ldapsync.NewDirectory(cfg, nil)
	if err != nil {
		t.Fatalf("NewDirectory: %v", err)
	}
	return d.Read(context.Background())
}

func TestReadSlapd(t *testing.T) {
	s := ldaptest.StartSlapd(t, ldaptest.SlapdOptions{LDIF: slapdLDIF})
	snap, err := readSlapd(t, slapdConfig(s))
	if err != nil {
		t.Fatalf("Read: %v", err)
	}
	byName := map[string]ldapsync.Person{}
	var names []string
	for _, p := range snap.People {
		byName[p.Username] = p
		names = append(names, p.Username)
	}
	if want := []string{"anna", "bert", "carla", "dora", "emil", "fritz", "gerd"}; !slices.Equal(names, want) {
		t.Fatalf("people = %v, want %v (otto outside the base DN, xaver outside the filter, 'has space' skipped)", names, want)
	}
	if len(snap.Skipped) != 1 || !strings.Contains(snap.Skipped[0].DN, "has space") || snap.Skipped[0].ExternalID == "" {
		t.Errorf("skipped = %+v, want the entry with the bad username, with its id", snap.Skipped)
	}
	anna := byName["anna"]
	if want := s.EntryUUID(t, "uid=anna,ou=people,dc=example,dc=org"); anna.ExternalID != want {
		t.Errorf("anna's id = %q, want her entryUUID %q", anna.ExternalID, want)
	}
	if anna.DisplayName != "Anna Ärger" || anna.Email != "anna@example.org" || anna.Phone != "+49 251 1" ||
		!slices.Equal(anna.PostalAddress, []string{"Prinzipalmarkt 1", "48143 Münster"}) {
		t.Errorf("anna = %+v", anna)
	}
	if byName["bert"].DisplayName != "bert Example" {
		t.Errorf("bert's display name = %q, want cn where displayName is missing", byName["bert"].DisplayName)
	}
	now := time.Now()
	for _, c := range []struct {
		name             string
		disabled, locked bool
		inactive         bool
	}{
		{"anna", false, false, false},
		{"dora", true, false, true},   // 000001010000Z: locked for good
		{"emil", false, true, false},  // locked by the password policy for now
		{"fritz", false, false, true}, // shadowExpire 1: expired 1970-01-02
		{"gerd", false, false, false}, // shadowExpire -1: never
	} {
		p := byName[c.name]
		if p.Disabled != c.disabled || p.Locked != c.locked || p.Inactive(now) != c.inactive {
			t.Errorf("%s: disabled %v locked %v inactive %v; want %v %v %v", c.name, p.Disabled, p.Locked, p.Inactive(now), c.disabled, c.locked, c.inactive)
		}
	}
	if !byName["fritz"].ExpiresAt.Equal(time.Date(1970, 1, 2, 0, 0, 0, 0, time.UTC)) || !byName["gerd"].ExpiresAt.IsZero() {
		t.Errorf("expiry: fritz %v, gerd %v", byName["fritz"].ExpiresAt, byName["gerd"].ExpiresAt)
	}

	ids := func(names ...string) []string {
		var out []string
		for _, n := range names {
			out = append(out, byName[n].ExternalID)
		}
		slices.Sort(out)
		return out
	}
	if len(snap.Groups) != 2 {
		t.Fatalf("groups = %+v, want rat and fraktion-gruen (g1–g3 are not mapped)", snap.Groups)
	}
	fr, rat := snap.Groups[0], snap.Groups[1]
	if rat.Name != "rat" || rat.DN != "cn=Rat,ou=groups,dc=example,dc=org" || rat.ExternalID == "" || rat.DisplayName != "Rat" {
		t.Errorf("rat = %+v", rat)
	}
	if want := ids("anna", "bert", "carla"); !slices.Equal(rat.Members, want) {
		t.Errorf("rat's members = %v, want anna, bert (2 deep) and carla (3 deep) = %v", rat.Members, want)
	}
	if fr.Name != "fraktion-gruen" || !slices.Equal(fr.Members, ids("anna", "gerd")) {
		t.Errorf("fraktion-gruen = %+v, want anna and gerd (uniqueMember)", fr)
	}
}

func TestReadSlapdMappedGroupMissing(t *testing.T) {
	s := ldaptest.StartSlapd(t, ldaptest.SlapdOptions{LDIF: slapdLDIF})
	cfg := slapdConfig(s)
	cfg.Groups = append(cfg.Groups, ldapsync.GroupMapping{DN: "cn=gone,ou=groups,dc=example,dc=org", Name: "gone"})
	if snap, err := readSlapd(t, cfg); err == nil || !strings.Contains(err.Error(), "cn=gone") {
		t.Fatalf("Read = %d people, %v; want an error naming the missing group", len(snap.People), err)
	}
}

func manyPeople(n int) string {
	var b strings.Builder
	for i := range n {
		b.WriteString(slapdPerson(fmt.Sprintf("p%05d", i)))
		b.WriteString("\n")
	}
	return b.String()
}

func TestReadSlapdSizeLimit(t *testing.T) {
	s := ldaptest.StartSlapd(t, ldaptest.SlapdOptions{LDIF: manyPeople(600)})
	cfg := slapdConfig(s)
	cfg.Groups = nil
	cfg.PageSize = 1000
	snap, err := readSlapd(t, cfg)
	if err != nil || len(snap.People) != 600 {
		t.Fatalf("sync account: %d people, %v; want 600", len(snap.People), err)
	}
	cfg.BindDN = ldaptest.SlapdLimitedDN // slapd's size limit 500
	snap, err = readSlapd(t, cfg)
	if err == nil {
		t.Fatalf("account limited to 500: read %d people without error; want code 4", len(snap.People))
	}
	if !strings.Contains(err.Error(), "size limit") {
		t.Errorf("error %q does not name the size limit", err)
	}
	t.Log(err)
}

func TestReadSlapdPaused(t *testing.T) {
	s := ldaptest.StartSlapd(t, ldaptest.SlapdOptions{LDIF: slapdLDIF})
	for _, tc := range []struct {
		name string
		cfg  func(*ldapsync.Config)
	}{
		{"StartTLS", func(*ldapsync.Config) {}},
		{"LDAPS", func(c *ldapsync.Config) { c.URL = s.LDAPSURL; c.StartTLS = false }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := slapdConfig(s)
			tc.cfg(&cfg)
			if _, err := readSlapd(t, cfg); err != nil {
				t.Fatalf("Read before the pause: %v", err)
			}
			s.Pause(t)
			defer s.Resume(t)
			start := time.Now()
			snap, err := readSlapd(t, cfg)
			took := time.Since(start)
			if err == nil {
				t.Fatalf("Read of a paused slapd returned %d people and no error", len(snap.People))
			}
			t.Logf("failed after %v: %v", took.Round(time.Millisecond), err)
			if limit := cfg.Timeout + 2*time.Second; took > limit || took > 30*time.Second {
				t.Fatalf("Read took %v, want < %v", took, limit)
			}
		})
	}
}

func TestReadSlapdTLS(t *testing.T) {
	s := ldaptest.StartSlapd(t, ldaptest.SlapdOptions{LDIF: slapdLDIF})
	other := t.TempDir()
	if err := ldaptest.WriteTestCertificates(other, "ca.pem", "c.pem", "k.pem"); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		cfg  func(*ldapsync.Config)
	}{
		{"StartTLS", func(*ldapsync.Config) {}},
		{"LDAPS", func(c *ldapsync.Config) { c.URL = s.LDAPSURL; c.StartTLS = false }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := slapdConfig(s)
			tc.cfg(&cfg)
			cfg.CAFile = filepath.Join(other, "ca.pem")
			_, err := readSlapd(t, cfg)
			if err == nil || !strings.Contains(err.Error(), "certificate signed by unknown authority") {
				t.Fatalf("Read with a CA that did not sign the server's certificate: %v", err)
			}
			t.Log(err)
		})
	}
	t.Run("plain ldap refused", func(t *testing.T) {
		cfg := slapdConfig(s)
		cfg.StartTLS = false
		cfg.URL = strings.Replace(s.URL, "127.0.0.1", "localhost", 1)
		if _, err := ldapsync.NewDirectory(cfg, nil); err == nil || !strings.Contains(err.Error(), "plain text") {
			t.Fatalf("NewDirectory with ldap:// without StartTLS: %v", err)
		}
	})
	t.Run("plain ldap to 127.0.0.1 when asked", func(t *testing.T) {
		cfg := slapdConfig(s)
		cfg.StartTLS, cfg.InsecurePlaintext = false, true
		if snap, err := readSlapd(t, cfg); err != nil || len(snap.People) == 0 {
			t.Fatalf("Read: %d people, %v", len(snap.People), err)
		}
	})
}

func TestReadSlapdCancelled(t *testing.T) {
	s := ldaptest.StartSlapd(t, ldaptest.SlapdOptions{LDIF: slapdLDIF})
	d, err := ldapsync.NewDirectory(slapdConfig(s), nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if snap, err := d.Read(ctx); err == nil {
		t.Fatalf("Read with a cancelled context: %d people, no error", len(snap.People))
	}
}

// TestReadSlapdPausedMidRead stops slapd with SIGSTOP while the reader is
// between pages: the read fails within the request timeout, with no
// snapshot.
func TestReadSlapdPausedMidRead(t *testing.T) {
	path := writeLoadLDIF(t, 20_000, 10)
	s := ldaptest.StartSlapd(t, ldaptest.SlapdOptions{LDIFFile: path})
	cfg := slapdConfig(s)
	cfg.UserFilter = "(objectClass=inetOrgPerson)"
	cfg.PageSize = 50
	cfg.Groups = nil
	d, err := ldapsync.NewDirectory(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	type result struct {
		snap ldapsync.Snapshot
		err  error
		at   time.Time
	}
	done := make(chan result, 1)
	go func() {
		snap, err := d.Read(context.Background())
		done <- result{snap, err, time.Now()}
	}()
	time.Sleep(300 * time.Millisecond)
	s.Pause(t)
	paused := time.Now()
	defer s.Resume(t)
	r := <-done
	if r.at.Before(paused) {
		t.Fatalf("the read finished (%d people, %v) before the pause; give the test more people", len(r.snap.People), r.err)
	}
	if r.err == nil || r.snap.People != nil {
		t.Fatalf("Read of a slapd paused mid-read = %d people, %v; want an error and no snapshot", len(r.snap.People), r.err)
	}
	took := r.at.Sub(paused)
	t.Logf("failed %v after the pause: %v", took.Round(time.Millisecond), r.err)
	if took > cfg.Timeout+2*time.Second {
		t.Fatalf("Read failed %v after the pause, want < %v", took, cfg.Timeout+2*time.Second)
	}
}
