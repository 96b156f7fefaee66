package storetest

import (
	"errors"
	"reflect"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/keyhall/keyhall/authn"
)

// testReplacePending checks GetPending, which reads without taking, and
// ReplacePending, which takes one pending sign-in and stores the next in
// its place.
func testReplacePending(t *testing.T, s authn.Store) {
	ctx := t.Context()
	old := newPending(t0)
	must(t, "PutPending", s.PutPending(ctx, old))
	got, err := s.GetPending(ctx, old.Hash, t0.Add(time.Minute))
	must(t, "GetPending", err)
	if !reflect.DeepEqual(got, normPending(old)) {
		t.Errorf("GetPending = %+v, want %+v", got, normPending(old))
	}
	_, err = s.GetPending(ctx, old.Hash, old.ExpiresAt)
	wantErr(t, "GetPending(expired)", err, authn.ErrExpired)
	_, err = s.GetPending(ctx, newPending(t0).Hash, t0)
	wantErr(t, "GetPending(unknown)", err, authn.ErrNotFound)

	next := newPending(t0.Add(time.Minute))
	wantErr(t, "ReplacePending(expired)", s.ReplacePending(ctx, old.Hash, old.ExpiresAt, next), authn.ErrNotFound)
	_, err = s.GetPending(ctx, next.Hash, t0.Add(time.Minute))
	wantErr(t, "GetPending(not stored after a refused replace)", err, authn.ErrNotFound)
	other := newPending(t0)
	must(t, "PutPending(other)", s.PutPending(ctx, other))
	wantErr(t, "ReplacePending(hash taken)", s.ReplacePending(ctx, old.Hash, t0, other), authn.ErrAlreadyExists)
	_, err = s.GetPending(ctx, old.Hash, t0)
	must(t, "GetPending(old kept after a refused replace)", err)

	must(t, "ReplacePending", s.ReplacePending(ctx, old.Hash, t0.Add(time.Minute), next))
	_, err = s.TakePending(ctx, old.Hash, t0.Add(time.Minute))
	wantErr(t, "TakePending(replaced)", err, authn.ErrNotFound)
	wantErr(t, "ReplacePending(again)", s.ReplacePending(ctx, old.Hash, t0.Add(time.Minute), newPending(t0)), authn.ErrNotFound)
	got, err = s.TakePending(ctx, next.Hash, t0.Add(time.Minute))
	must(t, "TakePending(next)", err)
	if !reflect.DeepEqual(got, normPending(next)) {
		t.Errorf("TakePending(next) = %+v, want %+v", got, normPending(next))
	}
}

// testReplacePendingConcurrent replaces one pending sign-in from many
// goroutines: exactly one succeeds, and only its successor is stored.
func testReplacePendingConcurrent(t *testing.T, s authn.Store) {
	ctx := t.Context()
	old := newPending(t0)
	must(t, "PutPending", s.PutPending(ctx, old))
	const n = 16
	nexts := make([]authn.Pending, n)
	var won, lost atomic.Int32
	var wg sync.WaitGroup
	for i := range n {
		nexts[i] = newPending(t0)
		wg.Go(func() {
			err := s.ReplacePending(ctx, old.Hash, t0, nexts[i])
			switch {
			case err == nil:
				won.Add(1)
			case errors.Is(err, authn.ErrNotFound):
				lost.Add(1)
			default:
				t.Errorf("ReplacePending: %v", err)
			}
		})
	}
	wg.Wait()
	if won.Load() != 1 || lost.Load() != n-1 {
		t.Fatalf("%d replaced, %d refused; want 1 and %d", won.Load(), lost.Load(), n-1)
	}
	stored := 0
	for _, p := range nexts {
		if _, err := s.GetPending(ctx, p.Hash, t0); err == nil {
			stored++
		}
	}
	if stored != 1 {
		t.Errorf("%d successors stored, want 1", stored)
	}
}
