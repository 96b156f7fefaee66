package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/keyhall/keyhall/authn"
)

// action runs a command with its positional arguments, after its flags
// were parsed.
type action func(ctx context.Context, a *app, args []string) error

// command is a node of the command tree: either a group of subcommands
// (subs) or a leaf whose setup declares its flags and returns its action.
type command struct {
	name     string
	args     string // positional arguments for the usage line, e.g. "USERNAME"
	summary  string // one line, for the parent's list
	help     string // what it does, in a few lines
	examples []string
	subs     []*command
	setup    func(fs *flag.FlagSet) action
}

// execute runs c with args; parents are the names of the commands above c.
func (c *command) execute(ctx context.Context, a *app, parents []string, args []string) error {
	path := strings.Join(append(append([]string{}, parents...), c.name), " ")
	err := c.dispatch(ctx, a, parents, path, args)
	var uerr *usageError
	if errors.As(err, &uerr) && uerr.command == "" {
		uerr.command = path
	}
	return err
}

func (c *command) dispatch(ctx context.Context, a *app, parents []string, path string, args []string) error {
	if c.setup != nil {
		return c.runLeaf(ctx, a, path, args)
	}
	if len(args) == 0 {
		return usagef("missing command; one of: %s", strings.Join(c.subNames(), ", "))
	}
	switch args[0] {
	case "-h", "-help", "--help", "help":
		c.printUsage(a.stdout, path, nil)
		return nil
	}
	for _, sub := range c.subs {
		if sub.name == args[0] {
			return sub.execute(ctx, a, append(parents, c.name), args[1:])
		}
	}
	if strings.HasPrefix(args[0], "-") {
		return usagef("unknown flag %s before a command", args[0])
	}
	return usagef("unknown command %q%s", args[0], suggest(args[0], c.subNames()))
}

func (c *command) subNames() []string {
	names := make([]string, len(c.subs))
	for i, s := range c.subs {
		names[i] = s.name
	}
	return names
}

// runLeaf parses a leaf command's flags, which may come before, between or
// after its positional arguments ("--" ends the flags), and runs it.
func (c *command) runLeaf(ctx context.Context, a *app, path string, args []string) error {
	fs := flag.NewFlagSet(path, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	act := c.setup(fs)
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				c.printUsage(a.stdout, path, fs)
				return nil
			}
			return usagef("%s", flagMessage(err))
		}
		rest := fs.Args()
		if len(rest) == 0 {
			break
		}
		if n := len(args) - len(rest); n > 0 && args[n-1] == "--" {
			pos = append(pos, rest...)
			break
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
	if err := checkTextFlags(fs); err != nil {
		return err
	}
	return act(ctx, a, pos)
}

// textFlags are the flags, in any command, whose values Keyhall stores,
// audits or prints as text, and their bounds (#17). Usernames and group
// names are checked by authn.CanonicalName, --address by postalAddress.
var textFlags = map[string]authn.TextKind{
	"name":   authn.TextDisplayName,
	"reason": authn.TextReason,
	"email":  authn.TextEmail,
	"query":  authn.TextDisplayName,
}

// checkTextFlags refuses a text flag that is not valid UTF-8, too long or
// holds control characters, naming the flag, before the command runs.
func checkTextFlags(fs *flag.FlagSet) error {
	var err error
	fs.Visit(func(f *flag.Flag) {
		if k, ok := textFlags[f.Name]; ok && err == nil {
			if e := authn.CheckText(k, strings.TrimSpace(f.Value.String())); e != nil {
				err = usagef("--%s: %v", f.Name, e)
			}
		}
	})
	return err
}

// printUsage writes c's help: usage line, description, subcommands or
// flags, and examples.
func (c *command) printUsage(w io.Writer, path string, fs *flag.FlagSet) {
	switch {
	case c.subs != nil:
		fmt.Fprintf(w, "Usage: %s COMMAND [flags]\n\n%s\n\nCommands:\n", path, c.help)
		for _, s := range c.subs {
			fmt.Fprintf(w, "  %-14s %s\n", s.name, s.summary)
		}
	default:
		line := path
		if c.args != "" {
			line += " " + c.args
		}
		fmt.Fprintf(w, "Usage: %s [flags]\n\n%s\n", line, c.help)
		printFlags(w, fs)
	}
	if len(c.examples) > 0 {
		fmt.Fprintf(w, "\nExamples:\n")
		for _, e := range c.examples {
			fmt.Fprintf(w, "  %s\n", e)
		}
	}
	if c.subs != nil {
		fmt.Fprintf(w, "\nRun '%s COMMAND --help' for a command's flags and examples.\n", path)
	}
}

// printFlags lists the flags of fs with two dashes, their value's name and
// default.
func printFlags(w io.Writer, fs *flag.FlagSet) {
	if fs == nil {
		return
	}
	first := true
	fs.VisitAll(func(f *flag.Flag) {
		if first {
			fmt.Fprintf(w, "\nFlags:\n")
			first = false
		}
		name, usage := flag.UnquoteUsage(f)
		head := "--" + f.Name
		if name != "" {
			head += " " + name
		}
		fmt.Fprintf(w, "  %s\n      %s", head, usage)
		if f.DefValue != "" && f.DefValue != "false" {
			fmt.Fprintf(w, " (default %s)", f.DefValue)
		}
		fmt.Fprintln(w)
	})
}

// flagMessage rewords an error of package flag to name flags with two
// dashes, as the help does.
func flagMessage(err error) string {
	msg := err.Error()
	if name, ok := strings.CutPrefix(msg, "flag provided but not defined: -"); ok {
		return "unknown flag --" + strings.TrimPrefix(name, "-")
	}
	if name, ok := strings.CutPrefix(msg, "flag needs an argument: -"); ok {
		return "flag --" + strings.TrimPrefix(name, "-") + " needs a value"
	}
	msg = strings.Replace(msg, " for flag -", " for flag --", 1)
	return strings.Replace(msg, " for -", " for flag --", 1)
}

// wantArgs checks that exactly the named positional arguments were given.
func wantArgs(args []string, names ...string) error {
	switch {
	case len(args) < len(names):
		return usagef("missing %s", strings.Join(names[len(args):], " and "))
	case len(args) > len(names):
		return usagef("unexpected argument %q", args[len(names)])
	}
	return nil
}

// isSet reports whether the flag name was given on the command line.
func isSet(fs *flag.FlagSet, name string) bool {
	set := false
	fs.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}
