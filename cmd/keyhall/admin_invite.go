package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/keyhall/keyhall/authn"
	"github.com/keyhall/keyhall/enroll"
	"github.com/keyhall/keyhall/enroll/desk"
)

func inviteCommand() *command {
	return &command{
		name:    "invite",
		args:    "USERNAME",
		summary: "issue an enrollment invitation (link, code, letter)",
		help: "Issues a new invitation for a person and voids her older ones: a link and a short\n" +
			"code, valid once until the expiry. Prints both; --letter writes a printable German\n" +
			"A4 letter (PDF) for a window envelope, which needs the person's postal address and\n" +
			"the letter.* settings; --address stores her address (audited) for this and later\n" +
			"letters; --mail also sends link and code to the person's e-mail address;\n" +
			"--require-password makes a local person choose a password before her enrollment\n" +
			"can finish (not for directory people, whose password is the directory's).\n" +
			"--group GROUP --letters FILE (no USERNAME) writes one PDF with a letter for each\n" +
			"member of the group who has no key or app yet (--all: every member), each with\n" +
			"her own new invitation. A reason is required, for the audit log.",
		examples: []string{
			`keyhall admin invite anna.mueller --reason "new colleague, ticket 4711"`,
			`keyhall admin invite anna.mueller --reason "ticket 4711" --expires 21d --letter anna.pdf --address "Große Straße 17|48143 Münster"`,
			`keyhall admin invite anna.mueller --mail --reason "new councillor, ticket 4711" --json`,
			`keyhall admin invite bernd --require-password --reason "ticket 4712"`,
			`keyhall admin invite --group rat --letters rat.pdf --reason "council elected 2026"`,
		},
		setup: func(fs *flag.FlagSet) action {
			cfgPath, asJSON := configFlag(fs), jsonFlag(fs)
			o := declareIssueFlags(fs)
			reason := fs.String("reason", "", "why, for the audit log (required)")
			mail := fs.Bool("mail", false, "also send link and code to the person's e-mail address")
			group := fs.String("group", "", "invite the members of `GROUP` who have no key or app yet, by letter (with --letters)")
			letters := fs.String("letters", "", "with --group: write the letters (one PDF) to `FILE`")
			all := fs.Bool("all", false, "with --group: also members who have a key or app")
			return func(ctx context.Context, a *app, args []string) error {
				if *group != "" || *letters != "" || *all {
					return groupLetters(ctx, a, *cfgPath, args, *group, *letters, *all, strings.TrimSpace(*reason), o, *asJSON)
				}
				username, validity, err := o.parse(args)
				if err != nil {
					return err
				}
				if strings.TrimSpace(*reason) == "" {
					return usagef("--reason is required: say why, for the audit log")
				}
				return withEnroll(ctx, a, *cfgPath, func(e *enrollEnv) error {
					u, err := e.prepare(ctx, username, o)
					if err != nil {
						return err
					}
					in := desk.InviteRequest{Reason: strings.TrimSpace(*reason), Delivery: desk.DeliverDesk,
						Terms: o.terms(validity), Address: addressLines(*o.address)}
					switch {
					case *o.letter != "":
						in.Delivery, in.AlsoMail = desk.DeliverLetter, *mail
					case *mail:
						in.Delivery = desk.DeliverMail
					}
					out, err := e.desk.Invite(ctx, desk.CLI(cliActor(), false), u.ID, in)
					if err != nil {
						return deskErr(err)
					}
					d := e.deliver(a, out, o)
					return d.print(a.stdout, out.Invitation, nil, *asJSON)
				})
			}
		},
	}
}

// groupLetters runs "admin invite --group GROUP --letters FILE".
func groupLetters(ctx context.Context, a *app, cfgPath string, args []string, group, file string, all bool, reason string,
	o *issueFlags, asJSON bool) error {
	if err := wantArgs(args); err != nil {
		return usagef("--group invites a group's members: give no USERNAME")
	}
	if group == "" || file == "" {
		return usagef("--group GROUP and --letters FILE go together")
	}
	if *o.letter != "" || *o.address != "" {
		return usagef("--group writes its letters to --letters FILE, to the members' stored addresses; --letter and --address are for one person")
	}
	if reason == "" {
		return usagef("--reason is required: say why, for the audit log")
	}
	name, err := canonical("group", group)
	if err != nil {
		return err
	}
	validity, err := parseValidity(*o.expires)
	if err != nil {
		return err
	}
	return withEnroll(ctx, a, cfgPath, func(e *enrollEnv) error {
		if missing := e.cfg.letterMissing(true); len(missing) > 0 {
			return usagef("--letters: %s", strings.Join(missing, "; "))
		}
		out, err := e.desk.GroupLetters(ctx, desk.CLI(cliActor(), false), name,
			desk.LettersRequest{Reason: reason, All: all, Terms: o.terms(validity)})
		if err != nil {
			return deskErr(err)
		}
		if err := os.WriteFile(file, out.PDF, 0o600); err != nil { // they hold links and codes
			return fmt.Errorf("the invitations are issued, but their letters were not written: %w", err)
		}
		return printGroupLetters(a.stdout, name, file, out, asJSON)
	})
}

