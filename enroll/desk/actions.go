package desk

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/keyhall/keyhall/authn"
	"github.com/keyhall/keyhall/enroll"
)

// Delivery is how a new invitation reaches the person.
type Delivery string

const (
	// DeliverLetter: a letter (PDF) to her postal address; valid at most
	// 30 days from the console.
	DeliverLetter Delivery = "letter"
	// DeliverDesk: link and code read out or shown at the desk; valid 10
	// minutes from the console.
	DeliverDesk Delivery = "desk"
	// DeliverMail: mailed to her known address (invitations only, never
	// for a reset).
	DeliverMail Delivery = "mail"
)

// InviteRequest asks for a new invitation for a person.
type InviteRequest struct {
	Reason   string
	Delivery Delivery
	Terms    enroll.Terms
	// Address (command line only) is stored as her postal address first,
	// audited.
	Address []string
	// AlsoMail (command line only, --letter with --mail): mail link and
	// code to her known address as well.
	AlsoMail bool
}

// ResetRequest asks to reset all of a person's factors.
type ResetRequest struct {
	Reason   string
	Check    IdentityCheck
	Delivery Delivery // DeliverLetter or DeliverDesk
	Terms    enroll.Terms
	Address  []string // command line only, as InviteRequest.Address
}

// Issued is a new invitation and what became of it.
type Issued struct {
	Invitation enroll.Invitation
	// Letter is the letter's PDF (DeliverLetter), nil otherwise.
	Letter []byte
	// LetterErr: the invitation is issued, but its letter could not be
	// written.
	LetterErr error
	// MailedTo is the address the invitation was mailed to (DeliverMail).
	MailedTo string
	MailErr  error
}

// ResetOutcome is what a reset did, or that it waits for approval.
type ResetOutcome struct {
	// Pending is set when the reset waits for a second person's approval;
	// then nothing else happened.
	Pending *Approval
	Issued
	Report authn.ResetReport
	// Notified is the address told of the reset; NoticeErr why not.
	Notified  string
	NoticeErr error
	// ToolsErr: the tools were not all told that her sessions ended.
	ToolsErr error
}

// Approval is a reset that waits for a second person (dual control).
type Approval struct {
	ID               string
	UserID, Username string // whom
	RequestedBy      string // the requester as the audit log names her
	RequesterID      string // her user id ("" for the command line)
	// RequesterName is the requester as a person reads her: "Helga Hahn
	// (helga)", or RequestedBy for the command line or an erased account.
	RequesterName        string
	Reason               string
	Check                IdentityCheck
	Delivery             Delivery
	CreatedAt, ExpiresAt time.Time
	DecidedAt            time.Time
	DecidedBy, Decision  string
	RequesterDirectory   string
	RequesterExternalID  string
	Terms                enroll.Terms
	// Kind is authn.ApprovalReset or authn.ApprovalRole; a role change adds
	// her to (Add) or removes her from the local group Group.
	Kind  string
	Group string
	Add   bool
}

// Invite issues a new invitation for the person userID.
func (s *Service) Invite(ctx context.Context, a Actor, userID string, in InviteRequest) (Issued, error) {
	p, err := s.find(ctx, userID)
	if err != nil {
		return Issued{}, err
	}
	if err := s.authorize(ctx, a, "invite", p, in.Reason, false); err != nil {
		return Issued{}, err
	}
	if err := s.mayGiveFactor(ctx, a, "invite", p, in.Delivery, in.Reason); err != nil {
		return Issued{}, err
	}
	return s.invite(ctx, a, p, in)
}

