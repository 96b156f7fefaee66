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

// loadAll starts n loads of h that join the read under way, and returns
// their answers once that read is released.
func loadAll(t *testing.T, c *sessionCache, h authn.SessionHash, b *blockingRead, n int) []error {
	t.Helper()
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			s, err := c.load(t.Context(), h, b.read)
			if err == nil && s.UserID != "anna" {
				err = errors.New("wrong session")
			}
			errs[i] = err
		})
	}
	// Let the loads reach the wait before the read ends. A load that comes
	// too late finds the cached entry: the test still holds.
	time.Sleep(50 * time.Millisecond)
	close(b.release)
	wg.Wait()
	return errs
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
		t.Errorf("%d reads for 21 loads of one session, want 1", n)
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