// groupLettersJSON is the stable JSON form of letters for a group.
type groupLettersJSON struct {
	Group       string           `json:"group"`
	Letters     string           `json:"letters"`
	Invitations []invitationJSON `json:"invitations"`
	Skipped     []string         `json:"skipped"`
}

func printGroupLetters(w io.Writer, group, file string, out desk.Letters, asJSON bool) error {
	if asJSON {
		j := groupLettersJSON{Group: group, Letters: file, Invitations: []invitationJSON{}, Skipped: append([]string{}, out.Skipped...)}
		for _, inv := range out.Issued {
			j.Invitations = append(j.Invitations, invitationJSON{Username: inv.User.Username, Link: inv.Link, Code: inv.Code,
				ExpiresAt: inv.ExpiresAt.UTC(), Letter: file, RequirePassword: inv.RequirePassword})
		}
		return writeJSON(w, j)
	}
	fmt.Fprintf(w, "Wrote %d letter(s) for group %q to %s:\n", len(out.Issued), group, file)
	for _, inv := range out.Issued {
		fmt.Fprintf(w, "  %s, valid until %s\n", inv.User.Username, formatTime(inv.ExpiresAt))
	}
	if len(out.Skipped) > 0 {
		_, err := fmt.Fprintf(w, "Left out (a key or app already, or not active; --all includes them): %s\n", strings.Join(out.Skipped, ", "))
		return err
	}
	return nil
}

func resetCommand() *command {
	return &command{
		name:    "reset",
		args:    "USERNAME",
		summary: "revoke all factors and sessions, issue a new invitation",
		help: "Resets a person who lost her keys: every security key, app and recovery code is\n" +
			"removed, every session ended, the tools told, and a new invitation issued, with one\n" +
			"audit event naming who, whom, why, how her identity was checked and what was\n" +
			"revoked. --identity-check says how you made sure the caller is the person:\n" +
			"in_person (ID card), callback (to the number from the directory), video, or\n" +
			"other:TEXT. The person is told by e-mail (without the link) when mail is\n" +
			"configured; --letter writes the new invitation's letter.\n" +
			"Where policy asks for dual control (an admin, or policy.groups.*.reset_approval),\n" +
			"nothing changes yet: the reset waits up to 24 hours for a second person to approve\n" +
			"it on the console (/admin). --break-glass carries it out at once, audited as such;\n" +
			"only for emergencies.",
		examples: []string{
			`keyhall admin reset anna.mueller --reason "keys stolen, ticket 4712" --identity-check callback`,
			`keyhall admin reset anna.mueller --reason "lost keys" --identity-check in_person --letter anna.pdf --address "Große Straße 17|48143 Münster"`,
			`keyhall admin reset rita --reason "council meets in an hour, ticket 4713" --identity-check "other:known to the mayor's office" --break-glass`,
		},
		setup: func(fs *flag.FlagSet) action {
			cfgPath, asJSON := configFlag(fs), jsonFlag(fs)
			o := declareIssueFlags(fs)
			reason := fs.String("reason", "", "why, for the audit log (required)")
			check := fs.String("identity-check", "", "how you checked the caller is the person: `HOW` is in_person, callback, video or other:TEXT (required)")
			breakGlass := fs.Bool("break-glass", false, "carry out a reset that needs a second person's approval at once (audited; emergencies only)")
			return func(ctx context.Context, a *app, args []string) error {
				username, validity, err := o.parse(args)
				if err != nil {
					return err
				}
				if strings.TrimSpace(*reason) == "" {
					return usagef("--reason is required: say why, for the audit log")
				}
				ic, err := parseIdentityCheck(*check)
				if err != nil {
					return err
				}
				return withEnroll(ctx, a, *cfgPath, func(e *enrollEnv) error {
					in := desk.ResetRequest{Reason: strings.TrimSpace(*reason), Check: ic, Delivery: desk.DeliverDesk,
						Terms: o.terms(validity), Address: addressLines(*o.address)}
					if *o.letter != "" {
						in.Delivery = desk.DeliverLetter
					}
					return e.reset(ctx, a, username, in, *breakGlass, o, *asJSON)
				})
			}
		},
	}
}

