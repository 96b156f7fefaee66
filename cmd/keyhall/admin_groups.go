package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"strings"
	"time"

	"github.com/keyhall/keyhall/authn"
	"github.com/keyhall/keyhall/enroll/desk"
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

func groupsAddMemberCommand() *command { return groupsMemberCommand(true) }

func groupsRemoveMemberCommand() *command { return groupsMemberCommand(false) }

// groupsMemberCommand is "groups add-member" (add) or "groups
// remove-member". A group that gives a role (admin_group, admin.roles)
// changes only with a second admin's approval on the console, or here
// with --break-glass --reason (audited as such).
func groupsMemberCommand(add bool) *command {
	name, summary, verb := "add-member", "add a person to a local group", "Adds a person to"
	if !add {
		name, summary, verb = "remove-member", "remove a person from a local group", "Removes a person from"
	}
	return &command{
		name:    name,
		args:    "GROUP USERNAME",
		summary: summary,
		help: verb + " a local group, with a reason for the audit log. Members of directory groups\n" +
			"are changed in the directory.\n" +
			"A group that gives a role on the IT desk (admin_group, admin.roles) changes only\n" +
			"with a second admin's approval: ask for it on the console (the person's page, \"Rolle\n" +
			"ändern\"). In an emergency --break-glass --reason … changes it at once, audited as such.\n" +
			"Taking a person out of a protected or reset_approval group (policy.groups) lowers the\n" +
			"protection of her account: it needs --break-glass too.",
		examples: []string{"keyhall admin groups " + name + ` rat anna.mueller --reason "council elected 2026, ticket 4711"`,
			"keyhall admin groups " + name + ` keyhall-admins anna.mueller --break-glass --reason "incident 12, no second admin"`},
		setup: func(fs *flag.FlagSet) action {
			cfgPath := configFlag(fs)
			reason := fs.String("reason", "", "why, for the audit log (required)")
			breakGlass := fs.Bool("break-glass", false, "change a group that gives a role, or take a person out of a protected or reset_approval group, "+
				"at once (audited; emergencies only)")
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
				cfg, err := loadConfig(*cfgPath, a.env)
				if err != nil {
					return err
				}
				why := strings.TrimSpace(*reason)
				if (desk.Config{AdminGroup: cfg.AdminGroup, Roles: cfg.deskRoles()}).GivesRole(group) {
					if !*breakGlass {
						return &cliError{msg: fmt.Sprintf("group %q gives a role on the IT desk: a change needs a second admin's approval; "+
							"ask for it on the console (the person's page, \"Rolle ändern\"), or in an emergency "+
							"use --break-glass --reason … (audited)", group)}
					}
					if strings.TrimSpace(*reason) == "" {
						return usagef("--reason is required with --break-glass: say why, for the audit log")
					}
					return withEnroll(ctx, a, *cfgPath, func(e *enrollEnv) error {
						u, err := findUser(ctx, e.st, username)
						if err != nil {
							return err
						}
						if _, err := e.desk.ChangeRole(ctx, desk.CLI(cliActor(), true), u.ID, group, add, *reason); err != nil {
							return deskErr(err)
						}
						_, err = fmt.Fprintf(a.stdout, "%s user %q %s group %q (break-glass, audited).\n",
							map[bool]string{true: "Added", false: "Removed"}[add], u.Username,
							map[bool]string{true: "to", false: "from"}[add], group)
						return err
					})
				}
				gp := cfg.Policy.Groups[group]
				lowers := !add && (gp.Protected || gp.ResetApproval)
				if lowers && !*breakGlass {
					return &cliError{msg: fmt.Sprintf("group %q is protected or needs a second person for resets (policy.groups): "+
						"taking %q out of it lowers the protection of her account; in an emergency use --break-glass --reason … (audited)",
						group, username)}
				}
				if why == "" {
					return usagef("--reason is required: say why, for the audit log")
				}
				details := map[string]string{}
				if lowers {
					details["break_glass"] = "true"
				}
				return withConfigStore(ctx, a, cfg, func(st authn.Store) error {
					if add {
						return addMember(ctx, st, a.stdout, group, username, why, details)
					}
					return removeMember(ctx, st, a.stdout, group, username, why, details)
				})
			}
		},
	}
}

// localMember finds the local group and the person a membership command
// names.
func localMember(ctx context.Context, st authn.Store, group, username string) (authn.Group, authn.User, error) {
	g, err := st.GetGroupByName(ctx, group)
	if errors.Is(err, authn.ErrNotFound) {
		return g, authn.User{}, &cliError{msg: fmt.Sprintf("group %q not found", group), err: err}
	}
	if err != nil {
		return g, authn.User{}, fmt.Errorf("find group %q: %w", group, err)
	}
	if g.Source != authn.SourceLocal {
		return g, authn.User{}, &cliError{msg: fmt.Sprintf("group %q comes from the directory; change its members there", group)}
	}
	u, err := findUser(ctx, st, username)
	return g, u, err
}

// addMember adds a person to a local group, audited with reason and
// details.
func addMember(ctx context.Context, st authn.Store, w io.Writer, group, username, reason string, details map[string]string) error {
	g, u, err := localMember(ctx, st, group, username)
	if err != nil {
		return err
	}
	ev := auditEvent(time.Now().UTC(), "group.add_member", "group:"+g.ID, reason, memberDetails(g, u, details))
	if err := st.AddMember(ctx, g.ID, u.ID, ev); err != nil {
		if errors.Is(err, authn.ErrAlreadyExists) {
			return &cliError{msg: fmt.Sprintf("user %q is a member of group %q already", username, group), err: err}
		}
		return fmt.Errorf("add %q to group %q: %w", username, group, err)
	}
	_, err = fmt.Fprintf(w, "Added user %q to group %q.\n", u.Username, g.Name)
	return err
}

// removeMember removes a person from a local group, audited with reason
// and details.
func removeMember(ctx context.Context, st authn.Store, w io.Writer, group, username, reason string, details map[string]string) error {
	g, u, err := localMember(ctx, st, group, username)
	if err != nil {
		return err
	}
	ev := auditEvent(time.Now().UTC(), "group.remove_member", "group:"+g.ID, reason, memberDetails(g, u, details))
	if err := st.RemoveMember(ctx, g.ID, u.ID, ev); err != nil {
		if errors.Is(err, authn.ErrNotFound) {
			return &cliError{msg: fmt.Sprintf("user %q is not a member of group %q", username, group), err: err}
		}
		return fmt.Errorf("remove %q from group %q: %w", username, group, err)
	}
	_, err = fmt.Fprintf(w, "Removed user %q from group %q.\n", u.Username, g.Name)
	return err
}

// memberDetails are the details of a membership event: the group and the
// person, with extra (break_glass).
func memberDetails(g authn.Group, u authn.User, extra map[string]string) map[string]string {
	d := map[string]string{"group": g.Name, "username": u.Username, "user_id": u.ID}
	maps.Copy(d, extra)
	return d
}
