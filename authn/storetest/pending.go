package storetest

import (
	crand "crypto/rand"
	"testing"
	"time"

	"github.com/keyhall/keyhall/authn"
)

func newPending(created time.Time) authn.Pending {
	id := make([]byte, 32)
	crand.Read(id)
	return authn.Pending{
		Hash: authn.HashPendingID(id), UserID: authn.NewID(), Username: "anna.müller", AMR: []string{"hwk"},
		Ceremony: []byte(`{"challenge":"abc"}`), Next: authn.StepPassword, RecoveryOnly: true,
		ReturnTo: "/account?x=1", CreatedAt: created, ExpiresAt: created.Add(5 * time.Minute),
	}
}

func normPending(p authn.Pending) authn.Pending {
	p.CreatedAt, p.ExpiresAt = micro(p.CreatedAt), micro(p.ExpiresAt)
	return p
}

func testPending(t *testing.T, s authn.Store) {
	ctx := t.Context()
	p := newPending(t0)
	must(t, "PutPending", s.PutPending(ctx, p))
	wantErr(t, "PutPending(same hash)", s.PutPending(ctx, p), authn.ErrAlreadyExists)
	got, err := s.TakePending(ctx, p.Hash, t0.Add(time.Minute))
	must(t, "TakePending", err)
	same(t, "TakePending", got, p, normPending)
	_, err = s.TakePending(ctx, p.Hash, t0.Add(time.Minute))
	wantErr(t, "TakePending(taken)", err, authn.ErrNotFound)

	// An unknown username, no factor, no ceremony.
	u := newPending(t0)
	u.UserID, u.AMR, u.Ceremony, u.Next, u.RecoveryOnly, u.ReturnTo = "", nil, nil, authn.StepKey, false, ""
	must(t, "PutPending(unknown user)", s.PutPending(ctx, u))
	got, err = s.TakePending(ctx, u.Hash, t0)
	must(t, "TakePending(unknown user)", err)
	same(t, "TakePending(unknown user)", got, u, normPending)

	// Expired: refused at ExpiresAt, and deleted too.
	e := newPending(t0)
	must(t, "PutPending", s.PutPending(ctx, e))
	_, err = s.TakePending(ctx, e.Hash, e.ExpiresAt)
	wantErr(t, "TakePending(at expiry)", err, authn.ErrExpired)
	_, err = s.TakePending(ctx, e.Hash, t0)
	wantErr(t, "TakePending(expired, taken)", err, authn.ErrNotFound)

	bad := newPending(t0)
	bad.AMR = []string{"hwk pwd"}
	if err := s.PutPending(ctx, bad); err == nil {
		t.Error("PutPending with an amr value holding a space succeeded")
	}
}

// testTakePendingConcurrent: of 20 concurrent takes, exactly one gets it.
func testTakePendingConcurrent(t *testing.T, s authn.Store) {
	p := newPending(t0)
	must(t, "PutPending", s.PutPending(t.Context(), p))
	exactlyOnce(t, "TakePending", authn.ErrNotFound, func() error {
		_, err := s.TakePending(t.Context(), p.Hash, t0)
		return err
	})
}
