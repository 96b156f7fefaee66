package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/go-ldap/ldap/v3"

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
// Notes are worth a look). Its shape is ldapsync.CheckReport's (s6-read).
//
// MERGE (s6-read): `type checkReport = ldapsync.CheckReport`,
// `type baseCount = ldapsync.BaseCount`, `type groupCheck =
// ldapsync.GroupCheck`, and directoryCheck below becomes
//
//	func(ctx context.Context, c ldapsync.Config, log *slog.Logger) (checkReport, error) {
//		d, err := ldapsync.NewDirectory(c, log)
//		if err != nil {
//			return checkReport{Directory: c.Name, URL: c.URL, BindDN: c.BindDN, Problems: []string{err.Error()}}, err
//		}
//		return d.Check(ctx)
//	}
//
// with readCheck deleted.
type checkReport struct {
	Directory string
	URL       string
	TLS       string // "LDAPS", "StartTLS" or "none (insecure_plaintext)"
	Connected bool   // TCP and TLS up
	Bound     bool   // the service account's bind succeeded
	BindDN    string
	Bases     []baseCount
	Samples   []ldapsync.Person // up to three people as Keyhall would map them
	Groups    []groupCheck      // each group mapping and what it found
	Problems  []string
	Notes     []string
}

type baseCount struct {
	DN     string
	People int
	Groups int
}

type groupCheck struct {
	Mapping string   // "dn CN=Rat,…" or "filter (cn=Fraktion-*)"
	Found   []string // DNs of the directory groups it takes
}

// directoryCheck checks the directory c; the error is nil when the report
// names no problem.
var directoryCheck = readCheck

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

// readCheck checks the directory c through the contract that exists
// before ldapsync's own Check: a full read (Reader.Read), whose error
// names the step that failed, and what the Snapshot shows.
func readCheck(ctx context.Context, c ldapsync.Config, log *slog.Logger) (checkReport, error) {
	r := checkReport{Directory: c.Name, URL: c.URL, BindDN: c.BindDN, TLS: "none (insecure_plaintext)"}
	switch {
	case strings.HasPrefix(c.URL, "ldaps:"):
		r.TLS = "LDAPS"
	case c.StartTLS:
		r.TLS = "StartTLS"
	}
	fail := func(err error) (checkReport, error) {
		r.Problems = append(r.Problems, err.Error())
		return r, err
	}
	reader, err := newReader(c, log)
	if err != nil {
		return fail(err)
	}
	snap, err := reader.Read(ctx)
	if err != nil {
		return fail(fmt.Errorf("the read failed: %w", err))
	}
	r.Connected, r.Bound = true, true
	for _, base := range c.BaseDNs {
		b := baseCount{DN: base}
		for _, p := range snap.People {
			if dnUnder(p.DN, base) {
				b.People++
			}
		}
		for _, g := range snap.Groups {
			if dnUnder(g.DN, base) {
				b.Groups++
			}
		}
		if b.People == 0 {
			r.Problems = append(r.Problems, fmt.Sprintf("nobody under %s: check the DN, user_filter and that %s may read people there", base, c.BindDN))
		}
		r.Bases = append(r.Bases, b)
	}
	byDN := map[string]bool{}
	for i, m := range c.Groups {
		if m.DN == "" {
			continue
		}
		g := groupCheck{Mapping: "dn " + m.DN}
		if j := slices.IndexFunc(snap.Groups, func(g ldapsync.Group) bool { return sameDN(g.DN, m.DN) }); j >= 0 {
			g.Found = []string{snap.Groups[j].DN}
			byDN[snap.Groups[j].DN] = true
		} else {
			r.Problems = append(r.Problems, fmt.Sprintf("groups[%d].dn: %s was not found (under base_dns, by group_filter)", i, m.DN))
		}
		r.Groups = append(r.Groups, g)
	}
	var rest []string // the groups the filters found, all filters together
	for _, g := range snap.Groups {
		if !byDN[g.DN] {
			rest = append(rest, g.DN)
		}
	}
	var filters []string
	for _, m := range c.Groups {
		if m.Filter != "" {
			filters = append(filters, m.Filter)
		}
	}
	if len(filters) > 0 {
		r.Groups = append(r.Groups, groupCheck{Mapping: "filter " + strings.Join(filters, " or "), Found: rest})
		if len(rest) == 0 {
			r.Notes = append(r.Notes, "the groups[].filter settings find no group")
		}
	}
	if len(snap.People) > 0 {
		for _, a := range []struct{ what, setting, attr string }{
			{"a display name", "display_name", c.Attributes.DisplayName},
			{"an e-mail address", "email", c.Attributes.Email},
		} {
			has := slices.ContainsFunc(snap.People, func(p ldapsync.Person) bool {
				return (a.setting == "email" && p.Email != "") || (a.setting == "display_name" && p.DisplayName != "")
			})
			if !has {
				r.Problems = append(r.Problems, fmt.Sprintf("no person has %s (attributes.%s %s): check the name and the service account's right to read it",
					a.what, a.setting, a.attr))
			}
		}
	}
	people := slices.Clone(snap.People)
	slices.SortFunc(people, func(a, b ldapsync.Person) int { return strings.Compare(a.Username, b.Username) })
	r.Samples = people[:min(3, len(people))]
	if len(r.Problems) > 0 {
		return r, errors.New(strings.Join(r.Problems, "; "))
	}
	return r, nil
}

// dnUnder reports whether dn is base or below it, compared as DNs (case
// and spacing do not count).
func dnUnder(dn, base string) bool {
	d, err1 := ldap.ParseDN(dn)
	b, err2 := ldap.ParseDN(base)
	if err1 != nil || err2 != nil {
		return strings.HasSuffix(strings.ToLower(dn), strings.ToLower(base))
	}
	return b.AncestorOfFold(d) || b.EqualFold(d)
}

// sameDN reports whether a and b name the same entry.
func sameDN(a, b string) bool {
	x, err1 := ldap.ParseDN(a)
	y, err2 := ldap.ParseDN(b)
	if err1 != nil || err2 != nil {
		return strings.EqualFold(a, b)
	}
	return x.EqualFold(y)
}
