package enroll_test

import (
	"crypto/x509"
	"errors"
	"log/slog"
	"slices"
	"testing"

	"github.com/descope/virtualwebauthn"
	"github.com/google/uuid"

	"github.com/keyhall/keyhall/authn"
	"github.com/keyhall/keyhall/enroll"
)

// enrolledKey is a key registered through the enrollment service, with
// what it takes to sign in with it.
type enrolledKey struct {
	reg  keyReg
	cred virtualwebauthn.Credential
	auth virtualwebauthn.Authenticator
}

// enrollKeys invites u and registers regs in one enrollment, each with a
// key of its own; every one must be accepted.
func (f *fixture) enrollKeys(t *testing.T, u authn.User, regs ...keyReg) []enrolledKey {
	t.Helper()
	inv, err := f.svc.Issue(t.Context(), u.ID, 0, "cli:root", "")
	must(t, err)
	pr, err := f.svc.Redeem(t.Context(), enroll.Redemption{Token: token(inv.Link)})
	must(t, err)
	var out []enrolledKey
	for _, reg := range regs {
		reg.credKey = newKey(t)
		reg.credID = []byte(uuid.NewString())
		if _, pr, err = f.register(t, pr.ID, reg); err != nil {
			t.Fatalf("register %+v: %v", reg, err)
		}
		der, err := x509.MarshalPKCS8PrivateKey(reg.credKey)
		must(t, err)
		k := enrolledKey{reg: reg, cred: virtualwebauthn.NewCredentialWithImportedKey(virtualwebauthn.KeyTypeEC2, der)}
		k.cred.ID = reg.credID
		k.auth = virtualwebauthn.NewAuthenticatorWithOptions(virtualwebauthn.AuthenticatorOptions{
			UserHandle: []byte(u.ID), BackupEligible: reg.flags&flagBE != 0, BackupState: reg.flags&flagBE != 0,
		})
		k.auth.AddCredential(k.cred)
		out = append(out, k)
	}
	return out
}

// signIn signs username in with k through authn.SignIn, with the sign-in
// policy groups and the fixture's key policy held at sign-in too.
func (f *fixture) signIn(t *testing.T, si *authn.SignIn, username string, k enrolledKey, count uint32) (authn.Progress, error) {
	t.Helper()
	p, err := si.Start(t.Context(), username, "/account", authn.ClientInfo{Addr: "192.0.2.7"})
	must(t, err)
	opts, p, err := si.BeginKey(t.Context(), p.PendingID)
	must(t, err)
	o, err := virtualwebauthn.ParseAssertionOptions(string(opts))
	must(t, err)
	k.cred.Counter = count
	rp := virtualwebauthn.RelyingParty{Name: "Keyhall", ID: "localhost", Origin: origin}
	resp := virtualwebauthn.CreateAssertionResponse(rp, k.auth, k.cred, *o)
	return si.FinishKey(t.Context(), p.PendingID, []byte(resp), authn.ClientInfo{Addr: "192.0.2.7"})
}

func (f *fixture) newSignIn(t *testing.T, keyPolicy authn.KeyPolicy) *authn.SignIn {
	t.Helper()
	si, err := authn.NewSignIn(authn.SignInConfig{
		Store: f.store, RPID: "localhost", RPOrigin: origin, EncryptionKey: [32]byte{1, 2, 3},
		FakeIDKey: []byte("0123456789abcdef-fake-id-key"), Argon2: authn.Argon2Params{MemoryKiB: 64, Time: 1, Threads: 1},
		// rat's sign-in level is phr, so that where a member's key is
		// refused, its group's key policy refuses it, not the level.
		Policy:    authn.Policy{Groups: map[string]authn.GroupPolicy{"rat": {Level: authn.LevelPhr, UserVerification: true}}},
		KeyPolicy: keyPolicy, Logger: slog.New(slog.DiscardHandler), Now: f.clock.now,
	})
	must(t, err)
	return si
}

func wantSession(t *testing.T, what string, p authn.Progress, err error, amr string, acr authn.Level) {
	t.Helper()
	switch {
	case err != nil:
		t.Errorf("%s: refused: %v", what, err)
	case p.Next != authn.StepDone || p.Session.ACR != string(acr) || !slices.Equal(p.Session.AMR, []string{amr, "user", "mfa"}):
		t.Errorf("%s: next %s, amr %v, acr %q; want amr [%s user mfa], acr %q", what, p.Next, p.Session.AMR, p.Session.ACR, amr, acr)
	}
}

