package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// unitFile is the systemd unit shipped for running Keyhall as a service
// (docs/deploy.md), and listen443 its drop-in for binding port 443.
const (
	unitFile  = "../../dist/keyhall.service"
	listen443 = "../../dist/keyhall.service.d/listen-443.conf"
)

// needSystemdAnalyze returns systemd-analyze's path, skipping the test
// without it (failing it under CI=true).
func needSystemdAnalyze(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("systemd-analyze")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("systemd-analyze not found (apt-get install -y systemd): %v", err)
		}
		t.Skip("systemd-analyze not found (apt-get install -y systemd)")
	}
	return p
}

// writeUnit writes the shipped unit, followed by the drop-ins (as systemd
// reads them: later assignments win), to a directory of its own, with
// ExecStart naming this test binary (which runs as keyhall): verify wants
// the program to exist.
func writeUnit(t *testing.T, dropins ...string) string {
	t.Helper()
	var unit []byte
	for _, f := range append([]string{unitFile}, dropins...) {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		unit = append(append(unit, b...), '\n')
	}
	self, err := filepath.Abs(os.Args[0])
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(unit, []byte("ExecStart=/usr/local/bin/keyhall serve ")) {
		t.Fatalf("%s: no ExecStart=/usr/local/bin/keyhall serve", unitFile)
	}
	unit = bytes.ReplaceAll(unit, []byte("=/usr/local/bin/keyhall "), []byte("="+self+" "))
	path := filepath.Join(t.TempDir(), "keyhall.service")
	if err := os.WriteFile(path, unit, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

var exposureRx = regexp.MustCompile(`Overall exposure level for keyhall\.service: ([0-9.]+) (\S+)`)

// TestSystemdUnit: systemd 252's own checks accept the shipped unit, with and
// without the drop-in for port 443, and rate its exposure "OK" (at most 2.0
// of 10; a unit without hardening is 9.6, "UNSAFE").
func TestSystemdUnit(t *testing.T) {
	sa := needSystemdAnalyze(t)
	for _, tc := range []struct {
		name    string
		dropins []string
	}{
		{"unit", nil},
		{"with listen-443.conf", []string{listen443}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			unit := writeUnit(t, tc.dropins...)
			// verify prints what it dislikes (unknown settings, a
			// missing program, bad specifiers) and may still exit 0.
			out, err := exec.Command(sa, "verify", unit).CombinedOutput()
			if err != nil || len(bytes.TrimSpace(out)) > 0 {
				t.Errorf("systemd-analyze verify: %v\n%s", err, out)
			}
			out, err = exec.Command(sa, "security", "--offline=true", "--no-pager", unit).CombinedOutput()
			m := exposureRx.FindSubmatch(out)
			if m == nil {
				t.Fatalf("systemd-analyze security: %v, no exposure level in:\n%s", err, out)
			}
			score, _ := strconv.ParseFloat(string(m[1]), 64)
			t.Logf("exposure %.1f %s", score, m[2])
			if score > 2.0 {
				t.Errorf("exposure %.1f %s, want at most 2.0 (OK):\n%s", score, m[2], out)
			}
		})
	}
}

// sandboxEnv makes the child keyhall (TestMain) enter enterSandbox first.
const sandboxEnv = "RUN_AS_KEYHALL_SANDBOXED"

// enterSandbox applies to this process what the unit's NoNewPrivileges and
// MemoryDenyWriteExecute ask of systemd: no new privileges, and no memory
// that is writable and executable, nor made executable later (the
// kernel's PR_SET_MDWE, which systemd 254 and later use for it; 252
// filters mmap and mprotect with seccomp to the same end). Exits 3 when
// the kernel lacks PR_SET_MDWE (before Linux 6.3).
func enterSandbox() {
	const prSetNoNewPrivs, prSetMDWE, mdweRefuseExecGain = 38, 65, 1
	if _, _, e := syscall.RawSyscall(syscall.SYS_PRCTL, prSetNoNewPrivs, 1, 0); e != 0 {
		fmt.Fprintln(os.Stderr, "prctl(PR_SET_NO_NEW_PRIVS):", e)
		os.Exit(1)
	}
	if _, _, e := syscall.RawSyscall(syscall.SYS_PRCTL, prSetMDWE, mdweRefuseExecGain, 0); e != 0 {
		fmt.Fprintln(os.Stderr, "prctl(PR_SET_MDWE):", e)
		os.Exit(3)
	}
	// The sandbox holds: writable code is refused.
	if b, err := syscall.Mmap(-1, 0, 4096, syscall.PROT_READ|syscall.PROT_WRITE|syscall.PROT_EXEC, syscall.MAP_PRIVATE|syscall.MAP_ANON); err == nil {
		syscall.Munmap(b)
		fmt.Fprintln(os.Stderr, "PR_SET_MDWE: a writable and executable mapping was allowed")
		os.Exit(1)
	}
}

// TestServeUnderMemoryDenyWriteExecute: Keyhall starts (a new SQLite
// database, its keys, migrations) and serves pages in a process that may
// never map writable code, as the unit's MemoryDenyWriteExecute=yes makes it.
func TestServeUnderMemoryDenyWriteExecute(t *testing.T) {
	dir := t.TempDir()
	p := startKeyhall(t, dir, []string{sandboxEnv + "=1"}, "serve", "--listen", "127.0.0.1:0")
	select {
	case <-p.exited:
		if p.code == 3 {
			t.Skipf("the kernel has no PR_SET_MDWE (Linux 6.3 and later): %s", p.out.String())
		}
	case <-time.After(100 * time.Millisecond):
	}
	p.listening(t)
	eventually(t, 30*time.Second, wantStatus(t, p.url("/readyz"), "", 200)) // the database opens after listening
	for _, path := range []string{"/healthz", "/login"} {
		if code, body := get(t, p.url(path), ""); code != 200 {
			t.Errorf("GET %s: %d %s", path, code, body)
		}
	}
	if code := p.stop(t); code != 0 {
		t.Errorf("exit status %d after SIGTERM", code)
	}
	if strings.Contains(p.out.String(), "level=ERROR") || !strings.Contains(p.out.String(), "msg=stopped") {
		t.Errorf("errors logged, or no clean stop:\n%s", p.out.String())
	}
}
