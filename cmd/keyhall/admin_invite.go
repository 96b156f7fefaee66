package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/keyhall/keyhall/authn"
	"github.com/keyhall/keyhall/enroll"
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
			"can finish (not for directory people, whose password is the directory's).",
		examples: []string{
			`keyhall admin invite anna.mueller`,
			`keyhall admin invite anna.mueller --expires 21d --letter anna.pdf --address "Große Straße 17|48143 Münster"`,
			`keyhall admin invite anna.mueller --mail --reason "new councillor, ticket 4711" --json`,
			`keyhall admin invite bernd --require-password`,
		},
		setup: func(fs *flag.FlagSet) action {
			cfgPath, asJSON := configFlag(fs), jsonFlag(fs)
			o := declareIssueFlags(fs)
			reason := fs.String("reason", "", "why, for the audit log")
			mail := fs.Bool("mail", false, "also send link and code to the person's e-mail address")
			return func(ctx context.Context, a *app, args []string) error {
				username, validity, err := o.parse(args)
				if err != nil {
					return err
				}
				return withEnroll(ctx, a, *cfgPath, func(e *enrollEnv) error {
					u, err := e.prepare(ctx, username, o, strings.TrimSpace(*reason), "invite")
					if err != nil {
						return err
					}
					inv, err := e.svc.IssueWith(ctx, u.ID, o.terms(validity), cliActor(), strings.TrimSpace(*reason))
					if err != nil {
						return fmt.Errorf("invite %q: %w", username, err)
					}
					d := e.deliver(ctx, a, inv, o, *mail)
					return d.print(a.stdout, inv, nil, *asJSON)
				})
			}
		},
	}
}

func resetCommand() *command {
	return &command{
		name:    "reset",
		args:    "USERNAME",
		summary: "revoke all factors and sessions, issue a new invitation",
		help: "Resets a person who lost her keys: every security key, app and recovery code is\n" +
			"removed, every session ended, and a new invitation issued, with one audit event\n" +
			"naming who, whom, why and what was revoked. The person is told by e-mail (without\n" +
			"the link) when mail is configured; --letter writes the new invitation's letter.",
		examples: []string{
			`keyhall admin reset anna.mueller --reason "keys stolen, ticket 4712, identity checked by phone"`,
			`keyhall admin reset anna.mueller --reason "lost keys" --letter anna.pdf --address "Große Straße 17|48143 Münster"`,
		},
		setup: func(fs *flag.FlagSet) action {
			cfgPath, asJSON := configFlag(fs), jsonFlag(fs)
			o := declareIssueFlags(fs)
			reason := fs.String("reason", "", "why, for the audit log (required)")
			return func(ctx context.Context, a *app, args []string) error {
				username, validity, err := o.parse(args)
				if err != nil {
					return err
				}
				if strings.TrimSpace(*reason) == "" {
					return usagef("--reason is required: say why, for the audit log")
				}
				return withEnroll(ctx, a, *cfgPath, func(e *enrollEnv) error {
					return e.reset(ctx, a, username, validity, strings.TrimSpace(*reason), o, *asJSON)
				})
			}
		},
	}
}

// reset runs "admin reset" for username.
func (e *enrollEnv) reset(ctx context.Context, a *app, username string, validity time.Duration, reason string,
	o *issueFlags, asJSON bool) error {
	u, err := e.prepare(ctx, username, o, reason, "reset")
	if err != nil {
		return err
	}
	e.afterReset = true
	inv, rep, err := e.svc.ResetWith(ctx, u.ID, o.terms(validity), cliActor(), reason)
	if err != nil {
		return fmt.Errorf("reset %q: %w", username, err)
	}
	if err := tellTools(ctx, e.cfg, e.st, u.ID, a.stderr, e.logger); err != nil {
		fmt.Fprintf(a.stderr, "keyhall: warning: the tools were not told that %s's sessions ended: %v\n", username, err)
	}
	d := e.deliver(ctx, a, inv, o, false)
	d.notified, d.mailErr = e.notify(ctx, e.notices.Reset(u, rep, time.Now()))
	if d.mailErr != nil {
		fmt.Fprintf(a.stderr, "keyhall: warning: %s was not told by e-mail: %v\n", username, d.mailErr)
	}
	return d.print(a.stdout, inv, &rep, asJSON)
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
	cfg     Config
	st      authn.Store
	svc     *enroll.Service
	mailer  enroll.Mailer
	notices enroll.Notices
	logger  *slog.Logger
	// reset: the letters written follow an IT reset.
	afterReset bool
}

