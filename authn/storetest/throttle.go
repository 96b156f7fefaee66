package storetest

import (
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/keyhall/keyhall/authn"
)

func testThrottle(t *testing.T, s authn.Store) {
	ctx := t.Context()
	const window = 15 * time.Minute
	hit := func(key string, now time.Time, want int) {
		t.Helper()
		n, err := s.HitThrottle(ctx, key, now, window)
		must(t, "HitThrottle", err)
		if n != want {
			t.Errorf("HitThrottle(%s, %v) = %d, want %d", key, now.Sub(t0), n, want)
		}
	}
	count := func(key string, now time.Time, want int) {
		t.Helper()
		n, err := s.ThrottleCount(ctx, key, now, window)
		must(t, "ThrottleCount", err)
		if n != want {
			t.Errorf("ThrottleCount(%s, %v) = %d, want %d", key, now.Sub(t0), n, want)
		}
	}
	count("login:anna", t0, 0)
	hit("login:anna", t0, 1)
	hit("login:anna", t0.Add(time.Minute), 2)
	hit("login:anna", t0.Add(window-time.Second), 3)
	hit("totp:anna", t0, 1) // another key
	count("login:anna", t0.Add(window-time.Second), 3)
	count("login:anna", t0.Add(window), 0) // the window is over

	// The first attempt after the window starts a new one at 1, lasting
	// window from then.
	hit("login:anna", t0.Add(window), 1)
	hit("login:anna", t0.Add(2*window-time.Second), 2)
	count("login:anna", t0.Add(2*window-time.Second), 2)
	hit("login:anna", t0.Add(2*window), 1)

	must(t, "ResetThrottle", s.ResetThrottle(ctx, "login:anna"))
	count("login:anna", t0.Add(2*window), 0)
	hit("login:anna", t0.Add(2*window), 1)
	count("totp:anna", t0, 1)
	must(t, "ResetThrottle(unknown)", s.ResetThrottle(ctx, "unknown"))
}

func testThrottleConcurrent(t *testing.T, s authn.Store) {
	ctx := t.Context()
	const n = 50
	got := make([]int, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { got[i], errs[i] = s.HitThrottle(ctx, "login:anna", t0, time.Minute) })
	}
	wg.Wait()
	for _, err := range errs {
		must(t, "HitThrottle", err)
	}
	slices.Sort(got)
	for i, v := range got {
		if v != i+1 {
			t.Fatalf("%d concurrent HitThrottle returned %v, want each of 1…%d once", n, got, n)
		}
	}
	c, err := s.ThrottleCount(ctx, "login:anna", t0, time.Minute)
	must(t, "ThrottleCount", err)
	if c != n {
		t.Errorf("ThrottleCount = %d, want %d", c, n)
	}
}
