package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/keyhall/keyhall/ldapsync"
)

// directoryCommand returns "keyhall directory", the commands about the
// configured directories.
func directoryCommand() *command {
	return &command{
		name:    "directory",
		summary: "check the connection to the directory",
		help:    "Commands about the directory people and groups are synced from (docs/directory.md).",
		subs:    []*command{directoryCheckCommand()},
	}
}

func directoryCheckCommand() *command {
	return &command{
		name:    "check",
		summary: "connect, bind, read, and say what is wrong",
		help: "Connects to each configured directory as the service account, reads its people\n" +
			"and the mapped groups as a sync would (changing nothing, in Keyhall or the\n" +
			"directory), and tells in plain words what it found: how many people under each\n" +
			"base DN, each mapped group and its members, three people as Keyhall would take\n" +
			"them, and what is wrong (TLS, the certificate, the bind, a base DN, a filter, a\n" +
			"limit of the service account, an attribute no person has). Exits with 1 when\n" +
			"something is wrong.",
		examples: []string{
			"keyhall directory check --config /etc/keyhall/keyhall.yaml",
			"keyhall directory check --config /etc/keyhall/keyhall.yaml --directory kreis",
		},
		setup: func(fs *flag.FlagSet) action {
			path := configFlag(fs)
			name := directoryFlag(fs)
			return func(ctx context.Context, a *app, args []string) error {
				if err := wantArgs(args); err != nil {
					return err
				}
				cfg, err := loadConfig(*path, a.env)
				if err != nil {
					return err
				}
				dirs, err := selectDirectories(cfg, *name)
				if err != nil {
					return err
				}
				if cfg.Log.Level == "info" {
					cfg.Log.Level = "warn"
				}
				logger := newLogger(cfg, a.stderr)
				var bad []string
				for i, d := range dirs {
					if i > 0 {
						fmt.Fprintln(a.stdout)
					}
					if n := checkDirectory(ctx, a.stdout, d, logger); n > 0 {
						bad = append(bad, fmt.Sprintf("%s: %d problem(s)", d.Name, n))
					}
				}
				if len(bad) > 0 {
					return &cliError{msg: "directory check " + strings.Join(bad, "; ")}
				}
				return nil
			}
		},
	}
}

// checkReport is what `keyhall directory check` prints: what it found
// and, in plain words, what is wrong (Problems stop a sync from working;
// Notes are worth a look).
type (
	checkReport = ldapsync.CheckReport
	baseCount   = ldapsync.BaseCount
	groupCheck  = ldapsync.GroupCheck
)

// directoryCheck checks the directory c; the error is nil when the report
// names no problem.
var directoryCheck = func(ctx context.Context, c ldapsync.Config, log *slog.Logger) (checkReport, error) {
	d, err := ldapsync.NewDirectory(c, log)
	if err != nil {
		return checkReport{Directory: c.Name, URL: c.URL, BindDN: c.BindDN, Problems: []string{err.Error()}}, err
	}
	return d.Check(ctx)
}

// checkDirectory checks the directory d, writes the report to w, and
// returns the number of problems.
func checkDirectory(ctx context.Context, w io.Writer, d ldapsync.Config, log *slog.Logger) int {
	r, err := directoryCheck(ctx, d, log)
	if err != nil && len(r.Problems) == 0 {
		r.Problems = append(r.Problems, err.Error())
	}
	printCheckReport(w, r)
	return len(r.Problems)
}

// printCheckReport writes r in plain words.
func printCheckReport(w io.Writer, r checkReport) {
	yes := func(b bool) string {
		if b {
			return "yes"
		}
		return "no"
	}
	fmt.Fprintf(w, "Directory %s: %s\n", cell(r.Directory), cell(r.URL))
	fmt.Fprintf(w, "  encryption: %s\n", cell(r.TLS))
	fmt.Fprintf(w, "  connected: %s\n", yes(r.Connected))
	fmt.Fprintf(w, "  signed in (bind) as %s: %s\n", cell(r.BindDN), yes(r.Bound))
	for _, b := range r.Bases {
		fmt.Fprintf(w, "  under %s: %d people, %d groups\n", cell(b.DN), b.People, b.Groups)
	}
	for _, g := range r.Groups {
		fmt.Fprintf(w, "  group mapping %s: %d group(s)\n", cell(g.Mapping), len(g.Found))
		for _, dn := range g.Found {
			fmt.Fprintf(w, "    %s\n", cell(dn))
		}
	}
	for _, c := range r.InChain {
		fmt.Fprintf(w, "  group %s: %d members as Keyhall computes them, %d by AD's in-chain rule\n", cell(c.Group), c.Keyhall, c.AD)
		for _, dn := range c.Missing {
			fmt.Fprintf(w, "    only in AD's: %s\n", cell(dn))
		}
		for _, dn := range c.Extra {
			fmt.Fprintf(w, "    only in Keyhall's (her primary group?): %s\n", cell(dn))
		}
	}
	for _, p := range r.Samples {
		fmt.Fprintf(w, "  person %s\n", cell(p.Username))
		fmt.Fprintf(w, "    name:    %s\n    e-mail:  %s\n    phone:   %s\n    address: %s\n    id:      %s\n    DN:      %s\n",
			cell(p.DisplayName), cell(p.Email), cell(p.Phone), cell(strings.Join(p.PostalAddress, ", ")), cell(p.ExternalID), cell(p.DN))
		status := "enabled"
		switch {
		case p.Disabled:
			status = "disabled in the directory"
		case p.Inactive(time.Now()):
			status = "expired " + p.ExpiresAt.Local().Format("2006-01-02")
		case !p.ExpiresAt.IsZero():
			status = "enabled until " + p.ExpiresAt.Local().Format("2006-01-02")
		}
		if p.Locked {
			status += ", locked out for now"
		}
		fmt.Fprintf(w, "    status:  %s\n", status)
	}
	for _, n := range r.Notes {
		fmt.Fprintf(w, "  note: %s\n", cell(n))
	}
	for _, p := range r.Problems {
		fmt.Fprintf(w, "  PROBLEM: %s\n", cell(p))
	}
	if len(r.Problems) == 0 {
		fmt.Fprintln(w, "  ok")
	} else {
		fmt.Fprintln(w, "  A sync would change nothing, or not what you expect, while this is so.")
	}
}
