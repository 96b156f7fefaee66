package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/keyhall/keyhall/authn"
	"github.com/keyhall/keyhall/enroll"
	"github.com/keyhall/keyhall/enroll/desk"
)

// invitationJSON is the stable JSON form of an issued invitation.
type invitationJSON struct {
	Username  string    `json:"username"`
	Link      string    `json:"link"`
	Code      string    `json:"code"`
	ExpiresAt time.Time `json:"expires_at"`
	Letter    string    `json:"letter,omitempty"`
	MailedTo  string    `json:"mailed_to,omitempty"`
	// RequirePassword: she must choose a password before her enrollment
	// can finish (--require-password).
	RequirePassword bool `json:"require_password,omitempty"`
}

// resetJSON is the stable JSON form of a reset.
type resetJSON struct {
	Revoked struct {
		Keys          int      `json:"keys"`
		Apps          int      `json:"apps"`
		RecoveryCodes int      `json:"recovery_codes"`
		Sessions      int      `json:"sessions"`
		CredentialIDs []string `json:"credential_ids"`
	} `json:"revoked"`
	Invitation invitationJSON `json:"invitation"`
	Notified   string         `json:"notified,omitempty"`
}

// print writes what invite or reset (rep not nil) did, then returns the
// letter's failure, if any.
func (d delivery) print(w io.Writer, inv enroll.Invitation, rep *authn.ResetReport, asJSON bool) error {
	ij := invitationJSON{Username: inv.User.Username, Link: inv.Link, Code: inv.Code,
		ExpiresAt: inv.ExpiresAt.UTC(), Letter: d.letter, MailedTo: d.mailedTo, RequirePassword: inv.RequirePassword}
	var err error
	switch {
	case asJSON && rep != nil:
		var rj resetJSON
		rj.Revoked.Keys, rj.Revoked.Apps, rj.Revoked.RecoveryCodes, rj.Revoked.Sessions =
			rep.Keys, rep.Apps, rep.RecoveryCodes, rep.Sessions
		rj.Revoked.CredentialIDs = append([]string{}, rep.CredentialIDs...)
		rj.Invitation, rj.Notified = ij, d.notified
		err = writeJSON(w, rj)
	case asJSON:
		err = writeJSON(w, ij)
	default:
		err = d.printText(w, inv, rep)
	}
	if err != nil {
		return err
	}
	if d.letterErr != nil {
		return fmt.Errorf("the invitation is issued, but its letter was not written: %w", d.letterErr)
	}
	return nil
}

func (d delivery) printText(w io.Writer, inv enroll.Invitation, rep *authn.ResetReport) error {
	if rep != nil {
		fmt.Fprintf(w, "Reset %q: removed %d key(s), %d app(s), %d recovery code(s); ended %d session(s).\n",
			inv.User.Username, rep.Keys, rep.Apps, rep.RecoveryCodes, rep.Sessions)
		for _, id := range rep.CredentialIDs {
			fmt.Fprintf(w, "  revoked credential %s\n", id)
		}
	}
	fmt.Fprintf(w, "Invitation for %q, valid until %s:\n  Link: %s\n  Code: %s\n",
		inv.User.Username, formatTime(inv.ExpiresAt), inv.Link, inv.Code)
	if inv.RequirePassword {
		fmt.Fprintln(w, "  Her enrollment asks for a password after her first factor and does not finish without one;\n"+
			"  if she leaves it before (her key is kept), 'users show' says so until she sets one on /account.")
	}
	if d.letter != "" {
		fmt.Fprintf(w, "Letter written to %s.\n", d.letter)
	}
	if d.mailedTo != "" {
		fmt.Fprintf(w, "Invitation mailed to %s.\n", d.mailedTo)
	}
	if d.notified != "" {
		fmt.Fprintf(w, "Notice of the reset mailed to %s.\n", d.notified)
	}
	return nil
}

func revokeCredentialCommand() *command {
	return &command{
		name:    "revoke-credential",
		args:    "USERNAME CREDENTIAL_ID",
		summary: "remove one lost key or app of a person",
		help: "Removes one security key or authenticator app of a person (a lost key); she keeps\n" +
			"the others. 'keyhall admin users credentials USERNAME' lists the ids. The person is\n" +
			"told by e-mail when mail is configured.",
		examples: []string{`keyhall admin revoke-credential anna.mueller 01J9Z6K3V5W7X9Y1Z3A5B7C9D1 --reason "lost on the train"`},
		setup: func(fs *flag.FlagSet) action {
			cfgPath := configFlag(fs)
			reason := fs.String("reason", "", "why, for the audit log (required)")
			return func(ctx context.Context, a *app, args []string) error {
				if err := wantArgs(args, "USERNAME", "CREDENTIAL_ID"); err != nil {
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
					return e.revoke(ctx, a, username, args[1], strings.TrimSpace(*reason))
				})
			}
		},
	}
}

