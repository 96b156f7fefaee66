package authn_test

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/keyhall/keyhall/authn"
)

func TestReplayedAssertionRefused(t *testing.T) {
	e := newEnv(t)
	anna := e.user("anna", authn.SourceLocal)
	d := e.addKey(anna, false, true, 10)
	opts, begun := e.beginKey(e.start("anna", authn.StepKey))
	resp := e.sign(d, opts, 11)
	p, err := e.si.FinishKey(e.ctx(), begun.PendingID, resp, client)
	e.wantDone(p, err, []string{"pop", "user", "mfa"}, authn.LevelPhr)

	// The same pending again: it was taken (single-use challenge).
	p, err = e.si.FinishKey(e.ctx(), begun.PendingID, resp, client)
	wantRefused(t, "second FinishKey on the same pending", p, err, authn.ReasonExpired)

	// The same assertion on a fresh ceremony: the challenge differs.
	_, fresh := e.beginKey(e.start("anna", authn.StepKey))
	p, err = e.si.FinishKey(e.ctx(), fresh.PendingID, resp, client)
	wantRefused(t, "replayed assertion on a new ceremony", p, err, authn.ReasonKeyRefused)
	wantCause(t, err, "verify assertion")
}

func TestClonedKeyRefusedAndFlagged(t *testing.T) {
	e := newEnv(t)
	anna := e.user("anna", authn.SourceLocal)
	d := e.addKey(anna, false, true, 10)
	for _, count := range []int64{10, 3} { // equal, then backwards
		opts, p := e.beginKey(e.start("anna", authn.StepKey))
		p, err := e.si.FinishKey(e.ctx(), p.PendingID, e.sign(d, opts, count), client)
		wantRefused(t, "sign count not moving forward", p, err, authn.ReasonKeyCloned)
	}
	list, _ := e.store.ListCredentials(e.ctx(), anna.ID)
	if !list[0].Cloned || list[0].SignCount != 10 {
		t.Errorf("key after a backwards count: cloned %t, count %d; want flagged, 10", list[0].Cloned, list[0].SignCount)
	}
	if ev := e.lastAudit(anna.ID); ev.Action != "credential.cloned" || ev.Details["credential"] != d.rec.ID {
		t.Errorf("last audit event %+v, want credential.cloned", ev)
	}
	// A flagged key is refused afterwards, even with a higher count; it is
	// no longer offered (fake ids take its place).
	opts, p := e.beginKey(e.start("anna", authn.StepKey))
	if strings.Contains(string(opts), b64(d.cred.ID)) {
		t.Errorf("the flagged key is still offered: %s", opts)
	}
	opts = replaceAllow(t, opts, d.cred.ID)
	p, err := e.si.FinishKey(e.ctx(), p.PendingID, e.sign(d, opts, 50), client)
	wantRefused(t, "flagged key", p, err, authn.ReasonKeyCloned)
}

func TestBackupEligibleMismatchRefused(t *testing.T) {
	e := newEnv(t)
	anna := e.user("anna", authn.SourceLocal)
	d := e.addKey(anna, false, true, 0) // registered as a hardware key
	d.auth.Options.BackupEligible, d.auth.Options.BackupState = true, true
	opts, p := e.beginKey(e.start("anna", authn.StepKey))
	p, err := e.si.FinishKey(e.ctx(), p.PendingID, e.sign(d, opts, 1), client)
	wantRefused(t, "BE flag set on a key registered without", p, err, authn.ReasonKeyRefused)
}

