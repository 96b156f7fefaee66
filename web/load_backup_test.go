package web

import (
	"context"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// backupPeople is how many people the backup load run's database holds
// besides the council: a city's worth, each with an app and a password.
const backupPeople = 10_000

// TestLoadBackupDuringSignIn measures keyhall admin backup's copy
// (sqlstore.Store.Backup, VACUUM INTO) of a database with 10,000 people
// while the council signs in with keys as in TestLoadKeySignIn: first the
// sign-ins alone, then the same while backups run back to back. It logs
// how long a backup takes and the sign-ins' rate and p99 in both phases.
//
//	KEYHALL_LOAD=1 go test ./web -run TestLoadBackupDuringSignIn -v -count=1
func TestLoadBackupDuringSignIn(t *testing.T) {
	skipUnlessLoad(t)
	f, names, keys := councilKeys(t)
	start := time.Now()
	f.bulkAddAppPeople(t, "app", backupPeople)
	t.Logf("%d people with an app added in %v", backupPeople, time.Since(start).Round(time.Millisecond))
	// serve records the keys' fingerprint at its first start; a backup copies it.
	if _, err := f.store.EnsureSetting(context.Background(), "keys_fingerprint", "load-run"); err != nil {
		t.Fatal(err)
	}
	c := newLoadClient(f)
	defer c.close()
	op := keySignIns(f, c, names, keys)
	runLoad(t, time.Second, op) // warm up: connections, caches
	logLoadAvg(t, "before the run")

	n0, rate0, p99a := runLoad(t, loadDuration(), op)
	t.Logf("key sign-ins alone: %d, %.0f/s, p99 %.1f ms", n0, rate0, float64(p99a.Microseconds())/1000)

	file := filepath.Join(t.TempDir(), "keyhall-backup.db")
	var (
		wg   sync.WaitGroup
		stop = make(chan struct{})
		took []time.Duration
		size int64
	)
	wg.Go(func() {
		for {
			select {
			case <-stop:
				return
			default:
			}
			t0 := time.Now()
			info, err := f.store.Backup(context.Background(), file, true)
			if err != nil {
				t.Errorf("backup under load: %v", err)
				return
			}
			took = append(took, time.Since(t0))
			size = info.Size
		}
	})
	n1, rate1, p99b := runLoad(t, loadDuration(), op)
	close(stop)
	wg.Wait()
	if len(took) == 0 {
		t.Fatal("no backup finished during the run")
	}
	var sum, most time.Duration
	for _, d := range took {
		sum += d
		most = max(most, d)
	}
	t.Logf("key sign-ins during backups: %d, %.0f/s, p99 %.1f ms (%.0f%% of the rate alone)",
		n1, rate1, float64(p99b.Microseconds())/1000, 100*rate1/rate0)
	t.Logf("backups of %d people (%.1f MiB): %d back to back, mean %v, longest %v",
		backupPeople+len(names), float64(size)/(1<<20), len(took), (sum / time.Duration(len(took))).Round(time.Millisecond),
		most.Round(time.Millisecond))
}
