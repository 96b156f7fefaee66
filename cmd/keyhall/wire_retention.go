package main

import (
	"context"
	"errors"
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
// holds it runs retention, so that a notice is mailed once. It is renewed
// while a run goes on, and a run that loses it stops (runWithLease).
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
			var rep citizens.Report
			ran, err := runWithLease(ctx, st, retentionLease, holder, retentionTTL, time.Now, func(ctx context.Context) error {
				var err error
				rep, err = svc.Retain(ctx)
				return err
			})
			if !ran {
				if err != nil && ctx.Err() == nil {
					logger.Warn("retention not run; trying again in an hour", "err", err)
				}
				continue
			}
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

// leaseStore holds leases (authn.DirectoryStore's, under a name no
// directory has).
type leaseStore interface {
	TryLockDirectory(ctx context.Context, dir, holder string, now time.Time, ttl time.Duration) (bool, error)
	UnlockDirectory(ctx context.Context, dir, holder string) error
}

// errLeaseLost ends a run whose lease another process took, or that could
// not be renewed before it ran out.
var errLeaseLost = errors.New("the lease was lost during the run")

// runWithLease runs fn if holder gets the lease name for ttl, renews it
// every third of ttl while fn runs, and ends fn's context when a renewal
// finds it taken or fails (fn must stop when its context ends); then it
// gives the lease up. ran is false when the lease was not had; err is
// fn's, or errLeaseLost when the lease was lost.
func runWithLease(ctx context.Context, st leaseStore, name, holder string, ttl time.Duration, now func() time.Time,
	fn func(context.Context) error) (ran bool, err error) {
	ok, err := st.TryLockDirectory(ctx, name, holder, now(), ttl)
	if err != nil || !ok {
		return false, err
	}
	defer func() {
		uctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
		_ = st.UnlockDirectory(uctx, name, holder)
		cancel()
	}()
	runCtx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	done := make(chan struct{})
	renewed := make(chan struct{})
	go func() {
		defer close(renewed)
		t := time.NewTicker(ttl / 3)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-runCtx.Done():
				return
			case <-t.C:
			}
			ok, err := st.TryLockDirectory(runCtx, name, holder, now(), ttl)
			if err != nil || !ok {
				cancel(errors.Join(errLeaseLost, err))
				return
			}
		}
	}()
	err = fn(runCtx)
	close(done)
	<-renewed
	if cause := context.Cause(runCtx); errors.Is(cause, errLeaseLost) {
		return true, cause
	}
	return true, err
}
