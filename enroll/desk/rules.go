package desk

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/keyhall/keyhall/authn"
	"github.com/keyhall/keyhall/enroll"
)

// ApprovalTTL is how long a reset waits for a second person's approval.
const ApprovalTTL = 24 * time.Hour

// Validities of an invitation issued on the console.
const (
	// ConsoleLetterMax is the longest a letter's invitation is valid.
	ConsoleLetterMax = 30 * 24 * time.Hour
	// ConsoleLetterDefault is a letter's validity when none is asked for.
	ConsoleLetterDefault = 14 * 24 * time.Hour
	// DeskValidity is the validity of a link or code read out at the desk.
	DeskValidity = 10 * time.Minute
)

func invalid(de, en string) *Error { return &Error{De: de, En: en, Err: ErrInvalid} }

func forbidden(de, en string) *Error { return &Error{De: de, En: en, Err: ErrForbidden} }

// needReason refuses an empty reason.
func needReason(reason string) error {
	if strings.TrimSpace(reason) == "" {
		return invalid("Bitte geben Sie einen Grund an (etwa die Ticketnummer).",
			"Please give a reason (a ticket number, say).")
	}
	return nil
}

// checkIdentity refuses a missing or unknown identity check.
func checkIdentity(c IdentityCheck) error {
	switch c.Method {
	case CheckInPerson, CheckCallback, CheckVideo:
		return nil
	case CheckOther:
		if strings.TrimSpace(c.Text) == "" {
			return invalid("Bitte beschreiben Sie, wie Sie ihre Identität geprüft haben.",
				"Please say how you checked her identity.")
		}
		return nil
	case "":
		return invalid("Bitte geben Sie an, wie Sie ihre Identität geprüft haben.",
			"Please say how you checked her identity.")
	}
	return invalid("Diese Art der Identitätsprüfung gibt es nicht.",
		fmt.Sprintf("There is no identity check %q.", c.Method))
}

// subject is the person an action is about.
type subject struct {
	authn.User
	groups []string
	role   Role
}

// find reads the person userID with her groups and role.
func (s *Service) find(ctx context.Context, userID string) (subject, error) {
	u, err := s.cfg.Store.GetUser(ctx, userID)
	if errors.Is(err, authn.ErrNotFound) {
		return subject{}, &Error{De: "Diese Person gibt es nicht.", En: "There is no such person.", Err: err}
	}
	if err != nil {
		return subject{}, fmt.Errorf("desk: %w", err)
	}
	groups, err := s.cfg.Store.UserGroups(ctx, userID)
	if err != nil {
		return subject{}, fmt.Errorf("desk: groups of %s: %w", u.Username, err)
	}
	p := subject{User: u}
	for _, g := range groups {
		p.groups = append(p.groups, g.Name)
	}
	// Her tier comes from her groups whatever her status: a frozen or
	// disabled admin is protected as an active one is.
	p.role = s.roleByGroups(p.groups)
	return p, nil
}

// inAny reports whether p is a member of one of groups.
func (p subject) inAny(groups []string) bool {
	for _, g := range p.groups {
		if slices.Contains(groups, g) {
			return true
		}
	}
	return false
}

// herself reports whether the actor is the person p: the same account, or
// another account of hers in the same directory with the same stable id.
func (a Actor) herself(p authn.User) bool {
	if a.UserID != "" && a.UserID == p.ID {
		return true
	}
	return a.ExternalID != "" && a.Directory == p.Directory && a.ExternalID == p.ExternalID
}

// authorize refuses an action the actor may not take on p, and audits the
// refusal (desk.refused): no role; an admin's action as helpdesk; a
// helpdesk person acting on herself, on a helpdesk or admin person or on a
// member of a protected group.
func (s *Service) authorize(ctx context.Context, a Actor, action string, p subject, reason string, adminOnly bool) error {
	why, refusal := s.tier(a, p, adminOnly)
	if refusal == nil {
		return nil
	}
	return s.refuse(ctx, a, action, p, reason, why, refusal)
}

