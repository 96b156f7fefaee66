package web

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/keyhall/keyhall/authn"
	"github.com/keyhall/keyhall/enroll"
)

// afterFactorFault is the real store, failing the next save of an
// enrollment step and the next read of a person after the first factor is
// stored: the database goes away right behind the factor's write.
type afterFactorFault struct {
	authn.Store
	fired, put, read atomic.Bool
}

var errAfterFactor = errors.New("injected: database gone after the factor's write")

func (s *afterFactorFault) arm() {
	if s.fired.CompareAndSwap(false, true) {
		s.put.Store(true)
		s.read.Store(true)
	}
}

func (s *afterFactorFault) CompleteEnrollStep(ctx context.Context, st authn.EnrollStep) error {
	err := s.Store.CompleteEnrollStep(ctx, st)
	if err == nil {
		s.arm()
	}
	return err
}

func (s *afterFactorFault) PutEnrollPending(ctx context.Context, p authn.EnrollPending) error {
	if s.put.CompareAndSwap(true, false) {
		return errAfterFactor
	}
	return s.Store.PutEnrollPending(ctx, p)
}

func (s *afterFactorFault) GetUser(ctx context.Context, id string) (authn.User, error) {
	if s.read.CompareAndSwap(true, false) {
		return authn.User{}, errAfterFactor
	}
	return s.Store.GetUser(ctx, id)
}

// TestEnrollErrorAfterKeyLeadsOn: when the key is stored but the answer
// fails (503), the person's invitation link leads her on to the step she is
// at, and she gets her recovery codes; it never answers 410 to her. Another
// person's used link does not take her enrollment up.
func TestEnrollErrorAfterKeyLeadsOn(t *testing.T) {
	f := newFixture(t)
	fs := &afterFactorFault{Store: f.store}
	if err := f.srv.SetStore(fs, nil); err != nil {
		t.Fatal(err)
	}
	anna, bernd := f.addUser("anna"), f.addUser("bernd")
	f.setPassword(anna, "annas langes Passwort") // recovery codes need one after them
	inv := f.invite(anna)
	old := f.invite(bernd)
	f.invite(bernd) // voids the old one: a used link of another person
	b := f.client()
	if res, body := b.form(linkPath(t, inv.Link), url.Values{}); res.StatusCode != http.StatusOK {
		t.Fatalf("redeem: %d\n%s", res.StatusCode, body)
	}
	status, options := b.beginKey()
	if status != http.StatusOK {
		t.Fatalf("begin key: %d %s", status, options)
	}
	res, body := b.finishKey(t, options)
	fs.put.Store(false) // the database is back
	fs.read.Store(false)
	t.Logf("finish key with a fault behind the key's write: %d", res.StatusCode)
	if keys, _, _ := f.count(anna); keys != 1 {
		t.Fatalf("%d keys stored, want 1 (status %d)\n%s", keys, res.StatusCode, body)
	}

	if res, body := b.get(linkPath(t, old.Link)); res.StatusCode != http.StatusGone {
		t.Errorf("bernd's used link with anna's enrollment: %d, want 410\n%s", res.StatusCode, body)
	}
	res, body = b.get(linkPath(t, inv.Link))
	if res.StatusCode != http.StatusOK || !strings.Contains(body, msgEnrollResumed.DE) || !strings.Contains(body, `id="choose-codes"`) {
		t.Fatalf("her link after the error: %d, want the step she is at\n%s", res.StatusCode, body)
	}
	if res, body := b.form(linkPath(t, inv.Link), url.Values{}); res.StatusCode != http.StatusOK || !strings.Contains(body, msgEnrollResumed.DE) {
		t.Errorf("the start form of her link posted again: %d\n%s", res.StatusCode, body)
	}
	res, body = b.form("/enroll/recovery", url.Values{})
	if res.StatusCode != http.StatusOK || !strings.Contains(body, `id="recovery-codes"`) {
		t.Fatalf("recovery codes after the error: %d\n%s", res.StatusCode, body)
	}
	res, body = b.form("/enroll/done", url.Values{"stored": {"yes"}})
	if _, _, codes := f.count(anna); res.StatusCode != http.StatusOK || codes != 10 {
		t.Fatalf("recovery codes confirmed after the error: %d, %d codes stored\n%s", res.StatusCode, codes, body)
	}
	// Her enrollment is done: now the link is used up for good.
	if res, body := b.form(linkPath(t, inv.Link), url.Values{}); res.StatusCode != http.StatusGone {
		t.Errorf("the start form of her link posted after she finished: %d, want 410\n%s", res.StatusCode, body)
	}
}

// TestEnrollUsedLinkReloadNotThrottled: a used link reloaded more often than
// the throttle allows guesses (by its holder, without her enrollment) is
// answered 410 each time and counts nothing: the address may still redeem
// another link.
func TestEnrollUsedLinkReloadNotThrottled(t *testing.T) {
	f := newFixture(t)
	f.withEnroll(enroll.Config{})
	anna, bernd := f.addUser("anna"), f.addUser("bernd")
	used, other := f.invite(anna), f.invite(bernd)
	b := f.client()
	if res, body := b.form(linkPath(t, used.Link), url.Values{}); res.StatusCode != http.StatusOK {
		t.Fatalf("redeem: %d\n%s", res.StatusCode, body)
	}
	_, options := b.beginKey()
	if res, body := b.finishKey(t, options); res.StatusCode != http.StatusOK {
		t.Fatalf("finish key: %d\n%s", res.StatusCode, body)
	}
	for i := range 15 {
		if res, body := f.client().get(linkPath(t, used.Link)); res.StatusCode != http.StatusGone {
			t.Fatalf("reload %d of the used link: %d, want 410\n%s", i+1, res.StatusCode, body)
		}
		if res, body := f.client().form(linkPath(t, used.Link), url.Values{}); res.StatusCode != http.StatusGone {
			t.Fatalf("start form %d of the used link: %d, want 410\n%s", i+1, res.StatusCode, body)
		}
	}
	if res, body := f.client().form(linkPath(t, other.Link), url.Values{}); res.StatusCode != http.StatusOK {
		t.Fatalf("another link from the same address after the reloads: %d\n%s", res.StatusCode, body)
	}
}