func TestTOTPReplayRefused(t *testing.T) {
	e := newEnv(t)
	anna := e.user("anna", authn.SourceLocal)
	secret, _ := e.addApp(anna)
	e.setPassword(anna, "korrekt Pferd Batterie", cheapArgon2) // the app needs a password after it
	code := e.code(secret, t0)
	p, err := e.si.VerifyTOTP(e.ctx(), e.start("anna", authn.StepTOTP).PendingID, code, client)
	if err != nil {
		t.Fatal(err)
	}
	p, err = e.si.VerifyTOTP(e.ctx(), e.start("anna", authn.StepTOTP).PendingID, code, client)
	wantRefused(t, "same code again", p, err, authn.ReasonCodeReused)
	// The code of the step before is also refused now (at or below).
	p, err = e.si.VerifyTOTP(e.ctx(), p.PendingID, e.code(secret, t0.Add(-30*time.Second)), client)
	wantRefused(t, "older step", p, err, authn.ReasonCodeReused)

	// Two sign-ins racing with the next code: exactly one wins.
	e.clock.Add(30 * time.Second)
	next := e.code(secret, e.clock.Now())
	pend := []authn.Progress{e.start("anna", authn.StepTOTP), e.start("anna", authn.StepTOTP)}
	errs := make([]error, 2)
	var wg sync.WaitGroup
	for i := range pend {
		wg.Go(func() { _, errs[i] = e.si.VerifyTOTP(e.ctx(), pend[i].PendingID, next, client) })
	}
	wg.Wait()
	if (errs[0] == nil) == (errs[1] == nil) {
		t.Fatalf("racing the same code: %v, %v; want exactly one success", errs[0], errs[1])
	}
	for _, err := range errs {
		if err != nil && reason(t, err) != authn.ReasonCodeReused {
			t.Errorf("loser: %v, want code reused", err)
		}
	}
}

func TestThrottle(t *testing.T) {
	e := newEnv(t)
	anna := e.user("anna", authn.SourceLocal)
	secret, _ := e.addApp(anna)
	e.setPassword(anna, "korrekt Pferd Batterie", cheapArgon2) // the app needs a password after it
	d := e.addKey(anna, false, true, 0)
	p := e.start("anna", authn.StepKey)
	wrong := func() string {
		if e.code(secret, t0) == "000000" {
			return "111111"
		}
		return "000000"
	}()
	var err error
	for range 10 {
		p, err = e.si.VerifyTOTP(e.ctx(), p.PendingID, wrong, client)
		wantRefused(t, "wrong code", p, err, authn.ReasonWrongCode)
	}
	p, err = e.si.VerifyTOTP(e.ctx(), p.PendingID, wrong, client)
	wantRefused(t, "11th wrong code", p, err, authn.ReasonThrottled)
	var se *authn.SignInError
	if errors.As(err, &se); se.RetryAfter <= 0 {
		t.Errorf("RetryAfter = %v, want > 0", se.RetryAfter)
	}
	// A right code is refused the same way while throttled.
	p, err = e.si.VerifyTOTP(e.ctx(), p.PendingID, e.code(secret, t0), client)
	wantRefused(t, "right code while throttled", p, err, authn.ReasonThrottled)
	// The key path stays open.
	opts, p2 := e.beginKey(e.start("anna", authn.StepKey))
	p2, err = e.si.FinishKey(e.ctx(), p2.PendingID, e.sign(d, opts, 0), client)
	e.wantDone(p2, err, []string{"pop", "user", "mfa"}, authn.LevelPhr)
	// After the window, codes are compared again; a right one takes its try back.
	e.clock.Add(15 * time.Minute)
	p, err = e.si.VerifyTOTP(e.ctx(), e.start("anna", authn.StepKey).PendingID, e.code(secret, e.clock.Now()), client)
	if err != nil {
		t.Fatalf("right code after the window: %v", err)
	}
	n, err := e.store.ThrottleCount(e.ctx(), "2fa:u:anna", e.clock.Now(), 15*time.Minute)
	if err != nil {
		t.Fatalf("ThrottleCount: %v", err)
	}
	if n != 0 {
		t.Errorf("count after a right code = %d, want 0", n)
	}
}

func TestThrottleCountsParallelGuesses(t *testing.T) {
	e := newEnv(t)
	anna := e.user("anna", authn.SourceLocal)
	e.addApp(anna)
	const n = 50
	pend := make([]authn.Progress, n)
	for i := range pend {
		pend[i] = e.start("anna", authn.StepTOTP)
	}
	var wg sync.WaitGroup
	reasons := make([]authn.Reason, n)
	for i := range pend {
		wg.Go(func() {
			// Different addresses, so only the account counter limits.
			c := authn.ClientInfo{Addr: "198.51.100." + string(rune('a'+i%26))}
			_, err := e.si.VerifyTOTP(e.ctx(), pend[i].PendingID, "999999x", c)
			var se *authn.SignInError
			if errors.As(err, &se) {
				reasons[i] = se.Reason
			}
		})
	}
	wg.Wait()
	got, err := e.store.ThrottleCount(e.ctx(), "2fa:u:anna", t0, 15*time.Minute)
	if err != nil || got != n {
		t.Errorf("ThrottleCount after %d parallel wrong codes = %d, %v; want %d", n, got, err, n)
	}
	throttled := 0
	for _, r := range reasons {
		if r == authn.ReasonThrottled {
			throttled++
		}
	}
	if throttled != n-10 {
		t.Errorf("%d of %d parallel guesses throttled, want %d", throttled, n, n-10)
	}
}

