package storetest

import (
	crand "crypto/rand"
	"errors"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/keyhall/keyhall/authn"
)

// newSession returns a session of u created at created, valid for a day.
func newSession(u authn.User, created time.Time) authn.Session {
	id := make([]byte, 32)
	crand.Read(id)
	return authn.Session{
		Hash: authn.HashSessionID(id), UserID: u.ID, AMR: []string{"hwk", "pwd", "mfa"}, ACR: "phrh",
		AuthTime: created, CreatedAt: created, LastSeenAt: created, ExpiresAt: created.Add(24 * time.Hour),
		ClientAddr: "192.0.2.7", UserAgent: "Mozilla/5.0 (iPad)",
	}
}

func mkSession(t *testing.T, s authn.Store, u authn.User, created time.Time) authn.Session {
	t.Helper()
	sess := newSession(u, created)
	must(t, "CreateSession", s.CreateSession(t.Context(), sess))
	return sess
}

func getSession(t *testing.T, s authn.Store, h authn.SessionHash) authn.Session {
	t.Helper()
	got, err := s.GetSession(t.Context(), h)
	must(t, "GetSession", err)
	return got
}

func testSessions(t *testing.T, s authn.Store) {
	ctx := t.Context()
	anna, bernd := mkUser(t, s, "anna"), mkUser(t, s, "bernd")
	a1 := mkSession(t, s, anna, t0)
	a2 := mkSession(t, s, anna, t0.Add(time.Minute))
	a3 := mkSession(t, s, anna, t0.Add(2*time.Minute))
	b1 := mkSession(t, s, bernd, t0)
	old := newSession(anna, t0.Add(-48*time.Hour)) // expired a day ago
	must(t, "CreateSession(expired)", s.CreateSession(ctx, old))

	same(t, "GetSession", getSession(t, s, a1.Hash), a1, normSession)
	noAMR := newSession(bernd, t0)
	noAMR.AMR = nil
	must(t, "CreateSession(no amr)", s.CreateSession(ctx, noAMR))
	same(t, "GetSession(no amr)", getSession(t, s, noAMR.Hash), noAMR, normSession)

	wantErr(t, "CreateSession(same hash)", s.CreateSession(ctx, a1), authn.ErrAlreadyExists)
	_, err := s.GetSession(ctx, authn.HashSessionID([]byte("unknown")))
	wantErr(t, "GetSession(unknown)", err, authn.ErrNotFound)

	must(t, "RevokeSession", s.RevokeSession(ctx, a2.Hash, t0.Add(time.Hour)))
	list, err := s.ListUserSessions(ctx, anna.ID, t0.Add(time.Hour))
	must(t, "ListUserSessions", err)
	same(t, "ListUserSessions (newest first, no revoked or expired)", list, []authn.Session{a3, a1},
		func(ss []authn.Session) []authn.Session { return slicesMap(ss, normSession) })
	list, err = s.ListUserSessions(ctx, bernd.ID, b1.ExpiresAt)
	must(t, "ListUserSessions", err)
	if len(list) != 0 {
		t.Errorf("ListUserSessions at the expiry time = %d sessions, want none", len(list))
	}
}

func testSessionRevocation(t *testing.T, s authn.Store) {
	ctx := t.Context()
	anna, bernd := mkUser(t, s, "anna"), mkUser(t, s, "bernd")
	a1, a2, a3 := mkSession(t, s, anna, t0), mkSession(t, s, anna, t0), mkSession(t, s, anna, t0)
	b1 := mkSession(t, s, bernd, t0)
	first, second := t0.Add(time.Hour), t0.Add(2*time.Hour)

	must(t, "RevokeSession", s.RevokeSession(ctx, a1.Hash, first))
	must(t, "RevokeSession(again)", s.RevokeSession(ctx, a1.Hash, second))
	if got := getSession(t, s, a1.Hash).RevokedAt; !got.Equal(micro(first)) {
		t.Errorf("RevokedAt after a second revocation = %v, want the first %v", got, micro(first))
	}
	wantErr(t, "RevokeSession(unknown)", s.RevokeSession(ctx, authn.HashSessionID([]byte("x")), first), authn.ErrNotFound)

	n, err := s.RevokeUserSessions(ctx, anna.ID, second, ev("session.revoke_all", "user:"+anna.ID))
	must(t, "RevokeUserSessions", err)
	if n != 2 {
		t.Errorf("RevokeUserSessions = %d, want 2 (one of three was revoked before)", n)
	}
	// Audited in the same transaction, with the count; nothing to revoke,
	// nothing audited.
	if n, err := s.RevokeUserSessions(ctx, anna.ID, second, ev("session.revoke_all", "user:"+anna.ID)); err != nil || n != 0 {
		t.Errorf("RevokeUserSessions again = %d, %v; want 0", n, err)
	}
	evs, err := s.ListAudit(ctx, authn.AuditFilter{Subject: "user:" + anna.ID, Limit: 100})
	must(t, "ListAudit", err)
	var counts []string
	for _, e := range evs {
		if e.Action == "session.revoke_all" {
			counts = append(counts, e.Details["count"])
		}
	}
	if !slices.Equal(counts, []string{"2"}) {
		t.Errorf("audit events of RevokeUserSessions carry counts %q, want one with 2", counts)
	}
	for _, h := range []authn.SessionHash{a2.Hash, a3.Hash} {
		if got := getSession(t, s, h).RevokedAt; !got.Equal(micro(second)) {
			t.Errorf("RevokedAt = %v, want %v", got, micro(second))
		}
	}
	if got := getSession(t, s, a1.Hash).RevokedAt; !got.Equal(micro(first)) {
		t.Errorf("RevokeUserSessions changed an earlier revocation to %v", got)
	}
	if got := getSession(t, s, b1.Hash); !got.RevokedAt.IsZero() || !got.Usable(t0, 0) {
		t.Errorf("another person's session was revoked: %+v", got)
	}
}

