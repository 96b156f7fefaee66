package main

import (
	"context"
	"flag"
	"fmt"
	"strings"

	"github.com/keyhall/keyhall/enroll"
)

func confirmEmailCommand() *command {
	return &command{
		name:    "confirm-email",
		args:    "USERNAME",
		summary: "mail a person a link that confirms her e-mail address",
		help: "Mails the person a link, valid once for 7 days, to confirm that her e-mail\n" +
			"address is hers. Once she confirms, tools see it as verified (email_verified);\n" +
			"a new address is not, until it is confirmed in turn. The link goes only into the\n" +
			"mail, never to this terminal, so mail.smtp_host must be set.",
		examples: []string{`keyhall admin confirm-email anna.mueller --reason "ticket 4711"`},
		setup: func(fs *flag.FlagSet) action {
			cfgPath := configFlag(fs)
			reason := fs.String("reason", "", "why, for the audit log")
			return func(ctx context.Context, a *app, args []string) error {
				if len(args) != 1 {
					return usagef("confirm-email needs one USERNAME")
				}
				return withEnroll(ctx, a, *cfgPath, func(e *enrollEnv) error {
					if !enroll.Delivers(e.mailer) {
						return usagef("no SMTP server is configured (mail.smtp_host): the link goes only by e-mail")
					}
					u, err := findUser(ctx, e.st, args[0])
					if err != nil {
						return err
					}
					m, err := e.svc.RequestEmailConfirmation(ctx, u.ID, cliActor(), strings.TrimSpace(*reason))
					if err != nil {
						return fmt.Errorf("confirm-email %q: %w", args[0], err)
					}
					if err := enroll.Notify(ctx, e.mailer, e.logger, m); err != nil {
						return fmt.Errorf("confirm-email %q: the mail was not sent: %w", args[0], err)
					}
					fmt.Fprintf(a.stdout, "Sent a confirmation link to %s.\n", m.To)
					return nil
				})
			}
		},
	}
}
