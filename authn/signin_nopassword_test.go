package authn_test

import (
	"testing"

	"github.com/keyhall/keyhall/authn"
)

// withCitizens gives the group "buerger" the citizens' policy: no
// password (GroupPolicy.NoPassword), a key must verify the person.
func withCitizens(c *authn.SignInConfig) {
	c.Policy.Groups = map[string]authn.GroupPolicy{
		"buerger": {AllowTOTP: true, UserVerification: true, NoPassword: true},
		"rat":     {Level: authn.LevelMFA, AllowTOTP: true},
	}
}

// A citizen without a password signs in with her app's code alone, and
// with a recovery code alone (a recovery-only session); neither reaches
// the mfa level. Someone in a group that also asks for a password does not.
func TestNoPasswordGroupSignsInWithACodeAlone(t *testing.T) {
	e := newEnv(t, withCitizens)
	anna := e.user("anna@example.org", authn.SourceLocal)
	e.member(anna, "buerger")
	secret, _ := e.addApp(anna)
	codes := []string{"abcd-efgh-ijkl-mnop"}
	if err := e.store.ReplaceRecoveryCodes(e.ctx(), anna.ID, []authn.TokenHash{authn.HashRecoveryCode(codes[0])}, audit("recovery.replace", anna.ID)); err != nil {
		t.Fatal(err)
	}
	p := e.start("Anna@Example.org", authn.StepTOTP)
	p, err := e.si.VerifyTOTP(e.ctx(), p.PendingID, e.code(secret, t0), client)
	done := e.wantDone(p, err, []string{"otp"}, authn.LevelNone)
	if done.Session.RecoveryOnly {
		t.Error("an app sign-in is recovery-only")
	}

	p, err = e.si.SwitchTo(e.ctx(), e.start("anna@example.org", authn.StepTOTP).PendingID, authn.StepRecovery)
	if err != nil {
		t.Fatal(err)
	}
	p, err = e.si.VerifyRecoveryCode(e.ctx(), p.PendingID, codes[0], client)
	done = e.wantDone(p, err, []string{"otp"}, authn.LevelNone)
	if !done.Session.RecoveryOnly {
		t.Error("a recovery-code session is not RecoveryOnly")
	}
	if n, _ := e.store.CountRecoveryCodes(e.ctx(), anna.ID); n != 0 {
		t.Errorf("%d unused codes, want the code used up", n)
	}
	// Used up: refused the second time.
	p, _ = e.si.SwitchTo(e.ctx(), e.start("anna@example.org", authn.StepTOTP).PendingID, authn.StepRecovery)
	p, err = e.si.VerifyRecoveryCode(e.ctx(), p.PendingID, codes[0], client)
	wantRefused(t, "used recovery code", p, err, authn.ReasonWrongCode)

	// A citizen who is also on the council is asked for her password.
	bert := e.user("bert@example.org", authn.SourceLocal)
	e.member(bert, "buerger")
	e.member(bert, "rat")
	secret, _ = e.addApp(bert)
	p = e.start("bert@example.org", authn.StepTOTP)
	p, err = e.si.VerifyTOTP(e.ctx(), p.PendingID, e.code(secret, t0), client)
	wantRefused(t, "app code without a password in a group that needs one", p, err, authn.ReasonNoPassword)
}
