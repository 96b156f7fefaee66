package authn_test

import (
	"bytes"
	"encoding/base64"
	"errors"
	"slices"
	"sync"
	"testing"

	"github.com/keyhall/keyhall/authn"
)

// TestBeginKeyOneCeremony checks that a pending sign-in has one key
// ceremony: BeginKey, asked several times, also at once, answers every time
// with the same options (the same challenge) under the same pending id,
// and of several right assertions for that challenge, also at once, exactly
// one signs the person in; the others are told to start again.
func TestBeginKeyOneCeremony(t *testing.T) {
	e := newEnv(t)
	d := e.addKey(e.user("anna", authn.SourceLocal), false, true, 0)
	tests := []struct {
		name     string
		parallel int
	}{
		{"one after another", 1},
		{"at once", 8},
	}
	count := int64(0)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := e.si.Start(e.ctx(), "anna", "/", client)
			if err != nil {
				t.Fatal(err)
			}
			calls := max(tt.parallel, 2)
			run := func(f func(i int)) {
				var wg sync.WaitGroup
				for i := range calls {
					if tt.parallel == 1 {
						f(i)
						continue
					}
					wg.Go(func() { f(i) })
				}
				wg.Wait()
			}
			opts := make([][]byte, calls)
			ids := make([][]byte, calls)
			errs := make([]error, calls)
			run(func(i int) {
				var bp authn.Progress
				opts[i], bp, errs[i] = e.si.BeginKey(e.ctx(), p.PendingID)
				ids[i] = bp.PendingID
			})
			for i := range calls {
				if errs[i] != nil {
					t.Fatalf("BeginKey %d: %v", i, errs[i])
				}
				if !bytes.Equal(opts[i], opts[0]) || !bytes.Equal(ids[i], p.PendingID) {
					t.Fatalf("BeginKey %d gave other options or another pending id:\n%s\n%s", i, opts[i], opts[0])
				}
			}
			assertions := make([][]byte, calls)
			for i := range calls {
				count++
				assertions[i] = e.sign(d, opts[0], count)
			}
			run(func(i int) { _, errs[i] = e.si.FinishKey(e.ctx(), p.PendingID, assertions[i], client) })
			ok := 0
			for _, err := range errs {
				var se *authn.SignInError
				switch {
				case err == nil:
					ok++
				case !errors.As(err, &se) || se.Reason != authn.ReasonExpired:
					t.Errorf("FinishKey: %v, want nil or %s", err, authn.ReasonExpired)
				}
			}
			if ok != 1 {
				t.Errorf("%d of %d FinishKey calls signed in, want 1", ok, calls)
			}
		})
	}
}

// TestKeyCeremonyManyKeys: a person with many keys (here 60, each with a
// 64-byte id as YubiKeys make them) signs in with any of them, and her
// pending id is as long as a person's with one key: the ceremony keeps the
// challenge, not the keys. Before, some twenty keys filled the cookie and
// the sign-in failed.
func TestKeyCeremonyManyKeys(t *testing.T) {
	e := newEnv(t)
	one := e.user("bernd", authn.SourceLocal)
	e.addKey(one, false, true, 0)
	anna := e.user("anna", authn.SourceLocal)
	var devs []*device
	for range 60 {
		devs = append(devs, e.addKey(anna, false, true, 0))
	}
	p := e.start("anna", authn.StepKey)
	if short := e.start("bernd", authn.StepKey); len(p.PendingID)-len("anna") != len(short.PendingID)-len("bernd") {
		t.Errorf("pending id with 60 keys %d bytes, with one %d", len(p.PendingID), len(short.PendingID))
	}
	opts, _ := e.beginKey(p)
	if n := len(readOptions(t, opts).Allow); n != 60 {
		t.Fatalf("options offer %d keys, want 60", n)
	}
	prog, err := e.si.FinishKey(e.ctx(), p.PendingID, e.sign(devs[41], opts, 1), client)
	if err != nil || prog.Next != authn.StepDone || prog.User.ID != anna.ID {
		t.Fatalf("sign-in with the 42nd of 60 keys: %+v, %v", prog, err)
	}
}