func (s *Service) invite(ctx context.Context, a Actor, p subject, in InviteRequest) (Issued, error) {
	if err := needReason(in.Reason); err != nil {
		return Issued{}, err
	}
	t, err := s.terms(a, p.User, in.Delivery, in.Terms, false)
	if err != nil {
		return Issued{}, err
	}
	reason := strings.TrimSpace(in.Reason)
	if in.Delivery == DeliverLetter {
		if err := s.canWriteLetter(ctx, withAddress(p.User, in.Address), false); err != nil {
			return Issued{}, err
		}
	}
	if p.User, err = s.setAddress(ctx, a, p.User, in.Address, reason, "invite"); err != nil {
		return Issued{}, err
	}
	inv, err := s.cfg.Enroll.IssueWith(ctx, p.ID, t, a.Audit, reason)
	if err != nil {
		return Issued{}, storeErr(err)
	}
	out := Issued{Invitation: inv}
	if in.Delivery == DeliverLetter {
		out.Letter, out.LetterErr = s.writeLetter(ctx, inv, false)
	}
	if in.Delivery == DeliverMail || in.AlsoMail {
		out.MailedTo, out.MailErr = s.notify(ctx, s.cfg.Notices.InvitationIssued(inv))
	}
	return out, nil
}

// Reset suspends all of the person's factors, ends her sessions and
// tokens, tells the tools, issues a new invitation and tells her; or,
// where policy asks for dual control, records a pending Approval.
func (s *Service) Reset(ctx context.Context, a Actor, userID string, in ResetRequest) (ResetOutcome, error) {
	p, err := s.find(ctx, userID)
	if err != nil {
		return ResetOutcome{}, err
	}
	if err := s.authorize(ctx, a, "reset", p, in.Reason, false); err != nil {
		return ResetOutcome{}, err
	}
	if err := s.mustBeActive(ctx, a, "reset", p, in.Reason); err != nil {
		return ResetOutcome{}, err
	}
	if err := needReason(in.Reason); err != nil {
		return ResetOutcome{}, err
	}
	if err := checkIdentity(in.Check); err != nil {
		return ResetOutcome{}, err
	}
	t, err := s.terms(a, p.User, in.Delivery, in.Terms, true)
	if err != nil {
		return ResetOutcome{}, err
	}
	if in.Delivery == DeliverLetter {
		if err := s.canWriteLetter(ctx, withAddress(p.User, in.Address), true); err != nil {
			return ResetOutcome{}, err
		}
	}
	if s.needsApproval(p) && !a.BreakGlass {
		return s.request(ctx, a, p, in, t)
	}
	return s.reset(ctx, a, p, in, t, nil)
}

// request records a reset of p that waits for a second person.
func (s *Service) request(ctx context.Context, a Actor, p subject, in ResetRequest, t enroll.Terms) (ResetOutcome, error) {
	if len(in.Address) > 0 {
		return ResetOutcome{}, invalid("Eine Adresse wird nicht mit einer Anfrage gespeichert, die auf Freigabe wartet.",
			"An address is not stored with a request that waits for approval; store it first (users set-address).")
	}
	now := s.now()
	ap := authn.Approval{ID: authn.NewID(), UserID: p.ID, RequestedBy: a.Audit, RequesterID: a.UserID,
		RequesterDirectory: a.Directory, RequesterExternal: a.ExternalID, Reason: strings.TrimSpace(in.Reason),
		CheckMethod: in.Check.Method, CheckText: strings.TrimSpace(in.Check.Text), Delivery: string(in.Delivery),
		Validity: t.Validity, RequirePassword: t.RequirePassword, CreatedAt: now, ExpiresAt: now.Add(ApprovalTTL)}
	ev := s.event(a, "reset.requested", p.User, in.Reason, checkDetails(in.Check, map[string]string{
		"approval_id": ap.ID, "delivery": string(in.Delivery), "expires_at": ap.ExpiresAt.Format(time.RFC3339)}))
	if err := s.cfg.Store.CreateApproval(ctx, ap, ev); err != nil {
		return ResetOutcome{}, fmt.Errorf("desk: %w", err)
	}
	s.log.Info("reset waits for approval", "user", p.Username, "actor", a.Audit, "approval", ap.ID)
	out := toApproval(ap, p.Username)
	return ResetOutcome{Pending: &out}, nil
}

// checkDetails adds the identity check to d.
func checkDetails(c IdentityCheck, d map[string]string) map[string]string {
	d["identity_check"] = c.Method
	if t := strings.TrimSpace(c.Text); t != "" {
		d["identity_check_text"] = t
	}
	return d
}

