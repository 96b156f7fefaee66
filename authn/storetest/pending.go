package storetest

import (
	crand "crypto/rand"
	"testing"
	"time"

	"github.com/keyhall/keyhall/authn"
)

// newPending returns a pending sign-in with a random hash, as authn seals
// one (the store sees only its hash and expiry).
func newPending(created time.Time) authn.Pending {
	id := make([]byte, 32)
	crand.Read(id)
	return authn.Pending{
		Hash: authn.HashPendingID(id), UserID: authn.NewID(), Username: "anna.müller", AMR: []string{"hwk"},
		Next: authn.StepPassword, CreatedAt: created, ExpiresAt: created.Add(5 * time.Minute),
	}
}

// testUsePending: a pending sign-in is used once; another, or the same hash
// with its expiry, is not affected by it.
func testUsePending(t *testing.T, s authn.Store) {
	ctx := t.Context()
	p, q := newPending(t0), newPending(t0)
	must(t, "UsePending", s.UsePending(ctx, p.Hash, p.ExpiresAt))
	wantErr(t, "UsePending(again)", s.UsePending(ctx, p.Hash, p.ExpiresAt), authn.ErrUsed)
	must(t, "UsePending(another)", s.UsePending(ctx, q.Hash, q.ExpiresAt))
	wantErr(t, "UsePending(the other again)", s.UsePending(ctx, q.Hash, q.ExpiresAt), authn.ErrUsed)
}

// testUsePendingConcurrent: of 20 concurrent uses, exactly one succeeds.
func testUsePendingConcurrent(t *testing.T, s authn.Store) {
	p := newPending(t0)
	exactlyOnce(t, "UsePending", authn.ErrUsed, func() error {
		return s.UsePending(t.Context(), p.Hash, p.ExpiresAt)
	})
}

// testUsePendingPurge: old marks are purged now and then, never ones that
// some process may still accept: after thousands of uses a day later, the
// day-old mark is gone (its hash may be marked again), and the marks of an
// id still live, of one expired 30 minutes before (the margin for clocks)
// and of the recent ones are kept.
func testUsePendingPurge(t *testing.T, s authn.Store) {
	ctx := t.Context()
	later := t0.Add(24 * time.Hour)
	old, live, expired := newPending(t0), newPending(later.Add(-3*time.Minute)), newPending(later.Add(-35*time.Minute))
	for _, p := range []authn.Pending{old, live, expired} {
		must(t, "UsePending", s.UsePending(ctx, p.Hash, p.ExpiresAt))
	}
	var recent []authn.Pending
	for range 2100 { // two purges at least, whatever the counter's start
		p := newPending(later)
		must(t, "UsePending", s.UsePending(ctx, p.Hash, p.ExpiresAt))
		recent = append(recent, p)
	}
	must(t, "UsePending(a day old, after the purges)", s.UsePending(ctx, old.Hash, old.ExpiresAt))
	wantErr(t, "UsePending(live, after the purges)", s.UsePending(ctx, live.Hash, live.ExpiresAt), authn.ErrUsed)
	wantErr(t, "UsePending(expired 30 minutes before, after the purges)", s.UsePending(ctx, expired.Hash, expired.ExpiresAt), authn.ErrUsed)
	for _, p := range recent[len(recent)-50:] {
		wantErr(t, "UsePending(recent)", s.UsePending(ctx, p.Hash, p.ExpiresAt), authn.ErrUsed)
	}
}
