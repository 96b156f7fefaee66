package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/keyhall/keyhall/authn"
	"github.com/keyhall/keyhall/enroll/desk"
)

func auditExportCommand() *command {
	return &command{
		name:    "export",
		summary: "write the audit log as CSV or JSON Lines",
		help: "Writes the audit events, oldest first, as CSV (with a header line) or as JSON Lines\n" +
			"(one object per event, with its hash and the hash before it, so that the chain can be\n" +
			"checked outside Keyhall). The filters narrow it down; without them every event is\n" +
			"written. In CSV, text that a spreadsheet would take for a formula starts with an\n" +
			"apostrophe. Dates are UTC days (2026-12-01) or RFC 3339 times; --until is exclusive.\n" +
			"--output writes a new file of mode 0600, whole or not at all; an existing one is\n" +
			"replaced only with --replace.",
		examples: []string{
			"keyhall admin audit export --format csv --output audit.csv",
			"keyhall admin audit export --format jsonl --user anna.mueller --since 2026-11-01",
			"keyhall admin audit export --action user.reset --since 2026-12-01 --until 2026-12-08",
		},
		setup: func(fs *flag.FlagSet) action {
			cfgPath := configFlag(fs)
			format := fs.String("format", desk.FormatCSV, "csv or jsonl")
			output := fs.String("output", "", "write to `FILE` (mode 0600) instead of standard output")
			replace := fs.Bool("replace", false, "replace the --output file if it exists")
			username := fs.String("user", "", "only events about the person `USERNAME`")
			actor := fs.String("actor", "", "only events by `ACTOR` (cli:NAME, user:ID, system)")
			action := fs.String("action", "", "only `ACTION` and those below it (user finds user.reset), as the console filters")
			since := fs.String("since", "", "only events at or after `TIME`")
			until := fs.String("until", "", "only events before `TIME`")
			return func(ctx context.Context, a *app, args []string) error {
				if len(args) != 0 {
					return usagef("audit export takes no arguments")
				}
				if *format != desk.FormatCSV && *format != desk.FormatJSONL {
					return usagef("--format %q: csv or jsonl", *format)
				}
				q := authn.AuditQuery{Actor: *actor, Action: *action}
				var err error
				if q.From, err = parseAuditTime("--since", *since); err != nil {
					return err
				}
				if q.To, err = parseAuditTime("--until", *until); err != nil {
					return err
				}
				return withEnroll(ctx, a, *cfgPath, func(e *enrollEnv) error {
					if *username != "" {
						name, err := canonical("username", *username)
						if err != nil {
							return err
						}
						u, err := findUser(ctx, e.st, name)
						if err != nil {
							return err
						}
						q.Subject = "user:" + u.ID
					}
					// The desk audits the export (it holds personal data).
					_, err := exportAudit(ctx, a, e.desk, *format, *output, *replace, q)
					return deskErr(err)
				})
			}
		},
	}
}

// exportAudit writes the export to output, or to stdout when it is "",
// and returns how many events it wrote. A file is written whole, mode
// 0600, through a temporary file beside it; an existing one is replaced
// only with replace, and refused before anything is exported otherwise.
func exportAudit(ctx context.Context, a *app, d *desk.Service, format, output string, replace bool, q authn.AuditQuery) (int, error) {
	if output == "" {
		w := bufio.NewWriter(a.stdout)
		n, err := d.ExportAudit(ctx, desk.CLI(cliActor(), false), w, format, q)
		if err != nil {
			return n, err
		}
		return n, w.Flush()
	}
	exists := func(err error) error {
		return &cliError{msg: fmt.Sprintf("%s exists; give another name, or --replace to replace it", output), err: err}
	}
	if _, err := os.Lstat(output); err == nil && !replace {
		return 0, exists(fs.ErrExist)
	}
	tmp, err := os.CreateTemp(filepath.Dir(output), "."+filepath.Base(output)+".tmp-*") // mode 0600
	if err != nil {
		return 0, fmt.Errorf("write %s: %w", output, err)
	}
	defer os.Remove(tmp.Name())
	w := bufio.NewWriter(tmp)
	n, err := d.ExportAudit(ctx, desk.CLI(cliActor(), false), w, format, q)
	if err == nil {
		err = w.Flush()
	}
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil && replace {
		err = os.Rename(tmp.Name(), output)
	} else if err == nil {
		if err = os.Link(tmp.Name(), output); errors.Is(err, fs.ErrExist) {
			return n, exists(err) // made meanwhile
		}
	}
	if err != nil {
		return n, fmt.Errorf("write %s: %w", output, err)
	}
	fmt.Fprintf(a.stderr, "%d audit events written to %s\n", n, output)
	return n, nil
}

// parseAuditTime reads a day (2026-12-01, UTC) or an RFC 3339 time.
func parseAuditTime(flagName, s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t, nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	return time.Time{}, usagef("%s %q is not a day (2026-12-01) or an RFC 3339 time (2026-12-01T08:00:00Z)", flagName, s)
}
