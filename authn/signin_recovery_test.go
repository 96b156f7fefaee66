package authn_test

import (
	"sync"
	"testing"

	"github.com/keyhall/keyhall/authn"
)

// recoveryEnv is anna with a key, a password and two recovery codes.
func recoveryEnv(t *testing.T) (*env, authn.User, []string) {
	e := newEnv(t)
	anna := e.user("anna", authn.SourceLocal)
	e.addKey(anna, false, false, 0)
	e.setPassword(anna, "korrekt Pferd Batterie", cheapArgon2)
	codes := []string{"abcd-efgh-ijkl-mnop", "qrst-uvwx-yz23-4567"}
	hashes := []authn.TokenHash{authn.HashRecoveryCode(codes[0]), authn.HashRecoveryCode(codes[1])}
	if err := e.store.ReplaceRecoveryCodes(e.ctx(), anna.ID, hashes, audit("recovery.replace", anna.ID)); err != nil {
		t.Fatal(err)
	}
	return e, anna, codes
}

// codeStep starts a sign-in of name, switches to the recovery code and
// gives code; it wants the password step next.
func (e *env) codeStep(name, code string) authn.Progress {
	e.t.Helper()
	p, err := e.si.SwitchTo(e.ctx(), e.start(name, authn.StepKey).PendingID, authn.StepRecovery)
	if err != nil {
		e.t.Fatal(err)
	}
	p, err = e.si.VerifyRecoveryCode(e.ctx(), p.PendingID, code, client)
	if err != nil || p.Next != authn.StepPassword {
		e.t.Fatalf("VerifyRecoveryCode = %+v, %v", p, err)
	}
	return p
}

// A recovery code is used up only when the whole sign-in succeeds: a wrong
// password leaves it unused (no audit, the same code works again), and
// the right one uses it in the same write as the session.
func TestRecoveryCodeUsedOnlyAtCompletion(t *testing.T) {
	e, anna, codes := recoveryEnv(t)
	p := e.codeStep("anna", codes[0])
	p, err := e.si.VerifyPassword(e.ctx(), p.PendingID, "falsch", client)
	wantRefused(t, "wrong password", p, err, authn.ReasonWrongPassword)
	if n, err := e.store.CountRecoveryCodes(e.ctx(), anna.ID); err != nil || n != 2 {
		t.Errorf("after a wrong password %d unused codes, want 2 (read: %v)", n, err)
	}
	if ev := e.lastAudit(anna.ID); ev.Action == "recovery_code.use" {
		t.Error("a failed sign-in recorded the recovery code as used")
	}
	// The same code, a new sign-in, the right password.
	p = e.codeStep("anna", codes[0])
	p, err = e.si.VerifyPassword(e.ctx(), p.PendingID, "korrekt Pferd Batterie", client)
	p = e.wantDone(p, err, []string{"otp", "pwd", "mfa"}, authn.LevelMFA)
	if !p.Session.RecoveryOnly {
		t.Error("session is not RecoveryOnly")
	}
	if n, err := e.store.CountRecoveryCodes(e.ctx(), anna.ID); err != nil || n != 1 {
		t.Errorf("after the sign-in %d unused codes, want 1 (read: %v)", n, err)
	}
	evs, err := e.store.ListAudit(e.ctx(), authn.AuditFilter{})
	if err != nil {
		t.Fatal(err)
	}
	used := 0
	for _, ev := range evs {
		if ev.Action == "recovery_code.use" && ev.Subject == "user:"+anna.ID {
			used++
		}
	}
	if used != 1 {
		t.Errorf("%d recovery_code.use events, want 1", used)
	}
	// Used up: refused at its step.
	p, _ = e.si.SwitchTo(e.ctx(), e.start("anna", authn.StepKey).PendingID, authn.StepRecovery)
	p, err = e.si.VerifyRecoveryCode(e.ctx(), p.PendingID, codes[0], client)
	wantRefused(t, "used recovery code", p, err, authn.ReasonWrongCode)
}

// Sign-ins racing with one code, each with the right password: exactly
// one completes; the others go back to the recovery step.
func TestRecoveryCodeSingleUseInParallel(t *testing.T) {
	e, anna, codes := recoveryEnv(t)
	const n = 6
	pending := make([]authn.Progress, n)
	for i := range pending {
		pending[i] = e.codeStep("anna", codes[1])
	}
	var wg sync.WaitGroup
	results := make([]error, n)
	progs := make([]authn.Progress, n)
	for i := range pending {
		wg.Go(func() {
			progs[i], results[i] = e.si.VerifyPassword(e.ctx(), pending[i].PendingID, "korrekt Pferd Batterie", client)
		})
	}
	wg.Wait()
	done := 0
	for i, err := range results {
		switch {
		case err == nil && progs[i].Next == authn.StepDone:
			done++
		case reason(t, err) == authn.ReasonWrongCode && progs[i].Next == authn.StepRecovery:
		default:
			t.Errorf("try %d: %+v, %v", i, progs[i], err)
		}
	}
	if done != 1 {
		t.Errorf("%d sign-ins completed with one recovery code, want 1", done)
	}
	if c, err := e.store.CountRecoveryCodes(e.ctx(), anna.ID); err != nil || c != 1 {
		t.Errorf("%d unused codes, want 1 (read: %v)", c, err)
	}
}

// A person without a password is not led to a password page she cannot
// pass: a right app code, recovery code or key without user verification
// is refused with ReasonNoPassword, and the code stays unused.
func TestNoPasswordNoDeadEnd(t *testing.T) {
	e := newEnv(t)
	bea := e.user("bea", authn.SourceLocal)
	secret, _ := e.addApp(bea)
	if err := e.store.ReplaceRecoveryCodes(e.ctx(), bea.ID, []authn.TokenHash{authn.HashRecoveryCode("code-eins")}, audit("r", bea.ID)); err != nil {
		t.Fatal(err)
	}
	p := e.start("bea", authn.StepTOTP)
	p, err := e.si.VerifyTOTP(e.ctx(), p.PendingID, e.code(secret, e.clock.Now()), client)
	wantRefused(t, "app code without a password", p, err, authn.ReasonNoPassword)
	if p.Next != authn.StepTOTP {
		t.Errorf("after the refusal next is %s, want totp", p.Next)
	}
	p, _ = e.si.SwitchTo(e.ctx(), e.start("bea", authn.StepTOTP).PendingID, authn.StepRecovery)
	p, err = e.si.VerifyRecoveryCode(e.ctx(), p.PendingID, "code-eins", client)
	wantRefused(t, "recovery code without a password", p, err, authn.ReasonNoPassword)
	if n, err := e.store.CountRecoveryCodes(e.ctx(), bea.ID); err != nil || n != 1 {
		t.Errorf("%d unused codes, want 1 (read: %v)", n, err)
	}
	// A key without user verification needs the password too; with it,
	// she signs in.
	carl := e.user("carl", authn.SourceLocal)
	d := e.addKey(carl, false, false, 0)
	opts, p := e.beginKey(e.start("carl", authn.StepKey))
	p, err = e.si.FinishKey(e.ctx(), p.PendingID, e.sign(d, opts, 1), client)
	wantRefused(t, "key without UV, no password", p, err, authn.ReasonNoPassword)
	e.setPassword(carl, "korrekt Pferd Batterie", cheapArgon2)
	opts, p = e.beginKey(e.start("carl", authn.StepKey))
	p, err = e.si.FinishKey(e.ctx(), p.PendingID, e.sign(d, opts, 2), client)
	if err != nil || p.Next != authn.StepPassword {
		t.Fatalf("key without UV, with a password: %+v, %v", p, err)
	}
}
