package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/keyhall/keyhall/authn"
	"github.com/keyhall/keyhall/ldapsync"
)

// directorySyncer is what `keyhall sync` and serve need of ldapsync's
// syncer (sync.go).
type directorySyncer interface {
	Run(ctx context.Context, opts ldapsync.RunOptions) (ldapsync.Result, error)
}

// newReader returns the reader of the directory c describes.
var newReader = func(c ldapsync.Config, log *slog.Logger) (ldapsync.Reader, error) {
	d, err := ldapsync.NewDirectory(c, log)
	if err != nil {
		return nil, err // not a typed nil in a non-nil interface
	}
	return d, nil
}

// newSyncer returns the syncer for one directory.
var newSyncer = func(c ldapsync.SyncConfig) (directorySyncer, error) {
	s, err := ldapsync.NewSyncer(c)
	if err != nil {
		return nil, err // not a typed nil in a non-nil interface
	}
	return s, nil
}

// selectDirectories returns the configured directories, or only the one
// named (--directory NAME).
func selectDirectories(cfg Config, name string) ([]ldapsync.Config, error) {
	all, err := cfg.ldapConfigs()
	if err != nil {
		return nil, &configError{err: err}
	}
	if len(all) == 0 {
		return nil, &configError{err: errNoDirectory}
	}
	if name == "" {
		return all, nil
	}
	var names []string
	for _, c := range all {
		if c.Name == name {
			return []ldapsync.Config{c}, nil
		}
		names = append(names, c.Name)
	}
	return nil, usagef("--directory %q: no directory of that name is configured (%s)", name, strings.Join(names, ", "))
}

// directoryFlag declares --directory.
func directoryFlag(fs *flag.FlagSet) *string {
	return fs.String("directory", "", "only the directory `NAME` (directory.name, directories[].name); default: each configured one")
}

func syncCommand() *command {
	return &command{
		name:    "sync",
		summary: "sync people and groups from the directory now",
		help: "Reads the directory (directory: or directories: in the configuration) and brings\n" +
			"Keyhall's people and groups in line with it, as serve does every interval, and\n" +
			"prints who was created, updated, renamed, disabled, enabled, deleted or left\n" +
			"unchanged, the conflicts and the errors. Disabled people's sessions end and the\n" +
			"tools are told. A read that looks wrong (no people, far fewer than last time, a\n" +
			"limit or timeout) aborts the sync: nothing is disabled or deleted. A sync that\n" +
			"would disable or delete more people than max_disable_fraction or\n" +
			"max_disable_count allow holds them back until it is run with\n" +
			"--allow-mass-change, which is audited. Exits with 1 when a sync failed, was\n" +
			"aborted or held people back. A sync reads the whole directory; with\n" +
			"--incremental it reads only the people changed since the last sync (and every\n" +
			"group), as serve does between its full syncs, and disables nobody for not\n" +
			"being read.",
		examples: []string{
			"keyhall sync --config /etc/keyhall/keyhall.yaml --dry-run",
			"keyhall sync --config /etc/keyhall/keyhall.yaml --directory kreis --json",
			"keyhall sync --config /etc/keyhall/keyhall.yaml --allow-mass-change",
			"keyhall sync --config /etc/keyhall/keyhall.yaml --incremental",
		},
		setup: func(fs *flag.FlagSet) action {
			path := configFlag(fs)
			name := directoryFlag(fs)
			dry := fs.Bool("dry-run", false, "show what would change, and change nothing")
			mass := fs.Bool("allow-mass-change", false, "disable or delete more people than the safety valve allows (audited); check a --dry-run first")
			incremental := fs.Bool("incremental", false, "read only what changed since the last sync (a full sync when the directory's change markers do not allow it)")
			asJSON := jsonFlag(fs)
			return func(ctx context.Context, a *app, args []string) error {
				if err := wantArgs(args); err != nil {
					return err
				}
				if *dry && *mass {
					return usagef("--dry-run and --allow-mass-change: a dry run changes nothing; leave --allow-mass-change out")
				}
				cfg, err := loadConfig(*path, a.env)
				if err != nil {
					return err
				}
				dirs, err := selectDirectories(cfg, *name)
				if err != nil {
					return err
				}
				opts := ldapsync.RunOptions{DryRun: *dry, AllowMassChange: *mass, Actor: cliActor(), Incremental: *incremental}
				return withConfigStore(ctx, a, cfg, func(st authn.Store) error {
					return runSyncs(ctx, a, cfg, st, dirs, opts, *asJSON)
				})
			}
		},
	}
}

