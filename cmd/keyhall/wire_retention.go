package main

import (
	"context"
	"log/slog"
	"net/url"
	"sync"
	"time"

	"github.com/keyhall/keyhall/authn"
	"github.com/keyhall/keyhall/authn/sqlstore"
	"github.com/keyhall/keyhall/enroll"
	"github.com/keyhall/keyhall/enroll/citizens"
	"github.com/keyhall/keyhall/web"
)

// retentionService is the citizens' service as retention uses it:
// retention.signins always, citizens.inactive_after only when
// citizens.enabled (a city without self-registration deletes nobody for
// being unused).
func retentionService(cfg Config, keys Keys, publicURL *url.URL, st *sqlstore.Store, srv *web.Server, logger *slog.Logger) (*citizens.Service, error) {
	ec, err := serveEnrollConfig(cfg, keys, publicURL, logger)
	if err != nil {
		return nil, err
	}
	ec.Store = st
	en, err := enroll.New(ec)
	if err != nil {
		return nil, err
	}
	cc := citizens.Config{
		Store: st, Enroll: en, PublicURL: publicURL, Group: cfg.Citizens.Group,
		SigninRetention: time.Duration(cfg.Retention.Signins),
		Mailer:          ec.Mailer, Notices: ec.Notices, Logger: logger,
	}
	if srv != nil {
		cc.Tools = srv
	}
	if cfg.Citizens.Enabled {
		cc.InactiveAfter = time.Duration(cfg.Citizens.InactiveAfter)
	}
	return citizens.New(cc)
}

// retentionLease: with several processes on one database, the one that
// holds it runs retention, so that a notice is mailed once.
const (
	retentionLease = "retention" + " lease" // a space: no directory has this name
	retentionTTL   = 30 * time.Minute
)

// startRetention runs citizens.Retain every citizens.RetainEvery (the
// first a minute after the start) until ctx ends, in the process that
// holds retentionLease.
func startRetention(ctx context.Context, bg *sync.WaitGroup, cfg Config, keys Keys, publicURL *url.URL,
	st *sqlstore.Store, srv *web.Server, logger *slog.Logger) {
	svc, err := retentionService(cfg, keys, publicURL, st, srv, logger)
	if err != nil {
		logger.Error("retention is off until the configuration is fixed", "err", err)
		return
	}
	holder := authn.NewID()
	bg.Go(func() {
		wait := time.Minute
		for {
			select {
			case <-ctx.Done():
				return
			case <-time.After(wait):
			}
			wait = citizens.RetainEvery
			ok, err := st.TryLockDirectory(ctx, retentionLease, holder, time.Now(), retentionTTL)
			if err != nil || !ok {
				if err != nil && ctx.Err() == nil {
					logger.Warn("retention not run; trying again in an hour", "err", err)
				}
				continue
			}
			rep, err := svc.Retain(ctx)
			_ = st.UnlockDirectory(context.WithoutCancel(ctx), retentionLease, holder)
			if err != nil && ctx.Err() == nil {
				logger.Warn("retention did not finish; trying again in an hour", "err", err)
			}
			if rep != (citizens.Report{}) {
				logger.Info("retention", "signins_redacted", rep.SigninsRedacted, "checkpoint", rep.Checkpoint,
					"noticed", rep.Noticed, "notices_unsent", rep.NoticesUnsent, "withdrawn", rep.Withdrawn, "deleted", rep.Deleted)
			}
		}
	})
}
