package desk

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/google/uuid"

	"github.com/keyhall/keyhall/authn"
	"github.com/keyhall/keyhall/enroll"
)

// The read model: what the console (and the command line) shows of people,
// the installation and the audit log. Every read needs a role; none shows a
// secret (no public keys, app secrets, codes, session hashes).

// SearchPageSize is how many people one page of a search holds.
const SearchPageSize = 50

// SearchPage is one page of people found.
type SearchPage struct {
	People []authn.User
	// Next is the username the next page starts after; "" on the last.
	Next string
}

// Factor is one key or app of a person, without its secret.
type Factor struct {
	ID       string
	Kind     authn.CredentialKind
	Nickname string
	Model    string // the key's model from its AAGUID; "" when unknown
	// Compromise is what FIDO's imported metadata reports against the
	// key's model (REVOKED, …; authn.KeyModel.Compromise): IT replaces it.
	Compromise    string
	Certification string // the model's highest FIDO certification level, "" when unknown
	// ModelVerified: an attestation chaining to a trusted root proved the
	// model at registration (authn.Credential.Attested), or its stored
	// chain leads to a root the imported MDS blob lists for the model
	// (enroll.Models.Verified); else Model, Compromise and Certification
	// are of the model the key claims.
	ModelVerified         bool
	CreatedAt, LastUsedAt time.Time
	Cloned                bool        // the key's sign count went backwards
	Level                 authn.Level // the level a sign-in with the key reaches
}

// SessionInfo is one active session of a person, without its id.
type SessionInfo struct {
	Device     string // the browser's User-Agent
	Addr       string
	Level      authn.Level
	CreatedAt  time.Time
	LastSeenAt time.Time
}

// OpenInvitation is a person's invitation that can still be used.
type OpenInvitation struct {
	CreatedAt, ExpiresAt time.Time
	CreatedBy            string
}

// Person is what a person's page shows.
type Person struct {
	User   authn.User
	Groups []authn.Group
	// Level is the level her groups' policy asks of her sign-ins.
	Level authn.Level
	// LastSync is the last good sync of her directory (directory people).
	LastSync time.Time
	Keys     []Factor
	Apps     []Factor
	// RecoveryCodes is how many unused recovery codes she has.
	RecoveryCodes int
	Invitation    *OpenInvitation // nil: none open
	Sessions      []SessionInfo
	// SignIns are her last 20 sign-ins and refusals, newest first.
	SignIns []authn.AuditEvent
	// Protected: a member of a group whose people only an admin may act
	// on; Approval: her reset waits for a second person.
	Protected, Approval bool
	// Role is her own role on the desk.
	Role Role
	// Suspended are the keys and apps a reset suspended, not yet deleted
	// (they go when she enrolls a new factor; an unfreeze may restore them).
	Suspended []Factor
	// Pending are the resets of her that wait for approval.
	Pending []PendingReset
}

// PendingReset is a reset waiting for approval, as the viewer of a
// person's page sees it.
type PendingReset struct {
	Approval
	// MayApprove: the viewer may approve it (another person than the one
	// who asked, and allowed to act on her).
	MayApprove bool
	// Refused says why nobody may approve it now (the requester may no
	// longer ask for it, as Approve would refuse); nil when it stands.
	Refused *Error
}

// Overview is the console's first page.
type Overview struct {
	// Groups counts the active people by factor: all people first, then
	// each group the policy names.
	Groups []authn.FactorCount
	// Invitations counts the open invitations younger than a day, a week,
	// 30 days, and older (InvitationAgeBounds).
	Invitations []int
	// Refusals are the refused attempts of the last 24 hours, by action.
	Refusals map[string]int
	// LastSync is the newest directory sync event (sync or abort); nil
	// when there was none.
	LastSync *authn.AuditEvent
	// Resets are the resets of the last 7 days, newest first.
	Resets []authn.AuditEvent
	// Cloned are the newest keys flagged as cloned.
	Cloned []authn.AuditEvent
	// Frozen are the people who froze their account with a "this was not
	// me" link, the most recently frozen first: an admin must look.
	Frozen []authn.FrozenUser
	// Approvals are the pending approvals, each saying whether the viewer
	// may approve it; ApprovalsErr why they could not be read.
	Approvals    []PendingReset
	ApprovalsErr error
	// NoticeLetters counts the notice letters to print and send
	// (PrintNoticeLetters); Unnotified are the people whom a notice could
	// not reach at all: no mail and no postal address.
	NoticeLetters int
	Unnotified    []authn.User
}

