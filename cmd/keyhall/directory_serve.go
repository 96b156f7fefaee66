package main

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/keyhall/keyhall/authn"
	"github.com/keyhall/keyhall/ldapsync"
)

// newVerifier returns the password verifier for directory people (a bind
// as the person, ldapsync.Verifier), which also checks a passwordless
// sign-in live (authn.AccountChecker); nil when no directory is configured.
var newVerifier = func(dirs []ldapsync.Config, log *slog.Logger) (authn.PasswordVerifier, error) {
	v, err := ldapsync.NewVerifier(dirs, log)
	if err != nil {
		return nil, err // not a typed nil in a non-nil interface
	}
	return v, nil
}

// directoryVerifier returns the verifier serve puts in
// authn.SignInConfig.Directory, or nil without a directory.
func directoryVerifier(cfg Config, logger *slog.Logger) (authn.PasswordVerifier, error) {
	dirs, err := cfg.ldapConfigs()
	if err != nil || len(dirs) == 0 {
		return nil, err
	}
	return newVerifier(dirs, logger)
}

// Keyhall's per-account limit on wrong passwords without a directory
// lockout threshold: authn's default (authn/throttle.go).
const (
	keyhallPasswordLimit  = 10
	keyhallPasswordWindow = 15 * time.Minute
	// lockoutWindow is the window Keyhall counts wrong passwords in when a
	// directory locks people out: AD's default "reset account lockout
	// counter after" (30 minutes), so that Keyhall's tries within the
	// directory's window stay below its threshold.
	lockoutWindow = 30 * time.Minute
)

// passwordLimit is how many wrong passwords Keyhall lets a person try per
// window: half the lowest lockout threshold of the directories (rounded
// up), so that Keyhall alone never locks her Windows account and leaves
// room for her own mistakes in Outlook or at the desktop; at most authn's
// default.
func passwordLimit(dirs []directoryEntry) (int, time.Duration) {
	limit, window := keyhallPasswordLimit, keyhallPasswordWindow
	for _, e := range dirs {
		if t := e.dir.LockoutThreshold; t > 0 {
			limit, window = min(limit, max(1, (t+1)/2)), max(window, lockoutWindow)
		}
	}
	return limit, window
}

// syncBusy reports whether a run did nothing because another process
// holds the directory's sync lock: not a failure in serve.
func syncBusy(err error) bool { return errors.Is(err, ldapsync.ErrBusy) }

// directoryMetrics are the metrics of serve's directory syncs.
type directoryMetrics struct {
	lastSuccess *prometheus.GaugeVec   // {directory}: unix time of the last complete sync
	duration    *prometheus.GaugeVec   // {directory}: seconds the last sync took
	people      *prometheus.GaugeVec   // {directory, outcome}: people of the last sync by outcome
	errors      *prometheus.CounterVec // {directory}: syncs that failed
	aborted     *prometheus.CounterVec // {directory}: syncs the safety valve stopped
}

// newDirectoryMetrics makes the metrics and registers them on reg.
func newDirectoryMetrics(reg prometheus.Registerer) (*directoryMetrics, error) {
	m := &directoryMetrics{
		lastSuccess: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "keyhall_directory_sync_last_success_timestamp_seconds",
			Help: "When the last directory sync that was neither aborted nor failed ended (Unix time).",
		}, []string{"directory"}),
		duration: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "keyhall_directory_sync_duration_seconds",
			Help: "How long the last directory sync took.",
		}, []string{"directory"}),
		people: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "keyhall_directory_sync_people",
			Help: "People of the last directory sync by outcome (created, updated, renamed, disabled, enabled, deleted, unchanged, conflict, held_back).",
		}, []string{"directory", "outcome"}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "keyhall_directory_sync_errors_total",
			Help: "Directory syncs that failed (the directory did not answer, a write failed).",
		}, []string{"directory"}),
		aborted: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "keyhall_directory_sync_aborted_total",
			Help: "Directory syncs the safety valve stopped: nobody was disabled or deleted.",
		}, []string{"directory"}),
	}
	for _, c := range []prometheus.Collector{m.lastSuccess, m.duration, m.people, m.errors, m.aborted} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// signedOut is what a directory sync tells of the people it disabled: the
// web server's OIDCUserSignedOut (back-channel logout to the tools).
type signedOut interface {
	OIDCUserSignedOut(ctx context.Context, userID string) error
}

// startDirectorySyncs starts, for each configured directory, a loop that
// syncs it every interval until ctx ends (the syncer decides between a
// full and an incremental sync, and a lock in the database lets one
// process sync at a time).
func startDirectorySyncs(ctx context.Context, bg *sync.WaitGroup, dirs []ldapsync.Config, st authn.Store, tools signedOut,
	m *directoryMetrics, logger *slog.Logger) {
	if ctx.Err() != nil {
		return
	}
	for _, d := range dirs {
		m.errors.WithLabelValues(d.Name) // shown as 0 from the start
		m.aborted.WithLabelValues(d.Name)
		bg.Go(func() { syncLoop(ctx, d, st, tools, m, logger) })
	}
}

// syncLoop syncs the directory d now and then every d.Interval until ctx
// ends: incrementally, and in full every d.FullInterval (the syncer keeps
// when the last full sync was, in the database, for every process).
func syncLoop(ctx context.Context, d ldapsync.Config, st authn.Store, tools signedOut, m *directoryMetrics, logger *slog.Logger) {
	log := logger.With("directory", d.Name) // the syncer adds it to its own lines
	var s directorySyncer
	for {
		if s == nil {
			var err error
			if s, err = newDirectorySyncer(d, st, tools, logger); err != nil {
				m.errors.WithLabelValues(d.Name).Inc()
				log.Error("directory sync cannot start; trying again at the next interval", "err", err)
			}
		}
		if s != nil {
			syncRun(ctx, d.Name, s, m, log)
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(d.Interval):
		}
	}
}

