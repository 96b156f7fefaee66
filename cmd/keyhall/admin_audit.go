package main

import (
	"context"
	"encoding/hex"
	"flag"
	"fmt"

	"github.com/keyhall/keyhall/authn"
)

// auditPage is how many audit events are read at a time.
const auditPage = 1000

func auditCommand() *command {
	return &command{
		name:    "audit",
		summary: "check the audit log",
		help:    "Reads the audit log.",
		subs:    []*command{auditVerifyCommand()},
	}
}

func auditVerifyCommand() *command {
	return &command{
		name:    "verify",
		summary: "check that no audit event was changed or removed",
		help: "Walks the whole audit log and checks its hash chain: every event must follow the one\n" +
			"before it without a gap, and its hash must match what it says. Prints how many events\n" +
			"were checked and the hash of the last one (write it down: a later run must reach it\n" +
			"again, or the end of the log was cut off). Exits 1 at the first event that does not fit.",
		examples: []string{"keyhall admin audit verify --config /etc/keyhall/keyhall.yaml"},
		setup: func(fs *flag.FlagSet) action {
			cfgPath := configFlag(fs)
			return func(ctx context.Context, a *app, args []string) error {
				if len(args) != 0 {
					return usagef("audit verify takes no arguments")
				}
				return withStore(ctx, a, *cfgPath, func(st authn.Store) error {
					n, last, err := verifyAudit(ctx, st)
					if err != nil {
						return &cliError{msg: fmt.Sprintf("the audit log is broken after %d intact events: %v", n, err), err: err}
					}
					_, err = fmt.Fprintf(a.stdout, "%d audit events, chain intact; last hash %s\n", n, hex.EncodeToString(last[:]))
					return err
				})
			}
		},
	}
}

// verifyAudit checks the whole chain, page by page, and returns how many
// events it checked and the last hash.
func verifyAudit(ctx context.Context, st authn.AuditStore) (int64, [32]byte, error) {
	var prev [32]byte
	var seq int64
	for {
		page, err := st.ListAudit(ctx, authn.AuditFilter{AfterSeq: seq, Limit: auditPage})
		if err != nil {
			return seq, prev, fmt.Errorf("read the audit log: %w", err)
		}
		if len(page) == 0 {
			return seq, prev, nil
		}
		if prev, seq, err = authn.VerifyChain(prev, seq, page); err != nil {
			return seq, prev, err
		}
	}
}
