package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/mail"
	"strconv"
	"strings"
	"time"

	"github.com/keyhall/keyhall/authn"
	"github.com/keyhall/keyhall/enroll"
	"github.com/keyhall/keyhall/enroll/desk"
)

func usersAddCommand() *command {
	return &command{
		name:    "add",
		args:    "USERNAME",
		summary: "add a local person",
		help:    "Adds a local person. The person signs in after enrolling a security key or app.",
		examples: []string{
			`keyhall admin users add anna.mueller --name "Anna Müller" --email anna.mueller@example.org`,
			`keyhall admin users add bernd --config /etc/keyhall/keyhall.yaml --json`,
		},
		setup: func(fs *flag.FlagSet) action {
			cfgPath, asJSON := configFlag(fs), jsonFlag(fs)
			name := fs.String("name", "", "the person's display `NAME`")
			email := fs.String("email", "", "the person's e-mail `ADDRESS` (the address only)")
			postal := fs.String("address", "", "the person's postal `ADDRESS` for letters, lines separated by | or \\n")
			return func(ctx context.Context, a *app, args []string) error {
				if err := wantArgs(args, "USERNAME"); err != nil {
					return err
				}
				username, err := canonical("username", args[0])
				if err != nil {
					return err
				}
				addr, err := checkEmail(*email)
				if err != nil {
					return err
				}
				lines, err := postalAddress(*postal)
				if err != nil {
					return err
				}
				return withStore(ctx, a, *cfgPath, func(st authn.Store) error {
					return addUser(ctx, st, a.stdout, authn.User{Username: username, DisplayName: strings.TrimSpace(*name),
						Email: addr, PostalAddress: lines}, *asJSON)
				})
			}
		},
	}
}

// addUser creates u (username, names, addresses given) as a local, active
// person and prints her.
func addUser(ctx context.Context, st authn.Store, w io.Writer, u authn.User, asJSON bool) error {
	now := time.Now().UTC()
	username := u.Username
	u.ID, u.Status, u.Source, u.CreatedAt, u.UpdatedAt = authn.NewID(), authn.StatusActive, authn.SourceLocal, now, now
	ev := auditEvent(now, "user.create", "user:"+u.ID, "",
		map[string]string{"username": username, "display_name": u.DisplayName, "email": u.Email})
	if err := st.CreateUser(ctx, u, ev); err != nil {
		if errors.Is(err, authn.ErrAlreadyExists) {
			return &cliError{msg: fmt.Sprintf("user %q already exists", username), err: err}
		}
		return fmt.Errorf("create user %q: %w", username, err)
	}
	if asJSON {
		return writeJSON(w, toUserJSON(u, nil))
	}
	_, err := fmt.Fprintf(w, "Created user %q (id %s).\n", u.Username, u.ID)
	return err
}

// checkEmail checks that s is an e-mail address alone (no display name,
// no angle brackets); "" is allowed and means none.
func checkEmail(s string) (string, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return "", nil
	}
	a, err := mail.ParseAddress(s)
	if err != nil || a.Name != "" || a.Address != s {
		return "", usagef("e-mail %q is not an address such as anna.mueller@example.org", s)
	}
	return s, nil
}

func usersListCommand() *command {
	return &command{
		name:     "list",
		summary:  "list people",
		help:     "Lists people by username; --query keeps those whose username, name or e-mail contains Q.",
		examples: []string{"keyhall admin users list", "keyhall admin users list --query müller --json"},
		setup: func(fs *flag.FlagSet) action {
			cfgPath, asJSON := configFlag(fs), jsonFlag(fs)
			query := fs.String("query", "", "list only people whose username, name or e-mail contains `Q`")
			return func(ctx context.Context, a *app, args []string) error {
				if err := wantArgs(args); err != nil {
					return err
				}
				return withStore(ctx, a, *cfgPath, func(st authn.Store) error {
					users, err := listAllUsers(ctx, st, *query)
					if err != nil {
						return err
					}
					states, err := enrollStates(ctx, st, users)
					if err != nil {
						return err
					}
					return printUsers(a.stdout, users, states, *asJSON)
				})
			}
		},
	}
}