// TestHardwareKeyOnlyWhenAttested registers keys through enrollment and
// signs in with them: only a key whose attestation chain ends in a trusted
// root (here the test root of rat's policy) signs in as a hardware key
// (amr hwk, acr phrh), whoever registers it; a key that attests itself,
// none, or a chain to a root nobody trusts gets pop at phr however its
// backup-eligible flag reads; a synced passkey gets swk at phr.
func TestHardwareKeyOnlyWhenAttested(t *testing.T) {
	f := newFixture(t)
	other := newRootCA(t, "Nobody's Root")
	otherLeaf := other.leaf(t, testAAGUID, f.clock.now().AddDate(0, -1, 0), f.clock.now().AddDate(5, 0, 0))
	anna, rita := f.user(t, "anna"), f.user(t, "rita", "rat")
	si := f.newSignIn(t, f.policy)

	for _, tc := range []struct {
		name string
		reg  keyReg
		amr  string
		acr  authn.Level
	}{
		{"chain to a trusted root", f.attested(), "hwk", authn.LevelPhrh},
		{"self attestation", keyReg{aaguid: testAAGUID}, "pop", authn.LevelPhr},
		{"none", keyReg{aaguid: uuid.MustParse("01020304-0506-0708-0102-030405060708"), fmt: "none"}, "pop", authn.LevelPhr},
		{"chain to an untrusted root", keyReg{aaguid: testAAGUID, attest: &otherLeaf}, "pop", authn.LevelPhr},
		{"synced passkey", keyReg{fmt: "none", flags: flagUP | flagUV | flagAT | flagBE}, "swk", authn.LevelPhr},
	} {
		k := f.enrollKeys(t, anna, tc.reg)[0]
		p, err := f.signIn(t, si, "anna", k, 1)
		wantSession(t, tc.name, p, err, tc.amr, tc.acr)
	}
	k := f.enrollKeys(t, rita, f.attested())[0]
	p, err := f.signIn(t, si, "rita", k, 1)
	wantSession(t, "rat member with her attested key", p, err, "hwk", authn.LevelPhrh)
}

// TestGroupKeyPolicyAtSignIn: a person added to rat after registering a key
// rat's policy would have refused (no attestation by rat's root) cannot
// use it to sign in as a member of rat; a key that meets the policy still
// can. Without the key policy at sign-in, the first key would pass.
func TestGroupKeyPolicyAtSignIn(t *testing.T) {
	f := newFixture(t)
	anna := f.user(t, "anna")
	keys := f.enrollKeys(t, anna, keyReg{aaguid: testAAGUID}, f.attested())
	selfAttested, attested := keys[0], keys[1]
	si := f.newSignIn(t, f.policy)
	p, err := f.signIn(t, si, "anna", selfAttested, 1)
	wantSession(t, "before she joins rat", p, err, "pop", authn.LevelPhr)

	f.user(t, "rudi", "rat")
	rat, err := f.store.GetGroupByName(t.Context(), "rat")
	must(t, err)
	must(t, f.store.AddMember(t.Context(), rat.ID, anna.ID, authn.AuditEvent{Time: f.clock.now(), Actor: "test", Action: "group.add"}))

	p, err = f.signIn(t, si, "anna", selfAttested, 2)
	if se := (*authn.SignInError)(nil); !errors.As(err, &se) || se.Reason != authn.ReasonKeyNotAdmitted {
		t.Fatalf("member of rat with a key rat refuses: %+v, %v; want a policy refusal", p, err)
	}
	p, err = f.signIn(t, si, "anna", attested, 1)
	wantSession(t, "member of rat with a key rat admits", p, err, "hwk", authn.LevelPhrh)

	// The same sign-in without the key policy: the level (phr) alone
	// lets the self-attested key in.
	p, err = f.signIn(t, f.newSignIn(t, nil), "anna", selfAttested, 3)
	wantSession(t, "without the key policy at sign-in", p, err, "pop", authn.LevelPhr)
}
