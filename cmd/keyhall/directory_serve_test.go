package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/keyhall/keyhall/authn"
	"github.com/keyhall/keyhall/ldapsync"
)

// signOutRecorder records whom the directory sync told the tools about.
type signOutRecorder struct {
	mu  sync.Mutex
	ids []string
}

func (r *signOutRecorder) OIDCUserSignedOut(ctx context.Context, id string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.ids = append(r.ids, id)
	return nil
}

func (r *signOutRecorder) all() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.ids)
}

// switchReader is a directory whose answer the test changes.
type switchReader struct {
	mu sync.Mutex
	r  snapshotReader
}

func (s *switchReader) set(r snapshotReader) {
	s.mu.Lock()
	s.r = r
	s.mu.Unlock()
}

func (s *switchReader) Read(ctx context.Context) (ldapsync.Snapshot, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.r.Read(ctx)
}

// TestServeSyncLoop: serve syncs each directory every interval as the
// system, records each run in the metrics (last success, people by
// outcome, errors, aborts), tells the tools of the people it disabled,
// and stops with serve.
func TestServeSyncLoop(t *testing.T) {
	dbURL := "sqlite://" + filepath.Join(t.TempDir(), "keyhall.db")
	setUpDatabase(t, dbURL)
	st := openTestStore(t, dbURL)
	var people []ldapsync.Person
	for i := range 11 {
		people = append(people, person(fmt.Sprintf("6f1c1d7e-0000-4000-8000-%012d", i), fmt.Sprintf("p%02d", i), "P"))
	}
	reader := &switchReader{r: snapshotReader{snap: ldapsync.Snapshot{Directory: "stadt", People: people}}}
	useReader(t, reader)
	rec := recordSyncs(t)
	reg := newRegistry()
	m, err := newDirectoryMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	tools := &signOutRecorder{}
	var logBuf lockedBuffer
	logger := slog.New(slog.NewTextHandler(&logBuf, nil))
	ctx, cancel := context.WithCancel(context.Background())
	var bg sync.WaitGroup
	defer func() { cancel(); bg.Wait() }()
	d := ldapsync.Config{Name: "stadt", Interval: 20 * time.Millisecond}
	before := time.Now().Unix()
	startDirectorySyncs(ctx, &bg, []ldapsync.Config{d}, st, tools, m, logger)

	waitUntil := func(what string, ok func() bool) {
		t.Helper()
		for deadline := time.Now().Add(10 * time.Second); !ok(); time.Sleep(5 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("%s: not within 10s\nlog:\n%s", what, logBuf.String())
			}
		}
	}
	waitUntil("first sync", func() bool { return testutil.ToFloat64(m.people.WithLabelValues("stadt", "created")) == 11 })
	if last := testutil.ToFloat64(m.lastSuccess.WithLabelValues("stadt")); last < float64(before) {
		t.Errorf("last success %v, want now", last)
	}
	waitUntil("second sync", func() bool { return testutil.ToFloat64(m.people.WithLabelValues("stadt", "unchanged")) == 11 })
	runs, _ := rec.all()
	for _, r := range runs {
		if r.Actor != "system:sync" || r.DryRun || r.AllowMassChange || !r.Incremental {
			t.Errorf("serve ran %+v; want system:sync, incremental (full when due), no dry run, no mass change", r)
		}
	}

	// A leaver: disabled, and the tools told.
	reader.set(snapshotReader{snap: ldapsync.Snapshot{Directory: "stadt", People: people[1:]}})
	waitUntil("the leaver told to the tools", func() bool { return len(tools.all()) > 0 })
	p00, err := st.GetUserByUsername(ctx, "p00")
	if err != nil {
		t.Fatal(err)
	}
	if got := tools.all(); got[0] != p00.ID {
		t.Errorf("tools told of %v, want p00 %s", got, p00.ID)
	}

	// A directory that does not answer, and an empty read: the valve
	// stops both (aborted, not an error of Keyhall's own).
	reader.set(snapshotReader{err: errors.New("connect: connection refused")})
	waitUntil("an abort counted", func() bool { return testutil.ToFloat64(m.aborted.WithLabelValues("stadt")) > 0 })
	reader.set(snapshotReader{snap: ldapsync.Snapshot{Directory: "stadt"}})
	waitUntil("a second abort counted", func() bool { return testutil.ToFloat64(m.aborted.WithLabelValues("stadt")) > 1 })
	if n := testutil.ToFloat64(m.errors.WithLabelValues("stadt")); n != 0 {
		t.Errorf("errors = %v, want 0", n)
	}
	for _, want := range []string{`msg="directory sync done" directory=stadt`, `created=11`, `connect: connection refused`,
		`level=ERROR msg="directory sync aborted by the safety valve; nobody was disabled or deleted" directory=stadt`} {
		if !strings.Contains(logBuf.String(), want) {
			t.Errorf("log lacks %q:\n%s", want, logBuf.String())
		}
	}

	// It stops with serve.
	cancel()
	done := make(chan struct{})
	go func() { bg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("the sync loop did not stop with serve")
	}
}

