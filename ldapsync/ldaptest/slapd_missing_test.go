package ldaptest

import (
	"runtime"
	"testing"
)

// slapdRecorder is a testing.TB that records whether the test was failed
// or skipped and ends its goroutine as the real ones do.
type slapdRecorder struct {
	testing.TB
	failed, skipped bool
}

func (r *slapdRecorder) Helper()               {}
func (r *slapdRecorder) Fatal(args ...any)     { r.failed = true; runtime.Goexit() }
func (r *slapdRecorder) Fatalf(string, ...any) { r.failed = true; runtime.Goexit() }
func (r *slapdRecorder) Skip(args ...any)      { r.skipped = true; runtime.Goexit() }

func TestSlapdMissing(t *testing.T) {
	old := slapdDirs
	t.Cleanup(func() { slapdDirs = old })
	slapdDirs = []string{t.TempDir()}
	t.Setenv("PATH", t.TempDir())
	for _, ci := range []string{"true", ""} {
		t.Setenv("CI", ci)
		r := &slapdRecorder{TB: t}
		done := make(chan struct{})
		go func() { defer close(done); StartSlapd(r, SlapdOptions{}) }()
		<-done
		if ci == "true" && (!r.failed || r.skipped) {
			t.Errorf("CI=true, slapd missing: failed %v skipped %v; want a failure", r.failed, r.skipped)
		}
		if ci == "" && (r.failed || !r.skipped) {
			t.Errorf("CI unset, slapd missing: failed %v skipped %v; want a skip", r.failed, r.skipped)
		}
	}
}