// reset carries out a reset of p: approved is the approval it follows,
// nil for none.
func (s *Service) reset(ctx context.Context, a Actor, p subject, in ResetRequest, t enroll.Terms, approved *authn.Approval) (ResetOutcome, error) {
	reason := strings.TrimSpace(in.Reason)
	var err error
	if p.User, err = s.setAddress(ctx, a, p.User, in.Address, reason, "reset"); err != nil {
		return ResetOutcome{}, err
	}
	t.Audit = checkDetails(in.Check, t.Audit)
	if approved != nil {
		t.Audit["approval_id"], t.Audit["requested_by"] = approved.ID, approved.RequestedBy
	}
	inv, rep, err := s.cfg.Enroll.ResetWith(ctx, p.ID, t, a.Audit, reason)
	if err != nil {
		return ResetOutcome{}, storeErr(err)
	}
	out := ResetOutcome{Issued: Issued{Invitation: inv}, Report: rep}
	out.ToolsErr = s.tellTools(ctx, p.ID)
	if in.Delivery == DeliverLetter {
		out.Letter, out.LetterErr = s.writeLetter(ctx, inv, true)
	}
	out.Notified, out.NoticeErr = s.notify(ctx, s.cfg.Notices.Reset(p.User, rep, s.now()))
	if out.NoticeErr != nil { // no mail reached her: a notice letter (PrintNoticeLetters)
		s.cfg.Enroll.QueueNoticeLetter(ctx, p.User, authn.NoticeReset, "", s.now())
	}
	return out, nil
}

// Approve carries out a pending reset as a second person.
func (s *Service) Approve(ctx context.Context, a Actor, approvalID string) (ResetOutcome, error) {
	ap, err := s.cfg.Store.GetApproval(ctx, approvalID)
	if err != nil {
		return ResetOutcome{}, storeErr(err)
	}
	p, err := s.find(ctx, ap.UserID)
	if err != nil {
		return ResetOutcome{}, err
	}
	if ap.Kind == authn.ApprovalRole {
		return ResetOutcome{}, s.approveRole(ctx, a, ap, p)
	}
	if err := s.authorize(ctx, a, "approve", p, ap.Reason, false); err != nil {
		return ResetOutcome{}, err
	}
	if err := s.mustBeActive(ctx, a, "approve", p, ap.Reason); err != nil {
		return ResetOutcome{}, err
	}
	if err := s.secondPerson(ctx, a, ap, p); err != nil {
		return ResetOutcome{}, err
	}
	if why, refusal := s.requesterMayAsk(ctx, ap, p); refusal != nil && ap.DecidedAt.IsZero() {
		return ResetOutcome{}, s.refuse(ctx, a, "approve", p, ap.Reason, why, refusal) // a decided one: decide says so
	}
	ev := s.event(a, "reset.approved", p.User, ap.Reason, map[string]string{
		"approval_id": ap.ID, "requested_by": ap.RequestedBy})
	if err := s.decide(ctx, a, ap, p, ev); err != nil {
		return ResetOutcome{}, err
	}
	in := ResetRequest{Reason: ap.Reason, Check: IdentityCheck{Method: ap.CheckMethod, Text: ap.CheckText},
		Delivery: Delivery(ap.Delivery)}
	t := enroll.Terms{Validity: ap.Validity, RequirePassword: ap.RequirePassword, Audit: s.common(a, p.User),
		ClientAddr: a.ClientAddr}
	t.Audit["delivery"] = ap.Delivery
	return s.reset(ctx, a, p, in, t, &ap)
}

