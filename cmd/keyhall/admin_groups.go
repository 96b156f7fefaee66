package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/keyhall/keyhall/authn"
)

func groupsAddCommand() *command {
	return &command{
		name:     "add",
		args:     "NAME",
		summary:  "add a local group",
		help:     "Adds a local group. Its name is stored in canonical form (\"Rat\" is \"rat\").",
		examples: []string{`keyhall admin groups add rat --name "Rat der Stadt"`, "keyhall admin groups add helpdesk --json"},
		setup: func(fs *flag.FlagSet) action {
			cfgPath, asJSON := configFlag(fs), jsonFlag(fs)
			display := fs.String("name", "", "the group's display `NAME`")
			return func(ctx context.Context, a *app, args []string) error {
				if err := wantArgs(args, "NAME"); err != nil {
					return err
				}
				name, err := canonical("group name", args[0])
				if err != nil {
					return err
				}
				return withStore(ctx, a, *cfgPath, func(st authn.Store) error {
					return addGroup(ctx, st, a.stdout, name, strings.TrimSpace(*display), *asJSON)
				})
			}
		},
	}
}

// addGroup creates a local group and prints it.
func addGroup(ctx context.Context, st authn.Store, w io.Writer, name, display string, asJSON bool) error {
	now := time.Now().UTC()
	g := authn.Group{ID: authn.NewID(), Name: name, DisplayName: display, Source: authn.SourceLocal, CreatedAt: now}
	ev := auditEvent(now, "group.create", "group:"+g.ID, "", map[string]string{"name": name, "display_name": display})
	if err := st.CreateGroup(ctx, g, ev); err != nil {
		if errors.Is(err, authn.ErrAlreadyExists) {
			return &cliError{msg: fmt.Sprintf("group %q already exists", name), err: err}
		}
		return fmt.Errorf("create group %q: %w", name, err)
	}
	if asJSON {
		return writeJSON(w, toGroupJSON(g))
	}
	_, err := fmt.Fprintf(w, "Created group %q (id %s).\n", g.Name, g.ID)
	return err
}

func groupsListCommand() *command {
	return &command{
		name:     "list",
		summary:  "list groups",
		help:     "Lists all groups by name, local and from the directory.",
		examples: []string{"keyhall admin groups list", "keyhall admin groups list --json"},
		setup: func(fs *flag.FlagSet) action {
			cfgPath, asJSON := configFlag(fs), jsonFlag(fs)
			return func(ctx context.Context, a *app, args []string) error {
				if err := wantArgs(args); err != nil {
					return err
				}
				return withStore(ctx, a, *cfgPath, func(st authn.Store) error {
					groups, err := st.ListGroups(ctx)
					if err != nil {
						return fmt.Errorf("list groups: %w", err)
					}
					return printGroups(a.stdout, groups, *asJSON)
				})
			}
		},
	}
}

func printGroups(w io.Writer, groups []authn.Group, asJSON bool) error {
	if asJSON {
		out := make([]groupJSON, 0, len(groups))
		for _, g := range groups {
			out = append(out, toGroupJSON(g))
		}
		return writeJSON(w, out)
	}
	rows := [][]string{{"NAME", "DISPLAY NAME", "SOURCE", "CREATED"}}
	for _, g := range groups {
		rows = append(rows, []string{cell(g.Name), cell(g.DisplayName), string(g.Source), formatTime(g.CreatedAt)})
	}
	return writeTable(w, rows)
}

func groupsAddMemberCommand() *command {
	return &command{
		name:     "add-member",
		args:     "GROUP USERNAME",
		summary:  "add a person to a local group",
		help:     "Adds a person to a local group. Members of directory groups are changed in the directory.",
		examples: []string{"keyhall admin groups add-member keyhall-admins anna.mueller"},
		setup: func(fs *flag.FlagSet) action {
			cfgPath := configFlag(fs)
			return func(ctx context.Context, a *app, args []string) error {
				if err := wantArgs(args, "GROUP", "USERNAME"); err != nil {
					return err
				}
				group, err := canonical("group name", args[0])
				if err != nil {
					return err
				}
				username, err := canonical("username", args[1])
				if err != nil {
					return err
				}
				return withStore(ctx, a, *cfgPath, func(st authn.Store) error {
					return addMember(ctx, st, a.stdout, group, username)
				})
			}
		},
	}
}

// addMember adds a person to a local group, audited.
func addMember(ctx context.Context, st authn.Store, w io.Writer, group, username string) error {
	g, err := st.GetGroupByName(ctx, group)
	if errors.Is(err, authn.ErrNotFound) {
		return &cliError{msg: fmt.Sprintf("group %q not found", group), err: err}
	}
	if err != nil {
		return fmt.Errorf("find group %q: %w", group, err)
	}
	if g.Source != authn.SourceLocal {
		return &cliError{msg: fmt.Sprintf("group %q comes from the directory; change its members there", group)}
	}
	u, err := findUser(ctx, st, username)
	if err != nil {
		return err
	}
	now := time.Now().UTC()
	ev := auditEvent(now, "group.add_member", "group:"+g.ID, "",
		map[string]string{"group": g.Name, "username": u.Username, "user_id": u.ID})
	if err := st.AddMember(ctx, g.ID, u.ID, ev); err != nil {
		if errors.Is(err, authn.ErrAlreadyExists) {
			return &cliError{msg: fmt.Sprintf("user %q is a member of group %q already", username, group), err: err}
		}
		return fmt.Errorf("add %q to group %q: %w", username, group, err)
	}
	_, err = fmt.Fprintf(w, "Added user %q to group %q.\n", u.Username, g.Name)
	return err
}