// tier says why a may not act on p (nil when she may); see authorize.
func (s *Service) tier(a Actor, p subject, adminOnly bool) (why string, refusal *Error) {
	switch {
	case a.Role != RoleHelpdesk && a.Role != RoleAdmin:
		why, refusal = "no role", forbidden("Sie haben keine Rolle am IT-Schalter.", "You have no role on the IT desk.")
	case a.BreakGlass && a.Via != "cli":
		why, refusal = "break-glass off the command line", forbidden("Notfallzugriff gibt es nur auf der Kommandozeile des Servers.",
			"Break-glass is only for the server's command line.")
	case adminOnly && a.Role != RoleAdmin:
		why, refusal = "admins only", forbidden("Das dürfen nur Administratorinnen und Administratoren.", "Only an administrator may do this.")
	case a.Role == RoleAdmin:
	case a.herself(p.User):
		why, refusal = "herself", forbidden("Am eigenen Zugang darf der IT-Schalter nicht handeln; bitten Sie eine Kollegin.",
			"The helpdesk may not act on its own account; ask a colleague.")
	case p.role != "":
		why, refusal = "subject has role "+string(p.role), forbidden(
			"Bei Personen mit einer Rolle am IT-Schalter handelt nur eine Administratorin oder ein Administrator.",
			"Only an administrator may act on a person with a role on the IT desk.")
	case p.inAny(s.cfg.Protected):
		why, refusal = "protected group", forbidden(
			"Diese Person gehört zu einer geschützten Gruppe: Hier handelt nur eine Administratorin oder ein Administrator.",
			"She is a member of a protected group: only an administrator may act on her.")
	}
	return why, refusal
}

// refuse audits a refusal (desk.refused: what was tried and why) and
// returns it.
func (s *Service) refuse(ctx context.Context, a Actor, action string, p subject, reason, why string, refusal *Error) error {
	ev := s.event(a, "desk.refused", p.User, reason, map[string]string{"tried": action, "why": why})
	if err := s.cfg.Store.AppendAudit(ctx, ev); err != nil {
		return fmt.Errorf("desk: audit a refusal: %w", err)
	}
	s.log.Warn("desk action refused", "actor", a.Audit, "action", action, "user", p.Username, "why", why)
	return refusal
}

// mustBeActive refuses to reset or invite a person who is disabled or
// frozen: her account is looked into, and the freeze or disable lifted,
// first (an invitation issued meanwhile would outlive the freeze).
func (s *Service) mustBeActive(ctx context.Context, a Actor, action string, p subject, reason string) error {
	if p.Status == authn.StatusActive {
		return nil
	}
	return s.refuse(ctx, a, action, p, reason, "not active ("+string(p.Status)+")", forbidden(
		"Ihr Zugang ist gesperrt oder eingefroren: Eine Administratorin oder ein Administrator muss ihn erst prüfen und freigeben.",
		"Her account is disabled or frozen: an administrator must look into it and lift that first."))
}

// notRoleHolder refuses to disable or freeze a person with a role on the
// desk, herself included, except with break-glass on the server's command
// line: either takes her role at once (RoleOf gives none to a person who
// is not active), so one admin alone could lock every other admin out.
// Her role is removed first, which a second admin approves; she can
// freeze her own account with her "this was not me" link.
func (s *Service) notRoleHolder(ctx context.Context, a Actor, action string, p subject, reason string) error {
	if p.role == "" || a.BreakGlass {
		return nil
	}
	return s.refuse(ctx, a, action, p, reason, "subject has role "+string(p.role), forbidden(
		"Sie hat eine Rolle am IT-Schalter: Entziehen Sie ihr zuerst die Rolle (eine zweite Administratorin oder ein zweiter Administrator stimmt zu); im Notfall auf der Kommandozeile des Servers mit --break-glass.",
		"She has a role on the IT desk: remove her role first (a second administrator approves); in an emergency, on the server's command line with --break-glass."))
}

