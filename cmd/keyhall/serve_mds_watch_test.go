package main

import (
	"context"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/keyhall/keyhall/authn"
)

// TestWatchMDSClearsAfterImport: serve re-reads the imported blob's date
// every hour (not once a day), so an import while it runs clears
// keyhall_mds_stale within the hour; the warning of a stale blob is logged
// once, not at every re-read.
func TestWatchMDSClearsAfterImport(t *testing.T) {
	if mdsCheckEvery > time.Hour {
		t.Errorf("serve re-reads the blob's date every %v, want at most an hour", mdsCheckEvery)
	}
	url := "sqlite://" + filepath.Join(t.TempDir(), "keyhall.db")
	setUpDatabase(t, url)
	st := openTestStore(t, url)
	imp := func(no int, next time.Time) {
		t.Helper()
		if err := st.ImportKeyModels(t.Context(), authn.KeyMetadata{No: no, NextUpdate: next, ImportedAt: time.Now()}, nil,
			authn.AuditEvent{Time: time.Now(), Actor: "test", Action: "mds.import"}); err != nil {
			t.Fatal(err)
		}
	}
	imp(1, time.Now().AddDate(0, 0, -3))
	var mu sync.Mutex
	var logs strings.Builder
	logger := slog.New(slog.NewTextHandler(lockedWriter{&mu, &logs}, nil))
	m, err := newMDSMetrics(prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	stale := func() float64 {
		var d dto.Metric
		m.stale.Write(&d)
		return d.GetGauge().GetValue()
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() { defer close(done); watchMDS(ctx, st, true, m, logger, 5*time.Millisecond) }()
	defer func() { cancel(); <-done }()
	waitUntil := func(what string, ok func() bool) {
		t.Helper()
		for end := time.Now().Add(5 * time.Second); !ok(); time.Sleep(5 * time.Millisecond) {
			if time.Now().After(end) {
				t.Fatalf("%s: not within 5s", what)
			}
		}
	}
	waitUntil("stale", func() bool { return stale() == 1 })
	time.Sleep(50 * time.Millisecond) // several re-reads
	imp(2, time.Now().AddDate(0, 1, 0))
	waitUntil("fresh after the import", func() bool { return stale() == 0 })
	mu.Lock()
	defer mu.Unlock()
	if n := strings.Count(logs.String(), "past its next update"); n != 1 {
		t.Errorf("%d warnings, want 1:\n%s", n, logs.String())
	}
}

type lockedWriter struct {
	mu *sync.Mutex
	w  *strings.Builder
}

func (l lockedWriter) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(b)
}
