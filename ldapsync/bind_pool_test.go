package ldapsync

import (
	"context"
	"testing"
	"time"

	"github.com/go-ldap/ldap/v3"

	"github.com/keyhall/keyhall/authn"
	"github.com/keyhall/keyhall/ldapsync/ldaptest"
)

// TestBindConnNotLeftBound: after a right password, the connection kept
// for the next bind is anonymous again: it cannot read what she can.
func TestBindConnNotLeftBound(t *testing.T) {
	s := ldaptest.StartSamba(t)
	v, err := NewVerifier([]Config{{Name: "ad", URL: s.URL, CAFile: s.CAFile, BindDN: s.AdminDN, BindPassword: s.AdminPassword,
		BaseDNs: []string{s.BaseDN}, Preset: PresetActiveDirectory, Timeout: 2 * time.Second}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	su := s.CreateUser(t, "pool.frida", "Richtig!Passw0rt")
	u := authn.User{ID: authn.NewID(), ExternalID: su.GUID, Username: su.Name, Source: authn.SourceDirectory, Directory: "ad"}
	if err := v.VerifyPassword(context.Background(), u, "Richtig!Passw0rt"); err != nil {
		t.Fatal(err)
	}
	var ic idleConn
	select {
	case ic = <-v.dirs["ad"].unbound:
	default:
		t.Fatal("no connection kept for the next bind")
	}
	defer ic.c.Close()
	res, err := ic.c.Search(ldap.NewSearchRequest(su.DN, ldap.ScopeBaseObject, ldap.NeverDerefAliases, 1, 5, false,
		"(objectClass=*)", []string{"sAMAccountName"}, nil))
	if err == nil {
		t.Fatalf("the kept connection is still bound as her: read %d entries", len(res.Entries))
	}
}