// testSessionChangesSeenAtOnce: a change made through the store is seen by
// the next GetSession, whatever the store caches.
func testSessionChangesSeenAtOnce(t *testing.T, s authn.Store) {
	ctx := t.Context()
	anna := mkUser(t, s, "anna")
	a1, a2 := mkSession(t, s, anna, t0), mkSession(t, s, anna, t0)
	for range 3 { // fill any cache
		getSession(t, s, a1.Hash)
		getSession(t, s, a2.Hash)
	}
	must(t, "RevokeSession", s.RevokeSession(ctx, a1.Hash, t0.Add(time.Hour)))
	if got := getSession(t, s, a1.Hash); got.RevokedAt.IsZero() || got.Usable(t0.Add(time.Hour), 0) {
		t.Errorf("GetSession right after RevokeSession: %+v, want it revoked", got)
	}
	must(t, "TouchSession", s.TouchSession(ctx, a2.Hash, t0.Add(time.Minute)))
	if got := getSession(t, s, a2.Hash).LastSeenAt; !got.Equal(micro(t0.Add(time.Minute))) {
		t.Errorf("LastSeenAt right after TouchSession = %v", got)
	}
	_, err := s.RevokeUserSessions(ctx, anna.ID, t0.Add(time.Hour), ev("session.revoke_all", "user:"+anna.ID))
	must(t, "RevokeUserSessions", err)
	if got := getSession(t, s, a2.Hash); got.RevokedAt.IsZero() {
		t.Errorf("GetSession right after RevokeUserSessions: %+v, want it revoked", got)
	}
	got := getSession(t, s, a2.Hash)
	got.AMR[0] = "changed" // a caller's change to the result must not reach the store
	if again := getSession(t, s, a2.Hash); again.AMR[0] != "hwk" {
		t.Errorf("changing a GetSession result changed the next one: AMR %q", again.AMR)
	}
}

func testDeleteSessionsBefore(t *testing.T, s authn.Store) {
	ctx := t.Context()
	anna := mkUser(t, s, "anna")
	expired := mkSession(t, s, anna, t0.Add(-48*time.Hour))    // expired at t0-24h
	revoked := mkSession(t, s, anna, t0)                       // revoked at t0+1h
	live := mkSession(t, s, anna, t0)                          // expires t0+24h
	revokedLate := mkSession(t, s, anna, t0.Add(-time.Minute)) // revoked at t0+3h
	must(t, "RevokeSession", s.RevokeSession(ctx, revoked.Hash, t0.Add(time.Hour)))
	must(t, "RevokeSession", s.RevokeSession(ctx, revokedLate.Hash, t0.Add(3*time.Hour)))

	n, err := s.DeleteSessionsBefore(ctx, t0.Add(2*time.Hour))
	must(t, "DeleteSessionsBefore", err)
	if n != 2 {
		t.Errorf("DeleteSessionsBefore = %d, want 2", n)
	}
	for _, h := range []authn.SessionHash{expired.Hash, revoked.Hash} {
		if _, err := s.GetSession(ctx, h); !errors.Is(err, authn.ErrNotFound) {
			t.Errorf("GetSession of a deleted session: %v, want ErrNotFound", err)
		}
	}
	getSession(t, s, live.Hash)
	getSession(t, s, revokedLate.Hash)
}

func testTouchSession(t *testing.T, s authn.Store) {
	ctx := t.Context()
	anna := mkUser(t, s, "anna")
	sess := mkSession(t, s, anna, t0)
	later := t0.Add(time.Minute)
	must(t, "TouchSession(later)", s.TouchSession(ctx, sess.Hash, later))
	for _, at := range []time.Time{later, t0, later.Add(-time.Microsecond)} {
		wantErr(t, "TouchSession(at or below)", s.TouchSession(ctx, sess.Hash, at), authn.ErrNotForward)
	}
	if got := getSession(t, s, sess.Hash).LastSeenAt; !got.Equal(micro(later)) {
		t.Errorf("LastSeenAt = %v, want %v", got, micro(later))
	}
	wantErr(t, "TouchSession(unknown)", s.TouchSession(ctx, authn.HashSessionID([]byte("x")), later), authn.ErrNotFound)
}

func testTouchSessionConcurrent(t *testing.T, s authn.Store) {
	ctx := t.Context()
	anna := mkUser(t, s, "anna")
	sess := mkSession(t, s, anna, t0)
	const n = 50
	times := make([]time.Time, n)
	for i := range times {
		times[i] = t0.Add(time.Duration(i+1) * time.Second)
	}
	rand.Shuffle(n, func(i, j int) { times[i], times[j] = times[j], times[i] })
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() { errs[i] = s.TouchSession(ctx, sess.Hash, times[i]) })
	}
	wg.Wait()
	ok := 0
	for _, err := range errs {
		switch {
		case err == nil:
			ok++
		case !errors.Is(err, authn.ErrNotForward):
			t.Errorf("TouchSession: %v", err)
		}
	}
	if ok == 0 {
		t.Error("no TouchSession succeeded")
	}
	want := micro(t0.Add(n * time.Second))
	if got := getSession(t, s, sess.Hash).LastSeenAt; !got.Equal(want) {
		t.Errorf("LastSeenAt after concurrent touches = %v, want the latest %v", got, want)
	}
}
