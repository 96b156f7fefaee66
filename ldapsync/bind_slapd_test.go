package ldapsync_test

import (
	"context"
	"errors"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/go-ldap/ldap/v3"

	"github.com/keyhall/keyhall/authn"
	"github.com/keyhall/keyhall/ldapsync"
	"github.com/keyhall/keyhall/ldapsync/ldaptest"
)

func bindSlapdConfig(s *ldaptest.Slapd) ldapsync.Config {
	return ldapsync.Config{
		Name: "ol", URL: s.LDAPSURL, CAFile: s.CAFile, BindDN: ldaptest.SlapdSyncDN, BindPassword: ldaptest.SlapdSyncPassword,
		BaseDNs: []string{ldaptest.SlapdPeopleDN}, Preset: ldapsync.PresetOpenLDAP,
		UserFilter: "(objectClass=inetOrgPerson)", Timeout: 2 * time.Second,
	}
}

// slapdPerson adds uid=name under dn's parent with password pw and
// returns how Keyhall holds her.
func bindSlapdPerson(t testing.TB, s *ldaptest.Slapd, parent, name, pw string) (authn.User, string) {
	dn := "uid=" + name + "," + parent
	s.Add(t, dn, map[string][]string{"objectClass": {"inetOrgPerson", "shadowAccount"}, "uid": {name},
		"cn": {name}, "sn": {name}, "userPassword": {pw}})
	return authn.User{ID: authn.NewID(), ExternalID: s.EntryUUID(t, dn), Username: name, Status: authn.StatusActive,
		Source: authn.SourceDirectory, Directory: "ol"}, dn
}

// pwdFailures is how many wrong passwords ppolicy counted for dn.
func pwdFailures(t testing.TB, s *ldaptest.Slapd, dn string) int {
	t.Helper()
	res, err := s.Root(t).Search(ldapSearch(dn, "pwdFailureTime"))
	if err != nil || len(res.Entries) != 1 {
		t.Fatalf("read pwdFailureTime: %v", err)
	}
	return len(res.Entries[0].GetAttributeValues("pwdFailureTime"))
}

// lockedTime is dn's pwdAccountLockedTime, "" when ppolicy has not locked it.
func lockedTime(t testing.TB, s *ldaptest.Slapd, dn string) string {
	t.Helper()
	res, err := s.Root(t).Search(ldapSearch(dn, "pwdAccountLockedTime"))
	if err != nil || len(res.Entries) != 1 {
		t.Fatalf("read pwdAccountLockedTime: %v", err)
	}
	return res.Entries[0].GetAttributeValue("pwdAccountLockedTime")
}

