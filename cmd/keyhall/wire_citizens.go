package main

import (
	"context"
	"log/slog"
	"net/url"
	"time"

	"github.com/keyhall/keyhall/enroll"
	"github.com/keyhall/keyhall/enroll/citizens"
	"github.com/keyhall/keyhall/web"
)

// citizensConfig is what web needs for citizens (web.Config.Citizens):
// the data page and deletion are everyone's, /register only with
// citizens.enabled (web.Config.Register); the store and the enrollment service are added
// when the store is open (web.Server.SetStore).
func citizensConfig(cfg Config, keys Keys, publicURL *url.URL, ec enroll.Config, logger *slog.Logger) citizens.Config {
	return citizens.Config{
		PublicURL: publicURL, Group: cfg.Citizens.Group, EmailRecovery: emailRecoveryRule(cfg.Policy.Groups),
		InactiveAfter: time.Duration(cfg.Citizens.InactiveAfter), SigninRetention: time.Duration(cfg.Retention.Signins),
		Mailer: ec.Mailer, Notices: ec.Notices, Logger: logger, EncryptionKey: keys.Encryption,
	}
}

// registrationSweep is how often serve removes the registrations not
// finished within citizens.UnfinishedAfter.
const registrationSweep = 10 * time.Minute

// removeUnfinishedRegistrations removes, every registrationSweep, the
// self-registrations not finished within a day, with everything they
// created (citizens.Service.RemoveUnfinished).
func removeUnfinishedRegistrations(ctx context.Context, srv *web.Server, logger *slog.Logger) {
	t := time.NewTicker(registrationSweep)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			svc := srv.Citizens()
			if svc == nil {
				continue
			}
			n, err := svc.RemoveUnfinished(ctx)
			if err != nil && ctx.Err() == nil {
				logger.Warn("remove unfinished registrations", "err", err)
			}
			if n > 0 {
				logger.Info("removed unfinished registrations", "count", n)
			}
		}
	}
}
