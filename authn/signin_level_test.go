package authn_test

import (
	"errors"
	"testing"

	"github.com/keyhall/keyhall/authn"
)

// TestKeyLevelFromAttestation: a key is a hardware key (amr hwk, acr phrh)
// only when registration verified its attestation against a trusted root;
// a key whose backup-eligible flag is clear but that was not attested (a
// software authenticator may leave the flag clear) is a proof of
// possession (RFC 8176 pop) at phr; a synced passkey stays swk at phr.
func TestKeyLevelFromAttestation(t *testing.T) {
	for _, tc := range []struct {
		name     string
		add      func(e *env, u authn.User) *device
		wantAMR  string
		wantACR  authn.Level
		phrhDoor authn.Reason // what a group at phrh says; "" = admitted
	}{
		{"attested, BE clear", func(e *env, u authn.User) *device { return e.addAttestedKey(u, true, nil) }, "hwk", authn.LevelPhrh, ""},
		{"not attested, BE clear", func(e *env, u authn.User) *device { return e.addKey(u, false, true, 0) }, "pop", authn.LevelPhr, authn.ReasonKeyNotAdmitted},
		{"BE set", func(e *env, u authn.User) *device { return e.addKey(u, true, true, 0) }, "swk", authn.LevelPhr, authn.ReasonKeyNotAdmitted},
		{"BE set, attested", func(e *env, u authn.User) *device {
			return e.addKeyAs(u, true, true, 0, func(c *authn.Credential) { c.Attested = true })
		}, "swk", authn.LevelPhr, authn.ReasonKeyNotAdmitted},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, withPolicy(map[string]authn.GroupPolicy{"rat": {Level: authn.LevelPhrh}}))
			anna, rita := e.user("anna", authn.SourceLocal), e.user("rita", authn.SourceLocal)
			e.member(rita, "rat")
			d := tc.add(e, anna)
			opts, p := e.beginKey(e.start("anna", authn.StepKey))
			p, err := e.si.FinishKey(e.ctx(), p.PendingID, e.sign(d, opts, 1), client)
			e.wantDone(p, err, []string{tc.wantAMR, "user", "mfa"}, tc.wantACR)

			d = tc.add(e, rita)
			opts, p = e.beginKey(e.start("rita", authn.StepKey))
			p, err = e.si.FinishKey(e.ctx(), p.PendingID, e.sign(d, opts, 1), client)
			if tc.phrhDoor == "" {
				e.wantDone(p, err, []string{tc.wantAMR, "user", "mfa"}, tc.wantACR)
			} else {
				wantRefused(t, "group at phrh", p, err, tc.phrhDoor)
			}
		})
	}
}

// refuseAll is a key policy that admits no key, standing in for a group's
// key policy in this package (enroll.Policy is the real one; its tests
// sign in through it).
type refuseAll struct{ calls *int }

func (r refuseAll) CheckStoredKey(groups []string, c authn.Credential) error {
	*r.calls++
	return errors.New("not this key")
}

// TestKeyPolicyAtSignIn: the groups' key policy is asked at every key
// sign-in, after the signature is right, and its refusal is a policy
// refusal.
func TestKeyPolicyAtSignIn(t *testing.T) {
	calls := 0
	e := newEnv(t, func(c *authn.SignInConfig) { c.KeyPolicy = refuseAll{&calls} })
	anna := e.user("anna", authn.SourceLocal)
	d := e.addAttestedKey(anna, true, nil)
	opts, p := e.beginKey(e.start("anna", authn.StepKey))
	p, err := e.si.FinishKey(e.ctx(), p.PendingID, e.sign(d, opts, 1), client)
	wantRefused(t, "key the key policy refuses", p, err, authn.ReasonKeyNotAdmitted)
	if calls != 1 {
		t.Errorf("key policy asked %d times, want 1", calls)
	}
}