// TestVerifyPasswordSlapd: the same checks against OpenLDAP with ppolicy:
// found by entryUUID (escaped), bound once, locked and expired told apart.
func TestVerifyPasswordSlapd(t *testing.T) {
	s := ldaptest.StartSlapd(t, ldaptest.SlapdOptions{})
	v := newVerifier(t, bindSlapdConfig(s))
	ctx := context.Background()
	anna, annaDN := bindSlapdPerson(t, s, ldaptest.SlapdPeopleDN, "anna", rightPW)
	if err := v.VerifyPassword(ctx, anna, rightPW); err != nil {
		t.Fatalf("right password: %v", err)
	}
	for _, pw := range []string{"", "Falsch!1", "Falsch!1", "*"} {
		if err := v.VerifyPassword(ctx, anna, pw); !errors.Is(err, authn.ErrWrongPassword) {
			t.Fatalf("password %q: %v", pw, err)
		}
	}
	if n := pwdFailures(t, s, annaDN); n != 2 {
		t.Errorf("ppolicy counted %d failures, want 2 (empty and repeated ones not sent)", n)
	}
	for _, bad := range []string{"*", "*)(uid=*", "x)(|(objectClass=*)", "\x00", strings.ToUpper(anna.ExternalID)} {
		u := anna
		u.ExternalID = bad
		if err := v.VerifyPassword(ctx, u, rightPW); err == nil {
			t.Errorf("id %q signed in", bad)
		}
	}
	// Outside the base DN: not found.
	out, _ := bindSlapdPerson(t, s, ldaptest.SlapdOutsideDN, "otto", rightPW)
	if err := v.VerifyPassword(ctx, out, rightPW); !errors.Is(err, authn.ErrAccountDisabled) {
		t.Errorf("person outside the base DN: %v", err)
	}
	// Locked by ppolicy after 5 wrong passwords: the right one is refused
	// as locked.
	berta, bertaDN := bindSlapdPerson(t, s, ldaptest.SlapdPeopleDN, "berta", rightPW)
	for i := 0; i < 5; {
		// A slow answer under load is "unavailable", not counted by
		// ppolicy: try that password again.
		err := v.VerifyPassword(ctx, berta, "Falsch!"+string(rune('a'+i)))
		switch {
		case errors.Is(err, authn.ErrWrongPassword):
			i++
		case errors.Is(err, authn.ErrAccountLocked) && i >= 4:
			i = 5 // a lost answer, retried, was counted already
		case !errors.Is(err, authn.ErrDirectoryUnavailable):
			t.Fatalf("wrong password %d: %v", i+1, err)
		}
	}
	// ppolicy may write the lock just after its answer to the fifth bind.
	for deadline := time.Now().Add(10 * time.Second); lockedTime(t, s, bertaDN) == "" && time.Now().Before(deadline); {
		time.Sleep(50 * time.Millisecond)
	}
	if err := v.VerifyPassword(ctx, berta, rightPW); !errors.Is(err, authn.ErrAccountLocked) {
		t.Errorf("locked by ppolicy: %v", err)
	}
	// Locked for good, and expired: CheckAccount refuses her key.
	clara, claraDN := bindSlapdPerson(t, s, ldaptest.SlapdPeopleDN, "clara", rightPW)
	if err := v.CheckAccount(ctx, clara); err != nil {
		t.Fatalf("CheckAccount: %v", err)
	}
	s.Modify(t, claraDN, map[string][]string{"pwdAccountLockedTime": {"000001010000Z"}})
	if err := newVerifier(t, bindSlapdConfig(s)).CheckAccount(ctx, clara); !errors.Is(err, authn.ErrAccountDisabled) {
		t.Errorf("locked for good: %v", err)
	}
	s.Modify(t, bertaDN, map[string][]string{"shadowExpire": {"1"}})
	if err := newVerifier(t, bindSlapdConfig(s)).CheckAccount(ctx, berta); !errors.Is(err, authn.ErrAccountExpired) {
		t.Errorf("shadowExpire passed: %v", err)
	}
}

// BenchmarkVerifyPasswordSlapd: a password check by bind against the local
// slapd (target: ≤ 5 ms at the median).
func BenchmarkVerifyPasswordSlapd(b *testing.B) {
	s := ldaptest.StartSlapd(b, ldaptest.SlapdOptions{})
	v := newVerifier(b, bindSlapdConfig(s))
	u, _ := bindSlapdPerson(b, s, ldaptest.SlapdPeopleDN, "bench", rightPW)
	ctx := context.Background()
	var times []time.Duration
	for b.Loop() {
		start := time.Now()
		if err := v.VerifyPassword(ctx, u, rightPW); err != nil {
			b.Fatal(err)
		}
		times = append(times, time.Since(start))
	}
	sort.Slice(times, func(i, j int) bool { return times[i] < times[j] })
	b.ReportMetric(float64(times[len(times)/2].Microseconds())/1000, "ms-median")
}

func ldapSearch(dn string, attrs ...string) *ldap.SearchRequest {
	return ldap.NewSearchRequest(dn, ldap.ScopeBaseObject, ldap.NeverDerefAliases, 1, 10, false, "(objectClass=*)", attrs, nil)
}