// requesterMayAsk says why the reset ap of p can no longer be carried out
// on the requester's word (nil when it can): she asked for it, and made
// the identity check it rests on, so she must still be someone who may ask
// for it, an active person with the role it needs for p (tier). The
// command line's requests (no RequesterID) stand.
func (s *Service) requesterMayAsk(ctx context.Context, ap authn.Approval, p subject) (string, *Error) {
	if ap.RequesterID == "" {
		return "", nil
	}
	role, err := s.RoleOf(ctx, ap.RequesterID)
	if err != nil {
		role = "" // unreadable, or erased: her word no longer counts
	}
	requester := Actor{Audit: ap.RequestedBy, UserID: ap.RequesterID, Directory: ap.RequesterDirectory,
		ExternalID: ap.RequesterExternal, Role: role, Via: "console"}
	why, _ := s.tier(requester, p, false)
	if why == "" {
		return "", nil
	}
	return "the requester may no longer ask for it (" + why + ")", forbidden(
		"Wer den Reset beantragt hat, darf ihn nicht mehr beantragen (keine Rolle mehr am IT-Schalter, oder nicht für diese Person): Bitte neu beantragen.",
		"The person who asked for the reset may no longer ask for it (no role on the IT desk any more, or not for this person): please ask again.")
}

// decide records the approval of ap with ev, once; a second decision or
// one after expiry is refused, audited.
func (s *Service) decide(ctx context.Context, a Actor, ap authn.Approval, p subject, ev authn.AuditEvent) error {
	if _, err := s.cfg.Store.DecideApproval(ctx, ap.ID, a.Audit, "approved", s.now(), ev); err != nil {
		if errors.Is(err, authn.ErrUsed) || errors.Is(err, authn.ErrExpired) {
			why := map[bool]string{true: "decided already", false: "expired"}[errors.Is(err, authn.ErrUsed)]
			if aerr := s.cfg.Store.AppendAudit(ctx, s.event(a, "desk.refused", p.User, ap.Reason,
				map[string]string{"tried": "approve", "why": why, "approval_id": ap.ID})); aerr != nil {
				return fmt.Errorf("desk: audit a refusal: %w", aerr)
			}
		}
		return storeErr(err)
	}
	return nil
}

// secondPerson refuses an approver who is the requester (the same account
// or another account of the same person) or the person reset herself; the
// refusal is audited.
func (s *Service) secondPerson(ctx context.Context, a Actor, ap authn.Approval, p subject) error {
	why := notSecond(a, ap, p.User)
	if why == "" {
		return nil
	}
	ev := s.event(a, "desk.refused", p.User, ap.Reason, map[string]string{"tried": "approve", "why": why, "approval_id": ap.ID})
	if err := s.cfg.Store.AppendAudit(ctx, ev); err != nil {
		return fmt.Errorf("desk: audit a refusal: %w", err)
	}
	if why == "herself" {
		return forbidden("Den eigenen Zugang darf niemand selbst freigeben.", "No one may approve a reset of her own account.")
	}
	return forbidden("Eine zweite Person muss freigeben, nicht wer die Anfrage gestellt hat.",
		"A second person must approve, not the one who asked.")
}

// notSecond says why a may not approve ap of p ("" when she may): she
// asked for it (this or another account of hers), or it is about her.
func notSecond(a Actor, ap authn.Approval, p authn.User) string {
	switch {
	case a.Audit == ap.RequestedBy, a.UserID != "" && a.UserID == ap.RequesterID:
		return "own request"
	case ap.RequesterExternal != "" && a.Directory == ap.RequesterDirectory && a.ExternalID == ap.RequesterExternal:
		return "own request, another account"
	case a.herself(p):
		return "herself"
	}
	return ""
}

// Approvals lists the pending (not decided, not expired) approvals.
func (s *Service) Approvals(ctx context.Context, a Actor) ([]Approval, error) {
	if a.Role != RoleHelpdesk && a.Role != RoleAdmin {
		return nil, forbidden("Sie haben keine Rolle am IT-Schalter.", "You have no role on the IT desk.")
	}
	aps, err := s.cfg.Store.PendingApprovals(ctx, s.now())
	if err != nil {
		return nil, fmt.Errorf("desk: %w", err)
	}
	out := make([]Approval, 0, len(aps))
	for _, ap := range aps {
		name := ""
		if u, err := s.cfg.Store.GetUser(ctx, ap.UserID); err == nil {
			name = u.Username
		}
		out = append(out, s.withRequester(ctx, toApproval(ap, name)))
	}
	return out, nil
}