// mayGiveFactor refuses what would let the desk put a new factor on an
// account without the checks of a reset: an invitation adds a factor
// beside hers, and the desk holds its code (read out, or in the letter's
// PDF). So a person who is not active gets none (a frozen or disabled
// account is looked into first); a person who has a key or app gets new
// ones only by a reset (identity check, dual control) or by herself on
// her account page, except from an admin where no dual control guards
// her; and a person whose reset needs a second person's approval gets
// none from the console at all (below).
func (s *Service) mayGiveFactor(ctx context.Context, a Actor, action string, p subject, d Delivery, reason string) error {
	if err := s.mustBeActive(ctx, a, action, p, reason); err != nil {
		return err
	}
	st, err := enroll.StateOf(ctx, s.cfg.Store, p.ID, s.now())
	if err != nil {
		return fmt.Errorf("desk: factors of %s: %w", p.Username, err)
	}
	if st.Keys+st.Apps > 0 && (a.Role != RoleAdmin || s.needsApproval(p)) {
		return s.refuse(ctx, a, action, p, reason, "has factors", forbidden(
			"Sie hat schon einen Sicherheitsschlüssel oder eine App. Eine Einladung gäbe ihr einen weiteren ohne Identitätsprüfung: "+
				"Setzen Sie ihre Faktoren zurück, oder sie fügt selbst einen hinzu (Ihr Konto → Anmeldemethoden).",
			"She has a security key or app already. An invitation would add another without an identity check: "+
				"reset her factors, or she adds one herself (her account → sign-in methods)."))
	}
	// Whoever asks for an invitation holds its code (read out, or the
	// letter's PDF): for a person whose reset needs a second person, one
	// person alone gets none on the console. A reset (also of a person
	// without any factor) is approved by a second person; a group's first
	// letters after an election come from the server's command line.
	if s.needsApproval(p) && a.Via != "cli" {
		return s.refuse(ctx, a, action, p, reason, "dual control", forbidden(
			"Eine Einladung für sie braucht eine zweite Person: Stellen Sie eine Zurücksetzung an, die eine zweite Person freigibt.",
			"An invitation for her needs a second person: ask for a reset, which a second person approves."))
	}
	return nil
}

// event is an audit event of the actor about p, with the details every
// desk event has (username, via, client address).
func (s *Service) event(a Actor, action string, p authn.User, reason string, details map[string]string) authn.AuditEvent {
	d := s.common(a, p)
	for k, v := range details {
		if v != "" {
			d[k] = v
		}
	}
	return authn.AuditEvent{Time: s.now(), Actor: a.Audit, Action: action, Subject: "user:" + p.ID,
		Reason: strings.TrimSpace(reason), ClientAddr: a.ClientAddr, Details: d}
}

// common are the details of every desk event about p.
func (s *Service) common(a Actor, p authn.User) map[string]string {
	d := map[string]string{"username": p.Username, "via": a.Via}
	if a.BreakGlass {
		d["break_glass"] = "true"
	}
	return d
}

// terms checks the terms of an invitation delivered d by a and returns
// them with the audit details.
func (s *Service) terms(a Actor, p authn.User, d Delivery, t enroll.Terms, reset bool) (enroll.Terms, error) {
	switch d {
	case DeliverLetter, DeliverDesk:
	case DeliverMail:
		if reset {
			return t, invalid("Nach dem Zurücksetzen geht die Einladung nicht per E-Mail: als Brief oder am Schalter.",
				"After a reset the invitation is not mailed: a letter, or at the desk.")
		}
	default:
		return t, invalid("Bitte wählen Sie, wie die Einladung zu ihr kommt.", "Please choose how the invitation reaches her.")
	}
	if a.Via != "cli" {
		switch d {
		case DeliverDesk:
			t.Validity = DeskValidity
		default:
			if t.Validity == 0 {
				t.Validity = ConsoleLetterDefault
			}
			if t.Validity < 0 || t.Validity > ConsoleLetterMax {
				return t, invalid("Eine Einladung gilt höchstens 30 Tage.", "An invitation is valid for at most 30 days.")
			}
		}
	}
	if t.RequirePassword && p.Source == authn.SourceDirectory {
		return t, invalid("Bei Personen aus dem Verzeichnis ist das Passwort das des Verzeichnisses.",
			"A directory person's password is the directory's: Keyhall cannot require her to choose one.")
	}
	t.Audit, t.ClientAddr = s.common(a, p), a.ClientAddr
	t.Audit["delivery"] = string(d)
	return t, nil
}

// AddressEditable refuses to store a postal address for a person of the
// directory: the sync sets hers from her entry (empty if it has none) and
// would overwrite, unseen, what IT stored here. It is changed in the
// directory; the next sync brings it.
func AddressEditable(u authn.User) error {
	if u.Source != authn.SourceDirectory {
		return nil
	}
	return invalid("Ihre Postanschrift kommt aus dem Verzeichnis: Ändern Sie sie dort, der nächste Abgleich übernimmt sie.",
		"She is a directory person: her postal address comes from the directory; change it there, the next sync brings it.")
}

