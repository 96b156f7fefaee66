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
	"time"

	"github.com/keyhall/keyhall/authn"
)

// auditPage is how many audit events are read at a time.
const auditPage = 1000

func auditCommand() *command {
	return &command{
		name:    "audit",
		summary: "check and export the audit log",
		help:    "Reads the audit log.",
		subs:    []*command{auditVerifyCommand(), auditExportCommand()},
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
			"still exits 1: a log with a skipped event is never called intact.\n\n" +
			"Anyone who can write to the database can recompute the whole chain, so serve also\n" +
			"writes every event as a log line and, every hour, the chain's head as a checkpoint\n" +
			"signed with the installation's key (log message \"audit checkpoint\"). --checkpoint\n" +
			"takes such a line from the city's log collector: the signature must verify with this\n" +
			"installation's key, and the chain up to the checkpoint's event must end in its hash;\n" +
			"otherwise events before the checkpoint were removed or changed.",
		examples: []string{
			"keyhall admin audit verify --config /etc/keyhall/keyhall.yaml",
			"keyhall admin audit verify --skip-broken",
			"keyhall admin audit verify --checkpoint 'keyhall-checkpoint.v1.4711.9f86d0…'",
		},
		setup: func(fs *flag.FlagSet) action {
			cfgPath := configFlag(fs)
			skip := fs.Bool("skip-broken", false, "go on past events that do not fit the chain, list them, and still exit 1")
			checkpoint := fs.String("checkpoint", "", "also check the chain against a signed checkpoint: `LINE` from the log (or just its keyhall-checkpoint.v1… token)")
			return func(ctx context.Context, a *app, args []string) error {
				if len(args) != 0 {
					return usagef("audit verify takes no arguments (quote the --checkpoint line)")
				}
				if *checkpoint == "" {
					return withStore(ctx, a, *cfgPath, func(st authn.Store) error {
						return runAuditVerify(ctx, a, st, *skip)
					})
				}
				if _, err := authn.ParseCheckpoint(*checkpoint); err != nil {
					return usagef("--checkpoint: %v", err)
				}
				cfg, err := loadConfig(*cfgPath, a.env)
				if err != nil {
					return err
				}
				keys, err := loadKeys(cfg, newLogger(cfg, a.stderr))
				if err != nil {
					return err
				}
				return withConfigStore(ctx, a, cfg, func(st authn.Store) error {
					if err := runCheckpointVerify(ctx, a, st, keys, *checkpoint); err != nil {
						return err
					}
					return runAuditVerify(ctx, a, st, *skip)
				})
			}
		},
	}
}

// runCheckpointVerify checks the chain up to the checkpoint in line.
func runCheckpointVerify(ctx context.Context, a *app, st authn.Store, keys Keys, line string) error {
	c, err := verifyCheckpoint(ctx, st, keys, line)
	if err != nil {
		return err
	}
	var redacted int
	seq, hash, _, err := verifyAuditTo(ctx, st, false, c.Seq, func(*authn.ChainBreak) {}, &redacted)
	switch {
	case err != nil:
		return &cliError{msg: fmt.Sprintf("the audit log is broken before the checkpoint's event %d: %v", c.Seq, err), err: err}
	case seq < c.Seq:
		return &cliError{msg: fmt.Sprintf("the audit log ends at event %d, but the checkpoint of %s vouches for %d events: "+
			"events were removed", seq, c.Time.Format(time.RFC3339), c.Seq), err: errors.New("audit events removed")}
	case hash != c.Hash:
		return &cliError{msg: fmt.Sprintf("the audit chain up to event %d does not end in the hash the checkpoint of %s "+
			"vouches for: events up to %d were changed, removed or replaced since", c.Seq, c.Time.Format(time.RFC3339), c.Seq),
			err: errors.New("audit events changed")}
	}
	_, err = fmt.Fprintf(a.stdout, "checkpoint of %s (event %d) signed by this installation; the chain up to it is the one it vouches for\n%s",
		c.Time.Format(time.RFC3339), c.Seq, redactedNote(redacted))
	return err
}

func runAuditVerify(ctx context.Context, a *app, st authn.AuditStore, skip bool) error {
	var redacted int
	n, last, breaks, err := verifyAuditTo(ctx, st, skip, 0, func(b *authn.ChainBreak) {
		fmt.Fprintf(a.stdout, "event %d (after %d): %s; skipped, checking on from its stored hash\n", b.Seq, b.After, b.Reason)
	}, &redacted)
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
	_, err = fmt.Fprintf(a.stdout, "%d audit events, chain intact; last hash %s\n%s", n, hex.EncodeToString(last[:]), redactedNote(redacted))
	return err
}

// redactedNote says how many events were redacted (erasure, retention),
// and what the chain cannot vouch for in them; "" when none were.
func redactedNote(n int) string {
	if n == 0 {
		return ""
	}
	return fmt.Sprintf("%d of them redacted (a person erased, or sign-in records past retention.signins): "+
		"their place in the chain is checked, their time, action, actor and subject cannot be; "+
		"the log lines serve wrote of each event keep what it was\n", n)
}

// verifyAuditTo checks the chain, page by page, up to event upTo (0: to
// the end), and returns the Seq and hash of the last event it read, and
// in *redacted how many of them were redacted. At an event that does not
// fit it stops with a *authn.ChainBreak; with skip, it reports the break,
// takes the event's stored hash as the new anchor, goes on, and returns
// every break it skipped.
func verifyAuditTo(ctx context.Context, st authn.AuditStore, skip bool, upTo int64, report func(*authn.ChainBreak), redacted *int) (int64, [32]byte, []authn.ChainBreak, error) {
	var (
		prev   [32]byte
		seq    int64
		breaks []authn.ChainBreak
	)
	for {
		limit := int64(auditPage)
		if upTo > 0 {
			if limit = min(limit, upTo-seq); limit <= 0 {
				return seq, prev, breaks, nil
			}
		}
		page, err := st.ListAudit(ctx, authn.AuditFilter{AfterSeq: seq, Limit: int(limit)})
		if err != nil {
			return seq, prev, breaks, fmt.Errorf("read the audit log after event %d: %w", seq, err)
		}
		if len(page) == 0 {
			return seq, prev, breaks, nil
		}
		for _, e := range page {
			if e.Redacted {
				*redacted++
			}
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
