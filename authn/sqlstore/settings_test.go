package sqlstore

import (
	"fmt"
	"sync"
	"testing"
)

// TestEnsureSetting: the first value stored under a name stays, also when
// many processes race to store theirs; each learns the one that won.
func TestEnsureSetting(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			url := b.url(t)
			s1, s2 := openURL(t, url), openURL(t, url)
			ctx := t.Context()
			const n = 10
			got := make([]string, n)
			errs := make([]error, n)
			var wg sync.WaitGroup
			for i := range n {
				wg.Go(func() {
					s := s1
					if i%2 == 1 {
						s = s2
					}
					got[i], errs[i] = s.EnsureSetting(ctx, "keys_fingerprint", fmt.Sprint("fp", i))
				})
			}
			wg.Wait()
			for i := range n {
				if errs[i] != nil || got[i] != got[0] {
					t.Fatalf("EnsureSetting %d: %q, %v; want %q like the others", i, got[i], errs[i], got[0])
				}
			}
			if v, err := s2.EnsureSetting(ctx, "keys_fingerprint", "another"); err != nil || v != got[0] {
				t.Errorf("EnsureSetting later: %q, %v; want the first value %q", v, err, got[0])
			}
			if v, err := s1.EnsureSetting(ctx, "other", "x"); err != nil || v != "x" {
				t.Errorf("EnsureSetting(other): %q, %v", v, err)
			}
		})
	}
}
