package authn_test

import (
	"testing"
	"time"

	"github.com/keyhall/keyhall/authn"
)

// TestThrottlePasswordAndRecoveryCode: passwords and recovery codes are
// throttled as app codes are (TestThrottle): each wrong try is counted
// under the account's counter, the 11th within 15 minutes is refused as
// throttled, and so is the right answer while throttled, which then uses
// up nothing (the recovery code stays unused) and signs nobody in.
func TestThrottlePasswordAndRecoveryCode(t *testing.T) {
	const password, code = "korrekt Pferd Batterie", "abcd-efgh-ijkl-mnop"
	for _, tc := range []struct {
		name    string
		counter string // the account's 15-minute counter
		wrong   authn.Reason
		// at returns a pending sign-in at the step; try answers it.
		at  func(e *env, d *device) authn.Progress
		try func(e *env, id []byte, secret string) (authn.Progress, error)
		// right is the answer that would pass, wrongOne one that does not.
		right, wrongOne string
	}{{
		name: "password", counter: "pwd:u:anna", wrong: authn.ReasonWrongPassword,
		at: func(e *env, d *device) authn.Progress { // a key without UV leads to the password
			opts, p := e.beginKey(e.start("anna", authn.StepKey))
			p, err := e.si.FinishKey(e.ctx(), p.PendingID, e.sign(d, opts, -1), client)
			if err != nil || p.Next != authn.StepPassword {
				e.t.Fatalf("FinishKey = %+v, %v; want the password next", p, err)
			}
			return p
		},
		try: func(e *env, id []byte, pw string) (authn.Progress, error) {
			return e.si.VerifyPassword(e.ctx(), id, pw, client)
		},
		right: password, wrongOne: "falsches Pferd",
	}, {
		name: "recovery code", counter: "rc:u:anna", wrong: authn.ReasonWrongCode,
		at: func(e *env, _ *device) authn.Progress {
			p, err := e.si.SwitchTo(e.ctx(), e.start("anna", authn.StepKey).PendingID, authn.StepRecovery)
			if err != nil || p.Next != authn.StepRecovery {
				e.t.Fatalf("SwitchTo = %+v, %v", p, err)
			}
			return p
		},
		try: func(e *env, id []byte, c string) (authn.Progress, error) {
			return e.si.VerifyRecoveryCode(e.ctx(), id, c, client)
		},
		right: code, wrongOne: "zzzz-zzzz-zzzz-zzzz",
	}} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			anna := e.user("anna", authn.SourceLocal)
			d := e.addKey(anna, false, false, 0) // no UV: the password follows the key
			e.setPassword(anna, password, cheapArgon2)
			if err := e.store.ReplaceRecoveryCodes(e.ctx(), anna.ID, []authn.TokenHash{authn.HashRecoveryCode(code)}, audit("recovery.replace", anna.ID)); err != nil {
				t.Fatal(err)
			}
			count := func() int {
				t.Helper()
				n, err := e.store.ThrottleCount(e.ctx(), tc.counter, e.clock.Now(), 15*time.Minute)
				if err != nil {
					t.Fatalf("ThrottleCount(%s): %v", tc.counter, err)
				}
				return n
			}
			p := tc.at(e, d)
			var err error
			for i := range 10 {
				p, err = tc.try(e, p.PendingID, tc.wrongOne)
				wantRefused(t, "wrong try", p, err, tc.wrong)
				if n := count(); n != i+1 {
					t.Fatalf("after %d wrong tries the counter %s is %d", i+1, tc.counter, n)
				}
			}
			p, err = tc.try(e, p.PendingID, tc.wrongOne)
			wantRefused(t, "11th wrong try", p, err, authn.ReasonThrottled)
			p, err = tc.try(e, p.PendingID, tc.right)
			wantRefused(t, "right answer while throttled", p, err, authn.ReasonThrottled)
			if n, err := e.store.CountRecoveryCodes(e.ctx(), anna.ID); err != nil || n != 1 {
				t.Errorf("unused recovery codes after the throttled tries: %d, %v; want 1", n, err)
			}
			if n := count(); n < 12 {
				t.Errorf("counter %s after 12 tries: %d", tc.counter, n)
			}
			// After the window, the right answer passes.
			e.clock.Add(15 * time.Minute)
			if p, err = tc.try(e, tc.at(e, d).PendingID, tc.right); err != nil {
				t.Fatalf("right answer after the window: %v", err)
			}
		})
	}
}
