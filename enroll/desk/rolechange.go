package desk

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/keyhall/keyhall/authn"
)

// GivesRole reports whether the group (canonical name) gives a role: the
// bootstrap administrators' group, or a group admin.roles names.
func (s *Service) GivesRole(group string) bool { return s.cfg.GivesRole(group) }

// GivesRole reports whether the group gives a role (the bootstrap
// administrators' group, or one Roles names): the rule the command line
// checks before the store is open.
func (c Config) GivesRole(group string) bool {
	if group == "" {
		return false
	}
	if group == c.AdminGroup {
		return true
	}
	for _, gs := range c.Roles {
		if slices.Contains(gs, group) {
			return true
		}
	}
	return false
}

// RoleGroups lists the groups that give a role, the bootstrap
// administrators' group first.
func (s *Service) RoleGroups() []string {
	var out []string
	if s.cfg.AdminGroup != "" {
		out = append(out, s.cfg.AdminGroup)
	}
	for _, r := range []Role{RoleAdmin, RoleHelpdesk} {
		for _, g := range s.cfg.Roles[r] {
			if !slices.Contains(out, g) {
				out = append(out, g)
			}
		}
	}
	return out
}

// ChangeRole adds the person userID to (add) or removes her from a local
// group that gives a role. Only an admin asks, with a reason, never for
// herself; the change waits for a second admin's approval (Approve), or,
// on the server's command line with break-glass, happens at once
// (audited as such). A directory group is changed in the directory.
func (s *Service) ChangeRole(ctx context.Context, a Actor, userID, group string, add bool, reason string) (Approval, error) {
	p, err := s.find(ctx, userID)
	if err != nil {
		return Approval{}, err
	}
	if err := s.authorize(ctx, a, "change_role", p, reason, true); err != nil {
		return Approval{}, err
	}
	if a.herself(p.User) {
		return Approval{}, s.refuse(ctx, a, "change_role", p, reason, "herself", forbidden(
			"Die eigene Rolle ändert niemand selbst; bitten Sie eine Kollegin.",
			"No one changes her own role; ask a colleague."))
	}
	if err := needReason(reason); err != nil {
		return Approval{}, err
	}
	g, err := s.roleGroup(ctx, strings.ToLower(strings.TrimSpace(group)))
	if err != nil {
		return Approval{}, err
	}
	if slices.Contains(p.groups, g.Name) == add {
		if add {
			return Approval{}, invalid("Sie ist schon Mitglied dieser Gruppe.", "She is a member of this group already.")
		}
		return Approval{}, invalid("Sie ist nicht Mitglied dieser Gruppe.", "She is not a member of this group.")
	}
	// A role goes only to an active person: a frozen account is looked
	// into first, or an unfreeze would bring the role with it.
	if add {
		if err := s.mustBeActive(ctx, a, "change_role", p, reason); err != nil {
			return Approval{}, err
		}
	}
	now := s.now()
	ap := authn.Approval{ID: authn.NewID(), UserID: p.ID, RequestedBy: a.Audit, RequesterID: a.UserID,
		RequesterDirectory: a.Directory, RequesterExternal: a.ExternalID, Reason: strings.TrimSpace(reason),
		CreatedAt: now, ExpiresAt: now.Add(ApprovalTTL), Kind: authn.ApprovalRole, Group: g.Name, Add: add,
		Role: string(s.roleByGroups([]string{g.Name}))}
	if a.BreakGlass {
		return toApproval(ap, p.Username), s.applyRole(ctx, a, p, g, add, reason, nil)
	}
	ev := s.event(a, "role.requested", p.User, reason, map[string]string{"approval_id": ap.ID, "group": g.Name,
		"role": ap.Role, "change": change(add), "expires_at": ap.ExpiresAt.Format(time.RFC3339)})
	if err := s.cfg.Store.CreateApproval(ctx, ap, ev); err != nil {
		return Approval{}, fmt.Errorf("desk: %w", err)
	}
	s.log.Info("role change waits for approval", "user", p.Username, "group", g.Name, "actor", a.Audit, "approval", ap.ID)
	return toApproval(ap, p.Username), nil
}

func change(add bool) string {
	if add {
		return "add"
	}
	return "remove"
}

// roleGroup returns the local group name that gives a role.
func (s *Service) roleGroup(ctx context.Context, name string) (authn.Group, error) {
	if !s.GivesRole(name) {
		return authn.Group{}, invalid("Diese Gruppe gibt keine Rolle am IT-Schalter.", "This group gives no role on the IT desk.")
	}
	g, err := s.cfg.Store.GetGroupByName(ctx, name)
	if errors.Is(err, authn.ErrNotFound) {
		return authn.Group{}, &Error{De: "Diese Gruppe gibt es nicht.", En: "There is no such group.", Err: err}
	}
	if err != nil {
		return authn.Group{}, fmt.Errorf("desk: group %s: %w", name, err)
	}
	if g.Source != authn.SourceLocal {
		return authn.Group{}, invalid("Diese Gruppe kommt aus dem Verzeichnis: Ihre Mitglieder ändern Sie dort.",
			"This group comes from the directory: change its members there.")
	}
	return g, nil
}