// setAddress stores the postal address the command line gave (audited)
// where it differs; the console gives none: an invitation never goes to an
// address the caller names.
func (s *Service) setAddress(ctx context.Context, a Actor, p authn.User, lines []string, reason, via string) (authn.User, error) {
	if len(lines) == 0 || slices.Equal(lines, p.PostalAddress) {
		return p, nil
	}
	if a.Via != "cli" {
		return p, invalid("Die Adresse kommt aus ihren gespeicherten Daten, nicht aus dem Anruf.",
			"The address comes from her stored data, not from the caller.")
	}
	if err := AddressEditable(p); err != nil {
		return p, err
	}
	ev := s.event(a, "user.set_address", p, reason, nil)
	ev.Details["via"] = via // the command that stored it, as "users set-address" says
	now := ev.Time
	u, err := s.cfg.Store.UpdateUser(ctx, p.ID, func(old authn.User) (authn.User, error) {
		old.PostalAddress, old.UpdatedAt = lines, now
		return old, nil
	}, ev)
	if err != nil {
		return p, fmt.Errorf("set the address of %q: %w", p.Username, err)
	}
	return u, nil
}

// letter returns inv's letter; reset says it follows a reset.
func (s *Service) letter(ctx context.Context, inv enroll.Invitation, reset bool) (enroll.Letter, error) {
	l := enroll.Letter{Invitation: inv, Address: inv.User.PostalAddress, Sender: s.cfg.Sender,
		Location: time.Local, Reset: reset}
	if s.cfg.Notices.PublicURL != nil {
		l.CodeURL = enroll.EnrollURL(s.cfg.Notices.PublicURL)
	}
	return s.cfg.Enroll.LetterFacts(ctx, l)
}

// canWriteLetter checks, before anything changes, that a letter can be
// written for u.
func (s *Service) canWriteLetter(ctx context.Context, u authn.User, reset bool) error {
	l, err := s.letter(ctx, enroll.Invitation{Link: "https://x", Code: "X", ExpiresAt: s.now(), User: u}, reset)
	if err != nil {
		return fmt.Errorf("desk: %w", err)
	}
	if err := enroll.WriteLetter(io.Discard, l); err != nil {
		return &Error{De: "Für sie lässt sich kein Brief schreiben (Adresse, Absender): " + err.Error(),
			En: "No letter can be written for her (address, sender): " + err.Error(), Err: ErrInvalid}
	}
	return nil
}

// writeLetter returns inv's letter as PDF.
func (s *Service) writeLetter(ctx context.Context, inv enroll.Invitation, reset bool) ([]byte, error) {
	l, err := s.letter(ctx, inv, reset)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	if err := enroll.WriteLetter(&buf, l); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// notify sends m to her known address; it returns the address mailed to,
// or why not (logged).
func (s *Service) notify(ctx context.Context, m enroll.Message) (string, error) {
	if m.To == "" {
		return "", errors.New("the person has no e-mail address")
	}
	if s.cfg.Mailer == nil {
		return "", errors.New("no mail is configured")
	}
	if err := enroll.Notify(ctx, s.cfg.Mailer, s.log, m); err != nil {
		return "", err
	}
	if !enroll.Delivers(s.cfg.Mailer) {
		return "", errors.New("no SMTP server is configured (mail.smtp_host)")
	}
	return m.To, nil
}

// tellTools tells the tools that p's sessions ended.
func (s *Service) tellTools(ctx context.Context, userID string) error {
	if s.cfg.Tools == nil {
		return nil
	}
	if err := s.cfg.Tools.OIDCUserSignedOut(ctx, userID); err != nil {
		s.log.Warn("the tools were not all told that a person's sessions ended", "user_id", userID, "err", err)
		return err
	}
	return nil
}

// needsApproval reports whether a reset of p waits for a second person:
// she is an admin or a member of a group whose resets need approval.
func (s *Service) needsApproval(p subject) bool {
	return p.role == RoleAdmin || p.inAny(s.cfg.Approval)
}

// storeErr gives a store's refusal words for the desk.
func storeErr(err error) error {
	switch {
	case errors.Is(err, authn.ErrNotFound):
		return &Error{De: "Das gibt es nicht (mehr).", En: "Not found.", Err: err}
	case errors.Is(err, authn.ErrUsed):
		return &Error{De: "Darüber wurde schon entschieden.", En: "This was decided already.", Err: err}
	case errors.Is(err, authn.ErrExpired):
		return &Error{De: "Die Anfrage ist abgelaufen (nach 24 Stunden).", En: "The request expired (after 24 hours).", Err: err}
	case errors.Is(err, enroll.ErrDirectoryPassword):
		return &Error{De: "Bei Personen aus dem Verzeichnis ist das Passwort das des Verzeichnisses.", En: err.Error(), Err: ErrInvalid}
	}
	return err
}