// withRequester is ap with the requester's name (Approval.RequesterName).
func (s *Service) withRequester(ctx context.Context, ap Approval) Approval {
	ap.RequesterName = ap.RequestedBy
	if ap.RequesterID == "" {
		return ap
	}
	if u, err := s.cfg.Store.GetUser(ctx, ap.RequesterID); err == nil {
		ap.RequesterName = u.Username
		if u.DisplayName != "" {
			ap.RequesterName = u.DisplayName + " (" + u.Username + ")"
		}
	}
	return ap
}

func toApproval(ap authn.Approval, username string) Approval {
	return Approval{ID: ap.ID, UserID: ap.UserID, Username: username, RequestedBy: ap.RequestedBy,
		RequesterID: ap.RequesterID, Reason: ap.Reason, Check: IdentityCheck{Method: ap.CheckMethod, Text: ap.CheckText},
		Delivery: Delivery(ap.Delivery), CreatedAt: ap.CreatedAt, ExpiresAt: ap.ExpiresAt, DecidedAt: ap.DecidedAt,
		DecidedBy: ap.DecidedBy, Decision: ap.Decision, RequesterDirectory: ap.RequesterDirectory,
		RequesterExternalID: ap.RequesterExternal,
		Terms:               enroll.Terms{Validity: ap.Validity, RequirePassword: ap.RequirePassword},
		Kind:                ap.Kind, Group: ap.Group, Add: ap.Add}
}

// Revoked is what RevokeFactorReport did.
type Revoked struct {
	Label     string // the factor's label (enroll.FactorLabel)
	Notified  string // the address told; NoticeErr why not
	NoticeErr error
}

// RevokeFactor removes one key or app of the person and tells her; it
// returns the factor's label.
func (s *Service) RevokeFactor(ctx context.Context, a Actor, userID, credID, reason string) (string, error) {
	r, err := s.RevokeFactorReport(ctx, a, userID, credID, reason)
	return r.Label, err
}

// RevokeFactorReport is RevokeFactor, saying whether she was told.
func (s *Service) RevokeFactorReport(ctx context.Context, a Actor, userID, credID, reason string) (Revoked, error) {
	p, err := s.find(ctx, userID)
	if err != nil {
		return Revoked{}, err
	}
	if err := s.authorize(ctx, a, "revoke_factor", p, reason, false); err != nil {
		return Revoked{}, err
	}
	if err := needReason(reason); err != nil {
		return Revoked{}, err
	}
	creds, err := s.cfg.Store.ListCredentials(ctx, p.ID)
	if err != nil {
		return Revoked{}, fmt.Errorf("desk: credentials of %s: %w", p.Username, err)
	}
	var r Revoked
	for _, c := range creds {
		if c.ID == credID {
			r.Label = enroll.FactorLabel(c)
		}
	}
	noSuch := &Error{De: "Diesen Schlüssel oder diese App hat sie nicht.", En: "She has no such key or app.", Err: authn.ErrNotFound}
	if r.Label == "" {
		return r, noSuch
	}
	ev := s.event(a, "credential.revoke", p.User, reason, map[string]string{"credential_id": credID})
	err = s.cfg.Store.DeleteCredential(ctx, p.ID, credID, ev)
	if errors.Is(err, authn.ErrNotFound) {
		return Revoked{}, noSuch
	}
	if err != nil {
		return Revoked{}, fmt.Errorf("desk: revoke credential of %s: %w", p.Username, err)
	}
	r.Notified, r.NoticeErr = s.notify(ctx, s.cfg.Notices.FactorRemoved(p.User, r.Label, s.now()))
	return r, nil
}

// EndSessions ends all of the person's sessions and tokens and tells the
// tools; it returns how many sessions ended.
func (s *Service) EndSessions(ctx context.Context, a Actor, userID, reason string) (int, error) {
	p, err := s.find(ctx, userID)
	if err != nil {
		return 0, err
	}
	if err := s.authorize(ctx, a, "end_sessions", p, reason, false); err != nil {
		return 0, err
	}
	if err := needReason(reason); err != nil {
		return 0, err
	}
	n, err := s.endSessions(ctx, a, p.User, reason)
	if err != nil {
		return 0, err
	}
	_ = s.tellTools(ctx, p.ID) // logged; her sessions here ended
	return n, nil
}

