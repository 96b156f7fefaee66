package web

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/keyhall/keyhall/authn"
	"github.com/keyhall/keyhall/authn/sqlstore/pgtest"
)

// TestLoadVerify is a load run of /auth/verify with wrk (Debian package
// wrk) against a real server on 127.0.0.1, on a real SQLite store and on a
// real PostgreSQL, each next to a trivial handler measured the same way in
// the same run. It runs only when KEYHALL_LOAD=1:
//
//	KEYHALL_LOAD=1 go test ./web -run TestLoadVerify -v -count=1
//	KEYHALL_LOAD=1 go test ./web -run TestLoadVerify/sqlite -v -count=1
//
// Without PostgreSQL the postgres run is skipped, or fails under CI=true.
// For every wrk run it reports requests per second, p99 latency, the
// process's CPU time per request (user and system, which on a shared
// machine is steadier than the throughput), the bytes it allocated per
// request and its garbage collections, and the load average before the
// run; at the end, resident memory before, at its peak and after.
// With KEYHALL_LOAD_CPUPROFILE=prefix each wrk run also writes a CPU
// profile to prefix-<store>-<handler>.prof.
func TestLoadVerify(t *testing.T) {
	if os.Getenv("KEYHALL_LOAD") != "1" {
		t.Skip("a load run; set KEYHALL_LOAD=1")
	}
	if _, err := exec.LookPath("wrk"); err != nil {
		t.Fatal("wrk not found; apt-get install wrk")
	}
	t.Run("sqlite", func(t *testing.T) {
		loadVerify(t, "sqlite", newFwdFixture(t))
	})
	t.Run("postgres", func(t *testing.T) {
		pg := pgtest.Start(t)
		loadVerify(t, "postgres", newFwdFixtureAt(t, pg.NewDatabase(t)))
	})
}

