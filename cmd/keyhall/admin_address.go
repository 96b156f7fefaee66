package main

import (
	"context"
	"flag"
	"fmt"
	"strings"
	"time"

	"github.com/keyhall/keyhall/authn"
	"github.com/keyhall/keyhall/enroll/desk"
)

// maxAddressLines is how many lines of a postal address fit the window of a
// DIN-lang envelope; authn.TextAddressLine bounds each line.
const maxAddressLines = 5

// postalAddress splits and checks an --address value: at most
// maxAddressLines lines, each valid UTF-8 of at most 60 characters
// without control characters (authn.TextAddressLine). An empty value is no address.
func postalAddress(s string) ([]string, error) {
	lines := addressLines(s)
	if len(lines) > maxAddressLines {
		return nil, usagef("--address has %d lines; a letter's window takes at most %d", len(lines), maxAddressLines)
	}
	for _, l := range lines {
		if err := authn.CheckText(authn.TextAddressLine, l); err != nil {
			return nil, usagef("--address line %q: %v", l, err)
		}
	}
	return lines, nil
}

func usersSetAddressCommand() *command {
	return &command{
		name:    "set-address",
		args:    "USERNAME",
		summary: "set the postal address enrollment letters go to",
		help: "Sets (or, with an empty --address, clears) the postal address of a person, which\n" +
			"`admin invite --letter` and `admin reset --letter` print in the envelope's window.\n" +
			"A directory person's address comes from the directory: change it there.",
		examples: []string{`keyhall admin users set-address anna.mueller --address "Große Straße 17|48143 Münster"`},
		setup: func(fs *flag.FlagSet) action {
			cfgPath := configFlag(fs)
			postal := fs.String("address", "", "the postal `ADDRESS`, lines separated by | or \\n")
			return func(ctx context.Context, a *app, args []string) error {
				lines, err := postalAddress(*postal)
				if err != nil {
					return err
				}
				return withUser(ctx, a, *cfgPath, args, func(st authn.Store, u authn.User) error {
					if _, err := storeAddress(ctx, st, u, lines, "", "set-address"); err != nil {
						return err
					}
					_, err = fmt.Fprintf(a.stdout, "Address of %q: %s\n", u.Username, cell(strings.Join(lines, ", ")))
					return err
				})
			}
		},
	}
}

// storeAddress stores lines as u's postal address (not for a directory
// person: desk.AddressEditable), audited
// (user.set_address, naming the command it came with and, when given, why),
// and returns her as stored.
func storeAddress(ctx context.Context, st authn.Store, u authn.User, lines []string, reason, via string) (authn.User, error) {
	if err := desk.AddressEditable(u); err != nil {
		return u, deskErr(err)
	}
	now := time.Now().UTC()
	ev := auditEvent(now, "user.set_address", "user:"+u.ID, reason, map[string]string{"username": u.Username, "via": via})
	u, err := st.UpdateUser(ctx, u.ID, func(old authn.User) (authn.User, error) {
		old.PostalAddress, old.UpdatedAt = lines, now
		return old, nil
	}, ev)
	if err != nil {
		return u, fmt.Errorf("set the address of %q: %w", u.Username, err)
	}
	return u, nil
}