// InvitationAgeBounds are the ages Overview.Invitations is counted by.
var InvitationAgeBounds = []time.Duration{24 * time.Hour, 7 * 24 * time.Hour, 30 * 24 * time.Hour}

// RefusalActions are the audit actions the overview counts as refusals.
var RefusalActions = []string{"admin.refused", "signin.refused"}

// mayRead refuses an actor without a role.
func mayRead(a Actor) error {
	if a.Role != RoleHelpdesk && a.Role != RoleAdmin {
		return &Error{De: "Dafür fehlt Ihnen die Rolle.", En: "You do not have the role for this.", Err: ErrForbidden}
	}
	return nil
}

// MaxSearchQuery bounds a search's text, in bytes (a name, a username or
// an address is far shorter; each word costs the store a query).
const MaxSearchQuery = 200

// Search finds people by the start of a word of their name, username or
// e-mail (case and umlaut insensitive), SearchPageSize a page, the page
// after the username after.
func (s *Service) Search(ctx context.Context, a Actor, q, after string) (SearchPage, error) {
	if err := mayRead(a); err != nil {
		return SearchPage{}, err
	}
	if len(q) > MaxSearchQuery || len(after) > MaxSearchQuery {
		return SearchPage{}, invalid(fmt.Sprintf("Bitte suchen Sie mit höchstens %d Zeichen.", MaxSearchQuery),
			fmt.Sprintf("Please search with at most %d characters.", MaxSearchQuery))
	}
	people, err := s.cfg.Store.SearchUsers(ctx, q, after, SearchPageSize+1)
	if err != nil {
		return SearchPage{}, fmt.Errorf("search people: %w", err)
	}
	var p SearchPage
	if len(people) > SearchPageSize {
		people = people[:SearchPageSize]
		p.Next = people[len(people)-1].Username
	}
	p.People = people
	return p, nil
}

