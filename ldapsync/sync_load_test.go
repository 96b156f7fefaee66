package ldapsync_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"runtime/metrics"
	"syscall"
	"testing"
	"time"

	"github.com/go-ldap/ldap/v3"

	"github.com/keyhall/keyhall/authn/sqlstore"
	"github.com/keyhall/keyhall/authn/sqlstore/pgtest"
	"github.com/keyhall/keyhall/ldapsync"
	"github.com/keyhall/keyhall/ldapsync/ldaptest"
)

// TestSyncSlapd50kLoad holds the syncer, reading a real slapd and writing
// a real SQLite and PostgreSQL database, to the speed limits with
// 50,000 people in 500 groups: the first full sync ≤ 30 s with a peak RSS
// of the test process ≤ 150 MB (the SQLite engine runs inside it; slapd
// and PostgreSQL are processes of their own), a full sync with nothing
// changed ≤ 10 s, an incremental sync of 100 changes ≤ 2 s. Run with
//
//	KEYHALL_LOAD=1 CI=true go test -count=1 -run TestSyncSlapd50kLoad -v ./ldapsync
func TestSyncSlapd50kLoad(t *testing.T) {
	if os.Getenv("KEYHALL_LOAD") != "1" {
		t.Skip("set KEYHALL_LOAD=1 to run the load test")
	}
	path := writeLoadLDIF(t, 50_000, 500)
	for _, db := range []struct {
		name string
		url  func(t *testing.T) string
	}{
		{"sqlite", func(t *testing.T) string { return "sqlite://" + filepath.Join(t.TempDir(), "keyhall.db") }},
		{"postgres", func(t *testing.T) string { return pgtest.Start(t).NewDatabase(t) }},
	} {
		t.Run(db.name, func(t *testing.T) {
			s := ldaptest.StartSlapd(t, ldaptest.SlapdOptions{LDIFFile: path})
			cfg := slapdConfig(s)
			cfg.UserFilter = "(objectClass=inetOrgPerson)"
			cfg.Groups = []ldapsync.GroupMapping{{Filter: "(cn=g*)"}}
			st, err := sqlstore.Open(context.Background(), db.url(t), sqlstore.Options{Logger: quiet()})
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			syncer, err := ldapsync.NewSyncer(ldapsync.SyncConfig{Store: st, Directory: cfg, Logger: quiet()})
			if err != nil {
				t.Fatal(err)
			}
			run := func(what string, incremental bool, limit time.Duration) ldapsync.Result {
				t.Helper()
				start, cpu0 := time.Now(), cpuTime()
				res, err := syncer.Run(context.Background(), ldapsync.RunOptions{Incremental: incremental, Actor: "test"})
				took, cpu := time.Since(start), cpuTime()-cpu0
				if err != nil {
					t.Fatalf("%s: %v", what, err)
				}
				if res.Incremental != incremental {
					t.Fatalf("%s: incremental %t (%s)", what, res.Incremental, res.FullReason)
				}
				load, _ := os.ReadFile("/proc/loadavg")
				t.Logf("%s: %v, CPU of this process %v, load average %.4s (created %d, updated %d, unchanged %d)", what,
					took.Round(time.Millisecond), cpu.Round(time.Millisecond), load, len(res.Created), len(res.Updated), res.Unchanged)
				if took > limit {
					t.Errorf("%s took %v, want ≤ %v", what, took, limit)
				}
				return res
			}

			runtime.GC()
			resetPeakRSS()
			t.Logf("RSS before the first sync: %d MB", peakRSS()>>20)
			stop := sampleLiveHeap()
			res := run("first full sync", false, 30*time.Second)
			rss := peakRSS()
			t.Logf("peak RSS of the first full sync: %d MB; peak live heap (after a GC) %d MB", rss>>20, stop()>>20)
			if len(res.Created) != 50_000+500 {
				t.Errorf("created %d, want 50,500 people and groups", len(res.Created))
			}
			if rss > 150<<20 {
				t.Errorf("peak RSS %d MB, want ≤ 150 MB", rss>>20)
			}
			stop = sampleLiveHeap()
			if res := run("full sync, nothing changed", false, 10*time.Second); res.Unchanged != 50_000 {
				t.Errorf("unchanged %d", res.Unchanged)
			}
			t.Logf("peak live heap of the unchanged full sync: %d MB", stop()>>20)

			conn := s.Root(t)
			for i := range 100 {
				req := ldap.NewModifyRequest(fmt.Sprintf("uid=u%06d,ou=people,dc=example,dc=org", i*499), nil)
				req.Replace("displayName", []string{fmt.Sprintf("Geändert %d", i)})
				if err := conn.Modify(req); err != nil {
					t.Fatal(err)
				}
			}
			if res := run("incremental sync of 100 changes", true, 2*time.Second); len(res.Updated) != 100 {
				t.Errorf("updated %d, want 100", len(res.Updated))
			}
			t.Logf("peak RSS of the test process over all three: %d MB", peakRSS()>>20)
		})
	}
}

// sampleLiveHeap samples the live heap (the heap the last GC found in use)
// until the returned func is called, which returns its peak.
func sampleLiveHeap() (stop func() uint64) {
	done := make(chan struct{})
	peak := make(chan uint64)
	go func() {
		s := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
		var max uint64
		for {
			metrics.Read(s)
			if v := s[0].Value.Uint64(); v > max {
				max = v
			}
			select {
			case <-done:
				peak <- max
				return
			case <-time.After(10 * time.Millisecond):
			}
		}
	}()
	return func() uint64 { close(done); return <-peak }
}

// cpuTime is the CPU time (user and system) this process has used.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
