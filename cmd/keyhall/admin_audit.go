package main

import (
	"context"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"slices"
	"strconv"
	"strings"

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
			"again, or the end of the log was cut off). Exits 1 at the first event that does not fit,\n" +
			"naming it and why.\n\n" +
			"--skip-broken goes on past an event that does not fit: it names the event and why,\n" +
			"takes that event's stored hash as the chain's new anchor and checks the events after\n" +
			"it. So a log with one bad event (e.g. one written before Keyhall refused text that is\n" +
			"not UTF-8, #17) can still be checked to its end. It lists every event it skipped and\n" +
			"still exits 1: a log with a skipped event is never called intact.",
		examples: []string{
			"keyhall admin audit verify --config /etc/keyhall/keyhall.yaml",
			"keyhall admin audit verify --skip-broken",
		},
		setup: func(fs *flag.FlagSet) action {
			cfgPath := configFlag(fs)
			skip := fs.Bool("skip-broken", false, "go on past events that do not fit the chain, list them, and still exit 1")
			return func(ctx context.Context, a *app, args []string) error {
				if len(args) != 0 {
					return usagef("audit verify takes no arguments")
				}
				return withStore(ctx, a, *cfgPath, func(st authn.Store) error {
					return runAuditVerify(ctx, a, st, *skip)
				})
			}
		},
	}
}

func runAuditVerify(ctx context.Context, a *app, st authn.AuditStore, skip bool) error {
	n, last, breaks, err := verifyAudit(ctx, st, skip, func(b *authn.ChainBreak) {
		fmt.Fprintf(a.stdout, "event %d (after %d): %s; skipped, checking on from its stored hash\n", b.Seq, b.After, b.Reason)
	})
	var cb *authn.ChainBreak
	switch {
	case errors.As(err, &cb):
		return &cliError{msg: fmt.Sprintf("the audit log is broken after %d intact events: %v "+
			"(--skip-broken checks the events after it)", n, err), err: err}
	case err != nil:
		return err
	case len(breaks) > 0:
		seqs := make([]string, len(breaks))
		for i, b := range breaks {
			seqs[i] = strconv.FormatInt(b.Seq, 10)
		}
		msg := fmt.Sprintf("the audit log is NOT intact: %d event(s) did not fit the chain and were skipped (%s); "+
			"%d events read, the others fit; last hash %s", len(breaks), strings.Join(seqs, ", "), n, hex.EncodeToString(last[:]))
		return &cliError{msg: msg, err: errors.New("audit chain broken")}
	}
	_, err = fmt.Fprintf(a.stdout, "%d audit events, chain intact; last hash %s\n", n, hex.EncodeToString(last[:]))
	return err
}

// verifyAudit checks the whole chain, page by page, and returns the Seq
// and hash of the last event it read. At an event that does not fit it
// stops with a *authn.ChainBreak; with skip, it reports the break, takes
// the event's stored hash as the new anchor, goes on, and returns every
// break it skipped.
func verifyAudit(ctx context.Context, st authn.AuditStore, skip bool, report func(*authn.ChainBreak)) (int64, [32]byte, []authn.ChainBreak, error) {
	var (
		prev   [32]byte
		seq    int64
		breaks []authn.ChainBreak
	)
	for {
		page, err := st.ListAudit(ctx, authn.AuditFilter{AfterSeq: seq, Limit: auditPage})
		if err != nil {
			return seq, prev, breaks, fmt.Errorf("read the audit log after event %d: %w", seq, err)
		}
		if len(page) == 0 {
			return seq, prev, breaks, nil
		}
		for len(page) > 0 {
			prev, seq, err = authn.VerifyChain(prev, seq, page)
			var b *authn.ChainBreak
			if err == nil {
				break
			}
			if !skip || !errors.As(err, &b) {
				return seq, prev, breaks, err
			}
			report(b)
			breaks = append(breaks, *b)
			i := slices.IndexFunc(page, func(e authn.AuditEvent) bool { return e.Seq == b.Seq })
			prev, seq, page = page[i].Hash, page[i].Seq, page[i+1:]
		}
	}
}
