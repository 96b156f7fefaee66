package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// childEnv, when set, makes the test binary run as keyhall itself, so that
// the tests below start real server processes (built with -race when the
// tests are) without a separate build.
const childEnv = "RUN_AS_KEYHALL"

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) == "1" {
		if os.Getenv(sandboxEnv) == "1" {
			enterSandbox() // systemd_test.go
		}
		main()
		return
	}
	os.Exit(runTests(m))
}

// proc is a keyhall process started by a test.
type proc struct {
	cmd    *exec.Cmd
	out    *lockedBuffer // stdout and stderr, interleaved
	addr   string        // host:port it listens on
	exited chan struct{}
	code   int
}

type lockedBuffer struct {
	mu  sync.Mutex // guards buf
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// startKeyhall runs "keyhall args…" in dir with env added to a clean
// environment (no KEYHALL_ variables from the caller's).
func startKeyhall(t *testing.T, dir string, env []string, args ...string) *proc {
	t.Helper()
	cmd := exec.Command(os.Args[0], args...)
	cmd.Dir = dir
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "KEYHALL_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(append(cmd.Env, childEnv+"=1"), env...)
	p := &proc{cmd: cmd, out: &lockedBuffer{}, exited: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = p.out, p.out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		cmd.Wait()
		p.code = cmd.ProcessState.ExitCode()
		close(p.exited)
	}()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-p.exited
		if t.Failed() {
			t.Logf("output of keyhall %s:\n%s", strings.Join(args, " "), p.out.String())
		}
	})
	return p
}

// waitFor waits until the output matches re and returns the first submatch
// (or the whole match).
func (p *proc) waitFor(t *testing.T, re string, within time.Duration) string {
	t.Helper()
	rx := regexp.MustCompile(re)
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		if m := rx.FindStringSubmatch(p.out.String()); m != nil {
			return m[len(m)-1]
		}
		select {
		case <-p.exited:
			t.Fatalf("keyhall exited (status %d) before printing %q", p.code, re)
		case <-time.After(20 * time.Millisecond):
		}
	}
	t.Fatalf("keyhall did not print %q within %s", re, within)
	return ""
}

// listening waits for the "listening" log line and remembers the address.
func (p *proc) listening(t *testing.T) {
	t.Helper()
	p.addr = p.waitFor(t, `msg=listening addr=(\S+)`, 30*time.Second)
}

func (p *proc) url(path string) string { return "http://" + p.addr + path }

// stop sends SIGTERM and returns the exit status.
func (p *proc) stop(t *testing.T) int {
	t.Helper()
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
		return p.code
	case <-time.After(30 * time.Second):
		t.Fatal("keyhall did not stop within 30 s of SIGTERM")
		return -1
	}
}

// get fetches path, with an optional session cookie, and returns the status and body.
func get(t *testing.T, url, cookie string) (int, string) {
	t.Helper()
	req, err := http.NewRequest("GET", url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if cookie != "" {
		req.Header.Set("Cookie", "__Host-keyhall="+cookie)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp, err := http.DefaultClient.Do(req.WithContext(ctx))
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// eventually polls f until it returns "" or within passes; it fails the
// test with f's last complaint.
func eventually(t *testing.T, within time.Duration, f func() string) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		msg := f()
		if msg == "" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %s: %s", within, msg)
		}
		time.Sleep(25 * time.Millisecond)
	}
}

func wantStatus(t *testing.T, url, cookie string, want int) func() string {
	return func() string {
		if got, body := get(t, url, cookie); got != want {
			return fmt.Sprintf("GET %s: %d %q, want %d", url, got, strings.TrimSpace(body), want)
		}
		return ""
	}
}

// lines returns the output's lines that contain s.
func (p *proc) lines(s string) []string {
	var out []string
	sc := bufio.NewScanner(strings.NewReader(p.out.String()))
	for sc.Scan() {
		if strings.Contains(sc.Text(), s) {
			out = append(out, sc.Text())
		}
	}
	return out
}