// revoke removes one credential of username and tells her.
func (e *enrollEnv) revoke(ctx context.Context, a *app, username, credID, reason string) error {
	u, err := findUser(ctx, e.st, username)
	if err != nil {
		return err
	}
	r, err := e.desk.RevokeFactorReport(ctx, desk.CLI(cliActor(), false), u.ID, credID, reason)
	if errors.Is(err, authn.ErrNotFound) {
		return &cliError{msg: fmt.Sprintf("user %q has no credential %q", username, credID), err: authn.ErrNotFound}
	}
	if err != nil {
		return deskErr(err)
	}
	fmt.Fprintf(a.stdout, "Revoked %s of %q.\n", r.Label, username)
	if r.NoticeErr != nil {
		fmt.Fprintf(a.stderr, "keyhall: warning: %s was not told by e-mail: %v\n", username, r.NoticeErr)
		return nil
	}
	_, err = fmt.Fprintf(a.stdout, "Notice mailed to %s.\n", r.Notified)
	return err
}

// credentialJSON is the stable JSON form of a key or app.
type credentialJSON struct {
	ID       string `json:"id"`
	Kind     string `json:"kind"`
	Model    string `json:"model"`
	AAGUID   string `json:"aaguid,omitempty"`
	Nickname string `json:"nickname"`
	Synced   bool   `json:"synced"`
	// Attested: a trusted root vouched for the key at registration, so
	// it signs in as a hardware key (phrh); false for keys registered
	// before schema 8, which kept no attestation.
	Attested bool `json:"attested"`
	// Compromise: FIDO's imported metadata reports the model so (REVOKED, …).
	Compromise string    `json:"compromise,omitempty"`
	CreatedAt  time.Time `json:"created_at"`
	LastUsedAt time.Time `json:"last_used_at,omitzero"`
}

func toCredentialJSON(c authn.Credential, models enroll.Models) credentialJSON {
	j := credentialJSON{ID: c.ID, Kind: string(c.Kind), Nickname: c.Nickname, Synced: c.BackupEligible, Attested: c.Attested,
		CreatedAt: c.CreatedAt.UTC(), LastUsedAt: c.LastUsedAt.UTC()}
	if id, err := uuid.FromBytes(c.AAGUID); err == nil && c.Kind == authn.KindWebAuthn {
		j.AAGUID, j.Model, j.Compromise = id.String(), models.Name(id), models.Compromise(id)
	}
	return j
}

func usersCredentialsCommand() *command {
	return &command{
		name:     "credentials",
		args:     "USERNAME",
		summary:  "list a person's security keys and apps",
		help:     "Lists a person's security keys and authenticator apps: id, kind, model, nickname,\nwhether synced, whether attested by a trusted root (only those reach phrh), when\nadded and when last used.",
		examples: []string{"keyhall admin users credentials anna.mueller", "keyhall admin users credentials anna.mueller --json"},
		setup: func(fs *flag.FlagSet) action {
			cfgPath, asJSON := configFlag(fs), jsonFlag(fs)
			return func(ctx context.Context, a *app, args []string) error {
				return withUser(ctx, a, *cfgPath, args, func(st authn.Store, u authn.User) error {
					creds, err := st.ListCredentials(ctx, u.ID)
					if err != nil {
						return fmt.Errorf("list credentials of %q: %w", u.Username, err)
					}
					models, err := enroll.LoadModels(ctx, st, creds...)
					if err != nil {
						return err
					}
					return printCredentials(a.stdout, creds, models, *asJSON)
				})
			}
		},
	}
}

func printCredentials(w io.Writer, creds []authn.Credential, models enroll.Models, asJSON bool) error {
	out := make([]credentialJSON, 0, len(creds))
	for _, c := range creds {
		out = append(out, toCredentialJSON(c, models))
	}
	if asJSON {
		return writeJSON(w, out)
	}
	rows := [][]string{{"ID", "KIND", "MODEL", "NICKNAME", "SYNCED", "ATTESTED", "ADDED", "LAST USED"}}
	for i, c := range out {
		model := c.Model
		if c.Compromise != "" {
			model += " [" + c.Compromise + "]"
		}
		rows = append(rows, []string{c.ID, c.Kind, cell(model), cell(c.Nickname),
			strconv.FormatBool(c.Synced), strconv.FormatBool(c.Attested), formatTime(creds[i].CreatedAt), formatTime(creds[i].LastUsedAt)})
	}
	return writeTable(w, rows)
}
