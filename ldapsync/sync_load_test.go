package ldapsync_test

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"runtime/metrics"
	"runtime/pprof"
	"strings"
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
// changed ≤ 10 s, an incremental sync of 100 changes ≤ 2 s. The RSS limit
// holds for each of them: the later ones hold Keyhall's people besides the
// directory's. Run with
//
//	KEYHALL_LOAD=1 CI=true go test -count=1 -run TestSyncSlapd50kLoad -v ./ldapsync
//
// With KEYHALL_LOAD_CPUPROFILE=prefix each sync also writes a CPU profile,
// with KEYHALL_LOAD_MEMPROFILE=prefix a heap profile taken at its peak live
// heap, to prefix-<database>-<sync>.{cpu,heap}.prof (for go tool pprof).
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
				stopProfile := startCPUProfile(t, db.name+"-"+what)
				start, cpu0 := time.Now(), cpuTime()
				res, err := syncer.Run(context.Background(), ldapsync.RunOptions{Incremental: incremental, Actor: "test"})
				took, cpu := time.Since(start), cpuTime()-cpu0
				stopProfile()
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

			// measure runs a sync and holds the process's peak RSS during
			// it (from the RSS it starts with) to the 150 MB.
			measure := func(what string, incremental bool, limit time.Duration) ldapsync.Result {
				t.Helper()
				runtime.GC()
				resetPeakRSS()
				before := peakRSS()
				stop := sampleLiveHeap(t, db.name+"-"+what)
				res := run(what, incremental, limit)
				rss := peakRSS()
				t.Logf("%s: peak RSS %d MB (%d MB before); peak live heap (after a GC) %d MB", what, rss>>20, before>>20, stop()>>20)
				if rss > 150<<20 {
					t.Errorf("%s: peak RSS %d MB, want ≤ 150 MB", what, rss>>20)
				}
				return res
			}
			if res := measure("first full sync", false, 30*time.Second); len(res.Created) != 50_000+500 {
				t.Errorf("created %d, want 50,500 people and groups", len(res.Created))
			}
			if res := measure("full sync, nothing changed", false, 10*time.Second); res.Unchanged != 50_000 {
				t.Errorf("unchanged %d", res.Unchanged)
			}

			conn := s.Root(t)
			for i := range 100 {
				req := ldap.NewModifyRequest(fmt.Sprintf("uid=u%06d,ou=people,dc=example,dc=org", i*499), nil)
				req.Replace("displayName", []string{fmt.Sprintf("Geändert %d", i)})
				if err := conn.Modify(req); err != nil {
					t.Fatal(err)
				}
			}
			if res := measure("incremental sync of 100 changes", true, 2*time.Second); len(res.Updated) != 100 {
				t.Errorf("updated %d, want 100", len(res.Updated))
			}
		})
	}
}

// sampleLiveHeap samples the live heap (the heap the last GC found in use)
// until the returned func is called, which returns its peak. With
// KEYHALL_LOAD_MEMPROFILE set it writes a heap profile at each new peak
// (of at least 1 MB more), so the file holds the peak's.
func sampleLiveHeap(t *testing.T, name string) (stop func() uint64) {
	done := make(chan struct{})
	peak := make(chan uint64)
	prefix := os.Getenv("KEYHALL_LOAD_MEMPROFILE")
	go func() {
		s := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
		var max, profiled uint64
		for {
			metrics.Read(s)
			if v := s[0].Value.Uint64(); v > max {
				max = v
			}
			if prefix != "" && max > profiled+1<<20 {
				profiled = max
				writeProfile(t, profileName(prefix, name, "heap"), pprof.Lookup("heap").WriteTo)
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

// startCPUProfile starts a CPU profile named name if
// KEYHALL_LOAD_CPUPROFILE is set; the returned func stops and writes it.
func startCPUProfile(t *testing.T, name string) (stop func()) {
	prefix := os.Getenv("KEYHALL_LOAD_CPUPROFILE")
	if prefix == "" {
		return func() {}
	}
	f, err := os.Create(profileName(prefix, name, "cpu"))
	if err != nil {
		t.Fatal(err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		t.Fatal(err)
	}
	return func() {
		pprof.StopCPUProfile()
		if err := f.Close(); err != nil {
			t.Error(err)
		}
		t.Logf("CPU profile: %s", f.Name())
	}
}

// profileName is prefix-name.kind.prof with name's spaces and commas as
// dashes.
func profileName(prefix, name, kind string) string {
	name = strings.NewReplacer(", ", "-", " ", "-").Replace(name)
	return prefix + "-" + name + "." + kind + ".prof"
}

// writeProfile writes a profile to path.
func writeProfile(t *testing.T, path string, write func(w io.Writer, debug int) error) {
	f, err := os.Create(path)
	if err != nil {
		t.Error(err)
		return
	}
	if err := write(f, 0); err != nil {
		t.Error(err)
	}
	if err := f.Close(); err != nil {
		t.Error(err)
	}
}

// cpuTime is the CPU time (user and system) this process has used.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
