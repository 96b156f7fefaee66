package authn_test

import (
	"testing"
	"time"

	"github.com/keyhall/keyhall/authn"
)

// TestCloneRacingOwnerFlaggedOnSecondTry (review of fixes3): an attacker
// holds a clone of anna's key (same private key; it sets its own sign
// count). A script signs in with the clone every few seconds, its count
// always ahead, so each of anna's own sign-ins (a few seconds: PIN, touch)
// meets a count stored after her ceremony began: "overtaken". Her first
// such refusal is audited and harmless (two tabs out of order,
// TestKeyAnsweringTwoTabsOutOfOrderNotFlagged); her second within
// authn.OvertakenWindow flags the key as cloned, and the clone is out.
func TestCloneRacingOwnerFlaggedOnSecondTry(t *testing.T) {
	e := newEnv(t)
	anna := e.user("anna", authn.SourceLocal)
	d := e.addKey(anna, false, true, 10)
	keys, err := e.store.ListCredentials(e.ctx(), anna.ID)
	if err != nil || len(keys) != 1 {
		t.Fatalf("her keys: %v %v", keys, err)
	}
	clone := int64(1000)
	own := int64(10)
	for i, want := range []authn.Reason{authn.ReasonExpired, authn.ReasonKeyCloned} {
		opts, p := e.beginKey(e.start("anna", authn.StepKey)) // anna begins
		e.clock.Add(2 * time.Second)
		// the clone's scripted sign-in meanwhile
		co, cp := e.beginKey(e.start("anna", authn.StepKey))
		clone++
		if r, err := e.si.FinishKey(e.ctx(), cp.PendingID, e.sign(d, co, clone), client); err != nil || r.Next != authn.StepDone {
			t.Fatalf("round %d: the clone's sign-in: %v %v", i, r.Next, err)
		}
		e.clock.Add(3 * time.Second)
		own++
		r, err := e.si.FinishKey(e.ctx(), p.PendingID, e.sign(d, opts, own), client)
		wantRefused(t, "anna's own key after the clone's sign-in", r, err, want)
		if i == 0 {
			if ev := e.lastAudit(anna.ID); ev.Action != "credential.overtaken" || ev.Details["credential"] != keys[0].ID {
				t.Errorf("her overtaken sign-in audited as %q %v; want credential.overtaken of her key", ev.Action, ev.Details)
			}
		}
	}
	list, _ := e.store.ListCredentials(e.ctx(), anna.ID)
	if !list[0].Cloned {
		t.Errorf("after 2 of anna's sign-ins overtaken by the clone's, the key is not flagged as cloned (count %d)", list[0].SignCount)
	}
	if ev := e.lastAudit(anna.ID); ev.Action != "credential.cloned" {
		t.Errorf("last event %q; want credential.cloned", ev.Action)
	}
	co, cp := e.beginKey(e.start("anna", authn.StepKey))
	if r, err := e.si.FinishKey(e.ctx(), cp.PendingID, e.sign(d, co, clone+1), client); err == nil && r.Next == authn.StepDone {
		t.Errorf("the clone still signs in")
	}
}
