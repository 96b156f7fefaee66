package main

import (
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/keyhall/keyhall/authn"
)

// TestServeWarnsOfStaleMDS: serve started on a database whose imported
// MDS blob is past its nextUpdate warns in the log, naming it, and shows it
// in the metrics (keyhall_mds_stale 1, the nextUpdate's time).
func TestServeWarnsOfStaleMDS(t *testing.T) {
	dir := t.TempDir()
	p := startKeyhall(t, dir, nil, "serve", "--listen", "127.0.0.1:0")
	p.waitFor(t, `empty database: created the first administrator`, 30*time.Second)
	if code := p.stop(t); code != 0 {
		t.Fatalf("first start: exit status %d", code)
	}
	st := openSQLite(t, filepath.Join(dir, "keyhall.db"))
	next := time.Now().UTC().AddDate(0, 0, -3).Truncate(24 * time.Hour)
	if err := st.ImportKeyModels(t.Context(), authn.KeyMetadata{No: 77, NextUpdate: next, ImportedAt: next.AddDate(0, -1, 0)},
		[]authn.KeyModel{{AAGUID: [16]byte{1}, Name: "Some Key", Status: "FIDO_CERTIFIED_L1"}},
		authn.AuditEvent{Time: time.Now(), Actor: "test", Action: "mds.import"}); err != nil {
		t.Fatal(err)
	}
	st.Close()

	p = startKeyhall(t, dir, []string{"KEYHALL_METRICS_LISTEN=127.0.0.1:0"}, "serve", "--listen", "127.0.0.1:0")
	addr := p.waitFor(t, `msg="serving metrics" addr=(\S+)`, 30*time.Second)
	p.waitFor(t, `level=WARN msg="the imported FIDO MDS blob is past its next update.*" no=77 next_update=`+next.Format(time.DateOnly), 30*time.Second)
	_, body := get(t, "http://"+addr+"/metrics", "")
	for _, want := range []string{"keyhall_mds_stale 1", fmt.Sprintf("keyhall_mds_next_update_timestamp_seconds %.7e", float64(next.Unix()))} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	p.stop(t)
}

// TestCheckMDS: the check behind the metric and the warning: nothing
// imported is stale only where a group refuses compromised models; a blob
// is stale the day after its nextUpdate, not on it.
func TestCheckMDS(t *testing.T) {
	url := "sqlite://" + filepath.Join(t.TempDir(), "keyhall.db")
	setUpDatabase(t, url)
	st := openTestStore(t, url)
	var logs strings.Builder
	logger := slog.New(slog.NewTextHandler(&logs, nil))
	m, err := newMDSMetrics(prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	value := func(g prometheus.Gauge) float64 {
		var d dto.Metric
		if err := g.Write(&d); err != nil {
			t.Fatal(err)
		}
		return d.GetGauge().GetValue()
	}
	now := time.Date(2026, 12, 7, 15, 0, 0, 0, time.UTC)
	checkMDS(t.Context(), st, now, false, m, logger)
	if value(m.stale) != 0 || logs.Len() != 0 {
		t.Errorf("nothing imported, nothing needed: stale %v, log %q", value(m.stale), logs.String())
	}
	checkMDS(t.Context(), st, now, true, m, logger)
	if value(m.stale) != 1 || !strings.Contains(logs.String(), "no FIDO MDS blob imported") {
		t.Errorf("nothing imported, needed: stale %v, log %q", value(m.stale), logs.String())
	}
	next := time.Date(2026, 12, 7, 0, 0, 0, 0, time.UTC)
	if err := st.ImportKeyModels(t.Context(), authn.KeyMetadata{No: 1, NextUpdate: next, ImportedAt: now}, nil,
		authn.AuditEvent{Time: now, Actor: "test", Action: "mds.import"}); err != nil {
		t.Fatal(err)
	}
	logs.Reset()
	checkMDS(t.Context(), st, now, true, m, logger)
	if value(m.stale) != 0 || value(m.nextUpdate) != float64(next.Unix()) || logs.Len() != 0 {
		t.Errorf("on its nextUpdate day: stale %v, next %v, log %q", value(m.stale), value(m.nextUpdate), logs.String())
	}
	checkMDS(t.Context(), st, now.Add(9*time.Hour), true, m, logger)
	if value(m.stale) != 1 || !strings.Contains(logs.String(), "past its next update") {
		t.Errorf("the day after: stale %v, log %q", value(m.stale), logs.String())
	}
}