// TestThrottleParallelRightCode: a right code among 29 parallel wrong ones
// (each try on a pending sign-in of its own): at most 10 wrong codes are
// answered as wrong, the others as throttled, and every try but a stored
// right one is counted.
func TestThrottleParallelRightCode(t *testing.T) {
	e := newEnv(t)
	for round := range 3 {
		name := fmt.Sprintf("anna%d", round)
		u := e.user(name, authn.SourceLocal)
		secret, _ := e.addApp(u)
		e.setPassword(u, "korrekt Pferd Batterie", cheapArgon2) // the app needs a password after it
		right := e.code(secret, t0)
		wrong := "000000"
		if right == wrong {
			wrong = "111111"
		}
		const n = 30
		pend := make([]authn.Progress, n)
		for i := range pend {
			pend[i] = e.start(name, authn.StepTOTP)
		}
		reasons := make([]authn.Reason, n)
		var wg sync.WaitGroup
		for i := range pend {
			wg.Go(func() {
				code := wrong
				if i == round*7 {
					code = right
				}
				c := authn.ClientInfo{Addr: fmt.Sprintf("198.51.100.%d", i)}
				_, err := e.si.VerifyTOTP(e.ctx(), pend[i].PendingID, code, c)
				var se *authn.SignInError
				switch {
				case errors.As(err, &se):
					reasons[i] = se.Reason
				case err != nil:
					t.Errorf("try %d: %v", i, err)
				}
			})
		}
		wg.Wait()
		answered, rightStored := 0, reasons[round*7] == ""
		for _, r := range reasons {
			if r == authn.ReasonWrongCode {
				answered++
			}
		}
		if answered > 10 {
			t.Errorf("round %d: %d of %d parallel wrong codes answered as wrong, want at most 10 (%v)", round, answered, n-1, reasons)
		}
		want := n - 1
		if !rightStored {
			want = n
		}
		if got, err := e.store.ThrottleCount(e.ctx(), "2fa:u:"+name, t0, 15*time.Minute); err != nil || got != want {
			t.Errorf("round %d: ThrottleCount = %d, %v; want %d (right code stored: %t)", round, got, err, want, rightStored)
		}
	}
}

// TestThrottleRightCodeAmongParallelTries: once 15 wrong codes are
// counted, a right code sent among 14 more wrong ones, all at once, is
// refused as throttled like them, and all 30 tries are counted.
func TestThrottleRightCodeAmongParallelTries(t *testing.T) {
	e := newEnv(t)
	u := e.user("anna", authn.SourceLocal)
	secret, _ := e.addApp(u)
	right := e.code(secret, t0)
	wrong := "000000"
	if right == wrong {
		wrong = "111111"
	}
	try := func(codes []string) []authn.Reason {
		pend := make([]authn.Progress, len(codes))
		for i := range pend {
			pend[i] = e.start("anna", authn.StepTOTP)
		}
		reasons := make([]authn.Reason, len(codes))
		var wg sync.WaitGroup
		for i := range codes {
			wg.Go(func() {
				c := authn.ClientInfo{Addr: fmt.Sprintf("198.51.100.%d", i)}
				_, err := e.si.VerifyTOTP(e.ctx(), pend[i].PendingID, codes[i], c)
				if se := (*authn.SignInError)(nil); errors.As(err, &se) {
					reasons[i] = se.Reason
				}
			})
		}
		wg.Wait()
		return reasons
	}
	try(slices.Repeat([]string{wrong}, 15))
	second := append([]string{right}, slices.Repeat([]string{wrong}, 14)...)
	reasons := try(second)
	for i, r := range reasons {
		if r != authn.ReasonThrottled {
			t.Errorf("try %d (%s) after 15 wrong codes: %q, want throttled", i, second[i], r)
		}
	}
	if got, err := e.store.ThrottleCount(e.ctx(), "2fa:u:anna", t0, 15*time.Minute); err != nil || got != 30 {
		t.Errorf("ThrottleCount = %d, %v; want 30", got, err)
	}
}