// newDirectorySyncer returns the syncer of d, whose leavers are logged out
// of the tools.
func newDirectorySyncer(d ldapsync.Config, st authn.Store, tools signedOut, log *slog.Logger) (directorySyncer, error) {
	r, err := newReader(d, log)
	if err != nil {
		return nil, err
	}
	return newSyncer(ldapsync.SyncConfig{
		Store: st, Directory: d, Reader: r, Logger: log, Now: time.Now,
		OnDisabled: func(ctx context.Context, ids []string) {
			for _, id := range ids {
				if err := tools.OIDCUserSignedOut(ctx, id); err != nil {
					log.Warn("could not end the OIDC tokens of a person the directory sync disabled", "user", id, "err", err)
				}
			}
		},
	})
}

// syncRun runs one sync, logs it and records it in the metrics.
func syncRun(ctx context.Context, name string, s directorySyncer, m *directoryMetrics, log *slog.Logger) {
	start := time.Now()
	// Incremental every interval; the syncer makes it a full sync every
	// full_interval, and whenever the change markers do not allow one.
	res, err := s.Run(ctx, ldapsync.RunOptions{Actor: "system:sync", Incremental: true})
	took := time.Since(start)
	if ctx.Err() != nil && (err != nil || res.Aborted) {
		log.Info("directory sync stopped: Keyhall is shutting down", "took", took)
		return
	}
	if syncBusy(err) {
		log.Debug("directory sync skipped: another Keyhall process is syncing this directory")
		return
	}
	m.duration.WithLabelValues(name).Set(took.Seconds())
	counts := []any{"took", took.Round(time.Millisecond), "incremental", res.Incremental, "created", len(res.Created), "updated", len(res.Updated),
		"renamed", len(res.Renamed), "disabled", len(res.Disabled), "enabled", len(res.Enabled), "deleted", len(res.Deleted),
		"unchanged", res.Unchanged, "conflicts", len(res.Conflicts), "held_back", res.HeldBack, "errors", len(res.Errors)}
	switch {
	case res.Aborted: // ldapsync returns an error (ErrAborted) with it
		m.aborted.WithLabelValues(name).Inc()
		log.Error("directory sync aborted by the safety valve; nobody was disabled or deleted", append(counts, "reason", res.AbortReason)...)
		return
	case err != nil:
		m.errors.WithLabelValues(name).Inc()
		log.Error("directory sync failed; nothing was disabled or deleted", append(counts, "err", err)...)
		return
	}
	if len(res.Errors) == 0 {
		// Before the counts, so that whoever sees these sees it too.
		m.lastSuccess.WithLabelValues(name).Set(float64(time.Now().Unix()))
	}
	for outcome, n := range map[string]int{
		"created": len(res.Created), "updated": len(res.Updated), "renamed": len(res.Renamed), "disabled": len(res.Disabled),
		"enabled": len(res.Enabled), "deleted": len(res.Deleted), "unchanged": res.Unchanged, "conflict": len(res.Conflicts),
		"held_back": res.HeldBack,
	} {
		m.people.WithLabelValues(name, outcome).Set(float64(n))
	}
	if len(res.Errors) > 0 {
		m.errors.WithLabelValues(name).Inc()
		log.Error("directory sync done with errors", append(counts, "first_error", res.Errors[0])...)
		return
	}
	switch {
	case res.HeldBack > 0:
		log.Warn("directory sync held people back: more would be disabled or deleted than max_disable_fraction or max_disable_count allow; "+
			"check with keyhall sync --dry-run, then run keyhall sync --allow-mass-change", counts...)
	case len(res.Conflicts) > 0:
		log.Warn("directory sync done with conflicts", counts...)
	default:
		log.Info("directory sync done", counts...)
	}
}

// newRegistry returns the registry serve's metrics go to: the web server's
// and the directory syncs', with the Go and process collectors.
func newRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(prometheus.NewGoCollector(), prometheus.NewProcessCollector(prometheus.ProcessCollectorOpts{}))
	return reg
}

// lastSyncTTL is how long serve keeps a directory's last sync time read
// from the database for Verifier.LastSync.
const lastSyncTTL = 30 * time.Second

// lastSyncs answers Verifier.LastSync from the database: when the
// directory's last sync succeeded (the state a live check falls back on
// while the directory does not answer). Zero until the database is open,
// and when it cannot be read.
type lastSyncs struct {
	st    atomic.Value // authn.DirectoryStore, once open
	mu    sync.Mutex
	cache map[string]lastSync
	now   func() time.Time
}

type lastSync struct{ at, read time.Time }

func newLastSyncs() *lastSyncs {
	return &lastSyncs{cache: map[string]lastSync{}, now: time.Now}
}

// use makes l read from st.
func (l *lastSyncs) use(st authn.DirectoryStore) { l.st.Store(st) }

// of returns when the directory dir was last synced successfully.
func (l *lastSyncs) of(dir string) time.Time {
	st, _ := l.st.Load().(authn.DirectoryStore)
	if st == nil {
		return time.Time{}
	}
	now := l.now()
	l.mu.Lock()
	c, ok := l.cache[dir]
	l.mu.Unlock()
	if ok && now.Sub(c.read) < lastSyncTTL {
		return c.at
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	state, err := st.GetDirectoryState(ctx, dir)
	if err != nil {
		return c.at // what was known; an outage of the database is no news
	}
	l.mu.Lock()
	l.cache[dir] = lastSync{at: state.LastSuccessAt, read: now}
	l.mu.Unlock()
	return state.LastSuccessAt
}
