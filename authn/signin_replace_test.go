package authn_test

import (
	"errors"
	"sync"
	"testing"

	"github.com/keyhall/keyhall/authn"
)

// TestBeginKeyOnce checks that a pending sign-in opens one key ceremony:
// of several BeginKey calls with its id, also at once, one succeeds and the
// others are told to start again.
func TestBeginKeyOnce(t *testing.T) {
	e := newEnv(t)
	e.addKey(e.user("anna", authn.SourceLocal), false, true, 0)
	tests := []struct {
		name     string
		parallel int
	}{
		{"one after another", 1},
		{"at once", 8},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := e.si.Start(e.ctx(), "anna", "/", client)
			if err != nil {
				t.Fatal(err)
			}
			calls := max(tt.parallel, 2)
			errs := make([]error, calls)
			var wg sync.WaitGroup
			for i := range calls {
				if tt.parallel == 1 {
					_, _, errs[i] = e.si.BeginKey(e.ctx(), p.PendingID)
					continue
				}
				wg.Go(func() { _, _, errs[i] = e.si.BeginKey(e.ctx(), p.PendingID) })
			}
			wg.Wait()
			ok := 0
			for _, err := range errs {
				var se *authn.SignInError
				switch {
				case err == nil:
					ok++
				case !errors.As(err, &se) || se.Reason != authn.ReasonExpired:
					t.Errorf("BeginKey: %v, want nil or %s", err, authn.ReasonExpired)
				}
			}
			if ok != 1 {
				t.Errorf("%d of %d BeginKey calls succeeded, want 1", ok, calls)
			}
		})
	}
}