// Person reads what a person's page shows; an *Error wrapping
// authn.ErrNotFound when there is no such person.
func (s *Service) Person(ctx context.Context, a Actor, userID string) (Person, error) {
	if err := mayRead(a); err != nil {
		return Person{}, err
	}
	rec, err := s.cfg.Store.GetSignInRecord(ctx, userID)
	if errors.Is(err, authn.ErrNotFound) {
		return Person{}, &Error{De: "Diese Person gibt es nicht.", En: "There is no such person.", Err: err}
	}
	if err != nil {
		return Person{}, fmt.Errorf("read person %s: %w", userID, err)
	}
	now := s.now()
	p := Person{User: rec.User}
	if p.Groups, err = s.cfg.Store.UserGroups(ctx, userID); err != nil {
		return Person{}, fmt.Errorf("read groups of %s: %w", userID, err)
	}
	for _, g := range rec.Groups {
		if gp, ok := s.cfg.Policy.Groups[g]; ok && !p.Level.Meets(gp.Level) {
			p.Level = gp.Level
		}
		p.Protected = p.Protected || slices.Contains(s.cfg.Protected, g)
		p.Approval = p.Approval || slices.Contains(s.cfg.Approval, g)
	}
	models, err := enroll.LoadModels(ctx, s.cfg.Store, rec.Credentials...)
	if err != nil {
		return Person{}, fmt.Errorf("read key models of %s: %w", userID, err)
	}
	for _, c := range rec.Credentials {
		f := Factor{ID: c.ID, Kind: c.Kind, Nickname: c.Nickname, CreatedAt: c.CreatedAt, LastUsedAt: c.LastUsedAt, Cloned: c.Cloned}
		if c.Kind == authn.KindWebAuthn {
			var id uuid.UUID
			copy(id[:], c.AAGUID)
			f.Model, f.Level = models.Name(id), authn.KeyLevel(c)
			f.Compromise, f.Certification = models.Compromise(id), models.Certification(id)
			f.ModelVerified = models.Verified(c)
			p.Keys = append(p.Keys, f)
		} else {
			p.Apps = append(p.Apps, f)
		}
	}
	if p.RecoveryCodes, err = s.cfg.Store.CountRecoveryCodes(ctx, userID); err != nil {
		return Person{}, fmt.Errorf("count recovery codes of %s: %w", userID, err)
	}
	inv, err := s.cfg.Store.LatestInvitation(ctx, userID)
	switch {
	case err == nil && inv.UsedAt.IsZero() && inv.VoidedAt.IsZero() && now.Before(inv.ExpiresAt):
		p.Invitation = &OpenInvitation{CreatedAt: inv.CreatedAt, ExpiresAt: inv.ExpiresAt, CreatedBy: inv.CreatedBy}
	case err != nil && !errors.Is(err, authn.ErrNotFound):
		return Person{}, fmt.Errorf("read invitation of %s: %w", userID, err)
	}
	sessions, err := s.cfg.Store.ListUserSessions(ctx, userID, now)
	if err != nil {
		return Person{}, fmt.Errorf("read sessions of %s: %w", userID, err)
	}
	for _, se := range sessions {
		p.Sessions = append(p.Sessions, SessionInfo{Device: se.UserAgent, Addr: se.ClientAddr, Level: authn.Level(se.ACR),
			CreatedAt: se.CreatedAt, LastSeenAt: se.LastSeenAt})
	}
	if p.SignIns, err = s.cfg.Store.SearchAudit(ctx, authn.AuditQuery{Subject: "user:" + userID, Action: "signin", Limit: 20}); err != nil {
		return Person{}, fmt.Errorf("read sign-ins of %s: %w", userID, err)
	}
	if p.User.Directory != "" {
		st, err := s.cfg.Store.GetDirectoryState(ctx, p.User.Directory)
		if err != nil {
			return Person{}, fmt.Errorf("read directory state of %s: %w", p.User.Directory, err)
		}
		p.LastSync = st.LastSuccessAt
	}
	if p.Role, err = s.RoleOf(ctx, userID); err != nil {
		return Person{}, err
	}
	suspended, err := s.cfg.Store.ListSuspendedCredentials(ctx, userID)
	if err != nil {
		return Person{}, fmt.Errorf("read suspended factors of %s: %w", userID, err)
	}
	for _, c := range suspended {
		f := Factor{ID: c.ID, Kind: c.Kind, Nickname: c.Nickname, CreatedAt: c.CreatedAt, LastUsedAt: c.LastUsedAt, Cloned: c.Cloned}
		if c.Kind == authn.KindWebAuthn {
			var id uuid.UUID
			copy(id[:], c.AAGUID)
			f.Model, f.Level = enroll.ModelName(id), authn.KeyLevel(c)
		}
		p.Suspended = append(p.Suspended, f)
	}
	aps, err := s.cfg.Store.PendingApprovals(ctx, now)
	if err != nil {
		return Person{}, fmt.Errorf("read approvals: %w", err)
	}
	subj := subject{User: rec.User, groups: rec.Groups, role: p.Role}
	for _, ap := range aps {
		if ap.UserID == userID {
			p.Pending = append(p.Pending, s.pending(ctx, a, ap, subj))
		}
	}
	return p, nil
}

// pending is ap of p as the viewer a sees it.
func (s *Service) pending(ctx context.Context, a Actor, ap authn.Approval, p subject) PendingReset {
	_, refusal := s.tier(a, p, ap.Kind == authn.ApprovalRole)
	out := PendingReset{Approval: s.withRequester(ctx, toApproval(ap, p.Username)),
		MayApprove: refusal == nil && notSecond(a, ap, p.User) == ""}
	if ap.Kind != authn.ApprovalRole {
		// Approve's re-check of the requester: not offered if it refuses.
		if _, stale := s.requesterMayAsk(ctx, ap, p); stale != nil {
			out.MayApprove, out.Refused = false, stale
		}
	}
	return out
}

// approvals are the pending approvals as the viewer a sees them.
func (s *Service) approvals(ctx context.Context, a Actor) ([]PendingReset, error) {
	aps, err := s.cfg.Store.PendingApprovals(ctx, s.now())
	if err != nil {
		return nil, fmt.Errorf("desk: %w", err)
	}
	out := make([]PendingReset, 0, len(aps))
	for _, ap := range aps {
		p, err := s.find(ctx, ap.UserID)
		if err != nil { // gone (or unreadable): shown, not offered
			out = append(out, PendingReset{Approval: s.withRequester(ctx, toApproval(ap, ""))})
			continue
		}
		out = append(out, s.pending(ctx, a, ap, p))
	}
	return out, nil
}