// loadVerify runs wrk against a trivial handler and then /auth/verify with
// a valid session of a group member, served the way cmd/keyhall serves.
func loadVerify(t *testing.T, store string, f *fwdFixture) {
	cookie, _ := f.session(t, f.anna, authn.LevelPhrh)
	mux := http.NewServeMux()
	mux.Handle("/auth/verify", f.srv)
	mux.HandleFunc("/trivial", func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok")) })
	// verify's 200 without its work: the same headers, set the same way.
	p, err := f.srv.identity(t.Context(), f.st, f.anna.ID)
	if err != nil {
		t.Fatal(err)
	}
	mux.HandleFunc("/answer", func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h["Cache-Control"] = noStoreValue
		h["Remote-User"] = p.remote.user
		h["Remote-Name"] = p.remote.name
		h["Remote-Email"] = p.remote.email
		h["Remote-Groups"] = p.remote.groups
		w.WriteHeader(http.StatusOK)
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	// The server cmd/keyhall serves with: each timeout costs a deadline
	// per request.
	hs := HTTPServer(mux)
	go hs.Serve(ln)
	defer hs.Close()
	base := "http://" + ln.Addr().String()

	script := filepath.Join(t.TempDir(), "headers.lua")
	os.WriteFile(script, []byte(fmt.Sprintf(`wrk.headers["X-Original-URL"] = "https://rat.stadt.example/"
wrk.headers["Cookie"] = "%s=%s"
`, ForwardAuthCookie, f.fwdCookie(cookie))), 0o600)

	rssBefore := rssMiB()
	trivial := runWrk(t, base+"/trivial", script, store+"-trivial", true)
	answer := runWrk(t, base+"/answer", script, store+"-answer", true)
	verify := runWrk(t, base+"/auth/verify", script, store+"-verify", true)
	time.Sleep(time.Second)
	t.Logf("%s: trivial %s; verify's answer alone %s; /auth/verify %s; RSS %d MiB before, %d MiB peak, %d MiB after",
		store, trivial, answer, verify, rssBefore, memMiB("VmHWM"), rssMiB())

	// Checks without a session (Authelia's memory grew by 1 GB over
	// 430,000 of them), each for another address and with another garbled
	// cookie, so that state kept per address or per cookie would show:
	// every one is answered 401, and they leave nothing behind. The heap
	// in use after the connections closed may not grow by more than a few
	// bytes a check (a kept entry of 100 bytes a check would be ten times
	// that).
	anon := filepath.Join(t.TempDir(), "anonymous.lua")
	os.WriteFile(anon, []byte(fmt.Sprintf(`local n = 0
request = function()
  n = n + 1
  wrk.headers["X-Original-URL"] = "https://rat.stadt.example/akten/" .. n .. "?q=" .. n
  wrk.headers["Cookie"] = "%s=x" .. n
  return wrk.format()
end
`, ForwardAuthCookie)), 0o600)
	refusals := f.srv.metrics.requests.WithLabelValues(verifyPath, "4xx")
	refusedBefore := testutil.ToFloat64(refusals)
	heapBefore := liveHeap()
	refused := runWrk(t, base+"/auth/verify", anon, store+"-no-session", false)
	grown := int64(liveHeap()) - int64(heapBefore)
	t.Logf("%s: /auth/verify without a session %s; live heap %+d KiB after %d checks; RSS %d MiB",
		store, refused, grown/1024, refused.requests, rssMiB())
	if n := int(testutil.ToFloat64(refusals) - refusedBefore); n < refused.requests {
		t.Errorf("%d checks without a session, %d answered 4xx", refused.requests, n)
	}
	if refused.requests < 10_000 || grown > int64(refused.requests)*8 {
		t.Errorf("%d checks without a session left the live heap %d bytes larger", refused.requests, grown)
	}
}

// liveHeap returns the bytes of heap in use once the connections of a run
// have closed and two collections have emptied the buffer pools.
func liveHeap() uint64 {
	time.Sleep(time.Second)
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// wrkResult is what one wrk run measured.
type wrkResult struct {
	rps        float64 // requests per second
	p99        float64 // 99th percentile latency, ms
	cpuPerRq   float64 // this process's CPU time (user + system) per request, µs
	allocPerRq float64 // bytes allocated per request (net/http's and the handler's)
	gcs        uint32  // garbage collections during the run
	requests   int     // requests answered
}

func (r wrkResult) String() string {
	return fmt.Sprintf("%.0f req/s, p99 %.2f ms, %.1f µs CPU/request, %.0f B allocated/request, %d GCs",
		r.rps, r.p99, r.cpuPerRq, r.allocPerRq, r.gcs)
}

// runWrk runs wrk -t2 -c64 -d10s against url with the headers of script.
// With ok set, every answer must be a 2xx or 3xx; otherwise none may be
// (wrk counts the others, "Non-2xx or 3xx responses").
func runWrk(t *testing.T, url, script, name string, ok bool) wrkResult {
	t.Helper()
	load, _ := os.ReadFile("/proc/loadavg")
	t.Logf("load average before %s: %s", name, strings.TrimSpace(string(load)))
	if prefix := os.Getenv("KEYHALL_LOAD_CPUPROFILE"); prefix != "" {
		pf, err := os.Create(prefix + "-" + name + ".prof")
		if err != nil {
			t.Fatal(err)
		}
		defer pf.Close()
		if err := pprof.StartCPUProfile(pf); err != nil {
			t.Fatal(err)
		}
		defer pprof.StopCPUProfile()
	}
	var memBefore, memAfter runtime.MemStats
	runtime.ReadMemStats(&memBefore)
	cpuBefore := cpuTime()
	out, err := exec.Command("wrk", "-t2", "-c64", "-d10s", "--latency", "-s", script, url).CombinedOutput()
	cpu := cpuTime() - cpuBefore
	runtime.ReadMemStats(&memAfter)
	if err != nil {
		t.Fatalf("wrk: %v\n%s", err, out)
	}
	t.Logf("wrk %s:\n%s", name, out)
	r := parseWrk(t, string(out))
	non2xx := 0
	if m := regexp.MustCompile(`Non-2xx or 3xx responses: (\d+)`).FindStringSubmatch(string(out)); m != nil {
		non2xx, _ = strconv.Atoi(m[1])
	}
	if n := regexp.MustCompile(`(\d+) requests in`).FindStringSubmatch(string(out)); n != nil {
		r.requests, _ = strconv.Atoi(n[1])
		if ok && non2xx > 0 {
			t.Errorf("%s answered %d non-2xx during the run", name, non2xx)
		}
		if !ok && non2xx < r.requests {
			t.Errorf("%s answered %d of %d requests with 2xx or 3xx", name, r.requests-non2xx, r.requests)
		}
		requests := float64(r.requests)
		r.cpuPerRq = float64(cpu.Microseconds()) / requests
		r.allocPerRq = float64(memAfter.TotalAlloc-memBefore.TotalAlloc) / requests
		r.gcs = memAfter.NumGC - memBefore.NumGC
	}
	return r
}

// parseWrk reads "Requests/sec" and the 99% latency (in ms) from wrk's output.
func parseWrk(t *testing.T, out string) wrkResult {
	m := regexp.MustCompile(`Requests/sec:\s+([\d.]+)`).FindStringSubmatch(out)
	l := regexp.MustCompile(`99%\s+([\d.]+)(us|ms|s)`).FindStringSubmatch(out)
	if m == nil || l == nil {
		t.Fatalf("cannot read wrk's output:\n%s", out)
	}
	var r wrkResult
	r.rps, _ = strconv.ParseFloat(m[1], 64)
	r.p99, _ = strconv.ParseFloat(l[1], 64)
	switch l[2] {
	case "us":
		r.p99 /= 1000
	case "s":
		r.p99 *= 1000
	}
	return r
}

// cpuTime returns the CPU time this process has used, user and system.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// memMiB returns a memory figure of this process from /proc/self/status in
// MiB (Linux): VmRSS is resident memory now, VmHWM its peak.
func memMiB(field string) int {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return -1
	}
	m := regexp.MustCompile(field + `:\s+(\d+) kB`).FindSubmatch(b)
	if m == nil {
		return -1
	}
	kb, _ := strconv.Atoi(string(m[1]))
	return kb / 1024
}

// rssMiB returns this process's resident memory in MiB (Linux).
func rssMiB() int { return memMiB("VmRSS") }