// syncReport is one directory's sync as `keyhall sync --json` prints it:
// the Result (every list present, [] when empty) and the error, if any.
type syncReport struct {
	ldapsync.Result
	Error string `json:"error,omitempty"`
}

// runSyncs syncs each directory in turn, prints what was done, and returns
// an error when any sync failed, was aborted or held people back.
func runSyncs(ctx context.Context, a *app, cfg Config, st authn.Store, dirs []ldapsync.Config, opts ldapsync.RunOptions, asJSON bool) error {
	lc := cfg
	if lc.Log.Level == "info" { // a command's output is its report, not the log
		lc.Log.Level = "warn"
	}
	logger := newLogger(lc, a.stderr)
	var reports []syncReport
	var failed []string
	for _, d := range dirs {
		r, err := syncOnce(ctx, a, cfg, st, d, opts, logger)
		rep := syncReport{Result: r}
		rep.Directory = d.Name
		rep.DryRun = opts.DryRun
		if err != nil {
			rep.Error = err.Error()
		}
		normalizeResult(&rep.Result)
		reports = append(reports, rep)
		if why := syncFailure(rep); why != "" {
			failed = append(failed, fmt.Sprintf("%s: %s", d.Name, why))
		}
	}
	if asJSON {
		if err := writeJSON(a.stdout, reports); err != nil {
			return err
		}
	} else {
		for i, rep := range reports {
			if i > 0 {
				fmt.Fprintln(a.stdout)
			}
			printSyncReport(a.stdout, rep)
		}
	}
	if len(failed) > 0 {
		return &cliError{msg: "sync " + strings.Join(failed, "; ")}
	}
	return nil
}

// syncOnce runs one directory's sync; the people it disabled are told to
// the tools (back-channel logout) before it returns.
func syncOnce(ctx context.Context, a *app, cfg Config, st authn.Store, d ldapsync.Config, opts ldapsync.RunOptions, logger *slog.Logger) (ldapsync.Result, error) {
	r, err := newReader(d, logger)
	if err != nil {
		return ldapsync.Result{}, err
	}
	var toolsErr error
	s, err := newSyncer(ldapsync.SyncConfig{
		Store: st, Directory: d, Reader: r, Logger: logger, Now: time.Now,
		OnDisabled: func(ctx context.Context, ids []string) {
			if err := tellToolsAll(ctx, cfg, st, ids, a.stderr, logger); err != nil {
				toolsErr = err
			}
		},
	})
	if err != nil {
		return ldapsync.Result{}, err
	}
	res, err := s.Run(ctx, opts)
	if err == nil && toolsErr != nil {
		err = fmt.Errorf("the disabled people's sessions ended, but the tools were not all told: %w", toolsErr)
	}
	return res, err
}

// syncFailure says why a sync counts as failed, or "" if it does not.
func syncFailure(rep syncReport) string {
	switch {
	case rep.Aborted: // ldapsync returns an error (ErrAborted) with it
		return "aborted: " + rep.AbortReason
	case rep.Error != "":
		return rep.Error
	case len(rep.Errors) > 0:
		return fmt.Sprintf("%d error(s): %s", len(rep.Errors), rep.Errors[0])
	case rep.HeldBack > 0:
		return fmt.Sprintf("%d people held back by the mass-change valve; check them with --dry-run, then run keyhall sync --allow-mass-change", rep.HeldBack)
	}
	return ""
}

