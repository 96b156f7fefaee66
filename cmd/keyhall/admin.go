package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"os/user"
	"strings"
	"text/tabwriter"
	"time"
	"unicode"

	"github.com/keyhall/keyhall/authn"
	"github.com/keyhall/keyhall/authn/sqlstore"
	"github.com/keyhall/keyhall/enroll"
)

// adminCommand returns "keyhall admin", the commands for local people and
// groups. Each change writes an audit event naming the operating-system
// user who ran it ("cli:<name>").
func adminCommand() *command {
	return &command{
		name:    "admin",
		summary: "manage people, groups and their enrollment",
		help: "Manages people and groups in Keyhall's database, as the configuration\n" +
			"(--config FILE and KEYHALL_… variables) names it. Every change is audited.\n" +
			"oidc-secret makes a secret for a tool registered in oidc.clients.",
		subs: []*command{
			{
				name:    "users",
				summary: "add, list, show, disable, enable, freeze and unfreeze people",
				help:    "Manages people. Usernames are compared in canonical form: \"Anna.Müller\" is \"anna.müller\".",
				subs: []*command{usersAddCommand(), usersListCommand(), usersShowCommand(), usersSetAddressCommand(), usersDisableCommand(),
					usersEnableCommand(), usersFreezeCommand(), usersUnfreezeCommand(),
					usersCredentialsCommand()},
			},
			{
				name:    "groups",
				summary: "add and list groups, add members",
				help:    "Manages local groups. Groups synced from the directory are changed there.",
				subs:    []*command{groupsAddCommand(), groupsListCommand(), groupsAddMemberCommand(), groupsRemoveMemberCommand()},
			},
			inviteCommand(),
			confirmEmailCommand(),
			resetCommand(),
			revokeCredentialCommand(),
			oidcSecretCommand(),
			auditCommand(),
			noticesCommand(),
			backupCommand(),
			restoreCommand(),
			mdsCommand(),
			keysCommand(),
		},
	}
}

// cliError is a failure with a message for the person at the terminal and
// the cause underneath, for errors.Is.
type cliError struct {
	msg string
	err error
}

func (e *cliError) Error() string { return e.msg }
func (e *cliError) Unwrap() error { return e.err }

// configFlag declares --config, which every command that opens the
// database accepts.
func configFlag(fs *flag.FlagSet) *string {
	return fs.String("config", "", "read the settings from `FILE` (YAML); KEYHALL_… variables apply too")
}

// jsonFlag declares --json.
func jsonFlag(fs *flag.FlagSet) *bool {
	return fs.Bool("json", false, "print JSON for scripts instead of a table")
}

// withStore loads the configuration, opens the database it names, runs fn
// and closes the database.
func withStore(ctx context.Context, a *app, configPath string, fn func(authn.Store) error) error {
	cfg, err := loadConfig(configPath, a.env)
	if err != nil {
		return err
	}
	return withConfigStore(ctx, a, cfg, fn)
}

// withConfigStore opens the database cfg names, runs fn and closes the
// database.
func withConfigStore(ctx context.Context, a *app, cfg Config, fn func(authn.Store) error) error {
	password, err := cfg.storagePassword()
	if err != nil {
		return fmt.Errorf("storage_password_file: %w", err)
	}
	if cfg.Log.Level == "info" { // a command's output is the table, not the log
		cfg.Log.Level = "warn"
	}
	st, err := sqlstore.Open(ctx, cfg.Storage, sqlstore.Options{
		Logger: newLogger(cfg, a.stderr), MaxOpenConns: cfg.Database.MaxOpenConns, Password: password,
		Existing: true, // a command never sets up a database of its own: serve does
	})
	if err != nil {
		return err
	}
	ferr := fn(st)
	if err := st.Close(); err != nil && ferr == nil {
		return fmt.Errorf("close database: %w", err)
	}
	return ferr
}

// cliActor returns the audit actor for a command run by the current
// operating-system user.
func cliActor() string {
	if u, err := user.Current(); err == nil && u.Username != "" {
		return "cli:" + u.Username
	}
	if name := os.Getenv("USER"); name != "" {
		return "cli:" + name
	}
	return "cli:unknown"
}