// endSessions revokes p's sessions with one audit event, also when she
// had none (the store writes it only for some).
func (s *Service) endSessions(ctx context.Context, a Actor, p authn.User, reason string) (int, error) {
	ev := s.event(a, "user.revoke_sessions", p, reason, nil)
	n, err := s.cfg.Store.RevokeUserSessions(ctx, p.ID, ev.Time, ev)
	if err != nil {
		return 0, fmt.Errorf("desk: revoke sessions of %s: %w", p.Username, err)
	}
	if n == 0 {
		ev.Details["count"] = strconv.Itoa(n)
		if err := s.cfg.Store.AppendAudit(ctx, ev); err != nil {
			return 0, fmt.Errorf("desk: audit: %w", err)
		}
	}
	return n, nil
}

// LiftThrottle clears the person's sign-in and password throttles, her
// account's and those of each browser she signed in on.
func (s *Service) LiftThrottle(ctx context.Context, a Actor, userID, reason string) error {
	p, err := s.find(ctx, userID)
	if err != nil {
		return err
	}
	if err := s.authorize(ctx, a, "lift_throttle", p, reason, false); err != nil {
		return err
	}
	if err := needReason(reason); err != nil {
		return err
	}
	keys := append(authn.ThrottleKeys(p.Username), enroll.ThrottleKeys(p.ID, p.Username)...)
	for _, k := range keys {
		if err := s.cfg.Store.ResetThrottle(ctx, k); err != nil {
			return fmt.Errorf("desk: lift the throttle of %s: %w", p.Username, err)
		}
	}
	for _, prefix := range authn.DeviceThrottlePrefixes(p.ID) { // her own browsers'
		if err := s.cfg.Store.ResetThrottlePrefix(ctx, prefix); err != nil {
			return fmt.Errorf("desk: lift the throttle of %s's browsers: %w", p.Username, err)
		}
	}
	if err := s.cfg.Store.AppendAudit(ctx, s.event(a, "user.lift_throttle", p.User, reason, nil)); err != nil {
		return fmt.Errorf("desk: audit: %w", err)
	}
	return nil
}

// Disabled is what DisableReport did.
type Disabled struct {
	// Changed: she was not disabled by an administrator before;
	// ByDirectory: the directory sync had disabled her.
	Changed, ByDirectory bool
	Sessions             int // sessions ended
	ToolsErr             error
}

// Disable disables the person (admins only), ends her sessions and tells
// the tools.
func (s *Service) Disable(ctx context.Context, a Actor, userID, reason string) error {
	_, err := s.DisableReport(ctx, a, userID, reason)
	return err
}

// DisableReport is Disable, saying what it did.
func (s *Service) DisableReport(ctx context.Context, a Actor, userID, reason string) (Disabled, error) {
	p, err := s.find(ctx, userID)
	if err != nil {
		return Disabled{}, err
	}
	if err := s.authorize(ctx, a, "disable", p, reason, true); err != nil {
		return Disabled{}, err
	}
	if err := s.notRoleHolder(ctx, a, "disable", p, reason); err != nil {
		return Disabled{}, err
	}
	if err := needReason(reason); err != nil {
		return Disabled{}, err
	}
	// Also a person the directory disabled: then the directory's enabling
	// her again does not enable her in Keyhall.
	ev := s.event(a, "user.disable", p.User, reason, nil)
	var d Disabled
	if d.Changed, err = s.cfg.Store.DisableUser(ctx, p.ID, ev.Time, ev); err != nil {
		return Disabled{}, fmt.Errorf("desk: disable %s: %w", p.Username, err)
	}
	d.ByDirectory = d.Changed && p.Status == authn.StatusDisabled
	if d.Sessions, err = s.endSessions(ctx, a, p.User, reason); err != nil {
		return Disabled{}, err
	}
	d.ToolsErr = s.tellTools(ctx, p.ID)
	return d, nil
}