// normalizeResult makes every list of r non-nil, so that --json prints []
// rather than null: the shape scripts read does not change.
func normalizeResult(r *ldapsync.Result) {
	for _, l := range []*[]ldapsync.Change{&r.Created, &r.Updated, &r.Renamed, &r.Disabled, &r.Enabled, &r.Deleted, &r.Conflicts,
		&r.AlsoDisabled, &r.AlsoEnabled} {
		if *l == nil {
			*l = []ldapsync.Change{}
		}
	}
	if r.Errors == nil {
		r.Errors = []string{}
	}
}

// printSyncReport writes one directory's sync in plain words, a line per
// person or group.
func printSyncReport(w io.Writer, rep syncReport) {
	head := fmt.Sprintf("Directory %s", rep.Directory)
	if rep.DryRun {
		head += " (dry run: nothing was changed; this is what a sync would do)"
	}
	fmt.Fprintln(w, head+":")
	switch {
	case rep.Incremental:
		fmt.Fprintln(w, "  incremental: only the people changed since the last sync were read")
	case rep.FullReason != "":
		fmt.Fprintf(w, "  full sync: %s\n", cell(rep.FullReason))
	}
	switch {
	case rep.Aborted:
		fmt.Fprintf(w, "  ABORTED: %s\n  Nobody was disabled or deleted; the previous state is kept.\n", cell(rep.AbortReason))
	case rep.Error != "":
		fmt.Fprintf(w, "  FAILED: %s\n  Nothing was changed.\n", cell(rep.Error))
		return
	}
	for _, l := range []struct {
		what    string
		changes []ldapsync.Change
	}{
		{"created", rep.Created}, {"updated", rep.Updated}, {"renamed", rep.Renamed}, {"disabled", rep.Disabled},
		{"enabled", rep.Enabled}, {"deleted", rep.Deleted},
	} {
		printChanges(w, l.what, l.changes)
	}
	// People an administrator disabled: only when there are some.
	if len(rep.AlsoDisabled) > 0 {
		printChanges(w, "disabled by the directory too (an administrator disabled them)", rep.AlsoDisabled)
	}
	if len(rep.AlsoEnabled) > 0 {
		printChanges(w, "no longer disabled by the directory (an administrator's disable stays)", rep.AlsoEnabled)
	}
	fmt.Fprintf(w, "  unchanged: %d\n", rep.Unchanged)
	printChanges(w, "conflicts", rep.Conflicts)
	if len(rep.Errors) == 0 {
		fmt.Fprintln(w, "  errors: none")
	} else {
		fmt.Fprintf(w, "  errors: %d\n", len(rep.Errors))
		for _, e := range rep.Errors {
			fmt.Fprintf(w, "    %s\n", cell(e))
		}
	}
	if rep.HeldBack > 0 {
		why := rep.HeldBackReason
		if why == "" {
			why = "more than max_disable_fraction or max_disable_count allow"
		}
		fmt.Fprintf(w, "  held back: %d people were not disabled or deleted: %s.\n"+
			"    Check them with --dry-run; if they are right, run keyhall sync --allow-mass-change.\n", rep.HeldBack, cell(why))
	}
	if rep.Duration > 0 {
		fmt.Fprintf(w, "  took %s\n", rep.Duration.Round(time.Millisecond))
	}
}

// printChanges writes one list of changes: "created: 2" and a line for each.
func printChanges(w io.Writer, what string, changes []ldapsync.Change) {
	if len(changes) == 0 {
		fmt.Fprintf(w, "  %s: none\n", what)
		return
	}
	fmt.Fprintf(w, "  %s: %d\n", what, len(changes))
	for _, c := range changes {
		line := cell(c.Name)
		if c.Kind == "group" {
			line = "group " + line
		}
		if c.OldName != "" {
			line += " (was " + cell(c.OldName) + ")"
		}
		var notes []string
		if len(c.Fields) > 0 {
			notes = append(notes, strings.Join(slices.Clone(c.Fields), ", "))
		}
		if c.Reason != "" {
			notes = append(notes, c.Reason)
		}
		if len(notes) > 0 {
			line += ": " + cell(strings.Join(notes, "; "))
		}
		fmt.Fprintf(w, "    %s\n", line)
	}
}
