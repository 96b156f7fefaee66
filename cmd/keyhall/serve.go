package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/keyhall/keyhall/authn"
	"github.com/keyhall/keyhall/authn/sqlstore"
	"github.com/keyhall/keyhall/enroll"
	"github.com/keyhall/keyhall/ldapsync"
	"github.com/keyhall/keyhall/web"
)

// sessionRetention is how long ended sessions are kept for "recent sign-ins",
// and how long expired OIDC authorization requests and tokens are kept.
const sessionRetention = 30 * 24 * time.Hour

// runServe checks and takes what serve needs from this machine before it
// writes anything (the directories of the database and the key file, the
// listen addresses), notes whether this installation was set up before,
// loads the keys (making the key file on a first start), and serves.
func runServe(ctx context.Context, cfg Config, stdout, stderr io.Writer) error {
	if err := cfg.checkPlaces(false); err != nil {
		return &configError{err: err}
	}
	installed := installedBefore(cfg)
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("listen on %s (listen): %w", cfg.Listen, err)
	}
	var mln net.Listener
	if cfg.MetricsListen != "" {
		if mln, err = net.Listen("tcp", cfg.MetricsListen); err != nil {
			ln.Close()
			return fmt.Errorf("listen on %s (metrics_listen): %w", cfg.MetricsListen, err)
		}
	}
	keys, err := loadKeys(cfg, newLogger(cfg, stderr))
	if err != nil {
		ln.Close()
		if mln != nil {
			mln.Close()
		}
		return err
	}
	return serve(ctx, cfg, keys, serveStart{installed: installed, ln: ln, metricsLn: mln}, stdout, stderr)
}

// serveStart is what runServe found and opened for serve.
type serveStart struct {
	// installed: the key file existed before this start, so Keyhall was
	// set up here before; a missing or empty SQLite file is then not a
	// first start but a lost database (sqlstore.Options.Installed).
	installed bool
	ln        net.Listener // on listen
	metricsLn net.Listener // on metrics_listen; nil without
}

// installedBefore reports whether this installation was set up before:
// serve reads keys from keys.file, and the file is there. (When the
// configuration gives every key, there is no key file to tell: a missing
// database is then taken for a first start.)
func installedBefore(cfg Config) bool {
	if !cfg.usesKeyFile() {
		return false
	}
	_, err := os.Lstat(cfg.Keys.File)
	return !errors.Is(err, fs.ErrNotExist)
}

// serve runs the server until ctx ends, then shuts it down gracefully.
func serve(ctx context.Context, cfg Config, keys Keys, start serveStart, stdout, stderr io.Writer) error {
	logger := newLogger(cfg, stderr)
	ln := start.ln
	defer func() {
		// Closed already when served; here for the errors before that.
		ln.Close()
		if start.metricsLn != nil {
			start.metricsLn.Close()
		}
	}()
	publicURL, err := cfg.parsedPublicURL()
	if err != nil {
		return err
	}
	password, err := cfg.storagePassword()
	if err != nil {
		return fmt.Errorf("storage_password_file: %w", err)
	}
	reg := newRegistry()
	verifier, err := directoryVerifier(cfg, logger)
	if err != nil {
		return err
	}
	lastSync := newLastSyncs()
	if v, ok := verifier.(*ldapsync.Verifier); ok {
		v.LastSync = lastSync.of // set before any request can read it
	}
	if c, ok := verifier.(io.Closer); ok {
		defer c.Close() // after the requests and syncs that use it
	}
	srv, err := newWebServer(cfg, keys, publicURL, logger, reg, verifier)
	if err != nil {
		return err
	}
	dirs, err := cfg.ldapConfigs()
	if err != nil {
		return err
	}
	dm, err := newDirectoryMetrics(reg)
	if err != nil {
		return err
	}
	for _, w := range cfg.directoryWarnings() {
		logger.Warn("directory: " + w)
	}
	hs, ln, certs, err := listen(cfg, srv, ln, logger)
	if err != nil {
		return err
	}
	// Listened for before the server says it listens, so that a SIGHUP
	// from then on is acted on.
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	logger.Info("listening", "addr", ln.Addr().String(), "public_url", publicURL.String(), "tls", hs.TLSConfig != nil)
	if w := publicURLWarning(publicURL, cfg.Listen); w != "" {
		fmt.Fprintf(stderr, "keyhall: warning: %s\n", w)
	}
	ms := serveMetrics(srv, start.metricsLn, logger)

	ctx, stop := context.WithCancelCause(ctx)
	defer stop(nil)
	served := make(chan error, 1)
	go func() { served <- hs.Serve(ln) }()
	go watchHangup(ctx, hup, certs, logger)
	if ms != nil {
		defer ms.Close()
	}

	var bg sync.WaitGroup
	var st *sqlstore.Store
	bg.Go(func() {
		var err error
		if st, err = openStore(ctx, cfg, password, start.installed, logger); err != nil {
			stop(err)
			return
		}
		if st == nil {
			return
		}
		if err := checkKeys(ctx, st, keys); err != nil {
			stop(err)
			return
		}
		startHeartbeat(ctx, &bg, st, keys, logger) // before it is ready (startStore)
		fake, err := fakeIDKey(ctx, st, keys)
		if err != nil {
			stop(err)
			return
		}
		srv.SetFakeIDKey(fake) // before SetStore (startStore)
		// A broken audit log is for IT to look into; sign-in goes on.
		if err := st.CheckAuditHead(ctx); err != nil {
			logger.Error("audit log damaged", "err", err)
		}
		warnCitizensGroup(ctx, st, cfg, logger)
		startStore(ctx, &bg, cfg, publicURL, st, srv, logger, stdout)
		startDirectorySyncs(ctx, &bg, dirs, st, srv, dm, logger)
		startAuditLog(ctx, &bg, st, keys, logger)
		startRetention(ctx, &bg, cfg, keys, publicURL, st, srv, logger)
		startMDSCheck(ctx, &bg, cfg, st, reg, logger)
		lastSync.use(st)
	})

	select {
	case err := <-served:
		stop(fmt.Errorf("serve http: %w", err))
	case <-ctx.Done():
		shutdown(hs, srv, time.Duration(cfg.ShutdownTimeout), logger)
	}
	bg.Wait()
	if st != nil {
		if err := st.Close(); err != nil {
			logger.Error("close database", "err", err)
		}
	}
	logger.Info("stopped")
	if cause := context.Cause(ctx); cause != nil && !errors.Is(cause, context.Canceled) {
		return cause
	}
	return nil
}

