package web

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/keyhall/keyhall/authn"
)

// TestIdentitiesShareRead: requests that miss a person together share one
// read of the store; a read that fails with ErrNotFound answers them all,
// one that fails otherwise (its request was cancelled) makes each read
// for itself.
func TestIdentitiesShareRead(t *testing.T) {
	anna := authn.User{ID: "anna-id", Username: "anna", DisplayName: "Anna\nMüller", Status: authn.StatusActive}
	tests := []struct {
		name      string
		firstErr  error // the first read's answer
		wantReads func(n int32) bool
		wantErr   error // what every other request gets
	}{
		{"found", nil, func(n int32) bool { return n == 1 }, nil},
		{"not found", authn.ErrNotFound, func(n int32) bool { return n >= 1 }, authn.ErrNotFound},
		{"first cancelled", context.Canceled, func(n int32) bool { return n > 1 }, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var c identities
			var reads atomic.Int32
			reading, release := make(chan struct{}), make(chan struct{})
			read := func(context.Context) (*identity, error) {
				if reads.Add(1) == 1 {
					close(reading)
					<-release
					if tt.firstErr != nil {
						return nil, tt.firstErr
					}
				}
				if errors.Is(tt.firstErr, authn.ErrNotFound) {
					return nil, tt.firstErr
				}
				return newIdentity(anna, []string{"rat", "bau"}, time.Now()), nil
			}
			first := make(chan error, 1)
			go func() {
				_, err := c.get(t.Context(), anna.ID, read)
				first <- err
			}()
			<-reading
			waiting := make(chan struct{}, 10)
			ctx := waitingContext{Context: t.Context(), waiting: waiting}
			errs := make([]error, 10)
			var wg sync.WaitGroup
			for i := range errs {
				wg.Go(func() {
					p, err := c.get(ctx, anna.ID, read)
					if err == nil && (p.user.Username != "anna" || p.remote.groups[0] != "rat,bau" || p.remote.name[0] != "AnnaMüller") {
						err = errors.New("wrong identity")
					}
					errs[i] = err
				})
			}
			for i := range errs {
				select {
				case <-waiting:
				case <-time.After(5 * time.Second):
					t.Fatalf("%d of %d requests wait for the first read", i, len(errs))
				}
			}
			close(release)
			wg.Wait()
			if err := <-first; !errors.Is(err, tt.firstErr) {
				t.Errorf("first request: %v, want %v", err, tt.firstErr)
			}
			for i, err := range errs {
				if !errors.Is(err, tt.wantErr) {
					t.Errorf("request %d: %v, want %v", i, err, tt.wantErr)
				}
			}
			if n := reads.Load(); !tt.wantReads(n) {
				t.Errorf("%d reads of the store for 11 requests", n)
			}
		})
	}
}

// waitingContext tells on waiting when a request begins to wait on it: a
// request that joins a read under way waits for that read or its own
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
