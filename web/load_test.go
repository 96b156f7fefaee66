package web

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/keyhall/keyhall/authn"
)

// TestLoadVerify is a load run of /auth/verify with wrk (Debian package
// wrk) against a real server on 127.0.0.1 and a real SQLite store, next to
// a trivial handler measured the same way in the same run. It runs only
// when KEYHALL_LOAD=1:
//
//	KEYHALL_LOAD=1 go test ./web -run TestLoadVerify -v -count=1
//
// It reports requests per second and p99 latency for both, and the
// process's resident memory before and after.
func TestLoadVerify(t *testing.T) {
	if os.Getenv("KEYHALL_LOAD") != "1" {
		t.Skip("a load run; set KEYHALL_LOAD=1")
	}
	wrk, err := exec.LookPath("wrk")
	if err != nil {
		t.Fatal("wrk not found; apt-get install wrk")
	}
	f := newFwdFixture(t)
	cookie, _ := f.session(t, f.anna, authn.LevelPhrh)
	mux := http.NewServeMux()
	mux.Handle("/auth/verify", f.srv)
	mux.HandleFunc("/trivial", func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok")) })
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go http.Serve(ln, mux)
	defer ln.Close()
	base := "http://" + ln.Addr().String()

	script := filepath.Join(t.TempDir(), "headers.lua")
	os.WriteFile(script, []byte(fmt.Sprintf(`wrk.headers["X-Original-URL"] = "https://rat.stadt.example/"
wrk.headers["Cookie"] = "%s=%s"
`, ForwardAuthCookie, cookie)), 0o600)

	run := func(path string) (rps, p99 float64) {
		out, err := exec.Command(wrk, "-t2", "-c64", "-d10s", "--latency", "-s", script, base+path).CombinedOutput()
		if err != nil {
			t.Fatalf("wrk: %v\n%s", err, out)
		}
		t.Logf("wrk %s:\n%s", path, out)
		if strings.Contains(string(out), "Non-2xx") {
			t.Errorf("%s answered non-2xx during the run", path)
		}
		return parseWrk(t, string(out))
	}
	rssBefore := rssMiB()
	trivialRPS, trivialP99 := run("/trivial")
	verifyRPS, verifyP99 := run("/auth/verify")
	time.Sleep(time.Second)
	t.Logf("trivial: %.0f req/s, p99 %.2f ms; /auth/verify: %.0f req/s, p99 %.2f ms; RSS %d MiB before, %d MiB after",
		trivialRPS, trivialP99, verifyRPS, verifyP99, rssBefore, rssMiB())
}

// parseWrk reads "Requests/sec" and the 99% latency (in ms) from wrk's output.
func parseWrk(t *testing.T, out string) (rps, p99 float64) {
	m := regexp.MustCompile(`Requests/sec:\s+([\d.]+)`).FindStringSubmatch(out)
	l := regexp.MustCompile(`99%\s+([\d.]+)(us|ms|s)`).FindStringSubmatch(out)
	if m == nil || l == nil {
		t.Fatalf("cannot read wrk's output:\n%s", out)
	}
	rps, _ = strconv.ParseFloat(m[1], 64)
	p99, _ = strconv.ParseFloat(l[1], 64)
	switch l[2] {
	case "us":
		p99 /= 1000
	case "s":
		p99 *= 1000
	}
	return rps, p99
}

// rssMiB returns this process's resident memory in MiB (Linux).
func rssMiB() int {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return -1
	}
	m := regexp.MustCompile(`VmRSS:\s+(\d+) kB`).FindSubmatch(b)
	if m == nil {
		return -1
	}
	kb, _ := strconv.Atoi(string(m[1]))
	return kb / 1024
}
