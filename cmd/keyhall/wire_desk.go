package main

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/keyhall/keyhall/authn"
	"github.com/keyhall/keyhall/enroll"
	"github.com/keyhall/keyhall/enroll/desk"
)

// deskConfig is the IT desk's configuration (enroll/desk): roles from
// admin.roles and admin_group, protected groups and those whose resets
// need approval from policy.groups, the letters' sender, the mail. tools
// is told when a person's sessions end (nil: none).
func deskConfig(cfg Config, st authn.Store, svc *enroll.Service, mailer enroll.Mailer, tools desk.Tools,
	logger *slog.Logger) (desk.Config, error) {
	notices, err := cfg.notices()
	if err != nil {
		return desk.Config{}, err
	}
	dc := desk.Config{
		Store: st, Enroll: svc, Mailer: mailer, Notices: notices, Tools: tools,
		Roles:      cfg.deskRoles(),
		AdminGroup: cfg.AdminGroup, Sender: cfg.sender(), Logger: logger,
	}
	for _, name := range slices.Sorted(maps.Keys(cfg.Policy.Groups)) {
		g := cfg.Policy.Groups[name]
		if g.Protected {
			dc.Protected = append(dc.Protected, name)
		}
		if g.ResetApproval {
			dc.Approval = append(dc.Approval, name)
		}
	}
	return dc, nil
}

// deskRoles are the groups that give each role on the desk (admin.roles).
func (c Config) deskRoles() map[desk.Role][]string {
	return map[desk.Role][]string{
		desk.RoleHelpdesk: slices.Clone(c.Admin.Roles.Helpdesk),
		desk.RoleAdmin:    slices.Clone(c.Admin.Roles.Admin),
	}
}

// cliTools tells the tools from the command line (tellTools): the command
// is the only process that knows that a person's sessions ended.
type cliTools struct {
	cfg    Config
	st     authn.Store
	stderr io.Writer
	logger *slog.Logger
}

func (t cliTools) OIDCUserSignedOut(ctx context.Context, userID string) error {
	return tellTools(ctx, t.cfg, t.st, userID, t.stderr, t.logger)
}

// cliDesk returns the desk for the command line.
func (e *enrollEnv) cliDesk(stderr io.Writer) (*desk.Service, error) {
	dc, err := deskConfig(e.cfg, e.st, e.svc, e.mailer, cliTools{e.cfg, e.st, stderr, e.logger}, e.logger)
	if err != nil {
		return nil, err
	}
	return desk.New(dc)
}

// deskErr gives the desk's refusal to the person at the terminal: wrong
// input is a usage error (exit 2), the rest a failure (exit 1) with the
// desk's words.
func deskErr(err error) error {
	var de *desk.Error
	if !errors.As(err, &de) {
		return err
	}
	if errors.Is(de, desk.ErrInvalid) {
		return usagef("%s", de.En)
	}
	return &cliError{msg: de.En, err: de}
}

// parseIdentityCheck reads --identity-check: in_person, callback, video or
// other:TEXT.
func parseIdentityCheck(s string) (desk.IdentityCheck, error) {
	method, text, _ := strings.Cut(strings.TrimSpace(s), ":")
	switch method {
	case desk.CheckInPerson, desk.CheckCallback, desk.CheckVideo:
		if text == "" {
			return desk.IdentityCheck{Method: method}, nil
		}
	case desk.CheckOther:
		if strings.TrimSpace(text) != "" {
			return desk.IdentityCheck{Method: method, Text: strings.TrimSpace(text)}, nil
		}
	case "":
		return desk.IdentityCheck{}, usagef("--identity-check is required: say how you checked that the caller is the person " +
			"(in_person, callback, video or other:TEXT)")
	}
	return desk.IdentityCheck{}, usagef("--identity-check %q is not in_person, callback, video or other:TEXT", s)
}

// approvalJSON is the stable JSON form of a reset that waits for approval.
type approvalJSON struct {
	ID        string    `json:"id"`
	Username  string    `json:"username"`
	ExpiresAt time.Time `json:"expires_at"`
}
