package ldaptest_test

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/go-ldap/ldap/v3"

	"github.com/keyhall/keyhall/ldapsync/ldaptest"
)

func TestMain(m *testing.M) {
	defer ldaptest.StopSamba()
	m.Run()
}

// TestSamba: the fixture's domain controller answers over LDAPS with a
// certificate Go accepts, binds a person it created, gives AD's bind
// error data, and serves her by <GUID=…>.
func TestSamba(t *testing.T) {
	s := ldaptest.StartSamba(t)
	s.SetLockoutThreshold(t, 5) // with 0 (the default) Samba keeps no badPwdCount
	anna := s.CreateUser(t, "anna.fixture", "Anna!Passw0rd1", ldap.Attribute{Type: "displayName", Vals: []string{"Anna Fixture"}})
	if len(anna.GUID) != 36 {
		t.Fatalf("guid %q", anna.GUID)
	}
	c, err := s.Dial()
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Bind(anna.DN, "Anna!Passw0rd1"); err != nil {
		t.Fatalf("bind: %v", err)
	}
	err = c.Bind(anna.DN, "wrong")
	if !ldap.IsErrorWithCode(err, ldap.LDAPResultInvalidCredentials) || !strings.Contains(err.Error(), "data 52e") {
		t.Fatalf("wrong password: %v", err)
	}
	if n := s.BadPwdCount(t, anna.DN); n != 1 {
		t.Errorf("badPwdCount %d, want 1", n)
	}
	if got := s.Attr(t, "<GUID="+anna.GUID+">", "displayName"); got != "Anna Fixture" {
		t.Errorf("by GUID: %q", got)
	}
	if out, _ := exec.Command("pgrep", "-f", "samba: root").Output(); len(out) == 0 {
		t.Error("no samba process")
	}
}
