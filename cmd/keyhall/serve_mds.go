package main

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/keyhall/keyhall/authn"
	"github.com/keyhall/keyhall/enroll/mds"
)

// mdsCheckEvery is how often serve reads the imported MDS blob's date (a
// cheap read): an import clears keyhall_mds_stale within the hour.
// mdsWarnEvery is how often, at most, it warns in the log of a stale blob.
const (
	mdsCheckEvery = time.Hour
	mdsWarnEvery  = 24 * time.Hour
)

// mdsMetrics are the metrics of the imported FIDO MDS3 blob.
type mdsMetrics struct {
	nextUpdate prometheus.Gauge // unix time of the imported blob's nextUpdate; 0: none imported
	stale      prometheus.Gauge // 1 while the blob is past its nextUpdate (or missing where a group needs it)
}

func newMDSMetrics(reg prometheus.Registerer) (*mdsMetrics, error) {
	m := &mdsMetrics{
		nextUpdate: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "keyhall_mds_next_update_timestamp_seconds",
			Help: "When FIDO publishes the blob after the imported MDS3 blob (its nextUpdate, Unix time); 0 when none was imported.",
		}),
		stale: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "keyhall_mds_stale",
			Help: "1 while the imported FIDO MDS3 blob is past its nextUpdate, or none is imported though a group refuses compromised models: import the current one (keyhall admin mds import).",
		}),
	}
	for _, c := range []prometheus.Collector{m.nextUpdate, m.stale} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// refusesCompromised reports whether a group of cfg refuses keys of
// compromised models, which needs an imported blob.
func refusesCompromised(cfg Config) bool {
	for _, g := range cfg.Policy.Groups {
		if g.RefuseCompromisedModels {
			return true
		}
	}
	return false
}

// checkMDS sets the metrics from the imported blob and warns in the log
// when it is past its nextUpdate, or missing while needed; it reports
// whether it warned.
func checkMDS(ctx context.Context, st authn.KeyModelStore, now time.Time, needed bool, m *mdsMetrics, logger *slog.Logger) (warned bool) {
	md, err := st.KeyMetadata(ctx)
	switch {
	case errors.Is(err, authn.ErrNotFound):
		m.nextUpdate.Set(0)
		if needed {
			m.stale.Set(1)
			logger.Warn("no FIDO MDS blob imported, so no key model is known to be compromised, though a group refuses them (refuse_compromised_models): download it from https://mds3.fidoalliance.org/ and run keyhall admin mds import")
			return true
		}
		m.stale.Set(0)
		return false
	case err != nil:
		if ctx.Err() == nil {
			logger.Warn("could not read the imported FIDO MDS blob's date", "err", err)
		}
		return false
	}
	m.nextUpdate.Set(float64(md.NextUpdate.Unix()))
	if !mds.Stale(md.NextUpdate, now) {
		m.stale.Set(0)
		return false
	}
	m.stale.Set(1)
	logger.Warn("the imported FIDO MDS blob is past its next update: models revoked since are not known; download the current one from https://mds3.fidoalliance.org/ and run keyhall admin mds import",
		"no", md.No, "next_update", md.NextUpdate.Format(time.DateOnly), "imported_at", md.ImportedAt.UTC().Format(time.DateTime))
	return true
}

// startMDSCheck registers the MDS metrics on reg and checks the imported
// blob now and then every mdsCheckEvery until ctx ends.
func startMDSCheck(ctx context.Context, bg *sync.WaitGroup, cfg Config, st authn.KeyModelStore, reg prometheus.Registerer, logger *slog.Logger) {
	m, err := newMDSMetrics(reg)
	if err != nil {
		logger.Error("FIDO MDS metrics not registered", "err", err)
		return
	}
	needed := refusesCompromised(cfg)
	bg.Go(func() { watchMDS(ctx, st, needed, m, logger, mdsCheckEvery) })
}

// watchMDS runs checkMDS now and then every period until ctx ends,
// warning in the log at most once in mdsWarnEvery.
func watchMDS(ctx context.Context, st authn.KeyModelStore, needed bool, m *mdsMetrics, logger *slog.Logger, every time.Duration) {
	quiet := slog.New(slog.DiscardHandler)
	var warnedAt time.Time
	for {
		now, l := time.Now(), logger
		if !warnedAt.IsZero() && now.Sub(warnedAt) < mdsWarnEvery {
			l = quiet
		}
		if checkMDS(ctx, st, now, needed, m, l) && l == logger {
			warnedAt = now
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(every):
		}
	}
}
