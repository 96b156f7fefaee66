package enroll_test

import (
	"context"
	"encoding/base32"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/keyhall/keyhall/authn"
	"github.com/keyhall/keyhall/enroll"
)

// faultStore is the real store with faults injected: a hook may fail a call
// before it reaches the store.
type faultStore struct {
	enroll.Store
	// getInvitation, when set, runs before GetInvitation with the request's
	// context.
	getInvitation func(ctx context.Context) error
	// afterStore: once set, every PutEnrollPending and GetUser fails, as
	// when the database goes away right after a step's write.
	afterStore atomic.Bool
	// failStep: the next write of a step fails (and stores nothing).
	failStep atomic.Bool
}

var errInjected = errors.New("injected fault")

func (s *faultStore) GetInvitation(ctx context.Context, h authn.TokenHash) (authn.Invitation, error) {
	if s.getInvitation != nil {
		if err := s.getInvitation(ctx); err != nil {
			return authn.Invitation{}, err
		}
	}
	return s.Store.GetInvitation(ctx, h)
}

func (s *faultStore) PutEnrollPending(ctx context.Context, p authn.EnrollPending) error {
	if s.afterStore.Load() {
		return errInjected
	}
	return s.Store.PutEnrollPending(ctx, p)
}

func (s *faultStore) GetUser(ctx context.Context, id string) (authn.User, error) {
	if s.afterStore.Load() {
		return authn.User{}, errInjected
	}
	return s.Store.GetUser(ctx, id)
}

func (s *faultStore) CompleteEnrollStep(ctx context.Context, st authn.EnrollStep) error {
	if s.failStep.CompareAndSwap(true, false) {
		return errInjected
	}
	err := s.Store.CompleteEnrollStep(ctx, st)
	if err == nil {
		s.afterStore.Store(true)
	}
	return err
}

var (
	addrX = authn.ClientInfo{Addr: "198.51.100.7"}
	addrY = authn.ClientInfo{Addr: "203.0.113.9"}
)

// A redemption cut off in the middle (the request cancelled, or the process
// killed, after the try was admitted) counts nothing: more of them than the
// limit leave the address free to redeem.
func TestRedeemCutOffCountsNothing(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	anna := f.user(t, "anna")
	inv, err := f.svc.Issue(ctx, anna.ID, 0, "cli:root", "")
	must(t, err)
	cut := &faultStore{Store: f.store}
	cutOff := f.serviceOn(t, cut)
	for range 15 {
		rctx, cancel := context.WithCancel(ctx)
		cut.getInvitation = func(context.Context) error { cancel(); return rctx.Err() }
		if _, err := cutOff.Redeem(rctx, enroll.Redemption{Token: token(inv.Link), Client: addrX}); err == nil {
			t.Fatal("a redemption cut off in the middle succeeded")
		}
	}
	if _, err := f.svc.Redeem(ctx, enroll.Redemption{Token: token(inv.Link), Client: addrX}); err != nil {
		t.Fatalf("redeem after 15 cut-off redemptions from the same address: %v", err)
	}
}

// Reopening a link that was used (its holder reloads it) is not a guess:
// any number of times leaves her address free for other redemptions.
func TestReopenUsedLinkNotThrottled(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	anna, bernd := f.user(t, "anna"), f.user(t, "bernd")
	ainv, err := f.svc.Issue(ctx, anna.ID, 0, "cli:root", "")
	must(t, err)
	binv, err := f.svc.Issue(ctx, bernd.ID, 0, "cli:root", "")
	must(t, err)
	pr, err := f.svc.Redeem(ctx, enroll.Redemption{Token: token(ainv.Link), Client: addrX})
	must(t, err)
	_, _, err = f.register(t, pr.ID, keyReg{fmt: "none"})
	must(t, err)
	for range 15 {
		_, err := f.svc.Inspect(ctx, token(ainv.Link), addrX)
		wantReason(t, "inspect the used link", err, enroll.ReasonUsed)
		_, err = f.svc.Redeem(ctx, enroll.Redemption{Token: token(ainv.Link), Client: addrX})
		wantReason(t, "redeem the used link", err, enroll.ReasonUsed)
	}
	if _, err := f.svc.Inspect(ctx, token(binv.Link), addrX); err != nil {
		t.Fatalf("inspect another link from the same address: %v", err)
	}
	if _, err := f.svc.Redeem(ctx, enroll.Redemption{Token: token(binv.Link), Client: addrX}); err != nil {
		t.Fatalf("redeem another link from the same address: %v", err)
	}
}

