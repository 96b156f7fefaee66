package ldapsync_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/go-ldap/ldap/v3"

	"github.com/keyhall/keyhall/authn"
	"github.com/keyhall/keyhall/ldapsync/ldaptest"
)

// TestVerifyPasswordPpolicyGraceLogin: an OpenLDAP password past pwdMaxAge
// with grace logins left (pwdGraceAuthNLimit) still binds, on a grace
// login. Keyhall must not take that as a plain success and spend her grace
// logins silently until she is locked out of changing it: it refuses as
// "password must be changed" (which tells her to change it first), and the
// same expired password typed again is refused without a bind, so that one
// Keyhall sign-in spends at most one grace login and she keeps the rest to
// change it. Her new password lets her in.
func TestVerifyPasswordPpolicyGraceLogin(t *testing.T) {
	s := ldaptest.StartSlapd(t, ldaptest.SlapdOptions{})
	s.Modify(t, ldaptest.SlapdPolicyDN, map[string][]string{"pwdMaxAge": {"1"}, "pwdGraceAuthNLimit": {"3"}})
	anna, annaDN := bindSlapdPerson(t, s, ldaptest.SlapdPeopleDN, "anna", rightPW)
	time.Sleep(2500 * time.Millisecond)
	graceUsed := func() int {
		t.Helper()
		res, err := s.Root(t).Search(ldap.NewSearchRequest(annaDN, ldap.ScopeBaseObject, ldap.NeverDerefAliases, 0, 0, false,
			"(objectClass=*)", []string{"pwdGraceUseTime"}, nil))
		if err != nil || len(res.Entries) != 1 {
			t.Fatalf("read pwdGraceUseTime: %v", err)
		}
		return len(res.Entries[0].GetAttributeValues("pwdGraceUseTime"))
	}

	ctx := context.Background()
	v := newVerifier(t, bindSlapdConfig(s))
	for i := 1; i <= 3; i++ {
		if err := v.VerifyPassword(ctx, anna, rightPW); !errors.Is(err, authn.ErrPasswordMustChange) {
			t.Errorf("sign-in %d with her expired password: %v, want ErrPasswordMustChange", i, err)
		}
	}
	if n := graceUsed(); n != 1 {
		t.Errorf("three sign-ins with her expired password spent %d grace logins, want 1", n)
	}

	// She changes it (at a city computer); the policy now lets it live.
	s.Modify(t, ldaptest.SlapdPolicyDN, map[string][]string{"pwdMaxAge": {"3600"}})
	s.Modify(t, annaDN, map[string][]string{"userPassword": {"Neu!Passw0rt"}})
	if err := v.VerifyPassword(ctx, anna, "Neu!Passw0rt"); err != nil {
		t.Errorf("her new password: %v", err)
	}
}
