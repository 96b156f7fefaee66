package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// TestReproducibleBuild builds keyhall as docs/branding.md says
// (CGO_ENABLED=0, -trimpath, the version by -ldflags -X) from two clean
// clones of the commit under test in two directories: the two files are
// the same byte for byte, hold no path of the machine, and "keyhall
// version" prints the version, the commit and the Go version. (Clones: Go
// records no commit in a git worktree, whose .git is a file, and a
// working tree with changes is not the commit.)
func TestReproducibleBuild(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary twice")
	}
	top, err := exec.Command("git", "rev-parse", "--show-toplevel").Output()
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("git rev-parse: %v", err)
		}
		t.Skipf("not in a git checkout: %v", err)
	}
	head, err := exec.Command("git", "rev-parse", "HEAD").Output()
	if err != nil {
		t.Fatal(err)
	}
	commit := strings.TrimSpace(string(head))
	var bins [2]string
	var srcs [2]string
	for i := range bins {
		srcs[i] = filepath.Join(t.TempDir(), []string{"src", "elsewhere"}[i])
		for _, args := range [][]string{
			{"clone", "--quiet", "--shared", "--no-checkout", strings.TrimSpace(string(top)), srcs[i]},
			{"-C", srcs[i], "checkout", "--quiet", "--detach", commit},
		} {
			if out, err := exec.Command("git", args...).CombinedOutput(); err != nil {
				t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
			}
		}
		bins[i] = filepath.Join(t.TempDir(), "keyhall")
		cmd := exec.Command("go", "build", "-trimpath", "-buildvcs=true", "-ldflags", "-X main.version=v9.8.7", "-o", bins[i], "./cmd/keyhall")
		cmd.Dir = srcs[i]
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("go build: %v\n%s", err, out)
		}
	}
	a, errA := os.ReadFile(bins[0])
	b, errB := os.ReadFile(bins[1])
	if errA != nil || errB != nil {
		t.Fatal(errA, errB)
	}
	if !bytes.Equal(a, b) {
		t.Errorf("two builds differ: %d and %d bytes", len(a), len(b))
	}
	for _, dir := range srcs {
		if bytes.Contains(a, []byte(dir)) {
			t.Errorf("the binary contains the build directory %s", dir)
		}
	}
	out, err := exec.Command(bins[0], "version").Output()
	if err != nil {
		t.Fatalf("keyhall version: %v", err)
	}
	want := "keyhall v9.8.7\ncommit: " + commit + "\ngo:     " + runtime.Version() + " "
	if !strings.HasPrefix(string(out), want) {
		t.Errorf("keyhall version printed %q, want it to begin %q", out, want)
	}
}
