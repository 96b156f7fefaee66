package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/keyhall/keyhall/authn"
	"github.com/keyhall/keyhall/authn/sqlstore"
)

// TestRetentionLeaseRenewed: a run longer than the lease keeps it (no
// other process takes it meanwhile), and a run whose lease another
// process takes stops.
func TestRetentionLeaseRenewed(t *testing.T) {
	st, err := sqlstore.Open(t.Context(), "sqlite://"+filepath.Join(t.TempDir(), "k.db"), sqlstore.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	const ttl = 300 * time.Millisecond
	t.Run("long run", func(t *testing.T) {
		var taken bool
		ran, err := runWithLease(t.Context(), st, retentionLease, "a", ttl, time.Now, func(ctx context.Context) error {
			for range 4 { // 4 × ttl/2: twice the lease
				select {
				case <-ctx.Done():
					return ctx.Err()
				case <-time.After(ttl / 2):
				}
				ok, err := st.TryLockDirectory(ctx, retentionLease, "b", time.Now(), ttl)
				if err != nil {
					return err
				}
				taken = taken || ok
			}
			return nil
		})
		if !ran || err != nil {
			t.Fatalf("runWithLease = %v, %v; want run to its end", ran, err)
		}
		if taken {
			t.Error("another process took the lease while the run went on")
		}
		if ok, err := st.TryLockDirectory(t.Context(), retentionLease, "b", time.Now(), ttl); err != nil || !ok {
			t.Errorf("after the run, another process cannot have the lease: %v, %v", ok, err)
		}
		if err := st.UnlockDirectory(t.Context(), retentionLease, "b"); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("lease lost", func(t *testing.T) {
		stopped := false
		ran, err := runWithLease(t.Context(), st, retentionLease, "a", ttl, time.Now, func(ctx context.Context) error {
			// Another process has it now (as after a pause longer than the lease).
			if err := st.UnlockDirectory(ctx, retentionLease, "a"); err != nil {
				return err
			}
			if ok, err := st.TryLockDirectory(ctx, retentionLease, "b", time.Now(), time.Hour); err != nil || !ok {
				t.Errorf("take the lease as b: %v, %v", ok, err)
			}
			select {
			case <-ctx.Done():
				stopped = true
				return ctx.Err()
			case <-time.After(10 * ttl):
				return nil
			}
		})
		if !ran || !errors.Is(err, errLeaseLost) || !stopped {
			t.Errorf("runWithLease = %v, %v, stopped %v; want the run stopped with errLeaseLost", ran, err, stopped)
		}
		if ok, _ := st.TryLockDirectory(t.Context(), retentionLease, "a", time.Now(), ttl); ok {
			t.Error("the lost lease was given up by its new holder")
		}
	})
}

// TestPurgeThrottles: serve's hourly collection deletes every throttle
// counter whose window is over, batch after batch, and keeps the live one.
func TestPurgeThrottles(t *testing.T) {
	st, err := sqlstore.Open(t.Context(), "sqlite://"+filepath.Join(t.TempDir(), "k.db"), sqlstore.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	now := time.Now()
	old := now.Add(-authn.ThrottleKeep - time.Hour)
	keys := make([]authn.ThrottleKey, 0, 6)
	for i := range throttlePurgeBatch*2 + 500 {
		keys = append(keys, authn.ThrottleKey{Key: fmt.Sprintf("ip:192.0.2.%d/1d", i), Window: 24 * time.Hour})
		if len(keys) == cap(keys) {
			if _, err := st.HitThrottles(t.Context(), keys, old); err != nil {
				t.Fatal(err)
			}
			keys = keys[:0]
		}
	}
	if len(keys) > 0 {
		if _, err := st.HitThrottles(t.Context(), keys, old); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := st.HitThrottle(t.Context(), "2fa:u:anna/30d", now.Add(-29*24*time.Hour), 30*24*time.Hour); err != nil {
		t.Fatal(err)
	}
	n, err := purgeThrottles(t.Context(), st, now)
	if err != nil || n != throttlePurgeBatch*2+500 {
		t.Errorf("purgeThrottles = %d, %v; want %d", n, err, throttlePurgeBatch*2+500)
	}
	if c, err := st.ThrottleCount(t.Context(), "2fa:u:anna/30d", now, 30*24*time.Hour); err != nil || c != 1 {
		t.Errorf("the live counter after the purge: %d, %v; want 1", c, err)
	}
}
