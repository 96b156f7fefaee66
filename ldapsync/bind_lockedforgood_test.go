package ldapsync_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/keyhall/keyhall/authn"
	"github.com/keyhall/keyhall/ldapsync"
	"github.com/keyhall/keyhall/ldapsync/ldaptest"
)

// TestLockedForGoodForms: an administrator locks an OpenLDAP account for
// good with pwdAccountLockedTime 000001010000Z, which a tool may write with
// seconds or a fraction too (the same generalized time). The sync and the
// live check of a key sign-in read each form alike: she is disabled, not
// merely locked for now (which lets her key in).
func TestLockedForGoodForms(t *testing.T) {
	s := ldaptest.StartSlapd(t, ldaptest.SlapdOptions{})
	ctx := context.Background()
	cfg := bindSlapdConfig(s)
	d, err := ldapsync.NewDirectory(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i, form := range []string{"000001010000Z", "00000101000000Z", "00000101000000.0Z"} {
		u, dn := bindSlapdPerson(t, s, ldaptest.SlapdPeopleDN, "gone"+string(rune('a'+i)), rightPW)
		s.Modify(t, dn, map[string][]string{"pwdAccountLockedTime": {form}})
		if err := newVerifier(t, cfg).CheckAccount(ctx, u); !errors.Is(err, authn.ErrAccountDisabled) {
			t.Errorf("locked for good as %s: key sign-in %v, want ErrAccountDisabled", form, err)
		}
		snap, err := d.Read(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range snap.People {
			if p.ExternalID == u.ExternalID && !p.Inactive(time.Now()) {
				t.Errorf("locked for good as %s: the sync reads her as active", form)
			}
		}
	}
}
