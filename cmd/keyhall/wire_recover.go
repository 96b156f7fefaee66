package main

import (
	"context"
	"log/slog"
	"time"

	"github.com/keyhall/keyhall/web"
)

// emailRecoveryRule is citizens.Config.EmailRecovery from policy.groups:
// a person may recover by e-mail when at least one of her groups has a
// policy and every one of her groups that has a policy sets
// email_recovery (which the configuration refuses for a key policy). A
// person without any group with a policy may not.
func emailRecoveryRule(groups map[string]GroupPolicy) func([]string) bool {
	return func(names []string) bool {
		allowed := false
		for _, n := range names {
			g, ok := groups[n]
			if !ok {
				continue
			}
			if !g.EmailRecovery {
				return false
			}
			allowed = true
		}
		return allowed
	}
}

// recoverByEmail reports whether /recover is served: citizens are
// enabled, or a group allows recovery by e-mail.
func recoverByEmail(cfg Config) bool {
	if cfg.Citizens.Enabled {
		return true
	}
	for _, g := range cfg.Policy.Groups {
		if g.EmailRecovery {
			return true
		}
	}
	return false
}

// finishRecoveriesEvery is how often serve removes the old factors of
// recoveries whose 72 hours have passed.
const finishRecoveriesEvery = 10 * time.Minute

// finishRecoveries runs citizens.Service.FinishRecoveries every
// finishRecoveriesEvery until ctx ends.
func finishRecoveries(ctx context.Context, srv *web.Server, logger *slog.Logger) {
	t := time.NewTicker(finishRecoveriesEvery)
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
			n, err := svc.FinishRecoveries(ctx)
			if err != nil && ctx.Err() == nil {
				logger.Warn("finish recoveries by e-mail", "err", err)
			} else if n > 0 {
				logger.Info("finished recoveries by e-mail: old factors removed", "count", n)
			}
		}
	}
}