// Wrong links still count against the address: the 11th is refused, and so
// is a right link from there while it is throttled; another address is not.
func TestWrongLinksThrottleAddress(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	anna := f.user(t, "anna")
	inv, err := f.svc.Issue(ctx, anna.ID, 0, "cli:root", "")
	must(t, err)
	for range 10 {
		_, err := f.svc.Redeem(ctx, enroll.Redemption{Token: enroll.NewToken(), Client: addrX})
		wantReason(t, "wrong link", err, enroll.ReasonWrongCode)
	}
	_, err = f.svc.Redeem(ctx, enroll.Redemption{Token: enroll.NewToken(), Client: addrX})
	wantReason(t, "11th wrong link", err, enroll.ReasonThrottled)
	_, err = f.svc.Redeem(ctx, enroll.Redemption{Token: token(inv.Link), Client: addrX})
	wantReason(t, "right link from a throttled address", err, enroll.ReasonThrottled)
	if _, err := f.svc.Redeem(ctx, enroll.Redemption{Token: token(inv.Link), Client: addrY}); err != nil {
		t.Fatalf("right link from another address: %v", err)
	}
}

// Parallel guesses never pass the limit in one process, and pass it by at
// most the limit per further process (here two Services on one database).
func TestParallelGuessesBounded(t *testing.T) {
	const limit = 10
	for _, procs := range []int{1, 2} {
		t.Run(string(rune('0'+procs)), func(t *testing.T) {
			f := newFixture(t)
			ctx := t.Context()
			anna := f.user(t, "anna")
			inv, err := f.svc.Issue(ctx, anna.ID, 0, "cli:root", "")
			must(t, err)
			svcs := []*enroll.Service{f.svc}
			for len(svcs) < procs {
				svcs = append(svcs, f.serviceOn(t, f.store))
			}
			const n = 60
			var answered, throttled atomic.Int32
			var wg sync.WaitGroup
			for i := range n {
				wg.Go(func() {
					_, err := svcs[i%procs].Redeem(ctx, enroll.Redemption{Token: enroll.NewToken(), Client: addrX})
					switch {
					case enroll.IsReason(err, enroll.ReasonWrongCode):
						answered.Add(1)
					case enroll.IsReason(err, enroll.ReasonThrottled):
						throttled.Add(1)
					default:
						t.Errorf("parallel guess: %v", err)
					}
				})
			}
			wg.Wait()
			t.Logf("%d processes: %d of %d parallel guesses answered, %d throttled", procs, answered.Load(), n, throttled.Load())
			if got := int(answered.Load()); got > limit*procs || got < limit {
				t.Errorf("%d of %d parallel guesses were answered, want %d…%d", got, n, limit, limit*procs)
			}
			for _, svc := range svcs {
				_, err = svc.Redeem(ctx, enroll.Redemption{Token: token(inv.Link), Client: addrX})
				wantReason(t, "right link after the burst", err, enroll.ReasonThrottled)
			}
		})
	}
}

