package ldapsync_test

import (
	"context"
	"testing"

	"github.com/keyhall/keyhall/ldapsync"
	"github.com/keyhall/keyhall/ldapsync/ldaptest"
)

// TestVerifierOverlappingBaseDNs: should base DNs that overlap reach the
// Verifier (the whole tree and a branch of it; the same DN in other case)
// — Validate refuses them — a person found under both is still one
// person: her right password and her key sign-in are let in, not refused
// as "2 entries have the id".
func TestVerifierOverlappingBaseDNs(t *testing.T) {
	s := ldaptest.StartSlapd(t, ldaptest.SlapdOptions{})
	anna, _ := bindSlapdPerson(t, s, ldaptest.SlapdPeopleDN, "anna", rightPW)
	ctx := context.Background()
	for _, bases := range [][]string{
		{"dc=example,dc=org", ldaptest.SlapdPeopleDN},
		{ldaptest.SlapdPeopleDN, "OU=People,DC=Example,DC=org"},
	} {
		cfg := bindSlapdConfig(s)
		cfg.BaseDNs = bases
		if err := cfg.WithDefaults().Validate(); err == nil {
			t.Errorf("base DNs %q accepted", bases)
		}
		v := newVerifier(t, cfg)
		if err := v.VerifyPassword(ctx, anna, rightPW); err != nil {
			t.Errorf("base DNs %q: right password refused: %v", bases, err)
		}
		if err := v.CheckAccount(ctx, anna); err != nil {
			t.Errorf("base DNs %q: key sign-in refused: %v", bases, err)
		}
	}
	_ = ldapsync.PresetOpenLDAP
}
