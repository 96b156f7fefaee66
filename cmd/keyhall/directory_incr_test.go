package main

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/keyhall/keyhall/ldapsync"
)

// TestSyncIncrementalFlag: `keyhall sync` is a full sync unless
// --incremental asks for one; when the syncer must read in full instead,
// the output says why.
func TestSyncIncrementalFlag(t *testing.T) {
	dir := t.TempDir()
	dbURL := "sqlite://" + filepath.Join(dir, "keyhall.db")
	setUpDatabase(t, dbURL)
	cfg := syncTestConfig(t, dir, dbURL, "")
	useReader(t, snapshotReader{snap: ldapsync.Snapshot{Directory: "stadt", People: []ldapsync.Person{
		person("6f1c1d7e-0000-4000-8000-000000000001", "anna.mueller", "Anna Müller")}}})
	rec := recordSyncs(t)

	out := mustRun(t, nil, 0, "sync", "--config", cfg)
	if strings.Contains(out, "incremental") || strings.Contains(out, "full sync:") {
		t.Errorf("a plain sync talks of incremental syncs:\n%s", out)
	}
	out = mustRun(t, nil, 0, "sync", "--config", cfg, "--incremental")
	if !strings.Contains(out, "  full sync: the reader reads no changes\n") {
		t.Errorf("--incremental that must read in full does not say why:\n%s", out)
	}
	runs, _ := rec.all()
	if len(runs) != 2 || runs[0].Incremental || !runs[1].Incremental {
		t.Errorf("runs %+v; want a full one, then one asked to be incremental", runs)
	}
}
