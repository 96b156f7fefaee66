package authn_test

import (
	"testing"
	"time"

	"github.com/keyhall/keyhall/authn"
)

// annaWithEverything is a person with a key, a passkey, an app, recovery
// codes and a password, and the paths by which each signs her in.
type annaWithEverything struct {
	anna         authn.User
	key, passkey *device
	secret       []byte
	codes        []string
	count        int64
}

func newAnnaWithEverything(e *env) *annaWithEverything {
	a := &annaWithEverything{anna: e.user("anna", authn.SourceLocal), count: 10}
	a.key = e.addKey(a.anna, false, false, 1)
	a.passkey = e.addKey(a.anna, true, true, 0)
	a.secret, _ = e.addApp(a.anna)
	e.setPassword(a.anna, "korrekt Pferd Batterie", cheapArgon2)
	a.codes = []string{"abcd-efgh-ijkl-mnop", "qrst-uvwx-yz23-4567", "bcde-fghi-jkmn-pqrs", "cdef-ghij-kmnp-qrst"}
	var hashes []authn.TokenHash
	for _, c := range a.codes {
		hashes = append(hashes, authn.HashRecoveryCode(c))
	}
	if err := e.store.ReplaceRecoveryCodes(e.ctx(), a.anna.ID, hashes, audit("recovery.replace", a.anna.ID)); err != nil {
		e.t.Fatal(err)
	}
	return a
}

// paths runs each sign-in path with her factors, and returns each one's
// error (nil: the factor was accepted and the sign-in went on or was done).
func (a *annaWithEverything) paths(e *env) map[string]error {
	out := map[string]error{}
	a.count++
	opts, p, err := e.si.BeginKey(e.ctx(), e.start("anna", authn.StepKey).PendingID)
	if err == nil {
		_, err = e.si.FinishKey(e.ctx(), p.PendingID, e.sign(a.key, opts, a.count), client)
	}
	out["key with username"] = err
	opts, p, err = e.si.BeginPasskey(e.ctx(), "/", client)
	if err == nil {
		_, err = e.si.FinishKey(e.ctx(), p.PendingID, e.sign(a.passkey, opts, -1), client)
	}
	out["passkey"] = err
	// A new time step each time: a step is accepted once.
	e.clock.Add(time.Minute)
	p, err = e.si.SwitchTo(e.ctx(), e.start("anna", authn.StepKey).PendingID, authn.StepTOTP)
	if err == nil {
		_, err = e.si.VerifyTOTP(e.ctx(), p.PendingID, e.code(a.secret, e.clock.Now()), client)
	}
	out["app"] = err
	p, err = e.si.SwitchTo(e.ctx(), e.start("anna", authn.StepKey).PendingID, authn.StepRecovery)
	if err == nil {
		code := a.codes[0]
		a.codes = a.codes[1:]
		if p, err = e.si.VerifyRecoveryCode(e.ctx(), p.PendingID, code, client); err == nil {
			_, err = e.si.VerifyPassword(e.ctx(), p.PendingID, "korrekt Pferd Batterie", client)
		}
	}
	out["recovery code"] = err
	return out
}

// TestResetSuspendedFactorsDoNotSignIn: after IT's reset, none of her old
// keys, app or codes signs her in, on any path; they are kept (suspended)
// until she enrolls a new factor.
func TestResetSuspendedFactorsDoNotSignIn(t *testing.T) {
	e := newEnv(t)
	a := newAnnaWithEverything(e)
	for path, err := range a.paths(e) {
		if err != nil {
			t.Fatalf("before the reset, %s: %v", path, err)
		}
	}
	inv := authn.Invitation{ID: authn.NewID(), UserID: a.anna.ID, TokenHash: authn.HashToken("reset"), Purpose: authn.PurposeEnroll,
		CreatedBy: "cli:helpdesk", CreatedAt: e.clock.Now(), ExpiresAt: e.clock.Now().Add(time.Hour)}
	rep, err := e.store.ResetUser(e.ctx(), a.anna.ID, e.clock.Now(), inv, authn.TokenHash{1}, audit("user.reset", a.anna.ID))
	if err != nil {
		t.Fatal(err)
	}
	if rep.Keys != 2 || rep.Apps != 1 {
		t.Errorf("reset report %+v", rep)
	}
	for path, err := range a.paths(e) {
		if err == nil {
			t.Errorf("after the reset, her old factor signs in: %s", path)
			continue
		}
		if r := reason(t, err); r != authn.ReasonKeyRefused && r != authn.ReasonWrongCode {
			t.Errorf("after the reset, %s: %s, want a refused key or a wrong code", path, r)
		}
	}
	if sus, err := e.store.ListSuspendedCredentials(e.ctx(), a.anna.ID); err != nil || len(sus) != 3 {
		t.Errorf("suspended: %d, %v; want her 2 keys and her app", len(sus), err)
	}
}

// TestFrozenAccountRefused: a frozen person is told so after a right
// factor, on every path, and again after IT lifts it, signs in.
func TestFrozenAccountRefused(t *testing.T) {
	e := newEnv(t)
	a := newAnnaWithEverything(e)
	if _, err := e.store.FreezeUser(e.ctx(), a.anna.ID, e.clock.Now(), audit("user.frozen", a.anna.ID)); err != nil {
		t.Fatal(err)
	}
	for path, err := range a.paths(e) {
		if err == nil {
			t.Errorf("a frozen person signs in: %s", path)
			continue
		}
		if r := reason(t, err); r != authn.ReasonFrozen {
			t.Errorf("frozen, %s: %s (%v), want %s", path, r, err, authn.ReasonFrozen)
		}
	}
	if err := e.store.UnfreezeUser(e.ctx(), a.anna.ID, audit("user.unfrozen", a.anna.ID)); err != nil {
		t.Fatal(err)
	}
	for path, err := range a.paths(e) {
		if err != nil {
			t.Errorf("after the freeze is lifted, %s: %v", path, err)
		}
	}
}