// checkKeys refuses a database that was set up with other keys: a process
// with keys of its own would seal app secrets and sign tokens that the
// others cannot read, and could not read theirs. During a rotation
// (docs/keys.md) a process whose previous keys (keys.previous_*) are the
// database's takes them over: the database then remembers the new keys,
// and a process with only the old ones is refused from then on.
func checkKeys(ctx context.Context, st *sqlstore.Store, keys Keys) error {
	mine := keys.Fingerprint()
	stored, err := st.EnsureSetting(ctx, "keys_fingerprint", mine)
	if err != nil {
		return err
	}
	if stored == mine {
		return nil
	}
	if prev, ok := keys.previous(); ok && stored == prev.Fingerprint() {
		swapped, err := st.SwapSetting(ctx, "keys_fingerprint", stored, mine)
		if err != nil {
			return err
		}
		if swapped {
			return nil
		}
		return checkKeys(ctx, st, Keys{Cookie: keys.Cookie, Encryption: keys.Encryption, OIDC: keys.OIDC})
	}
	return fmt.Errorf("the database was set up with other keys (fingerprint %s, this process has %s): every Keyhall process of an installation must use the same keys; copy keys.file (or the keys.* settings) from the first one", stored, mine)
}

// newWebServer builds the HTTP side from the configuration and the keys,
// with its metrics on reg and directory people's passwords checked by the
// directory.
func newWebServer(cfg Config, keys Keys, publicURL *url.URL, logger *slog.Logger, reg *prometheus.Registry,
	verifier authn.PasswordVerifier) (*web.Server, error) {
	proxies, err := cfg.proxyPrefixes()
	if err != nil {
		return nil, err
	}
	wc, err := webConfig(cfg, keys, publicURL, proxies, logger)
	if err != nil {
		return nil, err
	}
	wc.Registry = reg
	if verifier != nil {
		wc.SignIn.Directory = verifier
		if c, ok := verifier.(authn.AccountChecker); ok {
			wc.SignIn.DirectoryStatus = c // a passwordless sign-in is checked live
		}
		wc.SignIn.PasswordLimit, wc.SignIn.PasswordWindow = passwordLimit(cfg.directoryList())
	}
	return web.New(wc)
}