// reset runs "admin reset" for username.
func (e *enrollEnv) reset(ctx context.Context, a *app, username string, in desk.ResetRequest, breakGlass bool,
	o *issueFlags, asJSON bool) error {
	u, err := e.prepare(ctx, username, o)
	if err != nil {
		return err
	}
	out, err := e.desk.Reset(ctx, desk.CLI(cliActor(), breakGlass), u.ID, in)
	if err != nil {
		return deskErr(err)
	}
	if p := out.Pending; p != nil {
		if asJSON {
			return writeJSON(a.stdout, struct {
				Pending approvalJSON `json:"pending_approval"`
			}{approvalJSON{ID: p.ID, Username: p.Username, ExpiresAt: p.ExpiresAt.UTC()}})
		}
		_, err := fmt.Fprintf(a.stdout, "The reset of %q needs a second person's approval (dual control); nothing changed yet.\n"+
			"  Approval: %s, open until %s.\n"+
			"  A second helpdesk or admin person must approve it on the console (/admin).\n"+
			"  In an emergency: keyhall admin reset %s --break-glass --reason … (audited).\n",
			username, p.ID, formatTime(p.ExpiresAt), username)
		return err
	}
	if out.ToolsErr != nil {
		fmt.Fprintf(a.stderr, "keyhall: warning: the tools were not told that %s's sessions ended: %v\n", username, out.ToolsErr)
	}
	d := e.deliver(a, out.Issued, o)
	d.notified, d.mailErr = out.Notified, out.NoticeErr
	if d.mailErr != nil {
		fmt.Fprintf(a.stderr, "keyhall: warning: %s was not told by e-mail: %v\n", username, d.mailErr)
	}
	return d.print(a.stdout, out.Invitation, &out.Report, asJSON)
}

// issueFlags are the flags invite and reset share.
type issueFlags struct {
	expires, letter, address *string
	requirePassword          *bool
}

func declareIssueFlags(fs *flag.FlagSet) *issueFlags {
	return &issueFlags{
		expires: fs.String("expires", "14d", "how long the invitation is valid: `DURATION` such as 14d, 36h (at most 90d)"),
		letter:  fs.String("letter", "", "write the enrollment letter (PDF) to `FILE`"),
		address: fs.String("address", "", "store `ADDRESS` as the person's postal address (for --letter and later letters), lines separated by | or \\n"),
		requirePassword: fs.Bool("require-password", false,
			"a local person must choose a password in her enrollment before it can finish (refused for directory people)"),
	}
}

// terms are the invitation's terms from the flags.
func (o *issueFlags) terms(validity time.Duration) enroll.Terms {
	return enroll.Terms{Validity: validity, RequirePassword: *o.requirePassword}
}

// parse checks the positional argument and the flags.
func (o *issueFlags) parse(args []string) (string, time.Duration, error) {
	if err := wantArgs(args, "USERNAME"); err != nil {
		return "", 0, err
	}
	username, err := canonical("username", args[0])
	if err != nil {
		return "", 0, err
	}
	validity, err := parseValidity(*o.expires)
	if err != nil {
		return "", 0, err
	}
	if _, err := postalAddress(*o.address); err != nil {
		return "", 0, err
	}
	return username, validity, nil
}

// parseValidity reads an invitation's validity: "14d" (days) or a Go
// duration such as "36h".
func parseValidity(s string) (time.Duration, error) {
	var d time.Duration
	var err error
	if days, ok := strings.CutSuffix(s, "d"); ok {
		var n int
		n, err = strconv.Atoi(days)
		d = time.Duration(n) * 24 * time.Hour
	} else {
		d, err = time.ParseDuration(s)
	}
	if err != nil || d <= 0 || d > enroll.MaxValidity {
		return 0, usagef("--expires %q is not a duration from 1h to 90d, such as 14d or 36h", s)
	}
	return d, nil
}