// withEnroll loads the configuration and the keys, opens the database and
// builds the enrollment service and the mailer, as serve does, and runs fn.
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
	notices, err := cfg.notices()
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
		return fn(&enrollEnv{cfg: cfg, st: st, svc: svc, mailer: mailer, notices: notices, logger: logger})
	})
}

// prepare finds the person and, with --letter, checks that a letter can
// be written for her before anything changes; then it stores --address as
// her postal address (audited, with reason), where it differs.
func (e *enrollEnv) prepare(ctx context.Context, username string, o *issueFlags, reason, via string) (authn.User, error) {
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
		dry, err := e.letter(ctx, enroll.Invitation{Link: "https://x", Code: "X", ExpiresAt: time.Now(), User: u}, *o.address)
		if err != nil {
			return u, err
		}
		if err := enroll.WriteLetter(io.Discard, dry); err != nil {
			return u, usagef("--letter: %v (the address comes from --address, the sender from the letter.* settings)", err)
		}
	}
	if lines := addressLines(*o.address); len(lines) > 0 && !slices.Equal(lines, u.PostalAddress) {
		return storeAddress(ctx, e.st, u, lines, reason, via)
	}
	return u, nil
}

// letter returns the letter for inv, to address (--address) or else to the
// person's stored postal address. It speaks of her password and her
// recovery codes as her enrollment will (enroll.Service.LetterFacts).
func (e *enrollEnv) letter(ctx context.Context, inv enroll.Invitation, address string) (enroll.Letter, error) {
	lines := addressLines(address)
	if len(lines) == 0 {
		lines = inv.User.PostalAddress
	}
	return e.svc.LetterFacts(ctx, enroll.Letter{
		Invitation: inv, Address: lines, Sender: e.cfg.sender(),
		CodeURL: enroll.EnrollURL(e.notices.PublicURL), Location: time.Local,
		Reset: e.afterReset,
	})
}

// delivery is what became of an invitation: its letter and its mail.
type delivery struct {
	letter    string // the file written
	letterErr error
	mailedTo  string // the address the invitation was mailed to
	notified  string // the address a reset notice was mailed to
	mailErr   error
}

// deliver writes the letter (with --letter) and mails the invitation
// (with --mail). A mail that fails is a warning; a letter that fails is an
// error, reported after the invitation is printed.
func (e *enrollEnv) deliver(ctx context.Context, a *app, inv enroll.Invitation, o *issueFlags, mail bool) delivery {
	var d delivery
	if *o.letter != "" {
		var buf bytes.Buffer
		l, err := e.letter(ctx, inv, *o.address)
		d.letterErr = err
		if d.letterErr == nil {
			d.letterErr = enroll.WriteLetter(&buf, l)
		}
		if d.letterErr == nil {
			d.letterErr = os.WriteFile(*o.letter, buf.Bytes(), 0o600) // it holds the link and code
		}
		if d.letterErr == nil {
			d.letter = *o.letter
		}
	}
	if mail {
		d.mailedTo, d.mailErr = e.notify(ctx, e.notices.InvitationIssued(inv))
		if d.mailErr != nil {
			fmt.Fprintf(a.stderr, "keyhall: warning: the invitation was not mailed: %v\n", d.mailErr)
		}
	}
	return d
}

// notify sends m when the person has an address; it returns the address
// mailed to, or the failure (already logged).
func (e *enrollEnv) notify(ctx context.Context, m enroll.Message) (string, error) {
	if m.To == "" {
		return "", fmt.Errorf("the person has no e-mail address")
	}
	if err := enroll.Notify(ctx, e.mailer, e.logger, m); err != nil {
		return "", err
	}
	if _, ok := e.mailer.(enroll.LogMailer); ok {
		return "", fmt.Errorf("no SMTP server is configured (mail.smtp_host)")
	}
	return m.To, nil
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
