package web

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/keyhall/keyhall/authn"
)

// TestAdminRoleChange: on Nora's page an admin asks to add her to the
// helpdesk group, with a reason; nothing changes until a second admin
// approves on the overview (which says what the change is); the
// requester gets no approve button, the helpdesk may neither ask nor
// approve; the approval makes her a member, audited.
func TestAdminRoleChange(t *testing.T) {
	c := newConsole(t)
	albert := c.f.addUser("albert")
	c.f.join(t, "admins", albert)
	adam, helga, albertCl := c.as(c.adam, authn.LevelPhrh, 0), c.as(c.helga, authn.LevelPhrh, 0), c.as(albert, authn.LevelPhrh, 0)
	page := "/admin/people/" + c.nora.ID
	if _, body := adam.get(page); !strings.Contains(body, `id="form-role"`) || !strings.Contains(body, `value="add:it-helpdesk"`) ||
		!strings.Contains(body, `value="add:admins"`) {
		t.Fatalf("an admin is not offered the role change:\n%s", body)
	}
	if _, body := helga.get(page); strings.Contains(body, `id="form-role"`) {
		t.Error("the helpdesk is offered the role change")
	}
	form := url.Values{"reason": {"INC-20"}, "change": {"add:it-helpdesk"}}
	if res, body := helga.send("POST", page+"/role", form, false); res.StatusCode != http.StatusForbidden ||
		!strings.Contains(body, "Administratorinnen") {
		t.Errorf("helpdesk asks for a role change: %d", res.StatusCode)
	}
	if res, _ := adam.send("POST", page+"/role", url.Values{"change": {"add:it-helpdesk"}}, false); res.StatusCode == http.StatusOK {
		t.Error("a role change without a reason was accepted")
	}
	res, body := adam.send("POST", page+"/role", form, false)
	if res.StatusCode != http.StatusOK || !strings.Contains(body, msgAdminRolePending.DE) || !strings.Contains(body, `id="pending"`) {
		t.Fatalf("ask for a role change: %d\n%.600s", res.StatusCode, body)
	}
	member := func() bool {
		gs, err := c.f.store.UserGroups(context.Background(), c.nora.ID)
		if err != nil {
			t.Fatal(err)
		}
		for _, g := range gs {
			if g.Name == "it-helpdesk" {
				return true
			}
		}
		return false
	}
	if member() {
		t.Fatal("a pending role change made her a member")
	}
	aps, err := c.f.store.PendingApprovals(context.Background(), time.Now())
	if err != nil || len(aps) != 1 || aps[0].Kind != authn.ApprovalRole {
		t.Fatalf("approvals %+v, %v", aps, err)
	}
	button := `action="/admin/approvals/` + aps[0].ID + `/approve"`
	if _, body := adam.get(page); strings.Contains(body, button) {
		t.Error("the requester is offered to approve her own role change")
	}
	if _, body := albertCl.get("/admin"); !strings.Contains(body, button) || !strings.Contains(body, "Hinzufügen zu it-helpdesk") ||
		!strings.Contains(body, "INC-20") {
		t.Errorf("the overview does not show the role change to approve:\n%s", body)
	}
	for name, cl := range map[string]*client{"the requester": adam, "the helpdesk": helga} {
		if res, _ := cl.send("POST", "/admin/approvals/"+aps[0].ID+"/approve", url.Values{}, false); res.StatusCode != http.StatusForbidden {
			t.Errorf("approval by %s: %d, want 403", name, res.StatusCode)
		}
	}
	if member() {
		t.Fatal("a refused approval made her a member")
	}
	res, body = albertCl.send("POST", "/admin/approvals/"+aps[0].ID+"/approve", url.Values{}, false)
	if res.StatusCode != http.StatusOK || !strings.Contains(body, msgAdminRoleChanged.DE) {
		t.Fatalf("approve: %d\n%.600s", res.StatusCode, body)
	}
	if !member() {
		t.Error("the approved role change did not make her a member")
	}
	consoleEvent(t, c.lastEvent(t, c.nora, "role.approved"), albert, c.nora, "INC-20")
	if _, body := helga.get(page); !strings.Contains(body, "it-helpdesk") {
		t.Error("her page does not list her new group")
	}
}
