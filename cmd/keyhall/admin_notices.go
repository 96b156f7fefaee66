package main

import (
	"context"
	"flag"
	"fmt"
	"os"

	"github.com/keyhall/keyhall/enroll/desk"
)

func noticesCommand() *command {
	return &command{
		name:    "notices",
		summary: "notices that go by post",
		help:    "The notices of a reset or a new factor for people without an e-mail address (or whose mail failed).",
		subs:    []*command{noticeLettersCommand()},
	}
}

func noticeLettersCommand() *command {
	return &command{
		name:    "letters",
		summary: "write the notice letters still to send as one PDF",
		help: "Writes every notice letter not yet printed to FILE (mode 0600) as one A4 PDF for window\n" +
			"envelopes, each with a new \"this was not me\" link, and marks them printed (audited as\n" +
			"notice_letter.printed, one per letter), as the console's download does. With none to send, no file is\n" +
			"written. People with neither e-mail nor postal address are listed on the console's overview.",
		examples: []string{"keyhall admin notices letters hinweise.pdf"},
		setup: func(fs *flag.FlagSet) action {
			cfgPath := configFlag(fs)
			return func(ctx context.Context, a *app, args []string) error {
				if len(args) != 1 {
					return usagef("notices letters takes one argument: FILE")
				}
				file := args[0]
				return withEnroll(ctx, a, *cfgPath, func(e *enrollEnv) error {
					f, err := os.OpenFile(file, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
					if err != nil {
						return err
					}
					n, err := e.desk.PrintNoticeLetters(ctx, desk.CLI(cliActor(), false), f)
					if cerr := f.Close(); err == nil {
						err = cerr
					}
					if err != nil || n == 0 {
						os.Remove(file)
					}
					if err != nil {
						return deskErr(err)
					}
					if n == 0 {
						fmt.Fprintln(a.stdout, "no notice letters to send")
						return nil
					}
					fmt.Fprintf(a.stdout, "%d notice letters written to %s\n", n, file)
					return nil
				})
			}
		},
	}
}
