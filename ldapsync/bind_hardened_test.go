package ldapsync_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/keyhall/keyhall/authn"
	"github.com/keyhall/keyhall/ldapsync"
	"github.com/keyhall/keyhall/ldapsync/ldaptest"
)

// TestHardenedADFailsClosed: in a domain hardened as PingCastle and ANSSI
// advise (Authenticated Users removed from "Pre-Windows 2000 Compatible
// Access"), a service account that is an ordinary user cannot read
// userAccountControl or accountExpires. A person disabled in AD must not
// then be read as active, nor let in with her key: the read fails and
// names the cause, and the live checks refuse as "directory unavailable".
func TestHardenedADFailsClosed(t *testing.T) {
	s := ldaptest.StartSamba(t)
	svc := s.CreateUser(t, "hard-svc", rightPW)
	leaver := s.CreateUser(t, "hard-leaver", rightPW)
	staying := s.CreateUser(t, "hard-staying", rightPW)
	s.Disable(t, leaver.DN)
	s.Harden(t)

	cfg := adConfig(s)
	cfg.BindDN, cfg.BindPassword = svc.DN, rightPW
	cfg.BaseDNs = []string{s.UsersDN}
	ctx := context.Background()

	d, err := ldapsync.NewDirectory(cfg, quiet())
	if err != nil {
		t.Fatal(err)
	}
	snap, err := d.Read(ctx)
	if err == nil {
		t.Errorf("the read succeeded with %d people although userAccountControl was unreadable", len(snap.People))
	} else if !strings.Contains(err.Error(), "userAccountControl") || !strings.Contains(err.Error(), "Pre-Windows 2000") {
		t.Errorf("the read's error does not name the cause and the remedy: %v", err)
	}

	if rep, err := d.Check(ctx); err == nil || !strings.Contains(strings.Join(rep.Problems, "\n"), "cannot read userAccountControl") {
		t.Errorf("keyhall directory check does not name the cause: %v", err)
	}

	v := newVerifier(t, cfg)
	for _, u := range []ldaptest.SambaUser{leaver, staying} {
		if err := v.CheckAccount(ctx, dirUser(u)); !errors.Is(err, authn.ErrDirectoryUnavailable) {
			t.Errorf("key sign-in of %s: %v, want ErrDirectoryUnavailable", u.Name, err)
		}
		if err := v.VerifyPassword(ctx, dirUser(u), rightPW); !errors.Is(err, authn.ErrDirectoryUnavailable) {
			t.Errorf("password sign-in of %s: %v, want ErrDirectoryUnavailable", u.Name, err)
		}
	}
}