// listAllUsers reads every person matching query, page by page.
func listAllUsers(ctx context.Context, st authn.UserStore, query string) ([]authn.User, error) {
	const page = 100
	f := authn.UserFilter{Query: query, Limit: page}
	var all []authn.User
	for {
		users, err := st.ListUsers(ctx, f)
		if err != nil {
			return nil, fmt.Errorf("list users: %w", err)
		}
		all = append(all, users...)
		if len(users) < page {
			return all, nil
		}
		f.After = users[len(users)-1].Username
	}
}

// enrollStates reads how far each person's enrollment got
// (enroll.StateOf), in the order of users.
func enrollStates(ctx context.Context, st authn.Store, users []authn.User) ([]enroll.State, error) {
	now := time.Now()
	out := make([]enroll.State, len(users))
	for i, u := range users {
		var err error
		if out[i], err = enroll.StateOf(ctx, st, u.ID, now); err != nil {
			return nil, fmt.Errorf("read the enrollment of %q: %w", u.Username, err)
		}
	}
	return out, nil
}

func printUsers(w io.Writer, users []authn.User, states []enroll.State, asJSON bool) error {
	if asJSON {
		out := make([]userJSON, 0, len(users))
		for i, u := range users {
			j := toUserJSON(u, nil)
			j.Enrollment = toEnrollmentJSON(states[i])
			out = append(out, j)
		}
		return writeJSON(w, out)
	}
	rows := [][]string{{"USERNAME", "NAME", "E-MAIL", "STATUS", "SOURCE", "CREATED", "INVITATION", "KEYS", "APPS", "CODES"}}
	for i, u := range users {
		e := states[i]
		rows = append(rows, []string{
			cell(u.Username), cell(u.DisplayName), cell(u.Email), string(u.Status), string(u.Source), formatTime(u.CreatedAt),
			invitationWords(e), strconv.Itoa(e.Keys), strconv.Itoa(e.Apps), strconv.Itoa(e.RecoveryCodes),
		})
	}
	return writeTable(w, rows)
}

// invitationWords says where a person's newest invitation stands, with the
// time that matters: "pending until …", "expired …", "used …", "none".
func invitationWords(e enroll.State) string {
	switch e.Invitation {
	case enroll.InvitationPending:
		return "pending until " + formatTime(e.Expires)
	case enroll.InvitationExpired:
		return "expired " + formatTime(e.Expires)
	case enroll.InvitationUsed:
		return "used " + formatTime(e.Used)
	}
	return string(e.Invitation)
}

func usersShowCommand() *command {
	return &command{
		name:     "show",
		args:     "USERNAME",
		summary:  "show a person and her groups",
		help:     "Shows a person: id, names, e-mail, status, where she comes from, and her groups.",
		examples: []string{"keyhall admin users show anna.mueller", "keyhall admin users show anna.mueller --json"},
		setup: func(fs *flag.FlagSet) action {
			cfgPath, asJSON := configFlag(fs), jsonFlag(fs)
			return func(ctx context.Context, a *app, args []string) error {
				return withUser(ctx, a, *cfgPath, args, func(st authn.Store, u authn.User) error {
					groups, err := st.UserGroups(ctx, u.ID)
					if err != nil {
						return fmt.Errorf("list groups of %q: %w", u.Username, err)
					}
					states, err := enrollStates(ctx, st, []authn.User{u})
					if err != nil {
						return err
					}
					return printUser(a.stdout, u, groups, states[0], *asJSON)
				})
			}
		},
	}
}

