package ldapsync_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/keyhall/keyhall/ldapsync"
	"github.com/keyhall/keyhall/ldapsync/ldaptest"
)

// loadChanged is when the first person of writeLoadLDIF was changed.
var loadChanged = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)

// writeLoadLDIF writes n people in groups groups (each person in three
// groups; every tenth group also holds the next one, so nesting is
// resolved too) to a file, streamed, and returns its path.
func writeLoadLDIF(tb testing.TB, n, groups int) string {
	tb.Helper()
	path := filepath.Join(tb.TempDir(), "load.ldif")
	f, err := os.Create(path)
	if err != nil {
		tb.Fatal(err)
	}
	w := bufio.NewWriterSize(f, 1<<20)
	for i := range n {
		// Changed at different times in the past, as people of a real
		// directory are (the incremental sync reads by modifyTimestamp).
		changed := loadChanged.Add(time.Duration(i) * time.Minute).Format("20060102150405Z")
		fmt.Fprintf(w, "dn: uid=u%06d,ou=people,dc=example,dc=org\nobjectClass: inetOrgPerson\nobjectClass: shadowAccount\nuid: u%06d\ncn: User %d\nsn: %d\ndisplayName: User Nummer %d\nmail: u%06d@example.org\ntelephoneNumber: +49 251 %d\nstreet: Weg %d\npostalCode: 48143\nl: Münster\nmodifyTimestamp: %s\n\n",
			i, i, i, i, i, i, i, i, changed)
	}
	members := make([][]int, groups)
	for i := range n {
		for k := range 3 {
			g := (i + k*groups/3) % groups
			members[g] = append(members[g], i)
		}
	}
	for g := range groups {
		fmt.Fprintf(w, "dn: cn=g%03d,ou=groups,dc=example,dc=org\nobjectClass: groupOfNames\ncn: g%03d\n", g, g)
		for _, i := range members[g] {
			fmt.Fprintf(w, "member: uid=u%06d,ou=people,dc=example,dc=org\n", i)
		}
		if g%10 == 0 && g+1 < groups {
			fmt.Fprintf(w, "member: cn=g%03d,ou=groups,dc=example,dc=org\n", g+1)
		}
		w.WriteString("\n")
	}
	if err := w.Flush(); err != nil {
		tb.Fatal(err)
	}
	f.Close()
	return path
}

// peakRSS returns the process's peak resident set (VmHWM) in bytes; reset
// it with resetPeakRSS.
func peakRSS() int64 {
	b, _ := os.ReadFile("/proc/self/status")
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb << 10
		}
	}
	return 0
}

func resetPeakRSS() { os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) }

// BenchmarkReadSlapd50k reads 50,000 people in 500 groups from slapd (the
// issue's speed case: ≤ 30 s, peak RSS ≤ 150 MB) and reports the peak RSS
// and heap of the process during the read.
//
//	go test -run '^$' -bench ReadSlapd50k -benchtime 3x ./ldapsync
func BenchmarkReadSlapd50k(b *testing.B) {
	start := time.Now()
	path := writeLoadLDIF(b, 50_000, 500)
	s := ldaptest.StartSlapd(b, ldaptest.SlapdOptions{LDIFFile: path})
	b.Logf("LDIF written and loaded with slapadd -q, slapd up: %v", time.Since(start).Round(time.Millisecond))
	cfg := slapdConfig(s)
	cfg.UserFilter = "(objectClass=inetOrgPerson)"
	cfg.Groups = []ldapsync.GroupMapping{{Filter: "(cn=g*)"}}
	d, err := ldapsync.NewDirectory(cfg, nil)
	if err != nil {
		b.Fatal(err)
	}
	runtime.GC()
	resetPeakRSS()
	var peakHeap uint64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		var m runtime.MemStats
		for {
			runtime.ReadMemStats(&m)
			peakHeap = max(peakHeap, m.HeapInuse)
			select {
			case <-stop:
				return
			case <-time.After(20 * time.Millisecond):
			}
		}
	}()
	b.ResetTimer()
	var snap ldapsync.Snapshot
	for b.Loop() {
		snap, err = d.Read(context.Background())
		if err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	close(stop)
	wg.Wait()
	if len(snap.People) != 50_000 || len(snap.Groups) != 500 {
		b.Fatalf("read %d people, %d groups", len(snap.People), len(snap.Groups))
	}
	members := 0
	for _, g := range snap.Groups {
		members += len(g.Members)
	}
	b.ReportMetric(float64(peakRSS())/(1<<20), "peak-RSS-MB") // of the whole test binary
	b.ReportMetric(float64(peakHeap)/(1<<20), "peak-heap-MB")
	b.Logf("%d people, %d groups, %d memberships (nesting resolved)", len(snap.People), len(snap.Groups), members)
}

// TestReadSlapd50kLoad holds a full read of 50,000 people in 500 groups to
// the limits: at most 30 s and a peak RSS of at most 150 MB (of
// the whole test process). Run with KEYHALL_LOAD=1.
func TestReadSlapd50kLoad(t *testing.T) {
	if os.Getenv("KEYHALL_LOAD") != "1" {
		t.Skip("set KEYHALL_LOAD=1 to run the load test")
	}
	path := writeLoadLDIF(t, 50_000, 500)
	s := ldaptest.StartSlapd(t, ldaptest.SlapdOptions{LDIFFile: path})
	cfg := slapdConfig(s)
	cfg.UserFilter = "(objectClass=inetOrgPerson)"
	cfg.Groups = []ldapsync.GroupMapping{{Filter: "(cn=g*)"}}
	d, err := ldapsync.NewDirectory(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	runtime.GC()
	resetPeakRSS()
	start := time.Now()
	snap, err := d.Read(context.Background())
	took := time.Since(start)
	rss := peakRSS()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("read %d people, %d groups in %v, peak RSS %d MB", len(snap.People), len(snap.Groups), took.Round(time.Millisecond), rss>>20)
	if len(snap.People) != 50_000 || len(snap.Groups) != 500 {
		t.Fatalf("read %d people, %d groups", len(snap.People), len(snap.Groups))
	}
	if took > 30*time.Second {
		t.Errorf("full read took %v, want ≤ 30 s", took)
	}
	if rss > 150<<20 {
		t.Errorf("peak RSS %d MB, want ≤ 150 MB", rss>>20)
	}
}
