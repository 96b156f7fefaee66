package main

import (
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// TestServeDiskFull: with the database's file system full, every write
// fails though reads still work; /readyz says 503 (its probe writes), and
// 200 again once there is room. The full disk is a small tmpfs, which only
// root may mount: the test is skipped for others.
func TestServeDiskFull(t *testing.T) {
	dir := t.TempDir()
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, "size=8m,mode=0700"); err != nil {
		t.Skipf("cannot mount a tmpfs to fill (needs root): %v", err)
	}
	t.Cleanup(func() {
		if err := syscall.Unmount(dir, 0); err != nil {
			t.Errorf("unmount %s: %v", dir, err)
		}
	})
	p := startKeyhall(t, dir, nil, "serve", "--listen", "127.0.0.1:0")
	p.listening(t)
	p.waitFor(t, linkRx, 30*time.Second)
	eventually(t, 30*time.Second, wantStatus(t, p.url("/readyz"), "", 200))

	filler := filepath.Join(dir, "filler")
	f, err := os.Create(filler)
	if err != nil {
		t.Fatal(err)
	}
	block := make([]byte, 64<<10)
	for {
		if _, err := f.Write(block); err != nil {
			if !errors.Is(err, syscall.ENOSPC) {
				t.Fatalf("fill the disk: %v", err)
			}
			break
		}
	}
	f.Close()
	eventually(t, 10*time.Second, wantStatus(t, p.url("/readyz"), "", 503))
	if code, _ := get(t, p.url("/healthz"), ""); code != 200 {
		t.Errorf("/healthz with the disk full: %d, want 200 (the process runs)", code)
	}
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, wantStatus(t, p.url("/readyz"), "", 200))
	if code := p.stop(t); code != 0 {
		t.Errorf("exit status after SIGTERM: %d", code)
	}
}
