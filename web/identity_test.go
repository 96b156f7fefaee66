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
			release := make(chan struct{})
			read := func(context.Context) (*identity, error) {
				if reads.Add(1) == 1 {
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
			for reads.Load() == 0 {
				time.Sleep(time.Millisecond)
			}
			errs := make([]error, 10)
			var wg sync.WaitGroup
			for i := range errs {
				wg.Go(func() {
					p, err := c.get(t.Context(), anna.ID, read)
					if err == nil && (p.user.Username != "anna" || p.remote.groups[0] != "rat,bau" || p.remote.name[0] != "AnnaMüller") {
						err = errors.New("wrong identity")
					}
					errs[i] = err
				})
			}
			time.Sleep(50 * time.Millisecond) // let them wait for the first read
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