// findUser finds a person by canonical username.
func findUser(ctx context.Context, st authn.UserStore, username string) (authn.User, error) {
	u, err := st.GetUserByUsername(ctx, username)
	if errors.Is(err, authn.ErrNotFound) {
		return u, &cliError{msg: fmt.Sprintf("user %q not found", username), err: err}
	}
	if err != nil {
		return u, fmt.Errorf("find user %q: %w", username, err)
	}
	return u, nil
}

func printUser(w io.Writer, u authn.User, groups []authn.Group, e enroll.State, asJSON bool) error {
	if groups == nil {
		groups = []authn.Group{}
	}
	if asJSON {
		j := toUserJSON(u, groups)
		j.Enrollment = toEnrollmentJSON(e)
		return writeJSON(w, j)
	}
	return writeTable(w, [][]string{
		{"Username:", cell(u.Username)},
		{"ID:", u.ID},
		{"Name:", cell(u.DisplayName)},
		{"E-mail:", cell(u.Email)},
		{"Address:", cell(strings.Join(u.PostalAddress, ", "))},
		{"Status:", string(u.Status)},
		{"Source:", string(u.Source)},
		{"Created:", formatTime(u.CreatedAt)},
		{"Groups:", cell(strings.Join(groupNames(groups), ", "))},
		{"Invitation:", invitationWords(e)},
		{"Keys:", strconv.Itoa(e.Keys)},
		{"Apps:", strconv.Itoa(e.Apps)},
		{"Recovery codes:", strconv.Itoa(e.RecoveryCodes) + " unused"},
		{"Password:", passwordWords(u, e)},
	})
}

// passwordWords says what Keyhall knows of a person's password: the
// directory's, set, none, or required by her invitation and not set yet.
func passwordWords(u authn.User, e enroll.State) string {
	switch {
	case u.Source == authn.SourceDirectory:
		return "the directory's"
	case e.HasPassword:
		return "set"
	case e.PasswordRequired:
		return "required by her invitation, not set yet"
	}
	return "none"
}

func usersDisableCommand() *command {
	return userActionCommand("disable", "disable a person and end her sessions",
		"Disables a person, so she can no longer sign in, and revokes all her sessions.\n"+
			"The reason is written to the audit log.",
		`keyhall admin users disable anna.mueller --reason "left the council, ticket 4711"`, breakGlassFlag("disable"),
		func(ctx context.Context, a *app, e *enrollEnv, id, username, reason string, breakGlass bool) error {
			return e.disable(ctx, a.stdout, id, username, reason, breakGlass)
		})
}

// disable disables a person through the desk (unless an administrator
// had already), ends her sessions and tells the tools, and says so.
func (e *enrollEnv) disable(ctx context.Context, w io.Writer, userID, username, reason string, breakGlass bool) error {
	d, err := e.desk.DisableReport(ctx, desk.CLI(cliActor(), breakGlass), userID, reason)
	if err != nil {
		return err
	}
	switch {
	case d.ByDirectory:
		fmt.Fprintf(w, "User %q was disabled by the directory; now by an administrator too: a directory sync will not enable her again.\n", username)
	case d.Changed:
		fmt.Fprintf(w, "Disabled user %q.\n", username)
	default:
		fmt.Fprintf(w, "User %q was disabled already.\n", username)
	}
	if _, err := fmt.Fprintf(w, "Revoked %d session(s).\n", d.Sessions); err != nil {
		return err
	}
	return d.ToolsErr
}

// withUser runs fn on the person named by the command's one USERNAME
// argument, with the database open.
func withUser(ctx context.Context, a *app, cfgPath string, args []string, fn func(authn.Store, authn.User) error) error {
	if err := wantArgs(args, "USERNAME"); err != nil {
		return err
	}
	username, err := canonical("username", args[0])
	if err != nil {
		return err
	}
	return withStore(ctx, a, cfgPath, func(st authn.Store) error {
		u, err := findUser(ctx, st, username)
		if err != nil {
			return err
		}
		return fn(st, u)
	})
}