// auditEvent returns an event done now by the CLI's actor; empty details
// are left out.
func auditEvent(now time.Time, action, subject, reason string, details map[string]string) authn.AuditEvent {
	for k, v := range details {
		if v == "" {
			delete(details, k)
		}
	}
	return authn.AuditEvent{
		Time: now, Actor: cliActor(), Action: action, Subject: subject, Reason: reason, Details: details,
	}
}

// canonical returns the canonical form of a username or group name, or a
// usage error saying what is wrong with it.
func canonical(what, name string) (string, error) {
	c, err := authn.CanonicalName(name)
	if err != nil {
		return "", usagef("%s %q: %v", what, name, err)
	}
	return c, nil
}

// userJSON is the stable JSON form of a person. Groups is present in
// "users show" (possibly empty) and absent in "users list".
type userJSON struct {
	ID          string    `json:"id"`
	Username    string    `json:"username"`
	DisplayName string    `json:"display_name"`
	Email       string    `json:"email"`
	Status      string    `json:"status"`
	Source      string    `json:"source"`
	Address     []string  `json:"postal_address,omitzero"`
	Groups      []string  `json:"groups,omitzero"`
	CreatedAt   time.Time `json:"created_at"`
	// Enrollment is in "users list" and "users show".
	Enrollment *enrollmentJSON `json:"enrollment,omitempty"`
}

// enrollmentJSON is the stable JSON form of how far a person's enrollment
// got (enroll.State).
type enrollmentJSON struct {
	Invitation          string    `json:"invitation"` // none, pending, expired, used, voided
	InvitationIssuedAt  time.Time `json:"invitation_issued_at,omitzero"`
	InvitationExpiresAt time.Time `json:"invitation_expires_at,omitzero"`
	InvitationUsedAt    time.Time `json:"invitation_used_at,omitzero"`
	Keys                int       `json:"keys"`
	Apps                int       `json:"apps"`
	RecoveryCodes       int       `json:"recovery_codes_left"`
	// PasswordRequired: her newest invitation requires her to choose a
	// password (--require-password); PasswordSet: she has a local one.
	PasswordRequired bool `json:"password_required"`
	PasswordSet      bool `json:"password_set"`
}

func toEnrollmentJSON(e enroll.State) *enrollmentJSON {
	return &enrollmentJSON{Invitation: string(e.Invitation), InvitationIssuedAt: e.Issued.UTC(), InvitationExpiresAt: e.Expires.UTC(),
		InvitationUsedAt: e.Used.UTC(), Keys: e.Keys, Apps: e.Apps, RecoveryCodes: e.RecoveryCodes,
		PasswordRequired: e.PasswordRequired, PasswordSet: e.HasPassword}
}

func toUserJSON(u authn.User, groups []authn.Group) userJSON {
	j := userJSON{
		ID: u.ID, Username: u.Username, DisplayName: u.DisplayName, Email: u.Email,
		Status: string(u.Status), Source: string(u.Source), CreatedAt: u.CreatedAt.UTC(), Address: u.PostalAddress,
	}
	if groups != nil {
		j.Groups = groupNames(groups)
	}
	return j
}

// groupJSON is the stable JSON form of a group.
type groupJSON struct {
	ID          string    `json:"id"`
	Name        string    `json:"name"`
	DisplayName string    `json:"display_name"`
	Source      string    `json:"source"`
	CreatedAt   time.Time `json:"created_at"`
}

func toGroupJSON(g authn.Group) groupJSON {
	return groupJSON{ID: g.ID, Name: g.Name, DisplayName: g.DisplayName, Source: string(g.Source), CreatedAt: g.CreatedAt.UTC()}
}

func groupNames(groups []authn.Group) []string {
	names := make([]string, len(groups))
	for i, g := range groups {
		names[i] = g.Name
	}
	return names
}

// writeJSON writes v as indented JSON.
func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return fmt.Errorf("write JSON: %w", err)
	}
	return nil
}

// writeTable writes rows as columns aligned with spaces; the first row is
// the header.
func writeTable(w io.Writer, rows [][]string) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, r := range rows {
		fmt.Fprintln(tw, strings.Join(r, "\t"))
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("write table: %w", err)
	}
	return nil
}

// cell returns s for a table cell: control characters (a tab would break
// the columns) become spaces, and an empty cell is "-".
func cell(s string) string {
	if s == "" {
		return "-"
	}
	return strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, s)
}

// formatTime formats t for a table, in local time.
func formatTime(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.Local().Format("2006-01-02 15:04")
}
