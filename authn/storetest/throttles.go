package storetest

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/keyhall/keyhall/authn"
)

// testHitThrottles checks that HitThrottles counts under each key with its
// own window, as HitThrottle would, and returns the counts in order.
func testHitThrottles(t *testing.T, s authn.Store) {
	ctx := t.Context()
	short, long := 15*time.Minute, 24*time.Hour
	keys := []authn.ThrottleKey{{Key: "2fa:u:anna", Window: short}, {Key: "2fa:u:anna/1d", Window: long}, {Key: "ip:192.0.2.7", Window: short}}
	tests := []struct {
		name string
		at   time.Time
		keys []authn.ThrottleKey
		want []int
	}{
		{"fresh", t0, keys, []int{1, 1, 1}},
		{"again", t0.Add(time.Minute), keys, []int{2, 2, 2}},
		{"one key", t0.Add(2 * time.Minute), keys[2:], []int{3}},
		{"short windows over", t0.Add(short), keys, []int{1, 3, 1}},
		{"the same key twice", t0.Add(short + time.Minute), []authn.ThrottleKey{keys[1], keys[1]}, []int{4, 5}},
		{"none", t0.Add(short + time.Minute), nil, []int{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := s.HitThrottles(ctx, tt.keys, tt.at)
			must(t, "HitThrottles", err)
			if !slices.Equal(got, tt.want) {
				t.Errorf("HitThrottles = %v, want %v", got, tt.want)
			}
		})
	}
	// HitThrottle and HitThrottles count under the same counters.
	if n, err := s.HitThrottle(ctx, keys[0].Key, t0.Add(short+time.Minute), short); err != nil || n != 2 {
		t.Errorf("HitThrottle after HitThrottles = %d, %v, want 2", n, err)
	}
	// Many keys at once, in no order, each with its own window and count.
	var many []authn.ThrottleKey
	want := []int{}
	for i := range 13 {
		k := authn.ThrottleKey{Key: fmt.Sprintf("many:%02d", (i*7)%13), Window: time.Duration(i+1) * time.Minute}
		many = append(many, k)
		want = append(want, 1)
	}
	got, err := s.HitThrottles(ctx, many, t0)
	must(t, "HitThrottles(13 keys)", err)
	if !slices.Equal(got, want) {
		t.Errorf("HitThrottles(13 keys) = %v, want %v", got, want)
	}
	// Five minutes on, the windows of up to five minutes are over.
	for i := range want {
		want[i] = 2
		if i < 5 {
			want[i] = 1
		}
	}
	got, err = s.HitThrottles(ctx, many, t0.Add(5*time.Minute))
	must(t, "HitThrottles(13 keys, later)", err)
	if !slices.Equal(got, want) {
		t.Errorf("HitThrottles(13 keys, 5 minutes later) = %v, want %v", got, want)
	}
}

// testHitThrottlesConcurrent hits two counters from many goroutines, half
// naming them in the other order: each count is returned exactly once, and
// no call waits for another for ever.
func testHitThrottlesConcurrent(t *testing.T, s authn.Store) {
	ctx := t.Context()
	const n = 20
	a := authn.ThrottleKey{Key: "pwd:u:berta", Window: time.Hour}
	b := authn.ThrottleKey{Key: "ip:198.51.100.1", Window: time.Hour}
	seenA, seenB := make([]int, n), make([]int, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			keys := []authn.ThrottleKey{a, b}
			if i%2 == 1 {
				keys = []authn.ThrottleKey{b, a}
			}
			counts, err := s.HitThrottles(ctx, keys, t0)
			if err != nil {
				errs[i] = err
				return
			}
			if i%2 == 1 {
				counts[0], counts[1] = counts[1], counts[0]
			}
			seenA[i], seenB[i] = counts[0], counts[1]
		})
	}
	wg.Wait()
	must(t, "HitThrottles (concurrent)", errors.Join(errs...))
	slices.Sort(seenA)
	slices.Sort(seenB)
	for i := range n {
		if seenA[i] != i+1 || seenB[i] != i+1 {
			t.Fatalf("counts %v and %v, want 1…%d each once", seenA, seenB, n)
		}
	}
}