func TestPasswordOnlyAfterPossession(t *testing.T) {
	e := newEnv(t)
	anna := e.user("anna", authn.SourceLocal)
	e.addKey(anna, false, false, 0)
	e.setPassword(anna, "korrekt Pferd Batterie", cheapArgon2)
	p := e.start("anna", authn.StepKey)
	p, err := e.si.VerifyPassword(e.ctx(), p.PendingID, "korrekt Pferd Batterie", client)
	wantRefused(t, "password before the key", p, err, authn.ReasonExpired)
	n, err := e.store.ThrottleCount(e.ctx(), "pwd:u:anna", t0, 15*time.Minute)
	if err != nil {
		t.Fatalf("ThrottleCount: %v", err)
	}
	if n != 0 {
		t.Errorf("a password try without a possession factor was counted (%d)", n)
	}
	// SwitchTo cannot skip to the password either.
	if _, err := e.si.SwitchTo(e.ctx(), e.start("anna", authn.StepKey).PendingID, authn.StepPassword); err == nil {
		t.Error("SwitchTo(password) succeeded")
	}
}

func TestExpiredPending(t *testing.T) {
	e := newEnv(t)
	anna := e.user("anna", authn.SourceLocal)
	d := e.addKey(anna, false, true, 0)
	opts, p := e.beginKey(e.start("anna", authn.StepKey))
	e.clock.Add(authn.PendingLifetime)
	p, err := e.si.FinishKey(e.ctx(), p.PendingID, e.sign(d, opts, 1), client)
	wantRefused(t, "finish after 5 minutes", p, err, authn.ReasonExpired)
	p, err = e.si.Restart(e.ctx(), []byte("short"))
	wantRefused(t, "a malformed pending id", p, err, authn.ReasonExpired)
}

// TestKeyAnsweringTwoTabsOutOfOrderNotFlagged: she signs in from two tabs
// (two ceremonies); her key answers tab A (count 11), then tab B (count
// 12), and B's finish reaches Keyhall first (A's POST was slow, or sent
// again). A's answer is refused (she tries again), but her key is not
// flagged as cloned: nobody but her ever held it, and her next sign-in
// with it works. A count lower than the one stored before a ceremony
// began still flags the key (TestClonedKeyRefusedAndFlagged).
func TestKeyAnsweringTwoTabsOutOfOrderNotFlagged(t *testing.T) {
	e := newEnv(t)
	anna := e.user("anna", authn.SourceLocal)
	d := e.addKey(anna, false, true, 10)
	optsA, pA := e.beginKey(e.start("anna", authn.StepKey))
	e.clock.Add(time.Second)
	optsB, pB := e.beginKey(e.start("anna", authn.StepKey))
	respA := e.sign(d, optsA, 11)
	respB := e.sign(d, optsB, 12)
	e.clock.Add(time.Second)
	if p, err := e.si.FinishKey(e.ctx(), pB.PendingID, respB, client); err != nil || p.Next != authn.StepDone {
		t.Fatalf("tab B: %v %v", p.Next, err)
	}
	e.clock.Add(time.Second)
	p, err := e.si.FinishKey(e.ctx(), pA.PendingID, respA, client)
	wantRefused(t, "tab A (her key, count 11 after 12)", p, err, authn.ReasonExpired)
	list, _ := e.store.ListCredentials(e.ctx(), anna.ID)
	if list[0].Cloned || list[0].SignCount != 12 {
		t.Errorf("her key after two tabs out of order: cloned %t, count %d; want not flagged, 12", list[0].Cloned, list[0].SignCount)
	}
	if ev := e.lastAudit(anna.ID); ev.Action == "credential.cloned" {
		t.Errorf("audited %+v for her own key", ev)
	}
	opts, p := e.beginKey(e.start("anna", authn.StepKey))
	if p, err = e.si.FinishKey(e.ctx(), p.PendingID, e.sign(d, opts, 13), client); err != nil || p.Next != authn.StepDone {
		t.Errorf("her next sign-in with her own key (count 13): %v %v; want done", p.Next, err)
	}

	// A ceremony begun after her last sign-in, answered with a lower
	// count: a clone; flagged.
	e.clock.Add(time.Minute)
	opts, p = e.beginKey(e.start("anna", authn.StepKey))
	p, err = e.si.FinishKey(e.ctx(), p.PendingID, e.sign(d, opts, 12), client)
	wantRefused(t, "count 12 after 13 stored before the ceremony began", p, err, authn.ReasonKeyCloned)
}