// TestServeDirectoryMetrics: serve with a directory runs its sync loop and
// serves its metrics on metrics_listen with the web server's; a directory
// that cannot be reached stops the sync by the safety valve (aborted, not
// a failure of Keyhall's own).
func TestServeDirectoryMetrics(t *testing.T) {
	dir := t.TempDir()
	pw := writeFile(t, dir, "pw", "x")
	p := startKeyhall(t, dir, []string{"KEYHALL_METRICS_LISTEN=127.0.0.1:0", "KEYHALL_DIRECTORY_NAME=stadt",
		"KEYHALL_DIRECTORY_PRESET=openldap", "KEYHALL_DIRECTORY_URL=ldap://127.0.0.1:1", "KEYHALL_DIRECTORY_INSECURE_PLAINTEXT=true",
		"KEYHALL_DIRECTORY_BIND_DN=cn=keyhall,dc=stadt", "KEYHALL_DIRECTORY_BIND_PASSWORD_FILE=" + pw,
		"KEYHALL_DIRECTORY_BASE_DNS=dc=stadt", "KEYHALL_DIRECTORY_TIMEOUT=1s"}, "serve", "--listen", "127.0.0.1:0")
	addr := p.waitFor(t, `msg="serving metrics" addr=(\S+)`, 30*time.Second)
	p.listening(t)
	eventually(t, 30*time.Second, func() string {
		_, body := get(t, "http://"+addr+"/metrics", "")
		if !strings.Contains(body, `keyhall_directory_sync_aborted_total{directory="stadt"} 1`) ||
			!strings.Contains(body, `keyhall_directory_sync_errors_total{directory="stadt"} 0`) || !strings.Contains(body, "keyhall_database_up 1") {
			return "no aborted directory sync and database_up in /metrics"
		}
		return ""
	})
	p.stop(t)
}

type fakeVerifier struct{ dirs []ldapsync.Config }

func (fakeVerifier) VerifyPassword(context.Context, authn.User, string) error {
	return authn.ErrWrongPassword
}

// TestDirectoryVerifier: serve's verifier for directory people gets every
// configured directory with its bind password read; none without a
// directory.
func TestDirectoryVerifier(t *testing.T) {
	old := newVerifier
	defer func() { newVerifier = old }()
	newVerifier = func(dirs []ldapsync.Config, log *slog.Logger) (authn.PasswordVerifier, error) {
		return fakeVerifier{dirs}, nil
	}
	v, err := directoryVerifier(defaultConfig(), discardLogger())
	if err != nil || v != nil {
		t.Errorf("without a directory: %v, %v; want none", v, err)
	}
	dir := t.TempDir()
	cfg, err := loadConfig(syncTestConfig(t, dir, "sqlite://"+filepath.Join(dir, "keyhall.db"), ""), nil)
	if err != nil {
		t.Fatal(err)
	}
	v, err = directoryVerifier(cfg, discardLogger())
	fv, ok := v.(fakeVerifier)
	if err != nil || !ok || len(fv.dirs) != 1 || fv.dirs[0].Name != "stadt" || fv.dirs[0].BindPassword != "Sommer2026!" {
		t.Errorf("verifier %+v, %v", v, err)
	}
}

// TestLastSyncs: the verifier's fallback during a directory outage learns
// from the database when the directory was last synced (nothing before
// the database is open), read again after lastSyncTTL.
func TestLastSyncs(t *testing.T) {
	dbURL := "sqlite://" + filepath.Join(t.TempDir(), "keyhall.db")
	setUpDatabase(t, dbURL)
	st := openTestStore(t, dbURL)
	l := newLastSyncs()
	now := time.Now()
	l.now = func() time.Time { return now }
	if got := l.of("stadt"); !got.IsZero() {
		t.Errorf("before the database is open: %v", got)
	}
	l.use(st)
	if got := l.of("stadt"); !got.IsZero() {
		t.Errorf("never synced: %v", got)
	}
	synced := now.Add(-time.Minute).UTC().Truncate(time.Second)
	put := func(at time.Time) {
		t.Helper()
		if err := st.PutDirectoryState(t.Context(), authn.DirectoryState{Directory: "stadt", LastSuccessAt: at, LastOutcome: "ok"},
			authn.AuditEvent{Time: at, Actor: "test", Action: "directory.sync"}); err != nil {
			t.Fatal(err)
		}
	}
	put(synced)
	now = now.Add(lastSyncTTL)
	if got := l.of("stadt"); !got.Equal(synced) {
		t.Errorf("after a sync: %v, want %v", got, synced)
	}
	put(synced.Add(time.Minute))
	if got := l.of("stadt"); !got.Equal(synced) {
		t.Errorf("within lastSyncTTL: %v, want the cached %v", got, synced)
	}
	now = now.Add(lastSyncTTL)
	if got := l.of("stadt"); !got.Equal(synced.Add(time.Minute)) {
		t.Errorf("after lastSyncTTL: %v, want %v", got, synced.Add(time.Minute))
	}
}