// addressLines splits --address into lines at "|", "\n" (typed as two
// characters) and line breaks.
func addressLines(s string) []string {
	s = strings.NewReplacer(`\n`, "\n", "|", "\n", "\r", "").Replace(s)
	var lines []string
	for _, l := range strings.Split(s, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			lines = append(lines, l)
		}
	}
	return lines
}

// enrollEnv is what the enrollment commands work with.
type enrollEnv struct {
	cfg    Config
	st     authn.Store
	svc    *enroll.Service
	desk   *desk.Service
	mailer enroll.Mailer
	logger *slog.Logger
}

// withEnroll loads the configuration and the keys, opens the database and
// builds the enrollment service, the mailer and the IT desk, as serve
// does, and runs fn.
func withEnroll(ctx context.Context, a *app, configPath string, fn func(e *enrollEnv) error) error {
	cfg, err := loadConfig(configPath, a.env)
	if err != nil {
		return err
	}
	quiet := cfg
	if quiet.Log.Level == "info" {
		quiet.Log.Level = "warn"
	}
	logger := newLogger(quiet, a.stderr)
	keys, err := loadKeys(cfg, logger)
	if err != nil {
		return err
	}
	mailer, _, err := newMailer(cfg, logger)
	if err != nil {
		return err
	}
	return withConfigStore(ctx, a, cfg, func(st authn.Store) error {
		svc, err := enrollService(cfg, keys, st, nil, logger)
		if err != nil {
			return err
		}
		e := &enrollEnv{cfg: cfg, st: st, svc: svc, mailer: mailer, logger: logger}
		if e.desk, err = e.cliDesk(a.stderr); err != nil {
			return err
		}
		return fn(e)
	})
}

// prepare finds the person and checks what the flags ask of her before
// anything changes: --require-password only for a local person, and with
// --letter, the settings a letter needs.
func (e *enrollEnv) prepare(ctx context.Context, username string, o *issueFlags) (authn.User, error) {
	u, err := findUser(ctx, e.st, username)
	if err != nil {
		return u, err
	}
	if *o.requirePassword && u.Source == authn.SourceDirectory {
		return u, usagef("--require-password: %q is a directory person; her password is the directory's, "+
			"Keyhall cannot require her to choose one", username)
	}
	if *o.letter != "" {
		if missing := e.cfg.letterMissing(*o.address != "" || len(u.PostalAddress) > 0); len(missing) > 0 {
			return u, usagef("--letter: %s", strings.Join(missing, "; "))
		}
	}
	return u, nil
}

// delivery is what became of an invitation: its letter and its mail.
type delivery struct {
	letter    string // the file written
	letterErr error
	mailedTo  string // the address the invitation was mailed to
	notified  string // the address a reset notice was mailed to
	mailErr   error
}

// deliver writes the letter the desk made (with --letter) and warns of a
// mail that failed. A letter that fails is an error, reported after the
// invitation is printed.
func (e *enrollEnv) deliver(a *app, is desk.Issued, o *issueFlags) delivery {
	d := delivery{letterErr: is.LetterErr, mailedTo: is.MailedTo, mailErr: is.MailErr}
	if *o.letter != "" && d.letterErr == nil {
		d.letterErr = os.WriteFile(*o.letter, is.Letter, 0o600) // it holds the link and code
		if d.letterErr == nil {
			d.letter = *o.letter
		}
	}
	if is.MailErr != nil {
		fmt.Fprintf(a.stderr, "keyhall: warning: the invitation was not mailed: %v\n", is.MailErr)
	}
	return d
}

// letterMissing names, by setting (YAML path and environment variable),
// each thing a letter needs that is not given: the sender, where to get
// help, and (hasAddress false) the person's postal address.
func (c Config) letterMissing(hasAddress bool) []string {
	var out []string
	if strings.TrimSpace(c.Letter.SenderName) == "" {
		out = append(out, "letter.sender_name is not set (KEYHALL_LETTER_SENDER_NAME): the sender the letter comes from")
	}
	if strings.TrimSpace(c.Letter.HelpPhone) == "" && strings.TrimSpace(c.Letter.HelpEmail) == "" {
		out = append(out, "neither letter.help_phone nor letter.help_email is set (KEYHALL_LETTER_HELP_PHONE, KEYHALL_LETTER_HELP_EMAIL): the letter must say where to get help")
	}
	if !hasAddress {
		out = append(out, "no postal address: give --address, or store one with \"keyhall admin users set-address\"")
	}
	return out
}
