package sqlstore

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/keyhall/keyhall/authn"
)

// blockingRead is a read function for sessionCache.load that counts its
// calls and, for the first one, waits until release is closed.
type blockingRead struct {
	calls   atomic.Int32
	started chan struct{} // closed when the first read has begun
	release chan struct{}
	err     error // the first read's error; with ErrNotFound, every read's
}

func newBlockingRead(err error) *blockingRead {
	return &blockingRead{started: make(chan struct{}), release: make(chan struct{}), err: err}
}

func (b *blockingRead) read(_ context.Context, h authn.SessionHash) (authn.Session, error) {
	if b.calls.Add(1) == 1 {
		close(b.started)
		<-b.release
		if b.err != nil {
			return authn.Session{}, b.err
		}
	}
	if errors.Is(b.err, authn.ErrNotFound) {
		return authn.Session{}, b.err
	}
	return authn.Session{Hash: h, UserID: "anna"}, nil
}

// waitingContext tells on waiting when a request begins to wait on it: a
// load that joins a read under way waits for that read or its own
// context's end (Done), whichever comes first.
type waitingContext struct {
	context.Context
	waiting chan<- struct{}
}

func (c waitingContext) Done() <-chan struct{} {
	select {
	case c.waiting <- struct{}{}:
	default: // more calls than the test waits for
	}
	return c.Context.Done()
}

// loadAll starts the read of h that b blocks, then n loads of h, waits
// until each of them waits for that read, releases it and returns their
// answers.
func loadAll(t *testing.T, c *sessionCache, h authn.SessionHash, b *blockingRead, n int) []error {
	t.Helper()
	first := make(chan error, 1)
	go func() {
		_, err := c.load(t.Context(), h, b.read)
		first <- err
	}()
	<-b.started
	waiting := make(chan struct{}, n)
	ctx := waitingContext{Context: t.Context(), waiting: waiting}
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			s, err := c.load(ctx, h, b.read)
			if err == nil && s.UserID != "anna" {
				err = errors.New("wrong session")
			}
			errs[i] = err
		})
	}
	for i := range n {
		select {
		case <-waiting:
		case <-time.After(5 * time.Second):
			t.Fatalf("%d of %d loads wait for the read under way", i, n)
		}
	}
	close(b.release)
	wg.Wait()
	return append(errs, <-first)
}

// TestSessionCacheSharesRead: requests that miss together share one read
// of the database, and its answer is cached.
func TestSessionCacheSharesRead(t *testing.T) {
	c := newSessionCache(time.Minute, 10)
	h := authn.SessionHash{1}
	b := newBlockingRead(nil)
	for i, err := range loadAll(t, c, h, b, 20) {
		if err != nil {
			t.Errorf("load %d: %v", i, err)
		}
	}
	if _, err := c.load(t.Context(), h, b.read); err != nil {
		t.Fatal(err)
	}
	if n := b.calls.Load(); n != 1 {
		t.Errorf("%d reads for 22 loads of one session, want 1", n)
	}
}

// TestSessionCacheDropDuringRead: a request that starts after the session
// was dropped (a revocation through this Store) does not take the answer
// of a read that began before, and that answer is not cached.
func TestSessionCacheDropDuringRead(t *testing.T) {
	c := newSessionCache(time.Minute, 10)
	h := authn.SessionHash{1}
	b := newBlockingRead(nil)
	first := make(chan error, 1)
	go func() {
		_, err := c.load(t.Context(), h, b.read)
		first <- err
	}()
	<-b.started
	release := sync.OnceFunc(func() { close(b.release) })
	defer release()
	c.drop(h)
	second := make(chan error, 1)
	go func() {
		_, err := c.load(t.Context(), h, b.read)
		second <- err
	}()
	select {
	case err := <-second:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("a load after drop waits for the read that began before it")
	}
	if n := b.calls.Load(); n != 2 {
		t.Errorf("a load after drop made %d reads in all, want its own (2)", n)
	}
	release()
	if err := <-first; err != nil {
		t.Fatal(err)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.loads) != 0 {
		t.Errorf("%d reads still listed", len(c.loads))
	}
}

// TestSessionCacheReadFails: when the shared read fails with ErrNotFound,
// the waiters get ErrNotFound; when it fails otherwise (its request was
// cancelled), each waiter reads for itself.
func TestSessionCacheReadFails(t *testing.T) {
	h := authn.SessionHash{1}
	t.Run("not found", func(t *testing.T) {
		b := newBlockingRead(authn.ErrNotFound)
		errs := loadAll(t, newSessionCache(time.Minute, 10), h, b, 5)
		for i, err := range errs {
			if !errors.Is(err, authn.ErrNotFound) {
				t.Errorf("load %d: %v, want ErrNotFound", i, err)
			}
		}
	})
	t.Run("cancelled", func(t *testing.T) {
		b := newBlockingRead(context.Canceled)
		errs := loadAll(t, newSessionCache(time.Minute, 10), h, b, 5)
		failed := 0
		for _, err := range errs {
			if err != nil {
				failed++
			}
		}
		if failed != 1 {
			t.Errorf("%d of 5 loads failed, want only the one whose read failed", failed)
		}
	})
}