// Overview reads the console's first page.
func (s *Service) Overview(ctx context.Context, a Actor) (Overview, error) {
	if err := mayRead(a); err != nil {
		return Overview{}, err
	}
	now := s.now()
	var o Overview
	var groups []string
	for g := range s.cfg.Policy.Groups {
		groups = append(groups, g)
	}
	groups = append(append(groups, s.cfg.Protected...), s.cfg.Approval...)
	slices.Sort(groups)
	var err error
	if o.Groups, err = s.cfg.Store.FactorCounts(ctx, slices.Compact(groups)...); err != nil {
		return Overview{}, err
	}
	if o.Invitations, err = s.cfg.Store.OpenInvitationAges(ctx, now, InvitationAgeBounds); err != nil {
		return Overview{}, err
	}
	if o.Refusals, err = s.cfg.Store.CountAudit(ctx, now.Add(-24*time.Hour), RefusalActions...); err != nil {
		return Overview{}, err
	}
	syncs, err := s.cfg.Store.SearchAudit(ctx, authn.AuditQuery{Action: "directory.sync", Limit: 1})
	if err != nil {
		return Overview{}, err
	}
	if len(syncs) == 1 {
		o.LastSync = &syncs[0]
	}
	if o.Resets, err = s.cfg.Store.SearchAudit(ctx, authn.AuditQuery{Action: "user.reset", From: now.Add(-7 * 24 * time.Hour), Limit: 200}); err != nil {
		return Overview{}, err
	}
	if o.Cloned, err = s.cfg.Store.SearchAudit(ctx, authn.AuditQuery{Action: "credential.cloned", Limit: 20}); err != nil {
		return Overview{}, err
	}
	if o.Frozen, err = s.cfg.Store.ListFrozen(ctx); err != nil {
		return Overview{}, fmt.Errorf("read frozen accounts: %w", err)
	}
	if o.NoticeLetters, o.Unnotified, err = s.noticeQueue(ctx); err != nil {
		return Overview{}, err
	}
	o.Approvals, o.ApprovalsErr = s.approvals(ctx, a)
	return o, nil
}

// AuditLog returns the audit events that match q, newest first.
func (s *Service) AuditLog(ctx context.Context, a Actor, q authn.AuditQuery) ([]authn.AuditEvent, error) {
	if err := mayRead(a); err != nil {
		return nil, err
	}
	// The whole log holds everybody's sign-ins and addresses: reading it
	// all is an administrator's (and her export is audited); the
	// helpdesk reads the log of one person at a time.
	if a.Role != RoleAdmin && q.Subject == "" {
		return nil, &Error{De: "Wählen Sie eine Person: Das ganze Protokoll lesen Administratorinnen und Administratoren.",
			En: "Choose a person: the whole log is for administrators.", Err: ErrForbidden}
	}
	evs, err := s.cfg.Store.SearchAudit(ctx, q)
	if err != nil {
		return nil, fmt.Errorf("read audit log: %w", err)
	}
	return evs, nil
}

// Refusals of one actor audited per window (Refused).
const (
	refusedAudited = 5
	refusedWindow  = 10 * time.Minute
)

// Refused records a refused attempt at the desk (no role, no fresh
// sign-in, another origin) as "admin.refused" with what was tried.
func (s *Service) Refused(ctx context.Context, actor, clientAddr, what, why string) error {
	// At most refusedAudited a window per actor: a signed-in person
	// without a role must not fill the audit log by reloading /admin.
	n, err := s.cfg.Store.HitThrottle(ctx, "admin-refused:"+actor, s.now(), refusedWindow)
	if err != nil {
		return fmt.Errorf("audit a refusal: %w", err)
	}
	if n > refusedAudited {
		s.log.Warn("console refusal not audited: too many", "actor", actor, "what", what, "why", why, "client", clientAddr)
		return nil
	}
	ev := authn.AuditEvent{Time: s.now(), Actor: actor, Action: "admin.refused", ClientAddr: clientAddr,
		Details: map[string]string{"what": what, "why": why}}
	if err := s.cfg.Store.AppendAudit(ctx, ev); err != nil {
		return fmt.Errorf("audit a refusal: %w", err)
	}
	return nil
}
