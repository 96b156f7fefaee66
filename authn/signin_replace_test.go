package authn_test

import (
	"bytes"
	"errors"
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
