package main

// emailRecoveryRule is citizens.Config.EmailRecovery from policy.groups:
// a person may recover by e-mail only when she is in at least one group
// and every group of hers has a policy that sets email_recovery (which
// the configuration refuses for a key policy, the desk's role groups and
// protected or dual-control groups). A group without a policy, such as
// the admin group, is no citizens' group: its member may not (review of
// #15: an admin who was also a citizen could be taken over by mail).
func emailRecoveryRule(groups map[string]GroupPolicy) func([]string) bool {
	return func(names []string) bool {
		for _, n := range names {
			if g, ok := groups[n]; !ok || !g.EmailRecovery {
				return false
			}
		}
		return len(names) > 0
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
