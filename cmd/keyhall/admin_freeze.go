package main

import (
	"context"
	"flag"
	"fmt"
	"strings"

	"github.com/keyhall/keyhall/enroll/desk"
)

// userActionCommand is a "users" command that takes one USERNAME and a
// required --reason and runs do through the desk.
func userActionCommand(name, summary, help, example string, extra func(fs *flag.FlagSet) func() bool,
	do func(ctx context.Context, a *app, e *enrollEnv, userID, username, reason string, flag bool) error) *command {
	return &command{
		name: name, args: "USERNAME", summary: summary, help: help, examples: []string{example},
		setup: func(fs *flag.FlagSet) action {
			cfgPath := configFlag(fs)
			reason := fs.String("reason", "", "why, for the audit log (required)")
			flagValue := func() bool { return false }
			if extra != nil {
				flagValue = extra(fs)
			}
			return func(ctx context.Context, a *app, args []string) error {
				if err := wantArgs(args, "USERNAME"); err != nil {
					return err
				}
				username, err := canonical("username", args[0])
				if err != nil {
					return err
				}
				if strings.TrimSpace(*reason) == "" {
					return usagef("--reason is required: say why, for the audit log")
				}
				return withEnroll(ctx, a, *cfgPath, func(e *enrollEnv) error {
					u, err := findUser(ctx, e.st, username)
					if err != nil {
						return err
					}
					return deskErr(do(ctx, a, e, u.ID, username, strings.TrimSpace(*reason), flagValue()))
				})
			}
		},
	}
}

func usersEnableCommand() *command {
	return userActionCommand("enable", "enable a person an administrator disabled",
		"Enables a person an administrator disabled. A person the directory disabled is enabled by\n"+
			"the directory; a frozen person by 'users unfreeze'.",
		`keyhall admin users enable anna.mueller --reason "back from leave, ticket 4720"`, nil,
		func(ctx context.Context, a *app, e *enrollEnv, id, username, reason string, _ bool) error {
			if err := e.desk.Enable(ctx, desk.CLI(cliActor(), false), id, reason); err != nil {
				return err
			}
			_, err := fmt.Fprintf(a.stdout, "Enabled user %q.\n", username)
			return err
		})
}

func usersFreezeCommand() *command {
	return userActionCommand("freeze", "freeze a person's account at once",
		"Freezes a person's account as her own 'this was not me' link does: her sessions and\n"+
			"tokens end, the tools are told, open invitations are voided, and she cannot sign in or\n"+
			"enroll until an administrator runs 'users unfreeze'.",
		`keyhall admin users freeze anna.mueller --reason "reset she did not ask for, ticket 4721"`, breakGlassFlag("freeze"),
		func(ctx context.Context, a *app, e *enrollEnv, id, username, reason string, breakGlass bool) error {
			rep, err := e.desk.Freeze(ctx, desk.CLI(cliActor(), breakGlass), id, reason)
			if err != nil {
				return err
			}
			if rep.Already {
				_, err = fmt.Fprintf(a.stdout, "User %q was frozen already.\n", username)
				return err
			}
			_, err = fmt.Fprintf(a.stdout, "Froze user %q: %d session(s) ended, %d invitation(s) voided.\n",
				username, rep.Sessions, rep.Invitations)
			return err
		})
}

func usersUnfreezeCommand() *command {
	return userActionCommand("unfreeze", "lift the freeze of a person's account",
		"Lifts a freeze (her 'this was not me' link, or 'users freeze') once an administrator has\n"+
			"looked into it. --restore-factors gives back the keys and apps an IT reset suspended:\n"+
			"for when the reset itself was the attack. Otherwise they stay suspended and are\n"+
			"deleted when she enrolls a new one.",
		`keyhall admin users unfreeze anna.mueller --reason "reset was a phone scam, ticket 4721" --restore-factors`,
		func(fs *flag.FlagSet) func() bool {
			restore := fs.Bool("restore-factors", false, "give back the keys and apps the last reset suspended")
			return func() bool { return *restore }
		},
		func(ctx context.Context, a *app, e *enrollEnv, id, username, reason string, restore bool) error {
			n, err := e.desk.Unfreeze(ctx, desk.CLI(cliActor(), false), id, reason, restore)
			if err != nil {
				return err
			}
			msg := fmt.Sprintf("Lifted the freeze of %q.", username)
			if restore {
				msg += fmt.Sprintf(" Restored %d key(s) and app(s).", n)
			}
			_, err = fmt.Fprintln(a.stdout, msg)
			return err
		})
}

// breakGlassFlag adds --break-glass to a users command that a person with
// a role on the desk needs it for: without a second admin, audited.
func breakGlassFlag(verb string) func(fs *flag.FlagSet) func() bool {
	return func(fs *flag.FlagSet) func() bool {
		b := fs.Bool("break-glass", false, verb+" a person with a role on the IT desk at once, without a second admin removing her role first (audited; emergencies only)")
		return func() bool { return *b }
	}
}