// Enable enables a person an administrator disabled (admins only); not
// one the directory disables too: she is enabled there first.
func (s *Service) Enable(ctx context.Context, a Actor, userID, reason string) error {
	p, err := s.find(ctx, userID)
	if err != nil {
		return err
	}
	if err := s.authorize(ctx, a, "enable", p, reason, true); err != nil {
		return err
	}
	if err := needReason(reason); err != nil {
		return err
	}
	ev := s.event(a, "user.enable", p.User, reason, nil)
	changed, err := s.cfg.Store.EnableUser(ctx, p.ID, ev.Time, ev)
	if errors.Is(err, authn.ErrAccountDisabled) { // the directory's disable stays
		return s.refuse(ctx, a, "enable", p, reason, "disabled by the directory too", invalid(
			"Das Verzeichnis sperrt sie ebenfalls: Geben Sie sie zuerst im Verzeichnis frei, danach heben Sie hier die Sperre der Administration auf.",
			"The directory disables her too: enable her in the directory first, then lift the administrator's disable here."))
	}
	if err != nil {
		return fmt.Errorf("desk: enable %s: %w", p.Username, err)
	}
	if !changed {
		return invalid("Sie ist nicht von einer Administratorin oder einem Administrator gesperrt.",
			"She is not disabled by an administrator.")
	}
	return nil
}

// withAddress is u with the postal address lines, where given.
func withAddress(u authn.User, lines []string) authn.User {
	if len(lines) > 0 {
		u.PostalAddress = lines
	}
	return u
}

// Freeze freezes the person at once (admins only): as her own "this was
// not me" link does, her sessions end, her invitations are voided, the
// tools are told, and she cannot sign in or enroll until an admin lifts it.
func (s *Service) Freeze(ctx context.Context, a Actor, userID, reason string) (authn.FreezeReport, error) {
	p, err := s.find(ctx, userID)
	if err != nil {
		return authn.FreezeReport{}, err
	}
	if err := s.authorize(ctx, a, "freeze", p, reason, true); err != nil {
		return authn.FreezeReport{}, err
	}
	if err := s.notRoleHolder(ctx, a, "freeze", p, reason); err != nil {
		return authn.FreezeReport{}, err
	}
	if err := needReason(reason); err != nil {
		return authn.FreezeReport{}, err
	}
	ev := s.event(a, "user.frozen", p.User, reason, nil)
	rep, err := s.cfg.Store.FreezeUser(ctx, p.ID, ev.Time, ev)
	if err != nil {
		return rep, fmt.Errorf("desk: freeze %s: %w", p.Username, storeErr(err))
	}
	_ = s.tellTools(ctx, p.ID) // logged; her sessions are revoked all the same
	return rep, nil
}

// Unfreeze lifts a freeze (admins only) after an admin looked into it.
// With restore, the keys and apps a reset suspended are given back too:
// the reset was the attack, and her own factors are hers again.
func (s *Service) Unfreeze(ctx context.Context, a Actor, userID, reason string, restore bool) (restored int, err error) {
	p, err := s.find(ctx, userID)
	if err != nil {
		return 0, err
	}
	if err := s.authorize(ctx, a, "unfreeze", p, reason, true); err != nil {
		return 0, err
	}
	if err := needReason(reason); err != nil {
		return 0, err
	}
	ev := s.event(a, "user.unfrozen", p.User, reason, nil)
	err = s.cfg.Store.UnfreezeUser(ctx, p.ID, ev)
	if errors.Is(err, authn.ErrNotFound) { // she exists (find): not frozen
		return 0, invalid("Ihr Zugang ist nicht eingefroren.", "Her account is not frozen.")
	}
	if err != nil {
		return 0, fmt.Errorf("desk: unfreeze %s: %w", p.Username, err)
	}
	if !restore {
		return 0, nil
	}
	ev = s.event(a, "credential.restore", p.User, reason, nil)
	n, err := s.cfg.Store.RestoreSuspendedCredentials(ctx, p.ID, ev)
	if errors.Is(err, authn.ErrNotFound) {
		return 0, nil // none suspended
	}
	if err != nil {
		return 0, fmt.Errorf("desk: restore the factors of %s: %w", p.Username, err)
	}
	return n, nil
}