// applyRole adds p to g or removes her, audited as group.add_member or
// group.remove_member with the approval it follows (nil for none).
func (s *Service) applyRole(ctx context.Context, a Actor, p subject, g authn.Group, add bool, reason string, approved *authn.Approval) error {
	d := s.common(a, p.User)
	d["group"], d["user_id"] = g.Name, p.ID
	if approved != nil {
		d["approval_id"], d["requested_by"] = approved.ID, approved.RequestedBy
	}
	ev := authn.AuditEvent{Time: s.now(), Actor: a.Audit, Action: "group.remove_member", Subject: "group:" + g.ID,
		Reason: strings.TrimSpace(reason), ClientAddr: a.ClientAddr, Details: d}
	var err error
	if add {
		ev.Action = "group.add_member"
		err = s.cfg.Store.AddMember(ctx, g.ID, p.ID, ev)
	} else {
		err = s.cfg.Store.RemoveMember(ctx, g.ID, p.ID, ev)
	}
	switch {
	case errors.Is(err, authn.ErrAlreadyExists):
		return invalid("Sie ist schon Mitglied dieser Gruppe.", "She is a member of this group already.")
	case !add && errors.Is(err, authn.ErrNotFound):
		return invalid("Sie ist nicht Mitglied dieser Gruppe.", "She is not a member of this group.")
	case err != nil:
		return fmt.Errorf("desk: %s %s in %s: %w", change(add), p.Username, g.Name, err)
	}
	s.log.Info("role changed", "user", p.Username, "group", g.Name, "change", change(add), "actor", a.Audit)
	return nil
}

// approveRole carries out a pending role change as a second admin.
func (s *Service) approveRole(ctx context.Context, a Actor, ap authn.Approval, p subject) error {
	if err := s.authorize(ctx, a, "approve", p, ap.Reason, true); err != nil {
		return err
	}
	if err := s.secondPerson(ctx, a, ap, p); err != nil {
		return err
	}
	if why, refusal := s.roleStillAsked(ctx, ap, p); refusal != nil && ap.DecidedAt.IsZero() {
		return s.refuse(ctx, a, "approve", p, ap.Reason, why, refusal) // a decided one: decide says so
	}
	g, err := s.roleGroup(ctx, ap.Group)
	if err != nil {
		return err
	}
	ev := s.event(a, "role.approved", p.User, ap.Reason, map[string]string{
		"approval_id": ap.ID, "requested_by": ap.RequestedBy, "group": g.Name, "role": ap.Role, "change": change(ap.Add)})
	if err := s.decide(ctx, a, ap, p, ev); err != nil {
		return err
	}
	return s.applyRole(ctx, a, p, g, ap.Add, ap.Reason, &ap)
}

// roleStillAsked says why a role change ap of p can no longer be approved
// as it was asked for (nil when it can): the group gives another role now
// (or none, or is no longer local), she is already where the change would
// put her, she is not active (for a role given), or the admin who asked
// is no longer an active admin. Each is audited by the caller.
func (s *Service) roleStillAsked(ctx context.Context, ap authn.Approval, p subject) (string, *Error) {
	if got := string(s.roleByGroups([]string{ap.Group})); got != ap.Role || got == "" {
		return "the group gives another role now (" + got + ", asked for " + ap.Role + ")", invalid(
			"Diese Gruppe gibt inzwischen eine andere Rolle als bei der Anfrage: Bitte neu beantragen.",
			"This group gives another role now than when it was asked for: please ask again.")
	}
	if g, err := s.cfg.Store.GetGroupByName(ctx, ap.Group); err != nil || g.Source != authn.SourceLocal {
		return "the group is gone or no longer local", invalid(
			"Diese Gruppe gibt es nicht mehr als lokale Gruppe: Bitte neu beantragen.",
			"This group is no longer a local group: please ask again.")
	}
	if slices.Contains(p.groups, ap.Group) == ap.Add {
		if ap.Add {
			return "a member already", invalid("Sie ist schon Mitglied dieser Gruppe.", "She is a member of this group already.")
		}
		return "not a member", invalid("Sie ist nicht Mitglied dieser Gruppe.", "She is not a member of this group.")
	}
	if ap.Add && p.Status != authn.StatusActive {
		return "not active (" + string(p.Status) + ")", forbidden(
			"Ihr Zugang ist gesperrt oder eingefroren: Eine Administratorin oder ein Administrator muss ihn erst prüfen und freigeben.",
			"Her account is disabled or frozen: an administrator must look into it and lift that first.")
	}
	if ap.RequesterID != "" {
		if r, err := s.RoleOf(ctx, ap.RequesterID); err != nil || r != RoleAdmin {
			return "the requester is no longer an active admin", forbidden(
				"Wer die Änderung beantragt hat, ist keine aktive Administratorin und kein aktiver Administrator mehr.",
				"The person who asked for it is no longer an active administrator.")
		}
	}
	return "", nil
}