// TestKeyCeremonyKeysChange: the keys a ceremony accepts are the person's
// keys when the assertion arrives. One enrolled after the ceremony opened
// may answer it; one removed meanwhile may not; and asking for the options
// again shows the keys as they are, under the same challenge.
func TestKeyCeremonyKeysChange(t *testing.T) {
	e := newEnv(t)
	anna := e.user("anna", authn.SourceLocal)
	old := e.addKey(anna, false, true, 0)
	p := e.start("anna", authn.StepKey)
	first, _ := e.beginKey(p)

	added := e.addKey(anna, false, true, 0)
	if err := e.store.DeleteCredential(e.ctx(), anna.ID, old.rec.ID, audit("credential.delete", anna.ID)); err != nil {
		t.Fatal(err)
	}
	again, _ := e.beginKey(p)
	allows := func(opts []byte, d *device) bool {
		return slices.ContainsFunc(readOptions(t, opts).Allow, func(a allowedKey) bool { return a.ID == b64(d.cred.ID) })
	}
	if readOptions(t, first).Challenge != readOptions(t, again).Challenge || !allows(first, old) || allows(first, added) ||
		allows(again, old) || !allows(again, added) {
		t.Errorf("options asked again: want the same challenge and the keys as they are now\n%s\n%s", first, again)
	}

	prog, err := e.si.FinishKey(e.ctx(), p.PendingID, e.sign(old, first, 1), client)
	wantRefused(t, "a key removed after the ceremony opened", prog, err, authn.ReasonKeyRefused)
	p = e.start("anna", authn.StepKey)
	opts, _ := e.beginKey(p)
	later := e.addKey(anna, false, true, 0)
	if prog, err := e.si.FinishKey(e.ctx(), p.PendingID, e.sign(later, opts, 1), client); err != nil || prog.Next != authn.StepDone || prog.User.ID != anna.ID {
		t.Fatalf("a key enrolled after the ceremony opened: %+v, %v", prog, err)
	}
	if prog, err := e.si.FinishKey(e.ctx(), prog.PendingID, e.sign(added, again, 1), client); err == nil {
		t.Errorf("a refused ceremony's challenge was taken again: %+v", prog)
	}
}

// TestBeginKeyAgainSameOptions: asked again on one pending sign-in, BeginKey
// gives byte-identical options for a passkey (no username: no keys, user
// verification required) and for an unknown name (the same fake keys), and
// the passkey's options asked again still sign in.
func TestBeginKeyAgainSameOptions(t *testing.T) {
	e := newEnv(t)
	anna := e.user("anna", authn.SourceLocal)
	d := e.addKey(anna, true, true, 0)
	e.restart()
	opts, p, err := e.si.BeginPasskey(e.ctx(), "/", client)
	if err != nil {
		t.Fatal(err)
	}
	again, p2, err := e.si.BeginKey(e.ctx(), p.PendingID)
	if err != nil || !bytes.Equal(again, opts) || !bytes.Equal(p2.PendingID, p.PendingID) {
		t.Fatalf("passkey options asked again (%v):\n%s\nfirst:\n%s", err, again, opts)
	}
	prog, err := e.si.FinishKey(e.ctx(), p.PendingID, e.sign(d, again, -1), client)
	e.wantDone(prog, err, []string{"swk", "user", "mfa"}, authn.LevelPhr)

	u := e.start("niemand", authn.StepKey)
	first, _ := e.beginKey(u)
	if second, _ := e.beginKey(u); !bytes.Equal(first, second) {
		t.Errorf("an unknown name's options asked again differ:\n%s\n%s", first, second)
	}
}

// TestKeyCeremonyKeyFlagged: a key flagged as cloned after the ceremony
// opened is refused as cloned, the options asked again leave it out (fake
// keys when she has no other), and another key of hers still signs in.
func TestKeyCeremonyKeyFlagged(t *testing.T) {
	e := newEnv(t)
	anna := e.user("anna", authn.SourceLocal)
	cloned := e.addKey(anna, false, true, 0)
	p := e.start("anna", authn.StepKey)
	opts, _ := e.beginKey(p)
	if err := e.store.FlagCloned(e.ctx(), cloned.rec.ID, audit("credential.cloned", anna.ID)); err != nil {
		t.Fatal(err)
	}
	again, _ := e.beginKey(p)
	if bytes.Contains(again, []byte(base64.RawURLEncoding.EncodeToString(cloned.rec.WebAuthnID))) {
		t.Errorf("options asked again offer the flagged key: %s", again)
	}
	prog, err := e.si.FinishKey(e.ctx(), p.PendingID, e.sign(cloned, opts, 1), client)
	wantRefused(t, "a key flagged after the ceremony opened", prog, err, authn.ReasonKeyCloned)

	other := e.addKey(anna, false, true, 0)
	opts, p = e.beginKey(e.start("anna", authn.StepKey))
	prog, err = e.si.FinishKey(e.ctx(), p.PendingID, e.sign(other, opts, 1), client)
	e.wantDone(prog, err, []string{"pop", "user", "mfa"}, authn.LevelPhr)
}
