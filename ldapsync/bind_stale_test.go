package ldapsync_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/keyhall/keyhall/authn"
	"github.com/keyhall/keyhall/ldapsync/ldaptest"
)

// TestCheckAccountOutageKeepsRefusal: when the directory stops answering,
// its newest answer counts: a person it said was disabled stays refused,
// though an older answer said yes within max_staleness.
func TestCheckAccountOutageKeepsRefusal(t *testing.T) {
	s := ldaptest.StartSlapd(t, ldaptest.SlapdOptions{})
	v := newVerifier(t, bindSlapdConfig(s))
	c := &clock{t: time.Now()}
	v.Now = c.Now
	ctx := context.Background()
	u, dn := bindSlapdPerson(t, s, ldaptest.SlapdPeopleDN, "dora", rightPW)
	if err := v.CheckAccount(ctx, u); err != nil {
		t.Fatal(err)
	}
	s.Modify(t, dn, map[string][]string{"pwdAccountLockedTime": {"000001010000Z"}})
	c.Add(2 * time.Minute)
	if err := v.CheckAccount(ctx, u); !errors.Is(err, authn.ErrAccountDisabled) {
		t.Fatalf("live: %v", err)
	}
	s.Pause(t)
	defer s.Resume(t)
	c.Add(2 * time.Minute)
	cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := v.CheckAccount(cctx, u); err == nil {
		t.Errorf("directory paused: the last live answer said disabled, yet CheckAccount = nil (key sign-in allowed)")
	}
}

// TestVerifyPasswordExpiredNotBound: slapd binds a person whose
// shadowExpire has passed; Keyhall refuses her before it binds.
func TestVerifyPasswordExpiredNotBound(t *testing.T) {
	s := ldaptest.StartSlapd(t, ldaptest.SlapdOptions{})
	v := newVerifier(t, bindSlapdConfig(s))
	ctx := context.Background()
	u, dn := bindSlapdPerson(t, s, ldaptest.SlapdPeopleDN, "emil", rightPW)
	s.Modify(t, dn, map[string][]string{"shadowExpire": {"1"}})
	if err := v.CheckAccount(ctx, u); !errors.Is(err, authn.ErrAccountExpired) {
		t.Fatalf("CheckAccount: %v", err)
	}
	if err := v.VerifyPassword(ctx, u, rightPW); err == nil {
		t.Errorf("VerifyPassword of a person expired (shadowExpire passed) = nil: password sign-in allowed")
	}
}