// shutdown stops hs within grace: it waits for the requests in flight, then,
// with what is left of grace, for the back-channel logout notices they
// started, so that tools still learn of a sign-out made just before, and
// for the audit events of refused sign-ins still being written, and for
// the registration mails still queued (citizens.Service.Drain).
func shutdown(hs *http.Server, srv *web.Server, grace time.Duration, logger *slog.Logger) {
	logger.Info("shutting down", "grace", grace)
	ctx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	if err := hs.Shutdown(ctx); err != nil {
		logger.Warn("requests still running at the end of the grace period were cut off", "err", err)
	}
	if err := srv.WaitOIDCLogouts(ctx); err != nil {
		logger.Warn("back-channel logout notices still being sent at the end of the grace period were given up", "err", err)
	}
	if err := srv.WaitSignInRefusals(ctx); err != nil {
		logger.Warn("refused sign-ins still being audited at the end of the grace period were given up", "err", err)
	}
	if c := srv.Citizens(); c != nil {
		if n := c.Drain(ctx); n > 0 {
			logger.Warn("registration and recovery mails still queued at the end of the grace period were dropped; those people must register or ask for a recovery link again", "count", n)
		}
	}
}

// serveMetrics serves /metrics on ln (metrics_listen), apart from the
// public listener; nil when ln is nil.
func serveMetrics(srv *web.Server, ln net.Listener, logger *slog.Logger) *http.Server {
	if ln == nil {
		return nil
	}
	ms := web.HTTPServer(srv.MetricsHandler())
	ms.ErrorLog = slog.NewLogLogger(logger.Handler(), slog.LevelDebug)
	go ms.Serve(ln)
	logger.Info("serving metrics", "addr", ln.Addr().String(), "path", "/metrics")
	return ms
}

// listen makes the HTTP server for ln, the listening socket runServe
// opened, with TLS when configured, from certificate files that are taken
// up again when they change. It returns ln, wrapped in TLS if need be.
func listen(cfg Config, h http.Handler, ln net.Listener, logger *slog.Logger) (*http.Server, net.Listener, *certFiles, error) {
	hs := web.HTTPServer(h)
	hs.ErrorLog = slog.NewLogLogger(logger.Handler(), slog.LevelDebug)
	var certs *certFiles
	if cfg.TLS.CertFile != "" {
		var err error
		if certs, err = loadCertFiles(cfg.TLS.CertFile, cfg.TLS.KeyFile, logger); err != nil {
			return nil, nil, nil, err
		}
	}
	if certs != nil {
		hs.TLSConfig = &tls.Config{MinVersion: tls.VersionTLS12, GetCertificate: certs.GetCertificate,
			NextProtos: []string{"h2", "http/1.1"}}
		ln = tls.NewListener(ln, hs.TLSConfig)
	}
	return hs, ln, certs, nil
}

// watchHangup takes up renewed certificate files (certFiles.watch, on
// hup and every certCheckInterval) until ctx ends. Without TLS it says
// that a SIGHUP has nothing to load.
func watchHangup(ctx context.Context, hup <-chan os.Signal, certs *certFiles, logger *slog.Logger) {
	if certs != nil {
		certs.watch(ctx, certCheckInterval, hup)
		return
	}
	for {
		select {
		case <-ctx.Done():
			return
		case <-hup:
			logger.Info("SIGHUP: nothing to load again (no TLS); restart Keyhall to apply a changed configuration")
		}
	}
}

// openStore opens the database, retrying until it answers or ctx ends, so
// the server starts (and answers 503) while the database is still down.
// It returns nil when ctx ended first, and an error only for a fault that
// waiting cannot mend: a schema newer than this binary, or, when the
// installation was set up before (installed), a SQLite file that is
// missing or empty: setting up a new one would lose every person and
// print a new link that makes whoever holds it administrator.
func openStore(ctx context.Context, cfg Config, password string, installed bool, logger *slog.Logger) (*sqlstore.Store, error) {
	wait := time.Second
	for attempt := 1; ; attempt++ {
		st, err := sqlstore.Open(ctx, cfg.Storage, sqlstore.Options{
			Logger: logger, MaxOpenConns: cfg.Database.MaxOpenConns, Password: password, Installed: installed,
		})
		if errors.Is(err, sqlstore.ErrNoDatabase) {
			return nil, fmt.Errorf("%w; but keys.file %s exists, so Keyhall was set up here before and this is not a first start. "+
				"Restore the database from the backup (keyhall admin restore; docs/backup.md); or, to set up a new installation with nobody in it, "+
				"move the key file away and start again", err, cfg.Keys.File)
		}
		if err == nil {
			logger.Info("database open", "storage", redactURL(cfg.Storage), "dialect", st.Dialect())
			return st, nil
		}
		if errors.Is(err, authn.ErrSchemaTooNew) {
			return nil, fmt.Errorf("open %s: %w; run the newer Keyhall or restore a backup", redactURL(cfg.Storage), err)
		}
		logger.Error("database unavailable; answering 503 until it is back", "storage", redactURL(cfg.Storage),
			"attempt", attempt, "retry_in", wait, "err", err)
		select {
		case <-ctx.Done():
			return nil, nil
		case <-time.After(wait):
		}
		wait = min(2*wait, 5*time.Second)
	}
}

