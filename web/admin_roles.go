package web

import (
	"net/http"
	"slices"
	"strings"

	"github.com/keyhall/keyhall/authn"
	"github.com/keyhall/keyhall/enroll/desk"
)

// The console's role change (issue #14): an admin asks on a person's page
// to add her to or remove her from a local group that gives a role; a
// second admin approves it like a reset.

func init() {
	for k, m := range map[string]message{
		"admin.role.title":   {"Rolle ändern", "Change role"},
		"admin.role.hint":    {"Die Änderung wartet auf die Freigabe durch eine zweite Administratorin oder einen zweiten Administrator.", "The change waits for a second administrator's approval."},
		"admin.role.change":  {"Änderung", "Change"},
		"admin.role.add":     {"Hinzufügen zu", "Add to"},
		"admin.role.remove":  {"Entfernen aus", "Remove from"},
		"admin.role.button":  {"Rollenänderung beantragen", "Ask for the role change"},
		"admin.role.pending": {"Rollenänderung wartet auf Freigabe", "Role change waiting for approval"},
	} {
		adminTexts[k] = m
	}
}

var (
	msgAdminRolePending = message{"Die Rollenänderung wartet auf die Freigabe durch eine zweite Administratorin oder einen zweiten Administrator.",
		"The role change waits for a second administrator's approval."}
	msgAdminRoleChanged = message{"Die Rolle ist geändert.", "The role is changed."}
	msgAdminRoleBad     = message{"Bitte wählen Sie eine Änderung.", "Please choose a change."}
)

// roleChoice is one change the role form offers: add her to or remove her
// from a local group that gives a role.
type roleChoice struct {
	Value string // "add:<group>" or "remove:<group>"
	Add   bool
	Group string
}

// roleChoices lists the changes an admin may ask for on p's page: each
// local group that gives a role, to add her to or remove her from.
func roleChoices(d *desk.Service, a desk.Actor, p *desk.Person) []roleChoice {
	if a.Role != desk.RoleAdmin || p == nil {
		return nil
	}
	var out []roleChoice
	for _, g := range d.RoleGroups() {
		i := slices.IndexFunc(p.Groups, func(x authn.Group) bool { return x.Name == g })
		switch {
		case i < 0:
			out = append(out, roleChoice{Value: "add:" + g, Add: true, Group: g})
		case p.Groups[i].Source == authn.SourceLocal:
			out = append(out, roleChoice{Value: "remove:" + g, Group: g})
		}
	}
	return out
}

// adminRole asks for a role change of the person.
func (s *Server) adminRole(r *http.Request, d *desk.Service, a desk.Actor, id, reason string) (message, *desk.Issued, []byte, error) {
	verb, group, _ := strings.Cut(r.PostFormValue("change"), ":")
	if a.Role == desk.RoleAdmin && (verb != "add" && verb != "remove" || group == "") {
		return message{}, nil, nil, &desk.Error{De: msgAdminRoleBad.DE, En: msgAdminRoleBad.EN, Err: desk.ErrInvalid}
	}
	// The desk decides who may: a helpdesk person is refused there, audited.
	if _, err := d.ChangeRole(r.Context(), a, id, group, verb == "add", reason); err != nil {
		return message{}, nil, nil, err
	}
	return msgAdminRolePending, nil, nil, nil
}

// approvalKind is the kind of the pending approval id ("" when it is not
// pending or cannot be read: Approve says why).
func approvalKind(r *http.Request, d *desk.Service, a desk.Actor, id string) string {
	aps, err := d.Approvals(r.Context(), a)
	if err != nil {
		return ""
	}
	for _, ap := range aps {
		if ap.ID == id {
			return ap.Kind
		}
	}
	return ""
}
