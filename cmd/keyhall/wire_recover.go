package main

import (
	"context"
	"log/slog"
	"time"

	"github.com/keyhall/keyhall/authn"
	"github.com/keyhall/keyhall/enroll"
	"github.com/keyhall/keyhall/enroll/citizens"
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

// citizensSignIn lets citizens sign in with their e-mail address and an
// app code alone (issue #15): with citizens.enabled, the citizens' group
// gets authn.GroupPolicy.AppAlone, unless its policy asks a level or
// refuses apps. A citizen with a password is still asked for it, and one
// who is also in another group with a policy is not affected.
func citizensSignIn(cfg Config, p authn.Policy) {
	if !cfg.Citizens.Enabled {
		return
	}
	g, ok := p.Groups[cfg.Citizens.Group]
	if !ok {
		g = authn.GroupPolicy{AllowTOTP: true}
	}
	g.AppAlone = g.AllowTOTP && g.Level == authn.LevelNone
	p.Groups[cfg.Citizens.Group] = g
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

// citizensConfig is the citizens' service configuration but what the web
// server fills in when the store is open.
func citizensConfig(cfg Config, ec enroll.Config) citizens.Config {
	return citizens.Config{
		Group:           cfg.Citizens.Group,
		EmailRecovery:   emailRecoveryRule(cfg.Policy.Groups),
		InactiveAfter:   time.Duration(cfg.Citizens.InactiveAfter),
		SigninRetention: time.Duration(cfg.Retention.Signins),
		Mailer:          ec.Mailer,
		Notices:         ec.Notices,
	}
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