// startStore bootstraps an empty database, hands the store to the web
// server and starts the background writers.
func startStore(ctx context.Context, bg *sync.WaitGroup, cfg Config, publicURL *url.URL, st *sqlstore.Store,
	srv *web.Server, logger *slog.Logger, stdout io.Writer) {
	var link string
	var expires time.Time
	for wait := time.Second; ; wait = min(2*wait, 5*time.Second) {
		var err error
		link, expires, err = enroll.Bootstrap(ctx, st, enroll.BootstrapParams{
			PublicURL: publicURL, Username: cfg.BootstrapUser, Group: cfg.AdminGroup, Now: time.Now(),
		})
		if err == nil {
			break
		}
		logger.Error("could not check for the first administrator; retrying", "retry_in", wait, "err", err)
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
	}
	if link != "" {
		logger.Info("empty database: created the first administrator and a one-time enrollment link",
			"user", cfg.BootstrapUser, "group", cfg.AdminGroup, "expires", expires.Format(time.RFC3339))
		fmt.Fprintf(stdout, "\nEnroll the first administrator (%q) with this one-time link before %s:\n\n    %s\n\n",
			cfg.BootstrapUser, expires.Local().Format("2006-01-02 15:04 MST"), link)
		if w := publicURLWarning(publicURL, cfg.Listen); w != "" {
			fmt.Fprintf(stdout, "Warning: %s.\n\n", w)
		}
	}
	lastSeen := authn.NewLastSeen(st, logger)
	if err := srv.SetStore(st, lastSeen); err != nil {
		logger.Error("sign-in is unavailable until the configuration is fixed", "err", err)
	}
	bg.Go(func() { lastSeen.Run(ctx, time.Second) })
	bg.Go(func() { collectSessions(ctx, st, logger) })
	bg.Go(func() { sweepCitizens(ctx, srv, logger) }) // wire_citizens.go
}

// collectedStore is what collectSessions cleans up: sessions, the OIDC
// requests and tokens issued through them, and throttle counters.
type collectedStore interface {
	authn.SessionStore
	authn.OIDCStore
	authn.ThrottleStore
}

// throttlePurgeBatch is how many throttle counters one statement of
// purgeThrottles deletes.
const throttlePurgeBatch = 1000

// purgeThrottles deletes the throttle counters that count nothing any
// more (authn.ThrottleKeep), a batch at a time, and returns how many.
func purgeThrottles(ctx context.Context, st authn.ThrottleStore, now time.Time) (int, error) {
	total := 0
	for {
		n, err := st.PurgeThrottles(ctx, now.Add(-authn.ThrottleKeep), throttlePurgeBatch)
		total += n
		if err != nil || n < throttlePurgeBatch {
			return total, err
		}
	}
}

// collectSessions removes long-ended sessions, OIDC authorization
// requests and tokens that expired as long ago, and throttle counters
// whose windows are over, once an hour.
func collectSessions(ctx context.Context, st collectedStore, logger *slog.Logger) {
	t := time.NewTicker(time.Hour)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			before := time.Now().Add(-sessionRetention)
			n, err := st.DeleteSessionsBefore(ctx, before)
			if err != nil && ctx.Err() == nil {
				logger.Warn("remove old sessions", "err", err)
			} else if n > 0 {
				logger.Info("removed old sessions", "count", n)
			}
			n, err = st.DeleteOIDCBefore(ctx, before)
			if err != nil && ctx.Err() == nil {
				logger.Warn("remove expired OIDC requests and tokens", "err", err)
			} else if n > 0 {
				logger.Info("removed expired OIDC requests and tokens", "count", n)
			}
			n, err = purgeThrottles(ctx, st, time.Now())
			if err != nil && ctx.Err() == nil {
				logger.Warn("remove old throttle counters", "err", err)
			} else if n > 0 {
				logger.Info("removed old throttle counters", "count", n)
			}
		}
	}
}

// redactURL hides a password in a storage URL for the log.
func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return "(unparsable storage URL)"
	}
	return u.Redacted()
}