// A fault right after a key is stored (the database goes away before the
// next step is read) still leads the person on: the key is stored, and the
// enrollment's new id takes her to the recovery codes; it never leaves her
// with a stored key and a used link only.
func TestFaultAfterKeyLeadsOn(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	anna := f.withPassword(t, f.user(t, "anna")) // codes need a password after them
	fs := &faultStore{Store: f.store}
	svc := f.serviceOn(t, fs)
	pr := f.redeemOn(t, svc, anna)
	var err error
	_, pr, err = f.registerOn(t, svc, pr.ID, keyReg{fmt: "none"}, "")
	if !fs.afterStore.Load() {
		t.Fatalf("the key was not stored: %v", err)
	}
	t.Logf("FinishKey after a fault behind the key's write: %v", err)
	if creds, err := f.store.ListCredentials(ctx, anna.ID); err != nil || len(creds) != 1 {
		t.Fatalf("%d keys stored, want 1 (read: %v)", len(creds), err)
	}
	if len(pr.ID) == 0 {
		t.Fatal("the key is stored, but the enrollment has no next step: the person is left with a used link")
	}
	codes, _, err := f.svc.NewRecoveryCodes(ctx, pr.ID)
	if err != nil || len(codes) != enroll.RecoveryCodeCount {
		t.Fatalf("recovery codes after the fault: %d, %v", len(codes), err)
	}
}

func (s *faultStore) ReplaceRecoveryCodes(ctx context.Context, userID string, hashes []authn.TokenHash, ev authn.AuditEvent) error {
	err := s.Store.ReplaceRecoveryCodes(ctx, userID, hashes, ev)
	if err == nil {
		s.afterStore.Store(true)
	}
	return err
}

// A fault right after an app or new recovery codes are stored leads on as
// well: the enrollment goes on under its new id (the codes are stored when
// she confirms she kept them, KeepRecoveryCodes).
func TestFaultAfterAppAndCodesLeadsOn(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	anna := f.withPassword(t, f.user(t, "anna")) // codes need a password after them
	fs := &faultStore{Store: f.store}
	svc := f.serviceOn(t, fs)
	pr := f.redeemOn(t, svc, anna)
	var err error
	setup, pr, err := svc.BeginTOTP(ctx, pr.ID)
	must(t, err)
	secret, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(strings.ReplaceAll(setup.Secret, "-", ""))
	must(t, err)
	code, err := authn.TOTPCode(secret, f.clock.now())
	must(t, err)
	pr, err = svc.ConfirmTOTP(ctx, pr.ID, code, "")
	if !fs.afterStore.Load() {
		t.Fatalf("the app was not stored: %v", err)
	}
	if len(pr.ID) == 0 {
		t.Fatalf("the app is stored, but the enrollment has no next step (%v)", err)
	}
	fs.afterStore.Store(false)
	codes, pr, err := svc.NewRecoveryCodes(ctx, pr.ID) // her first codes: stored at once
	if !fs.afterStore.Load() {
		t.Fatalf("the codes were not stored: %v", err)
	}
	if n, cerr := f.store.CountRecoveryCodes(ctx, anna.ID); cerr != nil || len(codes) != n || n != enroll.RecoveryCodeCount || len(pr.ID) == 0 {
		t.Fatalf("after a fault behind the codes' write: %d shown, %d stored, next id %x: %v, %v", len(codes), n, pr.ID, err, cerr)
	}
	if _, _, err := f.svc.BeginKey(ctx, pr.ID); err != nil {
		t.Fatalf("the next step after the codes: %v", err)
	}
}

// A step whose write fails (and stores nothing) leaves the enrollment
// open under a new id: the person tries again where she was.
func TestFailedStepKeepsEnrollment(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	anna := f.user(t, "anna")
	fs := &faultStore{Store: f.store}
	svc := f.serviceOn(t, fs)
	pr := f.redeemOn(t, svc, anna)
	var err error
	fs.failStep.Store(true)
	_, pr, err = f.registerOn(t, svc, pr.ID, keyReg{fmt: "none"}, "")
	if err == nil || errors.As(err, new(*enroll.Error)) {
		t.Fatalf("FinishKey with a failing write: %v, want a storage error", err)
	}
	if creds, err := f.store.ListCredentials(ctx, anna.ID); err != nil || len(creds) != 0 || len(pr.ID) == 0 {
		t.Fatalf("after a failed write: %d keys, next id %x; want none and an id (read: %v)", len(creds), pr.ID, err)
	}
	if _, pr, err = f.register(t, pr.ID, keyReg{fmt: "none"}); err != nil || !pr.Consumed {
		t.Fatalf("the key again after the fault: %v", err)
	}
}
