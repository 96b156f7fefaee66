package authn

import (
	"context"
	"sync"
	"testing"
	"time"
)

// touchRecorder is a SessionStore that records TouchSession calls; the real
// stores are tested by the conformance suite.
type touchRecorder struct {
	SessionStore
	mu      sync.Mutex // guards touches
	touches map[SessionHash][]time.Time
}

func (r *touchRecorder) TouchSession(_ context.Context, h SessionHash, at time.Time) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.touches[h] = append(r.touches[h], at)
	return nil
}

func TestLastSeenWritesAtMostOncePerInterval(t *testing.T) {
	rec := &touchRecorder{touches: map[SessionHash][]time.Time{}}
	ls := NewLastSeen(rec, nil)
	start := time.Now()
	fresh := Session{Hash: SessionHash{1}, LastSeenAt: start.Add(-10 * time.Second)}
	stale := Session{Hash: SessionHash{2}, LastSeenAt: start.Add(-2 * time.Minute)}
	for i := range 100 {
		now := start.Add(time.Duration(i) * 100 * time.Millisecond)
		ls.Seen(fresh, now)
		ls.Seen(stale, now)
	}
	ls.Flush(context.Background())
	if n := len(rec.touches[fresh.Hash]); n != 0 {
		t.Errorf("a session seen 10 s ago was written %d times, want 0", n)
	}
	if got := rec.touches[stale.Hash]; len(got) != 1 || !got[0].Equal(start) {
		t.Errorf("a session seen 2 min ago: writes %v, want one at %v", got, start)
	}
	// Seen again after a minute (still stale in a cache): written once more.
	ls.Seen(stale, start.Add(LastSeenInterval+time.Second))
	ls.Flush(context.Background())
	if n := len(rec.touches[stale.Hash]); n != 2 {
		t.Errorf("after a minute: %d writes, want 2", n)
	}
}

func TestLastSeenSeenDoesNotBlock(t *testing.T) {
	block, entered := make(chan struct{}), make(chan struct{}, 1)
	ls := NewLastSeen(blockingStore{block: block, entered: entered}, nil)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { ls.Run(ctx, time.Millisecond); close(done) }()
	old := time.Now().Add(-time.Hour)
	ls.Seen(Session{Hash: SessionHash{1}, LastSeenAt: old}, time.Now())
	select { // the flush is now stuck in the store
	case <-entered:
	case <-time.After(5 * time.Second):
		t.Fatal("no flush reached the store")
	}
	returned := make(chan struct{})
	go func() {
		ls.Seen(Session{Hash: SessionHash{2}, LastSeenAt: old}, time.Now())
		close(returned)
	}()
	select {
	case <-returned:
	case <-time.After(5 * time.Second):
		t.Fatal("Seen blocked while the database was slow")
	}
	close(block)
	cancel()
	<-done
}

// blockingStore tells on entered (without waiting) when TouchSession is
// called and hangs in it until block is closed.
type blockingStore struct {
	SessionStore
	block   chan struct{}
	entered chan<- struct{}
}

func (b blockingStore) TouchSession(ctx context.Context, _ SessionHash, _ time.Time) error {
	select {
	case b.entered <- struct{}{}:
	default:
	}
	<-b.block
	return nil
}