// testUndoThrottles checks that UndoThrottles takes back one hit under each
// key, never below 0, and ignores a missing key.
func testUndoThrottles(t *testing.T, s authn.Store) {
	ctx := t.Context()
	const window = 15 * time.Minute
	keys := []authn.ThrottleKey{{Key: "2fa:u:carla", Window: window}, {Key: "ip:203.0.113.9", Window: window}}
	for range 2 {
		_, err := s.HitThrottles(ctx, keys, t0)
		must(t, "HitThrottles", err)
	}
	must(t, "UndoThrottles", s.UndoThrottles(ctx, []string{keys[0].Key, keys[1].Key, "2fa:u:nobody"}))
	must(t, "UndoThrottles", s.UndoThrottles(ctx, []string{keys[0].Key}))
	must(t, "UndoThrottles", s.UndoThrottles(ctx, []string{keys[0].Key}))
	for key, want := range map[string]int{keys[0].Key: 0, keys[1].Key: 1, "2fa:u:nobody": 0} {
		n, err := s.ThrottleCount(ctx, key, t0, window)
		must(t, "ThrottleCount", err)
		if n != want {
			t.Errorf("ThrottleCount(%s) = %d, want %d", key, n, want)
		}
	}
	must(t, "UndoThrottles(none)", s.UndoThrottles(ctx, nil))
}

// testResetThrottlePrefix checks that ResetThrottlePrefix forgets the
// counters whose keys begin with the prefix, and only those: not a key
// that merely sorts near it, nor one LIKE's % or _ or case would match.
func testResetThrottlePrefix(t *testing.T, s authn.Store) {
	ctx := t.Context()
	const window = time.Hour
	gone := []string{"2fa:d:u_1:dev1", "2fa:d:u_1:dev2/1d", "2fa:d:u_1:", "2fa:d:u_1:\u00e9"}
	kept := []string{"2fa:d:u_1", "2fa:d:u_1;x", "2fa:d:u_10:dev1", "2fa:d:uX1:dev1", "2fa:d:U_1:dev1",
		"2fa:d:u%1:dev1", "2fa:d:u_2:dev1", "2fa:u:u_1", "rc:d:u_1:dev1"}
	for _, k := range append(slices.Clone(gone), kept...) {
		_, err := s.HitThrottle(ctx, k, t0, window)
		must(t, "HitThrottle", err)
	}
	must(t, "ResetThrottlePrefix", s.ResetThrottlePrefix(ctx, "2fa:d:u_1:"))
	for _, k := range gone {
		if n, err := s.ThrottleCount(ctx, k, t0, window); err != nil || n != 0 {
			t.Errorf("after ResetThrottlePrefix(2fa:d:u_1:): ThrottleCount(%q) = %d, %v; want 0", k, n, err)
		}
	}
	for _, k := range kept {
		if n, err := s.ThrottleCount(ctx, k, t0, window); err != nil || n != 1 {
			t.Errorf("after ResetThrottlePrefix(2fa:d:u_1:): ThrottleCount(%q) = %d, %v; want 1 (kept)", k, n, err)
		}
	}
	if err := s.ResetThrottlePrefix(ctx, ""); err == nil {
		t.Error("ResetThrottlePrefix(\"\") = nil, want an error (it would forget every counter)")
	}
}

// testPurgeThrottles checks that PurgeThrottles deletes the counters whose
// window started before its time, in batches of at most limit, and keeps
// the others counting.
func testPurgeThrottles(t *testing.T, s authn.Store) {
	ctx := t.Context()
	day := 24 * time.Hour
	for i := range 5 { // old: windows started 40 days ago
		_, err := s.HitThrottle(ctx, fmt.Sprintf("2fa:u:old%d/30d", i), t0, 30*day)
		must(t, "HitThrottle", err)
	}
	now := t0.Add(40 * day)
	_, err := s.HitThrottle(ctx, "2fa:u:new/30d", now.Add(-time.Hour), 30*day)
	must(t, "HitThrottle", err)
	_, err = s.HitThrottle(ctx, "2fa:u:new/30d", now.Add(-time.Minute), 30*day)
	must(t, "HitThrottle", err)
	before := now.Add(-authn.ThrottleKeep)
	var batches []int
	for {
		n, err := s.PurgeThrottles(ctx, before, 2)
		must(t, "PurgeThrottles", err)
		batches = append(batches, n)
		if n < 2 || len(batches) > 10 {
			break
		}
	}
	if !slices.Equal(batches, []int{2, 2, 1}) {
		t.Errorf("PurgeThrottles batches = %v, want [2 2 1]", batches)
	}
	for i := range 5 {
		if n, err := s.ThrottleCount(ctx, fmt.Sprintf("2fa:u:old%d/30d", i), t0, 30*day); err != nil || n != 0 {
			t.Errorf("old counter %d after purge: %d, %v; want 0 (deleted)", i, n, err)
		}
	}
	if n, err := s.ThrottleCount(ctx, "2fa:u:new/30d", now, 30*day); err != nil || n != 2 {
		t.Errorf("live counter after purge: %d, %v; want 2", n, err)
	}
}
