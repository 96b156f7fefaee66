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

// citizensSweep is how often serve removes the registrations not
// finished within citizens.UnfinishedAfter and the old factors of the
// recoveries by e-mail whose 72 hours have passed.
const citizensSweep = 10 * time.Minute

// sweepCitizens runs, every citizensSweep until ctx ends, what the
// citizens' service does by the clock: RemoveUnfinished and
// FinishRecoveries.
func sweepCitizens(ctx context.Context, srv *web.Server, logger *slog.Logger) {
	t := time.NewTicker(citizensSweep)
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
			for _, job := range []struct {
				what string
				run  func(context.Context) (int, error)
			}{
				{"remove unfinished registrations", svc.RemoveUnfinished},
				{"finish recoveries by e-mail", svc.FinishRecoveries},
			} {
				n, err := job.run(ctx)
				if err != nil && ctx.Err() == nil {
					logger.Warn(job.what, "err", err)
				} else if n > 0 {
					logger.Info(job.what, "count", n)
				}
			}
		}
	}
}
