package main

import (
	"context"
	"flag"
	"fmt"
	"io"
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
					if n := checkDirectory(ctx, a.stdout, d, func() (ldapsync.Reader, error) { return newReader(d, logger) }); n > 0 {
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

// checkDirectory reads the directory d as a sync would and writes what it
// found to w; it returns the number of problems.
func checkDirectory(ctx context.Context, w io.Writer, d ldapsync.Config, reader func() (ldapsync.Reader, error)) int {
	fmt.Fprintf(w, "Directory %s: %s, preset %s, as %s\n", d.Name, d.URL, d.Preset, cell(d.BindDN))
	problems := 0
	problem := func(format string, args ...any) {
		problems++
		fmt.Fprintf(w, "  PROBLEM: "+format+"\n", args...)
	}
	r, err := reader()
	if err != nil {
		problem("%s", cell(err.Error()))
		return problems
	}
	start := time.Now()
	snap, err := r.Read(ctx)
	if err != nil {
		problem("the read failed: %s", cell(err.Error()))
		fmt.Fprintln(w, "  A sync would change nothing while this is so.")
		return problems
	}
	fmt.Fprintf(w, "  connected, bound and read everything in %s: %d people, %d mapped groups\n",
		time.Since(start).Round(time.Millisecond), len(snap.People), len(snap.Groups))

	// People under each base DN.
	for _, base := range d.BaseDNs {
		n := 0
		for _, p := range snap.People {
			if dnUnder(p.DN, base) {
				n++
			}
		}
		if n == 0 {
			problem("no people under base DN %s: check the DN, user_filter and that the service account may read there", cell(base))
			continue
		}
		fmt.Fprintf(w, "  %d people under %s\n", n, cell(base))
	}
	inactive := 0
	for _, p := range snap.People {
		if p.Inactive(time.Now()) {
			inactive++
		}
	}
	if inactive > 0 {
		fmt.Fprintf(w, "  %d of them disabled or expired in the directory: Keyhall keeps them disabled\n", inactive)
	}

	// Each mapped group.
	found := map[string]bool{}
	for _, m := range d.Groups {
		if m.DN == "" {
			continue
		}
		i := slices.IndexFunc(snap.Groups, func(g ldapsync.Group) bool { return sameDN(g.DN, m.DN) })
		if i < 0 {
			problem("group %s was not found: check groups[].dn and group_filter", cell(m.DN))
			continue
		}
		g := snap.Groups[i]
		found[g.DN] = true
		fmt.Fprintf(w, "  group %s (%s): %d members\n", cell(g.Name), cell(g.DN), len(g.Members))
	}
	byFilter := 0
	for _, g := range snap.Groups {
		if !found[g.DN] {
			byFilter++
			fmt.Fprintf(w, "  group %s (%s, by filter): %d members\n", cell(g.Name), cell(g.DN), len(g.Members))
		}
	}
	if byFilter == 0 && slices.ContainsFunc(d.Groups, func(m ldapsync.GroupMapping) bool { return m.Filter != "" }) {
		problem("the groups[].filter settings found no group: check them and group_filter")
	}
	if len(d.Groups) == 0 {
		fmt.Fprintln(w, "  no groups are mapped (groups): people come without groups")
	}

	// Attributes no person has.
	if len(snap.People) > 0 {
		for _, a := range []struct {
			what, setting, attr string
			has                 func(ldapsync.Person) bool
		}{
			{"a display name", "display_name", d.Attributes.DisplayName, func(p ldapsync.Person) bool { return p.DisplayName != "" }},
			{"an e-mail address", "email", d.Attributes.Email, func(p ldapsync.Person) bool { return p.Email != "" }},
		} {
			if !slices.ContainsFunc(snap.People, a.has) {
				attr := ""
				if a.attr != "" {
					attr = " (" + a.attr + ")"
				}
				problem("no person has %s: check attributes.%s%s and that the service account may read it", a.what, a.setting, attr)
			}
		}
	}

	// Three people as Keyhall would take them.
	people := slices.Clone(snap.People)
	slices.SortFunc(people, func(a, b ldapsync.Person) int { return strings.Compare(a.Username, b.Username) })
	if len(people) > 3 {
		people = people[:3]
	}
	for _, p := range people {
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
	if problems == 0 {
		fmt.Fprintln(w, "  ok")
	}
	return problems
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
