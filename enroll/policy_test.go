package enroll_test

import (
	"crypto/x509"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/keyhall/keyhall/authn"
	"github.com/keyhall/keyhall/enroll"
)

// TestCheckStoredKey: a group's key policy applied to a key as it is
// stored, at sign-in: the chain kept from registration must end in one of
// the group's roots (at the time of registration), the model must be on
// the group's list, a synced passkey is refused where the group refuses
// them; people in no group with a policy may use any key.
func TestCheckStoredKey(t *testing.T) {
	root, other := newRootCA(t, "Test Root"), newRootCA(t, "Other Root")
	now := time.Now()
	leaf := root.leaf(t, testAAGUID, now.AddDate(0, -1, 0), now.AddDate(5, 0, 0))
	shortLived := root.leaf(t, testAAGUID, now.AddDate(0, -1, 0), now.AddDate(0, 1, 0))
	policy := enroll.Policy{Default: enroll.DefaultKeyPolicy(), Groups: map[string]enroll.KeyPolicy{
		"rat":    {TrustedRoots: []*x509.Certificate{root.cert}, AAGUIDs: []uuid.UUID{testAAGUID}, RefuseSynced: true},
		"extern": {TrustedRoots: []*x509.Certificate{other.cert}},
	}}
	key := func(f func(*authn.Credential)) authn.Credential {
		c := authn.Credential{Kind: authn.KindWebAuthn, AAGUID: testAAGUID[:], AttestationFmt: "packed", CreatedAt: now,
			Attested: true, AttestationChain: leaf.cert.Raw}
		if f != nil {
			f(&c)
		}
		return c
	}
	for _, tc := range []struct {
		name   string
		groups []string
		c      authn.Credential
		ok     bool
	}{
		{"attested by rat's root", []string{"rat"}, key(nil), true},
		{"in no group with a policy", []string{"kantine"}, key(func(c *authn.Credential) { c.Attested, c.AttestationChain = false, nil }), true},
		{"not attested", []string{"rat"}, key(func(c *authn.Credential) { c.Attested, c.AttestationChain = false, nil }), false},
		{"chain kept but not attested", []string{"rat"}, key(func(c *authn.Credential) { c.Attested = false }), false},
		{"attested by another root", []string{"extern"}, key(nil), false},
		{"in both groups", []string{"extern", "rat"}, key(nil), false},
		{"model not on the list", []string{"rat"}, key(func(c *authn.Credential) { c.AAGUID = make([]byte, 16); c.AAGUID[0] = 1 }), false},
		{"fido-u2f: model from the certificate", []string{"rat"}, key(func(c *authn.Credential) { c.AAGUID, c.AttestationFmt = make([]byte, 16), "fido-u2f" }), true},
		{"synced passkey", []string{"rat"}, key(func(c *authn.Credential) { c.BackupEligible = true }), false},
		{"leaf expired since registration", []string{"rat"}, key(func(c *authn.Credential) { c.AttestationChain = shortLived.cert.Raw }), true},
		{"leaf not valid at registration", []string{"rat"}, key(func(c *authn.Credential) {
			c.AttestationChain, c.CreatedAt = shortLived.cert.Raw, now.AddDate(0, 2, 0)
		}), false},
		{"an app", []string{"rat"}, authn.Credential{Kind: authn.KindTOTP}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := policy.CheckStoredKey(tc.groups, tc.c)
			if (err == nil) != tc.ok {
				t.Errorf("CheckStoredKey = %v, want admitted %t", err, tc.ok)
			}
		})
	}
}

// TestNoAppWhereTheLevelRefusesIt: an app signs in at mfa, so where a
// group's level is phr or phrh it is not offered, whatever allow_totp
// says (sign-in would refuse it).
func TestNoAppWhereTheLevelRefusesIt(t *testing.T) {
	for _, tc := range []struct {
		level authn.Level
		app   bool
	}{{"", true}, {authn.LevelMFA, true}, {authn.LevelPhr, false}, {authn.LevelPhrh, false}} {
		p := enroll.Policy{Default: enroll.DefaultKeyPolicy(), Groups: map[string]enroll.KeyPolicy{
			"rat": {AllowTOTP: true, SignInLevel: tc.level},
		}}
		if got := p.For([]authn.Group{{Name: "rat"}}).AllowTOTP(); got != tc.app {
			t.Errorf("level %q with an app allowed: AllowTOTP() = %t, want %t", tc.level, got, tc.app)
		}
	}
	f := newFixture(t)
	ctx := t.Context()
	f.policy.Groups["hoch"] = enroll.KeyPolicy{AllowTOTP: true, TOTPAlone: true, SignInLevel: authn.LevelPhrh} // the service's map
	svc := f.svc
	hanna := f.withPassword(t, f.user(t, "hanna", "hoch"))
	inv, err := svc.Issue(ctx, hanna.ID, 0, "cli:root", "")
	must(t, err)
	pr, err := svc.Redeem(ctx, enroll.Redemption{Token: token(inv.Link)})
	must(t, err)
	if pr.Offer.App {
		t.Error("an app is offered at level phrh")
	}
	_, _, err = svc.BeginTOTP(ctx, pr.ID)
	wantReason(t, "an app at level phrh", err, enroll.ReasonTOTPForbidden)
}
